"""Rebuild the problem-statement model (models/problem-model) from labelled corpora.

    python models/train_problem_model.py --train ../shared/eval/dev ../shared/eval/dev2 corpora/labelled
    python models/train_problem_model.py --train ../shared/eval/dev --score ../shared/eval/dev2 --no-save

A corpus is a folder in the format of shared/eval (CONTRACT.md): ``pdf/*.pdf`` (or
``docs/*.txt``, as in corpora/labelled) and ``findings.jsonl`` with the gold problem
statements. Each file is read by miner's own ingest, the rules propose candidates, and a
candidate is labelled a problem when it matches a gold finding the way
shared/eval/score.py matches (difflib ratio ≥ 0.5, one-to-one). The cut-off is chosen by
leave-one-corpus-out (or 5-fold by document when there is one corpus), never on the
documents being scored. ``--score`` prints findings precision / recall / F1 of the trained model on other corpora.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.dev_findings import match  # noqa: E402
from miner import problem_model  # noqa: E402
from miner.findings import FindingExtractor, _choose_alternatives  # noqa: E402
from miner.ingest import _t2s, read_document  # noqa: E402

DEFAULT_OUT = ROOT / "models" / "problem-model"


def load_corpus(folder: Path) -> list[tuple[str, list, list[int], int]]:
    """(document id, candidates, labels, number of gold findings) for every PDF of a corpus."""
    gold: dict[str, list[str]] = defaultdict(list)
    for line in (folder / "findings.jsonl").open(encoding="utf-8"):
        g = json.loads(line)
        gold[g["doc_id"]].append(_t2s(g["text"]))
    out = []
    extractor = FindingExtractor()
    files = sorted((folder / "pdf").glob("*.pdf")) or sorted((folder / "docs").glob("*.txt"))
    for path in files:
        doc = read_document(path)
        cands = [c for c in extractor.candidates(doc) if c.source != "quoted"]  # as FindingExtractor.scored
        matched = match(gold.get(path.stem, []), [c.text for c in cands])
        labels = [int(i in matched) for i in range(len(cands))]
        out.append((f"{folder.name}/{path.stem}", cands, labels, len(gold.get(path.stem, []))))
    return out


def flatten(docs):
    cands = [c for _, cs, _, _ in docs for c in cs]
    labels = [y for _, _, ys, _ in docs for y in ys]
    return cands, labels, sum(n for *_, n in docs)


def score(model: problem_model.ProblemModel, docs, threshold: float) -> dict:
    """Findings P/R/F1 as score.py counts them (the candidates' matches are one-to-one already)."""
    cands, labels, n_gold = flatten(docs)
    probs = model.predict(cands)
    keep = (probs >= threshold) & np.asarray(_choose_alternatives(cands, probs))
    tp = int(np.asarray(labels)[keep].sum())
    p = tp / keep.sum() if keep.sum() else 0.0
    r = tp / n_gold if n_gold else 0.0
    ceiling = sum(labels) / n_gold if n_gold else 0.0
    return {
        "precision": round(p, 3),
        "recall": round(r, 3),
        "f1": round(2 * p * r / (p + r), 3) if p + r else 0.0,
        "candidate_recall_ceiling": round(ceiling, 3),
    }


def choose_threshold(groups: list[list], c: float) -> float:
    """Cut-off from held-out predictions: each group predicted by a model trained on the others."""
    probs, labels, n_gold = [], [], 0
    for i, held in enumerate(groups):
        rest = [d for j, g in enumerate(groups) if j != i for d in g]
        model = problem_model.fit(*flatten(rest)[:2], c=c)
        hc, hl, hn = flatten(held)
        probs.append(model.predict(hc))
        labels.append(np.asarray(hl))
        n_gold += hn
    return problem_model.best_threshold(np.concatenate(probs), np.concatenate(labels), n_gold)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=Path, nargs="+", required=True)
    ap.add_argument("--score", type=Path, nargs="*", default=[])
    ap.add_argument("--c", type=float, default=1.0, help="inverse regularisation strength")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--no-save", action="store_true")
    args = ap.parse_args()

    corpora = {folder: load_corpus(folder) for folder in args.train}
    if len(corpora) > 1:
        groups = list(corpora.values())
    else:
        docs = next(iter(corpora.values()))
        groups = [docs[i::5] for i in range(5)]
    threshold = choose_threshold(groups, args.c)
    all_docs = [d for g in corpora.values() for d in g]
    model = problem_model.fit(*flatten(all_docs)[:2], c=args.c)
    model.threshold = threshold
    model.floor = round(max(0.1, threshold - 0.25), 2)
    cands, labels, n_gold = flatten(all_docs)
    model.info = {
        "trained_on": [p.name for p in args.train],
        "documents": len(all_docs),
        "candidates": len(cands),
        "positives": int(sum(labels)),
        "gold_findings": n_gold,
        "c": args.c,
    }
    print(json.dumps({"threshold": threshold, **model.info}, ensure_ascii=False))
    for folder in args.train:
        print(f"train {folder.name}: {score(model, corpora[folder], threshold)}")
    for folder in args.score:
        print(f"score {folder.name}: {score(model, load_corpus(folder), threshold)}")
    if not args.no_save:
        model.save(args.out)
        print(f"saved {args.out}")


if __name__ == "__main__":
    main()
