"""Is this statement a problem? A linear model learned from labelled reports.

The rules in :mod:`miner.findings` know the *shape* of a report (numbering,
tables, headings, units, sentence boundaries) and propose every statement as a
:class:`~miner.findings.Candidate`. Whether a statement reports a problem, or is
background, praise, procedure, a recommendation, a rectification step or a
punishment, is what hand-written cue lists got wrong on reports nobody tuned
them for: many non-problems contain 问题/不到位/整改. So that decision is a
logistic regression over

* character 1–3-grams of the statement (hashed: no vocabulary to ship),
* its context: heading path, zone (problem / non-problem section), numbering
  level, shape (headline item, 一是 run, clause, table row, restated problem),
  position, whether it sits under a restated problem (关于“……”的问题),
* the hand-written cues as features (deficiency words, remedy/plan/achievement
  words, lead-ins, background openers, questions, figures).

Hashing keeps the shipped model to two small arrays, readable by any numpy and
scikit-learn version (a pickled estimator is not). ``models/train_problem_model.py``
rebuilds it from labelled corpora.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from miner.findings import Candidate

TEXT_FEATURES = 2**18
CONTEXT_FEATURES = 2**14
_AMOUNT = re.compile(r"\d[\d,.]*\s*(?:万元|亿元|元|%|个|家|人|项|笔|户|件|次|辆|所|间|套|台|份)")
_YEAR = re.compile(r"(?:19|20)\d\d年")
# Lexicons of text that surrounds problems in every kind of report. They are features,
# not filters: the model weighs them against everything else it sees.
_SUMMARY = re.compile(r"^(?:总的看|总体看|总的来看|总体上看?|总体而言|从.{0,12}(?:情况|结果)看|.{0,8}结果表明)")
_ANNOUNCE = re.compile(r"等(?:方面|领域|环节)|一些(?:突出)?问题(?:和薄弱环节)?$|^(?:但|同时|然而)?.{0,6}(?:也|还)?发现")
_WORK_STATS = re.compile(
    r"共(?:发现|查处|立案|移交|受理|收到|处理|问责|约谈|督促|整改|清理|精简|化解|追回|完成|召开|组织|新建|建立|完善|清退|挽回|收回)|"
    r"问题线索|(?:已|完成)整改\d|整改完成率|(?:清退|挽回|追回|收回)[^，。；]{0,12}\d|"
    r"\d+人次|问卷|测评|评查|谈话\d|满意率|作答|应询"
)
_ACTION_START = re.compile(
    r"^(?:组织|开展|制定|建立|召开|梳理|督促|约谈|移交|印发|修订|出台|推动|完成|实现|累计|先后|通过|对照|结合|按照|"
    r"坚持|逐项|集中|全面|专题|研究|收到|针对|围绕|会同|联合|聚焦|重新)"
)
_NEWS = re.compile(r"记者|报道|获悉|据了解|据悉|^(?:日前|近日|近期|今年以来)|表示[，,：:]|介绍[，,：:]|强调[，,：:]")
# "对……问题，（已）……": what was done about a problem named before (a rectification report).
_ADDRESSED = re.compile(r"^(?:对|针对|关于)[^，。；]{2,80}(?:问题|情况)[，,：:]")
# Done (已……, 完成率100%) against still open (仍, 尚未): what a rectification report reports.
_DONE = re.compile(r"已(?:经)?[\u4e00-\u9fff]|(?:完成|整改|下达|到位)率(?:达)?(?:100|9\d)")
_OPEN = re.compile(r"仍|尚未|尚有|未完成|未整改|未到位|没有|未能|迟迟")
# What announces a list: problems (……主要有：) or what is to be done (建议：, 要求：).
_LEAD_PROBLEM = re.compile(r"问题|不足|差距|短板|弱项|薄弱|主要有|主要是|表现在|表现为|发现|存在")
_LEAD_ADVICE = re.compile(r"建议|意见|要求|措施|下一步|今后|将|(?<!主)(?<!需)要|努力|做到|做好|坚持|推动|加强")
# Praise and commitment that open many paragraphs of every kind of report.
_PRAISE = re.compile(
    r"高度重视|认真(?:贯彻|落实|履行)|积极(?:推进|落实)|扎实推进|取得.{0,4}(?:成效|进展|成绩)|总体(?:较好|良好|向好|平稳)|"
    r"稳步|不断(?:完善|加强|提高|提升)|有效(?:保障|推动|提升)|成效(?:明显|显著)"
)
_PUNISH = re.compile(r"处分|问责|诫勉|免职|撤职|开除|立案审查|移送司法|追缴|收缴|退赔")


def _addressed_status(text: str) -> str:
    """For "对……问题，……": what the words after the named problem say, done (已……) and/or still
    open (仍、尚未); the named problem itself ("未达到要求问题") says nothing about its status."""
    m = _ADDRESSED.search(text)
    if not m:
        return "none"
    tail = text[m.end() :]
    return f"{int(bool(_DONE.search(tail)))}{int(bool(_OPEN.search(tail)))}"


def _bucket(value: float, edges: tuple[float, ...]) -> int:
    return sum(value >= e for e in edges)


def context_tokens(c: Candidate) -> list[str]:
    """Discrete context of a candidate, as tokens for the hashed context features."""
    from miner import findings as fx

    text = c.text
    last_heading = c.heading.rsplit(" > ", 1)[-1] if c.heading else ""
    addressed = _addressed_status(text)  # "none" when the statement is not "对……问题，……"
    toks = [
        f"src={c.source}",
        f"alt={c.alt or 'single'}",
        f"alt_src={c.alt or 'single'}|{c.source}",
        f"zone={c.zone or 'none'}",
        f"lvl={min(c.level, 5)}",
        f"rule={int(c.rule_ok)}",
        f"quoted={int(c.after_quoted)}",
        f"first={int(c.block_first)}",
        f"pos={_bucket(c.position, (0.1, 0.25, 0.5, 0.75, 0.9))}",
        f"len={_bucket(len(text), (60, 160))}",
        f"unit={int(bool(c.unit))}",
        f"src_zone={c.source}|{c.zone or 'none'}",
        f"src_rule={c.source}|{int(c.rule_ok)}",
        f"b2={text[:2]}",
        f"b1={text[:1]}",
        f"e1={text[-1:]}",
        f"e2={text[-2:]}",
        f"cues={min(len(fx.PROBLEM_CUES.findall(text)), 4)}",
        f"amount={min(len(_AMOUNT.findall(text)), 3)}",
        f"year={int(bool(_YEAR.search(text)))}",
        f"nonprob={int(bool(fx.NON_PROBLEM_CUES.search(text)))}",
        f"leadin={int(bool(fx.LEAD_IN.search(text)))}",
        f"background={int(bool(fx.BACKGROUND.search(text[:120])))}",
        f"imperative={int(bool(fx.IMPERATIVE.match(text)))}",
        f"question={int(bool(fx.QUESTION.search(text)))}",
        f"summary={int(bool(_SUMMARY.search(text)))}",
        f"announce={int(bool(_ANNOUNCE.search(text)))}|{int(bool(_AMOUNT.search(text)))}",
        f"workstats={int(bool(_WORK_STATS.search(text)))}",
        f"action={int(bool(_ACTION_START.search(text)))}",
        f"news={int(bool(_NEWS.search(text)))}",
        f"punish={int(bool(_PUNISH.search(text)))}",
        f"praise={int(bool(_PRAISE.search(text)))}",
        f"addressed={int(addressed != 'none')}",
        f"addressed_status={addressed}",
        f"done_open={int(bool(_DONE.search(text)))}{int(bool(_OPEN.search(text)))}|{int(c.after_quoted)}",
        f"title_rect={int('整改' in c.title)}",
        f"title_rect_src={int('整改' in c.title)}|{c.source}",
        f"title_quoted={int('整改' in c.title)}|{int(c.after_quoted)}",
        f"head_neg={int(bool(fx.NEG_HEADING.search(last_heading)))}",
        f"head_pos={int(bool(fx.POS_HEADING.search(last_heading)))}",
    ]
    toks += [f"h={last_heading[i : i + 2]}" for i in range(max(len(last_heading) - 1, 0))]
    if c.lead:
        toks.append(f"lead_problem={int(bool(_LEAD_PROBLEM.search(c.lead)))}")
        toks.append(f"lead_advice={int(bool(_LEAD_ADVICE.search(c.lead)))}")
        toks += [f"ld={c.lead[i : i + 2]}" for i in range(max(len(c.lead) - 1, 0))]
    return toks


@lru_cache(maxsize=1 << 18)
def _hash(token: str, size: int) -> int:
    return zlib.crc32(token.encode("utf-8")) % size


def featurize(cands: list[Candidate]):
    """Sparse feature matrix: hashed character 1–3-grams beside hashed context tokens.

    Hashed with CRC-32 by hand rather than scikit-learn's HashingVectorizer so that
    reading a report does not import scikit-learn (seconds per worker process); the
    features are the same kind: square-rooted n-gram counts, L2-normalised.
    """
    from scipy.sparse import csr_matrix

    indptr, indices, data = [0], [], []
    for c in cands:
        grams = Counter(c.text[i : i + n] for n in (1, 2, 3) for i in range(len(c.text) - n + 1))
        row: dict[int, float] = {}
        for g, k in grams.items():
            j = _hash(g, TEXT_FEATURES)
            row[j] = row.get(j, 0.0) + float(k)
        norm = math.sqrt(sum(v for v in row.values())) or 1.0  # L2 norm of the square-rooted counts
        for j, v in row.items():
            indices.append(j)
            data.append(math.sqrt(v) / norm)
        for tok in set(context_tokens(c)):
            indices.append(TEXT_FEATURES + _hash(tok, CONTEXT_FEATURES))
            data.append(1.0)
        indptr.append(len(indices))
    matrix = csr_matrix((data, indices, indptr), shape=(len(cands), TEXT_FEATURES + CONTEXT_FEATURES))
    matrix.sum_duplicates()
    return matrix


@dataclass
class ProblemModel:
    """Weights plus the two cut-offs: ``threshold`` makes a finding, ``floor`` a review item."""

    coef: np.ndarray
    intercept: float
    threshold: float = 0.5
    floor: float = 0.25
    info: dict | None = None

    def predict(self, cands: list[Candidate]) -> np.ndarray:
        """Probability that each candidate states a problem."""
        if not cands:
            return np.zeros(0)
        z = featurize(cands) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(folder / "weights.npz", coef=self.coef.astype(np.float32))
        meta = {"intercept": self.intercept, "threshold": self.threshold, "floor": self.floor, **(self.info or {})}
        (folder / "model.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> ProblemModel:
        meta = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        with np.load(folder / "weights.npz") as npz:
            coef = npz["coef"].astype(np.float64)
        if coef.shape[0] != TEXT_FEATURES + CONTEXT_FEATURES:
            raise ValueError(f"problem model in {folder} has {coef.shape[0]} weights; rebuild it")
        info = {k: v for k, v in meta.items() if k not in ("intercept", "threshold", "floor")}
        return cls(coef, float(meta["intercept"]), float(meta["threshold"]), float(meta["floor"]), info)


def fit(cands: list[Candidate], labels: list[int], c: float = 1.0) -> ProblemModel:
    """Train the logistic regression on labelled candidates."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=c, max_iter=5000, solver="liblinear")
    clf.fit(featurize(cands), np.asarray(labels))
    return ProblemModel(clf.coef_[0].copy(), float(clf.intercept_[0]))


