"""Keeping a workspace's search indexes in step with its catalogue.

The embedding model that built the vectors is recorded in the workspace; opening
the workspace with another model is refused with a clear message until
``miner reindex`` rebuilds the vectors with the new one.

Crash consistency: the catalogue (SQLite) is the source of truth and the indexes
(chromadb vectors, keyword index, dense matrix) are derived from it. The catalogue's
``meta`` table holds a journal entry, the *index stamp*: it is cleared before an index
update starts and set to the catalogue's fingerprint (finding ids and their filter
metadata) only after the update has finished. A ``kill -9`` anywhere — after a
document's commit, inside chromadb, while the keyword index is written — therefore
leaves a stamp that does not match, and the next command that opens the workspace for
writing rebuilds the indexes from the catalogue (:func:`repair`) and says so in one line
on stderr. Reading commands detect it and say so (:func:`check`).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from miner.embed import Embedder
    from miner.pipeline import Workspace
    from miner.search import HybridSearcher

# The index layout of miner.search, repeated here so that the start-up check of every read command
# does not import the search stack (bm25s, numba, scipy: ~0.5 s); tests/test_startup.py keeps
# the two in step.
INDEX_DIR = "index"
MANIFEST = "manifest.json"
MATRIX = "dense.npy"

MODEL_KEY = "embed_model_id"
STAMP_KEY = "index_stamp"


class ModelMismatch(RuntimeError):
    """The workspace was indexed with a different embedding model."""


def embedder_for(ws: Workspace) -> Embedder:
    """The configured embedder, wrapped with the workspace's embedding cache."""
    cached = getattr(ws, "_embedder", None)
    if cached is None:
        from miner.embed import CachedEmbedder, get_embedder

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


class EmptySearcher:
    """The searcher of a workspace without findings: every query has no hits."""

    def __init__(self, embedder: Embedder | None = None):
        self.embedder = embedder

    def search(self, query: str, k: int = 10, filters: dict | None = None) -> list[tuple[str, float]]:
        return []

    def similar(self, finding_id: str, k: int = 10, **_: object) -> list[tuple[str, float]]:
        return []


def fingerprint(ws: Workspace) -> str:
    """``<findings>:<hash>`` of what the indexes are built from, cheap enough for every start-up.

    Findings rows are written once with their document and never updated, so their count and
    rowid sum and maximum identify the set (~ms for 100k findings; on PostgreSQL, which has no rowid,
    a sum of id hashes and the largest id); the per-document metadata that vectors are filtered
    by is hashed in full (documents are few).
    """
    db = ws.catalogue.db
    if db.dialect == "sqlite":
        n, total, top = db.execute("SELECT COUNT(*), TOTAL(rowid), MAX(rowid) FROM findings").fetchone()
    else:  # PostgreSQL has no rowid: a sum of id hashes and the largest id identify the set as well
        n, total, top = db.execute(
            "SELECT COUNT(*), SUM(('x' || substr(md5(id), 1, 8))::bit(32)::int), MAX(id) FROM findings"
        ).fetchone()
    h = hashlib.sha256(f"{n}/{total}/{top}".encode())
    for row in db.execute("SELECT id, name, issuer_kind, issuer, year, units, batch_id FROM documents ORDER BY id"):
        h.update(json.dumps(tuple(row), ensure_ascii=False).encode())
    return f"{n}:{h.hexdigest()[:20]}"


def check(ws: Workspace) -> str | None:
    """Why the indexes are out of step with the catalogue, or None when they are in step."""
    stamp = ws.catalogue.get_meta(STAMP_KEY)
    current = fingerprint(ws)
    manifest = ws.root / INDEX_DIR / MANIFEST
    n = int(current.split(":")[0])
    if n == 0 and stamp in (None, current):
        return None  # nothing to index (an empty workspace has no index files)
    if stamp == current and manifest.exists():
        from miner.store import COUNTED

        # the indexes hold the findings that count (review items and rejected ones are left out)
        counted = ws.catalogue.db.execute(f"SELECT COUNT(*) FROM findings f WHERE {COUNTED}").fetchone()[0]
        if _index_files_match(ws.root / INDEX_DIR, counted):
            return None
        return f"the search index files are missing or do not match the catalogue's {n} findings"
    if stamp in (None, "", "building"):
        return f"an index update did not finish (catalogue: {n} findings)"
    indexed = stamp.split(":")[0]
    return f"the catalogue has {n} findings, the search index was built for {indexed}"


