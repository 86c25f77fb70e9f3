"""Spot a report that is already in the workspace in another form (scan vs text, docx vs PDF, re-typeset).

Byte hashes only catch identical files; a scan of a report, or its docx beside its PDF,
would otherwise enter as a second report, form a "common problem" with itself and inflate
every count. We compare the documents' normalised text instead: Jaccard similarity of
character 3-shingles (punctuation and whitespace dropped, so layout and OCR spacing do not
matter), estimated with MinHash and looked up with LSH (datasketch), so a batch is checked
against thousands of reports without pairwise comparison.

Measured on the dev and dev2 corpora (70 reports, 3 scans read by Tesseract): a scan and its
text PDF score 0.86–0.95; the most alike distinct reports (a 2021 audit and the rectification
report that quotes it, two years of the same office's report) score at most 0.20
(benchmarks/bench_duplicates.py). Reports written from one template (the same office, the
same form, other units and figures) reach 0.6, so the default threshold is 0.8, below every
scan (``MINER_DUPLICATE_THRESHOLD``; above 1 switches the check off).

Signatures are a cache (`duplicates-affine32.npz` in the workspace), keyed by document id — a content
hash, so a stored signature never goes stale; missing ones are computed from the catalogue text.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from datasketch import MinHash, MinHashLSH

SHINGLE = 3
NUM_PERM = 128
SCHEME = "affine32"  # datasketch's hashing scheme; signatures of different schemes do not compare
MIN_CHARS = 50  # shorter texts (a cover page, a failed OCR) say too little to call a duplicate
CACHE_NAME = f"duplicates-{SCHEME}.npz"
_NOT_TEXT = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class Match:
    """The report a new document repeats, and how alike their texts are (estimated Jaccard)."""

    doc_id: str
    name: str
    similarity: float

    def message(self) -> str:
        pct = f"{self.similarity:.0%}"
        return (
            f"same report as {self.name} (text {pct} alike); not added"
            f" / 与 {self.name} 为同一报告（文本相似度{pct}），未重复计入"
        )


def signature(text: str) -> MinHash | None:
    """MinHash of the text's character shingles, or None when the text is too short to judge."""
    norm = _NOT_TEXT.sub("", text)
    if len(norm) < MIN_CHARS:
        return None
    m = MinHash(num_perm=NUM_PERM, scheme=SCHEME)
    m.update_batch({norm[i : i + SHINGLE].encode("utf-8") for i in range(len(norm) - SHINGLE + 1)})
    return m


class DuplicateIndex:
    """Reports seen so far (in the workspace and earlier in this batch), searchable by text similarity."""

    def __init__(self, threshold: float = 0.8):
        self.threshold = threshold
        self.enabled = threshold <= 1.0
        self._lsh = MinHashLSH(threshold=min(max(threshold, 0.05), 1.0), num_perm=NUM_PERM) if self.enabled else None
        self._sigs: dict[str, MinHash] = {}
        self._names: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._sigs)

    def add(self, doc_id: str, name: str, text: str | None = None, sig: MinHash | None = None) -> None:
        if not self.enabled or doc_id in self._sigs:
            return
        sig = sig if sig is not None else signature(text or "")
        if sig is None:
            return
        self._sigs[doc_id] = sig
        self._names[doc_id] = name
        assert self._lsh is not None
        self._lsh.insert(doc_id, sig)

    def match(self, text: str) -> Match | None:
        """The most alike report at or above the threshold, or None."""
        if not self.enabled or not self._sigs:
            return None
        sig = signature(text)
        if sig is None:
            return None
        assert self._lsh is not None
        best: Match | None = None
        for doc_id in self._lsh.query(sig):
            sim = float(sig.jaccard(self._sigs[doc_id]))
            if sim >= self.threshold and (best is None or sim > best.similarity):
                best = Match(doc_id, self._names[doc_id], sim)
        return best

    @classmethod
    def for_workspace(cls, root: Path, catalogue, threshold: float = 0.8) -> DuplicateIndex:
        """Index of every document in the catalogue, signatures read from (and saved to) the cache."""
        index = cls(threshold)
        if not index.enabled:
            return index
        docs = catalogue.documents()
        cached = _load(root / CACHE_NAME)
        fresh = False
        for d in docs:
            values = cached.get(d["id"])
            if values is None:
                full = catalogue.document(d["id"], with_text=True) or {}
                sig = signature(full.get("text", ""))
                values = sig.hashvalues if sig is not None else np.zeros(0, dtype=np.uint32)
                cached[d["id"]] = values
                fresh = True
            if len(values) == NUM_PERM:
                index.add(d["id"], d["name"], sig=MinHash(num_perm=NUM_PERM, hashvalues=values, scheme=SCHEME))
        if fresh:
            _save(root / CACHE_NAME, {d["id"]: cached[d["id"]] for d in docs})
        return index

    def save(self, root: Path, doc_ids: Iterable[str]) -> None:
        """Add the signatures of `doc_ids` (documents just stored) to the workspace cache."""
        cached = _load(root / CACHE_NAME)
        cached.update({d: self._sigs[d].hashvalues for d in doc_ids if d in self._sigs})
        _save(root / CACHE_NAME, cached)


def _load(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError):  # no cache yet, or a damaged one: it is rebuilt from the catalogue
        return {}


def _save(path: Path, sigs: dict[str, np.ndarray]) -> None:
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **sigs)
    os.replace(tmp, path)
