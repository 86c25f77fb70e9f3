"""The audit log: who read, searched, exported or edited what, when, and how many items.

Append-only by construction: the ``audit_log`` table carries triggers that abort any UPDATE or
DELETE, so not even a bug in miner can rewrite history; only deleting the workspace does.
The API's access guard and the CLI's workflow commands call :func:`record`; an administrator
lists and exports the log (``miner audit list`` / ``miner audit export``).
"""

from __future__ import annotations

import csv
import getpass
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from miner.store import Catalogue

ACTIONS = ("read", "search", "export", "edit", "ingest", "login", "deny")
COLUMNS = ["seq", "at", "time", "who", "action", "target", "items", "detail"]


def current_user() -> str:
    """Who runs the CLI (the OS account), for entries written by the command line."""
    try:
        return "cli:" + getpass.getuser()
    except Exception:  # noqa: BLE001 - no account name in some containers
        return "cli"


def record(
    catalogue: Catalogue,
    who: str,
    action: str,
    target: str = "",
    items: int = 0,
    detail: dict | None = None,
    at: float | None = None,
) -> int:
    """Append one entry; returns its sequence number.

    ``action`` is one of :data:`ACTIONS`; ``target`` what was touched (a finding or document
    id, a query, an export format); ``items`` how many items were returned or changed;
    ``at`` when it happened (now by default; the API passes the request's time).
    """
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}")
    with catalogue.db:
        row = catalogue.db.execute(
            "INSERT INTO audit_log (at, who, action, target, items, detail) VALUES (?,?,?,?,?,?) RETURNING seq",
            (at or time.time(), who, action, target, int(items), json.dumps(detail or {}, ensure_ascii=False)),
        ).fetchone()
    return int(row[0] or 0)


def entries(
    catalogue: Catalogue,
    *,
    who: str | None = None,
    action: str | None = None,
    since: float | None = None,
    limit: int | None = None,
) -> list[dict]:
    """Entries oldest first (the last ``limit`` when given), optionally by user, action, time."""
    where, args = [], []
    if who:
        where.append("who = ?")
        args.append(who)
    if action:
        where.append("action = ?")
        args.append(action)
    if since is not None:
        where.append("at >= ?")
        args.append(since)
    sql = "SELECT * FROM audit_log" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY seq DESC"
    if limit:
        sql += f" LIMIT {int(limit)}"
    rows = [dict(r) for r in catalogue.db.execute(sql, args)][::-1]
    for r in rows:
        r["time"] = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["at"]))
        r["detail"] = json.loads(r["detail"])
    return rows


def export(catalogue: Catalogue, out: Path, fmt: str = "csv") -> Path:
    """Write the whole log to ``out`` as csv or jsonl."""
    rows = entries(catalogue)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    elif fmt == "csv":
        with out.open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=COLUMNS)
            w.writeheader()
            for r in rows:
                w.writerow({**r, "detail": json.dumps(r["detail"], ensure_ascii=False)})
    else:
        raise ValueError("format must be csv or jsonl")
    return out
