"""Facts every export format shares: selection, counts, ranges, citations and quotes.

Kept apart from the writers so that the list, the briefing, markdown and JSON can never
disagree on what a problem spans or where a statement comes from.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache

from miner.records import ISSUER_KIND_ZH, ISSUER_KINDS, CommonProblem, Finding

FORMATS = ("xlsx", "docx", "md", "json")
ALIASES = {"markdown": "md", "excel": "xlsx", "word": "docx"}
DEFAULT_NAMES = {
    "xlsx": "共性问题清单",
    "docx": "共性问题专报（初稿）",
    "md": "共性问题清单",
    "json": "共性问题清单",
}
DEFAULT_LIST_TITLE = "共性问题清单"
DEFAULT_BRIEF_TITLE = "关于监督发现共性问题的专报（初稿）"
PLACEHOLDER = "（待分析人员填写）"
MACHINE_NOTE = "本稿由 miner 根据各类监督报告自动生成，为初稿，所列问题表述及出处须经人工核对后方可使用。"
QUOTES = ("simplified", "published")

_ZH_DIGITS = "零一二三四五六七八九"
_LEADING_MARKER = re.compile(
    r"^\s*(?:[一二三四五六七八九十]+是|[（(][一二三四五六七八九十\d]+[)）]|[一二三四五六七八九十]+、|\d+[.、．)）]|[①-⑳])\s*"
)


@dataclass(frozen=True)
class Source:
    """What the catalogue knows about one report, so exports can cite it by title and 文号."""

    name: str  # file name, the key findings carry in `Finding.document`
    title: str = ""
    doc_number: str = ""
    traditional: bool = False  # published in Traditional characters


@dataclass
class BriefingOptions:
    """What an analyst sets for a briefing; every field has a default that prints sensibly.

    `issuer` (发文机关), `issue` (期号), `date`, `to` (报送), `cc` (抄送) fill the 版头 and 版记.
    `top_n` keeps the N most systemic problems (all formats); `quotes` is "simplified"
    (Traditional quotes converted, the default) or "published" (quoted as published).
    """

    top_n: int | None = None
    masthead: str = "监督共性问题专报"
    issuer: str = ""
    issue: str = ""
    date: date | None = None
    to: str = ""
    cc: str = ""
    quotes: str = "simplified"


def normalise_format(fmt: str) -> str:
    fmt = fmt.lower().lstrip(".")
    fmt = ALIASES.get(fmt, fmt)
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return fmt


def default_filename(fmt: str) -> str:
    """File name an export takes when only a folder is given, e.g. 共性问题清单.xlsx."""
    return f"{DEFAULT_NAMES[fmt]}.{fmt}"


def select(problems: Iterable[CommonProblem], *, min_bodies: int = 1, top_n: int | None = None) -> list[CommonProblem]:
    """Problems seen by at least `min_bodies` kinds of supervisor, most systemic first, at most `top_n`."""
    kept = [p for p in problems if len(issuer_kinds(p.findings)) >= min_bodies]
    kept = sorted(kept, key=lambda p: -p.score)  # stable: ties keep the cluster stage's order
    return kept[:top_n] if top_n and top_n > 0 else kept


# --- quotes --------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def apply_quotes(
    problems: list[CommonProblem], mode: str, sources: Mapping[str, Source] | None = None
) -> tuple[list[CommonProblem], list[str]]:
    """Quotes in the script `mode` asks for, and the documents whose quotes are Traditional-published.

    Callers may hand over findings as published (Traditional kept); "simplified" converts the
    quotes of those reports with OpenCC, the same converter ingest uses. A report counts as
    Traditional when the catalogue says so or when conversion changes its quotes. Copies are
    returned: the caller's problems are left as they were.
    """
    if mode not in QUOTES:
        raise ValueError(f"unknown quotes setting {mode!r}; expected one of {', '.join(QUOTES)}")
    sources = sources or {}
    traditional: dict[str, None] = {}
    out = []
    for p in problems:
        findings = []
        for f in p.findings:
            converted = _t2s().convert(f.text)
            src = sources.get(f.document)
            if src.traditional if src is not None else converted != f.text:
                traditional[f.document] = None
            findings.append(replace(f, text=converted) if mode == "simplified" else f)
        out.append(replace(p, findings=findings))
    return out, list(traditional)


def quotes_note(mode: str, traditional_docs: list[str], sources: Mapping[str, Source] | None = None) -> str:
    """One sentence that says how quotes from Traditional-published reports were treated ('' if none)."""
    if not traditional_docs:
        return ""
    names = "、".join(short_ref(d, sources) for d in traditional_docs[:2])
    more = "等" if len(traditional_docs) > 2 else ""
    how = "引文已转为简体字" if mode == "simplified" else "引文按原文繁体字照录"
    return f"所引报告中有{len(traditional_docs)}份以繁体字发布（{names}{more}），{how}。"


# --- facts shared by every format ------------------------------------------------------------


def issuer_kinds(findings: Iterable[Finding]) -> list[str]:
    """Distinct issuer kinds, most frequent first (ties in ISSUER_KINDS order)."""
    counts = Counter(f.issuer_kind for f in findings)
    return sorted(counts, key=lambda k: (-counts[k], _kind_rank(k)))


def _kind_rank(kind: str) -> int:
    return ISSUER_KINDS.index(kind) if kind in ISSUER_KINDS else len(ISSUER_KINDS)


def kind_zh(kind: str) -> str:
    return ISSUER_KIND_ZH.get(kind, kind or "其他")


def unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def units(findings: Iterable[Finding]) -> list[str]:
    return unique(f.unit.strip() for f in findings)


def documents(findings: Iterable[Finding]) -> list[str]:
    """Distinct documents in finding order."""
    return unique(f.document for f in findings)


def years(findings: Iterable[Finding]) -> tuple[int | None, int | None]:
    ys = sorted({f.year for f in findings if f.year})
    return (ys[0], ys[-1]) if ys else (None, None)


def year_range(findings: Iterable[Finding]) -> str:
    """'2022–2024', '2023', or '' when no finding is dated."""
    lo, hi = years(findings)
    if lo is None:
        return ""
    return str(lo) if lo == hi else f"{lo}–{hi}"


def zh_period(findings: Iterable[Finding]) -> str:
    """'2022年至2024年', '2023年', or ''."""
    lo, hi = years(findings)
    if lo is None:
        return ""
    return f"{lo}年" if lo == hi else f"{lo}年至{hi}年"


def span_of(p: CommonProblem) -> str:
    """The cluster stage's span, or one built the same way when it left it empty."""
    if p.span:
        return p.span
    parts = ["、".join(kind_zh(k) for k in issuer_kinds(p.findings))]
    if n_units := len(units(p.findings)):
        parts.append(f"{n_units} 个单位")
    if yr := year_range(p.findings):
        parts.append(yr)
    parts.append(f"{len(p.findings)} 条")
    return " · ".join(x for x in parts if x)


