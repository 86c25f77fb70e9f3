"""Which common problems lead the list: systemic spread, weighed by how sure the findings are.

A problem found by 审计, 巡察 and 人大 alike points at a system, not one unit's slip, so
spread over kinds of body counts first. A cluster made of doubtful findings (background,
recommendations the findings stage was unsure about, ``confidence`` < 1) must not lead the
list however widely its wording recurs, so the score is scaled by the members' confidence.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, TypeVar

from miner.records import ISSUER_KIND_ZH, ISSUER_KINDS, Finding

K = TypeVar("K", bound=Hashable)


def _distinct(values: Sequence) -> list:
    return list(dict.fromkeys(v for v in values if v not in (None, "")))


def confidence_of(finding: Any) -> float:
    """A finding's confidence in [0, 1]; 1.0 where the findings stage gave none."""
    value = finding.get("confidence", 1.0) if isinstance(finding, Mapping) else getattr(finding, "confidence", 1.0)
    try:
        value = float(1.0 if value is None else value)
    except (TypeError, ValueError):
        return 1.0
    return min(max(value, 0.0), 1.0) if math.isfinite(value) else 1.0


def mean_confidence(findings: Sequence[Any]) -> float:
    return sum(confidence_of(f) for f in findings) / len(findings) if findings else 0.0


def spread_score(findings: Sequence[Finding]) -> float:
    """Spread over kinds of body first, then breadth (issuers, units, years, findings).

    Each distinct issuer kind is worth more than any plausible amount of the rest
    (issuers, units and findings count on a log scale; each extra year adds a little).
    """
    if not findings:
        return 0.0
    kinds = len(_distinct([f.issuer_kind for f in findings]))
    issuers = len(_distinct([f.issuer for f in findings]))
    units = len(_distinct([f.unit for f in findings]) or _distinct([f.doc_id or f.document for f in findings]))
    years = _distinct([f.year for f in findings])
    span = (max(years) - min(years)) if years else 0
    return (
        3.0 * kinds
        + 0.6 * math.log2(1 + issuers)
        + 0.6 * math.log2(1 + units)
        + 0.3 * min(span, 5)
        + 0.4 * math.log2(1 + len(findings))
    )


def systemic_score(findings: Sequence[Finding]) -> float:
    """Spread score scaled by the square of the members' mean confidence.

    Squared so that doubt weighs more than breadth: a cluster of findings at confidence
    0.4 spanning four kinds of body (≈ 2.3) ranks below a sure one found by one body (≈ 4).
    """
    return spread_score(findings) * mean_confidence(findings) ** 2


def rank_clusters(clusters: Mapping[K, Sequence[Finding]]) -> list[K]:
    """Cluster ids, most systemic first; ties broken by size then id (stable output)."""
    return sorted(clusters, key=lambda c: (-systemic_score(clusters[c]), -len(clusters[c]), c))


def describe_span(findings: Sequence[Finding]) -> str:
    """E.g. "审计、巡察、人大 · 5 个单位 · 2022–2024 · 9 条", kinds ordered by frequency."""
    kinds = Counter(f.issuer_kind for f in findings if f.issuer_kind)
    order = {k: i for i, k in enumerate(ISSUER_KINDS)}
    kind_names = [
        ISSUER_KIND_ZH.get(k, k) for k, _ in sorted(kinds.items(), key=lambda kv: (-kv[1], order.get(kv[0], 99)))
    ]
    parts = []
    if kind_names:
        parts.append("、".join(kind_names))
    units = _distinct([f.unit for f in findings])
    if units and all(f.unit for f in findings):
        parts.append(f"{len(units)} 个单位")
    else:  # some units unknown: counting the named ones would understate the spread
        docs = _distinct([f.doc_id or f.document for f in findings])
        if docs:
            parts.append(f"{len(docs)} 份报告")
    years = sorted(_distinct([f.year for f in findings]))
    if years:
        parts.append(str(years[0]) if years[0] == years[-1] else f"{years[0]}–{years[-1]}")
    parts.append(f"{len(findings)} 条")
    return " · ".join(parts)
