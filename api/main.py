"""The FastAPI application: one router per resource, the web page at ``/``.

miner serve            # uvicorn on 127.0.0.1:8000, docs at /docs

Every route, the docs and the page's files included, is an APIRoute under the one
access dependency :func:`api.deps.guard`; the web boundary (Host allow-list,
same-origin writes, body limits, security headers) is :mod:`api.security`.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import re
from contextlib import asynccontextmanager
from pathlib import Path

import fastapi_offline
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.core.config import Settings, get_settings
from api.deps import AppState, AuditMiddleware, MaybeUserDep, StateDep, guard, open_scope, public
from api.jobs import Jobs
from api.routes import batches, clusters, documents, exports, findings, review, search, session, workflow
from api.security import BoundaryMiddleware, allowed_hosts
from miner import indexing
from miner.indexing import ModelMismatch, open_searcher
from miner.pipeline import Workspace
from miner.records import MetadataError
from miner.store import WorkspaceBusy, acquire_write_lock, release_write_lock

STATIC = Path(__file__).resolve().parent / "static"
# The page's own files, by name: nothing else under static/ (or anywhere) is served.
STATIC_FILES = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
# Swagger UI and ReDoc come from the fastapi-offline package (MIT; the assets keep their own
# licences, Apache-2.0 and MIT): the docs render with no network, and the CSP names no CDN.
DOCS_ASSETS = Path(fastapi_offline.__file__).resolve().parent / "static"
DOCS_FILES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
}


STATUS_ZH = {
    400: "请求无效",
    401: "需要登录",
    403: "无权进行此操作",
    404: "没有找到",
    405: "不支持该请求方法",
    409: "与现有数据冲突",
    413: "请求内容过大",
    415: "不支持的文件类型",
    422: "请求参数无效",
    429: "请求过于频繁",
    500: "服务器内部错误",
    503: "服务暂不可用",
}


def chinese(detail: object, status: int) -> object:
    """Every error the page can show has a Chinese form: Starlette's own ("Not Found") get one."""
    if isinstance(detail, str) and not re.search(r"[\u4e00-\u9fff]", detail):
        return f"{STATUS_ZH.get(status, '请求失败')} / {detail}"
    return detail


def _docs_csp(body: str, extra: str = "", styles: str = "'self'") -> str:
    """The docs pages boot from one inline script each: allow exactly those scripts by hash."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode("utf-8")).digest()).decode() + "'"
        for s in re.findall(r"<script>(.*?)</script>", body, flags=re.S)
    )
    return (
        f"default-src 'self'; script-src 'self' {hashes}; style-src {styles}; "
        f"img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; {extra}"
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


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
            # The indexes are hundreds of thousands of long-lived objects: keep them out of the
            # garbage collector's full passes, which otherwise land in the middle of requests
            # (~30-60 ms on a 10k-finding /clusters).
            gc.freeze()
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
    app.state.jobs = Jobs()  # background uploads and their progress
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
            {"error": chinese(exc.detail, exc.status_code), "status": exc.status_code},
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{k: e[k] for k in ("loc", "msg", "type") if k in e} for e in exc.errors()]
        return JSONResponse(
            {"error": "请求参数无效 / invalid request", "details": details, "status": 422}, status_code=422
        )

    @app.exception_handler(MetadataError)
    async def bad_metadata(_: Request, exc: MetadataError) -> JSONResponse:
        return JSONResponse({"error": f"元数据无效 / {exc}", "status": 422}, status_code=422)

    @app.exception_handler(WorkspaceBusy)
    async def busy(_: Request, exc: WorkspaceBusy) -> JSONResponse:
        return JSONResponse({"error": f"工作区正忙，请稍后重试 / {exc}", "status": 503}, status_code=503)

    @app.exception_handler(Exception)
    async def server_error(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            {"error": f"服务器内部错误 / internal error ({type(exc).__name__})", "status": 500}, status_code=500
        )

    @app.exception_handler(ModelMismatch)
    async def model_mismatch(_: Request, exc: ModelMismatch) -> JSONResponse:
        return JSONResponse({"error": f"工作区的索引由另一个向量模型建立 / {exc}", "status": 409}, status_code=409)

    for module in (session, batches, documents, findings, review, search, clusters, exports, workflow):
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

    @app.get("/favicon.ico", include_in_schema=False)
    @public
    def favicon() -> FileResponse:
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    @app.get("/docs/assets/{name}", include_in_schema=False)
    @public
    def docs_asset(name: str) -> FileResponse:
        """Swagger UI / ReDoc code (public like the page's own script: it holds no data)."""
        if name not in DOCS_FILES:
            raise HTTPException(404, detail="没有该文件 / not found")
        return FileResponse(DOCS_ASSETS / name, media_type=DOCS_FILES[name])

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="miner API 接口文档",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )
        body = page.body.decode("utf-8")
        return HTMLResponse(body, headers={"content-security-policy": _docs_csp(body)})

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url="/openapi.json",
            title="miner API 接口文档",
            redoc_js_url="/docs/assets/redoc.standalone.js",
            redoc_favicon_url="/static/favicon.svg",
            with_google_fonts=False,
        )
        body = page.body.decode("utf-8")
        return HTMLResponse(
            body,
            headers={"content-security-policy": _docs_csp(body, "worker-src 'self' blob:; ", "'self' 'unsafe-inline'")},
        )

    return app
