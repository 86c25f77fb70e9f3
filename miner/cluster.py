"""Group findings that recur across reports into common problems (共性问题).

Why this design (measured on the dev set, see benchmarks/bench_cluster.py):

* Findings are long and carry much case detail (amounts, projects, unit names) around a
  short problem statement, so a dense sentence embedding alone separates problem types
  poorly. A lexical view (words + character bigrams, numbers stripped, rare terms dropped)
  carries most of the signal; the dense view adds paraphrase tolerance. We mix the two
  cosine similarities.
* Reports name one problem in words that share few characters (公车私用 / 驾驶公务用车
  回老家探亲), so the mix also holds the standard problem types of the field that each
  finding's problem clause names (:mod:`miner.problem_types`, ``corpora/problem_types.tsv``):
  on dev the types lift ARI from 0.78 to 0.87 at the same recall.
* Average linkage with a similarity threshold: a cluster is a set of findings whose mean
  pairwise similarity is above ``threshold``. That has a meaning independent of corpus
  size (unlike modularity-based community detection), needs no number of clusters, and
  leaves findings that resemble nothing unclustered instead of forcing them somewhere.
* Exact average linkage never merges across the connected components of the graph of
  pairs with similarity >= ``threshold`` (an average can only reach the threshold if one
  pair does). So we find those pairs with a k-nearest-neighbour search, split the corpus
  into components and run exact linkage (scipy) inside each one: the same answer as the
  O(n²) algorithm at a fraction of the memory. A component too large for one matrix is cut
  into k-means chunks solved exactly, then chunk clusters are joined by average linkage on
  their mean vectors; all compiled, which is what makes 100k findings take under a minute.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse.csgraph import connected_components
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from miner.problem_types import NUMBER, default_matcher, problem_clause

Tokenizer = Callable[[str], list[str]]
log = logging.getLogger(__name__)

_LATIN = re.compile(r"[A-Za-zＡ-Ｚａ-ｚ]+")
_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
# Boilerplate that every finding shares; removed before character n-grams are taken.
_BOILERPLATE = re.compile(
    r"存在|问题|部分|个别|一些|有的|情况|方面|截至|截止|其中|有关|相关|某某|某|以来|涉及|金额|合计|共计|累计"
)


def clean_text(text: str) -> str:
    """Drop numbers, amounts, dates and latin noise so only problem wording is compared."""
    return _LATIN.sub(" ", NUMBER.sub(" ", text))


def _default_tokenizer() -> Tokenizer:
    """miner.segment's domain dictionary, without HMM and re-normalisation (ingest did that).

    Precise-mode jieba is the slowest step of clustering large batches; the HMM pass only
    guesses unknown words, which the character bigrams cover anyway.
    """
    try:
        from miner.segment import get_tokenizer, stopwords

        tok, stop = get_tokenizer(), stopwords()
    except ImportError:  # pragma: no cover - segment.py ships with miner
        import jieba

        tok, stop = jieba.dt, frozenset()
    return lambda text: [w for w in tok.lcut(text, HMM=False) if w not in stop and _CJK_RUN.search(w)]


def _default_synonyms() -> tuple[tuple[str, ...], ...]:
    try:
        from miner.segment import synonym_groups

        return synonym_groups()
    except ImportError:  # pragma: no cover
        return ()


class LexicalVectorizer:
    """TF-IDF over words, synonym groups and character bigrams of cleaned text.

    Words give precise domain terms, synonym groups join the different names reports use
    for one problem (暂付款/往来款), and character bigrams survive segmentation errors and
    Traditional/Simplified leftovers. Terms seen in only one document (``groups``) or one
    finding are dropped: they cannot link reports and mostly name the audited unit.
    """

    def __init__(
        self,
        tokenizer: Tokenizer | None = None,
        synonyms: Sequence[Sequence[str]] | None = None,
        char_ngram: int = 2,
        min_groups: int = 2,
        norm_before: bool = True,
        min_word: int = 2,
    ) -> None:
        self.norm_before = norm_before
        self.min_word = min_word
        self.tokenizer = tokenizer
        self.synonyms = synonyms
        self.char_ngram = char_ngram
        self.min_groups = min_groups

    def _synonym_index(self) -> dict[str, list[str]]:
        groups = _default_synonyms() if self.synonyms is None else self.synonyms
        index: dict[str, list[str]] = defaultdict(list)
        for gi, group in enumerate(groups):
            for word in group:
                index[word].append(f"\x01{gi}")
        return index

    def fit_transform(
        self, texts: Sequence[str], groups: Sequence[str] | None = None, tokens: Sequence[list[str]] | None = None
    ) -> sp.csr_matrix:
        """L2-normalised feature rows; ``tokens`` lets a caller reuse its own segmentation."""
        tokenize = self.tokenizer or _default_tokenizer()
        index = self._synonym_index()
        n = self.char_ngram
        words = (tokenize(clean_text(t)) for t in texts) if tokens is None else iter(tokens)
        m = self.min_word
        # a generator: at a million findings the lists of features would take gigabytes, and
        # scikit-learn's vectorizer reads each finding once
        feeds = (
            _features_from_words(t, [w for w in ws if len(w) >= m and _CJK_RUN.search(w)], index, n)
            for t, ws in zip(texts, words)
        )
        vec = TfidfVectorizer(analyzer=_identity, sublinear_tf=True, dtype=np.float32)
        try:
            matrix = vec.fit_transform(feeds).tocsr()
        except ValueError:  # no text at all (only numbers or punctuation)
            return sp.csr_matrix((len(texts), 1), dtype=np.float32)
        keep = _spread(matrix, groups, self.min_groups)
        if not keep.any():
            return sp.csr_matrix((len(texts), 1), dtype=np.float32)
        if self.norm_before:
            # normalise over all terms before dropping the rare ones, so that a finding whose
            # only shared term is a stray common word does not look identical to another
            return normalize(matrix)[:, keep].astype(np.float32).tocsr()
        return normalize(matrix[:, keep]).astype(np.float32).tocsr()


def _identity(feats: list[str]) -> list[str]:
    return feats


def _features_from_words(text: str, words: list[str], index: dict[str, list[str]], n: int) -> list[str]:
    feats = list(words)
    for w in words:
        feats.extend(index.get(w, ()))
    if n:
        for run in _CJK_RUN.findall(_BOILERPLATE.sub(" ", clean_text(text))):
            feats.extend("\x02" + run[i : i + n] for i in range(len(run) - n + 1))
    return feats


def _spread(matrix: sp.csr_matrix, groups: Sequence[str] | None, min_groups: int) -> np.ndarray:
    """Mask of terms that occur in at least ``min_groups`` documents (or findings)."""
    present = matrix.copy()
    present.data[:] = 1
    if groups is None:
        counts = np.asarray(present.sum(axis=0)).ravel()
    else:
        _, gid = np.unique(np.asarray(groups, dtype=object).astype(str), return_inverse=True)
        member = sp.csr_matrix((np.ones(len(gid), np.float32), (gid, np.arange(len(gid)))))
        counts = np.asarray(((member @ present) > 0).sum(axis=0)).ravel()
    return counts >= max(min_groups, 1)


@dataclass
class ClusterMembers:
    """An existing cluster as incremental assignment sees it: its members' texts and vectors."""

    texts: list[str]
    embeddings: np.ndarray
    groups: list[str] | None = None


