"""Names for common problems, as an analyst writes them in a 共性问题清单.

A name is a complete problem phrase ("往来款长期挂账未清理"), never a case detail, a
fragment left by removing figures ("超过月的"), a word cut in half ("度审计工作报告") or a
recommendation ("推动闲置资产调剂共享"). In order of preference it is

1. the standard problem type (``corpora/problem_types.tsv``) that most members share;
2. else the members' problem clauses, cleaned of figures, units and persons, scored by how
   many members share their words and by the cluster's c-TF-IDF keywords, and cut only at
   jieba word boundaries.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from miner.problem_types import DEFICIENCY, NUMBER, TypeMatcher, default_matcher, problem_clause

Tokenizer = Callable[[str], list[str]]
K = TypeVar("K", bound=Hashable)

_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_LATIN = re.compile(r"[A-Za-zＡ-Ｚａ-ｚ]+")
_CLAUSE = re.compile(r"[。；;！!？?\n，,：:]")
_LEAD = re.compile(
    r"^(?:[（(]?[一二三四五六七八九十\d]+[)）、.．]|[一二三四五六七八九十]是|关于|经查|审计发现|巡察发现|检查发现)+"
)
_UNIT_LEAD = re.compile(
    r"^[^，,、]{0,12}?(?:局|委|办|镇|乡|街道|中心|公司|医院|卫生院|学校|部门|单位|集团|县|区|市)"
    r"(?:机关|本级|所属单位|所属)?(?=[^\s，,、]{4,})"
)
_PERSON = re.compile(
    r"(?:原|时任)?(?:党组成员|党委委员|党委书记|党组书记|副?局长|副?院长|副?镇长|副?乡长|副?所长|副?主任|书记|会计|出纳"
    r"|副?总经理|副?经理|副?处长|副?科长|工作人员|干部)*[、，]?[\u4e00-\u9fff]某某"
)
# A figure with the comparison that governs it ("超过3个月的", "达到12%以上"): removing only
# the digits would leave "超过月的", so the whole comparison goes.
_FIGURE = re.compile(
    r"(?:超过|达到|达|逾|近|满|不足|低于|高于|仅|约|共|计|合计|累计|占比?|为|有|以)?(?:约|近)?"
    + NUMBER.pattern
    + r"(?:以上|以下|左右|余|多)?(?:的)?"
    r"|(?:超过|达到|达|近|约|逾|不足|仅)?[一二三四五六七八九十两几]+成(?:以上|多)?(?:的)?"
)
# A comparison whose figure was cleaned away ("借用时间超过", "占比达") reads as broken.
_DANGLING = re.compile(
    r"(?:超过|达到|达|占|为|低于|高于|不足|仅|约|共|计|合计|累计|和|及|与|或|的|在|对|将|把|等|由|从)$"
)
# Characters that cannot begin a Chinese phrase: particles, measure words, suffixes.
_BAD_START = re.compile(r"^[的了和及与或等度者其之而但也又并且个项次名月年日天元万亿份件台套户所间处批倍%％]")
_RECOMMENDATION = re.compile(
    r"^(?:建议|应当|应|要|需要|必须|务必|推动|推进|加强|强化|进一步|健全|建立健全|完善|督促|确保|切实|加快|抓紧|认真"
    r"|严格|着力|深化|提升|提高|落实好|做好|持续|继续|积极|全面)"
)
_BACKGROUND = re.compile(r"^(?:截至|截止|根据|按照|依据|为了|为|经|据|在|从|自|对|今年|去年|近年来|以来)")


@dataclass
class ClusterName:
    """What an analyst sees: a short headline, keywords, and the finding it came from."""

    headline: str
    keywords: list[str]
    representative: int  # index into the cluster's members
    problem_type: str = ""  # the standard problem type the name came from, if any


def is_fragment(name: str) -> bool:
    """True for a name that does not read as a complete phrase (see module docstring)."""
    if len(name) < 4 or not _CJK_RUN.search(name):
        return True
    if _BAD_START.search(name) or _DANGLING.search(name):
        return True
    if re.search(r"\d", name):
        return True
    # a time or count unit right after a comparison is what digit stripping leaves behind
    return bool(re.search(r"(?:超过|达到|达|逾|近|满|不足|低于|高于)(?:个)?(?:月|年|天|日|倍|人|户|家|项|次)", name))


def is_recommendation(name: str) -> bool:
    """True for a recommendation or next step ("推动闲置资产调剂共享"), not a problem."""
    return bool(_RECOMMENDATION.search(name))


def _default_tokenizer() -> Tokenizer:
    from miner.segment import tokenize

    return tokenize


def _raw_words(text: str) -> list[str]:
    """All jieba words of ``text`` in order (joined they give the text back)."""
    from miner.segment import get_tokenizer

    return get_tokenizer().lcut(text, HMM=False)


def cut_at_words(text: str, max_chars: int) -> str:
    """``text`` shortened to at most ``max_chars`` without cutting inside a word.

    Prefers the last clause boundary (、) that fits, else the last word boundary; trailing
    particles and conjunctions that would dangle are dropped.
    """
    if len(text) <= max_chars:
        return text
    out = ""
    for w in _raw_words(text):
        if len(out) + len(w) > max_chars:
            break
        out += w
    if "、" in out[4:]:
        head = out[: out.rindex("、")]
        if len(head) >= max(6, len(out) // 2):
            out = head
    while out and _DANGLING.search(out):
        out = _DANGLING.sub("", out)
    return out


def cluster_keywords(
    token_lists: Sequence[list[str]], labels: Sequence[int], top_n: int = 6
) -> dict[int, list[tuple[str, float]]]:
    """c-TF-IDF (BERTopic style): words frequent in one cluster but rare across clusters."""
    return keywords_from_bags(word_bags(token_lists, labels), top_n)


def word_bags(token_lists: Sequence[list[str]], labels: Sequence[int]) -> dict[int, Counter]:
    """Per cluster, the counts of the words keywords are made of (kept by :mod:`miner.problems`
    per cluster, so that keywords across clusters need no re-segmentation of unchanged ones)."""
    bags: dict[int, Counter] = defaultdict(Counter)
    for toks, lab in zip(token_lists, labels):
        if lab >= 0:
            bags[lab].update(t for t in toks if len(t) >= 2 and _CJK_RUN.fullmatch(t) and not NUMBER.search(t))
    return bags


def keywords_from_bags(bags: Mapping[K, Counter], top_n: int = 6) -> dict[K, list[tuple[str, float]]]:
    """c-TF-IDF keywords of each cluster from the clusters' word counts."""
    if not bags:
        return {}
    df: Counter = Counter()
    total = 0
    for bag in bags.values():
        df.update(bag)  # occurrences across clusters, as first measured
        total += sum(bag.values())
    avg = total / len(bags)
    out: dict[K, list[tuple[str, float]]] = {}
    for lab, bag in bags.items():
        size = sum(bag.values()) or 1
        scored = [(w, (c / size) * math.log(1 + avg / df[w])) for w, c in bag.items()]
        scored.sort(key=lambda x: (-x[1], x[0]))
        out[lab] = scored[:top_n]
    return out