def range_sentence(p: CommonProblem) -> str:
    """The span as a sentence a reader can take in at a meeting.

    '审计、巡察、人大3类监督主体在2022年至2024年的4份报告中指出此问题，涉及市住建局、区教育局等4个单位，共5条问题表述。'
    """
    kinds = issuer_kinds(p.findings)
    n_docs = len(documents(p.findings))
    who = "、".join(kind_zh(k) for k in kinds)
    who += f"{len(kinds)}类监督主体" if len(kinds) > 1 else "机关"
    period = zh_period(p.findings)
    text = f"{who}{'在' + period if period else ''}的{n_docs}份报告中指出此问题"
    us = units(p.findings)
    named = [u for u in us if "等" not in u][:3]  # "等14个市直单位" is itself a count, not a name
    if named:
        text += f"，涉及{'、'.join(named)}" + (f"等{len(us)}个单位" if len(us) > len(named) else "")
    elif us:
        text += f"，涉及{len(us)}个单位"
    return text + f"，共{len(p.findings)}条问题表述。"


def cite(f: Finding) -> str:
    """Where an analyst can check a finding: 'q01.pdf 第2页'."""
    return f"{f.document} 第{f.page}页"


def citations(findings: Iterable[Finding]) -> list[str]:
    """One citation per distinct (document, page), in finding order."""
    return unique(cite(f) for f in findings)


def short_ref(document: str, sources: Mapping[str, Source] | None = None) -> str:
    """A report as a reader knows it: its 文号, else its title in 《》, else the file name."""
    src = (sources or {}).get(document)
    if src is not None and src.doc_number:
        return src.doc_number
    if src is not None and src.title:
        return f"《{src.title}》"
    return document


