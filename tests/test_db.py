"""The catalogue's database layer (miner/db.py) on SQLite and PostgreSQL.

The PostgreSQL tests use the run's server when the suite was started with
``MINER_TEST_BACKENDS=postgres``; otherwise this module starts its own throwaway one
(tests/backends.py), so they also run in the default pass where PostgreSQL is installed.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from miner import db as database
from miner.config import get_settings
from miner.findings import FindingSpan
from miner.records import DocumentMeta
from miner.store import BatchFile, Catalogue, WorkspaceUnusable
from tests import backends


def test_qmark_becomes_pyformat_outside_quotes() -> None:
    sql = "SELECT '?', \"a?b\", x FROM t WHERE a = ? AND b LIKE '50%' AND c = ?"
    assert database.to_pyformat(sql) == "SELECT '?', \"a?b\", x FROM t WHERE a = %s AND b LIKE '50%%' AND c = %s"
    assert database.to_pyformat("SELECT 'it''s ?', ?") == "SELECT 'it''s ?', %s"
    assert database.to_pyformat("SELECT 5 % 2, ?") == "SELECT 5 %% 2, %s"


def test_sqlite_stays_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MINER_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        cat = Catalogue(tmp_path / "ws" / "catalogue.sqlite")
        assert isinstance(cat.db, sqlite3.Connection) and cat.db.dialect == "sqlite"
        assert (tmp_path / "ws" / "catalogue.sqlite").exists()
        assert not (tmp_path / "ws" / database.SCHEMA_FILE).exists()
        cat.close()
    finally:
        get_settings.cache_clear()


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    url = get_settings().database_url
    if url:
        yield url
        return
    if backends.pg_bin() is None:
        pytest.skip("PostgreSQL is not installed (scripts/setup.sh installs it)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install 'miner[postgres]')")
    url, stop = backends.start_postgres()
    try:
        yield url
    finally:
        database.dispose_engines()
        stop()


@pytest.fixture
def pg(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("MINER_DATABASE_URL", pg_url)
    get_settings.cache_clear()
    yield pg_url
    get_settings.cache_clear()


def _add(cat: Catalogue, doc_id: str, kind: str, n: int = 3) -> None:
    text = "。".join(f"第{i}个问题：资金长期闲置未使用" for i in range(n)) + "。"
    spans = [FindingSpan(start=i * 15, end=i * 15 + 14, page=1) for i in range(n)]
    batch = cat.new_batch()
    cat.add_document(
        doc_id=doc_id,
        sha256=doc_id * 4,
        name=f"{doc_id}.txt",
        path=f"/tmp/{doc_id}.txt",
        batch_id=batch,
        pages=1,
        meta=DocumentMeta(issuer_kind=kind, year=2024, units=["某局"]),
        traditional=False,
        text=text,
        source_text=text,
        spans=spans,
        batch_file=BatchFile(name=f"{doc_id}.txt", path="", status="ok", sha256=doc_id * 4, document_id=doc_id),
    )


def test_each_workspace_is_its_own_schema(pg: str, tmp_path: Path) -> None:
    a = Catalogue(tmp_path / "a" / "catalogue.sqlite")
    b = Catalogue(tmp_path / "b" / "catalogue.sqlite")
    try:
        assert a.db.dialect == "postgresql" and a.db.main != b.db.main
        _add(a, "d1", "audit")
        assert [f.id for f in a.findings()] == ["d1-001", "d1-002", "d1-003"]
        assert b.findings() == [] and b.count("documents") == 0
        assert not (tmp_path / "a" / "catalogue.sqlite").exists()  # nothing of the catalogue stays local
        assert (tmp_path / "a" / database.SCHEMA_FILE).read_text().split() == [a.db.schema, str(tmp_path / "a")]
        again = Catalogue(tmp_path / "a" / "catalogue.sqlite")  # reopened: the same schema, no DDL race
        assert again.count("findings") == 3
        again.close()
        # a copied folder would share its original's catalogue: refused, saying what to do
        shutil.copytree(tmp_path / "a", tmp_path / "copy")
        with pytest.raises(WorkspaceUnusable, match="delete .*catalogue.schema"):
            Catalogue(tmp_path / "copy" / "catalogue.sqlite")
        backends.copy_workspace(tmp_path / "a", tmp_path / "c")  # a real copy: a schema of its own
        c = Catalogue(tmp_path / "c" / "catalogue.sqlite")
        assert c.db.main != a.db.main and [f.id for f in c.findings()] == [f.id for f in a.findings()]
        c.close()
    finally:
        a.close()
        b.close()


def test_rows_transactions_and_errors_behave_as_on_sqlite(pg: str, tmp_path: Path) -> None:
    cat = Catalogue(tmp_path / "ws" / "catalogue.sqlite")
    db = cat.db
    try:
        _add(cat, "d1", "audit")
        row = db.execute('SELECT id, "end", confidence FROM findings WHERE id = ?', ("d1-002",)).fetchone()
        assert row[0] == row["id"] == "d1-002" and dict(row) == {"id": "d1-002", "end": 29, "confidence": 1.0}
        id_, end, _ = row
        assert (id_, end) == ("d1-002", 29)
        with pytest.raises(database.IntegrityError):  # duplicate key: the stdlib's exception class
            with db:
                db.execute("INSERT INTO meta VALUES ('k', '1')")
                db.execute("INSERT INTO meta VALUES ('k', '2')")
        assert cat.get_meta("k") is None  # the whole block was rolled back
        with db:
            with db:  # a nested block joins the outer transaction
                db.execute("INSERT INTO meta VALUES ('k', '1')")
            assert db.in_transaction
        assert cat.get_meta("k") == "1" and not db.in_transaction
        assert (
            db.execute("SELECT COUNT(*) FROM findings WHERE status = ? AND page > ?", ["finding", 0]).fetchone()[0] == 3
        )
    finally:
        cat.close()
    with pytest.raises(database.Error):  # closed: the pooled connection may serve someone else now
        db.execute("SELECT 1")


def test_scope_views_never_outlive_a_request_on_a_pooled_connection(pg: str, tmp_path: Path) -> None:
    from api.deps import ReadCatalogue
    from api.scope import confine, release

    cat = Catalogue(tmp_path / "ws" / "catalogue.sqlite")
    _add(cat, "aud", "audit")
    _add(cat, "dis", "discipline")
    reader = ReadCatalogue(cat.path)
    try:
        for _ in range(8):  # often enough that a driver would prepare the statement server-side
            assert len(reader.findings()) == 6
        confine(reader, ["audit"], set(), {"aud"} - {"aud"})
        assert {f.doc_id for f in reader.findings()} == {"aud"}  # the views, not a plan made before them
        release(reader)
        assert len(reader.findings()) == 6
        temp = reader.db.execute("SELECT COUNT(*) FROM pg_class WHERE relpersistence = 't'").fetchone()[0]
        assert temp == 0
        with pytest.raises(database.Error):  # the reader is read-only again after confine/release
            reader.db.execute("DELETE FROM meta")
        confine(reader, ["discipline"], set(), set())
        reader.close()  # back to the pool: the session is reset, views and all
        again = ReadCatalogue(cat.path)
        assert len(again.findings()) == 6
        again.close()
    finally:
        cat.close()


def test_concurrent_writers_each_commit(pg: str, tmp_path: Path) -> None:
    """Two writers on one PostgreSQL catalogue at once (the API and a CLI on another machine)."""
    first = Catalogue(tmp_path / "ws" / "catalogue.sqlite")
    second = Catalogue(tmp_path / "ws" / "catalogue.sqlite")
    errors: list[BaseException] = []

    def write(cat: Catalogue, prefix: str) -> None:
        try:
            for i in range(5):
                _add(cat, f"{prefix}{i}", "audit", n=2)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(c, p)) for c, p in ((first, "x"), (second, "y"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors
        assert first.count("documents") == 10 and second.count("findings") == 20
    finally:
        first.close()
        second.close()
