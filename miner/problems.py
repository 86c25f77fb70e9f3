"""Common problems of a workspace: clustering kept stable, incremental and editable.

:mod:`miner.cluster` knows how to group texts; this module keeps the result in
the catalogue so that analysts can rely on it:

- **stable**: a cluster's id is ``c-`` plus the id of its first finding, and the
  clustering is deterministic, so the same data gives the same ids;
- **incremental**: findings that arrive later are assigned to existing clusters
  or form new ones among themselves; existing memberships are never reshuffled;
- **editable**: rename, merge, split, move and remove are stored as analyst
  decisions (pinned memberships, locked labels, an edit log) and survive new
  batches and even a full ``rebuild``.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from miner.cluster import Clusterer, ClusterMembers
from miner.naming import cluster_keywords, name_cluster
from miner.ranking import describe_span, systemic_score
from miner.records import CommonProblem, Finding
from miner.search import FilterColumns
from miner.segment import tokenize

if TYPE_CHECKING:
    from miner.pipeline import Workspace


# INSERT … ON CONFLICT works in SQLite and PostgreSQL alike (INSERT OR REPLACE is SQLite's own)
_UPSERT_MEMBER = " ON CONFLICT (finding_id) DO UPDATE SET cluster_id = excluded.cluster_id, pinned = excluded.pinned"


class EditError(ValueError):
    """An analyst edit that cannot be applied (unknown id, empty selection …)."""


def _embeddings(ws: Workspace, findings: Sequence[Finding]) -> np.ndarray | None:
    from miner.indexing import embedder_for

    if not findings:
        return None
    return embedder_for(ws).encode([f.text for f in findings])


def _new_id(first_finding: str) -> str:
    return f"c-{first_finding}"


def update(ws: Workspace, clusterer: Clusterer | None = None, *, rebuild: bool = False) -> int:
    """Bring clusters up to date with the catalogue; returns how many findings were placed.

    First run (or ``rebuild``): cluster every finding not pinned by an analyst.
    Later runs: only findings the clustering has not seen yet are placed.
    """
    clusterer = clusterer or Clusterer()
    cat = ws.catalogue
    db = cat.db
    findings = cat.findings()
    if not findings:
        return 0
    by_id = {f.id: f for f in findings}
    seen = {r[0]: (r[1], r[2]) for r in db.execute("SELECT finding_id, cluster_id, pinned FROM cluster_members")}
    if rebuild:
        with db:
            db.execute("DELETE FROM cluster_members WHERE pinned = 0")
        seen = {k: v for k, v in seen.items() if v[1]}
    new = [f for f in findings if f.id not in seen]
    if not new:
        _refresh(ws)
        return 0
    members: dict[str, list[str]] = defaultdict(list)
    for fid, (cid, _) in seen.items():
        if cid and fid in by_id:
            members[cid].append(fid)

    new_emb = _embeddings(ws, new)
    if not members:
        labels = clusterer.fit([f.text for f in new], new_emb, groups=[f.doc_id for f in new])
        placed = _place_new(new, labels, {})
    else:
        cids = sorted(members)
        old = [by_id[fid] for cid in cids for fid in members[cid]]
        old_emb = _embeddings(ws, old)
        assert old_emb is not None
        existing: dict[int, ClusterMembers] = {}
        pos = 0
        for i, cid in enumerate(cids):
            n = len(members[cid])
            fs = old[pos : pos + n]
            existing[i] = ClusterMembers([f.text for f in fs], old_emb[pos : pos + n], [f.doc_id for f in fs])
            pos += n
        # Earlier findings that joined nothing may pair up with new ones; the ones an
        # analyst took out (pinned) stay out.
        loose = [by_id[fid] for fid, (cid, pinned) in seen.items() if not cid and not pinned and fid in by_id]
        unclustered = None
        if loose:
            loose_emb = _embeddings(ws, loose)
            unclustered = ClusterMembers([f.text for f in loose], loose_emb, [f.doc_id for f in loose])
        labels = clusterer.assign(
            [f.text for f in new], new_emb, existing, new_groups=[f.doc_id for f in new], unclustered=unclustered
        )
        placed = _place_new(new + loose, labels, {i: cid for i, cid in enumerate(cids)})
        new_ids = {f.id for f in new}
        placed = {fid: cid for fid, cid in placed.items() if fid in new_ids or cid}

    now = time.time()
    with db:
        for cid in sorted({c for c in placed.values() if c}):
            db.execute(
                "INSERT INTO clusters (id, label, created_at) VALUES (?, '', ?) ON CONFLICT (id) DO NOTHING",
                (cid, now),
            )
        db.executemany(
            "INSERT INTO cluster_members (finding_id, cluster_id, pinned) VALUES (?, ?, 0)" + _UPSERT_MEMBER,
            [(fid, cid) for fid, cid in placed.items()],
        )
    _refresh(ws)
    return len(new)


def _place_new(new: Sequence[Finding], labels: Sequence[int], existing: dict[int, str]) -> dict[str, str | None]:
    """Map labels to cluster ids: existing clusters keep theirs, new ones take their first finding's."""
    groups: dict[int, list[str]] = defaultdict(list)
    for f, lab in zip(new, labels):
        groups[int(lab)].append(f.id)
    out: dict[str, str | None] = {}
    for lab, fids in groups.items():
        if lab < 0:
            cid = None
        elif lab in existing:
            cid = existing[lab]
        else:
            cid = _new_id(min(fids))
        for fid in fids:
            out[fid] = cid
    return out


