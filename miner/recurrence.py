"""Recurrence across years: the same problem in the same unit found again (反弹 / 屡审屡犯 / 整改不实).

A chain is the story of one problem of one unit across documents: found (an audit, an
inspection …) → reported fixed or in progress (a rectification record) → found again
(a later report of any body). It is built from what the other stages know:

- the unit entity of every finding and record (:mod:`miner.units`);
- the kind of problem: the common problem (cluster) a finding belongs to, else its
  similarity to the other items of the unit;
- rectification records and the findings they are linked to (:mod:`miner.rectification`),
  and the analyst's status (:mod:`miner.status`);
- what a later report itself says: "2021年审计指出的……仍有", "问题反弹", "屡改屡犯", "虚假整改".

The label: 整改不实 when a problem reported fixed (or the report says 虚假整改/纸上整改) is found
still there; 反弹 when a problem reported fixed comes back; 屡审屡犯 when it is found again with
no fix reported in between (or the report says 屡审屡犯/年年查); 整改未到位 when the only later word
is the rectification report's own "仍有……尚未". A finding that says it is a recurrence but whose
earlier report is not in the workspace stands as a one-document chain (``earlier_in_workspace``
false), so the analyst still sees it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from miner.segment import normalize

if TYPE_CHECKING:
    from miner.pipeline import Workspace
    from miner.records import CommonProblem, Finding

LABELS = ("整改不实", "反弹", "屡审屡犯", "整改未到位")
FAKE_FIX = re.compile(
    r"虚假整改|纸上整改|假整改|整改不实|数字整改|以文件代替整改|以会议代替整改|敷衍整改|表面整改|整改.{0,6}不真实|整改报告.{0,10}(?:称|说).{0,30}(?:但|仍)"
)
REBOUND = re.compile(r"反弹|回潮|死灰复燃|仍有发生|再次出现|又(?:出现|发生|发放|有)|重新出现")
REPEAT = re.compile(
    r"屡审屡犯|屡改屡犯|屡查屡犯|屡禁不止|屡纠屡犯|年年查|年年有|连续.{1,3}年.{0,16}(?:反映|指出|发现|出现)|"
    r"\d{4}年(?:、\d{4}年)+.{0,10}(?:均|都|多次|先后).{0,3}(?:被)?(?:指出|反映|发现)|多次(?:被)?(?:指出|通报)"
)
# The report says the problem was found before ("2021年审计指出的……", "上轮巡察指出").
EARLIER = re.compile(
    r"(?:\d{4}年|上轮|上一轮|上次|上年度|前次|此前|原)(?:经济责任|预算执行)?(?:审计|巡察|巡视|检查|督查|通报)?"
    r"(?:指出|发现|反映|移交|提出)|(?:审计|巡察)指出后|回头看"
)
PERSISTS = re.compile(r"仍(?:有|未|然|为|存在)|尚未|依然|至今未|未得到.{0,4}纠正|未整改到位|整改不到位|未彻底")

SAME_KIND_SIM = 0.72  # two findings not placed in one common problem, but this similar, are one kind


@dataclass
class Event:
    role: str  # found | reported | still_open | found_again
    document: str
    year: int | None
    issuer_kind: str
    text: str
    finding_id: str = ""
    record_id: str = ""
    status: str = ""  # a record's 已整改 / 整改中 / 未整改
    date: str = ""


@dataclass
class Chain:
    id: str
    unit: str
    label: str
    kind: str  # the common problem's label, or the earliest statement of the problem
    cluster_id: str = ""
    events: list[Event] = field(default_factory=list)
    earlier_in_workspace: bool = True

    @property
    def documents(self) -> list[str]:
        return list(dict.fromkeys(e.document for e in self.events))

    @property
    def years(self) -> list[int]:
        return sorted({e.year for e in self.events if e.year})

    def summary(self) -> str:
        """ "2021 审计 d11.pdf 发现 → 2022 d15.pdf 报告整改中 → 2023 巡察 d02.pdf 再次发现"."""
        words = {"found": "发现", "reported": "报告", "still_open": "仍未整改", "found_again": "再次发现"}
        parts = []
        for e in self.events:
            w = words[e.role] + (e.status if e.role == "reported" else "")
            parts.append(f"{e.year or '?'} {e.document} {w}")
        return " → ".join(dict.fromkeys(parts))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["documents"] = self.documents
        d["years"] = self.years
        d["summary"] = self.summary()
        return d


def _cue_label(text: str) -> str:
    t = normalize(text)
    if FAKE_FIX.search(t):
        return "整改不实"
    if REBOUND.search(t):
        return "反弹"
    if REPEAT.search(t):
        return "屡审屡犯"
    return ""


def says_recurrence(text: str) -> bool:
    """The statement itself says the problem was found before and persists or came back."""
    t = normalize(text)
    return bool(_cue_label(t) or (EARLIER.search(t) and PERSISTS.search(t)))


def _containment(a: str, b: str) -> float:
    from miner.rectification import _containment as contained

    return contained(a, b)


def _sim(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.clip(a @ b, 0, 1))


class _Item:
    __slots__ = ("finding", "record", "doc_id", "document", "year", "date", "kind", "vec", "issuer_kind")

    def __init__(self, finding=None, record=None, **kw):
        self.finding = finding
        self.record = record
        for k, v in kw.items():
            setattr(self, k, v)


def chains(ws: Workspace) -> list[Chain]:
    """Every recurrence chain in the workspace, latest-ending first."""
    from miner.indexing import embedder_for
    from miner.rectification import records as all_records
    from miner.status import statuses
    from miner.units import UnitIndex

    cat = ws.catalogue
    findings = cat.findings()
    if not findings:
        return []
    units = UnitIndex(cat, findings)
    docs = {r["id"]: dict(r) for r in cat.db.execute("SELECT id, name, year, issuer_kind FROM documents")}
    cluster_of = {
        r[0]: r[1]
        for r in cat.db.execute("SELECT finding_id, cluster_id FROM cluster_members WHERE cluster_id IS NOT NULL")
    }
    labels = {r[0]: r[1] for r in cat.db.execute("SELECT id, label FROM clusters")}
    recs = all_records(ws)
    st = statuses(cat, [f.id for f in findings])
    emb = embedder_for(ws)
    fvec = emb.encode([f.text for f in findings])
    rvec = emb.encode([r.problem for r in recs]) if recs else np.zeros((0, fvec.shape[1]))
    fidx = {f.id: i for i, f in enumerate(findings)}
    by_id = {f.id: f for f in findings}

    items: list[_Item] = []
    for i, f in enumerate(findings):
        items.append(
            _Item(
                finding=f,
                doc_id=f.doc_id,
                document=f.document,
                year=f.year,
                date=str(f.year or ""),
                kind=cluster_of.get(f.id, ""),
                vec=fvec[i],
                issuer_kind=f.issuer_kind,
            )
        )
    rec_items: list[_Item] = []
    for i, r in enumerate(recs):
        d = docs[r.document_id]
        linked = by_id.get(r.finding_id or "")
        rec_items.append(
            _Item(
                record=r,
                doc_id=r.document_id,
                document=d["name"],
                year=d["year"],
                date=r.date,
                kind=cluster_of.get(linked.id, "") if linked else "",
                vec=rvec[i],
                issuer_kind=d["issuer_kind"],
            )
        )
    # findings inside a record (the report's own "仍有……尚未") belong to it
    inside: dict[str, str] = {}
    for it in rec_items:
        r = it.record
        for f in findings:
            if f.doc_id == r.document_id and r.start <= f.start < r.end:
                inside[f.id] = r.id

    rec_by_id = {it.record.id: it for it in rec_items}
    for fid, rid in inside.items():
        items[fidx[fid]].date = rec_by_id[rid].date + "~"  # told right after its record

    # a record, the finding it answers and the findings inside it are one problem
    ties: dict[int, set[int]] = defaultdict(set)
    for it in rec_items:
        r = it.record
        tied = [items[fidx[fid]] for fid, rid in inside.items() if rid == r.id]
        if r.finding_id in fidx:
            tied.append(items[fidx[r.finding_id]])
        for t in tied:
            ties[id(it)].add(id(t))
            ties[id(t)].add(id(it))

    # ---------------------------------------------------------------- group by unit and kind
    entity_items: dict[str, list[_Item]] = defaultdict(list)
    for it in items:
        for e in units.finding_entities(it.finding):
            entity_items[e.name].append(it)
    wide_records: list[_Item] = []
    for it in rec_items:
        r = it.record
        ents = [units.entity_of(r.unit, r.document_id)] if r.unit else []
        ents = [e for e in ents if e] or units.document_entities(r.document_id)
        linked = by_id.get(r.finding_id or "")
        if linked:
            ents += [e for e in units.finding_entities(linked) if e not in ents]
        doc_ents = units.document_entities(r.document_id)
        if not doc_ents or all(e.name.endswith("政府") for e in doc_ents):
            wide_records.append(it)
        for e in ents:
            entity_items[e.name].append(it)

    out: list[Chain] = []
    used_later: set[str] = set()
    for unit, its in entity_items.items():
        if len({it.doc_id for it in its}) < 2:
            continue
        for group in _kinds(its, ties):
            chain = _chain(unit, group, labels, st, inside)
            if chain:
                out.append(chain)
                used_later.update(e.finding_id for e in chain.events if e.role == "found_again")
    # a government's rectification report: found (any unit) → reported → found again (says so itself)
    for it in wide_records:
        r = it.record
        linked = by_id.get(r.finding_id or "")
        if linked is None:
            continue
        group = [it, items[fidx[linked.id]]]
        kind = cluster_of.get(linked.id, "")
        linked_units = {e.name for e in units.finding_entities(linked)}
        for later in items:
            f = later.finding
            if f.doc_id in (r.document_id, linked.doc_id) or not (f.year and it.year and f.year > it.year):
                continue
            later_units = {e.name for e in units.finding_entities(f)}
            if later_units and not (later_units & linked_units):
                continue  # a later report about another unit
            same = (
                (kind and cluster_of.get(f.id) == kind)
                or _sim(later.vec, items[fidx[linked.id]].vec) >= SAME_KIND_SIM
                or _containment(r.problem, f.text) >= 0.6
            )
            if same and says_recurrence(f.text):
                group.append(later)
        group += [items[fidx[fid]] for fid, rid in inside.items() if rid == r.id]
        chain = _chain("", group, labels, st, inside)
        if chain and not any(_same_chain(chain, c) for c in out):
            out.append(chain)
            used_later.update(e.finding_id for e in chain.events if e.role == "found_again")
    # a problem known from a rectification report only, and still open there
    in_chain = {e.finding_id for c in out for e in c.events if e.finding_id}
    for it in rec_items:
        r = it.record
        still = [items[fidx[fid]] for fid, rid in inside.items() if rid == r.id and fid not in in_chain]
        if not still:
            continue
        ents = units.document_entities(r.document_id)
        out.append(
            Chain(
                id=f"rc-{r.id}",
                unit=r.unit or (ents[0].name if ents else ""),
                label="整改未到位",
                kind=r.problem,
                cluster_id=cluster_of.get(still[0].finding.id, ""),
                events=[_event("reported", it)] + [_event("still_open", s) for s in still],
                earlier_in_workspace=False,
            )
        )
        in_chain.update(s.finding.id for s in still)
    # a finding that says it is a recurrence, its earlier report not in the workspace
    for it in items:
        f = it.finding
        if f.id in in_chain or f.id in inside or not says_recurrence(f.text):
            continue
        ents = units.finding_entities(f)
        label = _cue_label(f.text) or "屡审屡犯"
        out.append(
            Chain(
                id=f"rc-{f.id}",
                unit=ents[0].name if ents else "",
                label=label,
                kind=labels.get(cluster_of.get(f.id, ""), "") or f.text[:40],
                cluster_id=cluster_of.get(f.id, ""),
                events=[_event("found_again", it)],
                earlier_in_workspace=False,
            )
        )
    for i, c in enumerate(out):
        if not c.id:
            c.id = f"rc{i + 1:03d}"
    out.sort(key=lambda c: (-(c.years[-1] if c.years else 0), -len(c.documents), c.unit, c.id))
    return out


def _same_chain(a: Chain, b: Chain) -> bool:
    ka = {(e.finding_id, e.record_id) for e in a.events}
    kb = {(e.finding_id, e.record_id) for e in b.events}
    return ka <= kb


def _kinds(its: list[_Item], ties: dict[int, set[int]]) -> list[list[_Item]]:
    """Split a unit's items into problems: a record with the finding it answers and the findings
    inside it; items of one common problem; the rest by similarity."""
    uniq = list({id(it): it for it in its}.values())
    parent = {id(it): id(it) for it in uniq}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: int, b: int) -> None:
        if a in parent and b in parent:
            parent[find(a)] = find(b)

    by_kind: dict[str, int] = {}
    for it in uniq:
        for other in ties.get(id(it), ()):
            union(id(it), other)
        if it.kind:
            if it.kind in by_kind:
                union(id(it), by_kind[it.kind])
            else:
                by_kind[it.kind] = id(it)
    loose = [it for it in uniq if not it.kind and find(id(it)) == id(it)]
    for it in loose:
        best, best_s = None, SAME_KIND_SIM
        for other in uniq:
            if other is it or find(id(other)) == find(id(it)):
                continue
            s = _sim(it.vec, other.vec)
            if s >= best_s:
                best, best_s = other, s
        if best is not None:
            union(id(it), id(best))
    groups: dict[int, list[_Item]] = defaultdict(list)
    for it in uniq:
        groups[find(id(it))].append(it)
    return [g for g in groups.values() if len({it.doc_id for it in g}) >= 2]


def _event(role: str, it: _Item) -> Event:
    if it.record is not None:
        r = it.record
        return Event(
            role, it.document, it.year, it.issuer_kind, r.problem, record_id=r.id, status=r.status, date=r.date
        )
    f = it.finding
    return Event(role, it.document, it.year, it.issuer_kind, f.text, finding_id=f.id, date=it.date)


def _chain(unit: str, group: list[_Item], labels: dict, st: dict, inside: dict[str, str]) -> Chain | None:
    """One chain from a unit's items of one kind, or None when nothing was found again."""
    # order: year, then records after the findings of their year (a report answers what was found)
    group = sorted(
        group, key=lambda it: (it.year or 0, 0 if (it.record is None and it.finding.id not in inside) else 1, it.date)
    )
    first_doc = group[0].doc_id
    first_year = group[0].year
    events: list[Event] = []
    fixed_claim = False  # a record or the analyst said 已整改 before
    label = ""
    found_again = False
    for it in group:
        if it.record is not None:
            events.append(_event("reported", it))
            fixed_claim = fixed_claim or it.record.status == "已整改"
            continue
        f = it.finding
        if f.id in inside:
            events.append(_event("still_open", it))
            continue
        if it.doc_id == first_doc or (it.year == first_year and not any(e.role == "reported" for e in events)):
            events.append(_event("found", it))
            s = st.get(f.id)
            fixed_claim = fixed_claim or bool(s and s.status in ("已整改", "已销号"))
            continue
        events.append(_event("found_again", it))
        found_again = True
        cue = _cue_label(f.text)
        persists = bool(PERSISTS.search(normalize(f.text)))
        if cue == "整改不实" or (fixed_claim and persists):
            this = "整改不实"
        elif cue == "反弹" or fixed_claim:
            this = "反弹"
        else:
            this = "屡审屡犯"
        label = min(label or this, this, key=LABELS.index)
    has_open = any(e.role == "still_open" for e in events)
    if not found_again:
        if not (has_open and any(e.role == "found" for e in events)):
            return None
        label = "整改未到位"
    if len({e.document for e in events}) < 2:
        return None
    cid = next((it.kind for it in group if it.kind), "")
    kind = labels.get(cid, "") or next((e.text[:40] for e in events), "")
    return Chain(id="", unit=unit, label=label, kind=kind, cluster_id=cid, events=events)


