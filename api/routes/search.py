"""Search: hybrid keyword + semantic ranking with filters."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query

from api.deps import UserDep, WorkspaceDep, scope_kinds
from miner.indexing import open_searcher
from miner.pipeline import finding_view, make_filters
from miner.records import ISSUER_KINDS

router = APIRouter(tags=["search"])


@router.get("/search")
def search(
    ws: WorkspaceDep,
    user: UserDep,
    q: str = Query(..., min_length=1, max_length=500, description="e.g. 往来款长期挂账"),
    k: int = Query(10, ge=1, le=200),
    issuer_kind: list[str] | None = Query(None),
    year: str | None = Query(None, pattern=r"^\d{4}(-\d{4})?$", description="2023 or 2022-2024"),
    unit: str | None = None,
    issuer: str | None = None,
    batch: str | None = None,
) -> dict:
    """Best findings for a query, each citing document, page, issuer, unit and year."""
    bad = [x for x in issuer_kind or [] if x not in ISSUER_KINDS]
    if bad:
        raise HTTPException(422, detail=f"unknown issuer_kind {bad}; use {list(ISSUER_KINDS)}")
    findings = ws.catalogue.findings()
    flt = make_filters(
        findings, issuer_kind=scope_kinds(user, issuer_kind), year=year, unit=unit, issuer=issuer, batch=batch
    )
    hits = open_searcher(ws).search(q, k=k, filters=flt or None)
    by_id = {f.id: f for f in findings}
    return {
        "query": q,
        "filters": flt,
        "hits": [finding_view(by_id[i], ws.catalogue, s) for i, s in hits if i in by_id],
    }
