"""The catalogue on SQLite (the default) vs PostgreSQL (``MINER_DATABASE_URL``), through the CLI.

    python benchmarks/bench_catalogue.py                 # the dev PDFs
    python benchmarks/bench_catalogue.py --corpus dev2 --repeat 5

For each backend, in a fresh workspace (``--rounds``, alternating backends): ``miner ingest`` of
the corpus's PDFs (2 workers), then ``miner findings --format json`` and ``miner documents`` as a
user runs them (fresh processes: start-up included), and ``Catalogue.findings()`` in a process of
its own (the catalogue read alone); the best time of each is printed. PostgreSQL is a throwaway
cluster on this machine (tests/backends.py: initdb + pg_ctl, fsync off, unix socket); a database
across a network adds its round trips. Nothing is sent anywhere else.
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


def run(backend: str, env: dict, corpus: Path, repeat: int, out: dict) -> None:
    """One fresh workspace: ingest, then the reads; the best time of every round is kept in ``out``."""
    with tempfile.TemporaryDirectory(prefix=f"miner-bench-{backend}-") as tmp:
        ws = Path(tmp) / "ws"
        took = {"ingest": miner(env, "-w", str(ws), "ingest", str(corpus), "--workers", "2")}
        took["findings"] = min(miner(env, "-w", str(ws), "findings", "--format", "json") for _ in range(repeat))
        took["documents"] = min(miner(env, "-w", str(ws), "documents", "--format", "json") for _ in range(repeat))
        took["read"], out["n"] = in_process_read(env, ws, repeat)
    for key, value in took.items():
        out[key] = min(out.get(key, value), value)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="dev", help="dev or dev2 (its pdf/ folder) or a folder of reports")
    ap.add_argument("--repeat", type=int, default=3, help="reads per workspace (the best counts)")
    ap.add_argument("--rounds", type=int, default=2, help="fresh workspaces per backend (the best ingest counts)")
    args = ap.parse_args()
    corpus = EVAL / args.corpus / "pdf" if (EVAL / args.corpus / "pdf").is_dir() else Path(args.corpus)
    files = [p for p in corpus.iterdir() if p.is_file()]
    base = {k: v for k, v in os.environ.items() if k not in ("MINER_DATABASE_URL", "MINER_CHROMA_URL")}
    base["PYTHONPATH"] = str(ROOT)
    from tests.backends import start_postgres

    results: dict[str, dict] = {"sqlite": {}, "postgres": {}}
    url, stop = start_postgres()
    try:  # rounds alternate between the backends, so a busy machine weighs on both alike
        for _ in range(args.rounds):
            run("sqlite", base, corpus, args.repeat, results["sqlite"])
            run("postgres", {**base, "MINER_DATABASE_URL": url}, corpus, args.repeat, results["postgres"])
    finally:
        stop()
    print(
        f"corpus: {corpus} ({len(files)} files); best of {args.rounds} ingests and {args.rounds}x{args.repeat} reads;"
        f" cpus: {os.cpu_count()}, load {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'backend':10} {'ingest s':>9} {'findings CLI s':>15} {'documents CLI s':>16} {'read s':>8} {'findings':>9}"
    )
    for name, r in results.items():
        print(f"{name:10} {r['ingest']:9.2f} {r['findings']:15.2f} {r['documents']:16.2f} {r['read']:8.3f} {r['n']:9d}")


if __name__ == "__main__":
    main()
