"""Read report files (PDF, .docx, .txt) into normalised blocks of text.

A document comes out as a list of :class:`Block` (a paragraph, a title, or one table
row) with the page it starts on. The blocks are joined by newlines into the
document's normalised text; every later offset refers to that text.

PDF strategy: pypdfium2 (ships with pdfplumber) gives positioned text runs an
order of magnitude faster than pdfplumber, so it does the reading order, running
headers/footers and line joining. Only pages that carry enough vector paths to
hold a ruled table are handed to pdfplumber, which finds the table cells.
"""

from __future__ import annotations

import hashlib
import re
import statistics
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

SUPPORTED_SUFFIXES = (".pdf", ".docx", ".txt")


class IngestError(Exception):
    """A file that cannot be read; the message is shown to the analyst as is."""


@dataclass
class Block:
    text: str
    page: int = 1
    kind: str = "para"  # para | title | row
    cells: list[str] | None = None


@dataclass
class ParsedDocument:
    """A read document: blocks in reading order plus the joined texts."""

    blocks: list[Block]
    pages: int
    text: str = ""  # normalised: Simplified, half-width letters/digits
    source_text: str = ""  # same as text but in the script as published
    block_starts: list[int] = field(default_factory=list)
    traditional: bool = False
    ocr: bool = False  # text came from OCR of a scan: quotes need checking against the image

    def page_at(self, offset: int) -> int:
        """Page on which the character at ``offset`` lies."""
        lo, hi = 0, len(self.block_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.block_starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return self.blocks[lo].page if self.blocks else 1


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------- normalisation

_CJK = r"\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef"
_SPACE_NEAR_CJK = re.compile(rf"(?<=[{_CJK}])[ \t\u00a0]+|[ \t\u00a0]+(?=[{_CJK}])")
_MULTI_SPACE = re.compile(r"[ \t\u00a0]{2,}")
# Full-width letters and digits (and the few ASCII-like signs used in figures) to
# half-width. Full-width CJK punctuation (，。；：（）) is kept: it is the norm in
# Chinese text and the numbering rules rely on it.
_FULLWIDTH = {cp: unicodedata.normalize("NFKC", chr(cp)) for cp in range(0xFF10, 0xFF1A)}
_FULLWIDTH.update({cp: unicodedata.normalize("NFKC", chr(cp)) for cp in range(0xFF21, 0xFF3B)})
_FULLWIDTH.update({cp: unicodedata.normalize("NFKC", chr(cp)) for cp in range(0xFF41, 0xFF5B)})
_FULLWIDTH.update({0xFF05: "%", 0xFF0E: ".", 0xFF0B: "+", 0xFF1D: "=", 0x00A0: " "})


# ASCII punctuation typed into Chinese text (common on web pages) to the full-width
# marks the sentence and clause rules read; "1,320" and "3.5" between digits stay.
_ASCII_PUNCT_NEAR_CJK = re.compile(r"(?<=[\u3400-\u9fff”」）])[,;:?!]|[,;:?!](?=[\u3400-\u9fff“「（])")
_TO_FULLWIDTH_PUNCT = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！"}


def normalise_line(text: str) -> str:
    """Half-width letters/digits, full-width punctuation in CJK text, no spaces next to CJK characters, trimmed."""
    text = text.translate(_FULLWIDTH).replace("\r", "")
    text = text.replace("\u3000", " ")
    text = _SPACE_NEAR_CJK.sub("", text)
    text = _MULTI_SPACE.sub(" ", text)
    text = _ASCII_PUNCT_NEAR_CJK.sub(lambda m: _TO_FULLWIDTH_PUNCT[m.group(0)], text)
    return text.strip()


_opencc_t2s = None


def _t2s(text: str) -> str:
    global _opencc_t2s
    if _opencc_t2s is None:
        import opencc

        _opencc_t2s = opencc.OpenCC("t2s")
    return _opencc_t2s.convert(text)


def to_simplified(text: str) -> tuple[str, bool]:
    """Convert Traditional text to Simplified; returns (text, was_traditional).

    Simplified text passes through OpenCC nearly unchanged, so we only switch when a
    meaningful share of the CJK characters change: a stray variant character in a
    Simplified report must not flip the document.
    """
    converted = _t2s(text)
    if converted == text:
        return text, False
    cjk = sum(1 for c in text if "\u4e00" <= c <= "\u9fff") or 1
    changed = sum(1 for a, b in zip(text, converted) if a != b)
    if changed / cjk < 0.03 and changed < 20:
        return text, False
    # 「」『』 are the Traditional quotation marks; Simplified text uses “”‘’.
    converted = converted.translate(str.maketrans({"「": "“", "」": "”", "『": "‘", "』": "’"}))
    return converted, True


def finish(blocks: list[Block], pages: int) -> ParsedDocument:
    """Normalise blocks, drop empty ones, and build the joined texts and offsets."""
    clean: list[Block] = []
    for b in blocks:
        if b.cells is not None:
            b.cells = [normalise_line(c.replace("\n", "")) for c in b.cells]
            b.text = "\t".join(b.cells)
        else:
            b.text = normalise_line(b.text)
        if b.text.strip():
            clean.append(b)
    if clean and not any(b.kind == "title" for b in clean[:5]):
        # Plain text and Word files carry no type sizes: a short first line that does
        # not end like a sentence is the title, as in every official document.
        first = clean[0]
        if first.kind == "para" and len(first.text) <= 60 and not first.text.endswith(("。", "；", "：", ":")):
            first.kind = "title"
    source = "\n".join(b.text for b in clean)
    text, traditional = to_simplified(source)
    if traditional and len(text) != len(source):
        # Phrase conversion changed lengths: offsets must follow the normalised text.
        source = text
    doc = ParsedDocument(blocks=clean, pages=pages, text=text, source_text=source, traditional=traditional)
    pos = 0
    for b in clean:
        doc.block_starts.append(pos)
        pos += len(b.text) + 1
    if traditional:
        for b, start in zip(clean, doc.block_starts):
            b.text = text[start : start + len(b.text)]
            if b.cells is not None:
                b.cells = b.text.split("\t")
    return doc


# --------------------------------------------------------------------------- PDF

_PAGE_NUMBER = re.compile(
    r"^(?:[-—–－_\s]*\d+[-—–－_\s]*"
    r"|第\s*\d+\s*页\s*[/，,、]?\s*(?:共\s*\d+\s*页)?"
    r"|共\s*\d+\s*页\s*第\s*\d+\s*页"
    r"|(?:page\s*)?\d+\s*(?:/|of)\s*\d+"
    r"|[-—–]\s*[ivxlcdm]+\s*[-—–])$",
    re.IGNORECASE,
)


@dataclass
class _Line:
    text: str
    x0: float
    x1: float
    top: float  # distance from the top of the page (pdfplumber convention)
    bottom: float
    page: int
    cells: list[str] | None = None
    page_height: float = 842.0
    column: int = 0  # 1: right column of a two-column page, -1: a line across both

    @property
    def height(self) -> float:
        return self.bottom - self.top


def _pdf_open(path: Path):
    import pypdfium2 as pdfium

    data = path.read_bytes()
    if not data:
        raise IngestError("empty file (0 bytes) / 空文件")
    if b"%PDF" not in data[:1024]:
        head = data[:8].decode("latin-1", "replace")
        raise IngestError(f"not a PDF although named .pdf (starts with {head!r}) / 不是 PDF 文件")
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        msg = str(exc)
        if "password" in msg.lower():
            raise IngestError("encrypted PDF, needs a password / PDF 已加密") from exc
        raise IngestError(f"damaged or truncated PDF ({msg}) / PDF 文件损坏或不完整") from exc


def _page_chars(page, height: float) -> list[tuple[str, float, float, float, float]]:
    """(char, left, top, right, bottom) in content order; "\n" marks pdfium's line breaks."""
    tp = page.get_textpage()
    n = tp.count_chars()
    text = tp.get_text_range(0, n) if n else ""
    chars: list[tuple[str, float, float, float, float]] = []
    for i, ch in enumerate(text[:n]):
        if ch == "\r":
            continue
        if ch == "\n" or ch.isspace():
            chars.append((ch if ch == "\n" else " ", 0.0, 0.0, 0.0, 0.0))
            continue
        left, bottom, right, top = tp.get_charbox(i, loose=True)
        chars.append((ch, left, height - top, right, height - bottom))
    tp.close()
    return chars


def _page_lines(chars, page_no: int, height: float) -> list[_Line]:
    """Visual lines of a page, top to bottom, from pdfium's characters.

    pdfium gives characters in content order with generated line breaks; we cut
    lines there (or where a character jumps vertically), then order lines by
    position and merge pieces that share a baseline.
    """
    pieces: list[list] = []  # [top, bottom, x0, x1, chars]
    cur: list | None = None
    for ch, left, t, right, b in chars:
        if ch == "\n":
            cur = None
            continue
        if ch == " ":
            if cur is not None:
                cur[4].append(" ")
            continue
        if cur is not None:
            h = max(cur[1] - cur[0], b - t, 1.0)
            # A new piece where the baseline moves, the text jumps back left, or it jumps
            # right over a gap no run of CJK text has: a second column on the same baseline
            # (content order may alternate between the columns' runs).
            if abs((t + b) / 2 - (cur[0] + cur[1]) / 2) > 0.6 * h or left < cur[3] - 2 * h or left > cur[3] + 1.5 * h:
                cur = None
        if cur is None:
            cur = [t, b, left, right, []]
            pieces.append(cur)
        cur[0], cur[1] = min(cur[0], t), max(cur[1], b)
        cur[2], cur[3] = min(cur[2], left), max(cur[3], right)
        cur[4].append(ch)
    gutter = _find_gutter(pieces)
    if gutter is None:
        return _merge_baselines(pieces, page_no, height)
    # Two columns: read each band between full-width lines left column first, then right.
    out: list[_Line] = []
    left: list[list] = []
    right: list[list] = []
    for p in sorted(pieces, key=lambda p: (p[0] + p[1]) / 2):
        if p[2] < gutter - 2 and p[3] > gutter + 2:
            out += _merge_baselines(left, page_no, height) + _in_column(_merge_baselines(right, page_no, height))
            left, right = [], []
            out += _in_column(_merge_baselines([p], page_no, height), -1)  # spans both columns
        elif p[3] <= gutter + 2:
            left.append(p)
        else:
            right.append(p)
    out += _merge_baselines(left, page_no, height) + _in_column(_merge_baselines(right, page_no, height))
    return out


def _in_column(lines: list[_Line], column: int = 1) -> list[_Line]:
    """Mark lines as right column (1) or spanning both (-1); margins are taken per column."""
    for ln in lines:
        ln.column = column
    return lines


def _find_gutter(pieces: list[list]) -> float | None:
    """x of the empty band between two text columns, or None for a one-column page.

    A gutter is crossed by (almost) no line while both sides hold many lines that
    stand next to each other, which single-column pages (full-width lines, short
    last lines on the left) never show.
    """
    if len(pieces) < 12:
        return None
    x_min = min(p[2] for p in pieces)
    x_max = max(p[3] for p in pieces)
    width = x_max - x_min
    best, best_n = None, 0
    for step in range(30, 71, 2):
        g = x_min + width * step / 100
        crossing = sum(1 for p in pieces if p[2] < g - 2 and p[3] > g + 2)
        lft = [p for p in pieces if p[3] <= g + 2]
        rgt = [p for p in pieces if p[2] >= g - 2]
        n = min(len(lft), len(rgt))
        if crossing > 0.2 * len(pieces) or n < 5:
            continue
        # the right column's lines must sit beside left column lines, not below them
        tops = sorted((p[0], p[1]) for p in lft)
        beside = sum(1 for p in rgt if any(t <= (p[0] + p[1]) / 2 <= b for t, b in tops))
        if beside >= 0.5 * len(rgt) and n > best_n:
            best, best_n = g, n
    return best


def _merge_baselines(pieces: list[list], page_no: int, height: float) -> list[_Line]:
    """Pieces that share a baseline become one line, left to right; lines top to bottom."""
    pieces = sorted(pieces, key=lambda p: (p[0] + p[1]) / 2)
    merged: list[list] = []
    for p in pieces:
        mid = (p[0] + p[1]) / 2
        if merged and merged[-1][0] <= mid <= merged[-1][1]:
            merged[-1][2].append(p)
            merged[-1][0], merged[-1][1] = min(merged[-1][0], p[0]), max(merged[-1][1], p[1])
        else:
            merged.append([p[0], p[1], [p]])
    out = []
    for top, bottom, parts in merged:
        parts.sort(key=lambda p: p[2])
        line_text = " ".join("".join(p[4]).strip() for p in parts)
        out.append(_Line(line_text, parts[0][2], max(p[3] for p in parts), top, bottom, page_no, None, height))
    return out


def _ruling_lines(page, height: float) -> tuple[list[tuple], list[tuple]]:
    """Horizontal (y, x0, x1) and vertical (x, top, bottom) rules drawn on a page."""
    import pypdfium2.raw as pdfium_c

    hs, vs = [], []
    for obj in page.get_objects(max_depth=2):
        if obj.type != pdfium_c.FPDF_PAGEOBJ_PATH:
            continue
        left, bottom, right, top = obj.get_bounds()
        t, b = height - top, height - bottom
        w, h = right - left, b - t
        if h <= 2.5 and w >= 15:
            hs.append(((t + b) / 2, left, right))
        elif w <= 2.5 and h >= 8:
            vs.append(((left + right) / 2, t, b))
        elif w > 2.5 and h > 2.5:  # a cell drawn as a rectangle: its four edges
            hs += [(t, left, right), (b, left, right)]
            vs += [(left, t, b), (right, t, b)]
    return hs, vs


def _dedupe(values: list[float], tol: float = 2.0) -> list[float]:
    out: list[float] = []
    for v in sorted(values):
        if not out or v - out[-1] > tol:
            out.append(v)
    return out


def _grid_tables(
    chars, hs: list[tuple], vs: list[tuple], page_no: int, height: float
) -> tuple[list[_Line], list[tuple]]:
    """Ruled tables read from the page's own rules: one row line per grid row.

    Tables whose rules form a grid (every cell boxed) are common in reports made
    with Word or WPS. We group rules that touch into tables, cut the grid at the
    distinct rule positions and put each character into the cell its centre falls in.
    """
    tables: list[list] = []  # [x0, top, x1, bottom, hs, vs]
    for v in vs:
        for tb in tables:
            if v[1] <= tb[3] + 3 and v[2] >= tb[1] - 3:  # vertical rules of one table overlap
                tb[0], tb[1], tb[2], tb[3] = min(tb[0], v[0]), min(tb[1], v[1]), max(tb[2], v[0]), max(tb[3], v[2])
                tb[5].append(v)
                break
        else:
            tables.append([v[0], v[1], v[0], v[2], [], [v]])
    rows_out: list[_Line] = []
    boxes = []
    for tb in tables:
        tb[4] = [h for h in hs if tb[1] - 3 <= h[0] <= tb[3] + 3 and h[1] <= tb[2] + 3 and h[2] >= tb[0] - 3]
        xs = _dedupe([v[0] for v in tb[5]])
        ys = _dedupe([h[0] for h in tb[4]])
        if len(xs) < 3 or len(ys) < 3:
            continue  # fewer than two columns or rows: a frame, not a table
        x0, x1, y0, y1 = xs[0], xs[-1], ys[0], ys[-1]
        cells: dict[tuple[int, int], list] = {}
        import bisect

        for ch, left, t, right, b in chars:
            if ch in " \n":
                continue
            cx, cy = (left + right) / 2, (t + b) / 2
            if x0 <= cx <= x1 and y0 <= cy <= y1:
                r = bisect.bisect(ys, cy) - 1
                c = bisect.bisect(xs, cx) - 1
                cells.setdefault((r, c), []).append((round(cy / max(b - t, 1.0)), left, ch))
        for r in range(len(ys) - 1):
            texts = []
            for c in range(len(xs) - 1):
                parts = cells.get((r, c), [])  # content order is reading order within a cell
                texts.append("".join(p[2] for p in parts))
            if any(texts):
                rows_out.append(_Line("\t".join(texts), x0, x1, ys[r], ys[r + 1], page_no, texts, height))
        boxes.append((x0, y0, x1, y1))
    return rows_out, boxes


def _table_lines(path: Path, page_index: int, page_no: int) -> tuple[list[_Line], list[tuple]]:
    """Tables of one page as row lines (cells joined by tabs) and their boxes."""
    import pdfplumber

    rows: list[_Line] = []
    boxes = []
    with pdfplumber.open(path, pages=[page_index + 1]) as pdf:
        page = pdf.pages[0]
        for table in page.find_tables():
            x0, top, x1, bottom = table.bbox
            data = table.extract()
            if len(data) < 2 or max(len(r) for r in data) < 2:
                continue
            boxes.append(table.bbox)
            for row, cells in zip(table.rows, data):
                cells = [c or "" for c in cells]
                _, rtop, _, rbottom = row.bbox
                rows.append(_Line("\t".join(cells), x0, x1, rtop, rbottom, page_no, cells=cells))
    return rows, boxes


def _is_table_page(page, threshold: int) -> bool:
    import pypdfium2.raw as pdfium_c

    paths = 0
    for obj in page.get_objects(max_depth=1):
        if obj.type == pdfium_c.FPDF_PAGEOBJ_PATH:
            paths += 1
            if paths >= threshold:
                return True
    return False


def _margin_key(text: str) -> str:
    return re.sub(r"\d+", "#", re.sub(r"\s+", "", text))


def _drop_running_lines(pages: list[list[_Line]]) -> list[list[_Line]]:
    """Remove running headers/footers and page numbers.

    A line in the top or bottom two lines of a page is dropped when it is a page
    number, or when the same text (digits ignored) sits in the margin of at least
    half the pages of a multi-page document, or when it is set in smaller type in
    the outer tenth of the page (a site name or running title on a one-page print).
    """
    n = len(pages)
    heights = [ln.height for lines in pages for ln in lines if ln.cells is None and len(ln.text) >= 8]
    body_h = statistics.median(heights) if heights else 0.0
    counts: Counter[str] = Counter()
    for lines in pages:
        seen = {_margin_key(ln.text) for ln in lines[:2] + lines[-2:] if ln.cells is None}
        counts.update(seen)
    out = []
    for lines in pages:
        edge = {id(ln) for ln in lines[:2] + lines[-2:]}
        kept = []
        for ln in lines:
            if id(ln) in edge and ln.cells is None:
                compact = re.sub(r"\s+", "", ln.text)
                if _PAGE_NUMBER.match(ln.text.strip()) or _PAGE_NUMBER.match(compact):
                    continue
                if n >= 2 and counts[_margin_key(ln.text)] >= max(2, (n + 1) // 2):
                    continue
                outer = ln.top < 0.1 * ln.page_height or ln.bottom > 0.9 * ln.page_height
                if outer and ln.height < 0.85 * body_h:
                    continue
            kept.append(ln)
        out.append(kept)
    return out


_ITEM_START = re.compile(r"^(?:[一二三四五六七八九十]+、|（[一二三四五六七八九十]+）|\(\d+\)|（\d+）|\d+[.．、]|[①-⑳])")
_SENTENCE_END = tuple("。；：！？”」")
_PARAGRAPH_END = tuple("。；：:！？!?")


def _lines_to_blocks(lines: list[_Line]) -> list[Block]:
    """Join visual lines into paragraphs using indentation and line length."""
    body = [ln for ln in lines if ln.cells is None and len(ln.text) >= 4]
    if not body:
        return [Block(ln.text, ln.page, "row" if ln.cells else "para", ln.cells) for ln in lines]
    # The text block's left edge: a low percentile, since in documents of short
    # paragraphs the indented first lines can be half of all lines.
    char_h = statistics.median(ln.height for ln in body) or 10.0
    margins: dict[int, tuple[float, float]] = {}
    for col in {ln.column for ln in body}:
        col_lines = [ln for ln in body if ln.column == col]
        xs = sorted(round(ln.x0) for ln in col_lines)
        col_right = max(round(ln.x1) for ln in col_lines)
        wide = [ln for ln in col_lines if ln.x1 >= col_right - 2 * char_h]
        if wide:
            col_right = statistics.median(round(ln.x1) for ln in wide)
        margins[col] = (xs[len(xs) // 10], col_right)
    blocks: list[Block] = []
    prev: _Line | None = None
    for ln in lines:
        if ln.cells is not None:
            blocks.append(Block(ln.text, ln.page, "row", ln.cells))
            prev = None
            continue
        text = ln.text.strip()
        left, right = margins.get(ln.column, margins.get(0, next(iter(margins.values()))))
        big = ln.height > 1.25 * char_h
        shortfall = margins.get(prev.column, (left, right))[1] - prev.x1 if prev is not None else 0.0
        # Chinese line breaking (避头尾) pulls a character onto the next line before an
        # opening quote or a closing mark, so a line inside a sentence can end up to a
        # few characters short: only a shorter line, or one ending a sentence, ends a paragraph.
        short = shortfall > 1.5 * char_h and (
            shortfall > 3.5 * char_h or prev is None or prev.text.rstrip().endswith(_PARAGRAPH_END)
        )
        new = (
            prev is None
            or ln.x0 > left + 0.8 * char_h  # indented first line / centred line
            or short  # previous line stopped short
            or (big != (prev.height > 1.25 * char_h))
            or (_ITEM_START.match(text) is not None and prev.text.rstrip().endswith(_SENTENCE_END))
        )
        if big and prev is not None and prev.height > 1.25 * char_h and abs(ln.height - prev.height) < 0.2 * char_h:
            new = False  # a wrapped title
        if new:
            blocks.append(Block(text, ln.page, "title" if big else "para"))
        else:
            last = blocks[-1]
            # Latin words wrapped at a line end need their space back; digits of a
            # figure split over two lines ("126" / "0.50万元") do not.
            joiner = " " if re.match(r"[A-Za-z]", text[:1]) and re.search(r"[A-Za-z][,.;:]?$", last.text) else ""
            last.text += joiner + text
        prev = ln
    return blocks


def ocr_available() -> bool:
    """Tesseract with its Simplified Chinese model is installed (apt tesseract-ocr-chi-sim)."""
    global _ocr_ok
    if _ocr_ok is None:
        import shutil
        import subprocess

        _ocr_ok = False
        if shutil.which("tesseract"):
            langs = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, timeout=30)
            _ocr_ok = "chi_sim" in (langs.stdout + langs.stderr).split()
    return _ocr_ok


_ocr_ok: bool | None = None


def _ocr_page(page, page_no: int, height: float, dpi: int = 300) -> list[_Line]:
    """Lines of a scanned page from Tesseract's word boxes (TSV), in PDF points."""
    import subprocess

    scale = dpi / 72
    image = page.render(scale=scale, grayscale=True).to_pil()
    import io

    buf = io.BytesIO()
    image.save(buf, format="PNG")
    proc = subprocess.run(
        ["tesseract", "stdin", "stdout", "-l", "chi_sim", "--dpi", str(dpi), "tsv"],
        input=buf.getvalue(),
        capture_output=True,
        timeout=300,
    )
    if proc.returncode != 0:
        raise IngestError(f"OCR failed: {proc.stderr.decode('utf-8', 'replace')[-200:]} / OCR 识别失败")
    words: dict[tuple, list] = {}
    for row in proc.stdout.decode("utf-8", "replace").splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or not cols[11].strip() or cols[0] != "5":
            continue
        key = (int(cols[2]), int(cols[3]), int(cols[4]))
        left, top, width, h = (int(c) / scale for c in cols[6:10])
        words.setdefault(key, []).append((left, top, left + width, top + h, cols[11]))
    lines = []
    for parts in words.values():
        parts.sort()
        text = "".join(p[4] for p in parts)
        top = min(p[1] for p in parts)
        bottom = max(p[3] for p in parts)
        lines.append(_Line(text, parts[0][0], max(p[2] for p in parts), top, bottom, page_no, None, height))
    return sorted(lines, key=lambda ln: ln.top)


def read_pdf(
    path: Path, table_path_objects: int = 6, ocr: str = "auto", limits: Limits | None = None
) -> ParsedDocument:
    """Read a PDF; scanned pages go through OCR when Tesseract is installed (``ocr="auto"``).

    Raises IngestError for encrypted or broken files, and for scans when OCR is off or absent.
    """
    limits = limits or Limits()
    pdf = _pdf_open(path)
    ocr_used = False
    try:
        n_pages = len(pdf)
        if n_pages == 0:
            raise IngestError("PDF has no pages / PDF 没有页面")
        if n_pages > limits.max_pdf_pages:
            raise IngestError(
                f"PDF has {n_pages} pages, more than the limit of {limits.max_pdf_pages} (MINER_MAX_PDF_PAGES) / "
                "PDF 页数超过上限"
            )
        pages: list[list[_Line]] = []
        images = 0
        for i in range(n_pages):
            page = pdf[i]
            height = page.get_height()
            chars = _page_chars(page, height)
            lines = _page_lines(chars, i + 1, height)
            if not lines:
                import pypdfium2.raw as pdfium_c

                n_images = sum(1 for o in page.get_objects(max_depth=1) if o.type == pdfium_c.FPDF_PAGEOBJ_IMAGE)
                images += n_images
                if n_images and ocr == "auto" and ocr_available():
                    lines = _ocr_page(page, i + 1, height)
                    ocr_used = ocr_used or bool(lines)
            if lines and not ocr_used and _is_table_page(page, table_path_objects):
                hs, vs = _ruling_lines(page, height)
                rows, boxes = _grid_tables(chars, hs, vs, i + 1, height)
                if not rows and len(hs) >= 3:
                    # Rules that do not form a grid (e.g. three-line tables): pdfplumber's finder.
                    rows, boxes = _table_lines(path, i, i + 1)
                if rows:
                    lines = sorted([ln for ln in lines if not _inside(ln, boxes)] + rows, key=lambda ln: ln.top)
            page.close()
            pages.append(lines)
    finally:
        pdf.close()
    if not any(pages):
        if images and ocr == "auto" and ocr_available():
            raise IngestError("scanned PDF: OCR found no text / 扫描件经 OCR 未识别出文字")
        if images:
            raise IngestError(
                "scanned PDF without a text layer, needs OCR (install tesseract-ocr-chi-sim) / "
                "扫描件没有文字层，需要先做 OCR"
            )
        if _pdf_truncated(path):
            raise IngestError("damaged PDF: truncated, no readable text / PDF 文件损坏或不完整，没有可读文字")
        raise IngestError("PDF contains no text / PDF 中没有文字")
    pages = _drop_running_lines(pages)
    pages = _drop_repeated_table_headers(pages)
    blocks = _lines_to_blocks([ln for lines in pages for ln in lines])
    doc = finish(blocks, n_pages)
    doc.ocr = ocr_used
    return doc


def _inside(ln: _Line, boxes: list[tuple]) -> bool:
    """The line lies in one of the table boxes (x0, top, x1, bottom)."""
    mid = (ln.top + ln.bottom) / 2
    return any(b[1] - 1 <= mid <= b[3] + 1 and b[0] - 1 <= ln.x0 <= b[2] + 1 for b in boxes)


def _drop_repeated_table_headers(pages: list[list[_Line]]) -> list[list[_Line]]:
    """A table header row repeated at the top of a continuation page is dropped."""
    seen_headers: set[str] = set()
    out = []
    for lines in pages:
        kept = []
        for idx, ln in enumerate(lines):
            if ln.cells is not None:
                first_row = idx == 0 or lines[idx - 1].cells is None
                key = _margin_key(ln.text)
                if first_row and key in seen_headers:
                    continue
                if first_row:
                    seen_headers.add(key)
            kept.append(ln)
        out.append(kept)
    return out


# --------------------------------------------------------------------------- DOCX


def read_docx(path: Path, limits: Limits | None = None) -> ParsedDocument:
    """Paragraphs and tables in body order; pages counted from Word's page breaks."""
    import zipfile

    import docx
    from docx.oxml.ns import qn

    if path.stat().st_size == 0:
        raise IngestError("empty file (0 bytes) / 空文件")
    _check_zip(path, limits or Limits())
    try:
        document = docx.Document(str(path))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise IngestError(f"not a readable .docx file ({exc}) / 无法读取的 .docx 文件") from exc
    except (AttributeError, TypeError, LookupError, SyntaxError) as exc:  # a zip that is not a Word document
        raise IngestError(f"not a Word document although named .docx ({type(exc).__name__}) / 不是 Word 文档") from exc
    blocks: list[Block] = []
    page = 1
    for el in document.element.body.iterchildren():
        if el.tag == qn("w:p"):
            breaks = len(el.findall(".//" + qn("w:lastRenderedPageBreak")))
            breaks += sum(1 for br in el.iter(qn("w:br")) if br.get(qn("w:type")) == "page")
            text = "".join(t.text or "" for t in el.iter(qn("w:t")))
            page += breaks if not text.strip() else 0
            if text.strip():
                blocks.append(Block(text, page))
                page += breaks
        elif el.tag == qn("w:tbl"):
            for tr in el.iter(qn("w:tr")):
                cells = []
                for tc in tr.iterchildren(qn("w:tc")):
                    cells.append("".join(t.text or "" for t in tc.iter(qn("w:t"))))
                if any(c.strip() for c in cells):
                    blocks.append(Block("\t".join(cells), page, "row", cells))
    if not blocks:
        raise IngestError("document contains no text / 文档中没有文字")
    return finish(blocks, page)


# --------------------------------------------------------------------------- TXT


def read_txt(path: Path, limits: Limits | None = None) -> ParsedDocument:
    """Text in any common Chinese encoding (detected); form feeds mark page breaks."""
    limits = limits or Limits()
    if path.stat().st_size > limits.max_document_chars * 4:
        raise IngestError(
            f"text file of {path.stat().st_size / 1e6:.1f} MB is longer than the limit of "
            f"{limits.max_document_chars} characters (MINER_MAX_DOCUMENT_CHARS) / 文本超过长度上限"
        )
    data = path.read_bytes()
    if not data.strip():
        raise IngestError("empty file / 空文件")
    raw = decode_text(data)
    _check_chars(len(raw), limits)
    blocks: list[Block] = []
    for page_no, page_text in enumerate(raw.split("\f"), start=1):
        for line in page_text.splitlines():
            if not line.strip():
                continue
            if "\t" in line.strip():
                cells = line.strip().split("\t")
                blocks.append(Block(line, page_no, "row", cells))
            else:
                blocks.append(Block(line, page_no))
    return finish(blocks, raw.count("\f") + 1)


def read_document(
    path: Path, table_path_objects: int = 6, ocr: str = "auto", limits: Limits | None = None
) -> ParsedDocument:
    """Dispatch on the file suffix; unknown suffixes and files over the limits are an IngestError."""
    limits = limits or Limits()
    suffix = path.suffix.lower()
    size = path.stat().st_size
    if size > limits.max_file_mb * 1024 * 1024:
        raise IngestError(
            f"file of {size / 1e6:.0f} MB is larger than the limit of {limits.max_file_mb} MB (MINER_MAX_FILE_MB) / "
            "文件超过大小上限"
        )
    if suffix == ".pdf":
        doc = read_pdf(path, table_path_objects, ocr, limits)
    elif suffix == ".docx":
        doc = read_docx(path, limits)
    elif suffix == ".txt":
        doc = read_txt(path, limits)
    else:
        raise IngestError(f"unsupported file type {suffix or '(none)'}; miner reads .pdf, .docx and .txt")
    _check_chars(len(doc.text), limits)
    return doc


# --------------------------------------------------------------------------- limits and encodings


@dataclass(frozen=True)
class Limits:
    """Bounds per file (defaults match :class:`miner.config.Settings`), checked before the expensive work."""

    max_file_mb: int = 200
    max_pdf_pages: int = 3000
    max_document_chars: int = 3_000_000
    max_docx_unzipped_mb: int = 300
    max_docx_members: int = 5000

    @classmethod
    def from_settings(cls, settings) -> Limits:
        return cls(**{f: getattr(settings, f) for f in cls.__dataclass_fields__})


def _check_chars(n: int, limits: Limits) -> None:
    if n > limits.max_document_chars:
        raise IngestError(
            f"document has {n} characters, more than the limit of {limits.max_document_chars} "
            "(MINER_MAX_DOCUMENT_CHARS) / 文档字数超过上限"
        )


def _check_zip(path: Path, limits: Limits) -> None:
    """Refuse zip bombs from the central directory's declared sizes, before anything is inflated.

    zipfile never inflates a member beyond its declared size, so bounding the declared sizes
    bounds the memory python-docx can need.
    """
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise IngestError(f"not a readable .docx file ({exc}) / 无法读取的 .docx 文件") from exc
    if len(members) > limits.max_docx_members:
        raise IngestError(f".docx holds {len(members)} parts, more than {limits.max_docx_members} / .docx 文件结构异常")
    total = sum(m.file_size for m in members)
    if total > limits.max_docx_unzipped_mb * 1024 * 1024:
        raise IngestError(
            f".docx unpacks to {total / 1e6:.0f} MB, more than the limit of {limits.max_docx_unzipped_mb} MB "
            "(MINER_MAX_DOCX_UNZIPPED_MB; a zip bomb?) / .docx 解压后超过大小上限"
        )


def _pdf_truncated(path: Path) -> bool:
    """No ``%%EOF`` near the end: the file was cut off (pdfium silently repairs what it can)."""
    with path.open("rb") as fh:
        fh.seek(max(0, path.stat().st_size - 2048))
        return b"%%EOF" not in fh.read()


_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_KANA_HANGUL = re.compile(r"[\u3040-\u30ff\uac00-\ud7af]")
_UTF7_RUN = re.compile(rb"\+[A-Za-z0-9+/]{2,}-")


def decode_text(data: bytes) -> str:
    """Decode a text report, detecting its encoding; an IngestError when unsure.

    UTF-8 (with or without BOM) is taken as is when it decodes and carries Chinese; anything
    else goes to charset-normalizer (GB18030/GBK, Big5, UTF-16, HZ …). GB18030 decodes almost
    any byte string, so it is never tried blindly. The result must read as Chinese: Japanese,
    Korean, or an encoding nobody can tell apart is refused with the best guess named.
    """
    import charset_normalizer

    text = None
    if data.startswith(b"\xef\xbb\xbf"):
        text, name = data[3:].decode("utf-8", "replace"), "utf-8"
    else:
        try:
            candidate = data.decode("utf-8")
        except UnicodeDecodeError:
            candidate = None
        # Pure 7-bit text may be HZ, UTF-7 or ISO-2022: those go to the detector.
        if candidate is not None and not candidate.isascii():
            text, name = candidate, "utf-8"
    if text is None:
        best = charset_normalizer.from_bytes(data).best()
        if best is None or best.chaos > 0.2:
            raise IngestError(
                "cannot tell the text encoding; save the file as UTF-8 / 无法识别文本编码，请另存为 UTF-8"
            )
        name = best.encoding
        text = str(best)
        if name == "ascii" and _UTF7_RUN.search(data):
            try:
                text, name = data.decode("utf-7"), "utf-7"
            except UnicodeDecodeError:
                pass
    sample = text[:200_000]
    han = len(_HAN.findall(sample))
    if len(_KANA_HANGUL.findall(sample)) > max(20, han // 4):
        raise IngestError(f"text is not Chinese (read as {name}: Japanese or Korean) / 文本不是中文")
    if han < 10 or han < 0.05 * len(sample.strip()):
        raise IngestError(
            f"no Chinese text found (read as {name}); check the file's encoding, or save it as UTF-8 / "
            "文本中没有中文，请检查编码"
        )
    return text.replace("\r\n", "\n")
