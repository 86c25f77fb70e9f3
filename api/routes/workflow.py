"""The supervision workflow over HTTP: units and profiles, recurrence, rectification, status, sharing, audit log.

Reads answer from the request's :class:`~api.scope.Scope`: its catalogue snapshot is confined
to what the caller may see (issuer kinds and sharing rules), so the library functions of
:mod:`miner.profiles`, :mod:`miner.recurrence`, :mod:`miner.rectification`, :mod:`miner.status`
and :mod:`miner.sharing` run over that world only; the one thing they name from outside it,
a common problem's catalogue id and label, is replaced by the opaque id and the label the
caller is shown. Edits check their target in the scope, then write the workspace under
``state.write_lock``. The audit log is for administrators: users granted every kind (``*``)
who may write. Every request is logged once by :mod:`api.deps`, not here.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from api.deps import AUDIT_KEY, AppState, ScopeDep, StateDep, UserDep, open_scope, writes
from api.scope import NotInScope, Scope
from miner import access, auditlog, profiles, rectification, recurrence, sharing, status, units

router = APIRouter(tags=["workflow"])

Text = Field(max_length=200)
NO_UNIT = "没有该单位 / no such unit"
NO_FINDING = "没有该问题表述 / no such finding"
NO_RECORD = "没有该整改记录 / no such rectification record"
ADMIN_ONLY = "审计日志仅限管理员（全部类别且可写）/ the audit log is for administrators (all kinds, may write)"


def _finding(scope: Scope, finding_id: str) -> None:
    try:
        scope.finding(finding_id)
    except NotInScope:
        raise HTTPException(404, detail=NO_FINDING) from None


def _chain(c: recurrence.Chain | dict, scope: Scope) -> dict:
    """A chain as this user is shown it: the common problem by opaque id and scoped label."""
    d = c.to_dict() if isinstance(c, recurrence.Chain) else dict(c)
    if d.get("cluster_id"):
        public, label = scope.labels.get(d["cluster_id"], ("", ""))
        d["cluster_id"] = public or None
        d["kind"] = label or next((e["text"][:40] for e in d["events"]), "")
    return d


# --------------------------------------------------------------------------- units


@router.get("/units")
def list_units(scope: ScopeDep, min_documents: int = Query(1, ge=1, le=10000)) -> list[dict]:
    """Unit entities known from the reports in scope, with their aliases and counts."""
    return [r for r in profiles.entities(scope.view) if r["documents"] >= min_documents]  # type: ignore[arg-type]


def _profile(scope: Scope, name: str) -> dict:
    p = profiles.profile(scope.view, name)  # type: ignore[arg-type]
    if p is None:
        raise HTTPException(404, detail=NO_UNIT)
    cluster_of = dict(
        scope.view.catalogue.db.execute(
            "SELECT finding_id, cluster_id FROM cluster_members WHERE cluster_id IS NOT NULL"
        ).fetchall()
    )
    for row in p["findings"]:
        row["problem_type"] = scope.labels.get(cluster_of.get(row["id"], ""), ("", ""))[1]
    p["problem_types"] = Counter(r["problem_type"] or "（未归类）" for r in p["findings"]).most_common()
    p["recurrences"] = [_chain(c, scope) for c in p["recurrences"]]
    return p


@router.get("/units/{name}")
def unit_profile(name: str, scope: ScopeDep) -> dict:
    """The unit's profile (单位画像): documents, findings, problem types, status, rectification, recurrence."""
    return _profile(scope, name)


@router.get("/units/{name}/export")
def export_profile(name: str, scope: ScopeDep, format: Literal["md", "json"] = "md") -> Response:  # noqa: A002
    """The profile as a markdown brief or a JSON file."""
    p = _profile(scope, name)
    if scope.audit is not None:
        scope.audit["items"] = len(p["findings"])
    if format == "json":
        body = json.dumps(p, ensure_ascii=False, indent=1)
        media, suffix = "application/json", "json"
    else:
        body, media, suffix = profiles.to_markdown(p), "text/markdown; charset=utf-8", "md"
    filename = f"unit-profile.{suffix}"
    return Response(body, media_type=media, headers={"content-disposition": f'attachment; filename="{filename}"'})


class Alias(BaseModel):
    alias: str = Field(min_length=1, max_length=200)
    canonical: str = Field("", max_length=200)
    remove: bool = False


