"""Exports: the common-problem list (xlsx), the briefing draft (docx), markdown and JSON."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from api.deps import StateDep, UserDep, scope_kinds
from miner import problems
from miner.export import default_filename, export, sources_from
from miner.pipeline import as_published, make_filters

router = APIRouter(tags=["exports"])
MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
}


@router.get("/exports")
async def get_export(
    state: StateDep,
    user: UserDep,
    format: str = Query(..., pattern="^(xlsx|docx|md|json)$"),
    min_bodies: int = Query(1, ge=1, le=8),
    title: str | None = Query(None, max_length=200),
    issuer_kind: list[str] | None = Query(None),
    year: str | None = Query(None, pattern=r"^\d{4}(-\d{4})?$"),
    unit: str | None = None,
    batch: str | None = None,
) -> FileResponse:
    """Download the export; every item cites document and page."""
    ws = state.workspace

    def work() -> Path:
        with state.write_lock:
            problems.update(ws)
        flt = make_filters(
            ws.catalogue.findings(), issuer_kind=scope_kinds(user, issuer_kind), year=year, unit=unit, batch=batch
        )
        items = as_published(problems.problems(ws, filters=flt, min_bodies=min_bodies), ws.catalogue)
        folder = Path(tempfile.mkdtemp(prefix="miner-export-"))
        sources = sources_from(ws.catalogue.documents())  # cite reports by title and 文号
        return export(items, format, folder, title=title, min_bodies=min_bodies, sources=sources)

    try:
        path = await run_in_threadpool(work)
    except ValueError as exc:
        raise HTTPException(422, detail=str(exc)) from exc
    return FileResponse(
        path,
        media_type=MEDIA[format],
        filename=default_filename(format),
        background=BackgroundTask(shutil.rmtree, path.parent, ignore_errors=True),
    )
