"""Problem status per finding: 未整改 → 整改中 → 已整改 → 已销号, with deadlines and the responsible unit.

A finding's status comes from, in order: the analyst's last word (``problem_status``, every
change also appended to ``status_history`` with its note and date), else the latest
rectification record linked to it (:mod:`miner.rectification`), else 未整改. 销号 (closing a
problem) is an analyst's act and only follows 已整改. A problem with a deadline that has passed
and is not yet 已整改/已销号 is overdue.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from miner.store import Catalogue

STATUSES = ("未整改", "整改中", "已整改", "已销号")
DONE = ("已整改", "已销号")


@dataclass
class ProblemStatus:
    finding_id: str
    status: str = "未整改"
    source: str = "default"  # "analyst" | "rectification" | "default"
    deadline: str = ""
    responsible: str = ""
    note: str = ""
    date: str = ""
    who: str = ""
    records: list[str] = field(default_factory=list)  # rectification record ids answering it

    def to_dict(self) -> dict:
        return asdict(self)


def statuses(catalogue: Catalogue, finding_ids: list[str] | None = None) -> dict[str, ProblemStatus]:
    """The current status of findings (all findings that count when ``finding_ids`` is None)."""
    db = catalogue.db
    ids = finding_ids if finding_ids is not None else [f.id for f in catalogue.findings()]
    out = {fid: ProblemStatus(fid) for fid in ids}
    for r in db.execute("SELECT id, finding_id, status, date FROM rectifications WHERE finding_id IS NOT NULL"):
        s = out.get(r["finding_id"])
        if s is None:
            continue
        s.records.append(r["id"])
        if s.source == "default" or r["date"] >= s.date:
            s.status, s.source, s.date = r["status"], "rectification", r["date"]
    for r in db.execute("SELECT * FROM problem_status"):
        s = out.get(r["finding_id"])
        if s is None:
            continue
        s.deadline, s.responsible = r["deadline"], r["responsible"]
        if r["status"]:
            s.status, s.source, s.note, s.date, s.who = r["status"], "analyst", r["note"], r["date"], r["who"]
    return out


def set_status(
    catalogue: Catalogue,
    finding_id: str,
    status: str,
    *,
    note: str = "",
    on: str = "",
    who: str = "",
    deadline: str | None = None,
    responsible: str | None = None,
) -> ProblemStatus:
    """An analyst sets a finding's status (with a note and the date it took effect).

    Raises KeyError for an unknown finding, ValueError for an unknown status or for
    已销号 on a problem not yet 已整改.
    """
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    db = catalogue.db
    if db.execute("SELECT 1 FROM findings WHERE id=?", (finding_id,)).fetchone() is None:
        raise KeyError(finding_id)
    current = statuses(catalogue, [finding_id])[finding_id]
    if status == "已销号" and current.status not in DONE:
        raise ValueError(f"only a rectified problem (已整改) can be closed (已销号); it is {current.status}")
    on = on or date.today().isoformat()
    _check_date(on)
    if deadline:
        _check_date(deadline)
    now = time.time()
    with db:
        db.execute(
            "INSERT INTO problem_status (finding_id, status, deadline, responsible, note, date, who, at)"
            " VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(finding_id) DO UPDATE SET status=excluded.status,"
            " deadline=COALESCE(?, problem_status.deadline), responsible=COALESCE(?, problem_status.responsible),"
            " note=excluded.note,"
            " date=excluded.date, who=excluded.who, at=excluded.at",
            (finding_id, status, deadline or "", responsible or "", note, on, who, now, deadline, responsible),
        )
        db.execute(
            "INSERT INTO status_history (finding_id, status, note, date, who, at) VALUES (?,?,?,?,?,?)",
            (finding_id, status, note, on, who, now),
        )
    return statuses(catalogue, [finding_id])[finding_id]


def set_deadline(
    catalogue: Catalogue, finding_id: str, deadline: str, responsible: str = "", who: str = ""
) -> ProblemStatus:
    """Give a problem a rectification deadline (YYYY-MM-DD) and the unit responsible for it."""
    _check_date(deadline)
    db = catalogue.db
    if db.execute("SELECT 1 FROM findings WHERE id=?", (finding_id,)).fetchone() is None:
        raise KeyError(finding_id)
    with db:
        if db.execute("SELECT 1 FROM problem_status WHERE finding_id=?", (finding_id,)).fetchone():
            db.execute(
                "UPDATE problem_status SET deadline=?, responsible=COALESCE(NULLIF(?, ''), responsible)"
                " WHERE finding_id=?",
                (deadline, responsible, finding_id),
            )
        else:
            # no analyst status yet: the status stays derived ('' here)
            db.execute(
                "INSERT INTO problem_status (finding_id, status, deadline, responsible, note, date, who, at)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (finding_id, "", deadline, responsible, "", "", who, time.time()),
            )
    return statuses(catalogue, [finding_id])[finding_id]


def history(catalogue: Catalogue, finding_id: str) -> list[dict]:
    """Every status an analyst gave a finding, oldest first."""
    return [
        dict(r)
        for r in catalogue.db.execute(
            "SELECT status, note, date, who, at FROM status_history WHERE finding_id=? ORDER BY seq", (finding_id,)
        )
    ]


def overdue(catalogue: Catalogue, today: date | None = None) -> list[ProblemStatus]:
    """Problems past their deadline and not rectified, most overdue first."""
    today_s = (today or date.today()).isoformat()
    late = [s for s in statuses(catalogue).values() if s.deadline and s.deadline < today_s and s.status not in DONE]
    return sorted(late, key=lambda s: (s.deadline, s.finding_id))


def _check_date(value: str) -> None:
    try:
        date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"dates are YYYY-MM-DD, got {value!r}") from exc
