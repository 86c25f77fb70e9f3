"""The vector tests again, against a chroma server (``MINER_CHROMA_URL``) instead of the embedded store.

A ``chroma run`` server (the CLI ships with the chromadb package) is started on 127.0.0.1 at a
free port for this module; nothing else is reached.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from miner.config import get_settings
from miner.vectors import VectorStore, collection_name, drop

# the same tests, collected again in this module, so they run with the server fixture below
from tests.test_vectors import (  # noqa: F401
    _unit,
    test_batches_below_chroma_limit_and_delete,
    test_filters_apply_before_ranking,
    test_hnsw_recall_against_exact_search,
    test_no_embedding_function_is_attached,
    test_other_model_is_refused,
    test_round_trip_and_persistence,
    test_wrong_shape_is_refused,
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    exe = Path(sys.executable).with_name("chroma")
    if not exe.exists():
        exe = Path(shutil.which("chroma") or "")
    if not exe.name:
        pytest.skip("the chroma CLI (from the chromadb package) is not installed")
    port = _free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    log = open(data / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [str(exe), "run", "--path", str(data / "db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"chroma server did not start: {(data / 'server.log').read_text()[-2000:]}")
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(autouse=True)
def use_server(chroma_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MINER_CHROMA_URL", chroma_server)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch, chroma_server: str) -> None:
    """Only the chroma server on 127.0.0.1 may be reached."""
    real = socket.socket.connect

    def connect(self, address):  # type: ignore[no-untyped-def]
        if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in ("127.0.0.1", "::1", "localhost"):
            raise AssertionError(f"network access attempted: {address}")
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


def test_vectors_live_on_the_server_not_in_the_workspace(tmp_path: Path, chroma_server: str) -> None:
    rng = np.random.default_rng(5)
    store = VectorStore(tmp_path / "ws" / "index" / "chroma", 8, "m@1")
    assert store.url == chroma_server
    store.upsert(["a", "b"], _unit(rng, 2, 8), [{"issuer_kind": "audit"}, {"issuer_kind": "finance"}])
    assert not (tmp_path / "ws").exists()  # nothing written locally
    other = VectorStore(tmp_path / "other" / "index" / "chroma", 8, "m@1")
    assert other.count() == 0  # each workspace has its own collection
    assert collection_name(tmp_path / "ws" / "index" / "chroma", "findings", chroma_server) != collection_name(
        tmp_path / "other" / "index" / "chroma", "findings", chroma_server
    )
    drop(tmp_path / "ws" / "index" / "chroma")
    assert VectorStore(tmp_path / "ws" / "index" / "chroma", 8, "other@2").count() == 0


def test_workspace_ingest_and_search_through_the_server(tmp_path: Path) -> None:
    from miner import indexing
    from miner.pipeline import Workspace
    from miner.pipeline import ingest as run_ingest

    samples = Path(__file__).resolve().parents[1] / "corpora" / "samples"
    ws = Workspace(tmp_path / "ws")
    try:
        run_ingest(ws, [samples], workers=1)
        assert not (ws.root / "index" / "chroma").exists()
        assert indexing.check(ws) is None
        n = ws.catalogue.count("findings")
        store = VectorStore(ws.root / "index" / "chroma", indexing.embedder_for(ws).dim, ws._embedder.model_id)
        assert store.count() == n
        hits = indexing.open_searcher(ws).search("往来款长期挂账", k=5)
        assert hits
    finally:
        ws.close()
