"""Embedders: the shipped static model for real, sentence-transformers from a local tiny BERT."""

from __future__ import annotations

import numpy as np
import pytest

from miner.embed import (
    DEFAULT_MODEL,
    CachedEmbedder,
    Embedder,
    SentenceTransformerEmbedder,
    StaticEmbedder,
    get_embedder,
)


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b)


@pytest.fixture(scope="module")
def default() -> Embedder:
    return get_embedder(None)


def test_default_is_shipped_static_model(default):
    assert isinstance(default, StaticEmbedder)
    assert get_embedder("default") is default
    assert default.dim == 256
    assert default.name and default.version
    assert (DEFAULT_MODEL / "vectors.npz").stat().st_size < 30_000_000


def test_default_vectors_are_normalised_float32(default):
    vecs = default.encode(["往来款长期挂账未清理", "公车私用", ""])
    assert vecs.dtype == np.float32 and vecs.shape == (3, default.dim)
    assert np.allclose(np.linalg.norm(vecs[:2], axis=1), 1.0, atol=1e-5)
    assert not vecs[2].any()  # nothing to embed: zero vector, not NaN
    assert default.encode([]).shape == (0, default.dim)


def test_default_is_semantic(default):
    a, b, c = default.encode(
        [
            "暂付款长期挂账未清理，部分款项账龄超过5年",
            "其他应收款余额过大，往来款项清理不及时",
            "干部选拔任用程序不规范，档案审核把关不严",
        ]
    )
    assert _cos(a, b) > _cos(a, c) + 0.1
    car, private, meal = default.encode(["公务用车管理不规范", "公车私用问题", "公款吃喝问题"])
    assert _cos(car, private) > _cos(car, meal)


def test_default_handles_traditional_and_unknown_words(default):
    simp, trad = default.encode(["公车私用问题", "公車私用問題"])
    assert _cos(simp, trad) > 0.99
    odd = default.encode(["魑魅魍魉"])[0]  # rare characters fall back to characters or zero
    assert np.isfinite(odd).all()


def test_expanded_query_moves_towards_synonyms(default):
    plain = default.encode_query(["往来款"])[0]
    expanded = default.encode_expanded_query("往来款", [("往来款", 1.0), ("其他应收款", 0.4)])
    target = default.encode(["其他应收款余额过大"])[0]
    assert _cos(expanded, target) > _cos(plain, target)
    assert np.linalg.norm(expanded) == pytest.approx(1.0, abs=1e-5)


def test_default_is_fast_enough(default):
    import time

    texts = [f"第{i}家单位暂收暂付款长期挂账未清理，涉及金额{i}万元，部分款项说不清来源" for i in range(600)]
    start = time.perf_counter()
    default.encode(texts)
    assert len(texts) / (time.perf_counter() - start) > 300


def test_cache_returns_same_vectors_and_skips_model(tmp_path, default):
    calls: list[int] = []

    class Counting(Embedder):
        name, version, dim = default.name, default.version, default.dim

        def encode(self, texts):
            calls.append(len(texts))
            return default.encode(texts)

    cached = CachedEmbedder(Counting(), tmp_path / "cache.sqlite")
    texts = ["违规发放津贴补贴", "资产闲置", "违规发放津贴补贴"]
    first = cached.encode(texts)
    assert calls == [2]  # duplicates embedded once
    assert np.allclose(first, default.encode(texts))
    again = CachedEmbedder(Counting(), tmp_path / "cache.sqlite").encode(texts[::-1])
    assert calls == [2]  # all from the cache, across instances
    assert np.allclose(again, first[::-1])
    cached.encode(["新的文本"])
    assert calls == [2, 1]


def test_cache_key_depends_on_model_version(tmp_path, default):
    class Fake(Embedder):
        name, dim = "fake", 4

        def __init__(self, version: str, value: float):
            self.version, self.value = version, value

        def encode(self, texts):
            return np.full((len(texts), 4), self.value, dtype=np.float32)

    path = tmp_path / "c.sqlite"
    assert CachedEmbedder(Fake("1", 0.5), path).encode(["x"])[0, 0] == 0.5
    assert CachedEmbedder(Fake("2", 0.25), path).encode(["x"])[0, 0] == 0.25


def test_unknown_embedder_name_raises(tmp_path):
    with pytest.raises(ValueError):
        get_embedder(str(tmp_path / "missing"))


@pytest.fixture(scope="module")
def tiny_st_model(tmp_path_factory):
    """A 2-layer BERT with a character vocabulary, built locally: no download."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    root = tmp_path_factory.mktemp("tiny")
    bert_dir = root / "bert"
    bert_dir.mkdir()
    chars = sorted(set("往来款长期挂账未清理公车私用违规发放津贴补贴资产闲置审计巡察问题单位部门"))
    (bert_dir / "vocab.txt").write_text(
        "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars]) + "\n", encoding="utf-8"
    )
    tokenizer = BertTokenizerFast(vocab_file=str(bert_dir / "vocab.txt"))
    tokenizer.save_pretrained(str(bert_dir))
    config = BertConfig(
        vocab_size=5 + len(chars),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(str(bert_dir))
    word = Transformer(str(bert_dir), max_seq_length=48)
    pooling = Pooling(word.get_embedding_dimension(), pooling_mode="mean")
    st_dir = root / "st"
    SentenceTransformer(modules=[word, pooling], device="cpu").save(str(st_dir))
    return st_dir


@pytest.mark.slow
def test_sentence_transformer_backend(tiny_st_model):
    emb = get_embedder(str(tiny_st_model))
    assert isinstance(emb, SentenceTransformerEmbedder)
    assert emb.dim == 32 and emb.name == "st" and len(emb.version) == 12
    vecs = emb.encode(["往来款长期挂账", "公车私用", "往来款长期挂账"])
    assert vecs.shape == (3, 32) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vecs[0], vecs[2], atol=1e-5)
    assert not np.allclose(vecs[0], vecs[1])
    assert emb.encode([]).shape == (0, 32)
    q = emb.encode_expanded_query("公车私用", [("公车私用", 1.0)])
    assert np.allclose(q, vecs[1], atol=1e-5)


@pytest.mark.slow
def test_sentence_transformer_refuses_hub_names():
    with pytest.raises(FileNotFoundError):
        SentenceTransformerEmbedder("BAAI/bge-base-zh-v1.5")
