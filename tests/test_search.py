"""Keyword index, hybrid fusion, filters, similar-finding search and workspace round trips."""

from __future__ import annotations

import numpy as np
import pytest

from miner.embed import Embedder, get_embedder
from miner.records import Finding
from miner.search import HybridSearcher, KeywordIndex, build_index, load_searcher

ROWS = [
    # id, document, issuer_kind, year, text
    ("a1", "a.pdf", "audit", 2023, "暂付款长期挂账未清理，截至2022年末余额1260万元，部分款项账龄超过5年"),
    ("a2", "a.pdf", "audit", 2023, "将河道清淤项目拆分为5个合同，化整为零规避公开招标"),
    ("a3", "a.pdf", "audit", 2023, "以值班补助名义向机关人员违规发放津贴补贴12.80万元"),
    ("a4", "a.pdf", "audit", 2023, "水质检测设备长期闲置未使用，资产使用效益不高"),
    ("b1", "b.pdf", "inspection", 2022, "其他应收款余额过大，往来款项清理不及时"),
    ("b2", "b.pdf", "inspection", 2022, "副局长驾驶公务用车回老家探亲，公车私用"),
    ("b3", "b.pdf", "inspection", 2022, "“三重一大”事项未经党组会议集体研究决定"),
    ("b4", "b.pdf", "inspection", 2022, "选人用人不规范，干部档案审核把关不严"),
    ("c1", "c.pdf", "congress", 2024, "部分单位往来款长期挂账，存在资产流失风险"),
    ("c2", "c.pdf", "congress", 2024, "政府采购项目未按规定公开采购意向"),
    ("c3", "c.pdf", "congress", 2024, "部分项目预算执行进度缓慢，年底集中支出"),
    ("d1", "d.pdf", "discipline", 2024, "某所长违规组织公款旅游，费用在单位报销"),
    ("d2", "d.pdf", "discipline", 2024, "某局违规向下属单位人员发放购物卡等福利"),
    ("d3", "d.pdf", "discipline", 2024, "镇政府公务车辆被用于接送领导家属，公车私用问题突出"),
]


def _findings() -> dict[str, Finding]:
    return {
        fid: Finding(
            id=fid,
            document=doc,
            doc_id=doc.split(".")[0],
            text=text,
            issuer_kind=kind,
            year=year,
            issuer=f"{kind}-issuer",
            unit=f"unit-{doc[0]}",
            batch_id="b1" if year < 2024 else "b2",
        )
        for fid, doc, kind, year, text in ROWS
    }


@pytest.fixture(scope="module")
def findings() -> dict[str, Finding]:
    return _findings()


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return get_embedder(None)


@pytest.fixture(scope="module")
def searcher(tmp_path_factory, findings, embedder) -> HybridSearcher:
    return build_index(list(findings.values()), embedder, tmp_path_factory.mktemp("ws"))


def _ids(hits):
    return [fid for fid, _ in hits]


def test_keyword_index_exact_term_first(findings):
    ids = list(findings)
    kw = KeywordIndex.build(ids, [findings[i].text for i in ids])
    scores = kw.score("化整为零")
    assert ids[int(np.argmax(scores))] == "a2"
    assert scores.max() == pytest.approx(1.0)
    assert (scores >= 0).all() and scores.shape == (len(ids),)
    # single characters may match anything; coverage says how little of the query that is
    _, unrelated = kw.score_and_coverage("完全无关的天气预报")
    _, exact = kw.score_and_coverage("化整为零")
    assert unrelated.max() < 0.1 < 0.8 < exact[ids.index("a2")] <= 1.0


def test_keyword_index_character_unigrams_survive_a_reload(tmp_path, findings):
    ids = list(findings)
    kw = KeywordIndex.build(ids, [findings[i].text for i in ids], char_sizes=(1, 2))
    kw.save(tmp_path / "kw")
    loaded = KeywordIndex.load(tmp_path / "kw")
    assert loaded.char_sizes == (1, 2)
    # 配车 never occurs as a bigram; its characters still reach the car findings
    assert np.allclose(loaded.score("配车"), kw.score("配车"))
    assert ids[int(np.argmax(kw.score("配车")))] in {"b2", "d3"}


