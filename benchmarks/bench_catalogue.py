"""The catalogue on SQLite (the default) vs PostgreSQL (``MINER_DATABASE_URL``), through the CLI.

    python benchmarks/bench_catalogue.py                 # the dev PDFs
    python benchmarks/bench_catalogue.py --corpus dev2 --repeat 5

For each backend, in a fresh workspace: ``miner ingest`` of the corpus's PDFs (2 workers), then
``miner findings --format json`` and ``miner documents`` as a user runs them (fresh processes:
start-up included; the best of ``--repeat``), and ``Catalogue.findings()`` in this process (the
catalogue read alone). PostgreSQL is a throwaway cluster on 127.0.0.1 (tests/backends.py: initdb +
pg_ctl, fsync off), i.e. the database on the same machine; a database across a network adds its
round trips. Nothing is sent anywhere else.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
EVAL = ROOT.parent / "shared" / "eval"
if not EVAL.exists():
    EVAL = Path("/work/shared/eval")
for _k, _v in (("HF_HUB_OFFLINE", "1"), ("ORT_DISABLE_TELEMETRY", "1"), ("ANONYMIZED_TELEMETRY", "False")):
    os.environ[_k] = _v


def miner(env: dict, *args: str) -> float:
    started = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "miner", *args], capture_output=True, text=True, env=env, timeout=1800, cwd=ROOT
    )
    took = time.perf_counter() - started
    if r.returncode:
        raise SystemExit(f"miner {' '.join(args[:3])} failed: {r.stderr[-2000:]}")
    return took


def in_process_read(env: dict, ws: Path, repeat: int) -> tuple[float, int]:
    code = (
        "import sys, time\n"
        "from miner.pipeline import Workspace\n"
        f"ws = Workspace({str(ws)!r})\n"
        "best = 1e9\n"
        f"for _ in range({repeat}):\n"
        "    t = time.perf_counter(); n = len(ws.catalogue.findings()); best = min(best, time.perf_counter() - t)\n"
        "print(best, n)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600, cwd=ROOT)
    if r.returncode:
        raise SystemExit(r.stderr[-2000:])
    took, n = r.stdout.split()
    return float(took), int(n)


def run(backend: str, env: dict, corpus: Path, repeat: int) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"miner-bench-{backend}-") as tmp:
        ws = Path(tmp) / "ws"
        out = {"ingest": miner(env, "-w", str(ws), "ingest", str(corpus), "--workers", "2")}
        out["findings"] = min(miner(env, "-w", str(ws), "findings", "--format", "json") for _ in range(repeat))
        out["documents"] = min(miner(env, "-w", str(ws), "documents", "--format", "json") for _ in range(repeat))
        out["read"], out["n"] = in_process_read(env, ws, repeat)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="dev", help="dev or dev2 (its pdf/ folder) or a folder of reports")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    corpus = EVAL / args.corpus / "pdf" if (EVAL / args.corpus / "pdf").is_dir() else Path(args.corpus)
    files = [p for p in corpus.iterdir() if p.is_file()]
    base = {k: v for k, v in os.environ.items() if k not in ("MINER_DATABASE_URL", "MINER_CHROMA_URL")}
    base["PYTHONPATH"] = str(ROOT)
    from tests.backends import start_postgres

    results = {"sqlite": run("sqlite", base, corpus, args.repeat)}
    url, stop = start_postgres()
    try:
        results["postgres"] = run("postgres", {**base, "MINER_DATABASE_URL": url}, corpus, args.repeat)
    finally:
        stop()
    print(f"corpus: {corpus} ({len(files)} files); best of {args.repeat} for the reads; cpus: {os.cpu_count()}")
    print(
        f"{'backend':10} {'ingest s':>9} {'findings CLI s':>15} {'documents CLI s':>16} {'read s':>8} {'findings':>9}"
    )
    for name, r in results.items():
        print(f"{name:10} {r['ingest']:9.2f} {r['findings']:15.2f} {r['documents']:16.2f} {r['read']:8.3f} {r['n']:9d}")


if __name__ == "__main__":
    main()
