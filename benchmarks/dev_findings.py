"""Findings precision/recall on a labelled corpus, in-process (fast loop for rule work).

Uses the same matching as shared/eval/score.py (difflib ratio >= 0.5 on text with
punctuation and whitespace removed, one-to-one, best pairs first).

    python benchmarks/dev_findings.py --corpus ../shared/eval/dev [--show q03]
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from miner.findings import extract_findings  # noqa: E402
from miner.ingest import read_document  # noqa: E402

_DROP = re.compile(r"[\W_]+", re.UNICODE)


def norm(t: str) -> str:
    return _DROP.sub("", t)


def match(golds: list[str], preds: list[str]) -> dict[int, int]:
    pairs = []
    for i, p in enumerate(preds):
        for j, g in enumerate(golds):
            sm = difflib.SequenceMatcher(None, norm(p), norm(g), autojunk=False)
            if sm.real_quick_ratio() >= 0.5 and sm.quick_ratio() >= 0.5:
                r = sm.ratio()
                if r >= 0.5:
                    pairs.append((r, i, j))
    used_p, used_g, out = set(), set(), {}
    for _, i, j in sorted(pairs, reverse=True):
        if i not in used_p and j not in used_g:
            used_p.add(i)
            used_g.add(j)
            out[i] = j
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--show", nargs="*", default=[])
    args = ap.parse_args()
    gold: dict[str, list[str]] = {}
    for line in (args.corpus / "findings.jsonl").open(encoding="utf-8"):
        g = json.loads(line)
        gold.setdefault(g["doc_id"], []).append(g["text"])
    tp = n_pred = n_gold = 0
    for pdf in sorted((args.corpus / "pdf").glob("*.pdf")):
        doc = read_document(pdf)
        spans = extract_findings(doc)
        preds = [doc.source_text[s.start : s.end] for s in spans]
        golds = gold.get(pdf.stem, [])
        m = match(golds, preds)
        tp += len(m)
        n_pred += len(preds)
        n_gold += len(golds)
        flag = "" if len(m) == len(golds) == len(preds) else "  <--"
        print(f"{pdf.stem}: gold {len(golds):3d} pred {len(preds):3d} matched {len(m):3d}{flag}")
        if pdf.stem in args.show or "all" in args.show:
            for i, p in enumerate(preds):
                print("   P" + (" ok " if i in m else " -- "), p[:90])
            for j, g in enumerate(golds):
                if j not in m.values():
                    print("   MISSED", g[:90])
    p = tp / n_pred if n_pred else 0
    r = tp / n_gold if n_gold else 0
    print(f"precision {p:.3f} recall {r:.3f} F1 {2 * p * r / (p + r) if p + r else 0:.3f}")


if __name__ == "__main__":
    main()
