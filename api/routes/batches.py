"""Batches: upload many reports at once and read back per-file status.

The upload body is parsed inside the route, not by FastAPI before the route's
dependencies run: so the token is checked before a byte of it is read (the size
was already checked by :mod:`api.security`). Everything the caller sent is
validated (file types, names, metadata with a pydantic model) before anything of
the batch is written; files that fail or duplicate are not kept.
"""

from __future__ import annotations

import json
import re
import shutil
import unicodedata
import uuid
from functools import partial
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, field_validator
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.deps import AppState, ReadView, ScopeDep, StateDep, UserDep, writes
from api.jobs import Job, Jobs
from api.scope import Scope
from miner import access, problems
from miner.ingest import SUPPORTED_SUFFIXES
from miner.pipeline import ingest

router = APIRouter(prefix="/batches", tags=["batches"])
_CHUNK = 1 << 20
_NAME_BYTES = 200

Name = Annotated[StrictStr, Field(max_length=200)]
IssuerKind = Literal["inspection", "audit", "congress", "discipline", "finance", "statistics", "legal", "other"]


class FileMetadata(BaseModel):
    """Overrides for one file (or, in :class:`BatchMetadata`, for all of them)."""

    model_config = ConfigDict(extra="forbid")

    issuer_kind: IssuerKind | None = None
    issuer: Name | None = None
    year: StrictInt | None = Field(None, ge=1949, le=2100)
    report_kind: Name | None = None
    title: Annotated[StrictStr, Field(max_length=500)] | None = None
    doc_number: Name | None = None
    units: list[Name] | Name | None = Field(None, max_length=200)
    unit: Name | None = None

    def overrides(self) -> dict:
        data = self.model_dump(exclude_none=True, exclude={"unit"})
        units = self.units if self.units is not None else self.unit
        if isinstance(units, str):
            units = [u.strip() for u in re.split(r"[;；、,，]", units) if u.strip()]
        if units:
            data["units"] = units
        return data


class BatchMetadata(FileMetadata):
    """The ``metadata`` form field: ``{"issuer_kind": "audit", "year": 2024, "files": {"a.pdf": {"unit": "某局"}}}``."""

    files: dict[Annotated[str, Field(max_length=1000)], FileMetadata] = Field(default_factory=dict, max_length=5000)

    @field_validator("files", mode="before")
    @classmethod
    def _none_is_empty(cls, v: object) -> object:
        return {} if v is None else v


def _unprocessable(message: str) -> HTTPException:
    return HTTPException(422, detail=f"上传的元数据无效 / invalid upload metadata: {message}")


def parse_metadata(raw: str | None) -> BatchMetadata:
    if not raw:
        return BatchMetadata()
    try:
        return BatchMetadata.model_validate(json.loads(raw))
    except json.JSONDecodeError as exc:
        raise _unprocessable(f"不是有效的 JSON / not valid JSON ({exc})") from exc
    except ValidationError as exc:
        where = "; ".join(
            f"{'.'.join(str(x) for x in e['loc']) or '(metadata)'}: {e['msg']}" for e in exc.errors()[:10]
        )
        raise _unprocessable(where) from exc


def safe_name(raw: str | None, limit: int) -> str:
    """A file name safe to write: no folders, no control or shell-special characters, bounded length.

    Keeps letters (CJK included), digits and ``. _ - ( ) （ ） 【 】 《 》`` and spaces; the
    suffix is kept so the reader is chosen right. At most ``limit`` characters and 200 UTF-8 bytes.
    """
    name = unicodedata.normalize("NFC", raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    suffix = Path(name).suffix.lower()
    suffix = suffix if re.fullmatch(r"\.[a-z0-9]{1,10}", suffix) else ""
    stem = name[: len(name) - len(suffix)]
    stem = re.sub(r"[^\w.\-()（）【】《》 ]", "_", stem).strip(" ._")[: max(1, limit - len(suffix))] or "upload"
    while len((stem + suffix).encode("utf-8")) > _NAME_BYTES:  # file systems count bytes (255)
        stem = stem[:-1]
    return stem + suffix


def _require_scope(user: access.User, meta: BatchMetadata, names: list[str]) -> None:
    """A writer limited to some kinds uploads only reports of those kinds, stated up front."""
    if user.allowed_kinds() is None:
        return
    for name in names:
        kind = (meta.files.get(name) or FileMetadata()).issuer_kind or meta.issuer_kind
        if kind is None or not user.may_read(kind):
            raise HTTPException(
                403,
                detail="请在元数据中为每个文件指定您有权限的监督类别 / "
                "set an issuer_kind you may access for every file in the metadata",
            )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["files"],
                        "properties": {
                            "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                            "metadata": {"type": "string", "description": "JSON overrides, see BatchMetadata"},
                            "label": {"type": "string", "maxLength": 200},
                        },
                    }
                }
            },
        }
    },
)
@writes
async def upload_batch(
    request: Request, response: Response, state: StateDep, user: UserDep, background: bool = False
) -> dict:
    """Upload a batch of .pdf, .docx, .txt reports; returns the batch with per-file status.

    ``background=true``: answers at once (202) with a job id; ``GET /batches/-/jobs/{job}``
    then reports each file's progress and, when done, the batch.
    """
    settings = state.workspace.settings
    form = await request.form(
        max_files=settings.max_files_per_batch + 1, max_fields=20, max_part_size=settings.max_body_kb * 1024
    )
    folder: Path | None = None
    try:
        files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
        if not files:
            raise HTTPException(422, detail="没有上传文件 / no files in the upload (field 'files')")
        if len(files) > settings.max_files_per_batch:
            raise HTTPException(413, detail=f"一个批次最多 {settings.max_files_per_batch} 个文件 / too many files")
        wrong = [f.filename for f in files if Path(f.filename or "").suffix.lower() not in SUPPORTED_SUFFIXES]
        if wrong:
            raise HTTPException(
                415, detail=f"不支持的文件类型 / unsupported file types (miner reads .pdf .docx .txt): {wrong}"
            )
        raw_meta, label = form.get("metadata"), form.get("label") or ""
        if not isinstance(raw_meta, str | None) or not isinstance(label, str):
            raise _unprocessable("metadata 与 label 须为文本 / metadata and label must be text fields")
        if len(label) > 200:
            raise _unprocessable("批次说明过长 / label longer than 200 characters")
        meta = parse_metadata(raw_meta)
        names = [safe_name(f.filename, settings.max_filename_chars) for f in files]
        by_original = {Path(f.filename or "").name: n for f, n in zip(files, names, strict=True)}
        unknown = [k for k in meta.files if Path(k).name not in by_original and k not in names]
        if unknown:
            raise _unprocessable(f"元数据中的文件不在本批次中 / metadata for files not in this upload: {unknown[:10]}")
        per_file = {by_original.get(Path(k).name, k): v for k, v in meta.files.items()}
        meta.files = per_file
        _require_scope(user, meta, names)

        folder = state.workspace.root / "uploads" / uuid.uuid4().hex[:12]
        folder.mkdir(parents=True, mode=0o700)
        saved: list[Path] = []
        sidecar: dict[str, dict] = {}
        for up, name in zip(files, names, strict=True):
            target = folder / name
            i = 1
            while target.exists():
                target = folder / f"{Path(name).stem}-{i}{Path(name).suffix}"
                i += 1
            with target.open("wb") as out:
                while chunk := await up.read(_CHUNK):
                    out.write(chunk)
            saved.append(target)
            if name in per_file:
                sidecar[target.name] = per_file[name].overrides()
        overrides = meta.overrides()
        if background:
            job = jobs(request).start(
                user.name,
                [p.name for p in saved],
                partial(_run_job, state, user, saved, overrides, sidecar, label, folder),
            )
            response.status_code = status.HTTP_202_ACCEPTED
            return job.view()
        result = await run_in_threadpool(_ingest, state, user, saved, overrides, sidecar, label)
    except BaseException:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        await form.close()
    _drop_unused(folder, result)
    return result


