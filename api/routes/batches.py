"""Batches: upload many reports at once and read back per-file status."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile, status
from starlette.concurrency import run_in_threadpool

from api.deps import StateDep, WorkspaceDep, WriterDep
from miner.ingest import SUPPORTED_SUFFIXES
from miner.pipeline import ingest
from miner.records import ISSUER_KINDS

router = APIRouter(prefix="/batches", tags=["batches"])
_CHUNK = 1 << 20
_METADATA_FIELDS = {"issuer_kind", "issuer", "year", "report_kind", "units", "title"}


def _parse_metadata(raw: str | None) -> tuple[dict, dict[str, dict]]:
    """``metadata`` form field: batch-wide overrides plus optional per-file entries.

    ``{"issuer_kind": "audit", "year": 2024, "files": {"a.pdf": {"unit": "某局"}}}``
    """
    if not raw:
        return {}, {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise HTTPException(422, detail=f"metadata is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise HTTPException(422, detail="metadata must be a JSON object")
    files = data.pop("files", {}) or {}
    unknown = set(data) - _METADATA_FIELDS - {"unit"}
    if unknown:
        raise HTTPException(422, detail=f"unknown metadata fields: {sorted(unknown)}")
    kind = data.get("issuer_kind")
    if kind and kind not in ISSUER_KINDS:
        raise HTTPException(422, detail=f"issuer_kind must be one of {list(ISSUER_KINDS)}")
    if "unit" in data:
        data["units"] = data.pop("unit")
    return data, {Path(k).name: v for k, v in files.items()}


@router.post("", status_code=status.HTTP_201_CREATED)
async def upload_batch(
    request: Request,
    state: StateDep,
    _: WriterDep,
    files: Annotated[list[UploadFile], File(description="Reports: .pdf, .docx, .txt")],
    metadata: Annotated[str | None, Form(description="JSON overrides, see docs")] = None,
    label: Annotated[str, Form()] = "",
) -> dict:
    """Upload a batch of reports; returns the batch with per-file status (ok, duplicate, failed)."""
    settings = state.workspace.settings
    limit = settings.max_upload_mb * 1024 * 1024
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise HTTPException(413, detail=f"upload larger than {settings.max_upload_mb} MB")
    if len(files) > settings.max_files_per_batch:
        raise HTTPException(413, detail=f"more than {settings.max_files_per_batch} files in one batch")
    wrong = [f.filename for f in files if Path(f.filename or "").suffix.lower() not in SUPPORTED_SUFFIXES]
    if wrong:
        raise HTTPException(415, detail=f"unsupported file types (miner reads .pdf .docx .txt): {wrong}")
    overrides, per_file = _parse_metadata(metadata)

    folder = state.workspace.root / "uploads" / uuid.uuid4().hex[:12]
    folder.mkdir(parents=True)
    saved: list[Path] = []
    total = 0
    try:
        for up in files:
            name = Path(up.filename or "upload").name
            target = folder / name
            i = 1
            while target.exists():
                target = folder / f"{target.stem}-{i}{target.suffix}"
                i += 1
            with target.open("wb") as out:
                while chunk := await up.read(_CHUNK):
                    total += len(chunk)
                    if total > limit:
                        raise HTTPException(413, detail=f"upload larger than {settings.max_upload_mb} MB")
                    out.write(chunk)
            saved.append(target)
    except HTTPException:
        shutil.rmtree(folder, ignore_errors=True)
        raise

    def work() -> dict:
        with state.write_lock:
            return ingest(state.workspace, saved, overrides=overrides, sidecar=per_file, label=label)

    return await run_in_threadpool(work)


@router.get("")
def list_batches(ws: WorkspaceDep) -> list[dict]:
    return [ws.catalogue.batch(b["id"]) for b in ws.catalogue.batches()]


@router.get("/{batch_id}")
def get_batch(batch_id: str, ws: WorkspaceDep) -> dict:
    batch = ws.catalogue.batch(batch_id)
    if batch is None:
        raise HTTPException(404, detail=f"no batch {batch_id!r}")
    return batch
