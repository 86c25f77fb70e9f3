"""Dependencies shared by the routes: who is calling, what they may see, and the workspace.

Access control is ONE dependency, :func:`guard`, which the application attaches to
every route (``FastAPI(dependencies=[Depends(guard)])``; the docs and the static
files are routes too). A route states its level with :func:`public` or
:func:`writes`; everything else needs a reader. The routes then work on a
:class:`~api.scope.Scope`, which only ever hands out what the caller may read.

The API process is the one writer of its workspace (chromadb tolerates one writing
process per path); writes are serialised by ``write_lock``. Reads never wait for
it: each request reads through its own read-only connection (SQLite: WAL readers see the
last committed state while a batch is being written; PostgreSQL: a pooled connection in a
REPEATABLE READ READ ONLY transaction, handed back with its session reset).

Every request by a known user is written to the audit log (:mod:`miner.auditlog`), once,
by :class:`AuditMiddleware`: :func:`guard` names the caller and the route, the middleware
adds the status and how many items the answer held, and :class:`AuditWriter` appends the
entry on its own connection in the background (so a read never waits for an upload's
transaction to take the catalogue's write lock).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request
from starlette.types import ASGIApp, Message, Receive, Send
from starlette.types import Scope as ASGIScope

from api import session
from api.scope import BatchOwners, Scope, workspace_secret
from miner import access, auditlog
from miner import db as database
from miner.pipeline import Workspace
from miner.store import Catalogue

# Single-user mode (no access.json): the local analyst sees and edits everything.
LOCAL_USER = access.User(name="local", token_sha256="", issuer_kinds=["*"], can_write=True)

PUBLIC, READ, WRITE = "public", "read", "write"
AUDIT_KEY = "miner.audit"  # the ASGI scope's slot for this request's audit entry
INVALID_TOKEN = "(无效令牌 / invalid token)"
log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

UNAUTHORIZED = "需要有效的访问令牌 / a valid access token is required (Authorization: Bearer …)"
READ_ONLY = "该用户只能查看，不能上传或修改 / this user may read but not upload or edit"


def public(fn: F) -> F:
    """Mark a route that shows nothing of the workspace (the page shell, its script, liveness)."""
    fn.miner_access = PUBLIC  # type: ignore[attr-defined]
    return fn


def writes(fn: F) -> F:
    """Mark a route that changes the workspace: it needs a user allowed to write."""
    fn.miner_access = WRITE  # type: ignore[attr-defined]
    return fn


def access_level(endpoint: Callable[..., Any]) -> str:
    return getattr(endpoint, "miner_access", READ)


class ReadCatalogue(Catalogue):
    """The catalogue through a read-only connection (never creates or migrates anything)."""

    def __init__(self, path: Path):  # noqa: D107 - deliberately not Catalogue.__init__ (it writes)
        self.path = Path(path)
        self.db = database.connect(self.path, read_only=True)


class ReadView:
    """The workspace as one request sees it: a read-only catalogue in a snapshot transaction.

    Anything else (settings, the cached embedder and searcher) is the workspace's own.
    """

    def __init__(self, workspace: Workspace, catalogue: Catalogue):
        object.__setattr__(self, "_ws", workspace)
        object.__setattr__(self, "catalogue", catalogue)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ws, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._ws, name, value)  # e.g. the embedder cached by miner.indexing


class AuditWriter:
    """Appends audit entries in request order on its own connection, in one background thread."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._queue: queue.Queue[dict | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()

    def put(self, entry: dict) -> None:
        with self._start:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="miner-audit", daemon=True)
                self._thread.start()
        self._queue.put(entry)

    def flush(self) -> None:
        """Wait until every entry handed in so far is written."""
        if self._thread is not None:
            self._queue.join()

    def close(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=30)
        self._thread = None

    def _run(self) -> None:
        db = database.connect(self.path, timeout=60)
        catalogue = SimpleNamespace(db=db)
        try:
            while True:
                entry = self._queue.get()
                try:
                    if entry is None:
                        return
                    auditlog.record(catalogue, **entry)  # type: ignore[arg-type]
                except Exception:  # noqa: BLE001 - never lose the server over a log entry; say so
                    log.exception("audit log entry not written: %s", entry)
                finally:
                    self._queue.task_done()
        finally:
            db.close()


class AppState:
    def __init__(self, workspace: Workspace):
        self.workspace = workspace
        self.audit = AuditWriter(workspace.catalogue.path)
        self.write_lock = threading.Lock()
        self.secret = workspace_secret(workspace.root)
        self.owners = BatchOwners(workspace.root)
        self._readers: queue.SimpleQueue[ReadCatalogue] = queue.SimpleQueue()
        self._users: tuple[float, list[access.User]] = (-1.0, [])

    def users(self) -> list[access.User]:
        """Users from access.json, re-read when the file changes (``miner access add`` while serving)."""
        path = self.workspace.root / access.FILE
        stamp = path.stat().st_mtime_ns if path.exists() else 0.0
        if stamp != self._users[0]:
            self._users = (stamp, access.load(self.workspace.root))
        return self._users[1]

    def reader(self) -> ReadCatalogue:
        try:
            return self._readers.get_nowait()
        except queue.Empty:
            return ReadCatalogue(self.workspace.catalogue.path)

    def give_back(self, catalogue: ReadCatalogue) -> None:
        self._readers.put(catalogue)


