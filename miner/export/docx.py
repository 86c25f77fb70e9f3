"""The briefing draft (共性问题专报) as a Word file in official-document (公文) layout.

A 专报 is read at a meeting: a 版头 (masthead, 期号, 编发单位 and date over a red rule), a
lead paragraph whose counts are the list's own, the top problems with a readable range line,
a few quoted facts cited by 文号 or title and page, empty 原因分析 / 意见建议 sections for the
analyst, the reports cited, and a 版记 (报送, 抄送, 印发).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from miner.export.common import (
    DEFAULT_BRIEF_TITLE,
    MACHINE_NOTE,
    PLACEHOLDER,
    BriefingOptions,
    Source,
    body_of,
    documents,
    full_ref,
    issuer_kinds,
    kind_zh,
    pages_by_document,
    range_sentence,
    representatives,
    sentence,
    short_ref,
    shorten,
    zh_date,
    zh_number,
    zh_period,
)
from miner.records import CommonProblem, Finding

# Fonts of the official-document standard (GB/T 9704); Word falls back if one is missing.
TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
H1_FONT = "黑体"
H2_FONT = "楷体_GB2312"
LATIN_FONT = "Times New Roman"
RED = "C00000"
QUOTE_LIMIT = 90  # characters of a quoted fact; the full text is in the list and the report
FACTS_PER_PROBLEM = 3


@dataclass
class LeadCounts:
    """The numbers the lead paragraph states, computed from the problems it introduces."""

    problems: int
    reports: int
    reports_by_kind: dict[str, int]
    findings: int
    cross_body: int  # problems found by at least two kinds of body
    period: str
    kinds: list[str]


def lead_counts(problems: list[CommonProblem]) -> LeadCounts:
    findings = [f for p in problems for f in p.findings]
    kinds = issuer_kinds(findings)
    by_kind = Counter(f.issuer_kind for f in {f.document: f for f in findings}.values())
    return LeadCounts(
        problems=len(problems),
        reports=len(documents(findings)),
        reports_by_kind={k: by_kind[k] for k in kinds if by_kind[k]},
        findings=len(findings),
        cross_body=sum(len(issuer_kinds(p.findings)) >= 2 for p in problems),
        period=zh_period(findings),
        kinds=kinds,
    )


def lead(problems: list[CommonProblem], min_bodies: int, total: int | None = None) -> str:
    """Opening paragraph: which reports, how many problems, how many across bodies — all true of the list.

    `total` is how many problems passed `min_bodies` before the top-N cut.
    """
    c = lead_counts(problems)
    if not problems:
        return "经梳理，本次未发现符合条件的共性问题。"
    kinds = "、".join(kind_zh(k) for k in c.kinds)
    breakdown = "、".join(f"{kind_zh(k)}{n}份" for k, n in c.reports_by_kind.items())
    text = f"经对{c.period}{kinds}等监督主体的监督报告进行梳理，"
    if min_bodies > 1:
        text += f"在至少由{min_bodies}类监督主体发现的问题中，"
    if total is not None and total > c.problems:
        text += f"共归并出共性问题{total}个，现将系统性程度最高的{c.problems}个报告如下。"
    else:
        text += f"归并出共性问题{c.problems}个，现报告如下。"
    text += f"这{c.problems}个问题见于{c.reports}份报告（其中{breakdown}），涉及问题表述{c.findings}条；"
    if c.cross_body == c.problems:
        text += "均由两类以上监督主体分别指出" if c.problems > 1 else "由两类以上监督主体分别指出"
    elif c.cross_body:
        rest = c.problems - c.cross_body
        text += f"其中{c.cross_body}个由两类以上监督主体分别指出（跨主体），{rest}个由同一类监督主体指出"
    else:
        text += "均由同一类监督主体指出" if c.problems > 1 else "由同一类监督主体指出"
    return text + "。问题按系统性程度从高到低排列，所引报告见附件。"


def write_docx(
    problems: list[CommonProblem],
    out: Path,
    *,
    title: str | None,
    min_bodies: int,
    generated_at: date,
    sources: Mapping[str, Source] | None = None,
    options: BriefingOptions | None = None,
    total: int | None = None,
    quotes_note: str = "",
) -> None:
    from docx import Document

    opts = options or BriefingOptions()
    when = opts.date or generated_at
    issuer = opts.issuer or "（编发单位）"
    doc = Document()
    _setup_page(doc)
    _setup_styles(doc)
    _add_page_number_footer(doc)

    _masthead(doc, opts.masthead, opts.issue or f"{when.year}年第　期", issuer, when)
    _paragraph(doc, title or DEFAULT_BRIEF_TITLE, style="Title")
    _paragraph(doc, "", style="Normal")
    _paragraph(doc, lead(problems, min_bodies, total))

    _paragraph(doc, "一、主要共性问题", style="Heading 1")
    if not problems:
        _paragraph(doc, "本次梳理未发现符合条件的共性问题。")
    cited = documents(f for p in problems for f in p.findings)
    number = {d: n for n, d in enumerate(cited, 1)}
    for i, p in enumerate(problems, 1):
        _paragraph(doc, f"（{zh_number(i)}）{p.label}", style="Heading 2")
        _paragraph(doc, range_sentence(p))
        if facts := _facts(p, sources):
            _paragraph(doc, "主要表现：" + facts)
        if p.note:
            _paragraph(doc, f"分析人员备注：{sentence(p.note)}。")
        pages = pages_by_document(p.findings)
        refs = "；".join(f"[{number[d]}]第{'、'.join(map(str, pages[d]))}页" for d in sorted(pages, key=number.get))
        _paragraph(doc, f"出处（见附件）：{refs}。", style="Sources")

    _paragraph(doc, "二、原因分析", style="Heading 1")
    _paragraph(doc, PLACEHOLDER)
    _paragraph(doc, "三、意见建议", style="Heading 1")
    _paragraph(doc, PLACEHOLDER)
    _paragraph(doc, f"（{MACHINE_NOTE}{quotes_note}）", style="Sources")

    if cited:
        _paragraph(doc, "")
        _paragraph(doc, f"附件：引用报告（{len(cited)}份）", style="Heading 3")
        for d in cited:
            _paragraph(doc, f"[{number[d]}] {full_ref(d, sources)}", style="References")
    _imprint(doc, opts, issuer, when)
    doc.core_properties.title = title or DEFAULT_BRIEF_TITLE
    doc.core_properties.author = "miner"
    doc.save(out)


def _facts(p: CommonProblem, sources: Mapping[str, Source] | None) -> str:
    """'一是……（审计·市审计局，沄审报〔2023〕12号第2页）；二是……。' in one paragraph."""
    reps = representatives(p, limit=FACTS_PER_PROBLEM)
    parts = [
        f"{zh_number(n)}是{sentence(shorten(f.text, QUOTE_LIMIT))}（{_where(f, sources)}）"
        for n, f in enumerate(reps, 1)
    ]
    return "；".join(parts) + "。" if parts else ""


def _where(f: Finding, sources: Mapping[str, Source] | None) -> str:
    return f"{body_of(f)}，{short_ref(f.document, sources)}第{f.page}页"


def _masthead(doc, name: str, issue: str, issuer: str, when: date) -> None:
    """版头: red masthead name, 期号, then 编发单位 left and date right over a red rule."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_TAB_ALIGNMENT
    from docx.shared import RGBColor

    head = _paragraph(doc, "", style="Masthead")
    run = head.add_run(name)
    run.font.color.rgb = RGBColor.from_string(RED)
    number = _paragraph(doc, issue)
    number.alignment = WD_ALIGN_PARAGRAPH.CENTER
    number.paragraph_format.first_line_indent = 0
    line = _paragraph(doc, f"{issuer}\t{zh_date(when)}")
    line.paragraph_format.first_line_indent = 0
    section = doc.sections[0]
    width = section.page_width - section.left_margin - section.right_margin
    line.paragraph_format.tab_stops.add_tab_stop(width, WD_TAB_ALIGNMENT.RIGHT)
    _rule(line, "bottom", RED, 12)


