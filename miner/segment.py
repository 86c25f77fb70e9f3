"""Chinese tokenisation tuned for supervision reports (审计/巡察/人大/纪委).

Generic jieba splits domain terms such as 暂收暂付款 or 未批先建 into pieces that match
unrelated text, so we load a domain user dictionary into a *private* jieba tokenizer (the
global one may be configured differently by other code). A curated synonym lexicon expands
analyst queries, because analysts and reports name the same problem differently
(往来款 vs 其他应收款, 公车私用 vs 公务用车).
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from functools import lru_cache
from pathlib import Path

import jieba

CORPORA = Path(__file__).resolve().parent.parent / "corpora"
USERDICT = CORPORA / "userdict.txt"
STOPWORDS = CORPORA / "stopwords.txt"
SYNONYMS = CORPORA / "synonyms.txt"
CONCEPTS = CORPORA / "concepts.tsv"

#: weight of a synonym added by query expansion, relative to a word the analyst typed
SYNONYM_WEIGHT = 0.5
#: weight of a query word that search-mode jieba also found inside a longer query word
SUBWORD_WEIGHT = 0.5
#: weight of a problem word added because the query names a concept (营商环境 → 涉企收费 ...)
CONCEPT_WEIGHT = 0.7
#: a concept expands a query only when its name covers at least this share of the query's
#: characters: 资产管理漏洞 is about asset management as a whole, 资产出租未报批 is not
CONCEPT_COVERAGE = 0.6

_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None

# a token is kept only if it has a CJK character or a letter; bare numbers, dates and
# amounts ("2022", "31.50") say nothing about the kind of problem
_CONTENT = re.compile(r"[\u3400-\u9fff\uf900-\ufaffA-Za-z]")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")


def _read_lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


@lru_cache(maxsize=1)
def _t2s():
    """OpenCC Traditional→Simplified converter, or None if OpenCC is missing."""
    try:
        import opencc
    except ImportError:  # pragma: no cover - OpenCC is a declared dependency
        return None
    return opencc.OpenCC("t2s")


def normalize(text: str) -> str:
    """NFKC (full-width → half-width), Traditional → Simplified, lower-case.

    Ingest already converts documents, but analysts may type queries in 繁體.
    """
    text = unicodedata.normalize("NFKC", text)
    conv = _t2s()
    if conv is not None and _CJK.search(text):
        text = conv.convert(text)
    return text.lower()


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """Function words and report boilerplate that never identify a kind of problem."""
    return frozenset(_read_lines(STOPWORDS))


@lru_cache(maxsize=1)
def synonym_groups() -> tuple[tuple[str, ...], ...]:
    """The curated synonym groups, one tuple per line of corpora/synonyms.txt."""
    return tuple(tuple(dict.fromkeys(ln.split())) for ln in _read_lines(SYNONYMS))


@lru_cache(maxsize=1)
def concepts() -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    """(names, problem words) per line of corpora/concepts.tsv, names normalised."""
    out = []
    for line in _read_lines(CONCEPTS):
        names, _, problems = line.partition("\t")
        keys = tuple(dict.fromkeys(normalize(n.strip()) for n in names.split("|") if n.strip()))
        words = tuple(dict.fromkeys(problems.split()))
        if keys and words:
            out.append((keys, words))
    return tuple(out)


def concept_words(query: str, coverage: float | None = None) -> list[str]:
    """Problem words of the concepts a query names (longest matching name per concept).

    A concept counts when one of its names occurs in the query and covers at least
    ``coverage`` of the query's Chinese characters (stopwords such as 问题, 方面 not counted),
    so a broad query (营商环境, 民生资金安全) is expanded and a specific one that merely
    mentions a broad word (资产出租出借未报批) is not. (Counting names of several concepts
    together, so that 形式主义 基层负担 expands both, lost 0.01 nDCG on dev and dev2.)
    """
    coverage = CONCEPT_COVERAGE if coverage is None else coverage
    text = normalize(query)
    # the query's size leaves out stopwords: 营商环境方面的问题 is as broad as 营商环境
    size = sum(len(run) for tok in tokenize(text) for run in _CJK_RUN.findall(tok)) or len(text)
    words: list[str] = []
    for names, problems in concepts():
        best = max((len(n) for n in names if n in text), default=0)
        if best and best / size >= coverage:
            words.extend(problems)
    return list(dict.fromkeys(words))


@lru_cache(maxsize=1)
def _synonym_index() -> dict[str, tuple[str, ...]]:
    index: dict[str, list[str]] = {}
    for group in synonym_groups():
        for word in group:
            bucket = index.setdefault(word, [])
            bucket.extend(w for w in group if w != word and w not in bucket)
    return {w: tuple(v) for w, v in index.items()}


def get_tokenizer() -> jieba.Tokenizer:
    """The private jieba tokenizer with the domain dictionary, built once per process.

    Synonym-lexicon words are added too, so that an expanded query word can match the
    same token in an indexed finding.
    """
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                jieba.setLogLevel(logging.WARNING)  # no "Building prefix dict" chatter on stderr
                tok = jieba.Tokenizer()
                tok.initialize()
                words = _read_lines(USERDICT) + [w for g in synonym_groups() for w in g]
                for line in dict.fromkeys(words):
                    parts = line.split()
                    freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
                    tok.add_word(parts[0], freq)
                _tokenizer = tok
    return _tokenizer


def _keep(token: str, stop: frozenset[str]) -> bool:
    token = token.strip()
    return bool(token) and token not in stop and bool(_CONTENT.search(token))


def tokenize(text: str) -> list[str]:
    """Precise-mode jieba words, normalised, without stopwords, punctuation or numbers."""
    stop = stopwords()
    return [t for t in get_tokenizer().lcut(normalize(text), HMM=True) if _keep(t, stop)]


def tokenize_for_search(text: str) -> list[str]:
    """Search-mode jieba words: long words plus the dictionary words inside them.

    Indexing 暂收暂付款 also as 暂收/暂付 lets a query that names only part of a term match.
    """
    stop = stopwords()
    return [t for t in get_tokenizer().lcut_for_search(normalize(text), HMM=True) if _keep(t, stop)]


def expand_query(
    tokens: list[str], weight: float = SYNONYM_WEIGHT, query: str | None = None, concept_weight: float | None = None
) -> list[tuple[str, float]]:
    """Query tokens with weight 1.0, lexicon synonyms of them with ``weight``, and — when
    ``query`` names a concept of corpora/concepts.tsv — the concept's problem words (segmented
    like the index) with ``concept_weight``.

    Each word appears once, at its highest weight, in first-seen order.
    """
    out: dict[str, float] = {}
    for tok in tokens:
        # search mode yields 教育局 and also 教育 inside it: the part must not double the word
        inner = any(tok != other and tok in other for other in tokens)
        out[tok] = SUBWORD_WEIGHT if inner else 1.0
    index = _synonym_index()
    for tok in tokens:
        for syn in index.get(tok, ()):
            if syn not in out:
                out[syn] = weight
    if query:
        concept_weight = CONCEPT_WEIGHT if concept_weight is None else concept_weight
        for tok in dict.fromkeys(t for phrase in concept_words(query) for t in tokenize_for_search(phrase)):
            if out.get(tok, 0.0) < concept_weight:
                out[tok] = concept_weight
    return list(out.items())


def char_ngrams(text: str, n: int = 2) -> list[str]:
    """Overlapping CJK character n-grams within runs of Chinese characters.

    Robust to segmentation errors and to unseen compounds (人名、单位名、新术语);
    runs shorter than ``n`` are kept whole so single-character words still count.
    """
    grams: list[str] = []
    for run in _CJK_RUN.findall(normalize(text)):
        if len(run) < n:
            grams.append(run)
        else:
            grams.extend(run[i : i + n] for i in range(len(run) - n + 1))
    return grams
