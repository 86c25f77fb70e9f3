"""kill -9 at random points of an ingest: the next command repairs the workspace by itself.

After the kill no worker survives, and the next ``miner ingest`` (no manual step) leaves
catalogue, vectors and keyword index with the same findings and search equal to a clean run.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hostile import child_env as _env
from hostile import consistent, crash_corpus, processes_in_session, search_snapshot, workspace_state

ROOT = Path(__file__).resolve().parents[1]
QUERIES = ["往来款长期挂账", "公车私用", "规避公开招标", "津贴补贴"]


def miner(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "miner", *args], capture_output=True, text=True, env=_env(), timeout=300
    )
    if check:
        assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def kill_ingest(ws: Path, corpus: Path, after: float) -> tuple[int, list[int]]:
    """Start an ingest, SIGKILL it after ``after`` seconds; returns (exit code, processes left after 3 s)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "miner", "-w", str(ws), "ingest", str(corpus)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_env(),
        start_new_session=True,
    )
    time.sleep(after)
    proc.send_signal(signal.SIGKILL)
    code = proc.wait()
    left = processes_in_session(proc.pid)
    deadline = time.time() + 3
    while left and time.time() < deadline:
        time.sleep(0.1)
        left = processes_in_session(proc.pid)
    return code, left


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> tuple[Path, float, list]:
    base = tmp_path_factory.mktemp("crash")
    corpus = base / "corpus"
    crash_corpus(corpus, ROOT / "corpora" / "samples")
    ws = base / "clean"
    start = time.time()
    miner("-w", str(ws), "ingest", str(corpus))
    took = time.time() - start
    state = workspace_state(ws)
    assert consistent(state) and state["documents"] == len(list(corpus.iterdir()))
    return corpus, took, search_snapshot(ws, QUERIES)


@pytest.mark.slow
def test_kill_at_random_points_then_next_command_repairs(clean, tmp_path: Path):
    corpus, took, expected = clean
    rng = random.Random(int(os.environ.get("MINER_CRASH_SEED", "8")))
    # One early (parsing), one late (indexing) and one anywhere: each run is a fresh workspace.
    points = [0.25 * took, 0.8 * took, rng.uniform(0.1, 1.0) * took]
    for i, after in enumerate(points):
        ws = tmp_path / f"ws{i}"
        code, left = kill_ingest(ws, corpus, after)
        assert code in (0, -signal.SIGKILL)  # 0: it finished before the kill came (a slower clean run)
        assert left == [], f"processes of the killed ingest survive: {left}"
        if not (ws / "catalogue.sqlite").exists() and not (ws / "catalogue.schema").exists():
            continue  # killed before the workspace existed
        rerun = miner("-w", str(ws), "ingest", str(corpus))
        assert "Traceback" not in rerun.stderr
        state = workspace_state(ws)
        assert consistent(state), (after, state, rerun.stderr[-1000:])
        assert state["documents"] == len(list(corpus.iterdir()))
        assert search_snapshot(ws, QUERIES) == expected, after


@pytest.mark.slow
def test_index_lost_after_commit_is_rebuilt_by_next_command(clean, tmp_path: Path):
    """The adversarial case: catalogue committed, index never updated; the rerun sees only duplicates."""
    corpus, _, expected = clean
    ws = tmp_path / "ws"
    miner("-w", str(ws), "ingest", str(corpus))
    from miner.indexing import STAMP_KEY
    from miner.pipeline import Workspace

    w = Workspace(ws)
    w.catalogue.set_meta(STAMP_KEY, "building")  # as if killed inside the index update
    w.close()
    (ws / "index" / "manifest.json").unlink()
    listing = miner("-w", str(ws), "documents", "--format", "json")
    assert "warning:" in listing.stderr and "repairs it" in listing.stderr  # a reader detects and says
    rerun = miner("-w", str(ws), "ingest", str(corpus), "--format", "json")
    assert '"duplicate"' in rerun.stdout
    lines = [ln for ln in rerun.stderr.splitlines() if "repaired the search index" in ln]
    assert len(lines) == 1, rerun.stderr
    assert consistent(workspace_state(ws))
    assert search_snapshot(ws, QUERIES) == expected


