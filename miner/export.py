"""Export common problems as a list (xlsx), a briefing draft (docx), markdown or JSON.

Analysts use these files as the start of a joint briefing, so every statement carries
its source (document and page) and the docx follows official-document (公文) layout.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from miner.records import ISSUER_KIND_ZH, ISSUER_KINDS, CommonProblem, Finding

FORMATS = ("xlsx", "docx", "md", "json")
_ALIASES = {"markdown": "md", "excel": "xlsx", "word": "docx"}
DEFAULT_NAMES = {
    "xlsx": "共性问题清单",
    "docx": "共性问题专报（初稿）",
    "md": "共性问题清单",
    "json": "共性问题清单",
}
DEFAULT_LIST_TITLE = "共性问题清单"
DEFAULT_BRIEF_TITLE = "关于监督发现共性问题的专报（初稿）"
PLACEHOLDER = "（待分析人员填写）"
MACHINE_NOTE = "本稿由 miner 根据各类监督报告自动生成，为初稿，所列问题表述及出处须经人工核对后方可使用。"

# Fonts of the official-document standard (GB/T 9704); Word falls back if one is missing.
TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
H1_FONT = "黑体"
H2_FONT = "楷体_GB2312"
LATIN_FONT = "Times New Roman"
SHEET_FONT = "宋体"

_ZH_DIGITS = "零一二三四五六七八九"
_LEADING_MARKER = re.compile(
    r"^\s*(?:[一二三四五六七八九十]+是|[（(][一二三四五六七八九十\d]+[)）]|[一二三四五六七八九十]+、|\d+[.、．)）]|[①-⑳])\s*"
)


def export(
    problems: list[CommonProblem],
    fmt: str,
    out: Path,
    *,
    title: str | None = None,
    min_bodies: int = 1,
    generated_at: date | None = None,
) -> Path:
    """Write `problems` in `fmt` to `out` (a file, or a directory to get a default name).

    Problems found by fewer than `min_bodies` distinct issuer kinds are left out; the rest
    are ordered by score, highest first. Returns the path written.
    """
    fmt = _ALIASES.get(fmt.lower().lstrip("."), fmt.lower().lstrip("."))
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    out = Path(out)
    if out.is_dir():
        out = out / default_filename(fmt)
    out.parent.mkdir(parents=True, exist_ok=True)
    selected = select(problems, min_bodies=min_bodies)
    today = generated_at or date.today()
    writer = {
        "xlsx": _write_xlsx,
        "docx": _write_docx,
        "md": _write_md,
        "json": _write_json,
    }[fmt]
    writer(selected, out, title=title, min_bodies=min_bodies, generated_at=today)
    return out


def default_filename(fmt: str) -> str:
    """File name an export takes when only a folder is given, e.g. 共性问题清单.xlsx."""
    return f"{DEFAULT_NAMES[fmt]}.{fmt}"


def select(problems: Iterable[CommonProblem], *, min_bodies: int = 1) -> list[CommonProblem]:
    """Problems seen by at least `min_bodies` kinds of supervisor, most systemic first."""
    kept = [p for p in problems if len(issuer_kinds(p.findings)) >= min_bodies]
    return sorted(kept, key=lambda p: -p.score)  # stable: ties keep the cluster stage's order


# --- facts shared by every format -------------------------------------------------------


def issuer_kinds(findings: Iterable[Finding]) -> list[str]:
    """Distinct issuer kinds, most frequent first (ties in ISSUER_KINDS order)."""
    counts = Counter(f.issuer_kind for f in findings)
    return sorted(counts, key=lambda k: (-counts[k], _kind_rank(k)))


def _kind_rank(kind: str) -> int:
    return ISSUER_KINDS.index(kind) if kind in ISSUER_KINDS else len(ISSUER_KINDS)


def kind_zh(kind: str) -> str:
    return ISSUER_KIND_ZH.get(kind, kind or "其他")


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def units(findings: Iterable[Finding]) -> list[str]:
    return _unique(f.unit.strip() for f in findings)


def year_range(findings: Iterable[Finding]) -> str:
    """'2022–2024', '2023', or '' when no finding is dated."""
    years = sorted({f.year for f in findings if f.year})
    if not years:
        return ""
    return str(years[0]) if years[0] == years[-1] else f"{years[0]}–{years[-1]}"


def span_of(p: CommonProblem) -> str:
    """The cluster stage's span, or one built the same way when it left it empty."""
    if p.span:
        return p.span
    parts = ["、".join(kind_zh(k) for k in issuer_kinds(p.findings))]
    if n_units := len(units(p.findings)):
        parts.append(f"{n_units} 个单位")
    if years := year_range(p.findings):
        parts.append(years)
    parts.append(f"{len(p.findings)} 条")
    return " · ".join(x for x in parts if x)