def get_state(request: Request) -> AppState:
    return request.app.state.miner


StateDep = Annotated[AppState, Depends(get_state)]


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def current_user(request: Request, state: StateDep) -> access.User | None:
    """The caller: ``Authorization: Bearer <token>``, else the page's session cookie; None if unknown."""
    users = state.users()
    if not users:
        return LOCAL_USER
    token = _token(request)
    if token is not None:
        return access.authenticate(users, token)
    return session.verify(state.secret, users, request.cookies.get(session.COOKIE))


MaybeUserDep = Annotated[access.User | None, Depends(current_user)]


def guard(request: Request, user: MaybeUserDep, state: StateDep) -> None:
    """The access rule of every route: public, reader or writer (see :func:`public`, :func:`writes`).

    It also opens the request's audit entry (written by :class:`AuditMiddleware`).
    """
    route = request.scope.get("route")
    level = access_level(getattr(route, "endpoint", None) or guard) if route is not None else READ
    path = getattr(route, "path", request.url.path)
    entry = request.scope.get(AUDIT_KEY)
    if entry is not None and (user is not None or (level != PUBLIC and _token(request))):
        entry.update(
            state=state,
            who=user.name if user is not None else INVALID_TOKEN,
            action=audit_action(request.method, path, level),
            target=request.url.path,
            detail={"method": request.method, "route": path, "query": _query(request)},
        )
    if level == PUBLIC:
        return
    if user is None:
        if entry is not None and "who" in entry:
            entry["action"] = "deny"
        raise HTTPException(401, detail=UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})
    if level == WRITE and not user.can_write:
        if entry is not None:
            entry["action"] = "deny"
        raise HTTPException(403, detail=READ_ONLY)


def audit_action(method: str, route_path: str, level: str) -> str:
    """What a request does, in the audit log's words (:data:`miner.auditlog.ACTIONS`)."""
    if level == WRITE or method not in ("GET", "HEAD"):
        return "ingest" if route_path == "/batches" else "edit"
    if "export" in route_path:
        return "export"
    if route_path == "/search" or route_path.endswith("/similar"):
        return "search"
    return "read"


def _query(request: Request) -> dict:
    out: dict[str, Any] = {}
    for k, v in request.query_params.multi_items():
        out[k] = [*out[k], v] if isinstance(out.get(k), list) else ([out[k], v] if k in out else v)
    return out


def count_items(body: object) -> int:
    """How many items an answer held: a list's length, else the length of its main list, else 1."""
    if isinstance(body, list):
        return len(body)
    if isinstance(body, dict):
        if "error" in body and "status" in body:
            return 0
        for key in ("hits", "findings", "files", "items", "entries", "rows"):
            if isinstance(body.get(key), list):
                return len(body[key])
        return 1
    return 0


class AuditMiddleware:
    """One audit entry per request of a known user (or with an unknown token), after the answer.

    Pure ASGI (it watches the response go by, it does not buffer it): the entry was opened
    by :func:`guard`; here it gets the status and the number of items (JSON answers are
    counted; a file answer counts what the route's scope handed out, ``items`` in the entry).
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: ASGIScope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        entry: dict[str, Any] = {}
        scope[AUDIT_KEY] = entry
        seen = {"status": 500, "json": False}
        body: list[bytes] = []
        at = time.time()

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                ctype = dict(message.get("headers") or []).get(b"content-type", b"")
                seen["json"] = ctype.startswith(b"application/json")
            elif message["type"] == "http.response.body" and seen["json"]:
                body.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            state = entry.pop("state", None)
            if state is not None and "who" in entry:
                items = int(entry.pop("items", 0))
                if seen["json"] and seen["status"] < 400:
                    try:
                        items = count_items(json.loads(b"".join(body) or b"null"))
                    except ValueError:
                        pass
                elif seen["status"] >= 400:
                    items = 0
                entry["detail"]["status"] = seen["status"]
                state.audit.put({**entry, "items": items, "at": at})


def get_user(user: MaybeUserDep) -> access.User:
    if user is None:  # guard() has already refused; kept so a route can never get None
        raise HTTPException(401, detail=UNAUTHORIZED)
    return user


UserDep = Annotated[access.User, Depends(get_user)]


@contextmanager
def open_scope(state: AppState, user: access.User) -> Iterator[Scope]:
    """What the caller may see, read from one snapshot of the catalogue (confined to the scope)."""
    catalogue = state.reader()
    try:
        scope = Scope(user, ReadView(state.workspace, catalogue), state.secret, confined=True)
    except BaseException:
        catalogue.db.close()
        raise
    try:
        catalogue.db.execute(  # one consistent snapshot per request (WAL reader; PostgreSQL: repeatable read)
            "BEGIN" if catalogue.db.dialect == "sqlite" else "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
        )
        yield scope
    finally:
        catalogue.db.rollback()
        try:
            scope.close()
        except database.Error:
            catalogue.db.close()  # never hand a connection on with another user's views
        else:
            state.give_back(catalogue)


def get_scope(request: Request, state: StateDep, user: UserDep) -> Iterator[Scope]:
    with open_scope(state, user) as scope:
        scope.audit = request.scope.get(AUDIT_KEY)
        yield scope


ScopeDep = Annotated[Scope, Depends(get_scope)]
