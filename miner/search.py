"""Hybrid search over findings: BM25 (jieba words + character n-grams) fused with dense vectors.

Why hybrid: analysts type short, differently worded queries (往来款挂账, 公车私用). Word BM25
with the domain dictionary and synonym expansion finds exact terms; character unigrams and
bigrams survive segmentation mistakes and unseen compounds (on both labelled corpora this keeps
keyword ranking well above a plain character TF-IDF); dense vectors catch paraphrases. Scores
(not ranks) are fused after per-query normalisation, so a strong keyword match is not pulled
down by a weak dense one (rank fusion did worse on the dev queries).

Broad queries (营商环境, 违反中央八项规定精神) name no problem a report states in those words;
they are expanded through the problem-type vocabulary in ``corpora/concepts.tsv`` (see
:func:`miner.segment.concept_words`), below the weight of the words typed. Hits whose absolute
relevance is below ``MINER_SEARCH_FLOOR`` are not returned, so a filtered query is not padded.

Workspace layout (under ``<workspace>/index``): ``chroma/`` (VectorStore, the vectors of record),
``keyword/`` (KeywordIndex), ``dense.npy`` (the same vectors in keyword-row order, for exact
filtered search and exact rescoring), ``ann.faiss`` (above EXACT_MAX_ROWS findings: the ANN index
over dense.npy), ``manifest.json`` (model id, counts, fusion settings, ANN file). Rows are laid
out by issuer kind, year, batch and document (:func:`serving_order`) so that filters select
runs of rows; everything but chroma is rebuilt from the catalogue and chroma by every build.

Typical use::

    searcher = build_index(findings, get_embedder(None), "ws")        # after ingest
    searcher = load_searcher("ws", get_embedder(None), findings_by_id)  # in a later process
    searcher.search("往来款挂账", k=10, filters={"issuer_kind": "audit"})
    searcher.similar("q01_f06", k=10)
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
import scipy.sparse

from miner.config import get_settings
from miner.embed import Embedder
from miner.filters import FilterColumns  # numpy only, so filtered reads of common problems stay light
from miner.records import Finding
from miner.segment import char_ngrams, expand_query, tokenize_for_search
from miner.vectors import AnnIndex, VectorStore, finding_metadata

#: share of the word-BM25 score in the keyword score (the rest is character n-grams)
WORD_SHARE = 0.3
#: BM25 term-frequency saturation and length normalisation
BM25_K1 = 1.2
BM25_B = 0.75
#: character n-gram sizes of the character channel (unigrams help short, unfamiliar wording)
CHAR_NGRAMS: tuple[int, ...] = (1, 2)
#: share of the dense score in the fused score
DENSE_SHARE = 0.2
#: candidates taken from each retriever before fusion (at least; grows with k)
CANDIDATES = 100
INDEX_DIR = "index"
MANIFEST = "manifest.json"
MATRIX = "dense.npy"
#: up to this many findings the dense matrix is loaded and searched exactly; above it the matrix
#: is memory-mapped and an ANN index (faiss IVF, :class:`miner.vectors.AnnIndex`) finds candidates
EXACT_MAX_ROWS = 300_000
#: a filter whose rows form fewer contiguous runs than this is read run by run
MAX_RUNS = 16
#: share of the rows up to which reading runs of posting lists beats one product over them all
RUN_SHARE = 0.5
#: share of the rows up to which a scattered subset is scored row by row
SUBSET_SHARE = 0.125
#: with an ANN index, filters leaving at most this many rows are still searched exactly
ANN_MIN_ROWS = 50_000
ANN = "ann.faiss"


# --------------------------------------------------------------------------- row selections


class _Rows:
    """The rows a query may return (sorted row numbers, or all rows) and how to read them.

    Search is laid out for filters: :func:`build_index` orders the rows by issuer kind, year,
    batch and document, so the common filters select a few contiguous runs of rows, which the
    keyword channels read by binary search in their posting lists and the dense channel as slices
    of the matrix. Scattered subsets (a unit) are read row by row; large ones in full.
    ``exact`` forces today's plan everywhere (full products, then the mask), for comparisons.
    """

    def __init__(self, n: int, index: np.ndarray | None, exact: bool = False):
        self.n, self.index, self.exact = n, index, exact
        m = len(self)
        self.runs: np.ndarray | None = None
        self.offsets: np.ndarray | None = None
        if index is not None and m and not exact:
            breaks = np.flatnonzero(np.diff(index) != 1) + 1
            if len(breaks) < MAX_RUNS:
                starts = index[np.r_[0, breaks]]
                ends = index[np.r_[breaks - 1, m - 1]] + 1
                self.runs = np.stack([starts, ends], axis=1)
                lengths = ends - starts
                self.offsets = np.cumsum(lengths) - lengths - starts
        # reading part of a posting list only pays when it skips a good part of it
        self.postings_plan = self.runs is not None and m <= n * RUN_SHARE
        self.row_plan = index is not None and not exact and m <= n * SUBSET_SHARE

    @classmethod
    def all(cls, n: int) -> _Rows:
        return cls(n, None)

    def __len__(self) -> int:
        return self.n if self.index is None else len(self.index)

    def row(self, positions: np.ndarray) -> np.ndarray:
        """Row numbers of positions in this selection."""
        return positions if self.index is None else self.index[positions]

    def position(self, row: int) -> int:
        return row if self.index is None else int(np.searchsorted(self.index, row))

    def dense(self, matrix: np.ndarray, q: np.ndarray) -> np.ndarray:
        """``matrix[rows] @ q``, reading runs as slices (no copy) and scattered rows by gathering."""
        if self.index is None:
            return _matvec(matrix, q)
        if self.runs is not None:
            return np.concatenate([_matvec(matrix[a:b], q) for a, b in self.runs.tolist()])
        return _matvec(matrix[self.index], q)


def _matvec(matrix: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``matrix @ q`` on one thread (numpy's own SIMD loop, not BLAS).

    OpenBLAS splits even a small product over its threads; on a busy 2-core machine waking them
    cost 5-10 ms a query (measured: 16 ms → 4.7 ms a search at 20k findings with one thread).
    """
    return np.einsum("ij,j->i", matrix, q)


