"""What the access layer costs per request: an administrator vs users confined by kinds and sharing rules.

    python benchmarks/bench_api_scope.py [--corpus corpora/samples] [--rounds 20]

Ingests the corpus into a fresh workspace, adds three users — ``admin`` (``*``, never
confined), ``one`` (one issuer kind: confined, no sharing pass) and ``many`` (three kinds:
confined, sharing rules computed) — and times the same reads for each through the app
(``TestClient``, in process): documents, search, common problems, unit list, recurrence. The
difference between ``admin`` and the others is the price of the scope's temporary views and of
the sharing pass; the audit log is written for every request in all three.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from api.main import create_app
from miner import access
from miner.config import Settings
from miner.pipeline import Workspace, ingest

ROOT = Path(__file__).resolve().parents[1]
READS = [
    ("/documents", {}),
    ("/search", {"q": "往来款长期挂账", "k": 20}),
    ("/clusters", {}),
    ("/units", {}),
    ("/recurrence", {}),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=ROOT / "corpora" / "samples")
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Path(tmp) / "ws")
        ingest(ws, sorted(p for p in args.corpus.iterdir() if p.suffix in (".txt", ".pdf", ".docx")))
        kinds = [
            r[0] for r in ws.catalogue.db.execute("SELECT issuer_kind FROM documents GROUP BY 1 ORDER BY COUNT(*) DESC")
        ]
        ws.close()
        tokens = {
            "admin": access.add_user(ws.root, "admin", ["*"], True),
            "one": access.add_user(ws.root, "one", kinds[:1]),
            "many": access.add_user(ws.root, "many", kinds[:3]),
        }
        app = create_app(ws.root, Settings(workspace=ws.root))
        with TestClient(app, base_url="http://127.0.0.1:8000") as c:
            for path, params in READS:  # warm caches (embedder, searcher, clustering)
                c.get(path, params=params, headers={"Authorization": f"Bearer {tokens['admin']}"})
            print(f"{'route':<14}" + "".join(f"{u:>12}" for u in tokens) + "   (median ms)")
            for path, params in READS:
                row = []
                for user, token in tokens.items():
                    times = []
                    for _ in range(args.rounds):
                        t0 = time.perf_counter()
                        r = c.get(path, params=params, headers={"Authorization": f"Bearer {token}"})
                        times.append((time.perf_counter() - t0) * 1000)
                        assert r.status_code == 200, (user, path, r.text[:200])
                    row.append(statistics.median(times))
                print(f"{path:<14}" + "".join(f"{t:>12.1f}" for t in row))


if __name__ == "__main__":
    main()
