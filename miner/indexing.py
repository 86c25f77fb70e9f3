"""Keeping a workspace's search indexes in step with its catalogue.

The embedding model that built the vectors is recorded in the workspace; opening
the workspace with another model is refused with a clear message until
``miner reindex`` rebuilds the vectors with the new one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from miner.embed import CachedEmbedder, Embedder, get_embedder
from miner.search import HybridSearcher, build_index, load_searcher

if TYPE_CHECKING:
    from miner.pipeline import Workspace

MODEL_KEY = "embed_model_id"


class ModelMismatch(RuntimeError):
    """The workspace was indexed with a different embedding model."""


def embedder_for(ws: Workspace) -> Embedder:
    """The configured embedder, wrapped with the workspace's embedding cache."""
    cached = getattr(ws, "_embedder", None)
    if cached is None:
        cached = CachedEmbedder(get_embedder(ws.settings.embed_model), ws.root / "embed_cache.sqlite")
        ws._embedder = cached  # type: ignore[attr-defined]
    return cached


def check_model(ws: Workspace, embedder: Embedder) -> None:
    recorded = ws.catalogue.get_meta(MODEL_KEY)
    if recorded and recorded != embedder.model_id:
        raise ModelMismatch(
            f"this workspace was indexed with embedding model {recorded}, but the configured model is "
            f"{embedder.model_id} (MINER_EMBED_MODEL={ws.settings.embed_model}). "
            "Run `miner reindex` to rebuild the vectors with the configured model, or set MINER_EMBED_MODEL back."
        )


def index_documents(ws: Workspace, *, rebuild: bool = False) -> HybridSearcher:
    """Bring vectors and the keyword index up to date with every finding in the catalogue.

    Vectors are only computed for findings that are new (the embedding cache makes
    repeats free); the BM25 index is rebuilt because its statistics span the corpus.
    """
    embedder = embedder_for(ws)
    if not rebuild:
        check_model(ws, embedder)
    searcher = build_index(ws.catalogue.findings(), embedder, ws.root)
    ws.catalogue.set_meta(MODEL_KEY, embedder.model_id)
    ws._searcher = searcher  # type: ignore[attr-defined]
    return searcher


def open_searcher(ws: Workspace) -> HybridSearcher:
    """A searcher over the workspace, building the index on first use."""
    cached = getattr(ws, "_searcher", None)
    if cached is not None:
        return cached
    embedder = embedder_for(ws)
    check_model(ws, embedder)
    findings = ws.catalogue.findings()
    try:
        searcher = load_searcher(ws.root, embedder, findings)
    except FileNotFoundError:
        searcher = index_documents(ws)
    ws._searcher = searcher  # type: ignore[attr-defined]
    return searcher
