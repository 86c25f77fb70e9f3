"""The workspace catalogue: batches, documents, findings and clusters in SQLite or PostgreSQL.

One SQLite file per workspace (or one PostgreSQL schema, ``MINER_DATABASE_URL``; see
:mod:`miner.db`), with a schema version so later releases can migrate it. The DDL is
written once for both engines; only the auto-numbered keys and the audit log's triggers
differ (:func:`schema_sql`). A document and its findings are written in one transaction, so a
crash mid-batch leaves whole documents or none. Vectors live next to it in
chromadb (see :mod:`miner.vectors`); this module only knows the catalogue.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from miner import db as database
from miner.records import DocumentMeta, Finding

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY,
    created_at DOUBLE PRECISION NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    overrides TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS batch_files (
    batch_id TEXT NOT NULL REFERENCES batches(id),
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT,
    status TEXT NOT NULL CHECK (status IN ('ok', 'duplicate', 'failed')),
    message TEXT NOT NULL DEFAULT '',
    document_id TEXT,
    findings INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS batch_files_batch ON batch_files(batch_id);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    pages INTEGER NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    issuer_kind TEXT NOT NULL DEFAULT 'other',
    issuer TEXT NOT NULL DEFAULT '',
    year INTEGER,
    report_kind TEXT NOT NULL DEFAULT '',
    units TEXT NOT NULL DEFAULT '[]',
    doc_number TEXT NOT NULL DEFAULT '',
    traditional INTEGER NOT NULL DEFAULT 0,
    text TEXT NOT NULL,
    source_text TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS findings (
    id TEXT PRIMARY KEY,
    document_id TEXT NOT NULL REFERENCES documents(id),
    seq INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    page INTEGER NOT NULL,
    unit TEXT NOT NULL DEFAULT '',
    heading TEXT NOT NULL DEFAULT '',
    confidence DOUBLE PRECISION NOT NULL DEFAULT 1.0,
    status TEXT NOT NULL DEFAULT 'finding' CHECK (status IN ('finding', 'review'))
);
CREATE INDEX IF NOT EXISTS findings_document ON findings(document_id);
-- An analyst's word on a finding, kept apart from the findings so that it outlives
-- re-extraction and re-clustering: accepted review items count, rejected findings do not.
CREATE TABLE IF NOT EXISTS review_decisions (
    finding_id TEXT PRIMARY KEY,
    decision TEXT NOT NULL CHECK (decision IN ('accepted', 'rejected')),
    at DOUBLE PRECISION NOT NULL,
    who TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS clusters (
    id TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    keywords TEXT NOT NULL DEFAULT '[]',
    score DOUBLE PRECISION NOT NULL DEFAULT 0,
    span TEXT NOT NULL DEFAULT '',
    label_locked INTEGER NOT NULL DEFAULT 0,
    note TEXT NOT NULL DEFAULT '',
    created_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS cluster_members (
    finding_id TEXT PRIMARY KEY REFERENCES findings(id),
    cluster_id TEXT REFERENCES clusters(id),  -- NULL: unclustered (seen by clustering)
    pinned INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS cluster_members_cluster ON cluster_members(cluster_id);
CREATE TABLE IF NOT EXISTS cluster_edits (
    seq {SERIAL},
    at DOUBLE PRECISION NOT NULL,
    action TEXT NOT NULL,
    payload TEXT NOT NULL
);
"""