@dataclass
class _Features:
    dense: np.ndarray | None  # centred, L2-normalised, scaled by sqrt(weight)
    lexical: sp.csr_matrix  # L2-normalised, scaled by sqrt(1 - weight)
    groups: np.ndarray | None
    approx: np.ndarray | None = None  # low-rank stand-in, built only when needed
    types: sp.csr_matrix | None = None  # problem types, L2-normalised; the last columns of lexical
    type_scale: float = 0.0  # factor the type block carries inside lexical

    def __len__(self) -> int:
        return self.lexical.shape[0]

    def subset(self, rows: np.ndarray) -> _Features:
        return _Features(
            None if self.dense is None else self.dense[rows],
            self.lexical[rows],
            None if self.groups is None else self.groups[rows],
            None,
            None if self.types is None else self.types[rows],
            self.type_scale,
        )

    def with_types(self, types: sp.csr_matrix) -> _Features:
        """The same features with another type block (scaled as the old one)."""
        assert self.types is not None
        rest = self.lexical[:, : self.lexical.shape[1] - self.types.shape[1]]
        lexical = sp.hstack([rest, types * np.float32(self.type_scale)], format="csr").astype(np.float32)
        # the low-rank stand-in only steers chunking and neighbour search: keep it
        return _Features(self.dense, lexical, self.groups, self.approx, types, self.type_scale)

    def type_delta(
        self, old: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray, same_group_factor: float
    ) -> np.ndarray:
        """How much the similarity of pairs (rows[i], cols[i]) changed when ``old`` types
        became ``self.types``; only the few type columns are touched, so it is cheap."""
        assert self.types is not None
        new_dot = np.asarray(self.types[rows].multiply(self.types[cols]).sum(axis=1)).ravel()
        old_dot = np.asarray(old[rows].multiply(old[cols]).sum(axis=1)).ravel()
        out = (new_dot - old_dot) * self.type_scale**2
        if self.groups is not None and same_group_factor != 1.0:
            out = np.where(self.groups[rows] == self.groups[cols], out * same_group_factor, out)
        return out.astype(np.float32)

    def sim(self, rows: np.ndarray, cols: np.ndarray, same_group_factor: float) -> np.ndarray:
        """Exact mixed similarity between two index sets, same-document pairs damped."""
        out = (self.lexical[rows] @ self.lexical[cols].T).toarray()
        if self.dense is not None:
            out += self.dense[rows] @ self.dense[cols].T
        if self.groups is not None and same_group_factor != 1.0:
            same = self.groups[rows][:, None] == self.groups[cols][None, :]
            out[same] *= same_group_factor
        return out