def test_keyword_synonym_expansion_reaches_other_wording(findings):
    ids = list(findings)
    kw = KeywordIndex.build(ids, [findings[i].text for i in ids])
    with_syn = kw.score("往来款挂账")
    without = kw.score("往来款挂账", expand=False)
    a1 = ids.index("a1")  # says 暂付款, not 往来款
    assert with_syn[a1] > without[a1]
    top3 = {ids[i] for i in np.argsort(-with_syn)[:3]}
    assert {"b1", "c1"} <= top3


def test_keyword_mask_filters_before_normalising(findings):
    ids = list(findings)
    kw = KeywordIndex.build(ids, [findings[i].text for i in ids])
    mask = np.array([findings[i].issuer_kind == "discipline" for i in ids])
    scores = kw.score("公车私用", mask=mask)
    assert not scores[~mask].any()
    assert scores.max() == pytest.approx(1.0)  # best *allowed* hit is the reference


def test_keyword_index_save_load(tmp_path, findings):
    ids = list(findings)
    kw = KeywordIndex.build(ids, [findings[i].text for i in ids])
    kw.save(tmp_path / "kw")
    loaded = KeywordIndex.load(tmp_path / "kw")
    assert loaded.ids == ids
    assert np.allclose(loaded.score("违规发放津贴补贴"), kw.score("违规发放津贴补贴"))


def test_hybrid_search_finds_paraphrases(searcher):
    hits = searcher.search("公车私用", k=3)
    assert set(_ids(hits)[:2]) == {"b2", "d3"}
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)
    top = _ids(searcher.search("往来款挂账", k=3))
    assert set(top) == {"a1", "b1", "c1"}


def test_fusion_uses_dense_scores(searcher):
    assert searcher.dense_share > 0
    keyword_only = HybridSearcher(None, None, searcher.keyword, searcher.findings)
    assert keyword_only.dense_share == 0
    # a query with no literal overlap: only the dense side can rank it
    assert not keyword_only.search("吃喝玩乐游山玩水", k=3)
    hybrid = searcher.scored("游山玩水", k=3)
    assert hybrid, "dense side should return candidates"
    # fused scores differ from keyword-only scores when both sides contribute
    kw_hits = dict(keyword_only.search("违规发放津贴补贴", k=5))
    hy_hits = dict(searcher.search("违规发放津贴补贴", k=5))
    assert next(iter(kw_hits)) == next(iter(hy_hits)) == "a3"
    shared = set(kw_hits) & set(hy_hits)
    assert any(hy_hits[i] != pytest.approx(kw_hits[i]) for i in shared)
    assert all(0.0 <= s <= 1.0 + 1e-6 for s in hy_hits.values())


def test_filters_apply_before_ranking(searcher, findings):
    hits = searcher.search("往来款挂账", k=5, filters={"issuer_kind": "congress"})
    assert hits and _ids(hits)[0] == "c1"
    assert all(findings[i].issuer_kind == "congress" for i in _ids(hits))
    hits = searcher.search("公车私用", k=10, filters={"year": [2024], "document": "d.pdf"})
    assert _ids(hits)[0] == "d3"
    assert all(findings[i].year == 2024 and findings[i].document == "d.pdf" for i in _ids(hits))
    hits = searcher.search("违规", k=10, filters={"year": {"$lt": 2024}, "batch_id": "b1"})
    assert hits and all(findings[i].year < 2024 for i in _ids(hits))
    assert searcher.search("往来款", k=5, filters={"issuer_kind": "statistics"}) == []
    with pytest.raises(ValueError):
        searcher.search("往来款", filters={"colour": "red"})


def test_similar_excludes_itself_and_own_document(searcher, findings):
    hits = searcher.similar("b2", k=5)
    ids = _ids(hits)
    assert "b2" not in ids
    assert all(findings[i].document != "b.pdf" for i in ids)
    assert ids[0] == "d3"  # the other 公车私用 finding
    same_doc_allowed = _ids(searcher.similar("a1", k=13, exclude_same_document=False))
    assert "a1" not in same_doc_allowed
    assert {"b1", "c1"} <= set(same_doc_allowed[:3])
    with pytest.raises(KeyError):
        searcher.similar("nope")


