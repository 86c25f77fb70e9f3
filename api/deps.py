"""Dependencies shared by the routes: the workspace and its single-writer lock.

The API process is the one writer of its workspace (chromadb tolerates one writing
process per path); writes inside the process are serialised by a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request

from miner.pipeline import Workspace


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
