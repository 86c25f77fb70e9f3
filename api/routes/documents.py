"""Documents: list and read ingested reports."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from api.deps import WorkspaceDep

router = APIRouter(prefix="/documents", tags=["documents"])


@router.get("")
def list_documents(ws: WorkspaceDep) -> list[dict]:
    """All documents with issuer, year, units and finding counts."""
    return ws.catalogue.documents()


@router.get("/{doc_id}")
def get_document(doc_id: str, ws: WorkspaceDep, text: bool = False) -> dict:
    """One document by id or file name; ``text=true`` adds the normalised text."""
    doc = ws.catalogue.document(doc_id, with_text=text)
    if doc is None:
        raise HTTPException(404, detail=f"no document {doc_id!r}")
    doc["findings"] = [f.to_dict() for f in ws.catalogue.findings(document=doc["id"])]
    return doc
