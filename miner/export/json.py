"""The common-problem list as JSON for other tools: problems with their findings and citations."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from miner.export.common import Source, span_of
from miner.records import CommonProblem

_FIELDS = ("id", "document", "page", "text", "unit", "issuer_kind", "issuer", "year")


def write_json(
    problems: list[CommonProblem],
    out: Path,
    *,
    sources: Mapping[str, Source] | None = None,
) -> None:
    """A list of problems; each finding adds its report's title and 文号 when the catalogue knows them."""
    sources = sources or {}

    def finding(f) -> dict:
        row = {k: getattr(f, k) for k in _FIELDS}
        src = sources.get(f.document)
        row["doc_title"] = src.title if src else ""
        row["doc_number"] = src.doc_number if src else ""
        return row

    data = [
        {
            "id": p.id,
            "label": p.label,
            "keywords": list(p.keywords),
            "score": p.score,
            "span": span_of(p),
            "note": p.note,
            "findings": [finding(f) for f in p.findings],
            "recurrences": list(p.recurrences),
        }
        for p in problems
    ]
    out.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
