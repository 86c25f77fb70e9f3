"""What one API user may see: findings, documents, batches, common problems and edits in scope.

Every route answers from a :class:`Scope`, so nothing outside the caller's issuer
kinds can reach a response: not a text, an id, a file name, a unit or issuer name,
nor a count. Two things need more than a filter:

- **cluster ids**. The catalogue names a common problem after its first finding
  (``c-<document id>-NNN``, stable for the CLI), which would tell an auditor the id
  of a discipline report in a mixed cluster. The API shows an opaque id instead:
  an HMAC of the catalogue id under a per-workspace secret (``p-…``), stable while
  the cluster lives, the same for every user, and meaningless without the secret;
- **edits**. A writer may only edit common problems made wholly of findings they
  may read; anything else is answered exactly like an unknown id.

**Sharing rules** (:mod:`miner.sharing`) are enforced here too, once for every route. An
unverified case lead, a lead document, or an item an analyst restricted stays with the body
that wrote it: a user sees it when :func:`miner.sharing.may_see` allows (administrators, granted
``*``, and users granted exactly that one issuer kind). For every other user the scope
*confines* its catalogue snapshot: temporary views named like the catalogue's tables
(``documents``, ``findings``, ``rectifications``, ``problem_status``, ``status_history``,
``restrictions``, ``review_decisions``, ``unit_aliases``) shadow them on the request's own
read-only connection (SQLite and PostgreSQL both resolve a name in the temp schema first), so every library
function a route calls — listings, search hits, common problems, unit profiles, recurrence
chains, exports — sees only documents and findings in scope, without a filter per route.
Hidden statements inside a readable document are blacked out (``■``, offsets kept) in its text.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable, Iterable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from miner import access, sharing
from miner.pipeline import make_filters
from miner.records import CommonProblem, Finding

if TYPE_CHECKING:
    from api.deps import ReadView

SECRET_FILE = "api_secret"
MASK = "■"


# The catalogue as a confined user sees it: temporary views that shadow the tables by name.
# {main}: the catalogue's own schema (SQLite ``main``, the workspace's PostgreSQL schema), {temp}: the
# connection's temp schema (``temp`` / ``pg_temp``), both searched first for an unqualified name.
_CONFINED_VIEWS = {
    "documents": "SELECT * FROM {main}.documents WHERE issuer_kind IN (SELECT kind FROM {temp}.scope_kinds)"
    " AND id NOT IN (SELECT id FROM {temp}.scope_hidden_documents)",
    "findings": "SELECT * FROM {main}.findings WHERE document_id IN (SELECT id FROM {temp}.documents)"
    " AND id NOT IN (SELECT id FROM {temp}.scope_hidden_findings)",
    "review_decisions": "SELECT * FROM {main}.review_decisions WHERE finding_id IN (SELECT id FROM {temp}.findings)",
    "rectifications": 'SELECT id, document_id, seq, start, "end", page,'
    " CASE WHEN r.unit = '' OR r.unit IN (SELECT name FROM {temp}.scope_names) THEN r.unit ELSE '' END AS unit,"
    " problem, measures, amount_wan, status, date,"
    " CASE WHEN finding_id IN (SELECT id FROM {temp}.findings) THEN finding_id END AS finding_id,"
    " CASE WHEN finding_id IN (SELECT id FROM {temp}.findings) THEN link_score END AS link_score, linked_by"
    " FROM {main}.rectifications r WHERE document_id IN (SELECT id FROM {temp}.documents)",
    "problem_status": "SELECT * FROM {main}.problem_status WHERE finding_id IN (SELECT id FROM {temp}.findings)",
    "status_history": "SELECT * FROM {main}.status_history WHERE finding_id IN (SELECT id FROM {temp}.findings)",
    "restrictions": "SELECT * FROM {main}.restrictions WHERE (target_kind = 'finding' AND target_id IN"
    " (SELECT id FROM {temp}.findings))"
    " OR (target_kind = 'document' AND target_id IN (SELECT id FROM {temp}.documents))",
    # an analyst's alias is shown to those who may read statements or reports that name both of its names
    "unit_aliases": "SELECT * FROM {main}.unit_aliases WHERE alias IN (SELECT name FROM {temp}.scope_names)"
    " AND canonical IN (SELECT name FROM {temp}.scope_names)",
}
_CONFINED_TABLES = ("scope_kinds", "scope_hidden_documents", "scope_hidden_findings", "scope_names")
OWNERS_FILE = "api_batch_owners.json"


def workspace_secret(root: Path) -> bytes:
    """The workspace's key for opaque ids, created once (owner-only file)."""
    path = Path(root) / SECRET_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def public_cluster_id(secret: bytes, cluster_id: str) -> str:
    return "p-" + hmac.new(secret, cluster_id.encode("utf-8"), hashlib.sha256).hexdigest()[:20]


