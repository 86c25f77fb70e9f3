"""Filters over findings as numpy columns: the filter language of search and of common problems.

Kept apart from :mod:`miner.search` (bm25s, scipy, faiss) so that a filtered read of common
problems (``miner clusters --year 2023``) stays a light command.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from miner.vectors import FILTER_FIELDS

if TYPE_CHECKING:
    from miner.records import Finding


class FilterColumns:
    """Per-field metadata columns over the keyword rows, for fast boolean masks.

    Text fields are stored as integer codes (-1 = missing) so a filter costs one vectorised
    comparison, not a Python loop over every finding. Understands the filter language of
    :func:`miner.vectors.build_where`: a value, a list of values (any of), or an operator dict
    ($eq $ne $in $nin, and $gt $gte $lt $lte for year).
    """

    def __init__(self, ids: list[str], findings: Mapping[str, Finding]):
        self.n = len(ids)
        self._codes: dict[str, np.ndarray] = {}
        self._vocab: dict[str, dict[str, int]] = {}
        rows = [findings.get(fid) for fid in ids]
        years = [getattr(f, "year", None) for f in rows]
        self._year = np.array([np.nan if y is None else float(y) for y in years], dtype=np.float64)
        for field in FILTER_FIELDS:
            if field == "year":
                continue
            vocab: dict[str, int] = {}
            codes = np.full(self.n, -1, dtype=np.int32)
            for row, f in enumerate(rows):
                value = getattr(f, field, None)
                if value is not None:
                    codes[row] = vocab.setdefault(str(value), len(vocab))
            self._codes[field], self._vocab[field] = codes, vocab

    def mask(self, filters: Mapping[str, Any] | None) -> np.ndarray | None:
        if not filters:
            return None
        m = np.ones(self.n, dtype=bool)
        for field, cond in filters.items():
            if cond is None:
                continue
            if field not in FILTER_FIELDS:
                raise ValueError(f"unknown filter field {field!r}; use one of {FILTER_FIELDS}")
            if isinstance(cond, Mapping):
                for op, value in cond.items():
                    m &= self._op(field, op, value)
            elif isinstance(cond, (list, tuple, set, frozenset)):
                m &= self._op(field, "$in", list(cond))
            else:
                m &= self._op(field, "$eq", cond)
        return m

    def _op(self, field: str, op: str, value: Any) -> np.ndarray:
        if field == "year":
            col = self._year
            present = ~np.isnan(col)
            if op in ("$in", "$nin"):
                hit = np.isin(col, [float(v) for v in value]) & present
                return hit if op == "$in" else ~hit
            ops = {
                "$eq": np.equal,
                "$ne": np.not_equal,
                "$gt": np.greater,
                "$gte": np.greater_equal,
                "$lt": np.less,
                "$lte": np.less_equal,
            }
            if op not in ops:
                raise ValueError(f"unknown filter operator {op!r}")
            with np.errstate(invalid="ignore"):
                hit = ops[op](col, float(value))
            return (hit | ~present) if op == "$ne" else (hit & present)
        codes, vocab = self._codes[field], self._vocab[field]
        if op in ("$eq", "$ne"):
            hit = codes == vocab.get(str(value), -2)
            return hit if op == "$eq" else ~hit
        if op in ("$in", "$nin"):
            wanted = [vocab[str(v)] for v in value if str(v) in vocab]
            hit = np.isin(codes, wanted) if wanted else np.zeros(self.n, dtype=bool)
            return hit if op == "$in" else ~hit
        raise ValueError(f"operator {op} does not apply to {field}")