def _imprint(doc, opts: BriefingOptions, issuer: str, when: date) -> None:
    """版记: 报送 and 抄送 when given, and the 印发 line, between rules."""
    lines = []
    if opts.to:
        lines.append(f"报：{opts.to}")
    if opts.cc:
        lines.append(f"抄送：{opts.cc}")
    lines.append(f"{issuer}\t{zh_date(when)}印发")
    from docx.enum.text import WD_TAB_ALIGNMENT

    section = doc.sections[0]
    width = section.page_width - section.left_margin - section.right_margin
    _paragraph(doc, "")
    for n, text in enumerate(lines):
        para = _paragraph(doc, text, style="Imprint")
        # tab stops count from the margin: the right one sits at the 版记's right indent
        para.paragraph_format.tab_stops.add_tab_stop(width - _pt(14), WD_TAB_ALIGNMENT.RIGHT)
        if n == 0:
            _rule(para, "top", "000000", 8)
        _rule(para, "bottom", "000000", 8 if n == len(lines) - 1 else 4)


def _rule(para, side: str, color: str, size: int) -> None:
    """A paragraph border used as the 公文 rule (red under the 版头, black in the 版记)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    ppr = para._p.get_or_add_pPr()
    borders = ppr.find(qn("w:pBdr"))
    if borders is None:
        borders = OxmlElement("w:pBdr")
        ppr.append(borders)
    edge = OxmlElement(f"w:{side}")
    edge.set(qn("w:val"), "single")
    edge.set(qn("w:sz"), str(size))
    edge.set(qn("w:space"), "1")
    edge.set(qn("w:color"), color)
    borders.append(edge)


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
    masthead = doc.styles.add_style("Masthead", WD_STYLE_TYPE.PARAGRAPH)
    masthead.base_style = doc.styles["Normal"]
    configure(masthead, TITLE_FONT, 30, line=48, indent=False)
    masthead.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    masthead.paragraph_format.space_before = _pt(12)
    configure(doc.styles["Heading 3"], H1_FONT, 16, indent=False)
    doc.styles["Heading 3"].font.italic = False
    doc.styles["Heading 3"].paragraph_format.keep_with_next = True
    references = doc.styles.add_style("References", WD_STYLE_TYPE.PARAGRAPH)
    references.base_style = doc.styles["Normal"]
    configure(references, BODY_FONT, 12, line=18, indent=False)  # 小四: a list to look things up in
    references.paragraph_format.left_indent = _pt(24)
    references.paragraph_format.first_line_indent = _pt(-24)  # hanging: numbers stand out
    imprint = doc.styles.add_style("Imprint", WD_STYLE_TYPE.PARAGRAPH)
    imprint.base_style = doc.styles["Normal"]
    configure(imprint, BODY_FONT, 14, line=24, indent=False)
    imprint.paragraph_format.left_indent = imprint.paragraph_format.right_indent = _pt(14)  # 版记 inset one character
    imprint.paragraph_format.keep_with_next = True
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