def jobs(request: Request) -> Jobs:
    return request.app.state.jobs


def _run_job(
    state: AppState,
    user: access.User,
    saved: list[Path],
    overrides: dict,
    sidecar: dict,
    label: str,
    folder: Path,
    job: Job,
) -> dict:
    try:
        result = _ingest(state, user, saved, overrides, sidecar, label, job)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    _drop_unused(folder, result)
    return result


def _ingest(
    state: AppState,
    user: access.User,
    saved: list[Path],
    overrides: dict,
    sidecar: dict,
    label: str,
    job: Job | None = None,
) -> dict:
    def progress(name: str, file_state: str) -> None:
        if job is None:
            return
        job.files[name] = file_state
        if all(s in ("ok", "duplicate", "failed") for s in job.files.values()):
            job.phase = "indexing"  # every file read: the batch's findings go into the indexes next

    def read(name: str) -> None:
        if job is not None and job.files.get(name) == "parsing":
            job.files[name] = "read"

    with state.write_lock:
        if job is not None:
            job.phase = "parsing"
            job.files.update(dict.fromkeys(job.files, "parsing"))
        batch = ingest(
            state.workspace,
            saved,
            overrides=overrides,
            sidecar=sidecar,
            label=label,
            progress=progress,
            on_read=read if job is not None else None,
        )
        state.owners.set(batch["id"], user.name)
        if job is not None:
            job.phase = "clustering"
        problems.update(state.workspace)  # readers then find the new findings clustered
        # The uploader's own view: a duplicate of a report outside their scope is not named.
        shown = Scope(user, ReadView(state.workspace, state.workspace.catalogue), state.secret).batch(batch, user.name)
    assert shown is not None
    return shown


def _drop_unused(folder: Path | None, batch: dict) -> None:
    """Failed and duplicate files are not kept; the folder goes when nothing in it was kept."""
    if folder is None:
        return
    kept = {f["name"] for f in batch["files"] if f["status"] == "ok"}
    for p in folder.iterdir():
        if p.name not in kept:
            p.unlink(missing_ok=True)
    if not any(folder.iterdir()):
        folder.rmdir()


@router.get("")
def list_batches(state: StateDep, scope: ScopeDep) -> list[dict]:
    """Batches with the files the caller may know of (documents in scope, or their own uploads)."""
    out = []
    for b in scope.view.catalogue.batches():
        full = scope.view.catalogue.batch(b["id"])
        shown = scope.batch(full, state.owners.get(b["id"])) if full else None
        if shown is not None:
            out.append(shown)
    return out


@router.get("/-/jobs/{job_id}")
def get_job(job_id: str, request: Request, user: UserDep) -> dict:
    """Progress of a background upload (``POST /batches?background=true``), for its uploader only."""
    job = jobs(request).get(job_id, user.name)
    if job is None:
        raise HTTPException(404, detail=f"没有该上传任务 / no upload job {job_id!r}")
    return job.view()


@router.get("/{batch_id}")
def get_batch(batch_id: str, state: StateDep, scope: ScopeDep) -> dict:
    full = scope.view.catalogue.batch(batch_id)
    shown = scope.batch(full, state.owners.get(batch_id)) if full else None
    if shown is None:
        raise HTTPException(404, detail=f"没有该批次 / no batch {batch_id!r}")
    return shown
