"""Behaviour of the cluster stage on small hand-written findings.

Embeddings are injected; the tests build them from character bigrams so they run without
any model and so that the lexical path carries the decision, as it does in production.
"""

from __future__ import annotations

import numpy as np
import pytest

from miner.cluster import Clusterer, ClusterMembers
from miner.naming import cluster_keywords, name_cluster
from miner.ranking import describe_span, rank_clusters, systemic_score
from miner.records import Finding

# three recurring problems, each worded differently by different reports, plus loners
ARREARS = [
    "暂付款长期挂账未清理。截至2022年底，局本级暂付款余额1280万元，账龄超过3年。",
    "往来款项长期挂账，其他应收款中有560万元挂账5年以上未清理。",
    "暂付款余额较大且长期挂账未及时清理，涉及金额3200万元。",
    "部分单位暂付款长期挂账，清理不及时，形成潜在损失风险。",
]
PROCUREMENT = [
    "化整为零规避公开招标，将同一工程拆分为4个合同直接委托施工。",
    "部分学校采购教学设备化整为零，规避政府采购和公开招标。",
    "有的单位将同一采购项目拆分为多个小项目，规避公开招标。",
]
CARS = [
    "公务用车管理不严格，存在公车私用问题，车辆使用登记不完整。",
    "公务用车使用登记不完整，出车事由记录缺失，存在公车私用现象。",
    "副镇长驾驶公务用车回老家探亲，公车私用问题突出。",
]
LONERS = [
    "文物安全巡查制度落实不到位，5处文物保护单位未落实专职看护人员。",
    "村级后备干部储备不足，35岁以下后备力量仅占12%。",
]


def _embed(texts: list[str]) -> np.ndarray:
    """Deterministic stand-in embedder: hashed character bigrams, L2-normalised."""
    out = np.zeros((len(texts), 64), dtype=np.float32)
    for i, t in enumerate(texts):
        for a, b in zip(t, t[1:]):
            out[i, (ord(a) * 31 + ord(b)) % 64] += 1.0
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def _corpus() -> tuple[list[str], list[str], list[str]]:
    texts, truth, docs = [], [], []
    for name, group in (("arrears", ARREARS), ("procurement", PROCUREMENT), ("cars", CARS)):
        for i, t in enumerate(group):
            texts.append(t)
            truth.append(name)
            docs.append(f"{name}-doc{i}")  # one report each: a problem recurs across reports
    for i, t in enumerate(LONERS):
        texts.append(t)
        truth.append(f"loner{i}")
        docs.append(f"loner-doc{i}")
    return texts, truth, docs


def test_fit_recovers_known_problems_and_leaves_loners_out() -> None:
    texts, truth, docs = _corpus()
    labels = Clusterer().fit(texts, _embed(texts), groups=docs)
    by_truth: dict[str, set[int]] = {}
    for lab, t in zip(labels, truth):
        by_truth.setdefault(t, set()).add(lab)
    for name in ("arrears", "procurement", "cars"):
        assert len(by_truth[name]) == 1, f"{name} was split: {by_truth[name]}"
        assert -1 not in by_truth[name]
    assert len({next(iter(by_truth[n])) for n in ("arrears", "procurement", "cars")}) == 3
    assert by_truth["loner0"] == {-1} and by_truth["loner1"] == {-1}


def test_labels_are_deterministic_and_order_independent_in_grouping() -> None:
    texts, _, docs = _corpus()
    emb = _embed(texts)
    first = Clusterer().fit(texts, emb, groups=docs)
    assert Clusterer().fit(texts, emb, groups=docs) == first
    # reversed input: the same partition comes back (labels may be renumbered)
    rev = Clusterer().fit(texts[::-1], emb[::-1], groups=docs[::-1])[::-1]
    pairs = {(a, b) for a, b in zip(first, rev)}
    assert len(pairs) == len(set(first)), "reversing the input changed the grouping"


def test_unrelated_findings_stay_unclustered() -> None:
    texts = LONERS + ["债务风险防控压力较大，融资成本超过7%的债务占比达31%。"]
    labels = Clusterer().fit(texts, _embed(texts))
    assert labels == [-1, -1, -1]


def test_higher_threshold_never_merges_more() -> None:
    texts, _, docs = _corpus()
    emb = _embed(texts)
    loose = Clusterer(threshold=0.08).fit(texts, emb, groups=docs)
    strict = Clusterer(threshold=0.5).fit(texts, emb, groups=docs)
    assert sum(lab >= 0 for lab in strict) <= sum(lab >= 0 for lab in loose)
    assert all(lab == -1 for lab in Clusterer(threshold=0.99).fit(texts, emb, groups=docs))


def test_same_document_pairs_are_damped() -> None:
    a = "暂付款长期挂账未清理，账龄超过3年。"
    b = "暂付款余额较大且长期挂账未及时清理。"
    texts = [a, b]
    emb = _embed(texts)
    apart = Clusterer(threshold=0.3, dense_weight=0.0).fit(texts, emb, groups=["d1", "d2"])
    together = Clusterer(threshold=0.3, dense_weight=0.0, same_group_factor=0.1).fit(texts, emb, groups=["d1", "d1"])
    assert apart[0] == apart[1] != -1
    assert together == [-1, -1]


