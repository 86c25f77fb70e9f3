"""Duplicate-report check: separation on the eval corpora, and cost at workspace scale.

    python benchmarks/bench_duplicates.py [--corpora ../shared/eval] [--n 5000] [--skip-ocr]

1. Every PDF of dev/ and dev2/ is read as ingest reads it, the three dev2 scans through
   Tesseract (unless --skip-ocr); prints the similarity of each scan to its text PDF and the
   most alike pairs of distinct reports, i.e. the margin on each side of the threshold.
2. Synthetic reports (recombined sentences of the corpora, ~1,500 characters each): time to
   sign them, to build the index from stored signatures, and to check one new report.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datasketch import MinHash  # noqa: E402

from miner.duplicates import NUM_PERM, SCHEME, DuplicateIndex, signature  # noqa: E402
from miner.ingest import read_document  # noqa: E402


def separation(corpora: Path, ocr: bool) -> list[str]:
    texts: dict[str, str] = {}
    for corpus in ("dev", "dev2"):
        for p in sorted((corpora / corpus / "pdf").glob("*.pdf")):
            texts[f"{corpus}/{p.stem}"] = read_document(p, 6, "off").text
    if ocr:
        for p in sorted((corpora / "dev2" / "scanned").glob("*.pdf")):
            texts[f"scan/{p.stem}"] = read_document(p, 6, "auto").text
    sigs = {k: signature(t) for k, t in texts.items()}
    pairs = sorted(
        ((sigs[a].jaccard(sigs[b]), a, b) for a, b in itertools.combinations(sigs, 2) if sigs[a] and sigs[b]),
        reverse=True,
    )
    same = [(j, a, b) for j, a, b in pairs if a.split("/")[1] == b.split("/")[1] and "scan" in a + b]
    other = [(j, a, b) for j, a, b in pairs if (j, a, b) not in same]
    lines = [f"{len(texts)} reports"]
    lines += [f"same report  {j:.3f}  {a} ~ {b}" for j, a, b in same]
    lines += [f"distinct     {j:.3f}  {a} ~ {b}" for j, a, b in other[:5]]
    return texts, lines


def scale(texts: list[str], n: int) -> list[str]:
    sentences = [s for t in texts for s in t.replace("\n", "").split("。") if len(s) > 10]
    rng = random.Random(0)
    docs = ["。".join(rng.sample(sentences, 30)) for _ in range(n)]
    t0 = time.perf_counter()
    sigs = [signature(d) for d in docs]
    t_sign = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        index = DuplicateIndex(0.5)
        for i, s in enumerate(sigs):
            index.add(f"d{i}", f"d{i}.pdf", sig=MinHash(num_perm=NUM_PERM, hashvalues=s.hashvalues, scheme=SCHEME))
        t_build = time.perf_counter() - t0
        index.save(Path(tmp), [f"d{i}" for i in range(n)])
        size = sum(f.stat().st_size for f in Path(tmp).iterdir())
    t0 = time.perf_counter()
    hits = sum(index.match(d) is not None for d in docs[:100])
    t_match = (time.perf_counter() - t0) / 100
    return [
        f"{n} synthetic reports (~{sum(map(len, docs)) // n} chars): sign {t_sign / n * 1000:.2f} ms each, "
        f"index from signatures {t_build:.2f} s, check one {t_match * 1000:.2f} ms, "
        f"cache {size / 1e6:.1f} MB, self-matches {hits}/100",
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpora", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "eval")
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--skip-ocr", action="store_true")
    args = ap.parse_args()
    texts, lines = separation(args.corpora, not args.skip_ocr)
    print("\n".join(lines))
    print("\n".join(scale(list(texts.values()), args.n)))


if __name__ == "__main__":
    main()
