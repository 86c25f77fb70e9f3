"""Metadata accuracy (issuer kind, year, issuer) on labelled corpora, in-process.

Same judgement as shared/eval/score.py: kind and year equal; issuer alike when the
difflib ratio is >= 0.8 or one name of 6+ characters contains the other, after dropping a
parenthesised note from the gold issuer and all punctuation/whitespace. Parsed documents
are cached (pickle in /tmp) so rule work loops in a second.

    python benchmarks/dev_metadata.py ../shared/eval/dev ../shared/eval/dev2 [--all] [--txt DIR]

``--txt DIR`` also runs every .txt file in DIR (no gold) and prints what was inferred:
the way to eyeball real public reports kept outside the repository.
"""

from __future__ import annotations

import argparse
import difflib
import json
import pickle
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from miner.ingest import read_document  # noqa: E402
from miner.metadata import infer_metadata  # noqa: E402

_DROP = re.compile(r"[\W_]+", re.UNICODE)


def norm(t: str) -> str:
    return _DROP.sub("", t)


def issuer_ok(gold: str, got: str) -> bool:
    g = norm(re.sub(r"[（(].*?[）)]", "", gold))
    p = norm(got or "")
    short, long_ = sorted((g, p), key=len)
    return difflib.SequenceMatcher(None, g, p).ratio() >= 0.8 or (len(short) >= 6 and short in long_)


def parsed(pdf: Path):
    cache = Path("/tmp/miner_meta_cache") / (pdf.parent.parent.name + "_" + pdf.stem + ".pkl")
    if cache.exists() and cache.stat().st_mtime > pdf.stat().st_mtime:
        return pickle.loads(cache.read_bytes())
    doc = read_document(pdf)
    cache.parent.mkdir(exist_ok=True)
    cache.write_bytes(pickle.dumps(doc))
    return doc


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpora", type=Path, nargs="*")
    ap.add_argument("--all", action="store_true", help="print every document, not only mistakes")
    ap.add_argument("--txt", type=Path, help="folder of unlabelled .txt reports to print")
    args = ap.parse_args()
    for corpus in args.corpora:
        ok = {"kind": 0, "year": 0, "issuer": 0}
        docs = [json.loads(line) for line in (corpus / "docs.jsonl").open(encoding="utf-8")]
        for d in docs:
            m = infer_metadata(parsed(corpus / d["file"]), Path(d["file"]).name)
            res = {
                "kind": m.issuer_kind == d["issuer_kind"],
                "year": str(m.year) == str(d["year"]),
                "issuer": issuer_ok(d["issuer"], m.issuer),
            }
            for k, v in res.items():
                ok[k] += v
            if args.all or not all(res.values()):
                bad = ",".join(k for k, v in res.items() if not v) or "ok"
                print(f"{d['id']} [{bad}] gold={d['issuer_kind']}/{d['year']}/{d['issuer']}")
                print(f"      got ={m.issuer_kind}/{m.year}/{m.issuer}")
        n = len(docs)
        acc = {k: v / n for k, v in ok.items()}
        print(
            f"{corpus.name}: "
            + " ".join(f"{k} {v:.3f}" for k, v in acc.items())
            + f" | meta {sum(acc.values()) / 3:.3f}"
        )
    if args.txt:
        for f in sorted(args.txt.glob("*.txt")):
            m = infer_metadata(read_document(f), f.name)
            print(f"{f.name}: {m.issuer_kind}/{m.year}/{m.issuer} | {m.title[:40]}")


if __name__ == "__main__":
    main()
