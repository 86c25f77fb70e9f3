"""Names read like a 共性问题清单; problem clauses and types; doubtful clusters cannot lead."""

from __future__ import annotations

import pytest

from miner.naming import clean_clause, cut_at_words, is_fragment, is_recommendation, name_cluster, shared_type
from miner.problem_types import TypeMatcher, default_matcher, load_types, problem_clause
from miner.ranking import confidence_of, rank_clusters, systemic_score
from miner.records import Finding
from miner.segment import get_tokenizer

ARREARS = [
    "暂付款长期挂账未清理。截至2022年底，局本级暂付款余额1280万元，账龄超过3年。",
    "往来款项长期挂账，其他应收款中有560万元挂账5年以上未清理。",
    "暂付款余额较大且长期挂账未及时清理，涉及金额3200万元。",
]
CARS = [
    "公务用车管理不严格，存在公车私用问题，车辆使用登记不完整。",
    "副镇长驾驶公务用车回老家探亲，公车私用问题突出。",
]
# a problem the vocabulary is not asked about (an empty one is passed): the name must
# come from the members' own wording, with figures removed without leaving fragments
SECONDMENT = [
    "2023年度借调人员借用时间超过3个月，未按规定办理借调审批手续。",
    "有5名干部借用时间超过6个月的，未按规定办理借调审批手续。",
    "借调干部未按规定办理借调审批手续，最长的超过2年。",
]


@pytest.mark.parametrize(
    "name", ["超过月的借款", "度审计工作报告指出的问题", "借用时间超过", "的问题整改不到位", "万元未收回", "挂账3年"]
)
def test_fragments_are_recognised(name: str) -> None:
    assert is_fragment(name)


@pytest.mark.parametrize("name", ["往来款长期挂账未清理", "公车私用", "未按规定办理借调审批手续", "规避公开招标"])
def test_complete_phrases_are_not_fragments(name: str) -> None:
    assert not is_fragment(name)


def test_recommendations_are_recognised() -> None:
    assert is_recommendation("推动闲置资产调剂共享")
    assert is_recommendation("进一步加强往来款清理")
    assert not is_recommendation("资产长期闲置未调剂使用")


def test_figures_go_with_their_comparison() -> None:
    cleaned = clean_clause("借用时间超过3个月的人员未办理手续")
    assert "超过" not in cleaned and "月" not in cleaned
    assert not is_fragment(clean_clause("2023年度审计工作报告指出的问题整改不到位"))
    assert clean_clause("到11月底仍有近四成项目资金未支出") == "项目资金未支出"
    assert clean_clause("3个县（区）未按期报送整改情况") == "未按期报送整改情况"


def test_cut_never_splits_a_word() -> None:
    text = "审计工作报告指出的往来款长期挂账问题整改不到位"
    words = get_tokenizer().lcut(text, HMM=False)
    boundaries = {sum(len(w) for w in words[:i]) for i in range(len(words) + 1)}
    for limit in range(4, len(text)):
        cut = cut_at_words(text, limit)
        assert len(cut) <= limit and text.startswith(cut) and len(cut) in boundaries


def test_names_from_the_shared_problem_type() -> None:
    assert name_cluster(ARREARS).headline == "往来款长期挂账未清理"
    named = name_cluster(CARS)
    assert named.headline == "公车私用" and named.problem_type == "公车私用"


def test_names_from_member_wording_are_complete_phrases() -> None:
    named = name_cluster(SECONDMENT, matcher=TypeMatcher(types=()))
    assert not is_fragment(named.headline), named.headline
    assert "借调" in named.headline and "手续" in named.headline
    assert named.problem_type == ""


def test_a_recommendation_is_never_the_name() -> None:
    texts = [
        "推动闲置资产调剂共享，提高资产使用效率。",
        "部分单位办公设备长期闲置，未调剂使用。",
        "推动闲置资产调剂共享，建立资产共享平台。",
    ]
    named = name_cluster(texts, matcher=TypeMatcher(types=()))
    assert not is_recommendation(named.headline) and not is_fragment(named.headline)
    assert "推动" not in named.headline


def test_problem_clause_keeps_the_deficiency_and_drops_the_case() -> None:
    assert problem_clause("债务风险防控意识不强。集团合并口径资产负债率由2020年末的64.2%攀升至78.6%。") == (
        "债务风险防控意识不强"
    )
    clause = problem_clause("2021年以来，集团对外担保等11项重大事项未经党委前置研究，直接提交董事会决策。")
    assert "未经党委前置研究" in clause and "2021" not in clause and "11" not in clause


def test_vocabulary_is_broad_and_matches_paraphrases() -> None:
    types = load_types()
    assert len(types) >= 80
    assert len({t.category for t in types}) >= 15
    m = default_matcher()
    rows = m.match(["公务用车节假日私事使用", "将工程拆分为多个合同，规避公开招标", "天气晴朗"])
    assert "公车私用" in m.names(rows[0])
    assert "规避招标化整为零" in m.names(rows[1])
    assert m.names(rows[2]) == []
    assert shared_type(ARREARS)[0] == "往来款长期挂账未清理"
    assert shared_type(["天气晴朗", "会议顺利召开"]) == ("", 0.0)


def _f(i: int, kind: str, confidence: float | None = None) -> Finding:
    f = Finding(id=f"f{i}", document=f"d{i}.pdf", text="", issuer_kind=kind, issuer=kind, unit=f"u{i}", year=2023)
    if confidence is not None:
        f.confidence = confidence  # type: ignore[attr-defined]  # set by the findings stage
    return f


def test_doubtful_clusters_cannot_lead() -> None:
    sure = [_f(1, "audit"), _f(2, "audit", 0.95)]
    doubtful = [_f(10 + i, k, 0.35) for i, k in enumerate(["audit", "inspection", "congress", "finance"] * 2)]
    assert rank_clusters({"doubt": doubtful, "sure": sure}) == ["sure", "doubt"]
    # without confidence the broad cluster leads, as before
    broad = [_f(10 + i, k) for i, k in enumerate(["audit", "inspection", "congress", "finance"] * 2)]
    assert rank_clusters({"broad": broad, "sure": sure}) == ["broad", "sure"]
    assert systemic_score(doubtful) < systemic_score(broad)


def test_confidence_defaults_and_bounds() -> None:
    assert confidence_of(_f(1, "audit")) == 1.0
    assert confidence_of({"confidence": 0.2}) == 0.2
    assert confidence_of({}) == 1.0
    assert confidence_of({"confidence": None}) == 1.0
    assert confidence_of({"confidence": 7}) == 1.0 and confidence_of({"confidence": -1}) == 0.0
