"""What a finding is about: its problem clause and the standard problem types it matches.

Why: a finding is a short problem statement wrapped in case detail (unit, years, amounts,
names). Two reports share the problem, not the detail, so clustering and naming look at
the clause that states the deficiency, and at the field's standard problem types
(``corpora/problem_types.tsv``: 往来款长期挂账未清理, 违规发放津贴补贴, 规避招标 …), which
join wordings that share few characters (公车私用 / 驾驶公务用车回老家探亲).

Cue matching is hand-written (no maintained multi-pattern matcher is a dependency, and it is
a few lines of numpy): every distinct cue word is found once in the whole batch through one
sorted index of character bigrams, and the "甲&乙" conjunctions are a sparse product, so
100k findings take a few seconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from miner.config import CORPORA_DIR

TYPES_FILE = CORPORA_DIR / "problem_types.tsv"

# Amounts, counts, dates, percentages: case detail, never part of what the problem is.
NUMBER = re.compile(
    r"[0-9０-９一二三四五六七八九十百千万两]*[0-9０-９][0-9０-９.,，．%％‰]*"
    r"(?:多|余)?(?:万元|亿元|元|万平方米|平方米|万|亿|个月|个|项|次|家|人次|人|名|笔|辆|年度|年末|年底|年初|年|月份|月末|月底|月"
    r"|日|天|户|份|件|台|套|公里|亩|所|间|处|批|倍|周岁|岁|季度|学年|届)?"
)
_SENTENCE = re.compile(r"[。；;！!？?\n]")
_CLAUSE = re.compile(r"[，,：:]")
_LEAD = re.compile(
    r"^\s*(?:[（(]?[一二三四五六七八九十\d]+[)）、.．]|[①-⑳]|[一二三四五六七八九十]是|案例[一二三四五六七八九十\d]+[：:])+"
)
# Words that mark a clause as stating a deficiency rather than background or figures.
DEFICIENCY = re.compile(
    r"未|不[规严到足够力实及健全完准精充]|违规|违反|违纪|违法|超|虚|挤占|挪用|闲置|挂账|拖欠|滞后|缓慢|流于形式|缺失|缺位"
    r"|薄弱|规避|私用|弄虚作假|造假|冒领|骗取|套取|乱|低|差|难|弱|失|漏|偏|少|多计|重复|擅自|变相|截留|坐支|风险|隐患"
)


@dataclass(frozen=True)
class ProblemType:
    name: str
    category: str
    cues: tuple[tuple[str, ...], ...]  # alternatives, each a conjunction of words


def _parse(path: Path) -> list[ProblemType]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, category, cues = (line.split("\t") + ["", ""])[:3]
        alts = tuple(tuple(w for w in alt.split("&") if w) for alt in cues.split("|") if alt.strip())
        out.append(ProblemType(name.strip(), category.strip(), alts or ((name.strip(),),)))
    return out


@lru_cache(maxsize=4)
def load_types(path: Path = TYPES_FILE) -> tuple[ProblemType, ...]:
    """The vocabulary of standard problem types (empty when the file is missing)."""
    return tuple(_parse(path)) if path.exists() else ()


class TypeMatcher:
    """Which standard problem types each text mentions, as a sparse texts × types matrix."""

    def __init__(self, types: tuple[ProblemType, ...] | None = None) -> None:
        self.types = load_types() if types is None else types
        words: dict[str, int] = {}
        cue_rows, cue_cols, cue_len, cue_chars, cue_type = [], [], [], [], []
        for t, pt in enumerate(self.types):
            for alt in pt.cues:
                c = len(cue_len)
                for w in set(alt):
                    cue_rows.append(words.setdefault(w, len(words)))
                    cue_cols.append(c)
                cue_len.append(len(set(alt)))
                cue_chars.append(sum(len(w) for w in set(alt)))
                cue_type.append(t)
        self.words = list(words)
        n_cues = len(cue_len)
        self._word_cue = sp.csr_matrix(
            (np.ones(len(cue_rows), dtype=np.float32), (cue_rows, cue_cols)), shape=(len(words), n_cues)
        )
        self._cue_len = np.asarray(cue_len, dtype=np.float32)
        # a longer cue is a more specific one: "耕地地力保护补贴" says more than "耕地"
        self._cue_type = sp.csr_matrix(
            (np.asarray(cue_chars, dtype=np.float32), (np.arange(n_cues), cue_type)), shape=(n_cues, len(self.types))
        )

    def match(self, texts: list[str]) -> sp.csr_matrix:
        """Texts × types: summed length of the cues a text satisfies (0 = type not mentioned)."""
        n = len(texts)
        if not n or not self.types:
            return sp.csr_matrix((n, len(self.types)), dtype=np.float32)
        big = _simplified("\x00".join(texts))  # reports in 繁體 name the same problems
        starts = np.cumsum([0] + [len(t) + 1 for t in texts[:-1]])
        rows, cols = [], []
        for wi, pos in enumerate(_find_all(big, self.words)):
            if len(pos):
                docs = np.unique(np.searchsorted(starts, pos, side="right") - 1)
                rows.append(docs)
                cols.append(np.full(len(docs), wi))
        if not rows:
            return sp.csr_matrix((n, len(self.types)), dtype=np.float32)
        r, c = np.concatenate(rows), np.concatenate(cols)
        present = sp.csr_matrix((np.ones(len(r), dtype=np.float32), (r, c)), shape=(n, len(self.words)))
        hits = (present @ self._word_cue).tocoo()
        ok = hits.data >= self._cue_len[hits.col]
        cue = sp.csr_matrix((np.ones(int(ok.sum()), dtype=np.float32), (hits.row[ok], hits.col[ok])), shape=hits.shape)
        return (cue @ self._cue_type).tocsr()

    def names(self, row: sp.csr_matrix | np.ndarray) -> list[str]:
        idx = row.indices if sp.issparse(row) else np.flatnonzero(row)
        return [self.types[i].name for i in idx]


def _simplified(text: str) -> str:
    """Traditional → Simplified (OpenCC, one call for the whole batch); unchanged without it."""
    try:
        import opencc
    except ImportError:  # pragma: no cover - OpenCC is a declared dependency
        return text
    out = _converter(opencc).convert(text)
    return out if len(out) == len(text) else text  # offsets must keep pointing at the same text


@lru_cache(maxsize=1)
def _converter(opencc):  # noqa: ANN001, ANN202 - the module is imported lazily
    return opencc.OpenCC("t2s")


def _find_all(big: str, words: list[str]) -> list[np.ndarray]:
    """Start offsets of every word in ``big``: one sort of its character bigrams, then per
    word a binary search for its first two characters and a check of the rest (all numpy)."""
    arr = np.frombuffer(big.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    n = len(arr)
    if n < 2:
        return [np.flatnonzero(arr == ord(w)) if len(w) == 1 else np.zeros(0, np.int64) for w in words]
    codes = (arr[:-1] << np.uint64(32)) | arr[1:]
    order = np.argsort(codes, kind="stable")
    ranked = codes[order]
    out = []
    for w in words:
        if len(w) == 1:
            out.append(np.flatnonzero(arr == ord(w)))
            continue
        key = np.uint64((ord(w[0]) << 32) | ord(w[1]))
        pos = order[np.searchsorted(ranked, key, "left") : np.searchsorted(ranked, key, "right")]
        for k in range(2, len(w)):
            pos = pos[pos + k < n]
            pos = pos[arr[pos + k] == ord(w[k])]
        out.append(np.sort(pos))
    return out


@lru_cache(maxsize=1)
def default_matcher() -> TypeMatcher:
    return TypeMatcher()


def _strip_lead(s: str) -> str:
    return _LEAD.sub("", s).strip()


def problem_clause(text: str, max_chars: int = 60) -> str:
    """The part of a finding that says what the problem is, case figures removed.

    Reports either lead with a headline ("债务风险防控意识不强。集团……") or state the
    problem inside a narrative sentence ("2021年以来，集团……未经党委前置研究，直接……").
    A short first sentence is taken as the headline; otherwise the clauses of the first
    sentences that carry a deficiency word are kept, background clauses (time, unit,
    figures) dropped.
    """
    sentences = [_strip_lead(s) for s in _SENTENCE.split(text) if s.strip()]
    sentences = [s for s in sentences if s]
    if not sentences:
        return ""
    first = sentences[0]
    if len(NUMBER.sub("", first)) <= 32 and len(sentences) > 1 and DEFICIENCY.search(first):
        return NUMBER.sub("", first)
    kept: list[str] = []
    size = 0
    for s in sentences[:3]:
        for clause in _CLAUSE.split(s):
            clause = NUMBER.sub("", clause).strip()
            if len(clause) < 3 or not DEFICIENCY.search(clause):
                continue
            kept.append(clause)
            size += len(clause)
            if size >= max_chars:
                break
        if size >= max_chars or (kept and len(kept) >= 2):
            break
    if not kept:
        return NUMBER.sub("", first)[:max_chars]
    return "，".join(kept)[: max_chars * 2]