def _refresh(ws: Workspace) -> None:
    """Recompute names (unless locked), keywords, spans and systemic scores; drop empty clusters."""
    cat = ws.catalogue
    db = cat.db
    rows = db.execute("SELECT finding_id, cluster_id FROM cluster_members WHERE cluster_id IS NOT NULL").fetchall()
    members: dict[str, list[str]] = defaultdict(list)
    for fid, cid in rows:
        members[cid].append(fid)
    by_id = {f.id: f for f in cat.findings()}
    clusters = {cid: [by_id[f] for f in fids if f in by_id] for cid, fids in members.items()}
    clusters = {cid: fs for cid, fs in clusters.items() if len(fs) >= 1}
    info = {r[0]: (r[1], r[2]) for r in db.execute("SELECT id, label, label_locked FROM clusters")}
    order = sorted(clusters)
    tokens, labels = [], []
    for i, cid in enumerate(order):
        for f in clusters[cid]:
            tokens.append(tokenize(f.text))
            labels.append(i)
    kw = cluster_keywords(tokens, labels) if order else {}
    updates = []
    for i, cid in enumerate(order):
        fs = clusters[cid]
        words = [w for w, _ in kw.get(i, [])][:8]
        label, locked = info.get(cid, ("", 0))
        if not locked:
            emb = _embeddings(ws, fs)
            label = name_cluster([f.text for f in fs], emb, words).headline
        updates.append((label, json.dumps(words, ensure_ascii=False), systemic_score(fs), describe_span(fs), cid))
    with db:
        db.executemany("UPDATE clusters SET label=?, keywords=?, score=?, span=? WHERE id=?", updates)
        gone = [cid for cid in info if cid not in clusters]
        db.executemany("DELETE FROM clusters WHERE id=?", [(c,) for c in gone])


def problems(
    ws: Workspace, *, min_size: int = 2, filters: dict | None = None, min_bodies: int = 1
) -> list[CommonProblem]:
    """Common problems, most systemic first, optionally over a subset of findings.

    ``filters`` (issuer_kind, year, unit, batch_id, document, issuer; values or lists)
    select findings; a cluster is shown with its findings in the subset, and its
    score and span are computed over that subset.
    """
    cat = ws.catalogue
    by_id = {f.id: f for f in cat.findings()}
    ids = list(by_id)
    mask = FilterColumns(ids, by_id).mask(filters)  # the search stage's filter language
    selected = set(ids) if mask is None else {i for i, keep in zip(ids, mask) if keep}
    rows = cat.db.execute(
        "SELECT c.id, c.label, c.keywords, c.note, c.label_locked, m.finding_id FROM clusters c"
        " JOIN cluster_members m ON m.cluster_id = c.id ORDER BY c.id, m.finding_id"
    ).fetchall()
    grouped: dict[str, CommonProblem] = {}
    hidden: set[str] = set()
    locked: set[str] = set()
    for cid, label, keywords, note, is_locked, fid in rows:
        f = by_id.get(fid)
        if is_locked:
            locked.add(cid)
        if f is None or fid not in selected:
            hidden.add(cid)
            continue
        p = grouped.setdefault(cid, CommonProblem(id=cid, label=label, keywords=json.loads(keywords), note=note))
        p.findings.append(f)
    out = []
    for p in grouped.values():
        if len(p.findings) < min_size or len({f.issuer_kind for f in p.findings}) < min_bodies:
            continue
        if p.id in hidden and p.id not in locked and filters and "issuer_kind" in filters:
            # Restricted to some kinds of report (access scope or filter): name the problem from the
            # findings shown, so no wording of a report outside the selection leaks into the label.
            named = name_cluster([f.text for f in p.findings], _embeddings(ws, p.findings))
            p.label, p.keywords = named.headline, named.keywords
        _most_typical_first(ws, p)
        p.score = systemic_score(p.findings)
        p.span = describe_span(p.findings)
        out.append(p)
    out.sort(key=lambda p: (-p.score, -len(p.findings), p.id))
    from miner import recurrence

    return recurrence.annotate(ws, out)  # cross-year chains of each problem, for views and exports


def _most_typical_first(ws: Workspace, p: CommonProblem) -> None:
    """Order a problem's findings by closeness to its centre, so exports quote typical statements."""
    p.findings.sort(key=lambda f: (f.document, f.start))
    if len(p.findings) < 3:
        return
    emb = _embeddings(ws, p.findings)
    if emb is None:
        return
    centre = emb.mean(axis=0)
    sims = emb @ centre
    order = sorted(range(len(p.findings)), key=lambda i: (-round(float(sims[i]), 6), i))
    p.findings = [p.findings[i] for i in order]


