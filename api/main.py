"""The FastAPI application: one router per resource, the web page at ``/``.

miner serve            # uvicorn on 127.0.0.1:8000, docs at /docs

Every route, the docs and the page's files included, is an APIRoute under the one
access dependency :func:`api.deps.guard`; the web boundary (Host allow-list,
same-origin writes, body limits, security headers) is :mod:`api.security`.
"""

from __future__ import annotations

import base64
import hashlib
import re
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.core.config import Settings, get_settings
from api.deps import AppState, AuditMiddleware, MaybeUserDep, StateDep, guard, open_scope, public
from api.routes import batches, clusters, documents, exports, findings, review, search, workflow
from api.security import BoundaryMiddleware, allowed_hosts
from miner import indexing
from miner.indexing import ModelMismatch, open_searcher
from miner.pipeline import Workspace
from miner.records import MetadataError
from miner.store import WorkspaceBusy, acquire_write_lock, release_write_lock

STATIC = Path(__file__).resolve().parent / "static"
# The page's own files, by name: nothing else under static/ (or anywhere) is served.
STATIC_FILES = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
DOCS_CDN = "https://cdn.jsdelivr.net"


def create_app(workspace: Path | None = None, settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    ws = Workspace(workspace or settings.workspace, settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        # The server is the one writer of its workspace while it runs: CLI writes are refused
        # with a clear message instead of two processes writing to chromadb at once.
        fd = acquire_write_lock(ws.root)
        try:
            indexing.repair(ws)  # an index update cut short by a crash is finished before anyone reads
            if ws.catalogue.count("findings"):
                open_searcher(ws)  # load the indexes once, before readers need them
            yield
        finally:
            app.state.miner.audit.close()  # every entry written before the server lets go
            release_write_lock(fd)

    app = FastAPI(
        lifespan=lifespan,
        title="miner API",
        description="监督报告共性问题挖掘：上传报告批次、检索相似问题、导出共性问题清单。",
        version="0.1.0",
        dependencies=[Depends(guard)],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.miner = AppState(ws)
    app.add_middleware(
        BoundaryMiddleware,
        hosts=allowed_hosts(settings),
        allowed_origins=settings.allowed_origins,
        max_body=settings.max_body_kb * 1024,
        max_upload=settings.max_upload_mb * 1024 * 1024,
        upload_paths=frozenset({"/batches"}),
    )
    app.add_middleware(AuditMiddleware)  # one audit-log entry per request of a known user (api.deps)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": exc.detail, "status": exc.status_code}, status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{k: e[k] for k in ("loc", "msg", "type") if k in e} for e in exc.errors()]
        return JSONResponse(
            {"error": "请求参数无效 / invalid request", "details": details, "status": 422}, status_code=422
        )

    @app.exception_handler(MetadataError)
    async def bad_metadata(_: Request, exc: MetadataError) -> JSONResponse:
        return JSONResponse({"error": str(exc), "status": 422}, status_code=422)

    @app.exception_handler(WorkspaceBusy)
    async def busy(_: Request, exc: WorkspaceBusy) -> JSONResponse:
        return JSONResponse({"error": f"工作区正忙，请稍后重试 / {exc}", "status": 503}, status_code=503)

    @app.exception_handler(ModelMismatch)
    async def model_mismatch(_: Request, exc: ModelMismatch) -> JSONResponse:
        return JSONResponse({"error": str(exc), "status": 409}, status_code=409)

    for module in (batches, documents, findings, review, search, clusters, exports, workflow):
        app.include_router(module.router)

    @app.get("/", include_in_schema=False)
    @public
    def index() -> FileResponse:
        """The analysts' page: a shell with no data in it (the data comes through the API)."""
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    @app.get("/static/{name}", include_in_schema=False)
    @public
    def static(name: str) -> FileResponse:
        if name not in STATIC_FILES:
            raise HTTPException(404, detail="没有该文件 / not found")
        return FileResponse(STATIC / name, media_type=STATIC_FILES[name])

    @app.get("/health", tags=["meta"])
    @public
    def health(user: MaybeUserDep, state: StateDep) -> dict:
        """Liveness for anyone; document and finding counts only for a user, within their scope."""
        if user is None:
            return {"status": "ok"}
        with open_scope(state, user) as scope:
            return {"status": "ok", "documents": len(scope.documents()), "findings": len(scope.findings)}

    @app.get("/openapi.json", include_in_schema=False)
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        page = get_swagger_ui_html(openapi_url="/openapi.json", title="miner API")
        body = page.body.decode("utf-8")
        # Swagger UI boots from an inline script: allow exactly that script by its hash.
        hashes = " ".join(
            "'sha256-" + base64.b64encode(hashlib.sha256(s.encode("utf-8")).digest()).decode() + "'"
            for s in re.findall(r"<script>(.*?)</script>", body, flags=re.S)
        )
        csp = (
            f"default-src 'self'; script-src 'self' {DOCS_CDN} {hashes}; style-src 'self' {DOCS_CDN}; "
            "img-src 'self' data: https://fastapi.tiangolo.com; connect-src 'self'; object-src 'none'; "
            "base-uri 'none'; frame-ancestors 'none'"
        )
        return HTMLResponse(body, headers={"content-security-policy": csp})

    return app
