"""The FastAPI application: one router per resource, the web page at ``/``.

miner serve            # uvicorn on 127.0.0.1:8000, docs at /docs
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.core.config import Settings, get_settings
from api.deps import AppState
from api.routes import batches, clusters, documents, exports, findings, search
from miner.indexing import ModelMismatch
from miner.pipeline import Workspace
from miner.store import acquire_write_lock, release_write_lock

STATIC = Path(__file__).resolve().parent / "static"


def create_app(workspace: Path | None = None, settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    ws = Workspace(workspace or settings.workspace, settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        # The server is the one writer of its workspace while it runs: CLI writes are refused
        # with a clear message instead of two processes writing to chromadb at once.
        fd = acquire_write_lock(ws.root)
        try:
            yield
        finally:
            release_write_lock(fd)

    app = FastAPI(
        lifespan=lifespan,
        title="miner API",
        description="监督报告共性问题挖掘：上传报告批次、检索相似问题、导出共性问题清单。",
        version="0.1.0",
    )
    app.state.miner = AppState(ws)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail, "status": exc.status_code}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": "invalid request", "details": exc.errors(), "status": 422}, status_code=422)

    @app.exception_handler(ModelMismatch)
    async def model_mismatch(_: Request, exc: ModelMismatch) -> JSONResponse:
        return JSONResponse({"error": str(exc), "status": 409}, status_code=409)

    for module in (batches, documents, findings, search, clusters, exports):
        app.include_router(module.router)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    @app.get("/health", tags=["meta"])
    def health() -> dict:
        cat = app.state.miner.workspace.catalogue
        return {"status": "ok", "documents": cat.count("documents"), "findings": cat.count("findings")}

    return app