@router.post("/units/aliases")
@writes
def set_unit_alias(body: Alias, state: StateDep, user: UserDep) -> dict:
    """An analyst's word on a unit's names: ``alias`` is the unit ``canonical`` (or, with ``remove``, no more)."""
    if not body.remove and not body.canonical:
        raise HTTPException(422, detail="canonical 不能为空 / canonical is required unless remove is true")
    with state.write_lock:
        if body.remove:
            removed = units.remove_alias(state.workspace.catalogue, body.alias)
            return {"alias": body.alias, "removed": removed}
        units.set_alias(state.workspace.catalogue, body.alias, body.canonical, who=user.name)
    return {"alias": body.alias, "canonical": body.canonical}


# --------------------------------------------------------------------------- recurrence


@router.get("/recurrence")
def list_recurrence(
    scope: ScopeDep,
    unit: str | None = Query(None, max_length=200),
    all: bool = False,  # noqa: A002
) -> list[dict]:
    """反弹 / 屡审屡犯 / 整改不实 chains over the reports in scope (``all``: also one-report chains)."""
    chains = [c for c in recurrence.chains(scope.view) if all or c.earlier_in_workspace]  # type: ignore[arg-type]
    if unit:
        e = units.UnitIndex(scope.view.catalogue).find(unit)
        chains = [c for c in chains if e is not None and c.unit == e.name]
    return [_chain(c, scope) for c in chains]


# --------------------------------------------------------------------------- rectification


@router.get("/rectifications")
def list_rectifications(scope: ScopeDep, document: str | None = Query(None, max_length=1000)) -> list[dict]:
    """Rectification records of the reports in scope, each with the finding it answers (if in scope)."""
    return [r.to_dict() for r in rectification.records(scope.view, document)]  # type: ignore[arg-type]


class Link(BaseModel):
    finding_id: str | None = Field(None, max_length=200)


@router.post("/rectifications/{record_id}/link")
@writes
def link_rectification(record_id: str, body: Link, state: StateDep, scope: ScopeDep) -> dict:
    """Link a record to the finding it answers (``null`` unlinks); kept across re-scans."""
    row = scope.view.catalogue.db.execute("SELECT 1 FROM rectifications WHERE id = ?", (record_id,)).fetchone()
    if row is None:
        raise HTTPException(404, detail=NO_RECORD)
    if body.finding_id:
        _finding(scope, body.finding_id)
    with state.write_lock:
        try:
            rectification.relink(state.workspace, record_id, body.finding_id)
        except KeyError:
            raise HTTPException(404, detail=NO_RECORD) from None
    with open_scope(state, scope.user) as fresh:  # answered as the caller sees the record
        row = fresh.view.catalogue.db.execute("SELECT * FROM rectifications WHERE id = ?", (record_id,)).fetchone()
        return rectification.Rectification(**dict(row)).to_dict()


# --------------------------------------------------------------------------- status


@router.get("/status")
def list_status(
    scope: ScopeDep, only: Literal["未整改", "整改中", "已整改", "已销号"] | None = Query(None, alias="status")
) -> list[dict]:
    """Each finding's status (analyst, rectification record, or 未整改), deadline and responsible unit."""
    found = status.statuses(scope.view.catalogue, [f.id for f in scope.findings])
    return [s.to_dict() for s in found.values() if not only or s.status == only]


@router.get("/status/overdue")
def list_overdue(scope: ScopeDep) -> list[dict]:
    """Problems past their deadline and not rectified, most overdue first."""
    readable = scope.finding_ids
    return [s.to_dict() for s in status.overdue(scope.view.catalogue) if s.finding_id in readable]


@router.get("/status/{finding_id}/history")
def status_history(finding_id: str, scope: ScopeDep) -> list[dict]:
    """Every status an analyst gave the finding, oldest first."""
    _finding(scope, finding_id)
    return status.history(scope.view.catalogue, finding_id)


class StatusChange(BaseModel):
    status: Literal["未整改", "整改中", "已整改", "已销号"]
    note: str = Field("", max_length=2000)
    date: str = Field("", max_length=10, description="YYYY-MM-DD, today by default")
    deadline: str | None = Field(None, max_length=10)
    responsible: str | None = Field(None, max_length=200)


class Deadline(BaseModel):
    deadline: str = Field(max_length=10, description="YYYY-MM-DD")
    responsible: str = Field("", max_length=200)


