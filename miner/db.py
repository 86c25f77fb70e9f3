"""The catalogue's database connection: a SQLite file in the workspace, or PostgreSQL.

``MINER_DATABASE_URL`` unset (the default): the catalogue is ``catalogue.sqlite`` in the
workspace, opened with the stdlib ``sqlite3`` exactly as before — :class:`SQLiteConnection` is a
``sqlite3.Connection`` with three attributes added, so nothing on this path costs more than it
did, and the read commands do not import SQLAlchemy (start-up budget, tests/test_startup.py).

``MINER_DATABASE_URL=postgresql://user@host/db`` (SQLAlchemy URL; the psycopg 3 driver is
chosen for ``postgresql://``): connections come from one SQLAlchemy engine per URL (a
``QueuePool``, checked with pre-ping) and each workspace lives in **its own schema** of that
database (name kept in the workspace's ``catalogue.schema`` file, or ``MINER_DATABASE_SCHEMA``).
A schema rather than a workspace key column because every statement stays as it is (no key in
~130 statements and every index), the API's access scope shadows tables by name on PostgreSQL
just as on SQLite (``pg_temp`` is searched first), and a workspace is removed with one
``DROP SCHEMA … CASCADE``.

:class:`PostgresConnection` gives the call sites the small interface they use of
``sqlite3.Connection`` — ``execute(sql, params)``, ``executemany``, ``executescript``,
``with db:`` for a transaction, ``commit``/``rollback``/``close``, rows addressable by name and
by index (``dict(row)`` works) — so the modules keep one SQL text for both engines. They write
SQL both engines accept (``INSERT … ON CONFLICT … DO UPDATE``/``DO NOTHING``, ``RETURNING``,
no ``rowid``); the one thing translated here is the parameter style (``?`` → ``%s``, a literal
``%`` doubled), because qmark is all SQLite's driver takes and psycopg does not take it at all,
and rewriting every call site to named parameters would gain nothing. Statements run in
autocommit unless inside ``with db:`` (BEGIN … COMMIT, nested blocks join the outer one), which
is what ``sqlite3`` does for reads, so a long-lived reader never holds a stale snapshot open.
Errors are raised as the stdlib ``sqlite3`` exception classes (:data:`Error`,
:data:`IntegrityError`, …), so handlers are written once.
"""

from __future__ import annotations

import os
import re
import secrets
import sqlite3
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

Error = sqlite3.Error
DatabaseError = sqlite3.DatabaseError
IntegrityError = sqlite3.IntegrityError
OperationalError = sqlite3.OperationalError

SCHEMA_FILE = "catalogue.schema"  # the workspace's PostgreSQL schema name (PostgreSQL only)


def database_url() -> str:
    """``MINER_DATABASE_URL`` (settings), empty for the SQLite file in the workspace."""
    from miner.config import get_settings

    return get_settings().database_url.strip()


# ---------------------------------------------------------------------------------- SQLite


class SQLiteConnection(sqlite3.Connection):
    """``sqlite3.Connection`` plus what the call sites ask of either backend."""

    dialect = "sqlite"
    main = "main"  # the catalogue's own tables, past any temp view that shadows them
    temp = "temp"

    def set_query_only(self, on: bool) -> None:
        """Refuse (or allow again) writes on this connection; temp objects need it off."""
        self.execute(f"PRAGMA query_only={'ON' if on else 'OFF'}")

    def release_temp(self) -> None:
        """Nothing to do: :func:`api.scope.release` drops the scope's temp objects by name."""


def _sqlite(path: Path, read_only: bool, timeout: float) -> SQLiteConnection:
    if read_only:
        db = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, timeout=timeout, check_same_thread=False, factory=SQLiteConnection
        )
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA query_only=ON")
        return db
    db = sqlite3.connect(str(path), timeout=timeout, check_same_thread=False, factory=SQLiteConnection)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA foreign_keys=ON")
    return db


# ---------------------------------------------------------------------------------- PostgreSQL


