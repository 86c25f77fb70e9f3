"""The source of a finding: its page rendered with the finding highlighted, or its text in context.

PDF pages are rendered server side with pypdfium2 (the page never needs a PDF
viewer in the browser, and the original stays on the server unless downloaded);
the finding is located on the page through pdfium's own text layer and its
character boxes are painted over the image. The catalogue's offsets are into
the *normalised* document text, not the PDF's character stream, so the finding
is found on the page by its text (NFKC, whitespace ignored): by the whole
statement, else by its first and last characters.
"""

from __future__ import annotations

import io
import threading
import unicodedata
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image, ImageDraw

_PDFIUM = threading.Lock()  # pdfium is not thread-safe: one page at a time per process
CONTEXT_CHARS = 400
ANCHOR = 12


def text_context(source_text: str, start: int, end: int, chars: int = CONTEXT_CHARS) -> dict:
    """The finding with the text around it, for .docx/.txt (and as a fallback for PDFs)."""
    a, b = max(0, start - chars), min(len(source_text), end + chars)
    return {
        "before": ("…" if a else "") + source_text[a:start],
        "match": source_text[start:end],
        "after": source_text[end:b] + ("…" if b < len(source_text) else ""),
    }


def _compact(chars: list[str]) -> tuple[str, list[int]]:
    """Page characters without whitespace (NFKC), with the pdfium index of each."""
    out, where = [], []
    for i, c in enumerate(chars):
        for n in unicodedata.normalize("NFKC", c):
            if not n.isspace():
                out.append(n)
                where.append(i)
    return "".join(out), where


def locate(chars: list[str], needle: str) -> tuple[int, int] | None:
    """pdfium char range [first, last] of ``needle`` on a page, or None when it is not there."""
    hay, where = _compact(chars)
    want = "".join(c for c in unicodedata.normalize("NFKC", needle) if not c.isspace())
    if not want or not hay:
        return None
    at = hay.find(want)
    if at >= 0:
        return where[at], where[at + len(want) - 1]
    head = next((at for n in (ANCHOR, 8, 6) if (at := hay.find(want[:n])) >= 0), -1)
    if head < 0:
        return None
    tail = hay.find(want[-ANCHOR:], head)
    last = tail + min(ANCHOR, len(want)) - 1 if tail >= 0 else len(hay) - 1  # runs on to the next page
    return where[head], where[last]


def render_page(path: Path, page_no: int, needle: str, scale: float = 1.6) -> tuple[bytes, bool]:
    """PNG of page ``page_no`` (1-based) with ``needle`` highlighted; also whether it was found."""
    with _PDFIUM:
        pdf = pdfium.PdfDocument(str(path))
        try:
            page = pdf[max(0, min(page_no, len(pdf)) - 1)]
            height = page.get_height()
            tp = page.get_textpage()
            chars = [chr(pdfium_c.FPDFText_GetUnicode(tp.raw, i) or 32) for i in range(tp.count_chars())]
            span = locate(chars, needle)
            boxes = [tp.get_charbox(i) for i in range(span[0], span[1] + 1)] if span else []
            image = page.render(scale=scale).to_pil().convert("RGBA")
        finally:
            pdf.close()
    if boxes:
        overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(overlay)
        for left, bottom, right, top in boxes:
            if right > left and top > bottom:
                draw.rectangle(
                    [left * scale - 1, (height - top) * scale - 1, right * scale + 1, (height - bottom) * scale + 1],
                    fill=(255, 214, 0, 110),
                )
        image = Image.alpha_composite(image, overlay)
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG", optimize=True)
    return buf.getvalue(), bool(boxes)
