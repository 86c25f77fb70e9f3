"""Common problems (clusters): list, read, and the analyst's edits."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import StateDep, UserDep, WorkspaceDep, WriterDep, scope_kinds
from miner import problems
from miner.pipeline import make_filters, problem_view
from miner.records import ISSUER_KINDS

router = APIRouter(prefix="/clusters", tags=["clusters"])


def _updated(state) -> None:
    with state.write_lock:
        problems.update(state.workspace)


@router.get("")
async def list_clusters(
    state: StateDep,
    user: UserDep,
    issuer_kind: list[str] | None = Query(None),
    year: str | None = Query(None, pattern=r"^\d{4}(-\d{4})?$"),
    unit: str | None = None,
    issuer: str | None = None,
    batch: str | None = None,
    min_bodies: int = Query(1, ge=1, le=8),
) -> list[dict]:
    """Common problems over all findings or a subset, most systemic first."""
    bad = [x for x in issuer_kind or [] if x not in ISSUER_KINDS]
    if bad:
        raise HTTPException(422, detail=f"unknown issuer_kind {bad}; use {list(ISSUER_KINDS)}")
    await run_in_threadpool(_updated, state)
    ws = state.workspace
    flt = make_filters(
        ws.catalogue.findings(),
        issuer_kind=scope_kinds(user, issuer_kind),
        year=year,
        unit=unit,
        issuer=issuer,
        batch=batch,
    )
    return [problem_view(p, ws.catalogue) for p in problems.problems(ws, filters=flt, min_bodies=min_bodies)]


@router.get("/{cluster_id}")
async def get_cluster(cluster_id: str, state: StateDep, user: UserDep) -> dict:
    await run_in_threadpool(_updated, state)
    kinds = scope_kinds(user, None)
    flt = {"issuer_kind": kinds} if kinds else None
    found = [p for p in problems.problems(state.workspace, min_size=1, filters=flt) if p.id == cluster_id]
    if not found:
        raise HTTPException(404, detail=f"no common problem {cluster_id!r}")
    return problem_view(found[0], state.workspace.catalogue)


class Rename(BaseModel):
    label: str = Field(min_length=1, max_length=200)
    note: str | None = None


class Merge(BaseModel):
    others: list[str] = Field(min_length=1)


class Split(BaseModel):
    finding_ids: list[str] = Field(min_length=1)
    label: str | None = None


class Move(BaseModel):
    finding_id: str
    target: str


def _edit(state, fn, *args):
    with state.write_lock:
        problems.update(state.workspace)
        try:
            return fn(state.workspace, *args)
        except problems.EditError as exc:
            raise HTTPException(
                404 if "no common problem" in str(exc) or "unknown" in str(exc) else 422, detail=str(exc)
            ) from exc


@router.post("/{cluster_id}/rename")
def rename_cluster(cluster_id: str, body: Rename, state: StateDep, _: WriterDep) -> dict:
    _edit(state, problems.rename, cluster_id, body.label, body.note)
    return {"id": cluster_id, "label": body.label}


@router.post("/{cluster_id}/merge")
def merge_clusters(cluster_id: str, body: Merge, state: StateDep, _: WriterDep) -> dict:
    _edit(state, problems.merge, cluster_id, body.others)
    return {"id": cluster_id, "merged": body.others}


@router.post("/{cluster_id}/split")
def split_cluster(cluster_id: str, body: Split, state: StateDep, _: WriterDep) -> dict:
    new_id = _edit(state, problems.split, cluster_id, body.finding_ids, body.label)
    return {"id": cluster_id, "new_id": new_id}


@router.post("/move")
def move_finding(body: Move, state: StateDep, _: WriterDep) -> dict:
    _edit(state, problems.move, body.finding_id, body.target)
    return {"finding_id": body.finding_id, "cluster_id": body.target}


@router.post("/remove/{finding_id}")
def remove_finding(finding_id: str, state: StateDep, _: WriterDep) -> dict:
    _edit(state, problems.remove, finding_id)
    return {"finding_id": finding_id, "cluster_id": None}


@router.get("/-/edits")
def list_edits(ws: WorkspaceDep) -> list[dict]:
    """The analyst edit log, oldest first."""
    return problems.edits(ws)