# --------------------------------------------------------------------------- keyword index


class _BM25:
    """A bm25s index scored with per-token query weights (bm25s itself weights all tokens 1)."""

    def __init__(self, retriever: bm25s.BM25):
        self.retriever = retriever
        s = retriever.scores
        self._data, self._indices, self._indptr = s["data"], s["indices"], s["indptr"]
        self.n = int(s["num_docs"])
        self._vocab = retriever.vocab_dict
        # the same arrays as a documents × terms sparse matrix: one sparse product per query
        # instead of a Python loop over the query terms (concept queries have ~100 terms)
        self._matrix = scipy.sparse.csc_matrix(
            (self._data, self._indices, self._indptr), shape=(self.n, len(self._indptr) - 1)
        )
        if not self._matrix.has_sorted_indices:  # the run plan binary-searches each posting list
            self._matrix.sort_indices()
            self._indices, self._data = self._matrix.indices, self._matrix.data
        self._csr: scipy.sparse.csr_matrix | None = None

    @classmethod
    def build(cls, docs_tokens: Iterable[list[str]]) -> _BM25:
        """Index documents given as token lists (any iterable: they are read once, in order).

        Tokens become vocabulary ids as they arrive, so the corpus is never held as strings:
        at 1M findings the character channel's ~55M n-gram strings alone took ~4 GB.
        """
        vocab: dict[str, int] = {}
        # an empty document would make bm25s skip it; a placeholder keeps row numbers aligned
        ids = [[vocab.setdefault(tok, len(vocab)) for tok in (toks or [""])] for toks in docs_tokens]
        retriever = bm25s.BM25(k1=BM25_K1, b=BM25_B, method="lucene")
        retriever.index((ids, vocab), show_progress=False)
        return cls(retriever)

    def _terms(self, weighted: Iterable[tuple[str, float]]) -> tuple[np.ndarray, np.ndarray]:
        agg: dict[int, float] = {}
        for tok, w in weighted:
            tid = self._vocab.get(tok)
            if tid is not None and tok:
                agg[tid] = agg.get(tid, 0.0) + w
        tids = np.fromiter(agg.keys(), dtype=np.int64, count=len(agg))
        weights = np.fromiter(agg.values(), dtype=np.float32, count=len(agg))
        return tids, weights

    def score(self, weighted: Iterable[tuple[str, float]]) -> np.ndarray:
        """Weighted BM25 score of every document."""
        return self.score_rows(weighted, _Rows.all(self.n))

    def score_rows(self, weighted: Iterable[tuple[str, float]], rows: _Rows) -> np.ndarray:
        """Weighted BM25 score of the documents in ``rows`` (in their order), reading only what it must.

        Three plans give the same scores: most rows → one sparse product over the query terms'
        columns; rows in a few contiguous runs (the index is laid out by issuer kind and year)
        → only the part of each term's posting list inside the runs (found by binary search);
        a small scattered subset → the rows of a row-major copy times the query's term weights.
        """
        tids, weights = self._terms(weighted)
        m = len(rows)
        if not len(tids) or not self.n or not m:
            return np.zeros(m, dtype=np.float32)
        if rows.runs is not None and rows.postings_plan:
            return self._score_runs(tids, weights, rows)
        if rows.index is not None and rows.row_plan:
            wvec = np.zeros(self._matrix.shape[1], dtype=np.float32)
            wvec[tids] = weights
            return np.asarray(self._rows_matrix()[rows.index] @ wvec, dtype=np.float32).ravel()
        full = np.asarray(self._matrix[:, tids] @ weights, dtype=np.float32).ravel()
        return full if rows.index is None else full[rows.index]

    def _score_runs(self, tids: np.ndarray, weights: np.ndarray, rows: _Rows) -> np.ndarray:
        idx_parts, val_parts = [], []
        for tid, w in zip(tids.tolist(), weights.tolist(), strict=True):
            lo_col, hi_col = int(self._indptr[tid]), int(self._indptr[tid + 1])
            col = self._indices[lo_col:hi_col]
            bounds = np.searchsorted(col, rows.runs[:, :2].ravel()).reshape(-1, 2) + lo_col
            for (lo, hi), offset in zip(bounds.tolist(), rows.offsets.tolist(), strict=True):
                if hi > lo:
                    idx_parts.append(self._indices[lo:hi] + offset)
                    val_parts.append(self._data[lo:hi] * np.float32(w))
        if not idx_parts:
            return np.zeros(len(rows), dtype=np.float32)
        return np.bincount(np.concatenate(idx_parts), weights=np.concatenate(val_parts), minlength=len(rows)).astype(
            np.float32
        )

    def _rows_matrix(self) -> scipy.sparse.csr_matrix:
        """Row-major copy of the scores, made on first use (only small scattered filters need it)."""
        if self._csr is None:
            self._csr = self._matrix.tocsr()
        return self._csr

    def ideal(self, weighted: Iterable[tuple[str, float]]) -> float:
        """Score of a finding of average length holding each query term once: Σ w · idf.

        With lucene BM25, tf = 1 at average length scores exactly the term's idf, so
        ``score / ideal`` says how much of the query a finding covers, comparable across
        queries (a term the corpus lacks still counts, with the idf of df = 0).
        """
        total = 0.0
        for tok, w in weighted:
            if not tok:
                continue
            tid = self._vocab.get(tok)
            df = 0 if tid is None else int(self._indptr[tid + 1] - self._indptr[tid])
            total += w * float(np.log(1.0 + (self.n - df + 0.5) / (df + 0.5)))
        return total

    def save(self, path: Path) -> None:
        self.retriever.save(str(path))

    @classmethod
    def load(cls, path: Path) -> _BM25:
        return cls(bm25s.BM25.load(str(path), mmap=False))