def representative_index(embeddings: np.ndarray | None, lexical: sp.csr_matrix | None = None) -> int:
    """Member with the highest mean similarity to the others (closest to the centroid)."""
    scores = None
    if embeddings is not None and len(embeddings):
        emb = normalize(np.asarray(embeddings, dtype=np.float32))
        scores = emb @ normalize(emb.mean(axis=0, keepdims=True)).ravel()
    if lexical is not None and lexical.shape[0]:
        lex = normalize(lexical)
        centre = normalize(np.asarray(lex.mean(axis=0)))
        lscore = np.asarray(lex @ centre.T).ravel()
        scores = lscore if scores is None else scores + lscore
    return int(np.argmax(scores)) if scores is not None else 0


def clean_clause(clause: str) -> str:
    """A clause without figures, persons, leading unit names, numbering and filler."""
    clause = _FIGURE.sub("", clause)
    clause = _LATIN.sub("", clause)
    clause = re.sub(r"[“”\"'‘’「」『』《》【】\s]", "", clause)
    clause = re.sub(r"[（(][^）)]*[）)]", "", clause)
    clause = _LEAD.sub("", clause)
    clause = re.sub(r"^(?:截至|截止)[^，,]*", "", clause)
    clause = re.sub(r"^(?:到|至)(?!期)", "", clause)  # "到11月底仍有…" lost its date
    clause = _PERSON.sub("", clause)  # who did it is case detail
    clause = re.sub(r"^对", "", clause)
    for _ in range(2):  # "青山县" then "某卫生院"
        bare = _UNIT_LEAD.sub("", clause)
        if len(bare) >= 6 and bare[0] not in "组站所队部处科室":  # "理论学习中心组" is not a unit
            clause = bare
    clause = re.sub(r"^(?:的|在|将|把|对|由)", "", clause)
    clause = re.sub(r"^(?:部分|个别|一些|有的|仍有|存在|均|另有|其中|且|并|还|但|仍|也)+", "", clause)
    clause = re.sub(r"(?:的)?(?:问题|现象)$|的情况$", "", clause)  # "整改情况" keeps its noun
    clause = re.sub(r"^有(?=[\u4e00-\u9fff]{4,})", "", clause)
    clause = clause.strip("，,、；;。：: ")
    # A long clause or an anonymised subject ("某所", "原党组成员、"): start at the deficiency
    # ("雨污分流改造二期工程在未取得施工许可…" → "未取得施工许可…").
    m = DEFICIENCY.search(clause)
    if m and m.start() >= 4 and len(clause) - m.start() >= 6 and (len(clause) > 16 or "某" in clause[: m.start()]):
        clause = clause[m.start() :]
    elif m and 0 < m.start() < 4 and "某" in clause[: m.start()]:
        clause = clause[m.start() :]
    return clause