# Stored views of common problems (miner/problems.py): what reading them needs, computed when
# clusters change so that `miner clusters` and GET /clusters only read. Additive tables, created
# on open; a workspace without them gets them filled by its next clustering update.
_CLUSTER_VIEW_SCHEMA = """
CREATE TABLE IF NOT EXISTS cluster_views (
    cluster_id TEXT PRIMARY KEY,
    version TEXT NOT NULL,              -- digest of the members (ids, spans, metadata) it was made from
    words TEXT NOT NULL DEFAULT '{}',   -- the members' word counts, for keywords across clusters
    size INTEGER NOT NULL DEFAULT 0     -- how many members the stored score and span are of
);
CREATE TABLE IF NOT EXISTS cluster_typical (
    finding_id TEXT PRIMARY KEY,
    cluster_id TEXT NOT NULL,
    typicality DOUBLE PRECISION NOT NULL  -- closeness to the cluster's centre: shown highest first
);
CREATE TABLE IF NOT EXISTS cluster_names (
    cluster_id TEXT NOT NULL,
    members TEXT NOT NULL,              -- digest of the findings shown (a subset of issuer kinds)
    label TEXT NOT NULL,
    keywords TEXT NOT NULL DEFAULT '[]',
    typical TEXT NOT NULL DEFAULT '[]', -- those findings' ids, most typical first
    PRIMARY KEY (cluster_id, members)
);
"""


# The supervision workflow (miner/rectification.py, status.py, units.py, sharing.py,
# auditlog.py): additive tables, created on open, so existing workspaces need no migration.
_WORKFLOW_SCHEMA = """
CREATE TABLE IF NOT EXISTS rectifications (
    id TEXT PRIMARY KEY,
    document_id TEXT NOT NULL REFERENCES documents(id),
    seq INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    page INTEGER NOT NULL DEFAULT 1,
    unit TEXT NOT NULL DEFAULT '',
    problem TEXT NOT NULL,
    measures TEXT NOT NULL DEFAULT '',
    amount_wan DOUBLE PRECISION,
    status TEXT NOT NULL CHECK (status IN ('已整改', '整改中', '未整改')),
    date TEXT NOT NULL DEFAULT '',
    finding_id TEXT,
    link_score DOUBLE PRECISION,
    linked_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS rectifications_document ON rectifications(document_id);
CREATE TABLE IF NOT EXISTS problem_status (
    finding_id TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('', '未整改', '整改中', '已整改', '已销号')),  -- '': deadline only
    deadline TEXT NOT NULL DEFAULT '',
    responsible TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    date TEXT NOT NULL DEFAULT '',
    who TEXT NOT NULL DEFAULT '',
    at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS status_history (
    seq {SERIAL},
    finding_id TEXT NOT NULL,
    status TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    date TEXT NOT NULL DEFAULT '',
    who TEXT NOT NULL DEFAULT '',
    at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS unit_aliases (
    alias TEXT PRIMARY KEY,
    canonical TEXT NOT NULL,
    who TEXT NOT NULL DEFAULT '',
    at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS restrictions (
    target_kind TEXT NOT NULL CHECK (target_kind IN ('finding', 'document')),
    target_id TEXT NOT NULL,
    restricted INTEGER NOT NULL DEFAULT 1,
    reason TEXT NOT NULL DEFAULT '',
    who TEXT NOT NULL DEFAULT '',
    at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (target_kind, target_id)
);
CREATE TABLE IF NOT EXISTS audit_log (
    seq {SERIAL},
    at DOUBLE PRECISION NOT NULL,
    who TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    items INTEGER NOT NULL DEFAULT 0,
    detail TEXT NOT NULL DEFAULT '{}'
);
"""

# The audit log refuses UPDATE and DELETE: trigger syntax is the one thing the engines do not share.
_APPEND_ONLY = {
    "sqlite": """
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
""",
    "postgresql": """
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$;
CREATE OR REPLACE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE OR REPLACE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
""",
}
_SERIAL = {
    "sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT",
    "postgresql": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
}


def schema_sql(dialect: str) -> str:
    """The whole catalogue DDL for one engine (idempotent: run on every open)."""
    ddl = _SCHEMA + _WORKFLOW_SCHEMA + _CLUSTER_VIEW_SCHEMA
    return ddl.replace("{SERIAL}", _SERIAL[dialect]) + _APPEND_ONLY[dialect]


