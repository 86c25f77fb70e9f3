"""API under concurrent use: read latency of the common-problem list while batches are uploaded.

    python benchmarks/bench_api_concurrency.py                 # 20 clients, 60 s
    python benchmarks/bench_api_concurrency.py --clients 20 --seconds 30 --uploaders 2

Starts ``miner serve``'s app with uvicorn on 127.0.0.1 (a free port) over a fresh
workspace seeded with the sample reports, then runs ``--uploaders`` clients that upload
new reports (the samples with a changed place name, so every upload is a real ingest)
and the rest reading ``/clusters``, ``/search`` and ``/documents``. Prints p50/p95/max
latency of reads and uploads. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from api.main import create_app
from miner.config import Settings

SAMPLES = Path(__file__).resolve().parents[1] / "corpora" / "samples"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--uploaders", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=60)
    args = ap.parse_args()

    ws = Path(tempfile.mkdtemp(prefix="miner-bench-api-"))
    port = _free_port()
    app = create_app(ws, Settings(workspace=ws))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    texts = [p.read_bytes() for p in sorted(SAMPLES.glob("*.txt"))]
    with httpx.Client(base_url=base, timeout=600) as c:
        r = c.post("/batches", files=[("files", (f"seed{i}.txt", t, "text/plain")) for i, t in enumerate(texts)])
        r.raise_for_status()
        c.get("/clusters").raise_for_status()

    reads: list[float] = []
    uploads: list[float] = []
    errors: list[str] = []
    stop = time.perf_counter() + args.seconds
    counter = iter(range(10**9))
    lock = threading.Lock()

    def uploader() -> None:
        rng = random.Random()
        with httpx.Client(base_url=base, timeout=600) as c:
            while time.perf_counter() < stop:
                with lock:
                    n = next(counter)
                files = [
                    ("files", (f"u{n}-{i}.txt", t.replace("江州".encode(), f"江州{n}区".encode()), "text/plain"))
                    for i, t in enumerate(rng.sample(texts, 3))
                ]
                t0 = time.perf_counter()
                r = c.post("/batches", files=files)
                uploads.append(time.perf_counter() - t0)
                if r.status_code != 201:
                    errors.append(f"upload {r.status_code}")

    def reader() -> None:
        rng = random.Random()
        with httpx.Client(base_url=base, timeout=600) as c:
            while time.perf_counter() < stop:
                path, params = rng.choice(
                    [("/clusters", {"min_bodies": 2}), ("/search", {"q": "往来款长期挂账"}), ("/documents", {})]
                )
                t0 = time.perf_counter()
                r = c.get(path, params=params)
                reads.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    errors.append(f"{path} {r.status_code}")

    threads = [threading.Thread(target=uploader) for _ in range(args.uploaders)]
    threads += [threading.Thread(target=reader) for _ in range(args.clients - args.uploaders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    server.should_exit = True
    print(f"{args.clients} clients ({args.uploaders} uploading), {args.seconds:.0f} s")
    print(
        f"reads:   n={len(reads)} p50={_pct(reads, 0.5) * 1000:.0f} ms p95={_pct(reads, 0.95) * 1000:.0f} ms"
        f" max={max(reads, default=0) * 1000:.0f} ms"
    )
    print(
        f"uploads: n={len(uploads)} p50={_pct(uploads, 0.5):.1f} s p95={_pct(uploads, 0.95):.1f} s"
        f" mean={statistics.fmean(uploads) if uploads else 0:.1f} s"
    )
    print(f"errors: {len(errors)} {errors[:5]}")


if __name__ == "__main__":
    main()
