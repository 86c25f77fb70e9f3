"""Infer who issued a report, when, what kind it is and which units it examined.

Chinese official documents state these facts in fixed places: the 版头 (masthead, "X文件"),
the 文号 (沄审报〔2023〕12号), the title ("X关于Y的Z": the issuer stands before 关于), the
speaker line of a report read to a congress ("X局局长某某"), the opening sentence ("X对Y进行了
巡察", "受X委托，Y……"), and the 落款 (signature and date) at the end. Web news items about a
report name the reporting body in the title or the first sentence and carry a publication date.
Each of these places is read by a small rule; the issuer is the first one found in the order
title, signature, speaker, masthead/meta line, opening sentence, and an abbreviated name
(市审计局, 县委第二巡察组) is completed with the city/county the document names most often.
No library parses 公文 structure, hence the hand-written rules; none is specific to one
document, and benchmarks/dev_metadata.py checks them on both labelled corpora. An analyst can
override any field per batch (CLI flags) or per file (sidecar CSV/JSON).
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path

from miner.ingest import ParsedDocument
from miner.records import ISSUER_KINDS, DocumentMeta

_DOC_NUMBER = re.compile(r"[\u4e00-\u9fff]{1,10}[〔\[［(（【](\d{4})[〕\]］)）】]\s*(?:第\s*)?\d+\s*号")
_REPORT_NO = re.compile(r"[（(](\d{4})年第\s*\d+\s*号[）)]|^(\d{4})年第\s*\d+\s*号")
_DATE = re.compile(r"((?:19|20)\d{2})\s*(?:年\s*\d{1,2}\s*月\s*\d{1,2}\s*日|[-/.]\d{1,2}[-/.]\d{1,2})")
_YEAR = re.compile(r"((?:19|20)\d{2})\s*年")
_PRINTED = re.compile(r"https?://|www\.|\d{1,2}:\d{2}")
_FISCAL_YEAR = re.compile(r"((?:19|20)\d{2})\s*年度[^。，,]{0,20}?(?:预算执行|决算|财务收支|财政收支|财政财务收支)")
_PUBLISHED = re.compile(r"(?:发布|生成|成文|印发|转载|更新)?(?:日期|时间)[：:]?\s*((?:19|20)\d{2})")

# (issuer kind, pattern) in priority order: the first that matches the title wins.
_TITLE_KINDS: list[tuple[str, re.Pattern]] = [
    ("discipline", re.compile(r"纪委|监委|纪律检查|监察委|纪工委|典型问题|八项规定|四风")),
    ("statistics", re.compile(r"统计局|统计督察|统计执法|统计调查|统计造假|统计数据质量")),
    ("congress", re.compile(r"人大|审议意见|执法检查|专题询问|询问意见|检查《.+?》.{0,4}实施情况")),
    ("inspection", re.compile(r"巡察|巡视")),
    ("audit", re.compile(r"审计")),
    ("finance", re.compile(r"财政局|财政厅|财会监督|会计信息质量|财经纪律")),
    ("legal", re.compile(r"政法委|公安|检察院|法院|司法局|执法司法")),
]
# Issuing organisations as they sign, most specific first.
_ORG_KINDS: list[tuple[str, re.Pattern]] = [
    ("inspection", re.compile(r"巡察组|巡视组|巡察办|巡视办|巡察工作领导小组|巡视工作领导小组")),
    ("congress", re.compile(r"人大常委会|人民代表大会|执法检查组|人大")),
    ("discipline", re.compile(r"纪委|监委|纪工委|纪律检查委员会|监察委员会")),
    ("audit", re.compile(r"审计局|审计厅|审计署|审计办")),
    ("statistics", re.compile(r"统计局|统计厅")),
    ("finance", re.compile(r"财政局|财政厅|财政部")),
    ("legal", re.compile(r"政法委员会|政法委|公安局|公安厅|检察院|法院|司法局|司法厅")),
]

# How the name of an issuing body ends (longest first where one is the tail of another).
_ORG_END = (
    r"(?:巡察工作领导小组办公室|巡视工作领导小组办公室|巡察工作领导小组|巡察组|巡视组|巡察办|巡视办|"
    r"人大常委会(?:执法检查组|办公室|[\u4e00-\u9fff]{2,8}委员会|[\u4e00-\u9fff]{2,6}工委)?|常委会执法检查组|执法检查组|"
    r"纪委监委|纪工委|纪委|监委|审计局|审计厅|审计署|审计办|财政局|财政厅|统计局|统计厅|"
    r"政法委员会|政法委|人民检察院|检察院|人民法院|法院|公安局|公安厅|司法局|司法厅|人民政府|"
    r"委员会|党组|党委|党工委|管委会|办公室|领导小组|局|厅|署|委|院|中心)"
)
_ORG_CHARS = r"[^\s，,。：:；;、“”\"《》【】\[\]()（）!?！？0-9-]"
# Where a title names its issuer: "X关于……", "X向……反馈", "X通报……" (news titles too).
_TITLE_ISSUER = re.compile(
    rf"^({_ORG_CHARS}{{1,40}}?{_ORG_END})"
    r"(?=关于|向|对|开展|召开|通报|公开|曝光|公布|发布|印发|完成|反馈|查处|组织|举行|部署|集中|进驻|启动|赴|到|深入|督导|调研|检查)"
)
# Speaker line of a report to a congress: "沄江市审计局局长周某某".
_SPEAKER = re.compile(
    rf"^({_ORG_CHARS}{{2,30}}?{_ORG_END})(?:党组书记、|党组成员、)?"
    r"(?:副?局长|副?主任|副?厅长|审计长|副?检察长|副?院长|副?市长|副?县长|副?区长|副?组长|副?书记)"
    r"[\u4e00-\u9fff]{1,4}$"
)
# Signature / masthead lines that end in a date: "清河市审计局2023年9月12日".
_ORG_DATE = re.compile(
    rf"^({_ORG_CHARS}{{2,40}}?{_ORG_END})\s*(?:19|20)\d{{2}}\s*(?:年\d{{1,2}}月\d{{1,2}}日|[-/.]\d{{1,2}}[-/.]\d{{1,2}})"
)
_META_ISSUER = re.compile(rf"(?:发布机构|发文机关|发布单位|发文单位)[：:|｜\s]*({_ORG_CHARS}{{2,30}}?{_ORG_END})")
_SOURCE = re.compile(rf"(?:来源|信息来源)[：:]\s*({_ORG_CHARS}{{2,30}}?{_ORG_END})(?!网|报)")
# The opening sentence: "受X委托，Y……"; "Y（于……）对Z进行了巡察"; "Y派出审计组"; "Y向Z反馈".
_OPENING = [
    re.compile(rf"受{_ORG_CHARS}{{2,30}}?委托[，,]\s*(?!向)({_ORG_CHARS}{{2,30}}?{_ORG_END})"),
    re.compile(
        rf"({_ORG_CHARS}{{2,30}}?{_ORG_END})(?:[（(][^）)]*[）)])?(?:于|自|在)?[^，,。；;]{{0,30}}?[，,]?"
        r"(?:对|向)[^。；;]{2,80}?(?:进行了|开展了|实施了|组织开展了|进行|开展|实施|反馈|发出通报|作出|予以)"
    ),
    re.compile(
        rf"({_ORG_CHARS}{{2,30}}?{_ORG_END})(?:\d+日)?(?:派出|审计了|组成|组织开展|依法审计|通报了|通报|公开通报|"
        r"发出通报|公开曝光|曝光|公布|发布|披露|获悉|进驻|反馈了|对[^。]{0,40}进行了通报)"
    ),
]
# Words that can stand before an organisation's name inside a sentence; the name starts after them.
_LEAD = re.compile(
    r"^.*(?:根据|按照|依据|经(?!济|开|信|营|委)|受|由|对(?!外)|向|在|于|会同|联合|近日|日前|近期|今天|今年|"
    r"记者从|获悉|据|\d+月\d+日|\d+日|[上下]午|[一二三四五六七八九十]+届|"
    r"代表|出席|主持|指出|表示|强调|组长|主任|书记|局长)"
)
_PARTY = re.compile(r"^(?!中共|中国共产党)[\u4e00-\u9fff]{0,12}?(?:省委|市委|州委|县委|区委|旗委|党工委|纪委|纪工委)")
_NOISE_TAIL = re.compile(
    r"^[（(【\[]?(?:抄送|抄报|报[：:]|送[：:]|发[：:]|印发|联系|此件|本文|记者|责任编辑|编辑|通讯员|"
    r"审核|校对|来源|附件|监督电话|举报电话|电话|邮箱|地址|网址|http|www|扫一扫|分享|打印|关闭|"
    r"主办|承办|协办|版权|Copyright|ICP|备案|技术支持|网站标识码)|(?:印发|主办|承办)$|ICP|^第\s*\d+\s*页"
)
_PLACE = re.compile(r"(?=([\u4e00-\u9fff]{2})(省|市|县|区))")
# A place name is a proper noun: common words that stand before 市/县/区 ("全市", "城市", "向市",
# "小区", "景区") are not. The lists name those words' last characters.
_PLACE_ORGAN = re.compile(r"第|委|人民|人大|纪委|监委|审计|财政|统计|政府|中级|公安|检察|法院|政法|巡察|党")
_NOT_PLACE_END = set(
    "省市县区副正向对据照度了及于在全各本该我某是报送受交为属称求实至与和的成到由经从给将把被让按依除即前后来分个层辖留议察计查并就同以等"
)
_NOT_PLACE_END_BY_LEVEL = {
    "市": set("城超股夜门上集菜街都早黑楼车贸"),
    "区": set("小社景园辖城片厂校院库矿山街营新开灾牧林老郊"),
}

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
    keywords = re.compile(r"报告|意见|通报|公告|结果|情况|决定|问题|反馈|询问|案例|曝光|公布")
    for text in titles:
        if keywords.search(text) and not text.endswith("文件"):
            return text
    for b in doc.blocks[:6]:
        if keywords.search(b.text) and len(b.text) <= 80 and not b.text.endswith(("。", "：")):
            return b.text
    return titles[0] if titles else (doc.blocks[0].text[:80] if doc.blocks else "")


_NAME_TAGS = {"ns", "nr", "nrt", "nz", "nt"}
_tags: dict[str, str] | None = None


def _word_tags() -> dict[str, str]:
    """Two-character words of jieba's dictionary with their part-of-speech tag, read once.

    Read straight from the dictionary file (half a second) rather than by initialising
    jieba.posseg, which builds a prefix dictionary that this lookup does not need.
    """
    global _tags
    if _tags is None:
        import jieba

        data = jieba.get_dict_file().read()
        cjk2 = rb"[\xe4-\xe9][\x80-\xbf]{2}[\xe4-\xe9][\x80-\xbf]{2}"  # two CJK characters in UTF-8
        _tags = {w.decode(): t.decode() for w, t in re.findall(rb"^(" + cjk2 + rb") \d+ (\w+)\r?$", data, re.M)}
    return _tags


def _places(text: str) -> dict[str, str]:
    """The place most often named at each level ("市" → "沄江市"), counted over the whole text.

    Two characters before 市/县/区 are a place name unless they are a dictionary word that is
    not a name (jieba's tags: 进驻市委, 根据市委, 五届市委) or end like one (全市, 城市, 小区).
    A name seen once counts only where it reads as a name: at the start of a line or after
    punctuation, or before an organ ("沄江市委", "沄江市审计局").
    """
    counts: Counter[str] = Counter()
    strong: set[str] = set()
    tags = _word_tags()
    for m in _PLACE.finditer(text):
        stem, level = m.group(1), m.group(2)
        if (
            stem[0] in "某各全本该我每"
            or stem[1] in _NOT_PLACE_END
            or stem[1] in _NOT_PLACE_END_BY_LEVEL.get(level, ())
            and tags.get(stem) != "ns"
            or tags.get(stem, "ns") not in _NAME_TAGS
        ):
            continue
        counts[stem + level] += 1
        before = text[m.start() - 1 : m.start()] if m.start() else ""
        after_boundary = not before or not "\u4e00" <= before <= "\u9fff" or before in "于对在向和及与至由从经据照"
        if after_boundary or _PLACE_ORGAN.match(text, m.start() + 3):
            strong.add(stem + level)
    best: dict[str, str] = {}
    for name, n in sorted(counts.items(), key=lambda kv: (-(kv[1] + (kv[0] in strong)), kv[0])):
        level = name[-1]
        if level not in best and (n >= 2 or name in strong):
            best[level] = name
    return best


def normalise_issuer(name: str) -> str:
    """Canonical spelling: 纪委监委 for the joint discipline organ, 人大常委会, no spaces."""
    name = re.sub(r"\s+", "", name)
    name = name.replace("纪律检查委员会", "纪委").replace("监察委员会", "监委")
    name = name.replace("人民代表大会常务委员会", "人大常委会")
    # "中共X纪委X监委" / "X纪委X监委" (one joint organ signing twice) → "中共X纪委监委"
    name = re.sub(r"^((?:中共)?([\u4e00-\u9fff]{2,12}?)纪委)\2?监委$", r"\1监委", name)
    return name


def _clean(name: str) -> str:
    """Drop words that precede a name in a sentence ("根据市委……" → "市委……")."""
    name = re.sub(r"\s+", "", name)
    m = _LEAD.match(name)
    if m and len(name) - m.end() >= 2:
        name = name[m.end() :]
    return name.strip("（）()")


def complete_issuer(name: str, text: str) -> str:
    """Complete an abbreviated issuer with the places the document names.

    "市审计局" → "沄江市审计局"; "区委第一巡察组" → "中共沄江市东湖区委第一巡察组"; party organs
    (市委/县委/纪委 …) get their formal "中共" prefix.
    """
    name = normalise_issuer(name)
    if not name:
        return name
    party = name.startswith("中共")
    core = name[2:] if party else name
    district = re.match(r"[\u4e00-\u9fff]{2,3}区", core)
    if not (core[:1] in "省市县区" or district):
        places: dict[str, str] = {}
    else:
        places = _places(text)
    if core[:1] in "省市县区" and core[:1] in places:
        core = places[core[:1]] + core[1:]
        district = re.match(r"[\u4e00-\u9fff]{2,3}区", core)
    city = places.get("市", "")
    if city and district and not core.startswith(city):
        stem = city[:-1]
        core = (stem if stem + core[: district.end()] in text else city) + core
    name = ("中共" if party else "") + core
    if _PARTY.match(name) and "人大" not in name and "政府" not in name:
        name = "中共" + name
    return name


def _org_line(text: str) -> str:
    """The text as an issuer name when the whole line is one (a signature or masthead)."""
    t = re.sub(r"\s+", "", text).strip("（）()")
    t = re.sub(r"文件$", "", t)
    if 3 <= len(t) <= 40 and re.fullmatch(rf"{_ORG_CHARS}+?{_ORG_END}", t):
        return t
    # two organs signing together, "中共X纪委 X监委"
    if 3 <= len(t) <= 40 and re.fullmatch(rf"(?:{_ORG_CHARS}+?{_ORG_END}){{2}}", t):
        return t
    return ""


def _signature(blocks: list[str]) -> str:
    """The 落款: the organisation on the last lines, before its date (trailing notes skipped)."""
    for t in reversed(blocks[-12:]):
        s = re.sub(r"\s+", "", t)
        if not s or _NOISE_TAIL.search(s):
            continue
        if _DATE.fullmatch(s) or re.fullmatch(r"[（(]?(?:19|20)\d{2}年\d{1,2}月\d{1,2}日[)）]?", s):
            continue
        m = _ORG_DATE.match(s)
        if m:
            return m.group(1)
        org = _org_line(s)
        if org:
            return org
        if len(s) > 40 or s.endswith(("。", "；", "：")):
            break
    return ""


def _title_issuer(title: str) -> str:
    if len(title) > 80 or re.search(r"[，,。；;]", title):
        return ""  # a sentence, not a title (a news item whose first line is its lead)
    pieces = re.split(r"——|—|：|:", title)
    for i, piece in enumerate(pieces):
        m = _TITLE_ISSUER.match(re.sub(r"\s+", "", piece))
        if m and not _LEAD.match(m.group(1)):
            return m.group(1)
        if i < len(pieces) - 1 and _org_line(piece):  # "江州市审计局：……"
            return _org_line(piece)
    return ""


def infer_issuer(blocks: list[str], title: str, text: str) -> str:
    """The body that issued the report, by the places 公文 and news items name it."""
    head = blocks[:8]
    found = ""
    # a reposted news item keeps the issuer's own title: "（原标题：X关于……）"
    original = next((m.group(1) for t in head for m in [re.search(r"原标题[：:]\s*([^）)]+)", t)] if m), "")
    by_title = _title_issuer(original) or _title_issuer(title)
    signature = _signature(blocks)
    if by_title:
        found = by_title
        sig = normalise_issuer(signature)
        core = re.sub(r"^中共", "", normalise_issuer(by_title))
        # the signature usually spells out what the title abbreviates
        if sig and len(sig) > len(core) and sig.endswith(core.lstrip("省市县区") if len(core) > 4 else core):
            found = sig
    elif signature:
        found = signature
    if not found:
        for t in head:
            m = _SPEAKER.match(re.sub(r"\s+", "", t))
            if m:
                found = m.group(1)
                break
    if not found:
        for t in head:
            s = re.sub(r"\s+", "", t)
            m = _META_ISSUER.search(s) or _ORG_DATE.match(s)
            if m:
                found = m.group(1)
                break
    if not found:
        for t in head[:3]:
            if len(t) <= 40:
                found = _org_line(t)
                if found:
                    break
    if not found:
        opening = [t for t in blocks[:10] if len(t) > 20][:4]
        for pat in _OPENING:
            for t in opening:
                m = pat.search(t)
                if m and len(_clean(m.group(1))) >= 2:
                    found = _clean(m.group(1))
                    break
            if found:
                break
    if not found:
        for t in head:
            m = _SOURCE.search(re.sub(r"\s+", "", t))
            if m:
                found = m.group(1)
                break
    return complete_issuer(_clean(found), text) if found else ""


def infer_year(blocks: list[str], doc_number: str) -> int | None:
    """Year of issue: 文号, then 落款 date, then publication line, then dates and years in the head."""
    m = _DOC_NUMBER.search(doc_number)
    if m:
        return int(m.group(1))
    head, tail = blocks[:8], blocks[max(2, len(blocks) - 8) :]
    for t in head:
        rn = _REPORT_NO.search(t)
        if rn:
            return int(rn.group(1) or rn.group(2))
    for t in reversed(tail):
        s = re.sub(r"\s+", "", t)
        d = _DATE.search(s)
        # a browser's print header/footer (clock time, URL) dates the printout, not the report
        if d and len(s) <= 60 and not _NOISE_TAIL.search(s) and not _PRINTED.search(s):
            return int(d.group(1))
    for t in blocks[:15]:
        s = re.sub(r"\s+", "", t)
        p = _PUBLISHED.search(s)
        if p:
            return int(p.group(1))
    for t in head:
        d = _DATE.search(t)
        if d and len(t) <= 80:
            return int(d.group(1))
    for t in head[:4]:
        d = _DATE.search(t)
        if d:
            return int(d.group(1))
    # Nothing dated: a report on a fiscal year (预算执行, 决算, 财务收支) comes out the year after.
    fiscal = [int(y) + 1 for t in head for y in _FISCAL_YEAR.findall(t)]
    years = [int(y) for t in head for y in _YEAR.findall(t)] + fiscal
    if not years:  # a news item that dates nothing in its head: the latest year it mentions
        years = [int(y) for t in blocks for y in _YEAR.findall(t)]
    return max(years) if years else None


def infer_kind(title: str, issuer: str, opening: str, body: str = "") -> str:
    """Issuer kind from the issuing body when it is a supervision body, else from the title,
    the opening lines, and last the kind whose words the whole text uses most."""
    for k, pat in _ORG_KINDS:
        if pat.search(issuer):
            return k
    for text in (title, opening):
        for k, pat in _TITLE_KINDS:
            if pat.search(text):
                return k
    votes = Counter({k: len(pat.findall(body)) for k, pat in _TITLE_KINDS})
    kind, n = votes.most_common(1)[0] if votes else ("other", 0)
    return kind if n else "other"


def infer_metadata(doc: ParsedDocument, filename: str = "") -> DocumentMeta:
    """Best-effort metadata from the text alone."""
    blocks = [b.text for b in doc.blocks]
    head = blocks[:8]
    title = _title(doc)
    meta = DocumentMeta(title=title)

    m = next((m for t in head for m in [_DOC_NUMBER.search(t)] if m), None)
    if m:
        meta.doc_number = m.group(0)
    meta.year = infer_year(blocks, meta.doc_number)
    meta.issuer = infer_issuer(blocks, title, doc.text or "\n".join(blocks))
    meta.issuer_kind = infer_kind(title, meta.issuer, "".join(head), doc.text or "".join(blocks))

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
