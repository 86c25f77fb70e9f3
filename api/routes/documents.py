"""Documents: list and read ingested reports (those of the issuer kinds the caller may read)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from api.deps import ScopeDep
from api.scope import NotInScope

router = APIRouter(prefix="/documents", tags=["documents"])


@router.get("")
def list_documents(scope: ScopeDep) -> list[dict]:
    """All documents the caller may read, with issuer, year, units and finding counts."""
    return scope.documents()


@router.get("/{doc_id}")
def get_document(doc_id: str, scope: ScopeDep, text: bool = False) -> dict:
    """One document by id or file name; ``text=true`` adds the normalised text."""
    try:
        doc = scope.document(doc_id, with_text=text)
    except NotInScope:
        raise HTTPException(404, detail=f"没有该文档 / no document {doc_id!r}") from None
    doc["findings"] = [f.to_dict() for f in scope.view.catalogue.findings(document=doc["id"])]
    return doc


@router.get("/{doc_id}/file")
def download_document(doc_id: str, scope: ScopeDep) -> FileResponse:
    """The original file as uploaded (same access rule as the document)."""
    from api.routes.findings import SOURCE_GONE, WITHHELD, original_path

    try:
        doc = scope.document(doc_id)
    except NotInScope:
        raise HTTPException(404, detail=f"没有该文档 / no document {doc_id!r}") from None
    if scope.has_hidden_parts(doc["id"]):
        raise HTTPException(403, detail=WITHHELD)
    path = original_path(scope, doc["id"])
    if path is None:
        raise HTTPException(404, detail=SOURCE_GONE)
    return FileResponse(path, filename=doc["name"], content_disposition_type="attachment")
