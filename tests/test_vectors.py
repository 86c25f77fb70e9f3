"""Chroma wrapper: explicit embeddings only, filters, batching, deletes, HNSW recall."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from miner.records import Finding
from miner.vectors import VectorStore, build_where, finding_metadata


def _unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture
def no_network(monkeypatch):
    """The embedded store: no connection at all (the run's chroma server, if any, is for workspaces;
    tests/test_vectors_server.py runs these tests against a server)."""
    from miner.config import get_settings

    monkeypatch.delenv("MINER_CHROMA_URL", raising=False)
    get_settings.cache_clear()

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield
    get_settings.cache_clear()  # the environment comes back after this; settings are read again


def test_round_trip_and_persistence(tmp_path, no_network):
    rng = np.random.default_rng(0)
    emb = _unit(rng, 30, 16)
    ids = [f"f{i:02d}" for i in range(30)]
    store = VectorStore(tmp_path / "v", 16, "model@1")
    store.upsert(ids, emb, [{"issuer_kind": "audit", "year": 2023}] * 30)
    assert store.count() == 30
    hits = store.query(emb[7], k=3)
    assert hits[0][0] == "f07"
    assert hits[0][1] == pytest.approx(1.0, abs=1e-4)
    assert hits[1][1] <= hits[0][1]
    got = store.get_embeddings(["f03"])["f03"]
    assert np.allclose(got, emb[3], atol=1e-5)

    reopened = VectorStore(tmp_path / "v", 16, "model@1")
    assert reopened.count() == 30
    assert reopened.query(emb[12], k=1)[0][0] == "f12"


def test_no_embedding_function_is_attached(tmp_path):
    store = VectorStore(tmp_path / "v", 8, "m@1")
    assert store._col._embedding_function is None


def test_other_model_is_refused(tmp_path):
    VectorStore(tmp_path / "v", 8, "m@1")
    with pytest.raises(ValueError, match="rebuild"):
        VectorStore(tmp_path / "v", 8, "other@2")
    with pytest.raises(ValueError):
        VectorStore(tmp_path / "v", 12, "m@1")


def test_wrong_shape_is_refused(tmp_path):
    store = VectorStore(tmp_path / "v", 8, "m@1")
    with pytest.raises(ValueError):
        store.upsert(["a", "b"], np.zeros((2, 9), dtype=np.float32))


def test_filters_apply_before_ranking(tmp_path, no_network):
    rng = np.random.default_rng(1)
    emb = _unit(rng, 60, 16)
    kinds = ["audit", "inspection", "congress"]
    metas = [{"issuer_kind": kinds[i % 3], "year": 2021 + i % 4, "document": f"d{i % 5}.pdf"} for i in range(60)]
    ids = [f"f{i}" for i in range(60)]
    store = VectorStore(tmp_path / "v", 16, "m@1")
    store.upsert(ids, emb, metas)
    meta = dict(zip(ids, metas, strict=True))

    # the query vector equals an *inspection* finding, but we ask for audit only
    hits = store.query(emb[1], k=10, filters={"issuer_kind": "audit"})
    assert len(hits) == 10
    assert all(meta[i]["issuer_kind"] == "audit" for i, _ in hits)
    assert "f1" not in [i for i, _ in hits]

    hits = store.query(emb[0], k=50, filters={"issuer_kind": ["audit", "congress"], "year": {"$gte": 2023}})
    assert hits
    assert all(meta[i]["issuer_kind"] in ("audit", "congress") and meta[i]["year"] >= 2023 for i, _ in hits)
    expected = sum(1 for m in metas if m["issuer_kind"] in ("audit", "congress") and m["year"] >= 2023)
    assert len(hits) == expected

    hits = store.query(emb[0], k=60, filters={"document": {"$ne": "d0.pdf"}})
    assert all(meta[i]["document"] != "d0.pdf" for i, _ in hits)


def test_batches_below_chroma_limit_and_delete(tmp_path):
    rng = np.random.default_rng(2)
    store = VectorStore(tmp_path / "v", 8, "m@1")
    store._max_batch = 7  # force many batches
    calls = []
    real_upsert = store._col.upsert

    def spy(**kwargs):
        calls.append(len(kwargs["ids"]))
        return real_upsert(**kwargs)

    store._col.upsert = spy
    ids = [f"x{i}" for i in range(50)]
    store.upsert(ids, _unit(rng, 50, 8))
    assert max(calls) <= 7 and sum(calls) == 50
    assert store.count() == 50
    store.delete(ids[:20])
    assert store.count() == 30
    assert set(store.get_metadata()) == set(ids[20:])


def test_build_where():
    assert build_where(None) is None
    assert build_where({"year": None}) is None
    assert build_where({"issuer_kind": "audit"}) == {"issuer_kind": "audit"}
    assert build_where({"year": [2022, 2023]}) == {"year": {"$in": [2022, 2023]}}
    both = build_where({"issuer_kind": "audit", "year": 2023})
    assert both == {"$and": [{"issuer_kind": "audit"}, {"year": 2023}]}


def test_finding_metadata_skips_missing_values():
    f = Finding(id="a", document="a.pdf", text="t", issuer_kind="audit", year=None, unit="市财政局")
    meta = finding_metadata(f)
    assert "year" not in meta
    assert meta["issuer_kind"] == "audit" and meta["unit"] == "市财政局" and meta["document"] == "a.pdf"
    assert finding_metadata(Finding(id="b", document="b", text="t", year=2024))["year"] == 2024


@pytest.mark.slow
def test_hnsw_recall_against_exact_search(tmp_path):
    """Chosen HNSW settings keep recall@10 ≥ 0.98 against brute force, also with a filter."""
    rng = np.random.default_rng(3)
    n, dim = 20000, 64
    centres = _unit(rng, 200, dim)
    x = centres[rng.integers(0, 200, n)] + 0.35 * rng.standard_normal((n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    kinds = np.array(["audit", "inspection", "congress", "discipline", "finance", "statistics"])[rng.integers(0, 6, n)]
    ids = [f"f{i}" for i in range(n)]
    store = VectorStore(tmp_path / "v", dim, "m@1")
    store.upsert(ids, x, [{"issuer_kind": str(k)} for k in kinds])

    queries = _unit(rng, 50, dim) * 0.3 + centres[rng.integers(0, 200, 50)]
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    for flt in (None, {"issuer_kind": "finance"}):
        allowed = np.ones(n, bool) if flt is None else kinds == flt["issuer_kind"]
        recalls = []
        for q in queries:
            sims = np.where(allowed, x @ q, -np.inf)
            exact = {f"f{i}" for i in np.argsort(-sims)[:10]}
            got = {i for i, _ in store.query(q, k=10, filters=flt)}
            recalls.append(len(exact & got) / 10)
        assert np.mean(recalls) >= 0.98, (flt, np.mean(recalls))
