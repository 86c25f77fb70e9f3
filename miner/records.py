"""Plain records passed between pipeline stages.

Kept free of I/O so every stage (ingest, findings, embed, search, cluster, export)
can share them without importing each other.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, ValidationError, model_validator

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
        return dict(self.__dict__)  # flat fields only: asdict's deep copies cost 0.7 s per 10k findings


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


# --------------------------------------------------------------------------- metadata given by analysts


class MetadataError(ValueError):
    """Analyst-given metadata (CLI flags, sidecar, API) that cannot be stored; nothing was written."""


def _year(value: Any) -> Any:
    """Years arrive as int (JSON) or text (CSV, forms): "2024" and 2024.0 pass, "abc" and 1e20 do not."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, float) and value.is_integer() and abs(value) < 10_000:
        return int(value)
    return value


def _units(value: Any) -> Any:
    """ "A局；B局" (CSV, flags) or ["A局", "B局"] (JSON); anything else is left for validation to refuse."""
    if isinstance(value, str):
        return [u.strip() for u in re.split(r"[;；]", value) if u.strip()]
    return value


_Text = Annotated[str, Field(max_length=500)]


class MetadataOverrides(BaseModel):
    """Metadata an analyst may set for a batch or a file, validated before anything is written.

    Unknown keys are ignored (a sidecar CSV may carry the analyst's own columns); known keys must
    have the right type, so a bad value can never reach the catalogue.
    """

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    issuer_kind: Literal[ISSUER_KINDS] | None = None  # type: ignore[valid-type]
    issuer: _Text | None = None
    year: Annotated[StrictInt, BeforeValidator(_year), Field(ge=1949, le=2100)] | None = None
    report_kind: _Text | None = None
    units: (
        Annotated[list[Annotated[str, Field(max_length=200)]], BeforeValidator(_units), Field(max_length=200)] | None
    ) = None
    title: _Text | None = None
    doc_number: _Text | None = None

    @model_validator(mode="before")
    @classmethod
    def _unit_alias(cls, data: Any) -> Any:
        if isinstance(data, dict) and "unit" in data and not data.get("units"):
            data = {**data, "units": data["unit"]}
        return data

    @classmethod
    def check(cls, data: Any, where: str = "metadata") -> dict:
        """Validated overrides as a plain dict without empty values; MetadataError says what is wrong."""
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise MetadataError(f"{where}: expected a mapping of fields, got {type(data).__name__}")
        cleaned = {k: v for k, v in data.items() if v not in (None, "", [])}
        try:
            model = cls.model_validate(cleaned)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'value'}={_short(e.get('input'))}: {e['msg']}" for e in exc.errors()
            )
            raise MetadataError(f"{where}: {problems}") from None
        return model.model_dump(exclude_none=True)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