def _chars(text: str, sizes: tuple[int, ...]) -> list[str]:
    """The character channel's terms: CJK n-grams of every size in ``sizes``."""
    return [g for n in sizes for g in char_ngrams(text, n) if len(g) == n or n == min(sizes)]


def _char_query(weighted: list[tuple[str, float]], sizes: tuple[int, ...]) -> list[tuple[str, float]]:
    # expansion words keep their single characters too: dropping them cost 0.015 nDCG on dev
    return [(g, w) for tok, w in weighted for g in _chars(tok, sizes)]


class KeywordIndex:
    """BM25 over jieba search-mode words and over character n-grams, with query expansion.

    The character channel (unigrams and bigrams by default) is what keeps ranking at least as
    good as a plain character TF-IDF on unfamiliar wording; on both labelled corpora unigrams
    added to bigrams gained ~0.01 nDCG@10 (benchmarks/bench_search.py).

    ``score`` returns one number per indexed finding in [0, 1]:
    WORD_SHARE · word/max(word) + (1 − WORD_SHARE) · char/max(char), maxima taken over the
    findings allowed by ``mask`` (so filtering happens before ranking).
    """

    def __init__(self, ids: list[str], words: _BM25, chars: _BM25, char_sizes: tuple[int, ...] = (2,)):
        self.ids = list(ids)
        self.row = {fid: i for i, fid in enumerate(self.ids)}
        self._words, self._chars = words, chars
        self.char_sizes = tuple(char_sizes)

    @classmethod
    def build(cls, ids: list[str], texts: list[str], char_sizes: tuple[int, ...] | None = None) -> KeywordIndex:
        if len(ids) != len(texts):
            raise ValueError("ids and texts differ in length")
        sizes = tuple(char_sizes or CHAR_NGRAMS)
        words = _BM25.build(tokenize_for_search(t) for t in texts)
        chars = _BM25.build(_chars(t, sizes) for t in texts)
        return cls(ids, words, chars, sizes)

    def __len__(self) -> int:
        return len(self.ids)

    def weighted_query(self, query: str, expand: bool = True) -> list[tuple[str, float]]:
        """Query words with weights: typed words 1.0, lexicon synonyms lower."""
        tokens = tokenize_for_search(query)
        return expand_query(tokens, query=query) if expand else [(t, 1.0) for t in dict.fromkeys(tokens)]

    def score(self, query: str, mask: np.ndarray | None = None, expand: bool = True) -> np.ndarray:
        return self.score_and_coverage(query, mask, expand)[0]

    def score_and_coverage(
        self, query: str, mask: np.ndarray | None = None, expand: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Ranking score (see the class docstring) and query coverage of every indexed finding.

        Findings outside ``mask`` score 0. See :meth:`scores_over` for coverage.
        """
        n = len(self.ids)
        rows = _Rows(n, None if mask is None else np.flatnonzero(mask))
        total, coverage = self.scores_over(query, rows, expand)
        if rows.index is None:
            return total, coverage
        full_total, full_coverage = np.zeros(n, dtype=np.float32), np.zeros(n, dtype=np.float32)
        full_total[rows.index], full_coverage[rows.index] = total, coverage
        return full_total, full_coverage

    def scores_over(self, query: str, rows: _Rows, expand: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Ranking score and query coverage of the findings in ``rows`` only (filters before ranking).

        Coverage is absolute, not relative to the best finding: per channel the BM25 score over
        the score of an ideal finding holding every typed query term once (capped at 1), mixed
        with the same shares. It is what the relevance floor reads, so that a query nothing
        answers (or a filter that leaves nothing relevant) returns nothing rather than the
        best of the irrelevant.
        """
        m = len(rows)
        if not m or not len(self.ids):
            return np.zeros(m, dtype=np.float32), np.zeros(m, dtype=np.float32)
        weighted = self.weighted_query(query, expand)
        typed = [(t, w) for t, w in weighted if w >= 1.0]
        total = np.zeros(m, dtype=np.float32)
        coverage = np.zeros(m, dtype=np.float32)
        for share, index, q, q_typed in (
            (WORD_SHARE, self._words, weighted, typed),
            (
                1.0 - WORD_SHARE,
                self._chars,
                _char_query(weighted, self.char_sizes),
                _char_query(typed, self.char_sizes),
            ),
        ):
            s = index.score_rows(q, rows)
            ideal = index.ideal(q_typed)
            if ideal > 0:
                coverage += np.float32(share) * np.minimum(s / np.float32(ideal), np.float32(1.0))
            top = float(s.max()) if len(s) else 0.0
            if top > 0:
                total += np.float32(share / top) * s
        return total, coverage

    def save(self, directory: str | Path) -> None:
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self._words.save(d / "words")
        self._chars.save(d / "chars")
        (d / "ids.json").write_text(json.dumps(self.ids, ensure_ascii=False), encoding="utf-8")
        (d / "meta.json").write_text(json.dumps({"char_ngrams": list(self.char_sizes)}), encoding="utf-8")

    @classmethod
    def load(cls, directory: str | Path) -> KeywordIndex:
        d = Path(directory)
        ids = json.loads((d / "ids.json").read_text(encoding="utf-8"))
        meta_path = d / "meta.json"
        # indexes written before meta.json existed hold bigrams only
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {"char_ngrams": [2]}
        return cls(ids, _BM25.load(d / "words"), _BM25.load(d / "chars"), tuple(meta["char_ngrams"]))


# --------------------------------------------------------------------------- hybrid


class HybridSearcher:
    """Fuses keyword and dense scores over the findings that pass the filters.

    fused = (1 − DENSE_SHARE) · keyword + DENSE_SHARE · dense, where keyword is in [0, 1]
    (see KeywordIndex.score) and dense is the cosine rescaled per query so that the best
    dense candidate gets 1 and the CANDIDATES-th gets 0 (clipped). Without a vector store
    or embedder the searcher is keyword-only.

    Dense candidates come from ``matrix`` (all finding vectors in keyword-row order) by exact
    search over the rows the filters allow: at 100k findings chroma's metadata filtering alone
    costs ~100 ms, the matrix product ~10 ms, and exact search cannot miss. With ``ann`` (built
    above EXACT_MAX_ROWS findings) a filter that leaves more than ANN_MIN_ROWS rows is searched
    through the ANN index with the filter as a bitmap, and its candidates are rescored exactly
    from the matrix. Without a matrix chroma's HNSW index with ``where`` filters serves.
    ``exact=True`` reads everything in full and masks afterwards (the plan before the filtered
    layout), for comparisons.
    """

    def __init__(
        self,
        embedder: Embedder | None,
        vectors: VectorStore | None,
        keyword: KeywordIndex,
        findings: Mapping[str, Finding],
        dense_share: float = DENSE_SHARE,
        candidates: int = CANDIDATES,
        matrix: np.ndarray | None = None,
        floor: float | None = None,
        ann: AnnIndex | None = None,
        exact: bool = False,
    ):
        self.embedder = embedder
        self.vectors = vectors
        self.keyword = keyword
        self.findings = findings
        if matrix is not None and matrix.shape[0] != len(keyword):
            raise ValueError(f"dense matrix has {matrix.shape[0]} rows for {len(keyword)} findings")
        self.matrix = matrix
        if ann is not None and (matrix is None or ann.n != matrix.shape[0]):
            raise ValueError("the ANN index needs the dense matrix it was built from")
        self.ann = ann
        self.exact = exact
        has_dense = embedder is not None and (vectors is not None or matrix is not None)
        self.dense_share = dense_share if has_dense else 0.0
        self.candidates = candidates
        #: search() drops hits whose relevance (see :meth:`scored`) is below this
        self.floor = get_settings().search_floor if floor is None else floor
        self._columns = FilterColumns(keyword.ids, findings)

    # -- public API

    def search(self, query: str, k: int = 10, filters: Mapping[str, Any] | None = None) -> list[tuple[str, float]]:
        """Best ``k`` (finding id, score) for an analyst query, among findings passing ``filters``.

        Hits below the relevance floor (``MINER_SEARCH_FLOOR``) are left out, so a filtered or
        unanswerable query returns fewer than ``k`` hits rather than padding with noise.
        """
        return [(fid, score) for fid, score, rel in self.scored(query, k, filters) if rel >= self.floor]

    def scored(
        self, query: str, k: int = 10, filters: Mapping[str, Any] | None = None
    ) -> list[tuple[str, float, float]]:
        """Best ``k`` (finding id, score, relevance) with no floor applied.

        relevance = (1 − dense share) · keyword coverage + dense share · max(cosine, 0): unlike
        the ranking score it is not rescaled per query, so one floor fits every query and filter.
        """
        if not query.strip() or k <= 0:
            return []
        qvec = None
        if self.dense_share > 0:
            terms = self.keyword.weighted_query(query)
            qvec = self.embedder.encode_expanded_query(query, terms)
        return self._rank(query, qvec, k, filters)

    def similar(
        self, finding_id: str, k: int = 10, exclude_same_document: bool = True, filters: Mapping[str, Any] | None = None
    ) -> list[tuple[str, float]]:
        """Findings most like ``finding_id`` (never itself), by default only from other documents."""
        finding = self.findings.get(finding_id)
        if finding is None:
            raise KeyError(finding_id)
        flt: dict[str, Any] = dict(filters or {})
        if exclude_same_document and finding.document:
            flt["document"] = {"$ne": finding.document}
        qvec = None
        if self.dense_share > 0:
            qvec = self._stored_vector(finding_id)
            if qvec is None:
                qvec = self.embedder.encode([finding.text])[0]
        ranked = self._rank(finding.text, qvec, k, flt, exclude={finding_id}, expand=False)
        return [(fid, score) for fid, score, _ in ranked]

    # -- internals

    def _stored_vector(self, finding_id: str) -> np.ndarray | None:
        row = self.keyword.row.get(finding_id)
        if self.matrix is not None and row is not None:
            return np.asarray(self.matrix[row], dtype=np.float32)
        if self.vectors is not None:
            return self.vectors.get_embeddings([finding_id]).get(finding_id)
        return None

    def _rank(
        self,
        query: str,
        qvec: np.ndarray | None,
        k: int,
        filters: Mapping[str, Any] | None,
        exclude: set[str] | None = None,
        expand: bool = True,
    ) -> list[tuple[str, float, float]]:
        mask = self._columns.mask(filters)
        if exclude:
            mask = np.ones(len(self.keyword), dtype=bool) if mask is None else mask.copy()
            for fid in exclude:
                row = self.keyword.row.get(fid)
                if row is not None:
                    mask[row] = False
        rows = _Rows(len(self.keyword), None if mask is None else np.flatnonzero(mask), exact=self.exact)
        n_cand = max(self.candidates, 3 * k)
        kw, coverage = self.keyword.scores_over(query, rows, expand=expand)
        ids = self.keyword.ids
        scores: dict[str, float] = {}
        if len(kw):
            top = _top_rows(kw, n_cand)
            for pos, row in zip(top.tolist(), rows.row(top).tolist(), strict=True):
                if kw[pos] > 0:
                    scores[ids[row]] = (1.0 - self.dense_share) * float(kw[pos])
        cosines: dict[str, float] = {}
        if qvec is not None:
            cosines = self._add_dense(qvec, n_cand, filters, mask, rows, scores, exclude or set())
        # final guard: only indexed findings that pass the filters (chroma may hold extra ids)
        index = self.keyword.row
        ranked = sorted(
            ((fid, s) for fid, s in scores.items() if fid in index and (mask is None or mask[index[fid]])),
            key=lambda x: (-x[1], x[0]),
        )[:k]
        d = self.dense_share
        return [
            (fid, s, (1.0 - d) * float(coverage[rows.position(index[fid])]) + d * max(cosines.get(fid, 0.0), 0.0))
            for fid, s in ranked
        ]

    def _dense_candidates(
        self,
        qvec: np.ndarray,
        n_cand: int,
        filters: Mapping[str, Any] | None,
        mask: np.ndarray | None,
        rows: _Rows,
        exclude: set[str],
    ) -> tuple[list[tuple[str, float]], Any]:
        """Top dense (id, cosine) among allowed findings, and a function giving any id's cosine."""
        ids, index = self.keyword.ids, self.keyword.row
        if self.matrix is not None:
            matrix = self.matrix
            q = qvec.astype(matrix.dtype)
            if self.exact:
                sims = matrix @ q
                allowed = sims if mask is None else np.where(mask, sims, -np.inf)
                top = [r for r in _top_rows(allowed, n_cand) if np.isfinite(allowed[r])]
                hits = [(ids[r], float(sims[r])) for r in top]
            elif self.ann is not None and len(rows) > ANN_MIN_ROWS:
                # over-fetch, then rescore exactly: the 8-bit codes only choose candidates
                cand = np.sort(self.ann.search(q, 2 * n_cand, mask))
                sims = _matvec(matrix[cand], q)
                order = _top_rows(sims, n_cand)
                hits = [(ids[r], float(c)) for r, c in zip(cand[order].tolist(), sims[order].tolist(), strict=True)]
            else:
                sims = rows.dense(matrix, q)
                top = _top_rows(sims, n_cand)
                hits = [(ids[r], float(c)) for r, c in zip(rows.row(top).tolist(), sims[top].tolist(), strict=True)]

            def cosine_of(fids: Iterable[str]) -> dict[str, float]:
                known = [f for f in fids if f in index]
                if not known:
                    return {}
                wanted = np.array([index[f] for f in known])
                order = np.argsort(wanted)
                got = _matvec(matrix[wanted[order]], q)
                return {known[i]: float(c) for i, c in zip(order.tolist(), got.tolist(), strict=True)}

            return hits, cosine_of
        hits = [(f, s) for f, s in self.vectors.query(qvec, n_cand + len(exclude), filters) if f not in exclude]
        vectors = self.vectors
        return hits, lambda fids: {f: float(v @ qvec) for f, v in vectors.get_embeddings(list(fids)).items()}

    def _add_dense(
        self,
        qvec: np.ndarray,
        n_cand: int,
        filters: Mapping[str, Any] | None,
        mask: np.ndarray | None,
        rows: _Rows,
        scores: dict[str, float],
        exclude: set[str],
    ) -> dict[str, float]:
        """Adds the rescaled dense score to ``scores``; returns the cosines it saw."""
        hits, cosine_of = self._dense_candidates(qvec, n_cand, filters, mask, rows, exclude)
        if not hits:
            return {}
        sims = dict(hits)
        best = hits[0][1]
        floor = hits[-1][1] if len(hits) >= n_cand else min(0.0, hits[-1][1])
        missing = [fid for fid in scores if fid not in sims]
        if missing:
            sims.update(cosine_of(missing))
        span = max(best - floor, 1e-6)
        for fid, sim in sims.items():
            dense = min(max((sim - floor) / span, 0.0), 1.0)
            scores[fid] = scores.get(fid, 0.0) + self.dense_share * dense
        return sims


def _top_rows(scores: np.ndarray, n: int) -> np.ndarray:
    """Row numbers of the ``n`` highest scores, best first."""
    if len(scores) > n:
        part = np.argpartition(-scores, n - 1)[:n]
    else:
        part = np.arange(len(scores))
    return part[np.argsort(-scores[part], kind="stable")]


# --------------------------------------------------------------------------- workspace


def _signature(finding: Finding) -> str:
    """Changes when the text or any filterable metadata changes (then the vector is re-stored)."""
    meta = json.dumps(finding_metadata(finding), ensure_ascii=False, sort_keys=True)
    return hashlib.sha1(f"{finding.text}\x00{meta}".encode()).hexdigest()


def _as_dict(findings: Iterable[Finding] | Mapping[str, Finding]) -> dict[str, Finding]:
    if isinstance(findings, Mapping):
        return dict(findings)
    return {f.id: f for f in findings}


def build_index(
    findings: Iterable[Finding] | Mapping[str, Finding],
    embedder: Embedder | None,
    workspace_dir: str | Path,
    batch_size: int = 512,
) -> HybridSearcher:
    """(Re)build the search index of a workspace and return a ready searcher.

    Incremental for vectors: only findings whose text or metadata is new or changed are
    (re-)embedded (wrap the embedder in CachedEmbedder to make that free for unchanged text);
    vectors of findings that are gone are deleted; another embedding model rebuilds from scratch.
    The keyword index is always rebuilt (BM25 statistics depend on the whole corpus).
    ``embedder=None`` builds a keyword-only index.
    """
    by_id = _as_dict(findings)
    root = Path(workspace_dir) / INDEX_DIR
    root.mkdir(parents=True, exist_ok=True)
    manifest_path = root / MANIFEST
    old = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    model_id = embedder.model_id if embedder is not None else None

    vectors = None
    fresh: dict[str, np.ndarray] = {}  # vectors embedded in this run, reused for dense.npy
    if embedder is not None:
        chroma_dir = root / "chroma"
        if old.get("model_id") != model_id and chroma_dir.exists():
            shutil.rmtree(chroma_dir)
        vectors = VectorStore(chroma_dir, embedder.dim, model_id)
        have = vectors.get_metadata()
        stale = [fid for fid in have if fid not in by_id]
        if stale:
            vectors.delete(stale)
        todo = [f for f in by_id.values() if have.get(f.id, {}).get("signature") != _signature(f)]
        for i in range(0, len(todo), batch_size):
            chunk = todo[i : i + batch_size]
            metas = [{**finding_metadata(f), "signature": _signature(f)} for f in chunk]
            vecs = embedder.encode([f.text for f in chunk])
            vectors.upsert([f.id for f in chunk], vecs, metas)
            fresh.update(zip((f.id for f in chunk), vecs, strict=True))

    def vectors_of(chunk: list[str]) -> dict[str, np.ndarray]:
        stored = vectors.get_embeddings([i for i in chunk if i not in fresh]) if vectors is not None else {}
        return {i: fresh[i] if i in fresh else stored[i] for i in chunk}

    return _write_serving(root, by_id, embedder, vectors_of if vectors is not None else None, vectors)


def serving_order(findings: Mapping[str, Finding]) -> list[str]:
    """Finding ids in the order search lays its rows out: by issuer kind, year, batch, document.

    Filters on those fields then select a few contiguous runs of rows (see ``_Rows``); within a
    document the catalogue's order is kept.
    """

    def key(fid: str) -> tuple[str, int, str, str]:
        f = findings[fid]
        year = getattr(f, "year", None)
        return (
            str(getattr(f, "issuer_kind", None) or ""),
            int(year) if year is not None else -1,
            str(getattr(f, "batch_id", None) or ""),
            str(getattr(f, "document", None) or ""),
        )

    return sorted(findings, key=key)


def build_serving_index(
    findings: Iterable[Finding] | Mapping[str, Finding],
    embedder: Embedder,
    workspace_dir: str | Path,
    vectors_of: Any,
) -> HybridSearcher:
    """The serving structures alone (keyword index, dense matrix, ANN index), from given vectors.

    ``vectors_of(ids) -> {id: vector}``. The vector store of record is neither written nor
    opened: this is for benchmarks that measure serving at sizes where writing chroma would
    dominate the run (a workspace always goes through :func:`build_index`).
    """
    root = Path(workspace_dir) / INDEX_DIR
    root.mkdir(parents=True, exist_ok=True)
    return _write_serving(root, _as_dict(findings), embedder, vectors_of, None)


def _write_serving(
    root: Path,
    by_id: dict[str, Finding],
    embedder: Embedder | None,
    vectors_of: Any,
    vectors: VectorStore | None,
    chunk: int = 50_000,
) -> HybridSearcher:
    ids = serving_order(by_id)
    keyword = KeywordIndex.build(ids, [by_id[i].text for i in ids])
    kw_dir = root / "keyword"
    if kw_dir.exists():
        shutil.rmtree(kw_dir)
    keyword.save(kw_dir)

    matrix = ann = None
    (root / MATRIX).unlink(missing_ok=True)
    (root / ANN).unlink(missing_ok=True)
    if embedder is not None and vectors_of is not None:
        # written in place, chunk by chunk: at 1M findings the matrix is 1 GB
        matrix = np.lib.format.open_memmap(root / MATRIX, mode="w+", dtype=np.float32, shape=(len(ids), embedder.dim))
        for i in range(0, len(ids), chunk):
            part = ids[i : i + chunk]
            got = vectors_of(part)
            matrix[i : i + len(part)] = np.stack([np.asarray(got[fid], dtype=np.float32) for fid in part])
        matrix.flush()
        if len(ids) > EXACT_MAX_ROWS:
            ann = AnnIndex.build(matrix)
            ann.save(root / ANN)
        else:
            matrix = np.array(matrix)  # small enough to keep in memory
    manifest = {
        "model_id": embedder.model_id if embedder is not None else None,
        "dim": embedder.dim if embedder else None,
        "count": len(ids),
        "word_share": WORD_SHARE,
        "dense_share": DENSE_SHARE,
        "ann": ANN if ann is not None else None,
    }
    (root / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return HybridSearcher(embedder, vectors, keyword, by_id, matrix=matrix, ann=ann)


def load_searcher(
    workspace_dir: str | Path,
    embedder: Embedder | None,
    findings: Iterable[Finding] | Mapping[str, Finding],
    open_vectors: bool = False,
) -> HybridSearcher:
    """Open the index that :func:`build_index` wrote; raises if it was built with another model.

    ``findings`` supplies texts and filter metadata (normally the workspace's finding store).
    Pass ``embedder=None`` for keyword-only search (no model needed). The chroma store is only
    opened when there is no dense matrix, or when ``open_vectors`` asks for it.
    """
    root = Path(workspace_dir) / INDEX_DIR
    manifest_path = root / MANIFEST
    if not manifest_path.exists():
        raise FileNotFoundError(f"no search index in {workspace_dir}; run build_index first")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    keyword = KeywordIndex.load(root / "keyword")
    vectors = matrix = ann = None
    if embedder is not None and manifest.get("model_id"):
        if manifest["model_id"] != embedder.model_id:
            raise ValueError(f"index was built with {manifest['model_id']}, not {embedder.model_id}; rebuild it")
        if (root / MATRIX).exists():
            # above EXACT_MAX_ROWS the matrix stays on disk (page cache): the ANN index picks rows
            large = len(keyword) > EXACT_MAX_ROWS
            matrix = np.load(root / MATRIX, mmap_mode="r" if large else None)
            if matrix.shape != (len(keyword), embedder.dim):
                matrix = None  # out of step with the keyword index: fall back to chroma
            elif manifest.get("ann") and (root / manifest["ann"]).exists():
                ann = AnnIndex.load(root / manifest["ann"])
                if ann.n != len(keyword):
                    ann = None  # out of step: exact search over the memory-mapped matrix
        if matrix is None or open_vectors:
            # chroma takes seconds to open; with the matrix, search does not need it
            vectors = VectorStore(root / "chroma", embedder.dim, embedder.model_id)
    elif embedder is not None:
        embedder = None
    return HybridSearcher(
        embedder,
        vectors,
        keyword,
        _as_dict(findings),
        dense_share=float(manifest.get("dense_share", DENSE_SHARE)),
        matrix=matrix,
        ann=ann,
    )
