"""Dependencies shared by the routes: who is calling, what they may see, and the workspace.

Access control is ONE dependency, :func:`guard`, which the application attaches to
every route (``FastAPI(dependencies=[Depends(guard)])``; the docs and the static
files are routes too). A route states its level with :func:`public` or
:func:`writes`; everything else needs a reader. The routes then work on a
:class:`~api.scope.Scope`, which only ever hands out what the caller may read.

The API process is the one writer of its workspace (chromadb tolerates one writing
process per path); writes are serialised by ``write_lock``. Reads never wait for
it: each request reads through its own read-only SQLite connection (WAL readers
see the last committed state while a batch is being written).
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request

from api import session
from api.scope import BatchOwners, Scope, workspace_secret
from miner import access
from miner.pipeline import Workspace
from miner.store import Catalogue

# Single-user mode (no access.json): the local analyst sees and edits everything.
LOCAL_USER = access.User(name="local", token_sha256="", issuer_kinds=["*"], can_write=True)

PUBLIC, READ, WRITE = "public", "read", "write"
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
        self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA query_only=ON")


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


class AppState:
    def __init__(self, workspace: Workspace):
        self.workspace = workspace
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


def guard(request: Request, user: MaybeUserDep) -> None:
    """The access rule of every route: public, reader or writer (see :func:`public`, :func:`writes`)."""
    route = request.scope.get("route")
    level = access_level(getattr(route, "endpoint", None) or guard) if route is not None else READ
    if level == PUBLIC:
        return
    if user is None:
        raise HTTPException(401, detail=UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})
    if level == WRITE and not user.can_write:
        raise HTTPException(403, detail=READ_ONLY)


def get_user(user: MaybeUserDep) -> access.User:
    if user is None:  # guard() has already refused; kept so a route can never get None
        raise HTTPException(401, detail=UNAUTHORIZED)
    return user


UserDep = Annotated[access.User, Depends(get_user)]


@contextmanager
def open_scope(state: AppState, user: access.User) -> Iterator[Scope]:
    """What the caller may see, read from one snapshot of the catalogue."""
    catalogue = state.reader()
    catalogue.db.execute("BEGIN")  # one consistent snapshot per request (WAL reader)
    try:
        yield Scope(user, ReadView(state.workspace, catalogue), state.secret)
    finally:
        catalogue.db.rollback()
        state.give_back(catalogue)


def get_scope(state: StateDep, user: UserDep) -> Iterator[Scope]:
    with open_scope(state, user) as scope:
        yield scope


ScopeDep = Annotated[Scope, Depends(get_scope)]
