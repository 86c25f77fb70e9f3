"""Findings: one finding with its citation, and where else the problem was found."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Query, Response
from starlette.concurrency import run_in_threadpool

from api import source
from api.deps import ScopeDep, StateDep
from api.routes.search import searcher
from api.scope import NotInScope, Scope
from miner.pipeline import finding_view

router = APIRouter(prefix="/findings", tags=["findings"])


def _get(scope: Scope, finding_id: str):
    try:
        return scope.finding(finding_id)
    except NotInScope:
        raise HTTPException(404, detail=f"没有该问题表述 / no finding {finding_id!r}") from None


@router.get("/{finding_id}")
def get_finding(finding_id: str, scope: ScopeDep) -> dict:
    return finding_view(_get(scope, finding_id), scope.view.catalogue)


@router.get("/{finding_id}/similar")
def similar_findings(
    finding_id: str,
    state: StateDep,
    scope: ScopeDep,
    k: int = Query(10, ge=1, le=200),
    include_same_document: bool = False,
) -> dict:
    """Findings elsewhere that state the same problem, best first (own document excluded by default)."""
    f = _get(scope, finding_id)
    kinds = scope.kinds_for(None)
    ranking = searcher(state)
    try:
        hits = scope.top_visible(
            lambda n: ranking.similar(
                finding_id,
                k=n,
                exclude_same_document=not include_same_document,
                filters={"issuer_kind": kinds} if kinds else None,
            ),
            k,
        )
    except KeyError:  # a review item or a rejected finding: not in the search index
        hits = []
    found = {x.id: x for x in scope.view.catalogue.findings(ids=[i for i, _ in hits])}
    return {
        "finding": finding_view(f, scope.view.catalogue),
        "hits": [finding_view(found[i], scope.view.catalogue, s) for i, s in hits if i in found],
    }


SOURCE_GONE = "原文件已不在服务器上 / the original file is no longer on the server"


def original_path(scope: Scope, doc_id: str) -> Path | None:
    """Where the original of a document the caller may read lies (never shown to the caller)."""
    doc = scope.view.catalogue.document(doc_id)
    path = Path(doc["path"]) if doc and doc.get("path") else None
    return path if path is not None and path.is_file() else None


@router.get("/{finding_id}/source")
def finding_source(finding_id: str, scope: ScopeDep) -> dict:
    """Where a finding stands: the document's title, 文号, issuer, year, units; its text in context;
    for a PDF whose original is kept, the URL of its page rendered with the finding highlighted."""
    f = _get(scope, finding_id)
    doc = scope.document(f.doc_id, with_text=True)
    text = doc.pop("source_text", "") or doc.get("text", "")
    doc.pop("text", None)
    is_pdf = f.document.lower().endswith(".pdf")
    has_file = original_path(scope, f.doc_id) is not None
    return {
        "finding": finding_view(f, scope.view.catalogue),
        "document": doc,
        "kind": "pdf" if is_pdf else "text",
        "page": f.page,
        "context": source.text_context(text, f.start, f.end),
        "page_image": f"/findings/{finding_id}/page.png" if is_pdf and has_file else None,
        "download": f"/documents/{f.doc_id}/file" if has_file else None,
    }


@router.get("/{finding_id}/page.png", response_class=Response)
async def finding_page(finding_id: str, scope: ScopeDep) -> Response:
    """The finding's page of its PDF, rendered to PNG, the finding highlighted in yellow."""
    f = _get(scope, finding_id)
    if scope.has_hidden_parts(f.doc_id):
        raise HTTPException(403, detail=WITHHELD)
    path = original_path(scope, f.doc_id)
    if path is None or path.suffix.lower() != ".pdf":
        raise HTTPException(404, detail=SOURCE_GONE)
    needle = scope.view.catalogue.source_text(f.id) or f.text
    try:
        png, found = await run_in_threadpool(source.render_page, path, f.page, needle)
    except pdfium_error() as exc:
        raise HTTPException(422, detail=f"无法显示该页 / cannot render the page ({exc})") from exc
    return Response(png, media_type="image/png", headers={"x-miner-highlighted": "1" if found else "0"})


WITHHELD = (
    "该报告含有不向您共享的内容，原件和页面图像不提供，请查看文本 / "
    "this report holds statements not shared with you: its original and page images are withheld; read its text"
)


def pdfium_error() -> type[Exception]:
    import pypdfium2

    return pypdfium2.PdfiumError