def type_hits(texts: Sequence[str], matcher: TypeMatcher | None = None) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Texts × types: whether each text's problem clause, and the text as a whole, names a type.

    One row per text, independent of the other texts: rows computed once for a cluster can be
    sliced for any subset of its members (a single match call has a fixed cost of ~0.1 s).
    """
    matcher = matcher or default_matcher()
    clauses = [problem_clause(t) for t in texts]
    return (matcher.match(clauses) > 0).tocsr(), (matcher.match(list(texts)) > 0).tocsr()


def shared_type(
    texts: Sequence[str],
    matcher: TypeMatcher | None = None,
    min_share: float = 0.5,
    hits: tuple[sp.csr_matrix, sp.csr_matrix] | None = None,
) -> tuple[str, float]:
    """The standard problem type most members mention, and the share of members that do.

    A member counts fully when its problem clause names the type and half when only its
    case detail does; ("", 0.0) when no type reaches ``min_share``. ``hits``: the texts'
    :func:`type_hits`, when the caller has them.
    """
    matcher = matcher or default_matcher()
    if not texts or not matcher.types:
        return "", 0.0
    in_clause, in_text = hits if hits is not None else type_hits(texts, matcher)
    support = (
        np.asarray(in_clause.sum(axis=0)).ravel()
        + 0.5
        * np.asarray(
            (in_text > in_clause).sum(axis=0)  # detail only
        ).ravel()
    )
    share = support / len(texts)
    best = int(np.argmax(share))
    if share[best] < min_share:
        return "", float(share[best])
    return matcher.types[best].name, float(share[best])


def name_cluster(
    texts: Sequence[str],
    embeddings: np.ndarray | None = None,
    keywords: Sequence[str] | None = None,
    tokenizer: Tokenizer | None = None,
    max_chars: int = 20,
    matcher: TypeMatcher | None = None,
    hits: tuple[sp.csr_matrix, sp.csr_matrix] | None = None,
) -> ClusterName:
    """A 共性问题清单 headline for a cluster's member texts (see the module docstring).

    ``keywords`` should come from :func:`cluster_keywords` across all clusters (c-TF-IDF),
    else the cluster's own most frequent words are used. ``hits``: the texts' :func:`type_hits`.
    """
    if not texts:
        return ClusterName("", [], -1)
    tokenize = tokenizer or _default_tokenizer()
    if keywords is None:
        bag: Counter = Counter()
        for t in texts:
            bag.update({w for w in tokenize(t) if len(w) >= 2 and _CJK_RUN.fullmatch(w)})
        keywords = [w for w, _ in sorted(bag.items(), key=lambda x: (-x[1], x[0]))[:6]]
    from miner.cluster import LexicalVectorizer

    lex = LexicalVectorizer(tokenizer=tokenize, min_groups=1).fit_transform(list(texts)) if len(texts) > 1 else None
    rep = representative_index(embeddings, lex)
    ptype, _ = shared_type(texts, matcher, hits=hits) if len(texts) > 1 else ("", 0.0)
    if ptype:
        return ClusterName(ptype, list(keywords), rep, ptype)
    return ClusterName(_headline(texts, rep, keywords, tokenize, max_chars), list(keywords), rep)


def _headline(texts: Sequence[str], rep: int, keywords: Sequence[str], tokenize: Tokenizer, max_chars: int) -> str:
    """The members' clause that best states the shared problem, cut at a word boundary.

    Candidates are every member's clauses (the representative's first), scored by how many
    members share their words (consensus) and by the keywords; a clause that states a
    deficiency reads as a problem name, case detail does not; fragments, recommendations
    and background are never chosen while anything else is left.
    """
    weight = {w: 1.0 / (i + 1) for i, w in enumerate(keywords)}  # the top keywords decide
    order = [rep] + [i for i in range(min(len(texts), 60)) if i != rep]
    words_of = [{w for w in tokenize(texts[i]) if len(w) >= 2 and _CJK_RUN.fullmatch(w)} for i in order]
    share = Counter(w for ws in words_of for w in ws)
    n = len(order)
    best, best_score = "", -1e9
    for rank, i in enumerate(order):
        for pos, raw in enumerate(_CLAUSE.split(texts[i])):
            clause = cut_at_words(clean_clause(raw), max_chars)
            # a figure taken out of the middle ("集中在12月突击支出") leaves a gap in the phrase
            gap = any(0 < m.start() and m.end() < len(raw) for m in _FIGURE.finditer(raw) if m.group())
            if len(clause) < 4:
                continue
            toks = [w for w in tokenize(clause) if len(w) >= 2 and _CJK_RUN.fullmatch(w)]
            if not toks:
                continue
            consensus = sum(share[w] / n for w in toks) / len(toks) * (1 + 0.15 * min(len(toks), 4))
            score = (
                consensus
                + 0.6 * min(1.5, sum(v for w, v in weight.items() if w in clause))
                + 0.4 * bool(DEFICIENCY.search(clause))
                - 0.3 * (len(clause) < 6)
                - 0.5 * ("某" in clause)
                - 3.0 * is_fragment(clause)
                - 3.0 * is_recommendation(clause)
                - 1.0 * bool(_BACKGROUND.search(clause))
                - 0.5 * gap
                - 0.01 * pos
                + (0.15 if rank == 0 else 0.0)
            )
            if score > best_score:
                best, best_score = clause, score
    if not best:
        best = "、".join(keywords[:3])
    return best