def test_assign_joins_existing_and_forms_new_clusters_without_touching_old() -> None:
    clusterer = Clusterer()
    existing = {
        7: ClusterMembers(ARREARS[:3], _embed(ARREARS[:3]), ["a0", "a1", "a2"]),
        9: ClusterMembers(PROCUREMENT[:2], _embed(PROCUREMENT[:2]), ["p0", "p1"]),
    }
    new = [ARREARS[3], CARS[0], CARS[1], LONERS[0]]
    labels = clusterer.assign(new, _embed(new), existing, new_groups=["n0", "n1", "n2", "n3"])
    assert labels[0] == 7  # joins the arrears cluster
    assert labels[1] == labels[2] and labels[1] not in (-1, 7, 9)  # a new cluster, fresh id
    assert labels[1] > 9
    assert labels[3] == -1
    # the existing clusters were only read
    assert existing[7].texts == ARREARS[:3] and existing[9].texts == PROCUREMENT[:2]


def test_assign_can_pair_new_findings_with_earlier_unclustered_ones() -> None:
    existing = {0: ClusterMembers(ARREARS[:2], _embed(ARREARS[:2]))}
    loose = ClusterMembers([CARS[0]], _embed([CARS[0]]), ["old"])
    labels = Clusterer().assign([CARS[1]], _embed([CARS[1]]), existing, new_groups=["new"], unclustered=loose)
    assert len(labels) == 2
    assert labels[0] == labels[1] > 0


def test_assign_matches_fit_when_nothing_exists() -> None:
    texts, _, docs = _corpus()
    emb = _embed(texts)
    assert Clusterer().assign(texts, emb, {}, new_groups=docs) == Clusterer().fit(texts, emb, groups=docs)


def test_knn_path_agrees_with_exact_path() -> None:
    texts, _, docs = _corpus()
    texts, docs = texts * 3, [f"{d}-{k}" for k in range(3) for d in docs]
    emb = _embed(texts)
    exact = Clusterer().fit(texts, emb, groups=docs)
    approx = Clusterer(exact_max=5, component_max=4, knn=8).fit(texts, emb, groups=docs)
    pairs = {(a, b) for a, b in zip(exact, approx)}
    assert len(pairs) == len(set(exact))


def test_name_cluster_gives_short_clean_headline() -> None:
    texts, truth, docs = _corpus()
    labels = [{"arrears": 0, "procurement": 1, "cars": 2}.get(t, -1) for t in truth]
    from miner.segment import tokenize

    kw = cluster_keywords([tokenize(t) for t in texts], labels)
    words = [w for w, _ in kw[0]]
    assert any("暂付款" in w or "挂账" in w for w in words[:3])
    name = name_cluster(ARREARS, _embed(ARREARS), words)
    assert 4 <= len(name.headline) <= 20
    assert "挂账" in name.headline
    assert not any(ch.isdigit() for ch in name.headline)
    assert "万元" not in name.headline
    assert 0 <= name.representative < len(ARREARS)
    car_name = name_cluster(CARS, _embed(CARS), [w for w, _ in kw[2]])
    assert "公" in car_name.headline and "车" in car_name.headline


def _f(i: int, kind: str, issuer: str, unit: str, year: int) -> Finding:
    return Finding(id=f"f{i}", document=f"d{i}.pdf", text="", issuer_kind=kind, issuer=issuer, unit=unit, year=year)


def test_systemic_ranking_puts_cross_body_problems_first() -> None:
    broad = [
        _f(1, "audit", "市审计局", "市教育局", 2022),
        _f(2, "inspection", "市委第一巡察组", "市卫健委", 2023),
        _f(3, "congress", "市人大常委会", "市政府", 2024),
    ]
    # more findings and units, but all from one kind of body
    narrow = [_f(10 + i, "audit", "市审计局", f"单位{i}", 2023) for i in range(8)]
    mid = [_f(30, "audit", "市审计局", "甲", 2023), _f(31, "finance", "市财政局", "乙", 2023)]
    assert systemic_score(broad) > systemic_score(mid) > systemic_score(narrow)
    assert rank_clusters({"n": narrow, "b": broad, "m": mid}) == ["b", "m", "n"]
    assert systemic_score([]) == 0.0
    # more breadth within the same kinds counts
    assert systemic_score(narrow) > systemic_score(narrow[:2])


def test_describe_span() -> None:
    fs = [
        _f(1, "audit", "市审计局", "市教育局", 2022),
        _f(2, "audit", "县审计局", "县教育局", 2024),
        _f(3, "inspection", "市委第一巡察组", "市卫健委", 2023),
        _f(4, "congress", "市人大常委会", "市卫健委", 2023),
    ]
    assert describe_span(fs) == "审计、巡察、人大 · 3 个单位 · 2022–2024 · 4 条"
    one = [_f(5, "inspection", "巡察组", "", 2023)]
    assert describe_span(one) == "巡察 · 1 份报告 · 2023 · 1 条"


@pytest.mark.parametrize("texts", [[], ["只有一条"]])
def test_tiny_inputs(texts: list[str]) -> None:
    assert Clusterer().fit(texts, _embed(texts) if texts else np.zeros((0, 64))) == [-1] * len(texts)