def cite(f: Finding) -> str:
    """Where an analyst can check a finding: 'q01.pdf 第2页'."""
    return f"{f.document} 第{f.page}页"


def citations(findings: Iterable[Finding]) -> list[str]:
    """One citation per distinct (document, page), in finding order."""
    return _unique(cite(f) for f in findings)


def body_of(f: Finding) -> str:
    """'审计·某市审计局', or just the kind when the issuer is unknown."""
    return f"{kind_zh(f.issuer_kind)}·{f.issuer}" if f.issuer else kind_zh(f.issuer_kind)


def source_of(f: Finding) -> str:
    return f"{body_of(f)}，{cite(f)}"


def representatives(p: CommonProblem, limit: int | None = None) -> list[Finding]:
    """A few statements that show the spread: one per issuer kind first, then others.

    Round-robin over kinds keeps a finding from every body visible; within a kind the
    cluster stage's order (usually closeness to the centre) is kept and documents repeat last.
    """
    if limit is None:
        limit = min(max(3, len(issuer_kinds(p.findings))), 5)
    queues = {k: [f for f in p.findings if f.issuer_kind == k] for k in issuer_kinds(p.findings)}
    for kind, queue in queues.items():  # prefer unseen documents within each kind
        seen: set[str] = set()
        fresh, repeat = [], []
        for f in queue:
            (repeat if f.document in seen else fresh).append(f)
            seen.add(f.document)
        queues[kind] = fresh + repeat
    picked: list[Finding] = []
    while len(picked) < limit and any(queues.values()):
        for queue in queues.values():
            if queue and len(picked) < limit:
                picked.append(queue.pop(0))
    return picked


def clean(text: str) -> str:
    """Collapse whitespace (none between CJK characters) and drop markers like '一是'/'（二）'.

    Markers number statements inside their own report and mislead once quoted elsewhere.
    """
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"(?<=[\u3000-\u9fff\uff00-\uffef]) (?=[\u3000-\u9fff\uff00-\uffef])", "", text)
    return _LEADING_MARKER.sub("", text, count=1)


def shorten(text: str, limit: int = 80) -> str:
    """Cleaned text, cut at a clause end (or hard) when longer than `limit` characters."""
    text = clean(text)
    if len(text) <= limit:
        return text
    head = text[:limit]
    cut = max(head.rfind(c) for c in "。；;！？")
    if cut < limit // 2:
        cut = max(head.rfind(c) for c in "，,、：:")
    if cut >= limit // 2:
        return head[:cut] + "……"
    return head[: limit - 1] + "……"


def _sentence(text: str) -> str:
    """Text without trailing punctuation so a citation can follow it."""
    return text.rstrip("。；;，,、：: ")


def zh_number(n: int) -> str:
    """1 -> 一, 12 -> 十二, 23 -> 二十三; Arabic digits from 100 on, which no briefing reaches."""
    if not 0 <= n < 100:
        return str(n)
    if n < 10:
        return _ZH_DIGITS[n]
    tens, ones = divmod(n, 10)
    return f"{'' if tens == 1 else _ZH_DIGITS[tens]}十{_ZH_DIGITS[ones] if ones else ''}"


