"""Review: statements the problem model doubts, for an analyst to accept or reject.

Review items are kept out of search, common problems and exports until accepted;
a rejected finding leaves them. Decisions persist across re-runs (see miner.review).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from api.deps import ScopeDep, StateDep, UserDep, writes
from api.scope import NotInScope
from miner import review
from miner.pipeline import finding_view

router = APIRouter(prefix="/review", tags=["review"])


class Decision(BaseModel):
    decision: Literal["accepted", "rejected"]
    note: str = Field("", max_length=500)


@router.get("")
def list_review(scope: ScopeDep, document: str | None = None) -> list[dict]:
    """Review items in the user's scope, least doubtful first."""
    catalogue = scope.view.catalogue
    return [finding_view(f, catalogue) for f in review.pending(catalogue, document) if scope.may_read(f.issuer_kind)]


@router.post("/{finding_id}")
@writes
def decide(finding_id: str, body: Decision, state: StateDep, scope: ScopeDep, user: UserDep) -> dict:
    """Accept a review item as a finding, or reject a finding or review item."""
    try:
        scope.finding(finding_id)
    except NotInScope:
        raise HTTPException(404, detail=f"没有该问题表述 / no finding {finding_id!r}") from None
    with state.write_lock:
        result = review.decide(state.workspace, finding_id, body.decision, who=user.name, note=body.note)
    return {"finding_id": result["finding_id"], "decision": result["decision"]}
