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

import hashlib
import itertools
import json
import sqlite3
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from miner.ranking import describe_span, systemic_score
from miner.records import CommonProblem, Finding
from miner.store import COUNTED

if TYPE_CHECKING:
    import numpy as np

    from miner.cluster import Clusterer
    from miner.pipeline import Workspace

# Reading is free: names, keywords, word counts, the typical-first order and names for every
# proper subset of a cluster's issuer kinds are computed when clusters change and stored
# (store.py, ``cluster_views`` …); :func:`problems` only reads them. ``VIEWS_KEY`` in meta holds
# the digest of the memberships they were computed for, so a read can tell they are current.
VIEWS_KEY = "cluster_views"
MAX_SCOPED_KINDS = 6  # a cluster spanning more kinds gets names for its subsets on demand
_MEMO: dict[tuple[str, str, str], tuple[str, list[str], list[str]]] = {}  # scoped names made in this process


class EditError(ValueError):
    """An analyst edit that cannot be applied (unknown id, empty selection …)."""


def _embeddings(ws: Workspace, findings: Sequence[Finding]) -> np.ndarray | None:
    from miner.indexing import embedder_for

    if not findings:
        return None
    return embedder_for(ws).encode([f.text for f in findings])


def _new_id(first_finding: str) -> str:
    return f"c-{first_finding}"


def _digest(parts: Sequence[object]) -> str:
    return hashlib.sha1("\x1f".join(map(str, parts)).encode("utf-8")).hexdigest()[:20]


def members_key(findings: Sequence[Finding]) -> str:
    """Which findings (and which spans of text) a stored name or order was made from."""
    return _digest(sorted(f"{f.id}:{f.start}:{f.end}" for f in findings))


def _versions(db: sqlite3.Connection) -> dict[str, str]:
    """Per cluster, a digest of its counted members and everything names, order and score read."""
    rows = db.execute(
        'SELECT m.cluster_id, f.id, f.start, f."end", f.confidence, f.unit, d.issuer_kind, d.issuer, d.year,'
        " d.units, d.id FROM cluster_members m JOIN findings f ON f.id = m.finding_id"
        f" JOIN documents d ON d.id = f.document_id WHERE m.cluster_id IS NOT NULL AND {COUNTED}"
        " ORDER BY m.cluster_id, f.id"
    )
    out: dict[str, str] = {}
    for cid, group in itertools.groupby(rows, key=lambda r: r[0]):
        out[cid] = _digest([tuple(r[1:]) for r in group])
    return out


def _state(versions: dict[str, str]) -> str:
    return _digest(sorted(versions.items()))


def views_current(ws: Workspace) -> bool:
    """Whether the stored names, keywords, order and scores match the memberships (read-only)."""
    db = ws.catalogue.db
    return ws.catalogue.get_meta(VIEWS_KEY) == _state(_versions(db))


