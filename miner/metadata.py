"""Infer who issued a report, when, what kind it is and which units it examined.

Everything is read from the title, the 文号 (document number), the opening lines
and the signature block, the places where Chinese official documents state these
facts. The rules are deliberately plain; an analyst can override any field per
batch (CLI flags) or per file (sidecar CSV/JSON).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from miner.ingest import ParsedDocument
from miner.records import ISSUER_KINDS, DocumentMeta

_DOC_NUMBER = re.compile(r"[\u4e00-\u9fff]{1,10}[〔\[［(（【](\d{4})[〕\]］)）】]\s*(?:第\s*)?\d+\s*号")
_REPORT_NO = re.compile(r"[（(](\d{4})年第\s*\d+\s*号[）)]")
_DATE = re.compile(r"(20\d{2}|19\d{2})\s*(?:年\s*\d{1,2}\s*月\s*\d{1,2}\s*日|[-/.]\d{1,2}[-/.]\d{1,2})")
_YEAR = re.compile(r"(20\d{2}|19\d{2})\s*年")

# (issuer kind, pattern) in priority order: the first that matches the title wins.
_TITLE_KINDS: list[tuple[str, re.Pattern]] = [
    ("discipline", re.compile(r"纪委|监委|纪律检查|监察委|典型问题|八项规定|四风")),
    ("statistics", re.compile(r"统计局|统计督察|统计执法|统计调查")),
    ("congress", re.compile(r"人大|审议意见|执法检查|专题询问|询问意见|检查《.+?》.{0,4}实施情况")),
    ("inspection", re.compile(r"巡察|巡视")),
    ("audit", re.compile(r"审计")),
    ("finance", re.compile(r"财政局|财政厅|财会监督|会计信息质量|财经纪律")),
    ("legal", re.compile(r"政法委|公安|检察院|法院|司法局")),
]
# Issuing organisations as they sign, most specific first.
_ORG_KINDS: list[tuple[str, re.Pattern]] = [
    ("inspection", re.compile(r"巡察组|巡视组|巡察办|巡察工作领导小组")),
    ("congress", re.compile(r"人大常委会|人民代表大会常务委员会|执法检查组")),
    ("discipline", re.compile(r"纪委监委|纪律检查委员会|监察委员会")),
    ("audit", re.compile(r"审计局|审计厅|审计署")),
    ("statistics", re.compile(r"统计局")),
    ("finance", re.compile(r"财政局|财政厅")),
    ("legal", re.compile(r"政法委员会|政法委|公安局|人民检察院|人民法院|司法局")),
]
_ORG = re.compile(
    r"((?:中共)?[\u4e00-\u9fff（）]{2,30}?"
    r"(?:巡察组|巡视组|巡察工作领导小组办公室|审计局|人大常委会(?:办公室|执法检查组)?|纪委监委|"
    r"纪律检查委员会|监察委员会|财政局|统计局|政法委员会|公安局|人民检察院|人民法院|司法局|党组|党委))"
)
_REPORT_KINDS = [
    ("审议意见", r"审议意见"),
    ("专题询问", r"专题询问"),
    ("巡察反馈意见", r"巡察.*反馈|反馈.*巡察"),
    ("巡察整改情况通报", r"巡察整改"),
    ("共性问题通报", r"共性问题"),
    ("审计整改情况报告", r"审计.*整改"),
    ("审计工作报告", r"审计工作报告"),
    ("审计结果公告", r"审计(?:调查)?结果"),
    ("审议意见", r"审议意见"),
    ("统计执法检查通报", r"统计执法|统计局"),
    ("执法检查报告", r"执法检查|实施情况的报告"),
    ("专题询问", r"专题询问"),
    ("典型问题通报", r"纪委|监委|典型问题"),
    ("财会监督通报", r"财会监督|会计信息质量|财政.*检查"),
    ("统计执法检查通报", r"统计"),
]
_UNIT_PATTERNS = [
    re.compile(r"关于巡察(.+?)(?:情况)?的反馈意见"),
    re.compile(r"向(.+?)反馈巡察"),
    re.compile(r"对(.{2,40}?)(?:进行了|开展了|实施了)(?:常规|专项|提级)?(?:巡察|审计|检查)"),
    re.compile(r"^(.{2,30}?)(?:\d{4}年度|原.{0,6}任期|关于).{0,30}?审计结果"),
    re.compile(r"关于(.+?)\d{4}年度.{0,20}(?:报告|审议意见)"),
]


_SALUTATION = re.compile(r"([\u4e00-\u9fff（）、]{2,30}?(?:人民政府|政府|局|委员会|委|办公室|部门|单位|公司))[：:]")


def _title(doc: ParsedDocument) -> str:
    titles = [b.text for b in doc.blocks[:8] if b.kind == "title"]
    keywords = re.compile(r"报告|意见|通报|公告|结果|情况|决定|问题")
    for text in titles:
        if keywords.search(text) and not text.endswith("文件"):
            return text
    for b in doc.blocks[:6]:
        if keywords.search(b.text) and len(b.text) <= 80 and not b.text.endswith(("。", "：")):
            return b.text
    return titles[0] if titles else (doc.blocks[0].text[:80] if doc.blocks else "")


def infer_metadata(doc: ParsedDocument, filename: str = "") -> DocumentMeta:
    """Best-effort metadata from the text alone."""
    blocks = [b.text for b in doc.blocks]
    head = blocks[:8]
    tail = blocks[-6:]
    title = _title(doc)
    meta = DocumentMeta(title=title)

    m = next((m for t in head for m in [_DOC_NUMBER.search(t)] if m), None)
    if m:
        meta.doc_number = m.group(0)

    # Year of issue: 文号 year, then the signature/publication date, then years in the head.
    year = None
    if m:
        year = int(m.group(1))
    if year is None:
        rn = next((r for t in head for r in [_REPORT_NO.search(t)] if r), None)
        year = int(rn.group(1)) if rn else None
    if year is None:
        for t in list(reversed(tail)) + head:
            d = _DATE.search(t)
            if d and len(t) <= 60:
                year = int(d.group(1))
                break
    if year is None:
        years = [int(y) for t in head for y in _YEAR.findall(t)]
        year = max(years) if years else None
    meta.year = year

    # Issuer: a signing organisation in the tail, else one named in the head.
    issuer = ""
    for t in reversed(tail):
        if len(t) <= 40 and not t.endswith("。"):
            o = _ORG.search(t.replace(" ", ""))
            if o:
                issuer = o.group(1)
                break
    if not issuer:
        for t in head:
            src = re.search(r"发布机构[：:]\s*(\S+)", t)
            if src:
                issuer = src.group(1)
                break
            o = _ORG.match(t) or (_ORG.search(t) if len(t) <= 40 else None)
            if o and "关于" not in o.group(1):
                issuer = o.group(1)
                break
    meta.issuer = issuer.strip("（）() ") if issuer.count("（") != issuer.count("）") else issuer

    kind = ""
    for k, pat in _TITLE_KINDS:
        if pat.search(title):
            kind = k
            break
    if not kind or kind == "audit" and re.search(r"人大常委会", issuer):
        for k, pat in _ORG_KINDS:
            if pat.search(issuer):
                kind = k
                break
    if not kind:
        opening = "".join(head)
        for k, pat in _TITLE_KINDS:
            if pat.search(opening):
                kind = k
                break
    meta.issuer_kind = kind or "other"

    for name, pat in _REPORT_KINDS:
        if re.search(pat, title):
            meta.report_kind = name
            break

    units: list[str] = []
    for text in [title] + head[1:]:
        for pat in _UNIT_PATTERNS:
            u = pat.search(text)
            if u:
                unit = re.sub(r"^(?:中共)?.{0,6}(?:市委|县委|区委)第.巡察组", "", u.group(1)).strip("，、 ")
                if 2 <= len(unit) <= 40 and unit not in units:
                    units.append(unit)
        if units:
            break
    if not units:
        # 审议意见 and 通报 address the supervised body in a salutation line: "市人民政府："
        for text in head[1:]:
            m = _SALUTATION.fullmatch(text)
            if m and not re.search(r"主任|委员们|各位", m.group(1)):
                units.append(m.group(1))
                break
    meta.units = units
    return meta


def apply_overrides(meta: DocumentMeta, overrides: dict) -> DocumentMeta:
    """Overwrite inferred fields with analyst-given values (empty values are ignored)."""
    for key, value in overrides.items():
        if value in (None, "", []):
            continue
        if key == "year":
            value = int(value)
        if key == "issuer_kind" and value not in ISSUER_KINDS:
            raise ValueError(f"issuer_kind must be one of {', '.join(ISSUER_KINDS)}, not {value!r}")
        if key in ("units", "unit"):
            key, value = "units", [v.strip() for v in re.split(r"[;；]", value)] if isinstance(value, str) else value
        if hasattr(meta, key):
            setattr(meta, key, value)
    return meta


def load_sidecar(path: Path) -> dict[str, dict]:
    """Map file name -> metadata overrides from a CSV (header row) or JSON file.

    JSON may be ``{"a.pdf": {...}}`` or ``[{"file": "a.pdf", ...}]``; CSV needs a
    ``file`` column and any of issuer_kind, issuer, year, report_kind, units, title.
    """
    if path.suffix.lower() == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            return {Path(k).name: dict(v) for k, v in data.items()}
        return {Path(row["file"]).name: {k: v for k, v in row.items() if k != "file"} for row in data}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return {Path(row["file"]).name: {k: v for k, v in row.items() if k != "file"} for row in csv.DictReader(fh)}