class BatchOwners:
    """Who uploaded which batch through the API, so the uploader sees their failed files.

    Kept beside the catalogue (the catalogue schema belongs to miner.store); written
    under the API's write lock.
    """

    def __init__(self, root: Path):
        self.path = Path(root) / OWNERS_FILE
        self._owners: dict[str, str] = json.loads(self.path.read_text("utf-8")) if self.path.exists() else {}

    def get(self, batch_id: str) -> str | None:
        return self._owners.get(batch_id)

    def set(self, batch_id: str, user: str) -> None:
        self._owners[batch_id] = user
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._owners, ensure_ascii=False), "utf-8")
        tmp.chmod(0o600)
        tmp.replace(self.path)


class NotInScope(LookupError):
    """Unknown, or outside the caller's scope: both are answered the same way."""


def hidden_by_sharing(catalogue, user: access.User) -> tuple[set[str], set[str]]:
    """(finding ids, document ids) of restricted items this user may not see, among their kinds.

    Read from the catalogue's own tables (call it before :func:`confine`).
    """
    kinds = user.allowed_kinds()
    if kinds is None or all(sharing.may_see(k, kinds) for k in kinds):
        return set(), set()  # an administrator, or a user of one body: kinds already decide
    findings = {fid for fid, r in sharing.restrictions(catalogue).items() if not sharing.may_see(r.owner_kind, kinds)}
    owner = {r[0]: r[1] for r in catalogue.db.execute("SELECT id, issuer_kind FROM documents")}
    documents = {
        d for d in sharing.restricted_document_ids(catalogue) if d in owner and not sharing.may_see(owner[d], kinds)
    }
    return findings, documents


def said_names(catalogue, kinds: list[str], hidden_findings: set[str], hidden_documents: set[str]) -> set[str]:
    """Names stored beside the reports (analysts' unit aliases, the unit of a rectification record)
    that a report in scope says, outside its hidden statements.

    A unit known only from a report the caller may not read (or from a hidden lead) keeps its
    name hidden with it. Read once per request from the texts in scope, only when such names exist.
    """
    db = catalogue.db
    main = _main(db)
    names = {n for r in db.execute(f"SELECT alias, canonical FROM {main}.unit_aliases") for n in r if n}
    marks = ",".join("?" * len(kinds))
    names |= {
        r[0]
        for r in db.execute(
            f"SELECT DISTINCT r.unit FROM {main}.rectifications r JOIN {main}.documents d ON d.id = r.document_id"
            f" WHERE r.unit != '' AND d.issuer_kind IN ({marks})",
            kinds,
        )
    }
    said: set[str] = set()
    if not names:
        return said
    rows = db.execute(
        f"SELECT id, text, title, issuer, units FROM {main}.documents WHERE issuer_kind IN ({marks})", kinds
    )
    for doc_id, text, *meta in rows:
        if doc_id in hidden_documents:
            continue
        if hidden_findings:
            spans = db.execute(f'SELECT id, start, "end" FROM {main}.findings WHERE document_id = ?', (doc_id,))
            for fid, start, end in spans.fetchall():
                if fid in hidden_findings:
                    text = text[:start] + MASK * (end - start) + text[end:]
        seen = "\n".join([text, *meta])
        said |= {n for n in names - said if n in seen}
        if said == names:
            break
    return said


def _main(db) -> str:
    """The schema of the catalogue's own tables on this connection (past the scope's temp views)."""
    return getattr(db, "main", "main")


