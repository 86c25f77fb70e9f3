"""Readers: PDF layout handling, .docx, .txt, normalisation and bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import AUDIT_PAGES, AUDIT_TITLE, make_docx, make_pdf

from miner.ingest import IngestError, normalise_line, read_document, to_simplified


def test_pdf_drops_running_header_footer_and_page_numbers(audit_pdf: Path):
    doc = read_document(audit_pdf)
    assert doc.pages == 2
    assert "江州市审计局\n" not in doc.text.split("江州市审计局\n2024")[0]  # running header gone
    assert "第1页" not in doc.text.replace(" ", "") and "共2页" not in doc.text.replace(" ", "")
    assert doc.blocks[0].kind == "title" and doc.blocks[0].text == AUDIT_TITLE


def test_pdf_joins_wrapped_lines_into_paragraphs(audit_pdf: Path):
    doc = read_document(audit_pdf)
    long_para = AUDIT_PAGES[0][2]
    assert long_para in doc.text.split("\n")  # wrapped over three lines, one block again


def test_pdf_reads_ruled_table_as_rows(audit_pdf: Path):
    doc = read_document(audit_pdf)
    rows = [b for b in doc.blocks if b.kind == "row"]
    assert [r.cells for r in rows] == [
        ["问题类型", "问题描述", "金额（万元）"],
        ["资产管理", "水质检测设备长期闲置未使用", "86.00"],
        ["银行账户", "应撤销的银行账户未及时撤销", "—"],
    ]
    assert all(r.page == 2 for r in rows)


def test_pdf_pages_of_blocks(audit_pdf: Path):
    doc = read_document(audit_pdf)
    offset = doc.text.index("违规发放津贴补贴")
    assert doc.page_at(offset) == 2
    assert doc.page_at(doc.text.index("规避公开招标")) == 1


def test_paragraph_continued_across_page_break(tmp_path: Path):
    long = "部分单位" + "公务用车管理使用不规范，" * 12 + "存在公车私用现象。"
    filler = ["第" + str(i) + "段内容是背景情况的介绍，没有问题表述，用来占满页面。" * 2 for i in range(13)]
    pdf = make_pdf(tmp_path / "break.pdf", [filler + [long], ["下一段从新的一页开始，也没有问题。"]])
    doc = read_document(pdf)
    assert long in doc.text.split("\n")
    assert "— 1 —" not in doc.text and "— 2 —" not in doc.text


def test_docx_paragraphs_and_tables(tmp_path: Path):
    path = make_docx(
        tmp_path / "r.docx",
        ["一、发现的问题", "（一）暂付款长期挂账。", [["问题类型", "问题描述"], ["采购", "拆分项目规避公开招标"]]],
        title="关于某局的审计报告",
    )
    doc = read_document(path)
    assert doc.blocks[0].kind == "title"
    assert doc.blocks[-1].kind == "row" and doc.blocks[-1].cells == ["采购", "拆分项目规避公开招标"]
    assert "（一）暂付款长期挂账。" in doc.text


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_txt_encodings(tmp_path: Path, encoding: str):
    path = tmp_path / "r.txt"
    path.write_bytes("关于某局的巡察反馈意见\n局本级暂付款长期挂账未清理。\n".encode(encoding))
    doc = read_document(path)
    assert "局本级暂付款长期挂账未清理。" in doc.text


def test_traditional_converted_and_offsets_shared(tmp_path: Path):
    path = tmp_path / "t.txt"
    path.write_text(
        "某醫院財務收支審計結果\n（一）違規發放津貼補貼。該院以「節日慰問」名義發放補貼。\n", encoding="utf-8"
    )
    doc = read_document(path)
    assert doc.traditional
    assert "违规发放津贴补贴" in doc.text and "“节日慰问”" in doc.text
    assert len(doc.text) == len(doc.source_text)
    i = doc.text.index("违规发放")
    assert doc.source_text[i : i + 4] == "違規發放"


def test_simplified_text_is_left_alone():
    text = "局机关违规发放津贴补贴，涉及资金12.8万元。"
    assert to_simplified(text) == (text, False)


def test_fullwidth_letters_digits_normalised_punctuation_kept():
    assert normalise_line("２０２３年度ＡＢＣ项目，超出概算１８．３％。") == "2023年度ABC项目，超出概算18.3%。"
    assert normalise_line("关于 2023 年度 的报告") == "关于2023年度的报告"


def test_empty_file_is_clear_error(tmp_path: Path):
    p = tmp_path / "empty.pdf"
    p.write_bytes(b"")
    with pytest.raises(IngestError, match="empty"):
        read_document(p)


def test_non_pdf_named_pdf(tmp_path: Path):
    p = tmp_path / "fake.pdf"
    p.write_bytes(b"PK\x03\x04 this is a zip file really")
    with pytest.raises(IngestError, match="not a PDF"):
        read_document(p)


def test_truncated_pdf(tmp_path: Path, audit_pdf: Path):
    data = audit_pdf.read_bytes()
    p = tmp_path / "cut.pdf"
    p.write_bytes(data[: len(data) // 3])
    with pytest.raises(IngestError):
        read_document(p)


def test_encrypted_pdf(tmp_path: Path):
    p = make_pdf(tmp_path / "secret.pdf", [["局本级暂付款长期挂账未清理。"]], encrypt="s3cret")
    with pytest.raises(IngestError, match="encrypted"):
        read_document(p)


def test_image_only_pdf_needs_ocr(tmp_path: Path):
    from fpdf import FPDF
    from PIL import Image

    img = tmp_path / "scan.png"
    Image.new("L", (200, 280), color=200).save(img)
    pdf = FPDF()
    pdf.add_page()
    pdf.image(str(img), x=10, y=10, w=180)
    out = tmp_path / "scan.pdf"
    pdf.output(str(out))
    with pytest.raises(IngestError, match="scanned.*OCR"):
        read_document(out, ocr="off")
    with pytest.raises(IngestError, match="scanned"):  # with OCR: a blank scan yields no text
        read_document(out)


def test_scanned_pdf_read_by_ocr(tmp_path: Path):
    from conftest import cjk_font
    from fpdf import FPDF
    from PIL import Image, ImageDraw, ImageFont

    from miner.ingest import ocr_available

    if not ocr_available():
        pytest.skip("Tesseract with chi_sim is not installed (scripts/setup.sh installs it)")
    lines = [
        "关于某局的审计结果公告",
        "一、审计发现的主要问题",
        "（一）暂付款长期挂账未清理。",
        "（二）违规发放津贴补贴。",
    ]
    img = Image.new("L", (1654, 1100), color=255)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(cjk_font(), 44)
    for i, line in enumerate(lines):
        draw.text((150, 150 + i * 110), line, font=font, fill=0)
    png = tmp_path / "page.png"
    img.save(png)
    pdf = FPDF()
    pdf.add_page()
    pdf.image(str(png), x=0, y=0, w=210)
    out = tmp_path / "scan.pdf"
    pdf.output(str(out))
    doc = read_document(out)
    assert doc.ocr
    text = doc.text.replace(" ", "")
    assert "暂付款长期挂账未清理" in text and "违规发放津贴补贴" in text


def test_unsupported_suffix(tmp_path: Path):
    p = tmp_path / "report.doc"
    p.write_bytes(b"\xd0\xcf\x11\xe0old word")
    with pytest.raises(IngestError, match="unsupported"):
        read_document(p)


def test_two_column_page_read_column_by_column(tmp_path: Path):
    from conftest import cjk_font
    from fpdf import FPDF

    left = "左栏第一段：局本级暂付款长期挂账未清理，部分款项已无法查清往来单位，存在资金损失风险。" * 2
    right = "右栏第一段：所属单位将同一工程拆分为多个合同，规避公开招标，涉及金额较大。" * 2
    pdf = FPDF(format="A4")
    pdf.add_font("cjk", fname=cjk_font())
    pdf.add_page()
    pdf.set_font("cjk", size=16)
    pdf.set_xy(20, 20)
    pdf.cell(170, 10, "两栏排版的报告标题", align="C")
    pdf.set_font("cjk", size=11)
    for x, text in ((20, left), (112, right)):
        pdf.set_xy(x, 40)
        pdf.multi_cell(78, 7, "\u3000\u3000" + text, new_x="LEFT", new_y="NEXT")
        pdf.set_x(x)
        pdf.multi_cell(78, 7, "\u3000\u3000" + text[:30] + "。", new_x="LEFT", new_y="NEXT")
    out = tmp_path / "cols.pdf"
    pdf.output(str(out))
    doc = read_document(out)
    paras = doc.text.split("\n")
    assert left in paras and right in paras
    assert paras.index(left) < paras.index(right)
