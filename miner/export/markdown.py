"""The common-problem list as markdown: every finding quoted with its body, file and page."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from miner.export.common import DEFAULT_LIST_TITLE, body_of, citations, cite, clean, sentence, span_of
from miner.records import CommonProblem

_MD_SPECIAL = re.compile(r"([\\`*\[\]<>])")


def md(text: str) -> str:
    """Text safe to place in markdown: one line, markup characters escaped."""
    return _MD_SPECIAL.sub(r"\\\1", re.sub(r"\s+", " ", text).strip())


def write_md(
    problems: list[CommonProblem],
    out: Path,
    *,
    title: str | None,
    min_bodies: int,
    generated_at: date,
    quotes_note: str = "",
) -> None:
    n_findings = sum(len(p.findings) for p in problems)
    lines = [
        f"# {md(title or DEFAULT_LIST_TITLE)}",
        "",
        f"> 生成日期 {generated_at.isoformat()} · {len(problems)} 个共性问题 · {n_findings} 条问题表述"
        + (f" · 仅列至少 {min_bodies} 类监督主体发现的问题" if min_bodies > 1 else "")
        + " · 机器生成初稿，引用请核对原文",
        "",
    ]
    if quotes_note:
        lines += [f"> {md(quotes_note)}", ""]
    for i, p in enumerate(problems, 1):
        lines += [f"## {i}. {md(p.label)}", "", f"*{md(span_of(p))}*", ""]
        meta = []
        if p.keywords:
            meta.append("关键词：" + "、".join(md(k) for k in p.keywords))
        meta.append(f"系统性得分：{p.score:.2f}")
        lines += ["　".join(meta), ""]
        if p.note:
            lines += [f"备注：{md(p.note)}", ""]
        lines += [f"- {md(sentence(clean(f.text)))}（{md(body_of(f))}，{cite(f)}）" for f in p.findings]
        lines += ["", "出处：" + "；".join(citations(p.findings)), ""]
        if p.recurrences:  # cross-year chains (miner.recurrence)
            lines += [f"- 【{r['label']}】{md(r['unit'])}：{md(r['summary'])}" for r in p.recurrences] + [""]
    out.write_text("\n".join(lines), encoding="utf-8")
