"""Batches: per-file status, duplicates as no-ops, bad files reported, whole documents."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from conftest import AUDIT_PAGES, AUDIT_TITLE, make_pdf

from miner.pipeline import Workspace, ingest
from miner.store import WorkspaceBusy, write_lock


@pytest.fixture
def batch_dir(tmp_path: Path) -> Path:
    d = tmp_path / "batch"
    d.mkdir()
    make_pdf(d / "good.pdf", AUDIT_PAGES, title=AUDIT_TITLE)
    (d / "empty.pdf").write_bytes(b"")
    (d / "fake.pdf").write_text("not a pdf at all", encoding="utf-8")
    good = (d / "good.pdf").read_bytes()
    (d / "cut.pdf").write_bytes(good[: len(good) // 4])
    (d / "notes.txt").write_text(
        "关于某局的巡察反馈意见\n一、发现的问题\n局本级暂付款长期挂账未清理。\n", encoding="utf-8"
    )
    (d / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0")
    return d


def test_batch_reports_each_file_and_keeps_good_ones(tmp_path: Path, batch_dir: Path):
    ws = Workspace(tmp_path / "ws")
    batch = ingest(ws, [batch_dir], index=False)
    status = {f["name"]: (f["status"], f["message"]) for f in batch["files"]}
    assert status["good.pdf"][0] == "ok" and status["notes.txt"][0] == "ok"
    for bad in ("empty.pdf", "fake.pdf", "cut.pdf", "old.doc"):
        assert status[bad][0] == "failed" and status[bad][1], bad
    assert "empty" in status["empty.pdf"][1] and "not a PDF" in status["fake.pdf"][1]
    assert batch["counts"] == {"ok": 2, "duplicate": 0, "failed": 4}
    names = {d["name"] for d in ws.catalogue.documents()}
    assert names == {"good.pdf", "notes.txt"}
    findings = ws.catalogue.findings(document="good.pdf")
    assert len(findings) >= 5 and all(f.page in (1, 2) for f in findings)
    doc = ws.catalogue.document("good.pdf", with_text=True)
    for f in findings:  # offsets cite the stored normalised text
        assert doc["text"][f.start : f.end] == f.text


def test_reingest_is_noop_even_under_another_name(tmp_path: Path, batch_dir: Path):
    ws = Workspace(tmp_path / "ws")
    ingest(ws, [batch_dir / "good.pdf"], index=False)
    ids_before = [f.id for f in ws.catalogue.findings()]
    (batch_dir / "copy.pdf").write_bytes((batch_dir / "good.pdf").read_bytes())
    again = ingest(ws, [batch_dir / "good.pdf", batch_dir / "copy.pdf"], index=False)
    assert [f["status"] for f in again["files"]] == ["duplicate", "duplicate"]
    assert [f.id for f in ws.catalogue.findings()] == ids_before
    assert ws.catalogue.count("documents") == 1


def test_document_lands_whole_or_not_at_all(tmp_path: Path, batch_dir: Path, monkeypatch):
    ws = Workspace(tmp_path / "ws")
    real = ws.catalogue.db

    class Crashing:
        """Lets the document row in, then fails on the findings, like a crash mid-write."""

        def __getattr__(self, name):
            return getattr(real, name)

        def executemany(self, *a, **k):
            raise sqlite3.OperationalError("disk I/O error")

        def __enter__(self):
            return real.__enter__()

        def __exit__(self, *exc):
            return real.__exit__(*exc)

    monkeypatch.setattr(ws.catalogue, "db", Crashing())
    with pytest.raises(sqlite3.OperationalError):
        ingest(ws, [batch_dir / "good.pdf"], index=False)
    monkeypatch.setattr(ws.catalogue, "db", real)
    assert ws.catalogue.count("documents") == 0 and ws.catalogue.count("findings") == 0
    assert ingest(ws, [batch_dir / "good.pdf"], index=False)["counts"]["ok"] == 1


def test_single_writer_lock(tmp_path: Path):
    with write_lock(tmp_path):
        with pytest.raises(WorkspaceBusy):
            with write_lock(tmp_path):
                pass


def test_batch_overrides_apply(tmp_path: Path, batch_dir: Path):
    ws = Workspace(tmp_path / "ws")
    ingest(ws, [batch_dir / "notes.txt"], overrides={"issuer_kind": "congress", "year": 2021}, index=False)
    f = ws.catalogue.findings()[0]
    assert (f.issuer_kind, f.year) == ("congress", 2021)


def test_new_workspace_is_private(tmp_path: Path):
    ws = Workspace(tmp_path / "private")
    assert (ws.root.stat().st_mode & 0o077) == 0


def test_units_written_unvalidated_by_an_older_miner_do_not_break_reading(tmp_path: Path, batch_dir: Path):
    ws = Workspace(tmp_path / "ws")
    ingest(ws, [batch_dir / "notes.txt"], index=False)
    with ws.catalogue.db:
        ws.catalogue.db.execute("UPDATE documents SET units = '5'")
    assert ws.catalogue.findings()[0].unit == "5"
    assert ws.catalogue.documents()[0]["units"] == ["5"]
