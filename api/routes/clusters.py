"""Common problems: list, read, and the analyst edits (rename, merge, split, move, remove).

Ids are the opaque ``p-…`` ids of :mod:`api.scope`. A writer may only edit common
problems made wholly of findings they may read; anything else is answered like an
unknown id (404, no detail).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.deps import LOCAL_USER, AppState, ScopeDep, StateDep, UserDep, open_scope, writes
from api.scope import NotInScope, hidden_by_sharing, public_cluster_id
from miner import access, problems
from miner.pipeline import problem_view
from miner.records import ISSUER_KINDS
from miner.store import COUNTED

router = APIRouter(prefix="/clusters", tags=["clusters"])

NOT_FOUND = "没有找到该共性问题或问题表述，或无权修改 / no such common problem or finding, or not permitted"


def refresh(state: AppState) -> None:
    """Place findings not yet clustered, unless a writer is busy (readers never wait for it).

    Uploads through the API cluster their findings before they return; this catches
    a workspace filled by the CLI before the server started.
    """
    if unplaced(state) and state.write_lock.acquire(blocking=False):
        try:
            problems.update(state.workspace)
        finally:
            state.write_lock.release()


def unplaced(state: AppState) -> bool:
    """Whether some finding has not been seen by the clustering yet, or the stored views of
    common problems were never computed (a workspace clustered by an older miner); cheap, read-only."""
    with open_scope(state, LOCAL_USER) as scope:
        db = scope.view.catalogue.db
        row = db.execute(  # review items are not clustered: only findings that count
            f"SELECT 1 FROM findings f WHERE {COUNTED} AND f.id NOT IN (SELECT finding_id FROM cluster_members) LIMIT 1"
        ).fetchone()
        if row is None and db.execute("SELECT 1 FROM clusters LIMIT 1").fetchone() is not None:
            row = None if scope.view.catalogue.get_meta(problems.VIEWS_KEY) else (1,)
    return row is not None


def check_kinds(kinds: list[str] | None) -> None:
    bad = [x for x in kinds or [] if x not in ISSUER_KINDS]
    if bad:
        raise HTTPException(422, detail=f"未知的监督类别 / unknown issuer_kind {bad}; use {list(ISSUER_KINDS)}")


def _view(p, scope) -> dict:
    return problem_view(p, scope.view.catalogue)


def refreshed(state: StateDep) -> None:
    refresh(state)


# Listed before the scope in a route's parameters, so the snapshot includes what it placed.
RefreshedDep = Annotated[None, Depends(refreshed)]


@router.get("", response_model=list[dict])
def list_clusters(
    _: RefreshedDep,
    scope: ScopeDep,
    issuer_kind: list[str] | None = Query(None),
    year: str | None = Query(None, pattern=r"^\d{4}(-\d{4})?$"),
    unit: str | None = Query(None, max_length=200),
    issuer: str | None = Query(None, max_length=200),
    batch: str | None = Query(None, max_length=100),
    min_bodies: int = Query(1, ge=1, le=8),
) -> Response:
    """Common problems over all findings in scope or a subset, most systemic first.

    Answered as ready JSON bytes (orjson): the rows are plain JSON values already; FastAPI's generic
    encoder took longer over 10k findings than everything else in the request, and orjson writes
    the 5-6 MB of text three times faster than json.
    """
    check_kinds(issuer_kind)
    found = scope.problems(
        min_bodies=min_bodies,
        recurrences=False,  # the list does not show them
        issuer_kind=issuer_kind,
        year=year,
        unit=unit,
        issuer=issuer,
        batch=batch,
    )
    return Response(orjson.dumps([_view(p, scope) for p in found]), media_type="application/json")


@router.get("/-/edits")
def list_edits(scope: ScopeDep) -> list[dict]:
    """The analyst edit log, oldest first: entries about what the caller may read."""
    return scope.edits(problems.edits(scope.view))  # type: ignore[arg-type]


@router.get("/{cluster_id}")
def get_cluster(cluster_id: str, _: RefreshedDep, scope: ScopeDep) -> dict:
    try:
        return _view(scope.problem(cluster_id), scope)
    except NotInScope:
        raise HTTPException(404, detail=NOT_FOUND) from None


class Rename(BaseModel):
    label: str = Field(min_length=1, max_length=200)
    note: str | None = Field(None, max_length=2000)


class Merge(BaseModel):
    others: list[str] = Field(min_length=1, max_length=200)


class Split(BaseModel):
    finding_ids: list[str] = Field(min_length=1, max_length=2000)
    label: str | None = Field(None, max_length=200)


class Move(BaseModel):
    finding_id: str = Field(max_length=100)
    target: str = Field(max_length=100)


class _Editor:
    """Edits under the write lock, on the writer's catalogue, after the scope check."""

    def __init__(self, state: AppState, user: access.User):
        self.state, self.user = state, user
        self.db = state.workspace.catalogue.db
        self.hidden_findings: set[str] = set()
        self.hidden_documents: set[str] = set()

    def _may_see(self, kind: str, finding_id: str, document_id: str) -> bool:
        return (
            self.user.may_read(kind)
            and finding_id not in self.hidden_findings
            and document_id not in self.hidden_documents
        )

    def cluster(self, public_id: str) -> str:
        """Catalogue id of a common problem the user may edit (all of its findings readable)."""
        for (cid,) in self.db.execute("SELECT id FROM clusters"):
            if public_cluster_id(self.state.secret, cid) == public_id:
                members = self.db.execute(
                    "SELECT d.issuer_kind, f.id, d.id FROM cluster_members m JOIN findings f ON f.id = m.finding_id"
                    " JOIN documents d ON d.id = f.document_id WHERE m.cluster_id = ?",
                    (cid,),
                ).fetchall()
                if members and all(self._may_see(*m) for m in members):
                    return cid
                break
        raise NotInScope(public_id)

    def finding(self, finding_id: str) -> str:
        """A finding the user may read whose common problem (if any) the user may edit."""
        row = self.db.execute(
            "SELECT d.issuer_kind, m.cluster_id, d.id FROM findings f JOIN documents d ON d.id = f.document_id"
            " LEFT JOIN cluster_members m ON m.finding_id = f.id WHERE f.id = ?",
            (finding_id,),
        ).fetchone()
        if row is None or not self._may_see(row[0], finding_id, row[2]):
            raise NotInScope(finding_id)
        if row[1] is not None:
            self.cluster(public_cluster_id(self.state.secret, row[1]))
        return finding_id

    def run(self, fn: Callable[..., Any]) -> Any:
        with self.state.write_lock:
            if unplaced(self.state):
                problems.update(self.state.workspace)
            self.hidden_findings, self.hidden_documents = hidden_by_sharing(self.state.workspace.catalogue, self.user)
            try:
                return fn()
            except (NotInScope, problems.EditError) as exc:
                raise HTTPException(404, detail=NOT_FOUND) from exc