class Row(tuple):
    """A result row by index or by column name, like ``sqlite3.Row`` (``dict(row)`` works)."""

    _index: dict[str, int] = {}
    _names: tuple[str, ...] = ()

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            try:
                key = self._index[key]
            except KeyError:
                raise IndexError(f"No item with that key: {key!r}") from None
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


@lru_cache(maxsize=512)
def _row_class(names: tuple[str, ...]) -> type[Row]:
    return type("Row", (Row,), {"_names": names, "_index": {n: i for i, n in enumerate(names)}})


def _row_factory(cursor: Any):
    desc = cursor.description
    if desc is None:
        return tuple
    cls = _row_class(tuple(d.name for d in desc))
    return cls


_QMARK = re.compile(r"""('(?:[^']|'')*'|"(?:[^"]|"")*"|\$\$.*?\$\$)|(\?)|(%)""", re.S)


@lru_cache(maxsize=2048)
def to_pyformat(sql: str) -> str:
    """qmark → psycopg's ``%s``, outside quoted strings and identifiers; a literal ``%`` doubled."""

    def sub(m: re.Match) -> str:
        if m.group(1):
            return m.group(1).replace("%", "%%")
        return "%s" if m.group(2) else "%%"

    return _QMARK.sub(sub, sql)


_ENGINES: dict[str, Any] = {}
_ENGINES_LOCK = threading.Lock()