# Which rows of ``findings`` (aliased f, review_decisions aliased r) count as findings,
# and which wait for review.
COUNTED = (
    "((f.status = 'finding' AND COALESCE((SELECT decision FROM review_decisions WHERE finding_id = f.id), '')"
    " != 'rejected') OR (SELECT decision FROM review_decisions WHERE finding_id = f.id) = 'accepted')"
)
_PENDING = "(f.status = 'review' AND NOT EXISTS (SELECT 1 FROM review_decisions WHERE finding_id = f.id))"


def _units(raw: str | None) -> list[str]:
    """Stored units as a list of text, also for rows an older miner wrote unvalidated (e.g. ``5``)."""
    try:
        value = json.loads(raw or "[]")
    except ValueError:
        return [raw] if raw else []
    if isinstance(value, list):
        return [str(v) for v in value if v not in (None, "")]
    return [str(value)] if value not in (None, "") else []


class WorkspaceBusy(RuntimeError):
    """Another process is writing to this workspace."""


class WorkspaceUnusable(RuntimeError):
    """The catalogue cannot be opened: newer schema, not a miner workspace, damaged, or not ours."""


@dataclass
class BatchFile:
    name: str
    path: str
    status: str
    message: str = ""
    sha256: str | None = None
    document_id: str | None = None
    findings: int = 0