def _zh_date(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


# --- xlsx ----------------------------------------------------------------------------------

_XLSX_COLUMNS = [  # (header, width in Excel character units)
    ("序号", 6),
    ("共性问题", 22),
    ("问题表现", 62),
    ("涉及单位", 20),
    ("发现机关", 24),
    ("条数", 7),
    ("年份", 12),
    ("出处", 26),
]
_DETAIL_COLUMNS = [
    ("共性问题序号", 8),
    ("共性问题", 20),
    ("发现机关", 22),
    ("单位", 18),
    ("年份", 8),
    ("问题表述", 70),
    ("文件", 24),
    ("页码", 7),
    ("编号", 14),
]
_CELL_MAX = 32000  # Excel refuses cells over 32,767 characters


def _write_xlsx(
    problems: list[CommonProblem],
    out: Path,
    *,
    title: str | None,
    min_bodies: int,
    generated_at: date,
) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "共性问题清单"
    rows = [_list_row(i, p) for i, p in enumerate(problems, 1)]
    n_findings = sum(len(p.findings) for p in problems)
    subtitle = (
        f"生成日期：{generated_at.isoformat()}　共 {len(problems)} 个共性问题、{n_findings} 条问题表述，"
        "按系统性程度从高到低排列"
        + (f"；仅列至少 {min_bodies} 类监督主体发现的问题" if min_bodies > 1 else "")
        + "。机器生成，引用请核对原文。"
    )
    _fill_sheet(
        ws,
        title or DEFAULT_LIST_TITLE,
        subtitle,
        _XLSX_COLUMNS,
        rows,
        centre_cols={1, 6, 7},
    )

    detail = wb.create_sheet("问题明细")
    detail_rows = [
        [
            i,
            p.label,
            body_of(f),
            f.unit,
            f.year or "",
            re.sub(r"\s+", " ", f.text).strip(),
            f.document,
            f.page,
            f.id,
        ]
        for i, p in enumerate(problems, 1)
        for f in p.findings
    ]
    _fill_sheet(
        detail,
        "问题明细",
        "每行一条问题表述，按共性问题序号排列。",
        _DETAIL_COLUMNS,
        detail_rows,
        centre_cols={1, 5, 8},
    )
    wb.save(out)


def _list_row(i: int, p: CommonProblem) -> list:
    label = p.label
    if p.keywords:
        label += "\n关键词：" + "、".join(p.keywords)
    if p.note:
        label += "\n备注：" + p.note
    facts = "\n".join(
        f"{n}. {_sentence(shorten(f.text))}（{source_of(f)}）" for n, f in enumerate(representatives(p), 1)
    )
    us = units(p.findings)
    unit_text = "、".join(us[:10]) + (f"等 {len(us)} 个单位" if len(us) > 10 else "")
    bodies = "\n".join(
        kind_zh(k)
        + ("：" + "、".join(names) if (names := _unique(f.issuer for f in p.findings if f.issuer_kind == k)) else "")
        for k in issuer_kinds(p.findings)
    )
    sources = "\n".join(citations(p.findings))
    if len(sources) > _CELL_MAX:
        sources = sources[:_CELL_MAX].rsplit("\n", 1)[0] + "\n……（其余见“问题明细”）"
    return [
        i,
        label,
        facts,
        unit_text,
        bodies,
        len(p.findings),
        year_range(p.findings),
        sources,
    ]


def _fill_sheet(
    ws,
    title: str,
    subtitle: str,
    columns: list[tuple[str, int]],
    rows: list[list],
    centre_cols: set[int],
) -> None:
    """Title, note, header and data rows with print setup; shared by both sheets."""
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.properties import PageSetupProperties

    last_col = get_column_letter(len(columns))
    thin = Side(style="thin", color="808080")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    wrap = Alignment(wrap_text=True, vertical="top")
    centre = Alignment(wrap_text=True, vertical="top", horizontal="center")

    ws.append([title])
    ws.merge_cells(f"A1:{last_col}1")
    ws["A1"].font = Font(name=SHEET_FONT, size=16, bold=True)
    ws["A1"].alignment = Alignment(horizontal="center", vertical="center")
    ws.row_dimensions[1].height = 30
    ws.append([subtitle])
    ws.merge_cells(f"A2:{last_col}2")
    ws["A2"].font = Font(name=SHEET_FONT, size=9, color="595959")
    ws["A2"].alignment = Alignment(horizontal="left", vertical="center")
    ws.row_dimensions[2].height = 18

    ws.append([h for h, _ in columns])
    for c, (_, width) in enumerate(columns, 1):
        cell = ws.cell(row=3, column=c)
        cell.font = Font(name=SHEET_FONT, size=11, bold=True)
        cell.fill = PatternFill("solid", fgColor="D9E1F2")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.border = border
        ws.column_dimensions[get_column_letter(c)].width = width
    ws.row_dimensions[3].height = 22

    body_font = Font(name=SHEET_FONT, size=10)
    for row in rows:
        ws.append(row)
        r = ws.max_row
        for c in range(1, len(row) + 1):
            cell = ws.cell(row=r, column=c)
            cell.font = body_font
            cell.alignment = centre if c in centre_cols else wrap
            cell.border = border
        # openpyxl cannot autofit; an estimate keeps wrapped text visible in Excel and print.
        lines = max(_wrapped_lines(str(v), columns[c][1]) for c, v in enumerate(row))
        ws.row_dimensions[r].height = min(409, max(18, 14 * lines + 4))

    ws.freeze_panes = "A4"
    if rows:
        ws.auto_filter.ref = f"A3:{last_col}{ws.max_row}"
    ws.print_title_rows = "3:3"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.page_margins.top = ws.page_margins.bottom = 0.6
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"


def _wrapped_lines(text: str, width: int) -> int:
    """Lines a wrapped cell needs; CJK characters take two width units."""
    total = 0
    for line in text.split("\n"):
        units_ = sum(2 if ord(ch) > 0x2E7F else 1 for ch in line)
        total += max(1, math.ceil(units_ / max(1, width - 1)))
    return total


# --- docx ----------------------------------------------------------------------------------


def _write_docx(
    problems: list[CommonProblem],
    out: Path,
    *,
    title: str | None,
    min_bodies: int,
    generated_at: date,
) -> None:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    doc = Document()
    _setup_page(doc)
    _setup_styles(doc)
    _add_page_number_footer(doc)

    _paragraph(doc, title or DEFAULT_BRIEF_TITLE, style="Title")
    _paragraph(doc, "", style="Normal")
    _paragraph(doc, _lead(problems, min_bodies))

    _paragraph(doc, "一、主要共性问题", style="Heading 1")
    if not problems:
        _paragraph(doc, "本次梳理未发现符合条件的共性问题。")
    for i, p in enumerate(problems, 1):
        _paragraph(doc, f"（{zh_number(i)}）{p.label}", style="Heading 2")
        _paragraph(doc, f"涉及范围：{span_of(p)}。")
        reps = representatives(p)
        if reps:
            _paragraph(doc, "主要表现：")
        for n, f in enumerate(reps, 1):
            end = "。" if n == len(reps) else "；"
            _paragraph(
                doc,
                f"{zh_number(n)}是{_sentence(shorten(f.text, 150))}（{source_of(f)}）{end}",
            )
        if p.note:
            _paragraph(doc, f"分析人员备注：{_sentence(p.note)}。")
        _paragraph(doc, "出处：" + "；".join(citations(p.findings)) + "。", style="Sources")

    _paragraph(doc, "二、原因分析", style="Heading 1")
    _paragraph(doc, PLACEHOLDER)
    _paragraph(doc, "三、意见建议", style="Heading 1")
    _paragraph(doc, PLACEHOLDER)
    _paragraph(doc, "")
    _paragraph(doc, f"（{MACHINE_NOTE}）")
    date_para = _paragraph(doc, _zh_date(generated_at))
    date_para.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    date_para.paragraph_format.first_line_indent = 0
    date_para.paragraph_format.right_indent = _pt(64)  # 公文: date sits four characters in from the right
    doc.core_properties.title = title or DEFAULT_BRIEF_TITLE
    doc.core_properties.author = "miner"
    doc.save(out)


def _lead(problems: list[CommonProblem], min_bodies: int) -> str:
    """Opening paragraph: what was read, by whom, when, and what came out."""
    findings = [f for p in problems for f in p.findings]
    docs_by_kind: dict[str, set[str]] = {}
    for f in findings:
        docs_by_kind.setdefault(f.issuer_kind, set()).add(f.document)
    n_docs = len({f.document for f in findings})
    years = sorted({f.year for f in findings if f.year})
    period = ""
    if years:
        period = f"{years[0]}年" if years[0] == years[-1] else f"{years[0]}年至{years[-1]}年"
    kinds = issuer_kinds(findings)
    breakdown = "、".join(f"{kind_zh(k)}{len(docs_by_kind[k])}份" for k in kinds)
    text = "对" + (f"{period}" if period else "")
    text += f"{'、'.join(kind_zh(k) for k in kinds) or '各类'}等监督主体形成的{n_docs}份报告"
    text += f"（其中{breakdown}）" if breakdown else ""
    text += f"进行了梳理，归并出跨主体、跨单位反复出现的共性问题{len(problems)}个，涉及问题表述{len(findings)}条"
    if min_bodies > 1:
        text += f"（仅列至少由{min_bodies}类监督主体发现的问题）"
    return text + "，按系统性程度从高到低排列。现将有关情况报告如下。"


def _pt(value: float):
    from docx.shared import Pt

    return Pt(value)


def _setup_page(doc) -> None:
    from docx.shared import Cm

    for section in doc.sections:
        section.page_width, section.page_height = Cm(21.0), Cm(29.7)
        section.top_margin, section.bottom_margin = Cm(3.7), Cm(3.5)
        section.left_margin, section.right_margin = Cm(2.8), Cm(2.6)
        section.footer_distance = Cm(2.8)  # number ~7 mm below the text block


def _set_fonts(rpr_parent, east_asia: str, latin: str = LATIN_FONT) -> None:
    """Set w:rFonts so Chinese text uses `east_asia`; theme attributes would override it."""
    from docx.oxml.ns import qn

    if hasattr(rpr_parent, "get_or_add_rPr"):  # styles; w:docDefaults is a plain element
        rpr = rpr_parent.get_or_add_rPr()
    elif (rpr := rpr_parent.find(qn("w:rPr"))) is None:
        rpr = rpr_parent.makeelement(qn("w:rPr"), {})
        rpr_parent.append(rpr)
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.insert(0, rfonts)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        rfonts.attrib.pop(qn(attr), None)
    rfonts.set(qn("w:ascii"), latin)
    rfonts.set(qn("w:hAnsi"), latin)
    rfonts.set(qn("w:cs"), latin)
    rfonts.set(qn("w:eastAsia"), east_asia)
    rfonts.set(qn("w:hint"), "eastAsia")


def _setup_styles(doc) -> None:
    """Body 仿宋 三号 at fixed 28 pt; headings 黑体/楷体; title 小标宋 二号."""
    from docx.enum.style import WD_STYLE_TYPE
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
    from docx.oxml.ns import qn
    from docx.shared import RGBColor

    defaults = doc.styles.element.find(qn("w:docDefaults"))
    if defaults is not None and (rpr_default := defaults.find(qn("w:rPrDefault"))) is not None:
        _set_fonts(rpr_default, BODY_FONT)
        lang = rpr_default.find(f"{qn('w:rPr')}/{qn('w:lang')}")
        if lang is not None:  # Word picks fonts for shared punctuation by this language
            lang.set(qn("w:eastAsia"), "zh-CN")

    def configure(
        style,
        east_asia: str,
        size: float,
        *,
        line: float = 28,
        indent: bool = True,
        bold: bool = False,
    ):
        _set_fonts(style.element, east_asia)
        style.font.size = _pt(size)
        style.font.bold = bold
        rpr = style.element.rPr
        for tag in ("w:bCs", "w:szCs"):
            if (el := rpr.find(qn(tag))) is not None:
                rpr.remove(el)
        style.font.color.rgb = RGBColor(0, 0, 0)
        color = rpr.find(qn("w:color"))
        for attr in ("w:themeColor", "w:themeShade", "w:themeTint"):
            color.attrib.pop(qn(attr), None)
        pf = style.paragraph_format
        pf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        pf.line_spacing = _pt(line)
        pf.space_before = pf.space_after = _pt(0)
        pf.first_line_indent = _pt(2 * size) if indent else _pt(0)
        ind = style.element.get_or_add_pPr().find(qn("w:ind"))
        ind.set(qn("w:firstLineChars"), "200" if indent else "0")  # Word measures in characters
        pf.widow_control = True

    configure(doc.styles["Normal"], BODY_FONT, 16)
    doc.styles["Normal"].paragraph_format.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    for name, font in (("Heading 1", H1_FONT), ("Heading 2", H2_FONT)):
        configure(doc.styles[name], font, 16)
        doc.styles[name].font.italic = False
        doc.styles[name].paragraph_format.keep_with_next = True
    title = doc.styles["Title"]
    configure(title, TITLE_FONT, 22, line=36, indent=False)
    title.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    ppr = title.element.get_or_add_pPr()
    for tag in ("w:pBdr", "w:contextualSpacing"):
        if (el := ppr.find(qn(tag))) is not None:
            ppr.remove(el)
    spacing = title.element.rPr.find(qn("w:spacing"))
    if spacing is not None:
        title.element.rPr.remove(spacing)
    sources = doc.styles.add_style("Sources", WD_STYLE_TYPE.PARAGRAPH)
    sources.base_style = doc.styles["Normal"]
    sources.font.size = _pt(14)  # 四号: long source lists stay secondary to the facts
    sources.paragraph_format.line_spacing = _pt(24)
    footer = doc.styles["Footer"]
    configure(footer, "宋体", 14, line=14, indent=False)
    footer.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE


def _add_page_number_footer(doc) -> None:
    """Centred '— N —' with a PAGE field, as official documents number pages."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    for section in doc.sections:
        para = section.footer.paragraphs[0] if section.footer.paragraphs else section.footer.add_paragraph()
        para.style = doc.styles["Footer"]
        para.alignment = WD_ALIGN_PARAGRAPH.CENTER
        para.add_run("— ")
        run = para.add_run()
        for kind, text in (
            ("begin", None),
            ("instr", " PAGE "),
            ("separate", None),
            ("text", "1"),
            ("end", None),
        ):
            if kind == "instr":
                el = OxmlElement("w:instrText")
                el.set(qn("xml:space"), "preserve")
                el.text = text
            elif kind == "text":
                el = OxmlElement("w:t")
                el.text = text
            else:
                el = OxmlElement("w:fldChar")
                el.set(qn("w:fldCharType"), kind)
            run._r.append(el)
        para.add_run(" —")


def _paragraph(doc, text: str, style: str = "Normal"):
    """Add a paragraph whose runs inherit everything from the style (fonts set once there)."""
    para = doc.add_paragraph(style=doc.styles[style])
    if text:
        para.add_run(text)
    return para


# --- markdown and json ---------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*\[\]<>])")


def _md(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", re.sub(r"\s+", " ", text).strip())


def _write_md(
    problems: list[CommonProblem],
    out: Path,
    *,
    title: str | None,
    min_bodies: int,
    generated_at: date,
) -> None:
    n_findings = sum(len(p.findings) for p in problems)
    lines = [
        f"# {_md(title or DEFAULT_LIST_TITLE)}",
        "",
        f"> 生成日期 {generated_at.isoformat()} · {len(problems)} 个共性问题 · {n_findings} 条问题表述"
        + (f" · 仅列至少 {min_bodies} 类监督主体发现的问题" if min_bodies > 1 else "")
        + " · 机器生成初稿，引用请核对原文",
        "",
    ]
    for i, p in enumerate(problems, 1):
        lines += [f"## {i}. {_md(p.label)}", "", f"*{_md(span_of(p))}*", ""]
        meta = []
        if p.keywords:
            meta.append("关键词：" + "、".join(_md(k) for k in p.keywords))
        meta.append(f"系统性得分：{p.score:.2f}")
        lines += ["　".join(meta), ""]
        if p.note:
            lines += [f"备注：{_md(p.note)}", ""]
        lines += [f"- {_md(_sentence(clean(f.text)))}（{_md(body_of(f))}，{cite(f)}）" for f in p.findings]
        lines += ["", "出处：" + "；".join(citations(p.findings)), ""]
        if p.recurrences:  # cross-year chains (miner.recurrence)
            lines += [f"- 【{r['label']}】{_md(r['unit'])}：{_md(r['summary'])}" for r in p.recurrences] + [""]
    out.write_text("\n".join(lines), encoding="utf-8")


def _write_json(
    problems: list[CommonProblem],
    out: Path,
    *,
    title: str | None,
    min_bodies: int,
    generated_at: date,
) -> None:
    fields = ("id", "document", "page", "text", "unit", "issuer_kind", "issuer", "year")
    data = [
        {
            "id": p.id,
            "label": p.label,
            "keywords": list(p.keywords),
            "score": p.score,
            "span": span_of(p),
            "note": p.note,
            "findings": [{k: getattr(f, k) for k in fields} for f in p.findings],
            "recurrences": list(p.recurrences),
        }
        for p in problems
    ]
    out.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