def update(ws: Workspace, clusterer: Clusterer | None = None, *, rebuild: bool = False) -> int:
    """Bring clusters up to date with the catalogue; returns how many findings were placed.

    First run (or ``rebuild``): cluster every finding not pinned by an analyst.
    Later runs: only findings the clustering has not seen yet are placed. With nothing new
    and the stored views current this only reads two queries: no embedder, no clustering.
    """
    cat = ws.catalogue
    db = cat.db
    if not rebuild:
        unseen = db.execute(
            f"SELECT 1 FROM findings f WHERE {COUNTED} AND f.id NOT IN (SELECT finding_id FROM cluster_members) LIMIT 1"
        ).fetchone()
        if unseen is None:
            _refresh(ws)  # cheap when nothing changed: it compares digests first
            return 0
    from miner.cluster import Clusterer, ClusterMembers

    clusterer = clusterer or Clusterer()
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
        db.executemany(
            "INSERT INTO clusters (id, label, created_at) VALUES (?, '', ?) ON CONFLICT (id) DO NOTHING",
            [(cid, now) for cid in sorted({c for c in placed.values() if c})],
        )
        db.executemany(
            "INSERT INTO cluster_members (finding_id, cluster_id, pinned) VALUES (?, ?, 0)"
            " ON CONFLICT (finding_id) DO UPDATE SET cluster_id = excluded.cluster_id, pinned = 0",
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


def _refresh(ws: Workspace, *, force: bool = False) -> None:
    """Recompute and store what reading common problems needs, for the clusters that changed.

    Per changed cluster (its members' digest differs from the stored one): word counts,
    the typical-first order, names for each proper subset of its issuer kinds (what a reader
    granted some kinds, or a filter on kinds, is shown), score and span. Across clusters:
    c-TF-IDF keywords from the stored word counts, and the name (unless an analyst locked it)
    of every cluster whose members or keywords changed — so the result equals a full
    recomputation. Empty clusters are dropped.
    """
    cat = ws.catalogue
    db = cat.db
    versions = _versions(db)
    state = _state(versions)
    if not force and cat.get_meta(VIEWS_KEY) == state:
        return
    if not versions and db.execute("SELECT 1 FROM clusters UNION ALL SELECT 1 FROM cluster_views").fetchone() is None:
        cat.set_meta(VIEWS_KEY, state)  # no common problems at all: nothing to compute
        return
    from miner.naming import keywords_from_bags, name_cluster, type_hits, word_bags
    from miner.segment import tokenize

    stored = {r[0]: (r[1], r[2]) for r in db.execute("SELECT cluster_id, version, words FROM cluster_views")}
    info = {r[0]: (r[1], r[2], r[3]) for r in db.execute("SELECT id, label, label_locked, keywords FROM clusters")}
    changed = [cid for cid in sorted(versions) if force or cid not in stored or stored[cid][0] != versions[cid]]
    # members in the order they were placed (rowid), as names were always made from
    members: dict[str, list[str]] = defaultdict(list)
    for fid, cid in db.execute("SELECT finding_id, cluster_id FROM cluster_members WHERE cluster_id IS NOT NULL"):
        members[cid].append(fid)
    clusters = _member_findings(cat, members, changed)

    segmented: dict[str, list[str]] = {}

    def tok(text: str) -> list[str]:
        """segment.tokenize, once per text: names of kind subsets segment the same members again."""
        words = segmented.get(text)
        if words is None:
            words = segmented[text] = tokenize(text)
        return words

    bags: dict[str, Counter] = {}
    for cid in versions:
        if cid in clusters:
            fs = clusters[cid]
            bags[cid] = word_bags([tok(f.text) for f in fs], [0] * len(fs))[0]
        else:
            bags[cid] = Counter(json.loads(stored[cid][1]))
    kw = keywords_from_bags(bags)
    words = {cid: [w for w, _ in kw.get(cid, [])][:8] for cid in versions}
    renamed = sorted(
        cid for cid in versions if cid in clusters or words[cid] != json.loads(info.get(cid, ("", 0, "[]"))[2] or "[]")
    )
    clusters.update(_member_findings(cat, members, [c for c in renamed if c not in clusters]))

    embs: dict[str, np.ndarray | None] = {}

    def emb(cid: str) -> np.ndarray | None:
        if cid not in embs:
            embs[cid] = _embeddings(ws, clusters[cid])
        return embs[cid]

    # the standard problem types each member names, matched once for all of them
    named = sorted(set(renamed) | set(changed))
    first: dict[str, int] = {}
    texts: list[str] = []
    for cid in named:
        first[cid] = len(texts)
        texts.extend(f.text for f in clusters[cid])
    clause_hits, text_hits = type_hits(texts) if texts else (None, None)

    def hits(cid: str, rows: Sequence[int]) -> tuple:
        idx = [first[cid] + i for i in rows]
        return clause_hits[idx], text_hits[idx]

    label_rows, view_rows, typical_rows, scoped_rows = [], [], [], []
    for cid in renamed:
        fs = clusters[cid]
        label, locked, _ = info.get(cid, ("", 0, "[]"))
        if not locked:
            texts_ = [f.text for f in fs]
            label = name_cluster(texts_, emb(cid), words[cid], tokenizer=tok, hits=hits(cid, range(len(fs)))).headline
        label_rows.append(
            (label, json.dumps(words[cid], ensure_ascii=False), systemic_score(fs), describe_span(fs), cid)
        )
    for cid in changed:
        fs = clusters[cid]
        e = emb(cid)
        for f, sim in zip(fs, _typicality(e, len(fs))):
            typical_rows.append((f.id, cid, sim))
        view_rows.append((cid, versions[cid], json.dumps(bags[cid], ensure_ascii=False), len(fs)))
        row_of = {f.id: i for i, f in enumerate(fs)}
        for shown in _kind_subsets(fs):
            rows = [row_of[f.id] for f in shown]
            label_s, keywords_s, order_s = _name_subset(shown, None if e is None else e[rows], hits(cid, rows), tok)
            scoped_rows.append(
                (cid, members_key(shown), label_s, json.dumps(keywords_s, ensure_ascii=False), json.dumps(order_s))
            )
    gone = sorted((set(info) | set(stored)) - set(versions))  # emptied, or merged away by an edit
    with db:
        db.executemany("UPDATE clusters SET label=?, keywords=?, score=?, span=? WHERE id=?", label_rows)
        db.executemany("DELETE FROM clusters WHERE id=?", [(c,) for c in gone])
        for table in ("cluster_views", "cluster_names"):
            db.executemany(f"DELETE FROM {table} WHERE cluster_id=?", [(c,) for c in [*changed, *gone]])
        db.execute(
            "DELETE FROM cluster_typical WHERE cluster_id NOT IN (SELECT cluster_id FROM cluster_views)"
            " OR finding_id NOT IN (SELECT finding_id FROM cluster_members WHERE cluster_id IS NOT NULL)"
        )
        db.executemany(
            "INSERT INTO cluster_views (cluster_id, version, words, size) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (cluster_id) DO UPDATE SET version = excluded.version, words = excluded.words,"
            " size = excluded.size",
            view_rows,
        )
        db.executemany(
            "INSERT INTO cluster_typical (finding_id, cluster_id, typicality) VALUES (?, ?, ?)"
            " ON CONFLICT (finding_id) DO UPDATE SET cluster_id = excluded.cluster_id,"
            " typicality = excluded.typicality",
            typical_rows,
        )
        db.executemany(
            "INSERT INTO cluster_names (cluster_id, members, label, keywords, typical) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (cluster_id, members) DO UPDATE SET label = excluded.label,"
            " keywords = excluded.keywords, typical = excluded.typical",
            scoped_rows,
        )
        db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (VIEWS_KEY, state),
        )