def full_ref(document: str, sources: Mapping[str, Source] | None = None) -> str:
    """'《title》（文号）', falling back to what is known, always ending with the file name."""
    src = (sources or {}).get(document)
    parts = []
    if src is not None and src.title:
        parts.append(f"《{src.title}》")
    if src is not None and src.doc_number:
        parts.append(f"（{src.doc_number}）")
    parts.append(f"[{document}]" if parts else document)
    return "".join(parts)


def pages_by_document(findings: Iterable[Finding]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for f in findings:
        pages = out.setdefault(f.document, [])
        if f.page not in pages:
            pages.append(f.page)
    return {d: sorted(ps) for d, ps in out.items()}


def grouped_citations(findings: Iterable[Finding], sources: Mapping[str, Source] | None = None) -> list[str]:
    """One citation per report with all its pages: '沄审报〔2023〕12号第2、3页'."""
    return [f"{short_ref(d, sources)}第{'、'.join(map(str, ps))}页" for d, ps in pages_by_document(findings).items()]


def body_of(f: Finding) -> str:
    """'审计·某市审计局', or just the kind when the issuer is unknown."""
    return f"{kind_zh(f.issuer_kind)}·{f.issuer}" if f.issuer else kind_zh(f.issuer_kind)


def source_of(f: Finding, sources: Mapping[str, Source] | None = None) -> str:
    """'审计·市审计局，q01.pdf 第2页', with the 文号 or title in place of the file name when known."""
    where = cite(f) if not sources or f.document not in sources else f"{short_ref(f.document, sources)}第{f.page}页"
    return f"{body_of(f)}，{where}"


def representatives(p: CommonProblem, limit: int | None = None) -> list[Finding]:
    """A few statements that show the spread: one per issuer kind first, then others.

    Round-robin over kinds keeps a finding from every body visible; within a kind the
    cluster stage's order (usually closeness to the centre) is kept and documents repeat last.
    """
    if limit is None:
        limit = min(max(3, len(issuer_kinds(p.findings))), 5)
    queues = {k: [f for f in p.findings if f.issuer_kind == k] for k in issuer_kinds(p.findings)}
    for kind, queue in queues.items():  # prefer unseen documents within each kind
        seen: set[str] = set()
        fresh, repeat = [], []
        for f in queue:
            (repeat if f.document in seen else fresh).append(f)
            seen.add(f.document)
        queues[kind] = fresh + repeat
    picked: list[Finding] = []
    while len(picked) < limit and any(queues.values()):
        for queue in queues.values():
            if queue and len(picked) < limit:
                picked.append(queue.pop(0))
    return picked


def clean(text: str) -> str:
    """Collapse whitespace (none between CJK characters) and drop markers like '一是'/'（二）'.

    Markers number statements inside their own report and mislead once quoted elsewhere.
    """
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"(?<=[\u3000-\u9fff\uff00-\uffef]) (?=[\u3000-\u9fff\uff00-\uffef])", "", text)
    return _LEADING_MARKER.sub("", text, count=1)


def shorten(text: str, limit: int = 80) -> str:
    """Cleaned text, cut at a clause end (or hard) when longer than `limit` characters."""
    text = clean(text)
    if len(text) <= limit:
        return text
    head = text[:limit]
    cut = max(head.rfind(c) for c in "。；;！？")
    if cut < limit // 2:
        cut = max(head.rfind(c) for c in "，,、：:")
    if cut >= limit // 2:
        return head[:cut] + "……"
    return head[: limit - 1] + "……"


def sentence(text: str) -> str:
    """Text without trailing punctuation so a citation can follow it."""
    return text.rstrip("。；;，,、：: ")


def zh_number(n: int) -> str:
    """1 -> 一, 12 -> 十二, 23 -> 二十三; Arabic digits from 100 on, which no briefing reaches."""
    if not 0 <= n < 100:
        return str(n)
    if n < 10:
        return _ZH_DIGITS[n]
    tens, ones = divmod(n, 10)
    return f"{'' if tens == 1 else _ZH_DIGITS[tens]}十{_ZH_DIGITS[ones] if ones else ''}"


def zh_date(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"
