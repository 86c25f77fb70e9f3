"""Plain records passed between pipeline stages.

Kept free of I/O so every stage (ingest, findings, embed, search, cluster, export)
can share them without importing each other.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

ISSUER_KINDS = ("inspection", "audit", "congress", "discipline", "finance", "statistics", "legal", "other")

ISSUER_KIND_ZH = {
    "inspection": "巡察",
    "audit": "审计",
    "congress": "人大",
    "discipline": "纪委监委",
    "finance": "财会监督",
    "statistics": "统计",
    "legal": "政法",
    "other": "其他",
}


@dataclass
class DocumentMeta:
    """What we know about who wrote a report, when, and about whom."""

    title: str = ""
    issuer_kind: str = "other"
    issuer: str = ""
    year: int | None = None
    report_kind: str = ""
    units: list[str] = field(default_factory=list)
    doc_number: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Finding:
    """One problem statement, with everything needed to cite it."""

    id: str
    document: str  # source file name, e.g. "a01.pdf"
    text: str
    doc_id: str = ""
    page: int = 1  # 1-based page where the finding starts
    start: int = 0  # offsets into the document's normalised text
    end: int = 0
    unit: str = ""
    heading: str = ""  # heading path, " > " joined
    issuer_kind: str = "other"
    issuer: str = ""
    year: int | None = None
    batch_id: str = ""
    confidence: float = 1.0  # the problem model's probability that this states a problem
    review: str = ""  # "" (model's finding) | "pending" | "accepted" | "rejected" (an analyst's word)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class CommonProblem:
    """A problem recurring across agencies: a cluster of findings plus its summary.

    Produced by the cluster stage, consumed by export; lives here so neither imports the other.
    """

    id: str
    label: str  # e.g. "往来款长期挂账未清理"
    keywords: list[str] = field(default_factory=list)
    score: float = 0.0  # systemic score; lists are sorted by it, highest first
    span: str = ""  # e.g. "审计、巡察、人大 · 5 个单位 · 2022–2024 · 9 条"
    findings: list[Finding] = field(default_factory=list)
    note: str = ""  # analyst note
    # cross-year chains of this problem (miner.recurrence.annotate): unit, label, summary, documents, years
    recurrences: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)