@pytest.mark.slow
def test_stale_lock_of_a_killed_writer_is_taken_over(clean, tmp_path: Path):
    corpus, _, _ = clean
    ws = tmp_path / "ws"
    miner("-w", str(ws), "ingest", str(corpus / "s01_audit_jiangzhou_water_0.txt"))
    (ws / ".write.lock").write_text("999999 ingest\n")  # a pid that is not running
    rerun = miner("-w", str(ws), "ingest", str(corpus / "s01_audit_jiangzhou_water_1.txt"))
    assert "pid 999999" in rerun.stderr and "took its lock over" in rerun.stderr
    assert "Traceback" not in rerun.stderr


@pytest.mark.slow
def test_workers_die_with_a_killed_ingest(tmp_path: Path):
    from hostile import REPORT

    corpus = tmp_path / "slow"
    corpus.mkdir()
    for i in range(4):  # ~10 s of splitting each: a worker left alive would still be busy long after the kill
        (corpus / f"long{i}.txt").write_text(REPORT * 25000 + f"编号{i}\n", encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "miner", "-w", str(tmp_path / "ws"), "ingest", str(corpus)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**_env(), "MINER_MAX_DOCUMENT_CHARS": "50000000", "MINER_MAX_FILE_MB": "500"},
        start_new_session=True,
    )
    # miner, multiprocessing's resource tracker, the forkserver and a worker
    deadline = time.time() + 60
    while len(processes_in_session(proc.pid)) < 4 and time.time() < deadline:
        time.sleep(0.05)
    assert len(processes_in_session(proc.pid)) >= 4
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 5
    while processes_in_session(proc.pid) and time.time() < deadline:
        time.sleep(0.1)
    assert processes_in_session(proc.pid) == []


def test_lock_held_by_an_orphan_of_a_dead_writer_is_taken_over(tmp_path: Path):
    from hostile import REPORT

    from miner.pipeline import Workspace

    ws = tmp_path / "ws"
    Workspace(ws).close()
    lock = ws / ".write.lock"
    lock.write_text("999999 ingest\n")  # the writer is gone; a child of it still holds the flock
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            "fd = os.open(sys.argv[1], os.O_RDWR); fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('held', flush=True); time.sleep(120)",
            str(lock),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        (tmp_path / "a.txt").write_text(REPORT, encoding="utf-8")
        proc = miner("-w", str(ws), "ingest", str(tmp_path / "a.txt"))
        assert "pid 999999" in proc.stderr and "took the lock over" in proc.stderr
        assert holder.wait(timeout=5) == -signal.SIGKILL
    finally:
        if holder.poll() is None:
            holder.kill()


@pytest.mark.slow
def test_deleted_vector_store_is_detected_and_rebuilt(clean, tmp_path: Path):
    import shutil

    from miner.vectors import server_url

    if server_url():
        pytest.skip(
            "vectors on a chroma server (MINER_TEST_BACKENDS=chroma): there is no store folder to delete, and "
            "start-up checks files only (opening the server would import chromadb in every read command)"
        )
    corpus, _, expected = clean
    ws = tmp_path / "ws"
    miner("-w", str(ws), "ingest", str(corpus))
    shutil.rmtree(ws / "index" / "chroma")
    search = miner("-w", str(ws), "search", "公车私用", "--format", "json")  # a reader repairs when no one writes
    assert "repaired the search index" in search.stderr and "missing" in search.stderr
    assert consistent(workspace_state(ws))
    assert search_snapshot(ws, QUERIES) == expected


@pytest.mark.slow
def test_a_reader_beside_a_writer_warns_and_never_writes(clean, tmp_path: Path):
    import shutil

    from miner.indexing import STAMP_KEY
    from miner.pipeline import Workspace
    from miner.store import acquire_write_lock, release_write_lock

    corpus, _, _ = clean
    ws = tmp_path / "ws"
    miner("-w", str(ws), "ingest", str(corpus))
    w = Workspace(ws)
    w.catalogue.set_meta(STAMP_KEY, "building")  # a writer is inside its index update right now
    w.close()
    fd = acquire_write_lock(ws, "ingest")
    try:
        proc = miner("-w", str(ws), "search", "公车私用", "--format", "json", check=False)
        assert proc.returncode == 0 and "warning:" in proc.stderr and "another process is writing" in proc.stderr
        assert '"hits"' in proc.stdout
        shutil.rmtree(ws / "index" / "keyword")  # … and has not written the keyword index yet
        proc = miner("-w", str(ws), "search", "公车私用", check=False)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert proc.stderr.strip().splitlines()[-1].startswith("error: the search index is being rebuilt")
        assert not (ws / "index" / "keyword").exists()  # the reader wrote nothing
    finally:
        release_write_lock(fd)
