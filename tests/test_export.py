"""Exports: opened again and checked for content, order, citations and layout."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from miner.export import export
from miner.records import CommonProblem, Finding


def finding(i: int, kind: str, doc: str, page: int, text: str, unit: str, year: int) -> Finding:
    return Finding(
        id=f"f{i}",
        document=doc,
        text=text,
        page=page,
        issuer_kind=kind,
        issuer={"audit": "江州市审计局", "inspection": "市委第一巡察组", "congress": "市人大常委会"}.get(
            kind, "某机关"
        ),
        unit=unit,
        year=year,
    )


@pytest.fixture
def problems() -> list[CommonProblem]:
    receivables = CommonProblem(
        id="c-1",
        label="往来款长期挂账未清理",
        keywords=["暂付款", "挂账"],
        score=12.0,
        span="审计、巡察、人大 · 3 个单位 · 2022–2024 · 3 条",
        findings=[
            finding(1, "audit", "a01.pdf", 2, "暂付款长期挂账未清理。截至2022年末余额860万元。", "市水务局", 2022),
            finding(2, "inspection", "b07.pdf", 3, "其他应收款长期挂账，余额412万元。", "河口镇", 2023),
            finding(3, "congress", "c02.docx", 1, "部分部门暂收暂付款余额过大，长期挂账不清理。", "市政府", 2024),
        ],
    )
    cars = CommonProblem(
        id="c-2",
        label="公车私用",
        keywords=["公务用车"],
        score=3.0,
        span="审计 · 1 个单位 · 2023 · 2 条",
        findings=[
            finding(4, "audit", "a02.pdf", 1, "公务用车管理不规范，存在公车私用现象。", "市水务局", 2023),
            finding(5, "audit", "a03.pdf", 4, "执法车辆未纳入平台管理。", "市农业局", 2023),
        ],
    )
    return [cars, receivables]  # deliberately not in score order


def test_xlsx_list(problems, tmp_path: Path):
    import openpyxl

    path = export(problems, "xlsx", tmp_path / "list.xlsx", generated_at=date(2024, 10, 1))
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    cells = [[c.value for c in row] for row in ws.iter_rows()]
    header = next(r for r in cells if r and r[0] == "序号")
    for col in ("共性问题", "问题表现", "涉及单位", "发现机关", "条数", "年份", "出处"):
        assert col in header
    rows = [r for r in cells[cells.index(header) + 1 :] if r[0]]
    assert [r[header.index("共性问题")].split("\n")[0] for r in rows][:2] == ["往来款长期挂账未清理", "公车私用"]
    first = rows[0]
    assert first[header.index("条数")] == 3
    assert "2022" in str(first[header.index("年份")]) and "2024" in str(first[header.index("年份")])
    sources = str(first[header.index("出处")])
    for cite in ("a01.pdf 第2页", "b07.pdf 第3页", "c02.docx 第1页"):
        assert cite in sources
    kinds = str(first[header.index("发现机关")])
    assert "审计" in kinds and "巡察" in kinds and "人大" in kinds


def test_min_bodies_filters(problems, tmp_path: Path):
    path = export(problems, "json", tmp_path / "l.json", min_bodies=2)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert [p["label"] for p in data] == ["往来款长期挂账未清理"]


def test_json_cites_every_finding(problems, tmp_path: Path):
    data = json.loads(export(problems, "json", tmp_path / "l.json").read_text(encoding="utf-8"))
    assert [p["id"] for p in data] == ["c-1", "c-2"]
    for p in data:
        for f in p["findings"]:
            assert f["document"] and f["page"] >= 1 and f["text"]


def test_markdown(problems, tmp_path: Path):
    md = export(problems, "md", tmp_path / "l.md").read_text(encoding="utf-8")
    assert md.index("往来款长期挂账未清理") < md.index("公车私用")
    assert "a01.pdf 第2页" in md and "a03.pdf 第4页" in md


def test_docx_briefing_layout(problems, tmp_path: Path):
    import docx
    from docx.shared import Cm

    path = export(problems, "docx", tmp_path / "brief.docx", generated_at=date(2024, 10, 1))
    d = docx.Document(str(path))
    text = "\n".join(p.text for p in d.paragraphs)
    assert "专报" in d.paragraphs[0].text
    assert text.index("往来款长期挂账未清理") < text.index("公车私用")
    assert "a01.pdf" in text and "第2页" in text
    for heading in ("原因分析", "意见建议"):
        assert heading in text
    assert "待分析人员填写" in text
    section = d.sections[0]
    assert abs(section.top_margin - Cm(3.7)) < Cm(0.05) and abs(section.left_margin - Cm(2.8)) < Cm(0.05)
    xml = d.element.xml + d.styles.element.xml
    assert "仿宋" in xml and "黑体" in xml  # East-Asian fonts set for body and headings
    footer = d.sections[0].footer._element.xml
    assert "PAGE" in footer


@pytest.mark.slow
def test_docx_converts_with_libreoffice(problems, tmp_path: Path):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice is not installed (apt libreoffice-writer-nogui; scripts/setup.sh installs it)")
    path = export(problems, "docx", tmp_path / "brief.docx")
    proc = subprocess.run(
        [
            soffice,
            "--headless",
            f"-env:UserInstallation=file://{tmp_path}/lo",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    pdf = tmp_path / "brief.pdf"
    assert pdf.exists() and pdf.stat().st_size > 1000
    import pypdfium2 as pdfium

    text = "".join(pdfium.PdfDocument(str(pdf))[i].get_textpage().get_text_range() for i in range(1))
    assert "往来款长期挂账未清理" in text.replace("\r\n", "").replace(" ", "")
