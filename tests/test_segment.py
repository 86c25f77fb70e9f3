"""Domain tokenisation, stopwords, synonym expansion and character n-grams."""

from __future__ import annotations

import jieba

from miner.segment import (
    SYNONYM_WEIGHT,
    char_ngrams,
    concept_words,
    concepts,
    expand_query,
    get_tokenizer,
    normalize,
    stopwords,
    synonym_groups,
    tokenize,
    tokenize_for_search,
)


def test_domain_terms_stay_whole():
    toks = tokenize("部分单位暂收暂付款长期挂账，存在未批先建和化整为零规避招标问题")
    for term in ("暂收暂付款", "未批先建", "化整为零", "规避招标"):
        assert term in toks, (term, toks)


def test_three_key_terms_and_quotes():
    toks = tokenize("“三重一大”决策制度执行不到位，落实“第一议题”制度不严格")
    assert "三重一大" in toks
    assert "第一议题" in toks


def test_stopwords_numbers_and_punctuation_dropped():
    toks = tokenize("截至2022年底，其中有3个单位的往来款共计186.50万元。")
    assert "往来款" in toks
    for junk in ("2022", "186.50", "，", "。", "的", "截至", "万元"):
        assert junk not in toks
    assert "的" in stopwords()


def test_search_mode_adds_inner_words():
    toks = tokenize_for_search("暂收暂付款")
    assert "暂收暂付款" in toks
    assert len(toks) > 1  # the parts are indexed too, so partial queries match


def test_traditional_and_fullwidth_are_normalised():
    assert normalize("公車私用問題") == "公车私用问题"
    assert normalize("ＡＢＣ１２３") == "abc123"
    assert "公车私用" in tokenize("公車私用")


def test_private_tokenizer_leaves_global_jieba_alone():
    tok = get_tokenizer()
    assert tok is not jieba.dt
    assert tok is get_tokenizer()  # built once
    assert "暂收暂付款" in tok.FREQ


def test_expand_query_adds_synonyms_at_lower_weight():
    expanded = dict(expand_query(["往来款", "挂账"]))
    assert expanded["往来款"] == 1.0
    assert expanded["挂账"] == 1.0
    assert expanded["其他应收款"] == SYNONYM_WEIGHT
    assert expanded["暂收暂付款"] == SYNONYM_WEIGHT
    # unrelated words are not dragged in
    assert "公务用车" not in expanded


def test_expand_query_keeps_typed_weight_and_unknown_words():
    expanded = expand_query(["公车私用", "公务用车", "某某词"])
    weights = dict(expanded)
    assert weights["公务用车"] == 1.0  # typed, so not lowered by being someone's synonym
    assert weights["某某词"] == 1.0
    assert [t for t, _ in expanded][:3] == ["公车私用", "公务用车", "某某词"]
    assert len(expanded) == len(weights)  # no duplicates


def test_synonym_groups_are_well_formed():
    groups = synonym_groups()
    assert len(groups) >= 40
    assert all(len(g) >= 2 for g in groups)
    assert any("往来款" in g and "其他应收款" in g for g in groups)


def test_char_ngrams():
    assert char_ngrams("公车私用", 2) == ["公车", "车私", "私用"]
    # runs are split at punctuation/digits; a lone character is kept
    assert char_ngrams("资产闲置，2023年", 2) == ["资产", "产闲", "闲置", "年"]
    assert char_ngrams("公車", 2) == ["公车"]


def test_concept_vocabulary_is_loaded_and_broad():
    table = concepts()
    assert len(table) >= 60
    names = {n for keys, _ in table for n in keys}
    assert {"营商环境", "中央八项规定", "形式主义", "基层减负", "民生资金", "工程建设", "资产管理"} <= names


def test_concept_words_expand_broad_queries_only():
    assert {"涉企收费", "保证金", "拖欠"} <= set(concept_words("营商环境"))
    assert {"礼品礼金", "公款旅游", "津补贴"} <= set(concept_words("违反中央八项规定精神"))
    assert concept_words("營商環境") == concept_words("营商环境")  # a query typed in Traditional
    assert concept_words("营商环境方面存在的问题") == concept_words("营商环境")  # stopwords do not dilute
    # a specific query that merely mentions a broad word is not widened
    assert concept_words("资产出租出借未报批") == []
    assert concept_words("资产出租出借未报批", coverage=0.2)  # the coverage threshold decides


def test_expand_query_weights_typed_words_above_concept_words():
    weights = dict(expand_query(["营商", "环境"], query="营商环境"))
    assert weights["营商"] == weights["环境"] == 1.0
    assert 0 < weights["拖欠"] < 1.0 and 0 < weights["保证金"] < 1.0
    assert "拖欠" not in dict(expand_query(["营商", "环境"]))  # no query text, no concepts