def test_workspace_round_trip_and_incremental_rebuild(tmp_path, findings, embedder):
    ws = tmp_path / "ws"
    first = build_index(list(findings.values()), embedder, ws)
    expected = first.search("采购信息未公开", k=5)
    loaded = load_searcher(ws, embedder, findings)
    again = loaded.search("采购信息未公开", k=5)
    assert _ids(again) == _ids(expected)
    assert [s for _, s in again] == pytest.approx([s for _, s in expected], abs=1e-5)
    assert loaded.vectors is None  # the exact matrix serves; chroma is not opened
    assert loaded.matrix.shape == (len(findings), embedder.dim)
    assert load_searcher(ws, embedder, findings, open_vectors=True).vectors.count() == len(findings)

    # drop one finding, change another: index follows without stale ids
    changed = dict(findings)
    del changed["d1"]
    changed["c2"] = Finding(**{**findings["c2"].to_dict(), "text": "公款旅游问题突出"})
    rebuilt = build_index(changed, embedder, ws)
    assert rebuilt.vectors.count() == len(changed)
    assert "d1" not in _ids(rebuilt.search("公款旅游", k=10))
    assert _ids(rebuilt.search("公款旅游", k=1)) == ["c2"]

    keyword_only = load_searcher(ws, None, changed)
    assert keyword_only.dense_share == 0
    assert _ids(keyword_only.search("公款旅游", k=1)) == ["c2"]


def test_load_refuses_other_model(tmp_path, findings, embedder):
    build_index(findings, embedder, tmp_path / "ws")

    class Other(Embedder):
        name, version, dim = "other", "1", embedder.dim

        def encode(self, texts):
            return embedder.encode(texts)

    with pytest.raises(ValueError, match="rebuild"):
        load_searcher(tmp_path / "ws", Other(), findings)
    with pytest.raises(FileNotFoundError):
        load_searcher(tmp_path / "empty", embedder, findings)


def test_chroma_path_agrees_with_exact_matrix_path(searcher):
    assert searcher.matrix is not None
    chroma_only = HybridSearcher(searcher.embedder, searcher.vectors, searcher.keyword, searcher.findings)
    assert chroma_only.matrix is None and chroma_only.dense_share == searcher.dense_share
    for query, flt in (
        ("公车私用", None),
        ("往来款挂账", {"issuer_kind": ["audit", "congress"]}),
        ("违规发放", {"year": 2024}),
    ):
        exact = searcher.search(query, k=5, filters=flt)
        ann = chroma_only.search(query, k=5, filters=flt)
        assert _ids(ann) == _ids(exact)
        assert [s for _, s in ann] == pytest.approx([s for _, s in exact], abs=1e-4)
    assert _ids(chroma_only.similar("b2", k=3)) == _ids(searcher.similar("b2", k=3))


def test_metadata_change_reaches_the_vector_store(tmp_path, findings, embedder):
    ws = tmp_path / "ws"
    build_index(findings, embedder, ws)
    moved = dict(findings)
    moved["b2"] = Finding(**{**findings["b2"].to_dict(), "issuer_kind": "finance"})
    rebuilt = build_index(moved, embedder, ws)
    assert rebuilt.vectors.get_metadata(["b2"])["b2"]["issuer_kind"] == "finance"
    chroma_only = HybridSearcher(embedder, rebuilt.vectors, rebuilt.keyword, moved)
    assert _ids(chroma_only.search("公车私用", k=3, filters={"issuer_kind": "finance"})) == ["b2"]


