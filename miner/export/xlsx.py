"""The common-problem list (共性问题清单) as an Excel workbook: one sheet of problems, one of findings.

Numbers (序号, 条数, 份数, 年份, 页码) are stored as numbers so that analysts can sort and sum;
every text cell taken from a report is stored as a string, never as a formula, whatever it
starts with (a quoted '=…' must not run in Excel: formula injection).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path

from miner.export.common import (
    DEFAULT_LIST_TITLE,
    Source,
    body_of,
    citations,
    documents,
    issuer_kinds,
    kind_zh,
    representatives,
    sentence,
    shorten,
    source_of,
    unique,
    units,
    year_range,
    years,
)
from miner.records import CommonProblem

SHEET_FONT = "宋体"

_XLSX_COLUMNS = [  # (header, width in Excel character units)
    ("序号", 6),
    ("共性问题", 22),
    ("问题表现", 62),
    ("涉及单位", 20),
    ("发现机关", 24),
    ("条数", 7),
    ("年份", 12),
    ("出处", 26),
    ("报告份数", 7),
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
    ("文号", 18),
    ("报告标题", 30),
]
_CELL_MAX = 32000  # Excel refuses cells over 32,767 characters


def write_xlsx(
    problems: list[CommonProblem],
    out: Path,
    *,
    title: str | None,
    min_bodies: int,
    generated_at: date,
    sources: Mapping[str, Source] | None = None,
    quotes_note: str = "",
) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "共性问题清单"
    rows = [_list_row(i, p, sources) for i, p in enumerate(problems, 1)]
    n_findings = sum(len(p.findings) for p in problems)
    subtitle = (
        f"生成日期：{generated_at.isoformat()}　共 {len(problems)} 个共性问题、{n_findings} 条问题表述，"
        "按系统性程度从高到低排列"
        + (f"；仅列至少 {min_bodies} 类监督主体发现的问题" if min_bodies > 1 else "")
        + "。"
        + quotes_note
        + "机器生成，引用请核对原文。"
    )
    _fill_sheet(ws, title or DEFAULT_LIST_TITLE, subtitle, _XLSX_COLUMNS, rows, centre_cols={1, 6, 7, 9})

    detail = wb.create_sheet("问题明细")
    sources = sources or {}
    detail_rows = [
        [
            i,
            p.label,
            body_of(f),
            f.unit,
            f.year,
            re.sub(r"\s+", " ", f.text).strip(),
            f.document,
            f.page,
            f.id,
            (src := sources.get(f.document)) and src.doc_number or "",
            src and src.title or "",
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


def _list_row(i: int, p: CommonProblem, sources: Mapping[str, Source] | None) -> list:
    label = p.label
    if p.keywords:
        label += "\n关键词：" + "、".join(p.keywords)
    if p.note:
        label += "\n备注：" + p.note
    facts = "\n".join(
        f"{n}. {sentence(shorten(f.text))}（{source_of(f, sources)}）" for n, f in enumerate(representatives(p), 1)
    )
    us = units(p.findings)
    unit_text = "、".join(us[:10]) + (f"等 {len(us)} 个单位" if len(us) > 10 else "")
    bodies = "\n".join(
        kind_zh(k)
        + ("：" + "、".join(names) if (names := unique(f.issuer for f in p.findings if f.issuer_kind == k)) else "")
        for k in issuer_kinds(p.findings)
    )
    cited = "\n".join(citations(p.findings))
    if len(cited) > _CELL_MAX:
        cited = cited[:_CELL_MAX].rsplit("\n", 1)[0] + "\n……（其余见“问题明细”）"
    lo, hi = years(p.findings)
    year: int | str | None = lo if lo == hi else year_range(p.findings)  # one year is a number, a range text
    return [i, label, facts, unit_text, bodies, len(p.findings), year, cited, len(documents(p.findings))]


def put(ws, row: int, col: int, value) -> None:
    """Numbers as numbers, None as empty, everything else as a plain string (never a formula)."""
    cell = ws.cell(row=row, column=col)
    if value is None or value == "":
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        cell.value = str(value)
        cell.data_type = "s"  # openpyxl would take a leading '=' as a formula
    else:
        cell.value = value


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

    put(ws, 1, 1, title)
    ws.merge_cells(f"A1:{last_col}1")
    ws["A1"].font = Font(name=SHEET_FONT, size=16, bold=True)
    ws["A1"].alignment = Alignment(horizontal="center", vertical="center")
    ws.row_dimensions[1].height = 30
    put(ws, 2, 1, subtitle)
    ws.merge_cells(f"A2:{last_col}2")
    ws["A2"].font = Font(name=SHEET_FONT, size=9, color="595959")
    ws["A2"].alignment = Alignment(horizontal="left", vertical="center")
    ws.row_dimensions[2].height = 18

    for c, (header, width) in enumerate(columns, 1):
        put(ws, 3, c, header)
        cell = ws.cell(row=3, column=c)
        cell.font = Font(name=SHEET_FONT, size=11, bold=True)
        cell.fill = PatternFill("solid", fgColor="D9E1F2")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.border = border
        ws.column_dimensions[get_column_letter(c)].width = width
    ws.row_dimensions[3].height = 22

    body_font = Font(name=SHEET_FONT, size=10)
    for r, row in enumerate(rows, 4):
        for c, value in enumerate(row, 1):
            put(ws, r, c, value)
            cell = ws.cell(row=r, column=c)
            cell.font = body_font
            cell.alignment = centre if c in centre_cols else wrap
            cell.border = border
        # openpyxl cannot autofit; an estimate keeps wrapped text visible in Excel and print.
        lines = max(_wrapped_lines("" if v is None else str(v), columns[c][1]) for c, v in enumerate(row))
        ws.row_dimensions[r].height = min(409, max(18, 14 * lines + 4))

    ws.freeze_panes = "A4"
    if rows:
        ws.auto_filter.ref = f"A3:{last_col}{3 + len(rows)}"
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
