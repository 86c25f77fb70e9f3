"""Search: hybrid keyword + semantic ranking with filters, within the caller's scope."""

from __future__ import annotations

from fastapi import APIRouter, Query

from api.deps import AppState, ScopeDep, StateDep
from api.routes.clusters import check_kinds
from miner.indexing import open_searcher
from miner.pipeline import finding_view
from miner.search import HybridSearcher

router = APIRouter(tags=["search"])


def searcher(state: AppState) -> HybridSearcher:
    """The workspace's searcher; built (under the write lock) only when none is loaded yet."""
    cached = getattr(state.workspace, "_searcher", None)
    if cached is not None:
        return cached
    with state.write_lock:
        return open_searcher(state.workspace)


@router.get("/search")
def search(
    state: StateDep,
    scope: ScopeDep,
    q: str = Query(..., min_length=1, max_length=500, description="e.g. 往来款长期挂账"),
    k: int = Query(10, ge=1, le=200),
    issuer_kind: list[str] | None = Query(None),
    year: str | None = Query(None, pattern=r"^\d{4}(-\d{4})?$", description="2023 or 2022-2024"),
    unit: str | None = Query(None, max_length=200),
    issuer: str | None = Query(None, max_length=200),
    batch: str | None = Query(None, max_length=100),
) -> dict:
    """Best findings for a query, each citing document, page, issuer, unit and year."""
    check_kinds(issuer_kind)
    flt = scope.filters(issuer_kind=issuer_kind, year=year, unit=unit, issuer=issuer, batch=batch)
    if not scope.findings:
        return {"query": q, "filters": flt, "hits": []}
    found = searcher(state)
    hits = scope.top_visible(lambda n: found.search(q, k=n, filters=flt or None), k)
    by_id = {f.id: f for f in scope.findings}
    return {
        "query": q,
        "filters": flt,
        "hits": [finding_view(by_id[i], scope.view.catalogue, s) for i, s in hits],
    }
