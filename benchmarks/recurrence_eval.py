"""How many of a corpus's labelled recurrences end up in a recurrence chain.

The eval corpora tag findings that report a problem again (``#lvfan`` in their build
sources). This ingests nothing: it reads a workspace already built from the corpus PDFs
(``miner -w W ingest CORPUS/pdf/*.pdf && miner -w W clusters``), matches each tagged gold
finding to the workspace finding with the most character-bigram overlap in the same document,
and counts those that appear as "found again" or "still open" in some chain.

    python benchmarks/recurrence_eval.py WORKSPACE /work/shared/eval/dev2
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from miner import recurrence
from miner.pipeline import Workspace
from miner.segment import normalize


def _bigrams(s: str) -> set[str]:
    s = re.sub(r"\s", "", normalize(s))
    return {s[i : i + 2] for i in range(len(s) - 1)}


def main(workspace: str, corpus: str) -> None:
    ws = Workspace(Path(workspace))
    root = Path(corpus)
    gold = [json.loads(line) for line in (root / "findings.jsonl").open(encoding="utf-8")]
    tagged = set()
    for p in (root / "build").glob("corpus_*.py"):
        for m in re.finditer(r"⟦F:([^⟧]*)⟧(.*?)⟦/F⟧", p.read_text(encoding="utf-8"), re.S):
            if "lvfan" in m.group(1):
                tagged.add(normalize(m.group(2))[:25])
    labelled = [g for g in gold if normalize(g["text"])[:25] in tagged]
    chains = recurrence.chains(ws)
    roles: dict[str, list[str]] = {}
    for c in chains:
        for e in c.events:
            if e.finding_id and e.role in ("found_again", "still_open"):
                roles.setdefault(e.finding_id, []).append(c.label)
    findings = ws.catalogue.findings()
    hit = 0
    for g in labelled:
        gb = _bigrams(g["text"])
        best = None
        for f in findings:
            if not f.document.startswith(g["doc_id"]):
                continue
            overlap = len(gb & _bigrams(f.text)) / max(1, len(gb | _bigrams(f.text)))
            if overlap > 0.5 and (best is None or overlap > best[0]):
                best = (overlap, f.id)
        ok = best is not None and best[1] in roles
        hit += ok
        why = roles[best[1]] if ok else ("(not extracted)" if best is None else "")
        print("OK  " if ok else "MISS", g["id"], why, g["text"][:50])
    cross = sum(c.earlier_in_workspace for c in chains)
    print(f"labelled recurrences in chains: {hit}/{len(labelled)}; chains {len(chains)} ({cross} cross-document)")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
