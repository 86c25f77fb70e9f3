"""The supervision workflow over HTTP: unit profiles, recurrence, rectification, status, sharing, audit log.

Wire with ``app.include_router(workflow.router)``. Every route filters what it returns by the
caller's granted issuer kinds and the sharing rules (:func:`miner.sharing.hidden_for`), and
appends an entry to the audit log. The audit log itself is for administrators only: users
granted every kind (``*``) who may write.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel

from api.deps import StateDep, UserDep, WorkspaceDep, WriterDep
from miner import auditlog, profiles, rectification, recurrence, sharing, status, units

router = APIRouter(tags=["workflow"])


def _hidden(ws, user) -> set[str]:
    """Finding ids this user must not see: other kinds of report, and leads of other bodies."""
    kinds = user.allowed_kinds()
    hidden = sharing.hidden_for(ws.catalogue, kinds)
    if kinds is not None:
        hidden |= {
            r[0]
            for r in ws.catalogue.db.execute(
                "SELECT f.id FROM findings f JOIN documents d ON d.id = f.document_id"
                f" WHERE d.issuer_kind NOT IN ({','.join('?' * len(kinds))})",
                kinds,
            )
        }
    return hidden


def _log(ws, user, action: str, target: str, items: int, **detail) -> None:
    auditlog.record(ws.catalogue, user.name, action, target, items, detail or None)


# --------------------------------------------------------------------------- units


@router.get("/units")
def list_units(ws: WorkspaceDep, user: UserDep, min_documents: int = Query(1, ge=1)) -> list[dict]:
    rows = [r for r in profiles.entities(ws) if r["documents"] >= min_documents]
    _log(ws, user, "read", "units", len(rows))
    return rows


@router.get("/units/{name}")
def unit_profile(name: str, ws: WorkspaceDep, user: UserDep) -> dict:
    p = profiles.profile(ws, name)
    if p is None:
        raise HTTPException(404, detail=f"no unit {name!r}")
    hidden = _hidden(ws, user)
    p["findings"] = [f for f in p["findings"] if f["id"] not in hidden]
    p["recurrences"] = [c for c in p["recurrences"] if not any(e["finding_id"] in hidden for e in c["events"])]
    visible_docs = {f["document"] for f in p["findings"]}
    kinds = user.allowed_kinds()
    p["documents"] = [d for d in p["documents"] if d["name"] in visible_docs or kinds is None]
    _log(ws, user, "read", f"unit:{p['unit']}", len(p["findings"]))
    return p


class Alias(BaseModel):
    alias: str
    canonical: str


@router.post("/units/aliases")
def set_unit_alias(body: Alias, state: StateDep, user: WriterDep) -> dict:
    ws = state.workspace
    with state.write_lock:
        units.set_alias(ws.catalogue, body.alias, body.canonical, who=user.name)
        _log(ws, user, "edit", f"unit-alias:{body.alias}", 1, canonical=body.canonical)
    return {"alias": body.alias, "canonical": body.canonical}


# --------------------------------------------------------------------------- recurrence


@router.get("/recurrence")
def list_recurrence(ws: WorkspaceDep, user: UserDep, unit: str | None = None, all: bool = False) -> list[dict]:  # noqa: A002
    hidden = _hidden(ws, user)
    chains = [c for c in recurrence.chains(ws) if all or c.earlier_in_workspace]
    if unit:
        e = units.UnitIndex(ws.catalogue).find(unit)
        chains = [c for c in chains if e is not None and c.unit == e.name]
    rows = [c.to_dict() for c in chains if not any(ev.finding_id in hidden for ev in c.events)]
    _log(ws, user, "read", "recurrence", len(rows))
    return rows


# --------------------------------------------------------------------------- rectification


@router.get("/rectifications")
def list_rectifications(ws: WorkspaceDep, user: UserDep, document: str | None = None) -> list[dict]:
    kinds = user.allowed_kinds()
    doc_kind = {r["id"]: r["issuer_kind"] for r in ws.catalogue.db.execute("SELECT id, issuer_kind FROM documents")}
    rows = [
        r.to_dict()
        for r in rectification.records(ws, document)
        if kinds is None or doc_kind.get(r.document_id) in kinds
    ]
    _log(ws, user, "read", "rectifications", len(rows))
    return rows


class Link(BaseModel):
    finding_id: str | None = None


@router.post("/rectifications/{record_id}/link")
def link_rectification(record_id: str, body: Link, state: StateDep, user: WriterDep) -> dict:
    ws = state.workspace
    with state.write_lock:
        try:
            r = rectification.relink(ws, record_id, body.finding_id)
        except KeyError as exc:
            raise HTTPException(404, detail=f"unknown id {exc.args[0]!r}") from exc
        _log(ws, user, "edit", f"rectification:{record_id}", 1, finding_id=body.finding_id)
    return r.to_dict()


# --------------------------------------------------------------------------- status


@router.get("/status")
def list_status(ws: WorkspaceDep, user: UserDep, only: str | None = Query(None, alias="status")) -> list[dict]:
    hidden = _hidden(ws, user)
    rows = [
        s.to_dict()
        for s in status.statuses(ws.catalogue).values()
        if s.finding_id not in hidden and (not only or s.status == only)
    ]
    _log(ws, user, "read", "status", len(rows))
    return rows


@router.get("/status/overdue")
def list_overdue(ws: WorkspaceDep, user: UserDep) -> list[dict]:
    hidden = _hidden(ws, user)
    rows = [s.to_dict() for s in status.overdue(ws.catalogue) if s.finding_id not in hidden]
    _log(ws, user, "read", "overdue", len(rows))
    return rows


class StatusChange(BaseModel):
    status: str
    note: str = ""
    date: str = ""
    deadline: str | None = None
    responsible: str | None = None


@router.post("/status/{finding_id}")
def set_status(finding_id: str, body: StatusChange, state: StateDep, user: WriterDep) -> dict:
    ws = state.workspace
    if finding_id in _hidden(ws, user):
        raise HTTPException(404, detail=f"no finding {finding_id!r}")
    with state.write_lock:
        try:
            s = status.set_status(
                ws.catalogue,
                finding_id,
                body.status,
                note=body.note,
                on=body.date,
                who=user.name,
                deadline=body.deadline,
                responsible=body.responsible,
            )
        except KeyError as exc:
            raise HTTPException(404, detail=f"no finding {finding_id!r}") from exc
        except ValueError as exc:
            raise HTTPException(400, detail=str(exc)) from exc
        _log(ws, user, "edit", f"status:{finding_id}", 1, status=body.status, note=body.note)
    return s.to_dict()


# --------------------------------------------------------------------------- sharing


@router.get("/restrictions")
def list_restrictions(ws: WorkspaceDep, user: UserDep) -> list[dict]:
    hidden = _hidden(ws, user)
    rows = [r for r in sharing.listing(ws.catalogue) if r["finding_id"] not in hidden]
    _log(ws, user, "read", "restrictions", len(rows))
    return rows


class Mark(BaseModel):
    target_kind: str  # finding | document
    target_id: str
    restricted: bool = True
    reason: str = ""


@router.post("/restrictions")
def mark_restriction(body: Mark, state: StateDep, user: WriterDep) -> dict:
    ws = state.workspace
    with state.write_lock:
        try:
            r = sharing.mark(
                ws.catalogue,
                body.target_kind,
                body.target_id,
                restricted=body.restricted,
                reason=body.reason,
                who=user.name,
            )
        except KeyError as exc:
            raise HTTPException(404, detail=f"unknown id {body.target_id!r}") from exc
        except ValueError as exc:
            raise HTTPException(400, detail=str(exc)) from exc
        _log(ws, user, "edit", f"share:{body.target_kind}:{r['target_id']}", 1, restricted=body.restricted)
    return r


# --------------------------------------------------------------------------- audit log

audit_router = APIRouter(prefix="/audit", tags=["audit"])


def _admin(user) -> None:
    if user.allowed_kinds() is not None or not user.can_write:
        raise HTTPException(403, detail="the audit log is for administrators (all kinds, may write)")


@audit_router.get("")
def audit_entries(
    ws: WorkspaceDep,
    user: UserDep,
    who: str | None = None,
    action: str | None = None,
    limit: int = Query(200, ge=0, le=100000),
) -> list[dict]:
    _admin(user)
    rows = auditlog.entries(ws.catalogue, who=who, action=action, limit=limit or None)
    _log(ws, user, "read", "audit-log", len(rows))
    return rows


@audit_router.get("/export")
def audit_export(state: StateDep, user: UserDep, format: str = Query("csv", pattern="^(csv|jsonl)$")) -> FileResponse:  # noqa: A002
    _admin(user)
    ws = state.workspace
    out = ws.root / "exports" / f"audit-log.{format}"
    auditlog.export(ws.catalogue, out, format)
    _log(ws, user, "export", "audit-log", len(auditlog.entries(ws.catalogue)), format=format)
    media = "text/csv; charset=utf-8" if format == "csv" else "application/x-ndjson"
    return FileResponse(out, media_type=media, filename=out.name)