def engine_url(url: str) -> str:
    """``postgresql://`` / ``postgres://`` select the psycopg 3 driver (SQLAlchemy's default is psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def engine(url: str):
    """One pooled SQLAlchemy engine per database URL for the whole process."""
    with _ENGINES_LOCK:
        eng = _ENGINES.get(url)
        if eng is None:
            from sqlalchemy import create_engine

            from miner.config import get_settings

            settings = get_settings()
            eng = create_engine(
                engine_url(url),
                pool_size=settings.database_pool_size,
                max_overflow=settings.database_max_overflow,
                pool_pre_ping=True,
                pool_reset_on_return=None,  # PostgresConnection.close resets the session itself
            )
            if not eng.dialect.name.startswith("postgres"):
                raise ValueError(f"MINER_DATABASE_URL must be a PostgreSQL URL, not {eng.dialect.name}")
            _ENGINES[url] = eng
        return eng


def dispose_engines() -> None:
    """Close every pooled connection (tests tear their database down after this)."""
    with _ENGINES_LOCK:
        for eng in _ENGINES.values():
            eng.dispose()
        _ENGINES.clear()


def _map_error(exc: Exception) -> sqlite3.Error:
    import psycopg

    text = str(exc).strip()
    if isinstance(exc, psycopg.IntegrityError):
        return sqlite3.IntegrityError(text)
    if isinstance(exc, psycopg.OperationalError):
        return sqlite3.OperationalError(text)
    if isinstance(exc, psycopg.ProgrammingError | psycopg.DataError):
        return sqlite3.OperationalError(text)
    return sqlite3.DatabaseError(text)


def _adapt(conn: Any) -> None:
    """Python bools go in as 0/1 (the schema's flags are INTEGER, as on SQLite); NUMERIC comes back
    as int or float, never Decimal (results are JSON-dumped)."""
    from psycopg.adapt import Dumper, Loader

    int4 = conn.adapters.types["int4"].oid

    class BoolAsInt(Dumper):
        oid = int4

        def dump(self, obj: bool) -> bytes:
            return b"1" if obj else b"0"

    class NumericAsNumber(Loader):
        def load(self, data: Any) -> int | float:
            text = bytes(data).decode()
            return int(text) if text.lstrip("-").isdigit() else float(text)

    conn.adapters.register_dumper(bool, BoolAsInt)
    conn.adapters.register_loader("numeric", NumericAsNumber)


def valid_schema(name: str) -> bool:
    return bool(re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name))


def workspace_schema(workspace: Path, create: bool) -> str:
    """The workspace's schema name: ``MINER_DATABASE_SCHEMA``, else the one recorded in the
    workspace (made up, ``ws_<folder>_<random>``, when it is first opened for writing).

    The file also records the folder it was made for: a copied folder would otherwise share its
    original's catalogue (two writers, two sets of index files), so a copy or a moved folder is
    refused until its owner says which it is.
    """
    from miner.config import get_settings

    name = get_settings().database_schema.strip()
    folder = str(Path(workspace).resolve())
    if not name:
        path = Path(workspace) / SCHEMA_FILE
        if path.exists():
            name, _, made_for = path.read_text(encoding="utf-8").strip().partition("\n")
            if made_for.strip() and made_for.strip() != folder:
                raise sqlite3.OperationalError(
                    f"this workspace's catalogue (PostgreSQL schema {name}) was made for {made_for.strip()}, not "
                    f"{folder}: if the folder was moved, put this path on the second line of {path}; if it is "
                    f"a copy, delete {path} to start a new catalogue (or set MINER_DATABASE_SCHEMA)"
                )
        elif create:
            slug = re.sub(r"[^a-z0-9]+", "_", Path(workspace).name.lower()).strip("_")[:30]
            name = f"ws_{slug}_{secrets.token_hex(4)}" if slug else f"ws_{secrets.token_hex(6)}"
            write_schema_file(Path(workspace), name)
        else:
            raise sqlite3.OperationalError(f"no catalogue in {workspace} yet ({SCHEMA_FILE} is missing)")
    if not valid_schema(name):
        raise sqlite3.OperationalError(f"bad PostgreSQL schema name {name!r} (lower-case letters, digits, _)")
    return name


def write_schema_file(workspace: Path, name: str) -> None:
    """Record ``name`` as the workspace's schema, made for this folder (owner-only file)."""
    path = Path(workspace) / SCHEMA_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(f"{name}\n{Path(workspace).resolve()}\n")


class PostgresConnection:
    """A pooled psycopg connection with ``sqlite3.Connection``'s interface, set to one schema."""

    dialect = "postgresql"
    temp = "pg_temp"

    def __init__(self, url: str, schema: str, *, read_only: bool = False, create: bool = False):
        import psycopg

        self._psycopg = psycopg
        self.url = url
        self.schema = schema
        self.main = f'"{schema}"'
        self._depth = 0
        self._lock = threading.RLock()  # one connection may be shared by threads (check_same_thread=False)
        try:
            self._fairy = engine(url).raw_connection()
        except Exception as exc:  # noqa: BLE001 - SQLAlchemy wraps the driver's error
            raise sqlite3.OperationalError(f"cannot connect to {_safe(url)}: {exc}") from exc
        self._conn = self._fairy.driver_connection
        try:
            if self._conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                self._conn.rollback()
            self._conn.autocommit = True
            # No server-side prepared statements: a plan prepared before the API's scope made its
            # temp views would keep reading the catalogue's own tables past them (a leak).
            self._conn.prepare_threshold = None
            self._conn.row_factory = _row_factory
            _adapt(self._conn)
            exists = self._conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
            if exists is None and not create:
                raise sqlite3.OperationalError(f"no catalogue schema {schema!r} in {_safe(url)}")
            if exists is None:  # (a role that may not create schemas can be given one made by the DBA)
                try:
                    self._conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                except psycopg.errors.UniqueViolation:
                    pass  # another process made it at the same moment
            self._conn.execute(f'SET search_path TO "{schema}"')
            self._conn.execute(f"SET default_transaction_read_only = {'on' if read_only else 'off'}")
        except psycopg.Error as exc:
            self._discard()
            raise _map_error(exc) from exc
        except BaseException:
            self._discard()
            raise

    # -- sqlite3.Connection's interface

    def execute(self, sql: str, params: Any = ()) -> Any:
        with self._lock:
            try:
                if params:
                    return self._conn.execute(to_pyformat(sql), tuple(params) if isinstance(params, list) else params)
                return self._conn.execute(sql)
            except self._psycopg.Error as exc:
                raise _map_error(exc) from exc

    def executemany(self, sql: str, seq: Any) -> Any:
        with self._lock:
            try:
                cur = self._conn.cursor()
                rows = list(seq)
                if rows:
                    cur.executemany(to_pyformat(sql), rows)
                return cur
            except self._psycopg.Error as exc:
                raise _map_error(exc) from exc

    def executescript(self, script: str) -> None:
        """Several statements, no parameters (psycopg sends them as one simple query)."""
        self.execute(script)

    def commit(self) -> None:
        if self.in_transaction:
            self.execute("COMMIT")

    def rollback(self) -> None:
        if self.in_transaction:
            self.execute("ROLLBACK")

    @property
    def in_transaction(self) -> bool:
        return self._conn.info.transaction_status != self._psycopg.pq.TransactionStatus.IDLE

    def __enter__(self) -> PostgresConnection:
        self._lock.acquire()
        if self._depth == 0 and not self.in_transaction:
            self.execute("BEGIN")
        self._depth += 1
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            self._depth -= 1
            if self._depth == 0:
                if exc_type is None:
                    self.commit()
                else:
                    self.rollback()
        finally:
            self._lock.release()

    # -- what the API's access scope needs

    def set_query_only(self, on: bool) -> None:
        self.execute(f"SET default_transaction_read_only = {'on' if on else 'off'}")
        if self.in_transaction:
            self.execute(f"SET TRANSACTION READ {'ONLY' if on else 'WRITE'}")

    def release_temp(self) -> None:
        """Drop every temp table and view of this session (a request's scope), whatever they are."""
        self.rollback()
        self.execute("DISCARD TEMP")

    def close(self) -> None:
        """Back to the pool with a clean session: no transaction, temp objects, search_path or settings.

        The wrapper is unusable afterwards (as a closed ``sqlite3.Connection``): the pooled
        connection may already serve someone else.
        """
        fairy, self._fairy = getattr(self, "_fairy", None), None
        if fairy is None:
            return
        conn, self._conn = self._conn, _Closed()
        try:
            if conn.info.transaction_status != self._psycopg.pq.TransactionStatus.IDLE:
                conn.execute("ROLLBACK")
            conn.execute("DISCARD ALL")
        except Exception:  # noqa: BLE001 - a broken connection is dropped, not pooled
            fairy.invalidate()
        fairy.close()

    def _discard(self) -> None:
        fairy, self._fairy = self._fairy, None
        self._conn = _Closed()
        if fairy is not None:
            fairy.invalidate()
            fairy.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001, S110 - interpreter shutdown
            pass


class _Closed:
    """Stands in for the psycopg connection of a closed wrapper: every use is an error."""

    def __getattr__(self, name: str) -> Any:
        raise sqlite3.ProgrammingError("Cannot operate on a closed database.")


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


# ---------------------------------------------------------------------------------- both


Connection = SQLiteConnection | PostgresConnection


def connect(sqlite_path: Path, *, read_only: bool = False, timeout: float = 30) -> Connection:
    """The catalogue of the workspace that holds ``sqlite_path`` (its ``catalogue.sqlite``).

    ``read_only``: the API's per-request readers; nothing is created. On PostgreSQL a writable
    open creates the workspace's schema when it is new.
    """
    url = database_url()
    if not url:
        return _sqlite(Path(sqlite_path), read_only, timeout)
    workspace = Path(sqlite_path).parent
    schema = workspace_schema(workspace, create=not read_only)
    return PostgresConnection(url, schema, read_only=read_only, create=not read_only)


def drop_workspace(sqlite_path: Path) -> None:
    """Remove a workspace's catalogue from PostgreSQL (its schema); on SQLite, delete the file."""
    url = database_url()
    if not url:
        for suffix in ("", "-wal", "-shm"):
            Path(str(sqlite_path) + suffix).unlink(missing_ok=True)
        return
    db = connect(sqlite_path)
    try:
        db.execute(f"DROP SCHEMA IF EXISTS {db.main} CASCADE")
    finally:
        db.close()