class Catalogue:
    """The catalogue of one workspace (SQLite file, or its schema in PostgreSQL: :mod:`miner.db`)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = database.connect(self.path)
            if self.db.dialect == "sqlite":
                self.db.executescript(schema_sql("sqlite"))
            else:
                self._create_postgres_schema()
            row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None:
                with self.db:
                    self.db.execute(
                        "INSERT INTO meta VALUES ('schema_version', ?) ON CONFLICT (key) DO NOTHING",
                        (str(SCHEMA_VERSION),),
                    )
            elif int(row[0]) == 1:
                with self.db:  # version 2: findings carry the problem model's confidence and a review status
                    self.db.execute("ALTER TABLE findings ADD COLUMN confidence DOUBLE PRECISION NOT NULL DEFAULT 1.0")
                    self.db.execute("ALTER TABLE findings ADD COLUMN status TEXT NOT NULL DEFAULT 'finding'")
                    self.db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))
                row = None
        except database.DatabaseError as exc:
            raise WorkspaceUnusable(
                f"cannot open the workspace catalogue {self.path} ({exc}); is this a miner workspace, "
                "and may this user write to it?"
            ) from exc
        if int(row[0] if row else SCHEMA_VERSION) > SCHEMA_VERSION:
            raise WorkspaceUnusable(
                f"workspace schema version {row[0]} is newer than this miner ({SCHEMA_VERSION}); upgrade miner"
            )

    def _create_postgres_schema(self) -> None:
        """Run the DDL once per schema and DDL text (a hash in ``meta``), under an advisory lock so
        that two processes opening a new workspace at once do not race on CREATE TABLE."""
        import hashlib

        ddl = schema_sql("postgresql")
        digest = hashlib.sha256(ddl.encode()).hexdigest()[:16]
        with self.db:
            self.db.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (self.db.main,))
            exists = self.db.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone()[0]
            if exists and self.get_meta("ddl") == digest:
                return
            self.db.executescript(ddl)
            self.db.execute(
                "INSERT INTO meta VALUES ('ddl', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", (digest,)
            )

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------------ meta

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.db:
            self.db.execute(
                "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value)
            )

    # ------------------------------------------------------------------ batches

    def new_batch(self, label: str = "", overrides: dict | None = None) -> str:
        batch_id = time.strftime("b%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        with self.db:
            self.db.execute(
                "INSERT INTO batches VALUES (?, ?, ?, ?)",
                (batch_id, time.time(), label, json.dumps(overrides or {}, ensure_ascii=False)),
            )
        return batch_id

    def record_file(self, batch_id: str, f: BatchFile) -> None:
        with self.db:
            self._insert_file(batch_id, f)

    def _insert_file(self, batch_id: str, f: BatchFile) -> None:
        self.db.execute(
            "INSERT INTO batch_files VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (batch_id, f.name, f.path, f.sha256, f.status, f.message, f.document_id, f.findings),
        )

    def batch(self, batch_id: str) -> dict | None:
        row = self.db.execute("SELECT * FROM batches WHERE id=?", (batch_id,)).fetchone()
        if row is None:
            return None
        files = [dict(r) for r in self.db.execute("SELECT * FROM batch_files WHERE batch_id=?", (batch_id,))]
        out = dict(row)
        out["overrides"] = json.loads(out["overrides"])
        out["files"] = files
        out["counts"] = {s: sum(1 for f in files if f["status"] == s) for s in ("ok", "duplicate", "failed")}
        return out

    def batches(self) -> list[dict]:
        return [dict(r) for r in self.db.execute("SELECT * FROM batches ORDER BY created_at")]

    # ------------------------------------------------------------------ documents

    def document_by_hash(self, sha256: str) -> dict | None:
        row = self.db.execute("SELECT id, name FROM documents WHERE sha256=?", (sha256,)).fetchone()
        return dict(row) if row else None

    def add_document(
        self,
        *,
        doc_id: str,
        sha256: str,
        name: str,
        path: str,
        batch_id: str,
        pages: int,
        meta: DocumentMeta,
        traditional: bool,
        text: str,
        source_text: str,
        spans: list,
        batch_file: BatchFile,
    ) -> None:
        """Write a document, its findings and its batch entry in one transaction."""
        with self.db:
            self.db.execute(
                "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    doc_id,
                    sha256,
                    name,
                    path,
                    batch_id,
                    pages,
                    meta.title,
                    meta.issuer_kind,
                    meta.issuer,
                    meta.year,
                    meta.report_kind,
                    json.dumps(meta.units, ensure_ascii=False),
                    meta.doc_number,
                    int(traditional),
                    text,
                    source_text,
                    time.time(),
                ),
            )
            self.db.executemany(
                'INSERT INTO findings (id, document_id, seq, start, "end", page, unit, heading, confidence, status)'
                " VALUES (?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        f"{doc_id}-{i:03d}",
                        doc_id,
                        i,
                        s.start,
                        s.end,
                        s.page,
                        s.unit,
                        s.heading,
                        getattr(s, "confidence", 1.0),
                        "review" if getattr(s, "review", False) else "finding",
                    )
                    for i, s in enumerate(spans, start=1)
                ],
            )
            self._insert_file(batch_id, batch_file)

    def documents(self) -> list[dict]:
        rows = self.db.execute(
            "SELECT d.id, d.name, d.batch_id, d.pages, d.title, d.issuer_kind, d.issuer, d.year, d.report_kind,"
            " d.units, d.doc_number, d.traditional, (SELECT COUNT(*) FROM findings f WHERE f.document_id=d.id"
            f" AND {COUNTED}) AS findings FROM documents d ORDER BY d.name"
        )
        out = []
        for r in rows:
            d = dict(r)
            d["units"] = _units(d["units"])
            d["traditional"] = bool(d["traditional"])
            out.append(d)
        return out

    def document(self, doc_id: str, with_text: bool = False) -> dict | None:
        row = self.db.execute("SELECT * FROM documents WHERE id=? OR name=?", (doc_id, doc_id)).fetchone()
        if row is None:
            return None
        d = dict(row)
        d["units"] = _units(d["units"])
        d["traditional"] = bool(d["traditional"])
        if not with_text:
            d.pop("text")
            d.pop("source_text")
        return d

    # ------------------------------------------------------------------ findings

    def findings(
        self, document: str | None = None, ids: list[str] | None = None, review: bool | None = False
    ) -> list[Finding]:
        """Findings with their document's metadata, in document and reading order.

        By default the findings that count: the problem model's, less those an analyst
        rejected, plus review items an analyst accepted. ``review=True`` gives the
        review list instead: low-confidence items nobody has decided on yet;
        ``review=None`` every row, whatever its status (to show one by id).
        Document texts are read once per document, not once per finding: the texts are
        by far the largest thing in the catalogue.
        """
        sql = (
            'SELECT f.id, f.document_id, f.start, f."end", f.page, f.unit, f.heading, d.name,'
            " d.issuer_kind, d.issuer, d.year, d.units, d.batch_id, f.confidence, f.status, r.decision"
            " FROM findings f JOIN documents d ON d.id = f.document_id"
            " LEFT JOIN review_decisions r ON r.finding_id = f.id"
        )
        args: list = []
        where = [] if review is None else [_PENDING if review else COUNTED]
        if document:
            where.append("(d.name = ? OR d.id = ?)")
            args += [document, document]
        if ids is not None:
            if not ids:
                self._source_texts = {}
                return []
            where.append(f"f.id IN ({','.join('?' * len(ids))})")
            args += ids
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY d.name, f.seq"
        rows = self.db.execute(sql, args).fetchall()
        doc_ids = sorted({r["document_id"] for r in rows})
        if not doc_ids:
            self._source_texts = {}
            return []
        texts = {
            d: (t, src)
            for d, t, src in self.db.execute(
                f"SELECT id, text, source_text FROM documents WHERE id IN ({','.join('?' * len(doc_ids))})", doc_ids
            )
        }
        out = []
        sources: dict[str, str] = {}
        for r in rows:
            text, source = texts[r["document_id"]]
            out.append(
                Finding(
                    id=r["id"],
                    document=r["name"],
                    text=text[r["start"] : r["end"]],
                    doc_id=r["document_id"],
                    page=r["page"],
                    start=r["start"],
                    end=r["end"],
                    unit=r["unit"] or (_units(r["units"]) or [""])[0],
                    heading=r["heading"],
                    issuer_kind=r["issuer_kind"],
                    issuer=r["issuer"],
                    year=r["year"],
                    batch_id=r["batch_id"],
                    confidence=r["confidence"],
                    review=r["decision"] or ("pending" if r["status"] == "review" else ""),
                )
            )
            sources[r["id"]] = source[r["start"] : r["end"]]
        self._source_texts = sources
        return out

    def decide(self, finding_id: str, decision: str, who: str = "", note: str = "") -> dict:
        """Record an analyst's accept / reject of a finding or review item (the last word counts)."""
        if decision not in ("accepted", "rejected"):
            raise ValueError("decision must be 'accepted' or 'rejected'")
        row = self.db.execute("SELECT id, status FROM findings WHERE id=?", (finding_id,)).fetchone()
        if row is None:
            raise KeyError(finding_id)
        with self.db:
            # Out of its common problem either way: a rejected finding leaves it, an accepted
            # review item is placed afresh by the next clustering update.
            self.db.execute("DELETE FROM cluster_members WHERE finding_id=?", (finding_id,))
            self.db.execute(
                "INSERT INTO review_decisions VALUES (?,?,?,?,?) ON CONFLICT(finding_id) DO UPDATE SET"
                " decision=excluded.decision, at=excluded.at, who=excluded.who, note=excluded.note",
                (finding_id, decision, time.time(), who, note),
            )
        return {"finding_id": finding_id, "decision": decision, "was": row["status"]}

    def source_text(self, finding_id: str) -> str | None:
        """The finding in the script it was published in (Traditional stays Traditional).

        Answered from the last :meth:`findings` call when it covered this finding.
        """
        cached = getattr(self, "_source_texts", {}).get(finding_id)
        if cached:
            return cached
        row = self.db.execute(
            'SELECT d.source_text, f.start, f."end" FROM findings f JOIN documents d ON d.id=f.document_id'
            " WHERE f.id=?",
            (finding_id,),
        ).fetchone()
        return row[0][row[1] : row[2]] if row else None

    def count(self, table: str) -> int:
        assert table in {"documents", "findings", "batches", "clusters"}
        return int(self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def make_private(root: Path) -> None:
    """Tighten a workspace to its owner: folders 0700, files 0600 (reports are sensitive).

    Only what this user owns is touched; the process umask (set by the Workspace) keeps new
    files private, this catches files made by older versions or by hand.
    """
    uid = os.getuid()
    for folder, dirs, files in os.walk(root):
        for name in [folder, *(os.path.join(folder, f) for f in files)]:
            try:
                st = os.lstat(name)
            except OSError:
                continue
            if st.st_uid != uid or os.path.islink(name):
                continue
            want = 0o700 if name == folder else 0o600 | (st.st_mode & 0o100)
            if st.st_mode & 0o777 != want:
                os.chmod(name, want)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]


