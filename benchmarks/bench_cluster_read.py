"""Reading common problems is free: ``miner clusters`` and ``GET /clusters`` on ~10k findings.

    python benchmarks/bench_cluster_read.py                  # build (once) and measure
    python benchmarks/bench_cluster_read.py --pages 2700 --work /tmp/clusterread

The workspace is the dev + dev2 PDFs copied until ``--pages`` pages (each copy differs in its PDF
info dictionary only, as in ``bench_scale.py``; MINER_DUPLICATE_THRESHOLD=1.1 so copies are not
refused as duplicate reports): about 3.8 findings a page, so 2,700 pages ≈ 10k findings. It is
ingested and clustered once (kept in ``--work`` for later runs), then timed:

- ``miner clusters --format json`` as a user runs it (a fresh process; nothing new to place),
  unfiltered, with ``--issuer-kind audit`` (names recomputed for the kinds shown) and ``--year``;
- ``GET /clusters`` in-process (FastAPI TestClient: the route, scope and JSON, no socket) for a
  single-user server, an administrator, a reader granted one issuer kind and one granted two
  (restricted names; sharing rules apply to the second).
- the same reads in one process without start-up (``problems.update`` check + ``problems`` + views).

Target: ≤ 0.3 s per read (issue 11). Nothing is sent anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
for _k, _v in (("HF_HUB_OFFLINE", "1"), ("ORT_DISABLE_TELEMETRY", "1"), ("ANONYMIZED_TELEMETRY", "False")):
    os.environ[_k] = _v
os.environ["MINER_DUPLICATE_THRESHOLD"] = "1.1"

from bench_scale import ENV, cli, distinct_copies, source_pdfs  # noqa: E402


def build(work: Path, pages: int) -> Path:
    ws = work / "ws"
    if (ws / "catalogue.sqlite").exists():
        print(f"workspace {ws} exists: reusing it")
        return ws
    files, total = distinct_copies(source_pdfs(), work / "batch", pages)
    t_ingest, out = cli(ws, "ingest", str(work / "batch"), "--workers", "2", "--format", "json")
    print(f"built: {len(files)} PDFs, {total} pages; ingest {t_ingest:.1f} s ({json.loads(out)['counts']})")
    t_cluster, out = cli(ws, "clusters", "--format", "json")
    print(
        f"first `miner clusters` (clustering, names, order stored): {t_cluster:.1f} s, {len(json.loads(out))} problems"
    )
    return ws


def timed_cli(ws: Path, *args: str, runs: int = 3) -> tuple[float, int]:
    times, n = [], 0
    for _ in range(runs):
        t, out = cli(ws, "clusters", "--format", "json", *args, env=ENV)
        times.append(t)
        n = len(json.loads(out))
    return statistics.median(times), n


def api_latency(ws: Path, runs: int = 5) -> dict[str, tuple[float, int]]:
    from fastapi.testclient import TestClient

    from api.main import create_app
    from miner import access
    from miner.config import Settings

    out: dict[str, tuple[float, int]] = {}
    saved = access.load(ws)
    try:
        grants = {"admin": ["*"], "reader audit": ["audit"], "reader audit+congress": ["audit", "congress"]}
        for name in ("single-user", *grants):
            if name == "single-user":  # no users configured
                access.save(ws, [])
                token = None
            else:  # a reader of several kinds also has the sharing rules applied (api/scope.py)
                token = access.add_user(ws, f"bench-{name.replace(' ', '-')}", grants[name])
            app = create_app(ws, Settings(workspace=ws))
            with TestClient(app, base_url="http://127.0.0.1:8000") as c:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                c.get("/clusters", headers=headers)  # warm: the first request opens the snapshot pool
                times, n = [], 0
                for _ in range(runs):
                    t0 = time.perf_counter()
                    r = c.get("/clusters", headers=headers)
                    times.append(time.perf_counter() - t0)
                    assert r.status_code == 200, r.text
                    n = len(r.json())
                out[name] = (statistics.median(times), n)
    finally:
        access.save(ws, saved)
    return out


def in_process(ws: Path, filters: dict | None, runs: int = 5) -> tuple[float, int]:
    """What ``miner clusters`` does after start-up: the update check, the read, the views."""
    from miner import problems
    from miner.pipeline import Workspace, problem_view

    w = Workspace(ws)
    times, n = [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        problems.update(w)
        rows = [problem_view(p, w.catalogue) for p in problems.problems(w, filters=filters, recurrences=False)]
        times.append(time.perf_counter() - t0)
        n = len(rows)
    return statistics.median(times), n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=2700)
    ap.add_argument("--work", type=Path, default=Path("/tmp/miner-bench-cluster-read"))
    args = ap.parse_args()
    ws = build(args.work, args.pages)
    import sqlite3

    db = sqlite3.connect(ws / "catalogue.sqlite")
    n_findings = db.execute("SELECT COUNT(*) FROM findings WHERE status='finding'").fetchone()[0]
    n_clusters = db.execute("SELECT COUNT(*) FROM clusters").fetchone()[0]
    db.close()
    print(f"\n== reading common problems: {n_findings} findings, {n_clusters} clusters ==")
    for label, extra in (
        ("miner clusters --format json", ()),
        ("  … --issuer-kind audit", ("--issuer-kind", "audit")),
        ("  … --year 2023", ("--year", "2023")),
    ):
        t, n = timed_cli(ws, *extra)
        print(f"{label:38s}: {t:6.2f} s  ({n} problems; fresh process, median of 3)")
    for label, flt in (("in-process read, all", None), ("in-process read, audit", {"issuer_kind": ["audit"]})):
        t, n = in_process(ws, flt)
        print(f"{label:38s}: {t * 1000:6.0f} ms ({n} problems; median of 5)")
    for name, (t, n) in api_latency(ws).items():
        print(f"GET /clusters, {name:23s}: {t * 1000:6.0f} ms ({n} problems; median of 5)")


if __name__ == "__main__":
    main()