def _index_files_match(index: Path, n: int) -> bool:
    """The index files are all there and sized for ``n`` findings (headers only: no index is loaded)."""
    try:
        manifest = json.loads((index / MANIFEST).read_text(encoding="utf-8"))
        if int(manifest.get("count", -1)) != n:
            return False
        if len(json.loads((index / "keyword" / "ids.json").read_text(encoding="utf-8"))) != n:
            return False
        if manifest.get("model_id"):
            from miner.vectors import server_url

            # vectors on a chroma server (MINER_CHROMA_URL) have no files here to look at
            if not server_url() and not (index / "chroma" / "chroma.sqlite3").exists():
                return False
            if (index / MATRIX).exists() and np.load(index / MATRIX, mmap_mode="r").shape[0] != n:
                return False
            # the ANN index (large workspaces) is derived from the matrix: missing means rebuild
            if manifest.get("ann") and not (index / str(manifest["ann"])).exists():
                return False
    except (OSError, ValueError, TypeError):
        return False
    return True


def say(message: str) -> None:
    """One line on stderr: what start-up found and did."""
    print(f"miner: {message}", file=sys.stderr, flush=True)


def repair(ws: Workspace, report: Callable[[str], None] | None = say) -> bool:
    """Rebuild the indexes from the catalogue when they are out of step; True when it did.

    Call with the workspace's write lock held. Vectors are re-embedded only for findings
    that are missing (the embedding cache makes even those cheap); damaged index files are
    thrown away and rebuilt.
    """
    reason = check(ws)
    if reason is None:
        return False
    n = ws.catalogue.count("findings")
    try:
        index_documents(ws)
    except ModelMismatch:
        raise
    except Exception:  # noqa: BLE001 - a half-written index is rebuilt from scratch
        shutil.rmtree(ws.root / INDEX_DIR, ignore_errors=True)
        index_documents(ws)
    if report:
        report(f"repaired the search index: {reason}; re-indexed {n} findings from the catalogue")
    return True


def index_documents(ws: Workspace, *, rebuild: bool = False) -> HybridSearcher | EmptySearcher:
    """Bring vectors and the keyword index up to date with every finding in the catalogue.

    Vectors are only computed for findings that are new (the embedding cache makes
    repeats free); the BM25 index is rebuilt because its statistics span the corpus.
    The index stamp is cleared first and set last (see the module docstring).
    """
    embedder = embedder_for(ws)
    if not rebuild:
        check_model(ws, embedder)
    else:
        from miner import vectors

        vectors.drop(ws.root / INDEX_DIR / "chroma")  # on a chroma server; the local folder is rebuilt anyway
    stamp = fingerprint(ws)
    ws.catalogue.set_meta(STAMP_KEY, "building")
    findings = ws.catalogue.findings()
    if not findings:
        # bm25s cannot index an empty corpus: a workspace without findings has no index files.
        shutil.rmtree(ws.root / INDEX_DIR, ignore_errors=True)
        ws.catalogue.set_meta(STAMP_KEY, stamp)
        ws._searcher = EmptySearcher(embedder)  # type: ignore[attr-defined]
        return ws._searcher  # type: ignore[attr-defined]
    from miner.search import build_index

    searcher = build_index(findings, embedder, ws.root)
    ws.catalogue.set_meta(MODEL_KEY, embedder.model_id)
    ws.catalogue.set_meta(STAMP_KEY, stamp)
    ws._searcher = searcher  # type: ignore[attr-defined]
    return searcher


def open_searcher(ws: Workspace, report: Callable[[str], None] | None = say) -> HybridSearcher | EmptySearcher:
    """A searcher over the workspace, building the index on first use.

    When the index is out of step with the catalogue (a writer was killed, or is at work right
    now) it is repaired if the write lock is free, and otherwise used as it is with a warning.
    """
    cached = getattr(ws, "_searcher", None)
    if cached is not None:
        return cached
    from miner.store import WorkspaceBusy, holds_write_lock, write_lock

    embedder = embedder_for(ws)
    check_model(ws, embedder)
    reason = check(ws)
    busy = False
    if reason is not None:
        try:
            if holds_write_lock(ws.root):
                # A server of this workspace: its own ingest (maybe running now, in another thread)
                # finishes or repairs the index; a reader must not write beside it.
                raise WorkspaceBusy(reason)
            with write_lock(ws.root, "repair"):
                repair(ws, report)
        except WorkspaceBusy:
            busy = True
            if report:
                report(f"warning: {reason}; another process is writing, results may miss documents for now")
        cached = getattr(ws, "_searcher", None)
        if cached is not None:
            return cached
    findings = ws.catalogue.findings()
    if not findings:
        return EmptySearcher(embedder)
    from miner.search import load_searcher

    try:
        searcher = load_searcher(ws.root, embedder, findings)
    except Exception as exc:  # noqa: BLE001 - missing or half-written index files
        if busy:
            raise WorkspaceBusy(
                "the search index is being rebuilt by the process writing to this workspace; "
                f"search again when it has finished ({type(exc).__name__})"
            ) from exc
        if not isinstance(exc, FileNotFoundError):
            raise
        searcher = index_documents(ws)
    ws._searcher = searcher  # type: ignore[attr-defined]
    return searcher