def _status_edit(state: AppState, user: access.User, finding_id: str, fn) -> dict:
    """Write under the lock, then answer from a fresh scope (records outside it stay unnamed)."""
    with state.write_lock:
        try:
            fn(state.workspace.catalogue)
        except KeyError:
            raise HTTPException(404, detail=NO_FINDING) from None
        except ValueError as exc:
            raise HTTPException(422, detail=str(exc)) from exc
    with open_scope(state, user) as scope:
        return status.statuses(scope.view.catalogue, [finding_id])[finding_id].to_dict()


@router.post("/status/{finding_id}")
@writes
def set_status(finding_id: str, body: StatusChange, state: StateDep, scope: ScopeDep, user: UserDep) -> dict:
    """Set a finding's status (已销号 only after 已整改), with a note and the date it took effect."""
    _finding(scope, finding_id)
    return _status_edit(
        state,
        user,
        finding_id,
        lambda cat: status.set_status(
            cat,
            finding_id,
            body.status,
            note=body.note,
            on=body.date,
            who=user.name,
            deadline=body.deadline,
            responsible=body.responsible,
        ),
    )


@router.post("/status/{finding_id}/deadline")
@writes
def set_deadline(finding_id: str, body: Deadline, state: StateDep, scope: ScopeDep, user: UserDep) -> dict:
    """Give a finding a rectification deadline and the unit responsible."""
    _finding(scope, finding_id)
    return _status_edit(
        state,
        user,
        finding_id,
        lambda cat: status.set_deadline(cat, finding_id, body.deadline, body.responsible, who=user.name),
    )


# --------------------------------------------------------------------------- sharing


@router.get("/restrictions")
def list_restrictions(scope: ScopeDep) -> list[dict]:
    """Restricted findings the caller may see (their own body's leads), with the reason."""
    readable = scope.finding_ids
    return [r for r in sharing.listing(scope.view.catalogue) if r["finding_id"] in readable]


class Mark(BaseModel):
    target_kind: Literal["finding", "document"]
    target_id: str = Field(min_length=1, max_length=1000)
    restricted: bool = True
    reason: str = Field("", max_length=500)


@router.post("/restrictions")
@writes
def mark_restriction(body: Mark, state: StateDep, scope: ScopeDep, user: UserDep) -> dict:
    """Keep a finding or document with its own body (``restricted=false`` clears the mark)."""
    try:
        if body.target_kind == "finding":
            scope.finding(body.target_id)
            target = body.target_id
        else:
            target = scope.document(body.target_id)["id"]
    except NotInScope:
        raise HTTPException(404, detail="没有该问题表述或文档 / no such finding or document") from None
    with state.write_lock:
        try:
            return sharing.mark(
                state.workspace.catalogue,
                body.target_kind,
                target,
                restricted=body.restricted,
                reason=body.reason,
                who=user.name,
            )
        except KeyError:
            raise HTTPException(404, detail="没有该问题表述或文档 / no such finding or document") from None


# --------------------------------------------------------------------------- audit log


def _admin(user: access.User) -> None:
    if user.allowed_kinds() is not None or not user.can_write:
        raise HTTPException(403, detail=ADMIN_ONLY)


@router.get("/audit", tags=["audit"])
def audit_entries(
    state: StateDep,
    user: UserDep,
    who: str | None = Query(None, max_length=200),
    action: Literal["read", "search", "export", "edit", "ingest", "login", "deny"] | None = None,
    limit: int = Query(200, ge=0, le=100000, description="the last N entries; 0 for all"),
) -> list[dict]:
    """Who read, searched, exported or edited what, oldest first (administrators only)."""
    _admin(user)
    state.audit.flush()  # what earlier requests did is in the log before it is read
    with open_scope(state, user) as scope:
        return auditlog.entries(scope.view.catalogue, who=who, action=action, limit=limit or None)


@router.get("/audit/export", tags=["audit"])
def audit_export(
    request: Request, state: StateDep, user: UserDep, format: Literal["csv", "jsonl"] = "csv"
) -> FileResponse:  # noqa: A002
    """The whole audit log as csv or jsonl (administrators only)."""
    _admin(user)
    state.audit.flush()
    folder = Path(tempfile.mkdtemp(prefix="miner-audit-"))
    try:
        with open_scope(state, user) as scope:
            out = auditlog.export(scope.view.catalogue, folder / f"audit-log.{format}", format)
            entry = request.scope.get(AUDIT_KEY)
            if entry is not None:
                entry["items"] = scope.view.catalogue.db.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    media = "text/csv; charset=utf-8" if format == "csv" else "application/x-ndjson"
    return FileResponse(
        out, media_type=media, filename=out.name, background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True)
    )