def confine(catalogue, kinds: list[str], hidden_findings: set[str], hidden_documents: set[str]) -> None:
    """Shadow the catalogue's tables on this (read-only, per-request) connection with views of the scope."""
    db = catalogue.db
    temp = getattr(db, "temp", "temp")
    db.set_query_only(False)  # the temp schema only; the connection itself is read-only
    try:
        for t in _CONFINED_TABLES:
            column = {"scope_kinds": "kind", "scope_names": "name"}.get(t, "id")
            db.execute(f"CREATE TEMP TABLE {t} ({column} TEXT PRIMARY KEY)")
        names = said_names(catalogue, kinds, hidden_findings, hidden_documents)
        db.executemany(f"INSERT INTO {temp}.scope_kinds VALUES (?)", [(k,) for k in kinds])
        db.executemany(f"INSERT INTO {temp}.scope_hidden_documents VALUES (?)", [(d,) for d in hidden_documents])
        db.executemany(f"INSERT INTO {temp}.scope_hidden_findings VALUES (?)", [(f,) for f in hidden_findings])
        db.executemany(f"INSERT INTO {temp}.scope_names VALUES (?)", [(n,) for n in names])
        for name, sql in _CONFINED_VIEWS.items():
            db.execute(f"CREATE TEMP VIEW {name} AS {sql.format(main=_main(db), temp=temp)}")
        db.commit()
    except BaseException:
        db.rollback()
        release(catalogue)
        raise
    finally:
        db.set_query_only(True)


def release(catalogue) -> None:
    """Drop what :func:`confine` made, so the pooled connection sees the catalogue again.

    On PostgreSQL every temp object of the session goes (``DISCARD TEMP``), named here or not.
    """
    db = catalogue.db
    if db.dialect != "sqlite":
        db.release_temp()
        return
    db.set_query_only(False)
    try:
        for name in _CONFINED_VIEWS:
            db.execute(f"DROP VIEW IF EXISTS temp.{name}")
        for t in _CONFINED_TABLES:
            db.execute(f"DROP TABLE IF EXISTS temp.{t}")
        db.commit()
    finally:
        db.set_query_only(True)