# --------------------------------------------------------------------------- analyst edits


def _log(ws: Workspace, action: str, payload: dict) -> None:
    ws.catalogue.db.execute(
        "INSERT INTO cluster_edits (at, action, payload) VALUES (?, ?, ?)",
        (time.time(), action, json.dumps(payload, ensure_ascii=False)),
    )


def _require_cluster(ws: Workspace, cid: str) -> None:
    if ws.catalogue.db.execute("SELECT 1 FROM clusters WHERE id=?", (cid,)).fetchone() is None:
        raise EditError(f"no common problem {cid!r}")


def _require_findings(ws: Workspace, fids: Sequence[str]) -> None:
    known = {f.id for f in ws.catalogue.findings(ids=list(fids))}
    missing = [f for f in fids if f not in known]
    if missing or not fids:
        raise EditError(f"unknown findings: {missing or 'none given'}")


def rename(ws: Workspace, cid: str, label: str, note: str | None = None) -> None:
    """Give a common problem the analyst's name; it is kept from now on."""
    _require_cluster(ws, cid)
    if not label.strip():
        raise EditError("a name cannot be empty")
    db = ws.catalogue.db
    with db:
        db.execute("UPDATE clusters SET label=?, label_locked=1 WHERE id=?", (label.strip(), cid))
        if note is not None:
            db.execute("UPDATE clusters SET note=? WHERE id=?", (note, cid))
        _log(ws, "rename", {"cluster": cid, "label": label, "note": note})


def merge(ws: Workspace, target: str, others: Sequence[str]) -> None:
    """Fold other common problems into ``target``; their findings are pinned there."""
    for cid in [target, *others]:
        _require_cluster(ws, cid)
    db = ws.catalogue.db
    with db:
        for cid in others:
            if cid == target:
                continue
            db.execute("UPDATE cluster_members SET cluster_id=?, pinned=1 WHERE cluster_id=?", (target, cid))
            db.execute("DELETE FROM clusters WHERE id=?", (cid,))
        db.execute("UPDATE cluster_members SET pinned=1 WHERE cluster_id=?", (target,))
        _log(ws, "merge", {"target": target, "others": list(others)})
    _refresh(ws)


def split(ws: Workspace, cid: str, finding_ids: Sequence[str], label: str | None = None) -> str:
    """Move some findings of a common problem into a new one; returns the new id."""
    _require_cluster(ws, cid)
    _require_findings(ws, finding_ids)
    db = ws.catalogue.db
    inside = {r[0] for r in db.execute("SELECT finding_id FROM cluster_members WHERE cluster_id=?", (cid,))}
    outside = [f for f in finding_ids if f not in inside]
    if outside:
        raise EditError(f"findings not in {cid}: {outside}")
    new_id = _new_id(min(finding_ids))
    if new_id == cid or db.execute("SELECT 1 FROM clusters WHERE id=?", (new_id,)).fetchone():
        new_id = f"{new_id}-s{int(time.time())}"
    with db:
        db.execute(
            "INSERT INTO clusters (id, label, label_locked, created_at) VALUES (?, ?, ?, ?)",
            (new_id, label or "", int(bool(label)), time.time()),
        )
        db.executemany(
            "UPDATE cluster_members SET cluster_id=?, pinned=1 WHERE finding_id=?", [(new_id, f) for f in finding_ids]
        )
        db.execute("UPDATE cluster_members SET pinned=1 WHERE cluster_id=?", (cid,))
        _log(ws, "split", {"cluster": cid, "new": new_id, "findings": list(finding_ids)})
    _refresh(ws)
    return new_id


def move(ws: Workspace, finding_id: str, target: str) -> None:
    """Put one finding into another common problem (pinned there)."""
    _require_cluster(ws, target)
    _require_findings(ws, [finding_id])
    db = ws.catalogue.db
    with db:
        db.execute(
            "INSERT INTO cluster_members (finding_id, cluster_id, pinned) VALUES (?, ?, 1)" + _UPSERT_MEMBER,
            (finding_id, target),
        )
        _log(ws, "move", {"finding": finding_id, "target": target})
    _refresh(ws)


def remove(ws: Workspace, finding_id: str) -> None:
    """Take a finding out of its common problem; it stays out (pinned as unclustered)."""
    _require_findings(ws, [finding_id])
    db = ws.catalogue.db
    with db:
        db.execute(
            "INSERT INTO cluster_members (finding_id, cluster_id, pinned) VALUES (?, NULL, 1)" + _UPSERT_MEMBER,
            (finding_id,),
        )
        _log(ws, "remove", {"finding": finding_id})
    _refresh(ws)


def edits(ws: Workspace) -> list[dict]:
    rows = ws.catalogue.db.execute("SELECT seq, at, action, payload FROM cluster_edits ORDER BY seq")
    return [{"seq": s, "at": at, "action": a, **json.loads(p)} for s, at, a, p in rows]
