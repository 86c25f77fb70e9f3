"""Hostile input and kill -9, at scale: nothing hangs, nothing blows up, nothing is lost.

    python benchmarks/bench_hostile.py [--files 520] [--kills 20] [--seed 0]

1. ``--files`` hostile files (tests/hostile.py: truncated/garbage/flipped PDFs, a 20,001-page PDF,
   zip bombs, a 10 MB one-line and a 37 MB many-line .txt, Big5/Shift-JIS/EUC-KR/HZ/ISO-2022-JP/
   UTF-7 text, empty and mis-named files, reports without problems) go through ``miner ingest``
   (CLI, one batch) and through ``miner.pipeline.ingest`` (in this process).
2. ``--kills`` runs of ``miner ingest`` on a small corpus are killed with SIGKILL at random points;
   after each, the next ``miner ingest`` must leave catalogue, vectors and keyword index in step
   and search equal to a clean run, with no process of the killed run left.

Prints crashes, hangs beyond the time limit, peak memory (whole process tree), read / warned /
refused counts, silent zero-finding accepts and wrong outcomes, then the kill results.
Needs psutil (the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

QUERIES = ["往来款长期挂账", "公车私用", "规避公开招标", "津贴补贴", "政府采购"]


def _env() -> dict:
    from hostile import child_env

    return child_env()


class PeakMemory:
    """Polls the resident memory of a process and all its descendants (psutil); keeps the peak sum."""

    def __init__(self, pid: int, every: float = 0.05):
        self.pid, self.every, self.peak = pid, every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._stop.is_set():
            total = 0
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for p in procs:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(self.every)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def tally(files: dict, rows: list[dict], timeout_s: float) -> dict:
    from hostile import check_outcome

    out = {"read": 0, "warned": 0, "refused": 0, "duplicate": 0, "silent_zero": 0, "wrong": 0, "timeouts": 0}
    wrong = []
    for r in rows:
        kind, expect = files[r["name"]]
        if r["status"] == "duplicate":
            out["duplicate"] += 1
        elif r["status"] == "failed":
            out["refused"] += 1
            out["timeouts"] += "MINER_FILE_TIMEOUT_S" in r["message"]
        elif r["findings"]:
            out["read"] += 1
        else:
            out["warned"] += 1
        problem = check_outcome(expect, r["status"], r["findings"], r["message"])
        if problem:
            out["silent_zero"] += problem.startswith("silently")
            out["wrong"] += 1
            wrong.append(f"{r['name']}: {problem}")
    out["wrong_examples"] = wrong[:10]
    return out


def run_cli(folder: Path, files: dict, work: Path, timeout_s: float) -> dict:
    ws = work / "ws-cli"
    start = time.time()
    proc = subprocess.Popen(
        [sys.executable, "-m", "miner", "-w", str(ws), "ingest", str(folder), "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    with PeakMemory(proc.pid) as mem:
        stdout, stderr = proc.communicate()
    took = time.time() - start
    crashed = proc.returncode != 0 or "Traceback" in stderr
    rows = []
    if not crashed:
        rows = [
            {"name": f["file"], "status": f["status"], "findings": f["findings"], "message": f["message"]}
            for f in json.loads(stdout)["files"]
        ]
    peak = mem.peak // 2**20
    return {"seconds": round(took, 1), "crashes": int(crashed), "peak_mb": peak, **tally(files, rows, timeout_s)}


def run_pipeline(folder: Path, files: dict, work: Path, timeout_s: float) -> dict:
    from miner.pipeline import Workspace, ingest

    ws = Workspace(work / "ws-pipeline")
    start = time.time()
    crashed = 0
    with PeakMemory(os.getpid()) as mem:
        try:
            batch = ingest(ws, [folder])
        except Exception as exc:  # noqa: BLE001 - counted, that is the point
            print(f"pipeline crashed: {type(exc).__name__}: {exc}", file=sys.stderr)
            crashed, batch = 1, {"files": []}
    took = time.time() - start
    peak = mem.peak // 2**20
    return {"seconds": round(took, 1), "crashes": crashed, "peak_mb": peak, **tally(files, batch["files"], timeout_s)}


def run_kills(work: Path, kills: int, rng: random.Random) -> dict:
    from hostile import consistent, crash_corpus, processes_in_session, search_snapshot, workspace_state

    corpus = work / "corpus"
    crash_corpus(corpus, ROOT / "corpora" / "samples", copies=4)
    n_docs = len(list(corpus.iterdir()))

    def miner(ws: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "miner", "-w", str(ws), "ingest", str(corpus)],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=600,
        )

    start = time.time()
    assert miner(work / "clean").returncode == 0
    took = time.time() - start
    expected = search_snapshot(work / "clean", QUERIES)
    out = {"runs": kills, "survivors": 0, "inconsistent": 0, "search_differs": 0, "repaired": 0, "rerun_failed": 0}
    for i in range(kills):
        ws = work / f"kill{i}"
        proc = subprocess.Popen(
            [sys.executable, "-m", "miner", "-w", str(ws), "ingest", str(corpus)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=_env(),
            start_new_session=True,
        )
        time.sleep(rng.uniform(0.05, 1.1) * took)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.time() + 3
        while processes_in_session(proc.pid) and time.time() < deadline:
            time.sleep(0.1)
        left = processes_in_session(proc.pid)
        out["survivors"] += len(left)
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        rerun = miner(ws)
        if rerun.returncode != 0 or "Traceback" in rerun.stderr:
            out["rerun_failed"] += 1
            continue
        out["repaired"] += "repaired the search index" in rerun.stderr
        state = workspace_state(ws)
        if not consistent(state) or state["documents"] != n_docs:
            out["inconsistent"] += 1
            print(f"kill {i}: {state}", file=sys.stderr)
        elif search_snapshot(ws, QUERIES) != expected:
            out["search_differs"] += 1
    out["clean_ingest_s"] = round(took, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=520)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from hostile import bomb_files, write_hostile

    from miner.config import get_settings

    timeout_s = get_settings().file_timeout_s
    work = Path(tempfile.mkdtemp(prefix="miner-hostile-"))
    try:
        folder = work / "in"
        sample = (ROOT / "corpora" / "samples" / "s07_audit_jiangzhou_education.pdf").read_bytes()
        files = write_hostile(folder, args.files - 2, sample, seed=args.seed)
        files.update(bomb_files(folder))
        size = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
        print(f"{len(files)} hostile files, {size:.0f} MB on disk, time limit {timeout_s:g} s per file")
        results = {
            "cli": run_cli(folder, files, work, timeout_s),
            "pipeline": run_pipeline(folder, files, work, timeout_s),
        }
        for name, r in results.items():
            print(
                f"{name:9} crashes {r['crashes']} | hangs {r['timeouts']} | peak {r['peak_mb']} MB | "
                f"read {r['read']} warned {r['warned']} refused {r['refused']} duplicate {r['duplicate']} | "
                f"silent zero-finding accepts {r['silent_zero']} | wrong outcomes {r['wrong']} | {r['seconds']} s"
            )
            for w in r["wrong_examples"]:
                print(f"    {w}")
        if args.kills:
            k = run_kills(work, args.kills, random.Random(args.seed))
            print(
                f"kill -9   runs {k['runs']} | survivors {k['survivors']} | rerun failed {k['rerun_failed']} | "
                f"inconsistent after rerun {k['inconsistent']} | search differs from clean run {k['search_differs']} | "
                f"repaired by the rerun {k['repaired']} | clean ingest {k['clean_ingest_s']} s"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