class Scope:
    """One user's view of one catalogue snapshot."""

    def __init__(self, user: access.User, view: ReadView, secret: bytes, *, confined: bool = False):
        """``confined``: the view's catalogue is this request's own connection, to be shadowed
        with the scope's views (see :func:`confine`); otherwise (the writer's catalogue) the
        scope filters by its sets alone."""
        self.user = user
        self.view = view
        self.secret = secret
        self.kinds = user.allowed_kinds()  # None: every kind
        self.hidden_findings, self.hidden_documents = hidden_by_sharing(view.catalogue, user)
        self.confined = confined and self.kinds is not None
        if self.confined:
            confine(view.catalogue, list(self.kinds or []), self.hidden_findings, self.hidden_documents)
        self._labels: dict[str, tuple[str, str]] = {}
        self.audit: dict | None = None  # this request's audit entry (api.deps), told how many items went out

    def close(self) -> None:
        if self.confined:
            release(self.view.catalogue)
            self.confined = False

    @property
    def restricted(self) -> bool:
        return self.kinds is not None

    def may_read(self, issuer_kind: str) -> bool:
        return self.user.may_read(issuer_kind)

    def may_see(self, issuer_kind: str, finding_id: str = "", document_id: str = "") -> bool:
        """The kind may be read, and the item is not kept from this user by a sharing rule."""
        return (
            self.may_read(issuer_kind)
            and finding_id not in self.hidden_findings
            and document_id not in self.hidden_documents
        )

    # ------------------------------------------------------------------ findings and documents

    def has_hidden_parts(self, doc_id: str) -> bool:
        """The document holds statements hidden from this user (a case lead of another body).

        Its text is shown with them blacked out, but the original file and its rendered
        pages cannot be: they are not handed out at all.
        """
        return any(f.startswith(f"{doc_id}-") for f in self.hidden_findings)

    @cached_property
    def findings(self) -> list[Finding]:
        return [f for f in self.view.catalogue.findings() if self.may_see(f.issuer_kind, f.id, f.doc_id)]

    @cached_property
    def finding_ids(self) -> set[str]:
        return {f.id for f in self.findings}

    def documents(self) -> list[dict]:
        return [
            _public_document(d)
            for d in self.view.catalogue.documents()
            if self.may_see(d["issuer_kind"], document_id=d["id"])
        ]

    def document(self, key: str, with_text: bool = False) -> dict:
        """A document by id or file name (of the documents so named, one the user may read)."""
        rows = self.view.catalogue.db.execute(
            "SELECT id, issuer_kind FROM documents WHERE id = ? OR name = ? ORDER BY id = ? DESC, id", (key, key, key)
        )
        doc_id = next((r[0] for r in rows if self.may_see(r[1], document_id=r[0])), None)
        doc = self.view.catalogue.document(doc_id, with_text=with_text) if doc_id else None
        if doc is None:
            raise NotInScope(key)
        if with_text and self.hidden_findings:
            spans = self.view.catalogue.db.execute(
                f'SELECT id, start, "end" FROM {_main(self.view.catalogue.db)}.findings WHERE document_id = ?',
                (doc["id"],),
            )
            for fid, start, end in spans:
                if fid in self.hidden_findings:
                    for key_ in ("text", "source_text"):
                        t = doc[key_]
                        doc[key_] = t[:start] + MASK * len(t[start:end]) + t[end:]
        return _public_document(doc)

    def finding(self, finding_id: str) -> Finding:
        found = self.view.catalogue.findings(ids=[finding_id], review=None)
        if not found or not self.may_see(found[0].issuer_kind, found[0].id, found[0].doc_id):
            raise NotInScope(finding_id)
        return found[0]

    def top_visible(self, ranked: Callable[[int], list[tuple[str, float]]], k: int) -> list[tuple[str, float]]:
        """The best ``k`` hits this user may see from a ranking asked for ``n`` hits at a time.

        Findings a sharing rule keeps from the user are in the index and would take places in
        the top ``k``, leaving a restricted user with fewer hits than others: ask for more,
        doubling, until ``k`` visible ones are found or the ranking runs out.
        """
        n = k + len(self.hidden_findings)
        while True:
            hits = ranked(n)
            seen = [(i, s) for i, s in hits if i in self.finding_ids]
            if len(seen) >= k or len(hits) < n or n >= 10 * k + len(self.hidden_findings) + 1000:
                return seen[:k]
            n *= 2

    def visible(self, rows: Iterable[Finding]) -> list[Finding]:
        """Findings (e.g. of a document or the review list) this user may see."""
        return [f for f in rows if self.may_see(f.issuer_kind, f.id, f.doc_id)]

    def kinds_for(self, requested: list[str] | None) -> list[str] | None:
        """Issuer kinds a query may touch: the requested ones the user may read (None = no limit)."""
        if self.kinds is None:
            return requested
        if requested is None:
            return list(self.kinds)
        return [k for k in requested if k in self.kinds] or ["\x00none"]

    def filters(self, **analyst: object) -> dict:
        """Analyst filters resolved over the findings in scope only (unit and issuer names included)."""
        kinds = analyst.pop("issuer_kind", None)
        return make_filters(self.findings, issuer_kind=self.kinds_for(kinds), **analyst)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ common problems

    def cluster_id(self, catalogue_id: str) -> str:
        return public_cluster_id(self.secret, catalogue_id)

    @cached_property
    def mixed_clusters(self) -> set[str]:
        """Clusters holding at least one finding outside this scope (other kinds, or kept by sharing)."""
        if self.kinds is None:
            return set()
        db = self.view.catalogue.db
        main = _main(db)
        rows = db.execute(
            f"SELECT m.cluster_id, m.finding_id, d.issuer_kind, d.id FROM {main}.cluster_members m"
            f" JOIN {main}.findings f ON f.id = m.finding_id JOIN {main}.documents d ON d.id = f.document_id"
            " WHERE m.cluster_id IS NOT NULL"
        )
        return {cid for cid, fid, kind, did in rows if not self.may_see(kind, fid, did)}

    def problems(
        self, *, min_size: int = 2, min_bodies: int = 1, recurrences: bool = True, **analyst: object
    ) -> list[CommonProblem]:
        """Common problems over the findings in scope, with opaque ids and nothing from outside.

        The catalogue's keywords of a cluster that also holds findings outside the
        scope were computed over all of them; those made from what is shown are used
        (stored per subset of issuer kinds, see :func:`miner.problems.scoped_name`).
        """
        from miner import problems

        flt = self.filters(**analyst)
        out = problems.problems(
            self.view,  # type: ignore[arg-type]
            min_size=min_size,
            filters=flt,
            min_bodies=min_bodies,
            recurrences=recurrences,
            findings=self.findings,  # read once per request: the filters were resolved over them
        )
        for p in out:
            if p.id in self.mixed_clusters:
                p.keywords = problems.scoped_name(self.view, p.id, p.findings)[1]  # type: ignore[arg-type]
            public = self.cluster_id(p.id)
            self._labels[p.id] = (public, p.label)
            p.id = public
        if self.audit is not None:
            self.audit["items"] = len(out)
        return out

    @cached_property
    def labels(self) -> dict[str, tuple[str, str]]:
        """Catalogue cluster id → (opaque id, label as this user is shown it), for every problem in scope."""
        self.problems(min_size=1, recurrences=False)
        return dict(self._labels)

    def problem(self, public_id: str) -> CommonProblem:
        found = [p for p in self.problems(min_size=1, recurrences=False) if p.id == public_id]
        if not found:
            raise NotInScope(public_id)
        return found[0]

    def edits(self, entries: Iterable[dict]) -> list[dict]:
        """The edit log, keeping entries about findings and common problems wholly in scope."""
        db = self.view.catalogue.db
        members: dict[str, list[str]] = {}
        for fid, cid in db.execute("SELECT finding_id, cluster_id FROM cluster_members WHERE cluster_id IS NOT NULL"):
            members.setdefault(cid, []).append(fid)
        readable = self.finding_ids
        out = []
        for e in entries:
            clusters = [e[k] for k in ("cluster", "target", "new") if isinstance(e.get(k), str)] + list(
                e.get("others") or []
            )
            fids = [e["finding"]] if isinstance(e.get("finding"), str) else list(e.get("findings") or [])
            if not all(f in readable for f in fids):
                continue
            if self.restricted and not all(c in members and set(members[c]) <= readable for c in clusters):
                continue
            shown = dict(e)
            for k in ("cluster", "target", "new"):
                if isinstance(shown.get(k), str):
                    shown[k] = self.cluster_id(shown[k])
            if "others" in shown:
                shown["others"] = [self.cluster_id(c) for c in shown["others"]]
            out.append(shown)
        return out

    # ------------------------------------------------------------------ batches

    def batch(self, batch: dict, owner: str | None) -> dict | None:
        """A batch with only the files this user may know of; None when that is none of them."""
        docs = {
            r[0]: r[1]
            for r in self.view.catalogue.db.execute("SELECT id, issuer_kind FROM documents")
            if r[0] not in self.hidden_documents
        }
        mine = owner is not None and owner == self.user.name
        files = []
        for f in batch["files"]:
            doc_kind = docs.get(f["document_id"]) if f.get("document_id") else None
            readable_doc = doc_kind is not None and self.may_see(doc_kind, document_id=f["document_id"])
            if not (readable_doc or mine or not self.restricted):
                continue
            shown = {k: f[k] for k in ("name", "status", "message", "findings", "document_id")}
            if not readable_doc:
                shown["document_id"] = None
                shown["findings"] = 0
                if f["status"] == "duplicate":
                    shown["message"] = "与已有文档内容相同 / same content as a document already in the workspace"
            files.append(shown)
        if not files and not (mine or not self.restricted):
            return None
        counts = {s: sum(1 for f in files if f["status"] == s) for s in ("ok", "duplicate", "failed")}
        return {
            "id": batch["id"],
            "created_at": batch["created_at"],
            "label": batch["label"],
            "overrides": batch["overrides"],
            "files": files,
            "counts": counts,
        }


def _public_document(doc: dict) -> dict:
    """A document as the API shows it: no server path."""
    doc.pop("path", None)
    return doc