def best_threshold(probs: np.ndarray, labels: np.ndarray, n_gold: int, tolerance: float = 0.005) -> float:
    """Cut-off with the best F1 against ``n_gold`` gold findings (unmatched gold count as misses).

    Held-out F1 is flat over a wide range of cut-offs, and its maximum moves with a handful
    of documents; among cut-offs within ``tolerance`` of the best, the one nearest 0.5 (the
    logistic model's own even odds) is taken, so that adding a few reports does not swing it.
    """
    scores = []
    for t in np.arange(0.2, 0.81, 0.02):
        keep = probs >= t
        tp = float(labels[keep].sum())
        p = tp / keep.sum() if keep.sum() else 0.0
        r = tp / n_gold if n_gold else 0.0
        scores.append((2 * p * r / (p + r) if p + r else 0.0, round(float(t), 2)))
    best = max(f for f, _ in scores)
    return min((t for f, t in scores if f >= best - tolerance), key=lambda t: (abs(t - 0.5), t))


@lru_cache(maxsize=4)
def _load(folder: str) -> ProblemModel:
    return ProblemModel.load(Path(folder))


def default_model() -> ProblemModel:
    """The shipped model (``MINER_PROBLEM_MODEL`` points to another folder)."""
    from miner.config import get_settings

    return _load(str(get_settings().problem_model))
