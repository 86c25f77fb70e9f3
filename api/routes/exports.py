"""Exports: the common-problem list (xlsx), the briefing draft (docx), markdown and JSON."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from api.deps import ScopeDep
from api.routes.clusters import RefreshedDep, check_kinds
from miner.export import default_filename, export, sources_from
from miner.pipeline import as_published

router = APIRouter(tags=["exports"])
MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
}


@router.get("/exports")
def get_export(
    _: RefreshedDep,
    scope: ScopeDep,
    format: str = Query(..., pattern="^(xlsx|docx|md|json)$"),
    min_bodies: int = Query(1, ge=1, le=8),
    title: str | None = Query(None, max_length=200),
    issuer_kind: list[str] | None = Query(None),
    year: str | None = Query(None, pattern=r"^\d{4}(-\d{4})?$"),
    unit: str | None = Query(None, max_length=200),
    batch: str | None = Query(None, max_length=100),
    top: int | None = Query(None, ge=1, le=500),
) -> FileResponse:
    """Download the export of the common problems in scope; every item cites document and page."""
    check_kinds(issuer_kind)
    found = scope.problems(min_bodies=min_bodies, issuer_kind=issuer_kind, year=year, unit=unit, batch=batch)
    items = as_published(found, scope.view.catalogue)
    folder = Path(tempfile.mkdtemp(prefix="miner-export-"))
    try:
        sources = sources_from(scope.documents())  # cite reports by title and 文号
        path = export(items, format, folder, title=title, min_bodies=min_bodies, sources=sources, top_n=top)
    except ValueError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise HTTPException(422, detail=str(exc)) from exc
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(
        path,
        media_type=MEDIA[format],
        filename=default_filename(format),
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )
