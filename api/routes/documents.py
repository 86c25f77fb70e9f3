"""Documents: list and read ingested reports (those of the issuer kinds the caller may read)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

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
