"""Findings: one finding with its citation, and where else the problem was found."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query

from api.deps import ScopeDep, StateDep
from api.routes.search import searcher
from api.scope import NotInScope, Scope
from miner.pipeline import finding_view

router = APIRouter(prefix="/findings", tags=["findings"])


def _get(scope: Scope, finding_id: str):
    try:
        return scope.finding(finding_id)
    except NotInScope:
        raise HTTPException(404, detail=f"没有该问题表述 / no finding {finding_id!r}") from None


@router.get("/{finding_id}")
def get_finding(finding_id: str, scope: ScopeDep) -> dict:
    return finding_view(_get(scope, finding_id), scope.view.catalogue)


@router.get("/{finding_id}/similar")
def similar_findings(
    finding_id: str,
    state: StateDep,
    scope: ScopeDep,
    k: int = Query(10, ge=1, le=200),
    include_same_document: bool = False,
) -> dict:
    """Findings elsewhere that state the same problem, best first (own document excluded by default)."""
    f = _get(scope, finding_id)
    kinds = scope.kinds_for(None)
    try:
        hits = searcher(state).similar(
            finding_id,
            k=k,
            exclude_same_document=not include_same_document,
            filters={"issuer_kind": kinds} if kinds else None,
        )
    except KeyError:  # a review item or a rejected finding: not in the search index
        hits = []
    readable = scope.finding_ids
    found = {x.id: x for x in scope.view.catalogue.findings(ids=[i for i, _ in hits if i in readable])}
    return {
        "finding": finding_view(f, scope.view.catalogue),
        "hits": [finding_view(found[i], scope.view.catalogue, s) for i, s in hits if i in found],
    }
