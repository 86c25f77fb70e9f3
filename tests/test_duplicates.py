"""The same report in another form (docx beside text, a scan beside its PDF) is reported, not counted twice."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import AUDIT_PAGES, AUDIT_TITLE, make_docx

from miner.duplicates import CACHE_NAME, DuplicateIndex, signature
from miner.pipeline import Workspace, ingest

DEV2 = Path("/work/shared/eval/dev2")
PARAGRAPHS = [p for page in AUDIT_PAGES for p in page if isinstance(p, str)]
OTHER = [
    "关于市教育局党组落实全面从严治党主体责任情况的巡察反馈意见",
    "一、巡察发现的主要问题",
    "（一）党组会议“第一议题”制度落实不到位，2023年有6次党组会议未按要求开展学习研讨。",
    "（二）选人用人工作不规范，2名干部试用期满后未及时办理转正手续，干部人事档案专项审核发现问题整改不彻底。",
    "（三）公务接待管理不严，部分接待无公函、无清单，超标准安排陪餐人员，涉及金额3.2万元。",
]


@pytest.fixture
def same_text(tmp_path: Path) -> Path:
    """One report as .txt and as .docx, plus a different report."""
    d = tmp_path / "in"
    d.mkdir()
    (d / "report.txt").write_text("\n".join([AUDIT_TITLE, *PARAGRAPHS]), encoding="utf-8")
    make_docx(d / "report-copy.docx", PARAGRAPHS, title=AUDIT_TITLE)
    (d / "other.txt").write_text("\n".join(OTHER), encoding="utf-8")
    return d


def test_docx_of_a_stored_text_report_is_a_duplicate(tmp_path: Path, same_text: Path):
    ws = Workspace(tmp_path / "ws")
    first = ingest(ws, [same_text / "report.txt", same_text / "other.txt"], index=False)
    assert first["counts"] == {"ok": 2, "duplicate": 0, "failed": 0}
    n_findings = len(ws.catalogue.findings())

    again = ingest(ws, [same_text / "report-copy.docx"], index=False)
    (row,) = again["files"]
    assert row["status"] == "duplicate"
    assert "same report as report.txt" in row["message"] and "与 report.txt 为同一报告" in row["message"]
    assert row["document_id"] == next(d["id"] for d in ws.catalogue.documents() if d["name"] == "report.txt")
    assert ws.catalogue.count("documents") == 2  # not added: neither counts nor clusters see it
    assert len(ws.catalogue.findings()) == n_findings
    assert (ws.root / CACHE_NAME).exists()


def test_duplicates_inside_one_batch_and_distinct_reports_kept(tmp_path: Path, same_text: Path):
    ws = Workspace(tmp_path / "ws")
    batch = ingest(ws, [same_text], index=False)
    status = {f["name"]: f["status"] for f in batch["files"]}
    assert sorted(status.values()) == ["duplicate", "ok", "ok"]
    assert status["other.txt"] == "ok"
    assert {status["report.txt"], status["report-copy.docx"]} == {"ok", "duplicate"}


def test_cache_is_rebuilt_when_missing_and_check_can_be_switched_off(tmp_path: Path, same_text: Path):
    ws = Workspace(tmp_path / "ws")
    ingest(ws, [same_text / "report.txt"], index=False)
    (ws.root / CACHE_NAME).unlink()
    index = DuplicateIndex.for_workspace(ws.root, ws.catalogue, 0.5)
    assert len(index) == 1 and (ws.root / CACHE_NAME).exists()
    assert index.match("\n".join(PARAGRAPHS)).name == "report.txt"
    assert index.match("\n".join(OTHER)) is None
    off = DuplicateIndex.for_workspace(ws.root, ws.catalogue, 1.5)
    assert not off.enabled and off.match("\n".join(PARAGRAPHS)) is None


def test_signature_ignores_layout_and_needs_some_text():
    text = "".join(PARAGRAPHS)
    spaced = "\n\n".join(" ".join(p) for p in PARAGRAPHS)  # OCR-style spacing and line breaks
    assert signature(text).jaccard(signature(spaced)) == 1.0
    assert signature("暂付款长期挂账。") is None


@pytest.mark.slow
def test_scan_of_an_ingested_pdf_is_one_report(tmp_path: Path):
    """dev2's d16 as text PDF and as an image-only scan (read by Tesseract): one report, one set of problems."""
    if not DEV2.exists():
        pytest.skip("the dev2 evaluation corpus is not present")
    if shutil.which("tesseract") is None:
        pytest.skip("tesseract is not installed (scripts/setup.sh installs it)")
    from miner import problems

    d = tmp_path / "in"
    (d / "scans").mkdir(parents=True)
    shutil.copy(DEV2 / "pdf" / "d16.pdf", d / "d16.pdf")
    shutil.copy(DEV2 / "pdf" / "d05.pdf", d / "d05.pdf")
    shutil.copy(DEV2 / "scanned" / "d16.pdf", d / "scans" / "d16-scan.pdf")
    ws = Workspace(tmp_path / "ws")
    batch = ingest(ws, [d / "scans", d / "d16.pdf", d / "d05.pdf"])  # the scan comes first on purpose
    status = {f["name"]: (f["status"], f["message"]) for f in batch["files"]}
    assert status["d16.pdf"][0] == "ok" and status["d05.pdf"][0] == "ok"  # text is kept over the scan
    assert status["d16-scan.pdf"][0] == "duplicate" and "与 d16.pdf 为同一报告" in status["d16-scan.pdf"][1]
    assert batch["counts"] == {"ok": 2, "duplicate": 1, "failed": 0}
    assert sorted(doc["name"] for doc in ws.catalogue.documents()) == ["d05.pdf", "d16.pdf"]
    problems.update(ws)
    cited = {f.document for p in problems.problems(ws) for f in p.findings}
    assert cited and "d16-scan.pdf" not in cited
