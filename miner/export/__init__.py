"""Export common problems as a list (xlsx), a briefing draft (docx), markdown or JSON.

Analysts use these files as the start of a joint briefing, so every statement carries
its source (document and page) and the docx follows official-document (公文) layout.
One module per format; :mod:`miner.export.common` holds the facts they share.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path

from miner.export.common import (
    DEFAULT_BRIEF_TITLE,
    DEFAULT_LIST_TITLE,
    DEFAULT_NAMES,
    FORMATS,
    MACHINE_NOTE,
    PLACEHOLDER,
    QUOTES,
    BriefingOptions,
    Source,
    apply_quotes,
    citations,
    clean,
    default_filename,
    issuer_kinds,
    normalise_format,
    quotes_note,
    representatives,
    select,
    shorten,
    span_of,
    year_range,
    zh_number,
)
from miner.records import CommonProblem

__all__ = [
    "DEFAULT_BRIEF_TITLE",
    "DEFAULT_LIST_TITLE",
    "DEFAULT_NAMES",
    "FORMATS",
    "MACHINE_NOTE",
    "PLACEHOLDER",
    "QUOTES",
    "BriefingOptions",
    "Source",
    "citations",
    "clean",
    "briefing_defaults",
    "default_filename",
    "export",
    "issuer_kinds",
    "representatives",
    "select",
    "shorten",
    "sources_from",
    "span_of",
    "year_range",
    "zh_number",
]


def export(
    problems: list[CommonProblem],
    fmt: str,
    out: Path,
    *,
    title: str | None = None,
    min_bodies: int = 1,
    generated_at: date | None = None,
    top_n: int | None = None,
    sources: Mapping[str, Source] | None = None,
    briefing: BriefingOptions | None = None,
    quotes: str | None = None,
) -> Path:
    """Write `problems` in `fmt` to `out` (a file, or a directory to get a default name).

    Problems found by fewer than `min_bodies` distinct issuer kinds are left out; the rest
    are ordered by score, highest first, and cut to `top_n` (else `briefing.top_n`).
    `sources` (file name → :class:`Source`, see :func:`sources_from`) lets citations name
    reports by title and 文号. `quotes` ("simplified" | "published", else `briefing.quotes`,
    else the ``MINER_EXPORT_QUOTES`` setting) decides how Traditional-published quotes read.
    Returns the path written.
    """
    fmt = normalise_format(fmt)
    out = Path(out)
    if out.is_dir():
        out = out / default_filename(fmt)
    out.parent.mkdir(parents=True, exist_ok=True)
    opts = briefing or briefing_defaults()
    if top_n is None:
        top_n = opts.top_n
    quotes = quotes or opts.quotes
    eligible = select(problems, min_bodies=min_bodies)
    selected, traditional = apply_quotes(select(eligible, top_n=top_n), quotes, sources)
    note = quotes_note(quotes, traditional, sources)
    today = generated_at or date.today()
    common = {"title": title, "min_bodies": min_bodies, "generated_at": today}
    if fmt == "xlsx":
        from miner.export.xlsx import write_xlsx

        write_xlsx(selected, out, sources=sources, quotes_note=note, **common)
    elif fmt == "docx":
        from miner.export.docx import write_docx

        write_docx(selected, out, sources=sources, options=opts, total=len(eligible), quotes_note=note, **common)
    elif fmt == "md":
        from miner.export.markdown import write_md

        write_md(selected, out, quotes_note=note, **common)
    else:
        from miner.export.json import write_json

        write_json(selected, out, sources=sources)
    return out


def sources_from(documents: list[dict]) -> dict[str, Source]:
    """File name → :class:`Source` from catalogue rows (``Catalogue.documents()``)."""
    return {
        d["name"]: Source(
            name=d["name"],
            title=d.get("title") or "",
            doc_number=d.get("doc_number") or "",
            traditional=bool(d.get("traditional")),
        )
        for d in documents
    }


def briefing_defaults(**overrides) -> BriefingOptions:
    """Briefing options from the settings (``MINER_BRIEF_*``, ``MINER_EXPORT_QUOTES``), then `overrides`.

    Overrides that are None are ignored, so a CLI can pass its options straight through.
    """
    from miner.config import get_settings

    s = get_settings()
    opts = BriefingOptions(
        masthead=s.brief_masthead, issuer=s.brief_issuer, to=s.brief_to, cc=s.brief_cc, quotes=s.export_quotes
    )
    for key, value in overrides.items():
        if value is not None:
            setattr(opts, key, value)
    return opts