# --------------------------------------------------------------------------- common problems


def annotate(ws: Workspace, problems: list[CommonProblem]) -> list[CommonProblem]:
    """Put each common problem's cross-year chains on it (``CommonProblem.recurrences``)."""
    if not problems:
        return problems
    by_cluster: dict[str, list[dict]] = defaultdict(list)
    ids_of = {p.id: {f.id for f in p.findings} for p in problems}
    for c in chains(ws):
        if not c.earlier_in_workspace:
            continue
        fids = {e.finding_id for e in c.events if e.finding_id}
        for pid, members in ids_of.items():
            if c.cluster_id == pid or fids & members:
                by_cluster[pid].append(
                    {
                        "unit": c.unit,
                        "label": c.label,
                        "summary": c.summary(),
                        "documents": c.documents,
                        "years": c.years,
                    }
                )
    for p in problems:
        p.recurrences = by_cluster.get(p.id, [])
    return problems


def for_findings(ws: Workspace, findings: list[Finding]) -> dict[str, list[Chain]]:
    """Chains each finding takes part in."""
    wanted = {f.id for f in findings}
    out: dict[str, list[Chain]] = defaultdict(list)
    for c in chains(ws):
        for e in c.events:
            if e.finding_id in wanted:
                out[e.finding_id].append(c)
    return out