def _edit(state: AppState, user: access.User, fn: Callable[[_Editor], Any]) -> Any:
    editor = _Editor(state, user)
    return editor.run(lambda: fn(editor))


@router.post("/{cluster_id}/rename")
@writes
def rename_cluster(cluster_id: str, body: Rename, state: StateDep, user: UserDep) -> dict:
    _edit(state, user, lambda e: problems.rename(state.workspace, e.cluster(cluster_id), body.label, body.note))
    return {"id": cluster_id, "label": body.label}


@router.post("/{cluster_id}/merge")
@writes
def merge_clusters(cluster_id: str, body: Merge, state: StateDep, user: UserDep) -> dict:
    _edit(
        state,
        user,
        lambda e: problems.merge(state.workspace, e.cluster(cluster_id), [e.cluster(c) for c in body.others]),
    )
    return {"id": cluster_id, "merged": body.others}


@router.post("/{cluster_id}/split")
@writes
def split_cluster(cluster_id: str, body: Split, state: StateDep, user: UserDep) -> dict:
    new_id = _edit(
        state,
        user,
        lambda e: problems.split(
            state.workspace, e.cluster(cluster_id), [e.finding(f) for f in body.finding_ids], body.label
        ),
    )
    return {"id": cluster_id, "new_id": public_cluster_id(state.secret, new_id)}


@router.post("/move")
@writes
def move_finding(body: Move, state: StateDep, user: UserDep) -> dict:
    _edit(state, user, lambda e: problems.move(state.workspace, e.finding(body.finding_id), e.cluster(body.target)))
    return {"finding_id": body.finding_id, "cluster_id": body.target}


@router.post("/remove/{finding_id}")
@writes
def remove_finding(finding_id: str, state: StateDep, user: UserDep) -> dict:
    _edit(state, user, lambda e: problems.remove(state.workspace, e.finding(finding_id)))
    return {"finding_id": finding_id, "cluster_id": None}