LOCK_FILE = ".write.lock"
_HELD: dict[int, Path] = {}  # lock descriptors this process holds → workspace


def holds_write_lock(workspace: Path) -> bool:
    """This process holds the workspace's write lock (e.g. a running ``miner serve``)."""
    return Path(workspace).resolve() in _HELD.values()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _lock_owner(path: Path) -> tuple[int, str]:
    """(pid, what) recorded by the last holder of the lock file; (0, "") when unknown."""
    try:
        pid, _, what = path.read_text(encoding="utf-8").partition(" ")
        return int(pid), what.strip()
    except (OSError, ValueError):
        return 0, ""


def _orphans_holding(path: Path) -> list[int]:
    """Processes of this user that still hold the lock file open (Linux /proc).

    A worker forked by a writer that was killed inherits the lock; it is an orphan now.
    """
    target = str(path.resolve())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if entry.stat().st_uid != os.getuid():
                continue
            if any(os.readlink(fd) == target for fd in (entry / "fd").iterdir()):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def acquire_write_lock(workspace: Path, what: str = "", say=None) -> int:
    """Take the workspace's single-writer lock; returns the descriptor to release.

    The lock is an flock, so the kernel frees it when its holder dies. The holder's pid is
    written into the lock file: a refusal names it, and a lock left by a dead writer is
    reported (``say``) and taken over — also when orphaned children of that writer still hold
    the flock, which are then stopped.
    """
    workspace.mkdir(parents=True, exist_ok=True)
    path = workspace / LOCK_FILE
    fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
    pid, holder = _lock_owner(path)
    for attempt in (0, 1):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError as exc:
            if attempt == 0 and pid and pid != os.getpid() and not _pid_alive(pid):
                orphans = _orphans_holding(path)
                for child in orphans:
                    with contextlib.suppress(OSError):
                        os.kill(child, signal.SIGKILL)
                time.sleep(0.2)
                if say and orphans:
                    say(
                        f"the last writer (pid {pid}) died but {len(orphans)} of its processes still held the "
                        "workspace lock; stopped them and took the lock over"
                    )
                continue
            os.close(fd)
            who = f" ({holder or 'miner'}, pid {pid})" if pid and _pid_alive(pid) else ""
            raise WorkspaceBusy(
                f"another miner process{who} is writing to {workspace}; wait for it to finish, or go "
                "through the API while `miner serve` runs (one writer per workspace)"
            ) from exc
    else:  # pragma: no cover - the loop breaks or raises
        raise AssertionError
    if pid and pid != os.getpid() and not _pid_alive(pid) and say:
        say(f"the last writer (pid {pid}, {holder or 'miner'}) ended without finishing; took its lock over")
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()} {what or 'miner'}\n".encode(), 0)
    _HELD[fd] = workspace.resolve()
    return fd


def release_write_lock(fd: int) -> None:
    """Clear the holder's pid (a clean exit) and release the lock."""
    _HELD.pop(fd, None)
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


@contextmanager
def write_lock(workspace: Path, what: str = "", say=None) -> Iterator[None]:
    """Hold the workspace's single-writer lock (chromadb tolerates one writing process)."""
    fd = acquire_write_lock(workspace, what, say)
    try:
        yield
    finally:
        release_write_lock(fd)
