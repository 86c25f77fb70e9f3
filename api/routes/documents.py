"""Documents: list and read ingested reports."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from api.deps import UserDep, WorkspaceDep

router = APIRouter(prefix="/documents", tags=["documents"])


@router.get("")
def list_documents(ws: WorkspaceDep, user: UserDep) -> list[dict]:
    """All documents the caller may read, with issuer, year, units and finding counts."""
    return [d for d in ws.catalogue.documents() if user.may_read(d["issuer_kind"])]


@router.get("/{doc_id}")
def get_document(doc_id: str, ws: WorkspaceDep, user: UserDep, text: bool = False) -> dict:
    """One document by id or file name; ``text=true`` adds the normalised text."""
    doc = ws.catalogue.document(doc_id, with_text=text)
    if doc is None or not user.may_read(doc["issuer_kind"]):
        raise HTTPException(404, detail=f"no document {doc_id!r}")
    doc["findings"] = [f.to_dict() for f in ws.catalogue.findings(document=doc["id"])]
    return doc