def test_filter_language_matches_plain_python(findings):
    from miner.search import FilterColumns

    rows = dict(findings)
    rows["x1"] = Finding(id="x1", document="x.pdf", text="无年份", issuer_kind="audit", year=None)
    ids = list(rows)
    cols = FilterColumns(ids, rows)
    cases = [
        ({"issuer_kind": "audit"}, lambda f: f.issuer_kind == "audit"),
        ({"issuer_kind": ["audit", "discipline"]}, lambda f: f.issuer_kind in ("audit", "discipline")),
        ({"document": {"$ne": "a.pdf"}}, lambda f: f.document != "a.pdf"),
        ({"document": {"$nin": ["a.pdf", "b.pdf"]}}, lambda f: f.document not in ("a.pdf", "b.pdf")),
        ({"year": 2024}, lambda f: f.year == 2024),
        ({"year": {"$gte": 2023, "$lt": 2024}}, lambda f: f.year is not None and 2023 <= f.year < 2024),
        ({"year": {"$ne": 2024}}, lambda f: f.year != 2024),
        ({"issuer_kind": "audit", "year": [2023]}, lambda f: f.issuer_kind == "audit" and f.year == 2023),
        ({"unit": "没有这个单位"}, lambda f: False),
    ]
    for flt, expect in cases:
        got = cols.mask(flt)
        assert [ids[i] for i in np.flatnonzero(got)] == [i for i in ids if expect(rows[i])], flt
    assert cols.mask(None) is None and cols.mask({}) is None
    with pytest.raises(ValueError):
        cols.mask({"issuer_kind": {"$gt": "a"}})


def test_relevance_floor_drops_unrelated_and_filtered_padding(searcher):
    assert searcher.floor > 0
    # nothing is about the weather: below the floor, so nothing comes back ...
    assert searcher.scored("完全无关的天气预报", k=5)
    assert searcher.search("完全无关的天气预报", k=5) == []
    # ... and a filter that leaves no car finding is not padded with the other audit findings
    audit = {"issuer_kind": "audit"}
    assert len(searcher.scored("公车私用", k=10, filters=audit)) == 4
    assert len(searcher.search("公车私用", k=10, filters=audit)) <= 1
    assert _ids(searcher.search("公车私用", k=10, filters={"issuer_kind": "discipline"}))[0] == "d3"
    for _, _, relevance in searcher.scored("公车私用", k=10):
        assert 0.0 <= relevance <= 1.0


def test_relevance_floor_is_configurable(monkeypatch, searcher):
    from miner.config import get_settings

    no_floor = HybridSearcher(
        searcher.embedder, None, searcher.keyword, searcher.findings, matrix=searcher.matrix, floor=0.0
    )
    assert len(no_floor.search("公车私用", k=4, filters={"issuer_kind": "audit"})) == 4
    monkeypatch.setenv("MINER_SEARCH_FLOOR", "1.01")  # above any relevance
    get_settings.cache_clear()
    try:
        strict = HybridSearcher(searcher.embedder, None, searcher.keyword, searcher.findings, matrix=searcher.matrix)
        assert strict.floor == 1.01
        assert strict.search("公车私用", k=10) == []
    finally:
        monkeypatch.delenv("MINER_SEARCH_FLOOR")
        get_settings.cache_clear()


def test_conceptual_query_reaches_findings_that_never_name_the_concept(searcher):
    # none of these findings says 八项规定; the concept vocabulary maps it to its problem types
    hits = _ids(searcher.search("违反中央八项规定精神", k=5))
    assert set(hits[:4]) <= {"a3", "b2", "d1", "d2", "d3"}
    assert len(hits) >= 4


def _synthetic(n: int) -> list[Finding]:
    """Findings of many documents, kinds, years, units and batches, with overlapping wording."""
    rng = np.random.default_rng(3)
    texts = [text for *_, text in ROWS]
    kinds = ["audit", "inspection", "congress", "discipline", "finance", "statistics"]
    out = []
    for i in range(n):
        d = i // 6
        parts = rng.choice(len(texts), size=2, replace=False)
        out.append(
            Finding(
                id=f"s{i:05d}",
                document=f"doc{d:04d}.pdf",
                doc_id=f"doc{d:04d}",
                text=f"{texts[parts[0]]}；{texts[parts[1]][: 8 + i % 11]}（第{i}项）",
                issuer_kind=kinds[(d * 7) % 6],
                year=2019 + (d * 5) % 6,
                issuer=f"issuer-{d % 13}",
                unit=f"unit-{d % 40}",
                batch_id=f"batch{d // 50}",
            )
        )
    return out


