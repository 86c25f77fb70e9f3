"""Exports are what analysts hand on: check content, order, filters, citations and layout."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import date

import pytest
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from openpyxl import load_workbook

from miner.export import PLACEHOLDER, BriefingOptions, Source, export, representatives, select, shorten, zh_number
from miner.records import CommonProblem, Finding

DAY = date(2024, 6, 1)


def F(fid: str, doc: str, page: int, text: str, unit: str, kind: str, issuer: str, year: int) -> Finding:
    return Finding(id=fid, document=doc, page=page, text=text, unit=unit, issuer_kind=kind, issuer=issuer, year=year)


@pytest.fixture
def problems() -> list[CommonProblem]:
    """Three problems given out of score order; the highest-scored is seen by one kind of body only."""
    arrears = CommonProblem(
        id="cp-arrears",
        label="往来款长期挂账未清理",
        keywords=["往来款", "挂账"],
        score=0.91,
        span="审计、巡察、人大 · 4 个单位 · 2022–2024 · 5 条",
        findings=[
            F(
                "f1",
                "q01.pdf",
                2,
                "一是往来款长期挂账。截至2023年底，其他应收款中账龄3年以上的款项共计1,256.3万元，未及时清理催收。",
                "市住建局",
                "audit",
                "市审计局",
                2023,
            ),
            F(
                "f2",
                "x03.pdf",
                5,
                "（二）财务管理不规范，往来款项长期挂账未清理，涉及金额486万元。",
                "区教育局",
                "inspection",
                "区委第二巡察组",
                2022,
            ),
            F(
                "f3",
                "r02.docx",
                7,
                "部分单位往来款挂账时间长、清理力度不够，暂付款余额逐年增加。",
                "市财政局",
                "congress",
                "市人大常委会预算工委",
                2024,
            ),
            F(
                "f4",
                "q01.pdf",
                3,
                "其他应付款中有32笔合计214万元挂账超过5年未清理。",
                "市住建局",
                "audit",
                "市审计局",
                2023,
            ),
            F("f5", "q04.pdf", 11, "预付工程款长期挂账，未按合同约定及时结算。", "市水务局", "audit", "市审计局", 2024),
        ],
    )
    procurement = CommonProblem(
        id="cp-procure",
        label="政府采购程序不规范",
        keywords=["政府采购"],
        score=0.74,
        span="",  # the exporter builds one
        findings=[
            F(
                "f6",
                "x03.pdf",
                6,
                "三是将同一项目拆分为多个合同规避公开招标，涉及金额132万元。",
                "区教育局",
                "inspection",
                "区委第二巡察组",
                2022,
            ),
            F(
                "f7",
                "q04.pdf",
                9,
                "部分采购项目未执行政府采购程序，直接指定供应商。",
                "市水务局",
                "audit",
                "市审计局",
                2023,
            ),
        ],
        note="与上年专报所列问题相同",
    )
    cars = CommonProblem(
        id="cp-cars",
        label="公务用车管理不严",
        keywords=["公车"],
        score=0.99,
        span="审计 · 2 个单位 · 2023 · 2 条",
        findings=[
            F("f8", "q05.pdf", 4, "公务用车未实行定点维修。", "市卫健委", "audit", "市审计局", 2023),
            F("f9", "q06.pdf", 1, "存在公车私用现象。", "市农业农村局", "audit", "市审计局", 2023),
        ],
    )
    return [procurement, cars, arrears]


def all_findings(ps: list[CommonProblem]) -> list[Finding]:
    return [f for p in ps for f in p.findings]


def test_select_orders_by_score_and_filters_by_bodies(problems):
    assert [p.id for p in select(problems)] == ["cp-cars", "cp-arrears", "cp-procure"]
    assert [p.id for p in select(problems, min_bodies=2)] == ["cp-arrears", "cp-procure"]
    assert [p.id for p in select(problems, min_bodies=3)] == ["cp-arrears"]


def test_representatives_show_every_body_first(problems):
    arrears = problems[2]
    kinds = [f.issuer_kind for f in representatives(arrears)]
    assert sorted(kinds[:3]) == ["audit", "congress", "inspection"]
    assert len(representatives(arrears, limit=2)) == 2


def test_shorten_drops_markers_and_cuts_at_a_clause():
    assert shorten("（二）财务管理\n不规范。") == "财务管理不规范。"
    assert shorten("一是往来款长期挂账。") == "往来款长期挂账。"
    long = "往来款长期挂账，" * 4 + "截至年底未清理；" + "涉及金额巨大" * 20
    assert shorten(long, 40) == "往来款长期挂账，" * 4 + "截至年底未清理……"
    assert zh_number(1) == "一" and zh_number(10) == "十" and zh_number(23) == "二十三"


def test_xlsx_list(problems, tmp_path):
    path = export(problems, "xlsx", tmp_path / "list.xlsx", generated_at=DAY)
    wb = load_workbook(path)
    ws = wb["共性问题清单"]
    assert ws["A1"].value == "共性问题清单"
    header = [c.value for c in ws[3]]
    assert header == ["序号", "共性问题", "问题表现", "涉及单位", "发现机关", "条数", "年份", "出处", "报告份数"]
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=4)]
    assert [r[0] for r in rows] == [1, 2, 3]
    assert [r[1].split("\n")[0] for r in rows] == ["公务用车管理不严", "往来款长期挂账未清理", "政府采购程序不规范"]
    by_label = {r[1].split("\n")[0]: r for r in rows}
    arrears = by_label["往来款长期挂账未清理"]
    assert "关键词：往来款、挂账" in arrears[1]
    assert arrears[5] == 5 and arrears[6] == "2022–2024" and arrears[8] == 4
    assert by_label["公务用车管理不严"][6] == 2023  # one year is a number, a range stays text
    assert "市住建局" in arrears[3] and "市财政局" in arrears[3]
    assert "审计：市审计局" in arrears[4] and "巡察：区委第二巡察组" in arrears[4] and "人大" in arrears[4]
    assert arrears[2].startswith("1. 往来款长期挂账。截至2023年底")  # "一是" dropped
    assert "未及时清理催收（审计·市审计局，q01.pdf 第2页）\n2. " in arrears[2]
    assert "备注：与上年专报所列问题相同" in by_label["政府采购程序不规范"][1]
    for p in problems:
        sources = by_label[p.label][7]
        for f in p.findings:
            assert f"{f.document} 第{f.page}页" in sources

    assert ws.freeze_panes == "A4"
    assert ws.print_title_rows == "$3:$3"
    assert ws.page_setup.orientation == "landscape" and int(ws.page_setup.paperSize) == 9  # A4
    assert ws["C4"].alignment.wrap_text and ws["C4"].font.name == "宋体"
    assert ws.column_dimensions["C"].width > ws.column_dimensions["A"].width * 5

    detail = wb["问题明细"]
    assert [c.value for c in detail[3]][:8] == [
        "共性问题序号",
        "共性问题",
        "发现机关",
        "单位",
        "年份",
        "问题表述",
        "文件",
        "页码",
    ]
    drows = [[c.value for c in r] for r in detail.iter_rows(min_row=4)]
    assert len(drows) == len(all_findings(problems))
    assert {(r[6], r[7]) for r in drows} == {(f.document, f.page) for f in all_findings(problems)}
    assert all(r[0] == 1 for r in drows if r[1] == "公务用车管理不严")


def docx_text(doc) -> str:
    return "\n".join(p.text for p in doc.paragraphs)


def zh_int(text: str) -> int:
    digits = "零一二三四五六七八九"
    if text.isdigit():
        return int(text)
    tens, _, ones = text.rpartition("十")
    return (digits.index(tens) if tens else 1 if "十" in text else 0) * 10 + (digits.index(ones) if ones else 0)


def check_lead_against_list(doc) -> dict:
    """The lead's counts must be the list's own: problems, reports, reports per kind, statements, cross-body."""
    texts = [p.text for p in doc.paragraphs]
    lead = next(t for t in texts if t.startswith("经对"))
    m = re.search(r"这(\d+)个问题见于(\d+)份报告（其中(.+?)），涉及问题表述(\d+)条；(.+?)。", lead)
    assert m, lead
    n_problems, n_reports, breakdown, n_statements, cross = m.groups()
    headings = [p.text for p in doc.paragraphs if p.style.name == "Heading 2"]
    ranges = [t for t in texts if "中指出此问题" in t]
    assert int(n_problems) == len(headings) == len(ranges)
    assert int(n_statements) == sum(int(re.search(r"共(\d+)条问题表述", r).group(1)) for r in ranges)
    appendix = next(t for t in texts if t.startswith("附件：引用报告"))
    refs = [t for t in texts if re.match(r"\[\d+\] ", t)]
    assert int(n_reports) == len(refs) == int(re.search(r"（(\d+)份）", appendix).group(1))
    assert int(n_reports) == sum(int(n) for n in re.findall(r"(\d+)份", breakdown))
    multi = sum("类监督主体" in r for r in ranges)  # single-body range lines name one kind's 机关
    if multi == len(ranges):
        assert cross.endswith("由两类以上监督主体分别指出") and "其中" not in cross
    elif multi == 0:
        assert cross.endswith("由同一类监督主体指出")
    else:
        assert (
            cross == f"其中{multi}个由两类以上监督主体分别指出（跨主体），{len(ranges) - multi}个由同一类监督主体指出"
        )
    cited = {int(n) for line in texts if line.startswith("出处（见附件）") for n in re.findall(r"\[(\d+)\]", line)}
    assert cited == set(range(1, len(refs) + 1))  # every report listed is cited, and only those
    for heading in headings:
        assert re.match(r"（[一二三四五六七八九十]+）", heading)
    assert [zh_int(re.match(r"（(.+?)）", h).group(1)) for h in headings] == list(range(1, len(headings) + 1))
    return {"problems": len(headings), "reports": len(refs), "cross": multi}


def test_docx_briefing_layout_and_content(problems, tmp_path):
    path = export(problems, "docx", tmp_path / "brief.docx", min_bodies=2, generated_at=DAY)
    doc = Document(path)

    s = doc.sections[0]
    assert abs(s.page_width - Cm(21)) < Cm(0.05) and abs(s.page_height - Cm(29.7)) < Cm(0.05)
    for got, want in ((s.top_margin, 3.7), (s.bottom_margin, 3.5), (s.left_margin, 2.8), (s.right_margin, 2.6)):
        assert abs(got - Cm(want)) < Cm(0.01)

    def east_asia(style_name: str) -> str:
        return doc.styles[style_name].element.rPr.find(qn("w:rFonts")).get(qn("w:eastAsia"))

    normal = doc.styles["Normal"]
    assert east_asia("Normal") == "仿宋_GB2312" and normal.font.size == Pt(16)
    assert normal.paragraph_format.line_spacing_rule == WD_LINE_SPACING.EXACTLY
    assert normal.paragraph_format.line_spacing == Pt(28)
    assert normal.paragraph_format.first_line_indent == Pt(32)
    assert east_asia("Heading 1") == "黑体" and east_asia("Heading 2") == "楷体_GB2312"
    for name in ("Normal", "Heading 1", "Heading 2", "Title"):  # a theme font would override the Chinese one
        assert doc.styles[name].element.rPr.find(qn("w:rFonts")).get(qn("w:eastAsiaTheme")) is None

    masthead = doc.paragraphs[0]
    assert masthead.text == "监督共性问题专报" and masthead.style.name == "Masthead"
    assert doc.paragraphs[1].text == "2024年第　期"
    assert doc.paragraphs[2].text == "（编发单位）\t2024年6月1日"
    title = doc.paragraphs[3]
    assert title.text == "关于监督发现共性问题的专报（初稿）"
    assert title.style.name == "Title" and east_asia("Title") in ("方正小标宋简体", "宋体")
    assert title.style.font.size == Pt(22)
    assert title.style.paragraph_format.alignment == WD_ALIGN_PARAGRAPH.CENTER

    h1 = [p.text for p in doc.paragraphs if p.style.name == "Heading 1"]
    assert h1 == ["一、主要共性问题", "二、原因分析", "三、意见建议"]
    h2 = [p.text for p in doc.paragraphs if p.style.name == "Heading 2"]
    assert h2 == ["（一）往来款长期挂账未清理", "（二）政府采购程序不规范"]  # by score, single-body one dropped

    texts = [p.text for p in doc.paragraphs]
    for heading in ("二、原因分析", "三、意见建议"):
        assert texts[texts.index(heading) + 1] == PLACEHOLDER

    body = docx_text(doc)
    lead = texts[5]
    assert lead.startswith(
        "经对2022年至2024年审计、巡察、人大等监督主体的监督报告进行梳理，在至少由2类监督主体发现的问题中"
    )
    assert (
        "这2个问题见于4份报告（其中审计2份、巡察1份、人大1份），涉及问题表述7条；均由两类以上监督主体分别指出" in lead
    )
    check_lead_against_list(doc)
    assert "公务用车" not in body and "q05.pdf" not in body
    assert (
        "审计、巡察、人大3类监督主体在2022年至2024年的4份报告中指出此问题，涉及市住建局、区教育局、市财政局等4个单位，共5条问题表述。"
        in body
    )
    assert "巡察、审计2类监督主体在2022年至2023年的2份报告中指出此问题" in body
    assert "（人大·市人大常委会预算工委，r02.docx第7页）" in body  # no catalogue: the file name
    assert "主要表现：一是往来款长期挂账。截至2023年底" in body
    assert "分析人员备注：与上年专报所列问题相同。" in body
    assert "出处（见附件）：[1]第2、3页；[2]第5页；[3]第7页；[4]第11页。" in body
    assert "出处（见附件）：[2]第6页；[4]第9页。" in body
    assert "附件：引用报告（4份）\n[1] q01.pdf\n[2] x03.pdf\n[3] r02.docx\n[4] q04.pdf" in body
    assert "自动生成" in body and "（编发单位）\t2024年6月1日印发" == texts[-1]

    footer = doc.sections[0].footer.paragraphs[0]
    assert footer.text.startswith("— ") and footer.text.endswith(" —")
    assert "PAGE" in "".join(t.text for t in footer._p.iter(qn("w:instrText")))


def test_markdown(problems, tmp_path):
    path = export(problems, "md", tmp_path / "list.md", title="2024年共性问题", generated_at=DAY)
    md = path.read_text(encoding="utf-8")
    assert md.startswith("# 2024年共性问题\n")
    headings = [line for line in md.splitlines() if line.startswith("## ")]
    assert headings == ["## 1. 公务用车管理不严", "## 2. 往来款长期挂账未清理", "## 3. 政府采购程序不规范"]
    assert "*审计、巡察、人大 · 4 个单位 · 2022–2024 · 5 条*" in md
    for f in all_findings(problems):
        assert f"{f.document} 第{f.page}页）" in md
    assert "- 财务管理不规范，往来款项长期挂账未清理，涉及金额486万元（巡察·区委第二巡察组，x03.pdf 第5页）" in md


def test_json(problems, tmp_path):
    path = export(problems, "json", tmp_path / "list.json", min_bodies=2)
    raw = path.read_text(encoding="utf-8")
    assert "往来款" in raw  # Chinese kept readable, not \\u-escaped
    data = json.loads(raw)
    assert [p["id"] for p in data] == ["cp-arrears", "cp-procure"]
    first = data[0]
    assert first["label"] == "往来款长期挂账未清理" and first["keywords"] == ["往来款", "挂账"]
    assert first["score"] == 0.91 and first["span"].endswith("5 条")
    assert data[1]["span"] == "巡察、审计 · 2 个单位 · 2022–2023 · 2 条"
    assert first["findings"][2] == {
        "id": "f3",
        "document": "r02.docx",
        "page": 7,
        "text": "部分单位往来款挂账时间长、清理力度不够，暂付款余额逐年增加。",
        "unit": "市财政局",
        "issuer_kind": "congress",
        "issuer": "市人大常委会预算工委",
        "year": 2024,
        "doc_title": "",
        "doc_number": "",
    }


def test_folder_output_empty_list_and_bad_format(problems, tmp_path):
    path = export(problems, "xlsx", tmp_path, generated_at=DAY)
    assert path == tmp_path / "共性问题清单.xlsx" and path.exists()
    nested = export([], "docx", tmp_path / "a" / "b.docx", generated_at=DAY)
    assert "未发现符合条件的共性问题" in docx_text(Document(nested))
    empty = load_workbook(export([], "xlsx", tmp_path / "empty.xlsx"))["共性问题清单"]
    assert empty.max_row == 3
    assert json.loads(export(problems, "json", tmp_path / "none.json", min_bodies=4).read_text()) == []
    with pytest.raises(ValueError, match="unknown export format"):
        export(problems, "pdf", tmp_path / "x.pdf")


@pytest.mark.slow
def test_docx_converts_with_libreoffice(problems, tmp_path):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed: apt-get install libreoffice-writer-nogui")
    import pypdfium2 as pdfium

    path = export(problems, "docx", tmp_path / "brief.docx", generated_at=DAY)
    profile = (tmp_path / "lo-profile").as_uri()  # a private profile: no clash with a running office
    cmd = [soffice, f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf"]
    r = subprocess.run(
        [*cmd, "--outdir", str(tmp_path / "pdf"), str(path)], capture_output=True, text=True, timeout=240
    )
    pdf = tmp_path / "pdf" / "brief.pdf"
    assert r.returncode == 0 and pdf.exists(), r.stdout + r.stderr
    assert pdf.read_bytes()[:5] == b"%PDF-"
    doc = pdfium.PdfDocument(str(pdf))
    text = "".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    text = "".join(text.split())  # Chinese must survive as text, not as missing glyphs
    assert "共性问题的专报" in text and "往来款长期挂账未清理" in text and "—2—" in text


SOURCES = {
    "q01.pdf": Source("q01.pdf", "市住建局2023年度预算执行情况审计结果公告", "江审公告〔2024〕3号"),
    "x03.pdf": Source("x03.pdf", "区委第二巡察组关于巡察区教育局党组的反馈意见"),
    "r02.docx": Source("r02.docx", "关于市级预算执行情况的审议意见", "江人常办〔2024〕7号", traditional=True),
}


def test_briefing_top_n_single_body_options_and_citations(problems, tmp_path):
    opts = BriefingOptions(issuer="江州市委巡察办", issue="2024年第3期", date=date(2024, 7, 1), to="市委主要领导同志")
    opts.cc = "市纪委监委，市审计局"
    path = export(problems, "docx", tmp_path / "b.docx", top_n=2, sources=SOURCES, briefing=opts, generated_at=DAY)
    doc = Document(path)
    texts = [p.text for p in doc.paragraphs]
    assert texts[:3] == ["监督共性问题专报", "2024年第3期", "江州市委巡察办\t2024年7月1日"]
    counts = check_lead_against_list(doc)
    assert counts == {"problems": 2, "reports": 6, "cross": 1}
    lead = texts[5]
    assert "共归并出共性问题3个，现将系统性程度最高的2个报告如下" in lead
    assert "其中1个由两类以上监督主体分别指出（跨主体），1个由同一类监督主体指出" in lead
    body = docx_text(doc)
    assert "审计机关在2023年的2份报告中指出此问题" in body  # one kind of body: not called 跨主体
    assert "政府采购" not in body  # third by score: cut by top-N
    assert "（审计·市审计局，江审公告〔2024〕3号第2页）" in body  # 文号 where known
    assert "（巡察·区委第二巡察组，《区委第二巡察组关于巡察区教育局党组的反馈意见》第5页）" in body  # else title
    assert "[3] 《市住建局2023年度预算执行情况审计结果公告》（江审公告〔2024〕3号）[q01.pdf]" in texts
    assert "[1] q05.pdf" in texts  # unknown to the catalogue: the file name
    assert texts[-3:] == ["报：市委主要领导同志", "抄送：市纪委监委，市审计局", "江州市委巡察办\t2024年7月1日印发"]
    imprint = doc.paragraphs[-1]
    assert imprint.style.name == "Imprint" and imprint._p.pPr.find(qn("w:pBdr")) is not None


def test_quotes_from_traditional_reports_follow_the_setting(problems, tmp_path):
    problems[2].findings[2].text = "部分單位往來款掛賬時間長、清理力度不夠，暫付款餘額逐年增加。"  # as published
    simple = export(problems, "md", tmp_path / "s.md", sources=SOURCES, quotes="simplified").read_text()
    assert "部分单位往来款挂账时间长" in simple and "往來款" not in simple
    assert "所引报告中有1份以繁体字发布（江人常办〔2024〕7号），引文已转为简体字。" in simple
    assert problems[2].findings[2].text.startswith("部分單位")  # the caller's records are left alone
    kept = export(problems, "docx", tmp_path / "p.docx", sources=SOURCES, briefing=BriefingOptions(quotes="published"))
    body = docx_text(Document(kept))
    assert "部分單位往來款掛賬" in body and "引文按原文繁体字照录" in body
    plain = export(problems, "md", tmp_path / "n.md", quotes="simplified").read_text()  # no catalogue: detected
    assert "往來款" not in plain and "所引报告中有1份以繁体字发布（r02.docx）" in plain
    with pytest.raises(ValueError, match="quotes"):
        export(problems, "md", tmp_path / "x.md", quotes="traditional")


def test_xlsx_numbers_are_numbers_and_text_is_never_a_formula(problems, tmp_path):
    problems[0].label = '=HYPERLINK("http://example.invalid","点此")'
    problems[0].findings[0].text = "=1+1 拆分合同规避招标"
    problems[0].findings[0].unit = "@SUM(A1:A3)"
    path = export(problems, "xlsx", tmp_path / "f.xlsx", generated_at=DAY, sources=SOURCES)
    wb = load_workbook(path)
    ws, detail = wb["共性问题清单"], wb["问题明细"]
    for sheet in (ws, detail):
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (cell.coordinate, cell.value)
    rows = list(ws.iter_rows(min_row=4))
    procure = next(r for r in rows if str(r[1].value).startswith("=HYPERLINK"))
    assert procure[1].data_type == "s"
    for r in rows:
        assert isinstance(r[0].value, int) and isinstance(r[5].value, int) and isinstance(r[8].value, int)
        assert isinstance(r[6].value, int) or "–" in r[6].value
    drows = list(detail.iter_rows(min_row=4))
    for r in drows:
        assert isinstance(r[0].value, int) and isinstance(r[4].value, int) and isinstance(r[7].value, int)
    first = next(r for r in drows if r[8].value == "f1")
    assert first[9].value == "江审公告〔2024〕3号" and first[10].value.startswith("市住建局2023年度")
    assert next(r for r in drows if r[8].value == "f6")[5].value == "=1+1 拆分合同规避招标"
