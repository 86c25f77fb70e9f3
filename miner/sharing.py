"""Sharing rules: findings and documents that stay with the body that wrote them.

An unverified case lead (问题线索: "反映……问题线索", "已移交市纪委监委", "涉嫌……已移送") is not a
finding to circulate across bodies: it stays with its own body until verified. A rule marks
such findings (and documents whose title says they are leads or internal), and an analyst can
mark or clear any finding or document (``restrictions``; the analyst's word wins over the rule).

The access layer asks :func:`restricted_finding_ids` (and :func:`owners` for each item's
issuer kind) and :func:`may_see` for a user's granted kinds.
"""

from __future__ import annotations

import functools
import re
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from miner.segment import normalize

if TYPE_CHECKING:
    from miner.store import Catalogue

# Phrases of an unverified or handed-over case lead (the genre's fixed wording).
LEAD = re.compile(
    r"问题线索|反映.{0,30}线索|线索.{0,6}(?:移交|移送|转交|转办)|(?:已|并|依规依纪|依法)(?:移交|移送|转交)"
    r".{0,12}(?:纪委|监委|纪检监察|公安|检察|司法|有关部门)|(?<!对)涉嫌.{0,20}(?:犯罪|违纪|违法)(?:问题)?(?:线索|已|正在)|"
    r"立案审查|初步核实|正在核查|"
    r"信访举报反映|匿名举报"
)
DOC_LEAD = re.compile(r"问题线索|线索移交|线索清单|内部资料|内部通报|注意保密|不得外传|秘密|机密")


@dataclass
class Restriction:
    target_kind: str  # finding | document
    target_id: str
    owner_kind: str  # the issuer kind of the body it stays with
    reason: str
    source: str  # rule | analyst

    def to_dict(self) -> dict:
        return asdict(self)


@functools.lru_cache(maxsize=1 << 16)
def rule_reason(text: str) -> str:
    """The lead phrase that restricts a statement, or "" (a pure function of the text, kept for
    the next request: every request of a reader granted several kinds asks it of every finding)."""
    m = LEAD.search(normalize(text))
    return m.group(0) if m else ""


def restrictions(catalogue: Catalogue) -> dict[str, Restriction]:
    """Finding id → why it is restricted, for every restricted finding (review items included)."""
    db = catalogue.db
    docs = {r["id"]: dict(r) for r in db.execute("SELECT id, issuer_kind, title FROM documents")}
    manual = {(r["target_kind"], r["target_id"]): dict(r) for r in db.execute("SELECT * FROM restrictions")}
    doc_rule = {}
    for d in docs.values():
        m = DOC_LEAD.search(normalize(d["title"] or ""))
        doc_rule[d["id"]] = m.group(0) if m else ""
    out: dict[str, Restriction] = {}
    rows = db.execute(
        'SELECT f.id, f.document_id, substr(d.text, f.start + 1, f."end" - f.start) AS text'
        " FROM findings f JOIN documents d ON d.id = f.document_id"
    )
    for r in rows:
        fid, did = r["id"], r["document_id"]
        owner = docs[did]["issuer_kind"]
        mf, md = manual.get(("finding", fid)), manual.get(("document", did))
        if mf is not None:
            if mf["restricted"]:
                out[fid] = Restriction("finding", fid, owner, mf["reason"], "analyst")
            continue
        if md is not None:
            if md["restricted"]:
                out[fid] = Restriction("document", did, owner, md["reason"], "analyst")
            continue
        if doc_rule[did]:
            out[fid] = Restriction("document", did, owner, doc_rule[did], "rule")
        elif reason := rule_reason(r["text"]):
            out[fid] = Restriction("finding", fid, owner, reason, "rule")
    return out


def restricted_finding_ids(catalogue: Catalogue) -> set[str]:
    """Ids of the findings that stay with their own body."""
    return set(restrictions(catalogue))


def owners(catalogue: Catalogue) -> dict[str, str]:
    """Restricted finding id → the issuer kind of the body it stays with."""
    return {fid: r.owner_kind for fid, r in restrictions(catalogue).items()}


def restricted_document_ids(catalogue: Catalogue) -> set[str]:
    """Documents restricted as a whole (by title rule or by an analyst)."""
    out = set()
    for r in catalogue.db.execute("SELECT id, title FROM documents"):
        if DOC_LEAD.search(normalize(r["title"] or "")):
            out.add(r["id"])
    for r in catalogue.db.execute("SELECT target_id, restricted FROM restrictions WHERE target_kind='document'"):
        (out.add if r["restricted"] else out.discard)(r["target_id"])
    return out


def may_see(owner_kind: str, user_kinds: list[str] | None) -> bool:
    """Whether a user granted ``user_kinds`` (None: every kind, the administrator) sees a
    restricted item of ``owner_kind``: only users of that body alone do; a reader granted
    several kinds of report (a congress analyst who also reads audit reports) does not."""
    return user_kinds is None or set(user_kinds) == {owner_kind}


def hidden_for(catalogue: Catalogue, user_kinds: list[str] | None) -> set[str]:
    """Finding ids a user granted ``user_kinds`` must not see."""
    return {fid for fid, r in restrictions(catalogue).items() if not may_see(r.owner_kind, user_kinds)}


def mark(
    catalogue: Catalogue, target_kind: str, target_id: str, *, restricted: bool = True, reason: str = "", who: str = ""
) -> dict:
    """An analyst restricts (or, with ``restricted=False``, clears) a finding or a document."""
    if target_kind not in ("finding", "document"):
        raise ValueError("target_kind must be 'finding' or 'document'")
    table = "findings" if target_kind == "finding" else "documents"
    row = catalogue.db.execute(f"SELECT id FROM {table} WHERE id=?", (target_id,)).fetchone()
    if row is None and target_kind == "document":
        row = catalogue.db.execute("SELECT id FROM documents WHERE name=?", (target_id,)).fetchone()
    if row is None:
        raise KeyError(target_id)
    with catalogue.db:
        catalogue.db.execute(
            "INSERT INTO restrictions VALUES (?,?,?,?,?,?) ON CONFLICT (target_kind, target_id) DO UPDATE SET"
            " restricted=excluded.restricted, reason=excluded.reason, who=excluded.who, at=excluded.at",
            (target_kind, row[0], int(restricted), reason, who, time.time()),
        )
    return {"target_kind": target_kind, "target_id": row[0], "restricted": restricted, "reason": reason}


def listing(catalogue: Catalogue) -> list[dict]:
    """Every restricted finding with its reason, for the CLI."""
    rows = []
    for fid, r in sorted(restrictions(catalogue).items()):
        d = r.to_dict()
        d["finding_id"] = fid
        rows.append(d)
    return rows


__all__ = [
    "LEAD",
    "Restriction",
    "hidden_for",
    "listing",
    "mark",
    "may_see",
    "owners",
    "restricted_document_ids",
    "restricted_finding_ids",
    "restrictions",
    "rule_reason",
]