def test_fast_plan_ranks_like_the_exact_plan(tmp_path, monkeypatch, embedder):
    """Filtered layout, posting runs, row subsets and the ANN index give the exact plan's ranking."""
    import miner.search as search

    # make a small corpus take the large-corpus plan: ANN index, memory-mapped matrix
    monkeypatch.setattr(search, "EXACT_MAX_ROWS", 500)
    monkeypatch.setattr(search, "ANN_MIN_ROWS", 300)
    findings = {f.id: f for f in _synthetic(3000)}
    built = build_index(list(findings.values()), embedder, tmp_path / "ws")
    assert built.ann is not None and built.ann.n == len(findings)
    fast = load_searcher(tmp_path / "ws", embedder, findings)
    assert fast.ann is not None and isinstance(fast.matrix, np.memmap)
    exact = HybridSearcher(embedder, None, fast.keyword, findings, matrix=np.array(fast.matrix), exact=True)
    filters = [
        None,
        {"issuer_kind": "audit"},  # ~1/6 of the rows: one run, ANN with a bitmap
        {"issuer_kind": ["audit", "congress"], "year": {"$gte": 2021}},  # a few runs
        {"unit": "unit-7"},  # scattered rows: row subset
        {"batch_id": "batch3"},
        {"document": {"$ne": "doc0001.pdf"}},
        {"unit": "没有这个单位"},
    ]
    queries = ["公车私用", "往来款长期挂账", "违规发放津贴补贴", "规避公开招标", "资产闲置", "违反中央八项规定精神"]
    for flt in filters:
        for query in queries:
            got, want = fast.scored(query, k=10, filters=flt), exact.scored(query, k=10, filters=flt)
            assert [h[0] for h in got] == [h[0] for h in want], (query, flt)
            assert np.allclose([h[1:] for h in got], [h[1:] for h in want], atol=1e-5) or not got
    for fid in ("s00010", "s01234", "s02999"):
        assert _ids(fast.similar(fid, k=10)) == _ids(exact.similar(fid, k=10))
    # the rows are laid out by issuer kind and year: a kind is one run of rows
    kinds = [findings[i].issuer_kind for i in fast.keyword.ids]
    assert kinds == sorted(kinds)


def test_ann_index_honours_the_filter_bitmap(tmp_path):
    from miner.vectors import AnnIndex

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2000, 32)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ann = AnnIndex.build(x, nlist=16)
    ann.nprobe = 16  # every list: exhaustive over the 8-bit codes
    mask = np.zeros(len(x), dtype=bool)
    mask[::7] = True
    rows = ann.search(x[21], 20, mask)
    assert len(rows) == 20 and mask[rows].all() and 21 in rows
    exact = np.flatnonzero(mask)[np.argsort(-(x[mask] @ x[21]))[:10]]
    assert set(exact) <= set(rows)
    ann.save(tmp_path / "ann.faiss")
    again = AnnIndex.load(tmp_path / "ann.faiss")
    assert again.n == 2000 and list(again.search(x[21], 20, mask)) == list(rows)


def test_large_workspace_ann_index_is_repaired_from_the_catalogue(tmp_path, monkeypatch):
    """The ANN index is derived: when it is missing, the index check says so and repair rebuilds it."""
    from pathlib import Path

    import miner.search as search
    from miner import indexing
    from miner.pipeline import Workspace
    from miner.pipeline import ingest as run_ingest

    monkeypatch.setattr(search, "EXACT_MAX_ROWS", 5)  # the samples count as a large workspace
    samples = Path(__file__).resolve().parents[1] / "corpora" / "samples"
    ws = Workspace(tmp_path / "ws")
    try:
        run_ingest(ws, [samples], workers=1)
        ann = ws.root / "index" / search.ANN
        assert ann.exists() and indexing.check(ws) is None
        expected = indexing.open_searcher(ws).search("往来款长期挂账", k=5)
        assert expected
        ann.unlink()
        assert "missing" in (indexing.check(ws) or "")
        assert indexing.repair(ws, report=None)
        assert ann.exists() and indexing.check(ws) is None
        ws._searcher = None
        searcher = indexing.open_searcher(ws)
        assert searcher.ann is not None
        assert _ids(searcher.search("往来款长期挂账", k=5)) == _ids(expected)
    finally:
        ws.close()