def _member_findings(cat, members: dict[str, list[str]], cids: Sequence[str]) -> dict[str, list[Finding]]:
    """The counted findings of clusters ``cids``, each in its members' order."""
    wanted = [fid for cid in cids for fid in members[cid]]
    by_id: dict[str, Finding] = {}
    for i in range(0, len(wanted), 5000):  # SQLite's limit on bound parameters
        by_id.update((f.id, f) for f in cat.findings(ids=wanted[i : i + 5000]))
    return {cid: [by_id[f] for f in members[cid] if f in by_id] for cid in cids}


def _typicality(emb: np.ndarray | None, n: int) -> list[float]:
    """Each member's closeness to the cluster's centre (dot product with the mean vector)."""
    if emb is None or n < 3:
        return [0.0] * n
    sims = emb @ emb.mean(axis=0)
    return [round(float(s), 6) for s in sims]


def _kind_subsets(fs: list[Finding]) -> list[list[Finding]]:
    """The members a reader (or filter) limited to each proper subset of the cluster's issuer kinds sees."""
    kinds = sorted({f.issuer_kind for f in fs})
    if len(kinds) < 2 or len(kinds) > MAX_SCOPED_KINDS:
        return []
    out = []
    for r in range(1, len(kinds)):
        for subset in itertools.combinations(kinds, r):
            out.append(sorted((f for f in fs if f.issuer_kind in subset), key=lambda f: f.id))
    return out


def _name_subset(
    fs: Sequence[Finding], emb: np.ndarray | None, hits: tuple | None = None, tokenizer: Callable | None = None
) -> tuple[str, list[str], list[str]]:
    """Name, keywords and typical-first order made from ``fs`` (in id order; ``emb`` and the
    problem types they name, ``hits``, aligned) alone."""
    from miner.naming import name_cluster

    named = name_cluster([f.text for f in fs], emb, tokenizer=tokenizer, hits=hits)
    ordered = sorted(fs, key=lambda f: (f.document, f.start))
    sims = _typicality(emb, len(fs))
    pos = {f.id: i for i, f in enumerate(fs)}
    if len(fs) >= 3:
        ordered = sorted(ordered, key=lambda f: (-sims[pos[f.id]], ordered.index(f)))
    return named.headline, list(named.keywords), [f.id for f in ordered]


def scoped_name(ws: Workspace, cid: str, fs: Sequence[Finding]) -> tuple[str, list[str], list[str]]:
    """(label, keywords, finding ids typical first) of cluster ``cid`` as made from ``fs`` only.

    Read from what :func:`_refresh` stored for each subset of issuer kinds; another subset
    (a year filter on top, a finding kept from the reader by a sharing rule) is computed
    here and kept for the life of the process. Keyed by the findings shown, so a name is
    never made from a finding the reader may not see.
    """
    key = members_key(fs)
    row = ws.catalogue.db.execute(
        "SELECT label, keywords, typical FROM cluster_names WHERE cluster_id = ? AND members = ?", (cid, key)
    ).fetchone()
    if row is not None:
        return row[0], json.loads(row[1]), json.loads(row[2])
    memo = (str(ws.root), cid, key)
    if memo not in _MEMO:
        ordered = sorted(fs, key=lambda f: f.id)
        if len(_MEMO) > 20000:
            _MEMO.clear()
        _MEMO[memo] = _name_subset(ordered, _embeddings(ws, ordered))
    return _MEMO[memo]


