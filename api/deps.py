"""Dependencies shared by the routes: the workspace and its single-writer lock.

The API process is the one writer of its workspace (chromadb tolerates one writing
process per path); writes inside the process are serialised by a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from miner import access
from miner.pipeline import Workspace

# Single-user mode (no access.json): the local analyst sees and edits everything.
LOCAL_USER = access.User(name="local", token_sha256="", issuer_kinds=["*"], can_write=True)


class AppState:
    def __init__(self, workspace: Workspace):
        self.workspace = workspace
        self.write_lock = threading.Lock()


def get_state(request: Request) -> AppState:
    return request.app.state.miner


def get_workspace(state: Annotated[AppState, Depends(get_state)]) -> Iterator[Workspace]:
    yield state.workspace


StateDep = Annotated[AppState, Depends(get_state)]
WorkspaceDep = Annotated[Workspace, Depends(get_workspace)]


def get_user(request: Request, state: Annotated[AppState, Depends(get_state)]) -> access.User:
    """The caller, from ``Authorization: Bearer <token>`` when the workspace has users."""
    users = access.load(state.workspace.root)
    if not users:
        return LOCAL_USER
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    user = access.authenticate(users, token)
    if user is None:
        raise HTTPException(401, detail="a valid access token is required (Authorization: Bearer …)")
    return user


def get_writer(user: Annotated[access.User, Depends(get_user)]) -> access.User:
    if not user.can_write:
        raise HTTPException(403, detail=f"user {user.name!r} may read but not upload or edit")
    return user


def scope_kinds(user: access.User, requested: list[str] | None) -> list[str] | None:
    """Issuer kinds a query may touch: the requested ones the user may read (None = no limit)."""
    allowed = user.allowed_kinds()
    if allowed is None:
        return requested
    if requested is None:
        return allowed
    return [k for k in requested if k in allowed] or ["\x00none"]


UserDep = Annotated[access.User, Depends(get_user)]
WriterDep = Annotated[access.User, Depends(get_writer)]
