"""Findings: one finding with its citation, and where else the problem was found."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query

from api.deps import UserDep, WorkspaceDep, scope_kinds
from miner.indexing import open_searcher
from miner.pipeline import finding_view

router = APIRouter(prefix="/findings", tags=["findings"])


def _get(ws, finding_id: str, user):
    found = ws.catalogue.findings(ids=[finding_id])
    if not found or not user.may_read(found[0].issuer_kind):
        raise HTTPException(404, detail=f"no finding {finding_id!r}")
    return found[0]


@router.get("/{finding_id}")
def get_finding(finding_id: str, ws: WorkspaceDep, user: UserDep) -> dict:
    return finding_view(_get(ws, finding_id, user), ws.catalogue)


@router.get("/{finding_id}/similar")
def similar_findings(
    finding_id: str,
    ws: WorkspaceDep,
    user: UserDep,
    k: int = Query(10, ge=1, le=200),
    include_same_document: bool = False,
) -> dict:
    """Findings elsewhere that state the same problem, best first (own document excluded by default)."""
    f = _get(ws, finding_id, user)
    kinds = scope_kinds(user, None)
    hits = open_searcher(ws).similar(
        finding_id,
        k=k,
        exclude_same_document=not include_same_document,
        filters={"issuer_kind": kinds} if kinds else None,
    )
    found = {x.id: x for x in ws.catalogue.findings(ids=[i for i, _ in hits])}
    return {
        "finding": finding_view(f, ws.catalogue),
        "hits": [finding_view(found[i], ws.catalogue, s) for i, s in hits if i in found],
    }