def problems(
    ws: Workspace,
    *,
    min_size: int = 2,
    filters: dict | None = None,
    min_bodies: int = 1,
    recurrences: bool = True,
    findings: Sequence[Finding] | None = None,
) -> list[CommonProblem]:
    """Common problems, most systemic first, optionally over a subset of findings.

    ``filters`` (issuer_kind, year, unit, batch_id, document, issuer; values or lists)
    select findings; a cluster is shown with its findings in the subset, and its
    score and span are computed over that subset. Names, keywords and order are read
    as stored (see :func:`_refresh`). ``recurrences``: put each problem's cross-year
    chains on it (exports show them; the lists of the CLI and API do not, and skip it).
    ``findings``: the catalogue's findings when the caller has read them already.
    """
    cat = ws.catalogue
    if findings is None:
        findings = cat.findings()
    by_id = {f.id: f for f in findings}
    if filters:
        from miner.filters import FilterColumns  # the search stage's filter language

        ids = list(by_id)
        mask = FilterColumns(ids, by_id).mask(filters)
        selected = set(ids) if mask is None else {i for i, keep in zip(ids, mask) if keep}
    else:
        selected = set(by_id)
    rows = cat.db.execute(
        "SELECT c.id, c.label, c.keywords, c.note, c.label_locked, m.finding_id, t.typicality FROM clusters c"
        " JOIN cluster_members m ON m.cluster_id = c.id"
        " LEFT JOIN cluster_typical t ON t.finding_id = m.finding_id AND t.cluster_id = c.id"
        " ORDER BY c.id, m.finding_id"
    ).fetchall()
    # score and span as stored, for a cluster shown whole with the members they were made of
    stored = {
        r[0]: (r[1], r[2], r[3])
        for r in cat.db.execute(
            "SELECT c.id, c.score, c.span, v.size FROM clusters c JOIN cluster_views v ON v.cluster_id = c.id"
        )
    }
    grouped: dict[str, CommonProblem] = {}
    hidden: set[str] = set()
    locked: set[str] = set()
    typicality: dict[str, float] = {}
    for cid, label, keywords, note, is_locked, fid, typical in rows:
        f = by_id.get(fid)
        if is_locked:
            locked.add(cid)
        if f is None or fid not in selected:
            hidden.add(cid)
            continue
        p = grouped.get(cid)
        if p is None:
            p = grouped[cid] = CommonProblem(id=cid, label=label, keywords=json.loads(keywords), note=note)
        p.findings.append(f)
        typicality[fid] = typical or 0.0
    out = []
    for p in grouped.values():
        if len(p.findings) < min_size or len({f.issuer_kind for f in p.findings}) < min_bodies:
            continue
        p.findings.sort(key=lambda f: (f.document, f.start))
        if p.id in hidden and p.id not in locked and filters and "issuer_kind" in filters:
            # Restricted to some kinds of report (access scope or filter): the name made from the
            # findings shown, so no wording of a report outside the selection leaks into the label.
            p.label, p.keywords, order = scoped_name(ws, p.id, p.findings)
            pos = {fid: i for i, fid in enumerate(order)}
            p.findings.sort(key=lambda f: pos.get(f.id, len(pos)))
        elif len(p.findings) >= 3:
            reading = {f.id: i for i, f in enumerate(p.findings)}
            p.findings.sort(key=lambda f: (-typicality[f.id], reading[f.id]))
        whole = stored.get(p.id) if p.id not in hidden else None
        if whole is not None and whole[2] == len(p.findings):
            p.score, p.span = whole[0], whole[1]
        else:  # a subset (filters, scope), or views not refreshed yet: over the findings shown
            p.score = systemic_score(p.findings)
            p.span = describe_span(p.findings)
        out.append(p)
    out.sort(key=lambda p: (-p.score, -len(p.findings), p.id))
    if not recurrences:
        return out
    from miner import recurrence

    return recurrence.annotate(ws, out)  # cross-year chains of each problem, for views and exports


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
            "INSERT INTO cluster_members (finding_id, cluster_id, pinned) VALUES (?, ?, 1)"
            " ON CONFLICT (finding_id) DO UPDATE SET cluster_id = excluded.cluster_id, pinned = 1",
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
            "INSERT INTO cluster_members (finding_id, cluster_id, pinned) VALUES (?, NULL, 1)"
            " ON CONFLICT (finding_id) DO UPDATE SET cluster_id = NULL, pinned = 1",
            (finding_id,),
        )
        _log(ws, "remove", {"finding": finding_id})
    _refresh(ws)


def edits(ws: Workspace) -> list[dict]:
    rows = ws.catalogue.db.execute("SELECT seq, at, action, payload FROM cluster_edits ORDER BY seq")
    return [{"seq": s, "at": at, "action": a, **json.loads(p)} for s, at, a, p in rows]