@dataclass
class Clusterer:
    """Average-linkage clustering of findings on mixed lexical + dense similarity.

    threshold: minimum mean pairwise similarity inside a cluster (0–1 scale of the mix).
    dense_weight: share of the dense cosine in the mix (0 = lexical only).
    same_group_factor: similarity multiplier for two findings of one document; a report
        rarely states the same problem twice, while its findings share the unit's vocabulary.
    vectorizer: lexical featuriser (anything with ``fit_transform(texts, groups, tokens)``).
    knn / exact_max: neighbours per finding and the corpus size above which the kNN search
        replaces the all-pairs matrix; flat_cells: above this many search cells (150 findings
        each) the cells are found by two-level k-means; component_max: largest linked group solved exactly;
        chunk_max: larger groups are cut into k-means chunks of about half this size.
    type_weight / detail_type_share: share of the standard problem types in the lexical
        part of the mix, and how much a type named only in the case detail (not in the
        problem clause) counts; clause_weight: share of the problem clause's own wording
        (measured: does not pay on dev or dev2, so 0); type_neighbours /
        propagated_type_share: see :meth:`_propagate_types`.
    min_dense: below this many findings the dense part is left out (its centring is unreliable).
    """

    threshold: float = 0.13
    dense_weight: float = 0.4
    same_group_factor: float = 0.5
    vectorizer: LexicalVectorizer = field(default_factory=LexicalVectorizer)
    knn: int = 10
    exact_max: int = 4000
    component_max: int = 5000
    chunk_max: int = 1200
    flat_cells: int = 1000
    min_dense: int = 20
    random_state: int = 0
    clause_weight: float = 0.0
    type_weight: float = 0.3
    detail_type_share: float = 0.5
    type_neighbours: int = 3
    propagated_type_share: float = 0.5

    # ---------------------------------------------------------------- features
    def _features(
        self,
        texts: Sequence[str],
        embeddings: np.ndarray | None,
        groups: Sequence[str] | None,
        tokens: Sequence[list[str]] | None = None,
    ) -> _Features:
        lexical = self.vectorizer.fit_transform(list(texts), groups, tokens)
        dense = None
        # the dense mix needs the corpus mean to calibrate against; a handful of findings
        # cannot estimate it, so tiny batches are compared on wording alone
        w = self.dense_weight if embeddings is not None and len(texts) >= self.min_dense else 0.0
        if w > 0:
            emb = np.asarray(embeddings, dtype=np.float32)
            if emb.shape[0] != len(texts):
                raise ValueError("embeddings and texts differ in length")
            # Sentence embeddings sit in a narrow cone (cosines 0.8–0.95 for e5); removing the
            # mean direction spreads them so that they mix with lexical cosines on one scale.
            centred = emb - emb.mean(axis=0, keepdims=True)
            dense = normalize(centred, copy=False)  # in place: at 1M findings each copy is a gigabyte
            dense *= np.float32(math.sqrt(w))
        blocks = [(lexical, 1.0 - self.clause_weight - self.type_weight)]
        types = None
        if self.clause_weight > 0 or self.type_weight > 0:
            clauses = [problem_clause(t) for t in texts]
            if self.clause_weight > 0:
                clause_vec = LexicalVectorizer(
                    tokenizer=self.vectorizer.tokenizer, synonyms=self.vectorizer.synonyms, min_groups=1
                )
                blocks.append((clause_vec.fit_transform(clauses, groups), self.clause_weight))
            if self.type_weight > 0:
                matcher = default_matcher()
                # the clause decides the type; the case detail only hints at it
                types = matcher.match(clauses) + self.detail_type_share * matcher.match(list(texts))
                types = normalize(types.tocsr()).astype(np.float32)
                blocks.append((types, self.type_weight))
        lexical = sp.hstack(
            [b * np.float32(math.sqrt(max(share, 0.0) * (1.0 - w))) for b, share in blocks if share > 0], format="csr"
        ).astype(np.float32)
        g = None if groups is None else np.unique(np.asarray([str(x) for x in groups]), return_inverse=True)[1]
        if types is None:
            return _Features(dense, lexical, g)
        return _Features(dense, lexical, g, None, types, math.sqrt(self.type_weight * (1.0 - w)))

    # ---------------------------------------------------------------- fit
    def fit(
        self,
        texts: Sequence[str],
        embeddings: np.ndarray | None,
        groups: Sequence[str] | None = None,
        tokens: Sequence[list[str]] | None = None,
    ) -> list[int]:
        """Labels per finding: clusters of ≥ 2 numbered 0.. by first member, -1 = unclustered.

        ``groups`` (document ids) enable the same-document damping and the rare-term filter.
        Deterministic: same inputs, same labels.
        """
        if len(texts) == 0:
            return []
        t0 = time.perf_counter()
        feats = self._features(texts, embeddings, groups, tokens)
        log.debug("cluster: features for %d findings in %.1f s", len(texts), time.perf_counter() - t0)
        return self._cluster(feats)

    def _cluster(self, feats: _Features) -> list[int]:
        n = len(feats)
        labels = np.full(n, -1, dtype=np.int64)
        if n < 2:
            return labels.tolist()
        t0 = time.perf_counter()
        rows, cols, vals = self._edges(feats)
        log.debug("cluster: %d candidate pairs in %.1f s", len(vals), time.perf_counter() - t0)
        if feats.types is not None and self.type_neighbours > 0:
            old = feats.types
            feats = feats.with_types(self._propagate_types(old, rows, cols, vals))
            vals = vals + feats.type_delta(old, rows, cols, self.same_group_factor)
        t0 = time.perf_counter()
        strong = vals >= self.threshold
        graph = sp.coo_matrix((np.ones(int(strong.sum())), (rows[strong], cols[strong])), shape=(n, n))
        n_comp, comp = connected_components(graph, directed=False)
        order = np.argsort(comp, kind="stable")
        bounds = np.flatnonzero(np.diff(comp[order])) + 1
        next_label = 0
        raw = np.full(n, -1, dtype=np.int64)
        for members in np.split(order, bounds):
            if len(members) < 2:
                continue
            if len(members) <= self.component_max:
                sub = self._exact_linkage(feats, members)
            else:
                sub = self._sparse_linkage(feats, members, rows, cols, vals)
            for local in np.unique(sub[sub >= 0]):
                raw[members[sub == local]] = next_label
                next_label += 1
        log.debug(
            "cluster: %d components, largest %d, linkage in %.1f s",
            n_comp,
            int(np.bincount(comp).max()),
            time.perf_counter() - t0,
        )
        # renumber by first member so labels do not depend on component order
        first: dict[int, int] = {}
        for i, lab in enumerate(raw.tolist()):
            if lab >= 0:
                labels[i] = first.setdefault(lab, len(first))
        return labels.tolist()

    def _propagate_types(
        self, types: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray
    ) -> sp.csr_matrix:
        """Give a finding that names no standard type the types of its nearest typed findings.

        The vocabulary cannot list every wording; a finding whose clause matches no cue
        borrows, at ``propagated_type_share`` strength, the similarity-weighted types of its
        ``type_neighbours`` most similar typed findings (candidate pairs only). Measured with
        the vocabulary as first written (before either corpus was looked at), it lifted dev2
        ARI/recall from 0.73/0.86 to 0.78/0.94 at the threshold chosen on dev.
        """
        n = types.shape[0]
        typed = types.getnnz(axis=1) > 0
        src = np.concatenate([rows, cols])
        dst = np.concatenate([cols, rows])
        w = np.concatenate([vals, vals]).astype(np.float32)
        keep = ~typed[src] & typed[dst] & (w > 0)
        src, dst, w = src[keep], dst[keep], w[keep]
        if not len(src):
            return types
        order = np.lexsort((-w, src))
        src, dst, w = src[order], dst[order], w[order]
        first = np.r_[0, np.flatnonzero(np.diff(src)) + 1]
        rank = np.arange(len(src)) - np.repeat(first, np.diff(np.r_[first, len(src)]))
        top = rank < self.type_neighbours
        weights = sp.csr_matrix((w[top], (src[top], dst[top])), shape=(n, n))
        borrowed = normalize((weights @ types).tocsr()) * np.float32(self.propagated_type_share)
        return (types + borrowed).tocsr().astype(np.float32)

    def _exact_linkage(self, feats: _Features, members: np.ndarray) -> np.ndarray:
        if len(members) == 2:
            s = feats.sim(members[:1], members[1:], self.same_group_factor)[0, 0]
            return np.array([0, 0]) if s >= self.threshold else np.array([-1, -1])
        sim = feats.sim(members, members, self.same_group_factor)
        dist = np.clip(1.0 - sim, 0.0, None).astype(np.float64)
        iu = np.triu_indices(len(members), k=1)
        tree = linkage(dist[iu], method="average")
        flat = fcluster(tree, t=1.0 - self.threshold + 1e-9, criterion="distance")
        return _drop_singletons(flat)

    def _sparse_linkage(
        self, feats: _Features, members: np.ndarray, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray
    ) -> np.ndarray:
        """Average linkage on a component too large for one all-pairs matrix.

        The component is cut into chunks of about ``chunk_max / 2`` findings by k-means on
        the low-rank stand-in of the similarity (scikit-learn, compiled), and each chunk is
        solved exactly by scipy's average linkage. Clusters of different chunks whose mean
        pairwise similarity (exact for dot products: the product of their mean vectors)
        still reaches the threshold are then joined by a second average-linkage pass over
        the clusters. scikit-learn's graph-restricted AgglomerativeClustering was measured
        first: it ignores missing kNN pairs when averaging, so clusters chain through the
        graph (synthetic 100k: ARI 0.06, 7 GB).
        """
        from sklearn.cluster import MiniBatchKMeans

        if feats.approx is None:
            feats.approx = self._approx(feats)
        m = len(members)
        n_chunks = int(math.ceil(2 * m / max(2, min(self.chunk_max, self.component_max))))
        coarse = normalize(feats.approx[members])
        km = MiniBatchKMeans(n_chunks, random_state=self.random_state, batch_size=4096, n_init=1, max_iter=20)
        chunk = km.fit_predict(coarse)
        labels = np.full(m, -1, dtype=np.int64)
        nxt = 0
        for c in range(n_chunks):
            idx = np.flatnonzero(chunk == c)
            if len(idx) < 2:
                continue
            if self.component_max < len(idx) < m:  # k-means left a chunk too big: split it again
                sub = self._sparse_linkage(feats, members[idx], rows, cols, vals)
            else:
                sub = self._exact_linkage(feats, members[idx])
            ok = sub >= 0
            labels[idx[ok]] = sub[ok] + nxt
            nxt += int(sub.max()) + 1 if ok.any() else 0
        return self._merge_clusters(feats, members, labels)

    def _merge_clusters(self, feats: _Features, members: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Join clusters whose average pairwise similarity reaches the threshold (by mean vectors)."""
        ids = np.unique(labels[labels >= 0])
        if len(ids) < 2:
            return labels
        pos = np.searchsorted(ids, labels[labels >= 0])
        inside = members[labels >= 0]
        onehot = sp.csr_matrix((np.ones(len(pos), dtype=np.float32), (pos, np.arange(len(pos)))))
        onehot = normalize(onehot, norm="l1")
        means = onehot @ feats.approx[inside]
        sim = means @ means.T
        dist = np.clip(1.0 - sim, 0.0, None).astype(np.float64)
        np.fill_diagonal(dist, 0.0)
        iu = np.triu_indices(len(ids), k=1)
        flat = fcluster(linkage(dist[iu], method="average"), t=1.0 - self.threshold + 1e-9, criterion="distance")
        out = labels.copy()
        out[labels >= 0] = flat[pos]
        return out

    def _approx(self, feats: _Features) -> np.ndarray:
        """Low-rank vectors whose dot products approximate the mixed similarity."""
        from sklearn.decomposition import TruncatedSVD

        k = min(128, feats.lexical.shape[1] - 1)
        parts = [TruncatedSVD(k, random_state=self.random_state).fit_transform(feats.lexical)] if k > 1 else []
        if feats.dense is not None:
            parts.append(feats.dense)
        if not parts:
            return np.zeros((len(feats), 1), dtype=np.float32)
        return np.hstack(parts).astype(np.float32, copy=False)

    # ---------------------------------------------------------------- neighbours
    def _edges(self, feats: _Features) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Candidate pairs (i < j) with their similarity: all pairs when small, else kNN."""
        n = len(feats)
        if n <= self.exact_max:
            idx = np.arange(n)
            sim = feats.sim(idx, idx, self.same_group_factor)
            r, c = np.triu_indices(n, k=1)
            v = sim[r, c]
            keep = v > 0
            return r[keep], c[keep], v[keep]
        return self._knn_edges(feats)

    def _knn_edges(self, feats: _Features) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Approximate kNN by inverted-file probing: k-means cells, search the nearest few.

        The many small products gain nothing from BLAS threads, and on a busy machine the
        threads' spin-waiting made them 10x slower, so BLAS runs single-threaded here.
        """
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            return self._knn_edges_inner(feats)

    def _knn_edges_inner(self, feats: _Features) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from sklearn.cluster import MiniBatchKMeans

        n = len(feats)
        if feats.approx is None:
            feats.approx = self._approx(feats)
        coarse = normalize(feats.approx)
        n_cells = max(8, n // 150)  # constant cell size keeps the search linear in n
        if n_cells <= self.flat_cells:
            km = MiniBatchKMeans(
                n_cells, init="random", random_state=self.random_state, batch_size=4096, n_init=1, max_iter=30
            )
            cell = km.fit(coarse).predict(coarse)
            centres = normalize(km.cluster_centers_)
            probe = np.argsort(-(centres @ centres.T), axis=1)[:, :4]
        else:
            cell, centres = self._two_level_cells(coarse, n_cells)
            n_cells = len(centres)
            probe = _nearest_rows(centres, 4)
        # members of each cell in index order, in one sort (a comparison per cell is n * n_cells)
        order = np.argsort(cell, kind="stable")
        by_cell = np.split(order, np.searchsorted(cell[order], np.arange(1, n_cells)))
        k = min(self.knn, n - 1)
        out_r, out_c, out_v = [], [], []
        for c in range(n_cells):
            rows = by_cell[c]
            if len(rows) == 0:
                continue
            cand = np.concatenate([by_cell[p] for p in probe[c]])
            kk = min(k, len(cand) - 1)
            if kk <= 0:
                continue
            # k-means leaves a few cells far larger than 150: their rows go in blocks, so that
            # the similarity block stays small (one 20k-member cell took gigabytes at once)
            step = len(rows) if len(rows) <= 512 else 256
            for lo in range(0, len(rows), step):
                block = rows[lo : lo + step]
                sim = feats.sim(block, cand, self.same_group_factor)
                sim[cand[None, :] == block[:, None]] = -1.0
                top = np.argpartition(-sim, kk - 1, axis=1)[:, :kk]
                v = np.take_along_axis(sim, top, axis=1)
                out_r.append(np.repeat(block, kk))
                out_c.append(cand[top].ravel())
                out_v.append(v.ravel())
        r = np.concatenate(out_r)
        c = np.concatenate(out_c)
        v = np.concatenate(out_v).astype(np.float32)
        keep = v > 0
        r, c, v = r[keep], c[keep], v[keep]
        lo, hi = np.minimum(r, c), np.maximum(r, c)
        key = lo.astype(np.int64) * n + hi
        _, first = np.unique(key, return_index=True)
        return lo[first], hi[first], v[first]

    def _two_level_cells(self, coarse: np.ndarray, n_cells: int) -> tuple[np.ndarray, np.ndarray]:
        """Cells of about 150 findings for very large corpora: k-means into ~sqrt(n_cells)
        groups, then k-means inside each group.

        One flat k-means into n/150 cells costs n * n/150 distance computations, quadratic in
        n (a million findings: 6,700 cells, hours on two cores); two levels cost
        n * 2 * sqrt(n/150). Neighbours are still probed across all cells (:func:`_nearest_rows`).
        """
        from sklearn.cluster import MiniBatchKMeans

        n = len(coarse)
        k1 = int(math.ceil(math.sqrt(n_cells)))
        top = MiniBatchKMeans(
            k1, init="random", random_state=self.random_state, batch_size=4096, n_init=1, max_iter=30
        ).fit_predict(coarse)
        cell = np.empty(n, dtype=np.int64)
        centres: list[np.ndarray] = []
        for t in range(k1):
            idx = np.flatnonzero(top == t)
            if len(idx) == 0:
                continue
            k2 = min(len(idx), max(1, int(round(len(idx) * n_cells / n))))
            if k2 == 1:
                cell[idx] = len(centres)
                centres.append(coarse[idx].mean(axis=0, keepdims=True))
                continue
            km = MiniBatchKMeans(
                k2, init="random", random_state=self.random_state, batch_size=4096, n_init=1, max_iter=30
            )
            cell[idx] = km.fit_predict(coarse[idx]) + len(centres)
            centres.append(km.cluster_centers_)
        return cell, normalize(np.vstack(centres).astype(np.float32))

    # ---------------------------------------------------------------- incremental
    def assign(
        self,
        new_texts: Sequence[str],
        new_embeddings: np.ndarray | None,
        existing_clusters: dict[int, ClusterMembers],
        new_groups: Sequence[str] | None = None,
        unclustered: ClusterMembers | None = None,
    ) -> list[int]:
        """Labels for a new batch without touching existing clusters.

        A new finding joins the existing cluster with the highest mean similarity to its
        members (average link, the same criterion ``fit`` merges on) when that reaches the
        threshold. The rest, with previously ``unclustered`` findings if given, are clustered
        among themselves; new clusters get ids above the existing ones. The returned list
        covers ``new_texts`` then, when given, ``unclustered.texts``.
        """
        n_new = len(new_texts)
        pool_texts = list(new_texts) + (list(unclustered.texts) if unclustered else [])
        if not pool_texts:
            return []
        ids = sorted(existing_clusters)
        texts: list[str] = list(pool_texts)
        embs: list[np.ndarray] = []
        groups: list[str] = []
        owner: list[int] = [-1] * len(pool_texts)
        has_dense = new_embeddings is not None and self.dense_weight > 0
        if has_dense:
            embs.append(np.asarray(new_embeddings, dtype=np.float32))
            if unclustered:
                embs.append(np.asarray(unclustered.embeddings, dtype=np.float32))
        groups.extend(str(g) for g in (new_groups or [f"\x00new{i}" for i in range(n_new)]))
        if unclustered:
            groups.extend(
                str(g) for g in (unclustered.groups or [f"\x00old{i}" for i in range(len(unclustered.texts))])
            )
        for cid in ids:
            members = existing_clusters[cid]
            texts.extend(members.texts)
            owner.extend([cid] * len(members.texts))
            if has_dense:
                embs.append(np.asarray(members.embeddings, dtype=np.float32))
            groups.extend(str(g) for g in (members.groups or [f"\x00c{cid}_{i}" for i in range(len(members.texts))]))
        use_groups = new_groups is not None or any(existing_clusters[c].groups for c in ids)
        feats = self._features(texts, np.vstack(embs) if has_dense else None, groups if use_groups else None)
        m = len(pool_texts)
        labels = np.full(m, -1, dtype=np.int64)
        owner_arr = np.asarray(owner)
        if ids:
            pool_idx = np.arange(n_new)  # only new findings may join old clusters
            old_idx = np.arange(m, len(texts))
            sim = feats.sim(pool_idx, old_idx, self.same_group_factor)
            mean = np.zeros((n_new, len(ids)), dtype=np.float64)
            for j, cid in enumerate(ids):
                mean[:, j] = sim[:, owner_arr[m:] == cid].mean(axis=1)
            if n_new:
                best = np.argmax(mean, axis=1)
                ok = mean[np.arange(n_new), best] >= self.threshold
                labels[:n_new][ok] = np.asarray(ids)[best[ok]]
        rest = np.flatnonzero(labels < 0)
        if len(rest) >= 2:
            sub = feats.subset(rest)
            sub_labels = np.asarray(self._cluster(sub))
            base = (max(ids) + 1) if ids else 0
            labels[rest[sub_labels >= 0]] = sub_labels[sub_labels >= 0] + base
        return labels.tolist()


def _nearest_rows(vectors: np.ndarray, k: int, block: int = 2048) -> np.ndarray:
    """For each row, the ``k`` rows of highest dot product (itself included), in blocks of rows."""
    k = min(k, len(vectors))
    out = np.empty((len(vectors), k), dtype=np.int64)
    for lo in range(0, len(vectors), block):
        sims = vectors[lo : lo + block] @ vectors.T
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1, kind="stable")
        out[lo : lo + block] = np.take_along_axis(top, order, axis=1)
    return out


def _drop_singletons(flat: np.ndarray) -> np.ndarray:
    counts = Counter(flat.tolist())
    return np.array([lab if counts[lab] > 1 else -1 for lab in flat.tolist()], dtype=np.int64)
