"""CLI commands of the supervision workflow: units, rectification, status, recurrence, sharing, audit.

Kept apart from :mod:`miner.cli` (which registers them with :func:`register`) so the two evolve
without stepping on each other. Every command here that reads or edits data appends an entry
to the audit log (who = the OS account).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from miner.cli import Fmt, _emit, _fail, _ws, err


def _audit(ws, action: str, target: str, items: int, **detail) -> None:
    from miner import auditlog

    auditlog.record(ws.catalogue, auditlog.current_user(), action, target, items, detail or None)


# --------------------------------------------------------------------------- units


def unit(
    name: str = typer.Argument(..., help="Any name of the unit: full, abbreviated, its 党组/党委, part of it."),
    fmt: Fmt = typer.Option(Fmt.table, "--format"),
    out_file: Path | None = typer.Option(None, "--out", help="Write the profile to FILE (.md or .json)."),
) -> None:
    """A unit's profile (单位画像): every finding from every body and year, types, statuses, recurrences."""
    from miner import profiles

    ws = _ws()
    p = profiles.profile(ws, name)
    if p is None:
        _fail(f"no unit called {name!r} / 未找到该单位 (see `miner units`)")
    _audit(ws, "read", f"unit:{p['unit']}", len(p["findings"]))
    if out_file:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        if out_file.suffix.lower() == ".json":
            out_file.write_text(json.dumps(p, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        else:
            out_file.write_text(profiles.to_markdown(p), encoding="utf-8")
        _audit(ws, "export", f"unit:{p['unit']}", len(p["findings"]), file=str(out_file))
        err.print(f"wrote {out_file}")
        return
    if fmt == Fmt.table:
        sys.stdout.write(profiles.to_markdown(p))
        return
    if fmt == Fmt.json:
        sys.stdout.write(json.dumps(p, ensure_ascii=False, indent=1) + "\n")
        return
    _emit(
        p["findings"],
        fmt,
        ["id", "year", "issuer_kind", "document", "page", "problem_type", "status", "recurrence", "text"],
    )


def units(
    min_documents: int = typer.Option(1, "--min-documents", help="Only units found in at least N documents."),
    fmt: Fmt = typer.Option(Fmt.table, "--format"),
) -> None:
    """Supervised units as entities, with their aliases."""
    from miner import profiles

    ws = _ws()
    rows = [r for r in profiles.entities(ws) if r["documents"] >= min_documents]
    _audit(ws, "read", "units", len(rows))
    _emit(rows, fmt, ["name", "aliases", "documents", "findings", "files"], title="单位 / units")


def unit_alias(
    alias: str = typer.Argument(..., help="A name the unit goes by."),
    canonical: str = typer.Argument("", help="The unit's name to show (omit with --remove)."),
    remove: bool = typer.Option(False, "--remove", help="Forget an alias set before."),
) -> None:
    """Say that ALIAS names the same unit as CANONICAL (or --remove it)."""
    from miner import units as units_mod
    from miner.store import write_lock

    ws = _ws()
    with write_lock(ws.root):
        if remove:
            if not units_mod.remove_alias(ws.catalogue, alias):
                _fail(f"no alias {alias!r}")
        else:
            if not canonical:
                _fail("give the unit's name to show: miner unit-alias ALIAS CANONICAL")
            units_mod.set_alias(ws.catalogue, alias, canonical)
        _audit(ws, "edit", f"unit-alias:{alias}", 1, canonical=canonical, remove=remove)
    err.print(f"{alias} → {canonical}" if not remove else f"removed {alias}")


# --------------------------------------------------------------------------- rectification

rectify_app = typer.Typer(help="Rectification records read from 整改 reports. / 整改记录")


@rectify_app.command("scan")
def rectify_scan(
    documents: list[str] = typer.Argument(None, help="Documents (id or file name); all when none."),
) -> None:
    """(Re)read rectification records and link them to the findings they answer."""
    from miner import rectification
    from miner.store import write_lock

    ws = _ws()
    ids = None
    if documents:
        ids = []
        for d in documents:
            doc = ws.catalogue.document(d)
            if doc is None:
                _fail(f"no document {d!r}")
            ids.append(doc["id"])
    with write_lock(ws.root):
        recs = rectification.scan(ws, ids)
        _audit(ws, "edit", "rectify-scan", len(recs))
    err.print(f"{len(recs)} records, {sum(r.finding_id is not None for r in recs)} linked to a finding")


@rectify_app.command("list")
def rectify_list(
    document: str | None = typer.Option(None, "--document"),
    fmt: Fmt = typer.Option(Fmt.table, "--format"),
) -> None:
    """Rectification records with status, amount and the finding each answers (with its score)."""
    from miner import rectification

    ws = _ws()
    rows = [r.to_dict() for r in rectification.records(ws, document)]
    names = {r["id"]: r["name"] for r in ws.catalogue.db.execute("SELECT id, name FROM documents")}
    for r in rows:
        r["document"] = names.get(r["document_id"], r["document_id"])
    _audit(ws, "read", "rectifications", len(rows))
    _emit(
        rows,
        fmt,
        ["id", "document", "date", "problem", "status", "amount_wan", "finding_id", "link_score", "linked_by"],
        title="整改记录 / rectification records",
    )


@rectify_app.command("link")
def rectify_link(
    record_id: str,
    finding_id: str = typer.Argument("", help="The finding the record answers; omit with --none."),
    none: bool = typer.Option(False, "--none", help="Unlink: the record answers no finding in the workspace."),
) -> None:
    """An analyst links a record to a finding (kept across re-scans)."""
    from miner import rectification
    from miner.store import write_lock

    if not finding_id and not none:
        _fail("give a finding id, or --none to unlink")
    ws = _ws()
    with write_lock(ws.root):
        try:
            r = rectification.relink(ws, record_id, None if none else finding_id)
        except KeyError as exc:
            _fail(f"unknown id {exc.args[0]!r}")
        _audit(ws, "edit", f"rectification:{record_id}", 1, finding_id=r.finding_id)
    sys.stdout.write(f"{r.id} → {r.finding_id or '(none)'}\n")


# --------------------------------------------------------------------------- status

status_app = typer.Typer(help="Problem status 未整改 → 整改中 → 已整改 → 已销号, deadlines, overdue. / 整改状态")


@status_app.command("set")
def status_set(
    finding_id: str,
    status: str = typer.Argument(..., help="未整改 | 整改中 | 已整改 | 已销号"),
    note: str = typer.Option("", "--note"),
    on: str = typer.Option("", "--date", help="When it took effect, YYYY-MM-DD (default today)."),
    deadline: str | None = typer.Option(None, "--deadline", help="YYYY-MM-DD"),
    responsible: str | None = typer.Option(None, "--responsible", help="The unit responsible for rectifying."),
) -> None:
    """Set a finding's status (an analyst's word wins over rectification records)."""
    from miner import auditlog
    from miner import status as status_mod
    from miner.store import write_lock

    ws = _ws()
    with write_lock(ws.root):
        try:
            s = status_mod.set_status(
                ws.catalogue,
                finding_id,
                status,
                note=note,
                on=on,
                who=auditlog.current_user(),
                deadline=deadline,
                responsible=responsible,
            )
        except KeyError:
            _fail(f"no finding {finding_id!r}")
        except ValueError as exc:
            _fail(str(exc))
        _audit(ws, "edit", f"status:{finding_id}", 1, status=status, note=note)
    sys.stdout.write(f"{finding_id}: {s.status}\n")


@status_app.command("deadline")
def status_deadline(
    finding_id: str,
    deadline: str = typer.Argument(..., help="YYYY-MM-DD"),
    responsible: str = typer.Option("", "--responsible"),
) -> None:
    """Give a problem a rectification deadline and a responsible unit."""
    from miner import status as status_mod
    from miner.store import write_lock

    ws = _ws()
    with write_lock(ws.root):
        try:
            s = status_mod.set_deadline(ws.catalogue, finding_id, deadline, responsible)
        except KeyError:
            _fail(f"no finding {finding_id!r}")
        except ValueError as exc:
            _fail(str(exc))
        _audit(ws, "edit", f"deadline:{finding_id}", 1, deadline=deadline, responsible=responsible)
    sys.stdout.write(f"{finding_id}: {s.status}, deadline {s.deadline}\n")


def _status_rows(ws, selected) -> list[dict]:
    found = {f.id: f for f in ws.catalogue.findings(ids=[s.finding_id for s in selected])}
    rows = []
    for s in selected:
        f = found.get(s.finding_id)
        row = s.to_dict()
        row.update({"document": f.document if f else "", "unit": f.unit if f else "", "text": f.text if f else ""})
        rows.append(row)
    return rows


@status_app.command("list")
def status_list(
    status: str | None = typer.Option(None, "--status", help="Only this status."),
    fmt: Fmt = typer.Option(Fmt.table, "--format"),
) -> None:
    """Every finding's status, with where it comes from (analyst, rectification record, default)."""
    from miner import status as status_mod

    ws = _ws()
    selected = [s for s in status_mod.statuses(ws.catalogue).values() if not status or s.status == status]
    rows = _status_rows(ws, selected)
    _audit(ws, "read", "status", len(rows))
    _emit(rows, fmt, ["finding_id", "status", "source", "deadline", "responsible", "document", "text"])


@status_app.command("overdue")
def status_overdue(fmt: Fmt = typer.Option(Fmt.table, "--format")) -> None:
    """Problems past their deadline and not rectified."""
    from miner import status as status_mod

    ws = _ws()
    rows = _status_rows(ws, status_mod.overdue(ws.catalogue))
    _audit(ws, "read", "overdue", len(rows))
    _emit(rows, fmt, ["finding_id", "deadline", "status", "responsible", "document", "text"], title="逾期 / overdue")


@status_app.command("history")
def status_history(finding_id: str, fmt: Fmt = typer.Option(Fmt.table, "--format")) -> None:
    """Every status an analyst gave a finding."""
    from miner import status as status_mod

    ws = _ws()
    rows = status_mod.history(ws.catalogue, finding_id)
    _audit(ws, "read", f"status-history:{finding_id}", len(rows))
    _emit(rows, fmt, ["date", "status", "note", "who"])


# --------------------------------------------------------------------------- recurrence


def recurrence(
    unit_name: str | None = typer.Option(None, "--unit", help="Only this unit (any of its names)."),
    everything: bool = typer.Option(
        False, "--all", help="Also statements that say they recur but whose earlier report is not in the workspace."
    ),
    fmt: Fmt = typer.Option(Fmt.table, "--format"),
) -> None:
    """Problems found again in the same unit across years: 反弹 / 屡审屡犯 / 整改不实 / 整改未到位."""
    from miner import recurrence as rec
    from miner.units import UnitIndex

    ws = _ws()
    chains = [c for c in rec.chains(ws) if everything or c.earlier_in_workspace]
    if unit_name:
        e = UnitIndex(ws.catalogue).find(unit_name)
        chains = [c for c in chains if e is not None and c.unit == e.name]
    rows = [c.to_dict() for c in chains]
    _audit(ws, "read", "recurrence", len(rows))
    _emit(rows, fmt, ["id", "unit", "label", "kind", "summary"], title="反弹 / 屡审屡犯 / 整改不实")


# --------------------------------------------------------------------------- sharing

share_app = typer.Typer(help="Case leads and other findings that stay with their own body. / 共享限制")


@share_app.command("list")
def share_list(fmt: Fmt = typer.Option(Fmt.table, "--format")) -> None:
    """Restricted findings, why, and the body they stay with."""
    from miner import sharing

    ws = _ws()
    rows = sharing.listing(ws.catalogue)
    _audit(ws, "read", "restrictions", len(rows))
    _emit(rows, fmt, ["finding_id", "target_kind", "owner_kind", "source", "reason"])


@share_app.command("mark")
def share_mark(
    target_kind: str = typer.Argument(..., help="finding | document"),
    target_id: str = typer.Argument(...),
    reason: str = typer.Option("", "--reason"),
    clear: bool = typer.Option(False, "--clear", help="Share it after all (overrides the rule)."),
) -> None:
    """Restrict a finding or document to its own body (or --clear the restriction)."""
    from miner import auditlog, sharing
    from miner.store import write_lock

    ws = _ws()
    with write_lock(ws.root):
        try:
            r = sharing.mark(
                ws.catalogue, target_kind, target_id, restricted=not clear, reason=reason, who=auditlog.current_user()
            )
        except (KeyError, ValueError) as exc:
            _fail(str(exc))
        _audit(ws, "edit", f"share:{target_kind}:{r['target_id']}", 1, restricted=not clear, reason=reason)
    sys.stdout.write(f"{r['target_id']}: {'shared' if clear else 'restricted'}\n")


# --------------------------------------------------------------------------- audit log

audit_app = typer.Typer(help="Who read, searched, exported or edited what (append-only). / 审计日志")


@audit_app.command("list")
def audit_list(
    who: str | None = typer.Option(None, "--who"),
    action: str | None = typer.Option(None, "--action"),
    limit: int = typer.Option(100, "--limit", help="The last N entries (0: all)."),
    fmt: Fmt = typer.Option(Fmt.table, "--format"),
) -> None:
    """The audit log, oldest first."""
    from miner import auditlog

    ws = _ws()
    rows = auditlog.entries(ws.catalogue, who=who, action=action, limit=limit or None)
    _emit(rows, fmt, ["seq", "time", "who", "action", "target", "items"], title="审计日志 / audit log")


@audit_app.command("export")
def audit_export(
    out_file: Path = typer.Option(..., "--out"),
    fmt: str = typer.Option("csv", "--format", help="csv | jsonl"),
) -> None:
    """Write the whole audit log to a file."""
    from miner import auditlog

    ws = _ws()
    try:
        path = auditlog.export(ws.catalogue, out_file, fmt)
    except ValueError as exc:
        _fail(str(exc))
    _audit(ws, "export", "audit-log", len(auditlog.entries(ws.catalogue)), file=str(path))
    err.print(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add the workflow commands to the ``miner`` app."""
    app.command("unit")(unit)
    app.command("units")(units)
    app.command("unit-alias")(unit_alias)
    app.command("recurrence")(recurrence)
    app.add_typer(rectify_app, name="rectify")
    app.add_typer(status_app, name="status")
    app.add_typer(share_app, name="share")
    app.add_typer(audit_app, name="audit")
