"""Split a report into individual problem findings.

Chinese supervision reports state problems in a handful of shapes: numbered items
at any level (一、（一）1.（1）①), inline runs (一是……二是……), semicolon lists
under a heading, table rows, problems quoted in rectification reports
(关于“……”的问题), and problem sentences inside narrative paragraphs. Around them
sit background, achievements (成效), recommendations (建议, 一要……), rectification
(整改情况, 已整改), punishments in discipline cases, signatures and dates, which
are not findings.

The extractor walks the blocks of a document once, keeping a heading path that
tells (a) whether we are in a problem section, a non-problem section or an
unlabelled one, and (b) which unit the section is about. Every rule below is a
general convention of the genre; none names a particular document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from miner.ingest import Block, ParsedDocument

# ----------------------------------------------------------------------------- cues

# Words that state a deficiency. A clause without any of them is not a problem.
PROBLEM_CUES = re.compile(
    r"未|不(?!断|仅|少|同|再|久|但|管|论|得不|过|辞)|没有|无(?!论|私|愧|缝)|缺乏|缺失|缺位|欠缺|薄弱|弱化|淡化|虚化|"
    r"违规|违反|违纪|违法|违背|超[标范额出过期概时编支]|超过|虚[报增列开假构]|挤占|挪用|截留|套取|骗取|冒领|侵占|滞留|"
    r"闲置|沉淀|积压|挂账|拖欠|欠缴|坐支|私设|私用|公车私用|乱[发收支]|多[计付发收报]|重复|高估|高套|冒算|少[缴收计]|"
    r"流于形式|走过场|打折扣|搞变通|层层加码|形式主义|官僚主义|弄虚作假|造假|篡改|失察|失职|失管|失控|"
    r"偏[低高大差弱慢]|较[大多慢弱低差重]|过[大多高低度长]|仅[为占有]|低于|高于|差距|短板|隐患|漏洞|瑕疵|盲区|"
    r"滞后|缓慢|不畅|脱节|随意|擅自|变相|规避|化整为零|拆分|先[建定干]后|补[签办记]|收受|宴请|吃喝|公款旅游|即开工|提前开工|批复前|先[\u4e00-\u9fff]{1,4}后|晚于|"
    r"问题|现象|情况较为突出|有待|亟待|仍[有然存]|依然|存在|长期|久拖|迟迟|反弹|回潮|屡[审查犯改禁]|"
    r"损失|浪费|风险|亏损|错误|差错|混乱|避重就轻|重[^\s]{1,4}轻|停留在|两张皮|走样|宽松软|灯下黑|"
    r"(?:率|度|性|效益|效率|水平|质量|进度)(?:偏|较|很)?(?:低|慢|差|弱)|"
    r"乏力|松懈|松散|宽松|软弱|涣散|失范|空转|悬空|虚设|难以|出入|偏差|干预|老化|陈旧|同质化|空壳|外流|优亲厚友|以权谋私|吃拿卡要|懒政|怠政|推诿|顶风"
)
# A clause that reports a remedy, a punishment, an achievement or a plan.
NON_PROBLEM_CUES = re.compile(
    r"^(?:整改情况|整改措施|整改结果|处理情况|处理结果)|(?<!虚报)(?<!谎报)已(?:经)?(?:整改|完成|追回|收回|补缴|缴入|撤销|清退|退还|清理|"
    r"补办|补记|归还|收缴|退赔|全部|按规定|依法|对|将|会同|建立|制定|出台|修订|开展)|"
    r"受到.{0,20}处分|给予.{0,20}(?:处分|处理|问责)|移送|诫勉|免职|撤职|开除|调离|责令.{0,10}(?:退|改|检查)|"
    r"^(?:要(?!求)|应|应当|建议|需要|必须|切实|进一步|加强|加快|严格|确保|推动|坚持|持续|着力|抓紧|认真|全面|务必|督促|"
    r"一要|二要|三要|四要|五要|六要|七要|下一步|今后)|"
    r"取得(?:了)?(?:明显|积极|显著|一定)?(?:成效|进展|成绩)|成效明显|总体(?:较好|良好|平稳)|稳步|有效保障|持续加力|"
    r"^[^，,]{0,20}(?:表示|回应|回答|答复|介绍|强调)[，,：:]|诚恳接受|认真研究|欢迎|联系电话|邮政信箱|举报电话|"
    r"^(?:针对|上述|以上|这些)|上述.{0,6}问题|^[^，,。]{0,12}要(?!求)(?:高度|切实|认真|进一步|严格|深刻|加强|坚持|把|引以为戒)|"
    r"^.{0,14}要求[，,：:]|提出(?:了)?.{0,12}(?:意见|建议)|正在(?:整改|推进|清理)|整改中$|方式整改|督促.{0,10}核减|"
    r"(?<!虚报)(?<!谎报)已[\u4e00-\u9fff]{0,3}(?:上缴|核减|清理|撤销|收回|追回|缴入|退还|清退|整改|完成|补办|归还)"
)
# Plans and recommendations written as bare imperatives ("建立……机制，规范……程序").
IMPERATIVE = re.compile(
    r"^(?:建立|健全|完善|规范|优化|提升|提高|强化|防范|压实|严肃|深化|盘活|统筹|加大|扩大|推进|夯实|充实|指导|依法|"
    r"坚决|着力|注重|引导|督促|探索|做好|抓好|用好|管好)"
)
STRONG_NEG = re.compile(r"未|不|没有|无|缺|违|超|虚|挤占|挪用|截留|套取|闲置|挂账|拖欠|滞后|流于形式")
# Announcements and lead-ins that only introduce findings.
LEAD_IN = re.compile(
    r"(?:发现|存在|指出|反映|查出|还有)(?:了|的)?(?:以下|如下|一些|下列|不少|诸多|较多|部分|若干)?(?:突出|主要|明显|一些|不容忽视的|亟待解决的|值得关注的)?"
    r"(?:问题|不足|短板|差距)(?:和不足|和短板|和差距)?"
    r"(?:如下|是|有|[，,]?主要(?:是|有|表现在|表现为))?[：:。，,]?$|"
    r"问题(?:主要)?集中(?:在|于)|主要原因(?:是|有|为)?[：:。]?$|原因如下|以下几个方面[：:。]?$|"
    r"进行(?:了)?通报|予以通报|予以公开|予以公布|"
    r"(?:如下|具体如下|情况如下|通报如下|公告如下|报告如下|如下表|见下表|详见附表)[：:。]?$|"
    r"^(?:主要问题|发现的主要问题|存在的主要问题|主要表现|具体表现|问题表现)[是有为]?[：:]?$"
)
BACKGROUND = re.compile(
    r"^(?:根据|按照|依据|依照|受.{0,10}委托|经.{0,6}批准|为(?:了)?(?:进一步|深入|贯彻|推动|加强)).{0,80}"
    r"(?:进行了|开展了|实施了|组织了|听取|审计|巡察|检查|调查)|^(?:主任、|各位|县人民政府：|市人民政府：)|"
    r"^(?:近日|日前|近期|\d{1,2}月\d{1,2}日|\d{4}年\d{1,2}月\d{1,2}日)[，,].{0,80}(?:会议|举行|开展|反馈|通报|召开)"
)
NEG_HEADING = re.compile(
    r"建议|意见建议|整改意见|整改要求|整改工作|下一步|打算|工作安排|成效|成绩|基本情况|总体情况|总体评价|审计评价|评价意见|"
    r"主要做法|工作开展|取得的|处理情况|整改落实|原因分析|几点意见|工作要求|有关要求"
)
POS_HEADING = re.compile(r"问题|发现|不足|差距|短板|薄弱|风险|隐患")
UNIT_HEADING = re.compile(
    r"(?:局|委|办|所|站|中心|公司|集团|院|校|学校|医院|镇|乡|街道|党组|党委|党支部|党工委|党总支|委员会|厅|馆|队|社区|村|政府)$"
)

_MARKERS = [
    (1, re.compile(r"^[一二三四五六七八九十]{1,3}[、.．]\s*")),
    (2, re.compile(r"^[（(][一二三四五六七八九十]{1,3}[)）]\s*")),
    (3, re.compile(r"^\d{1,2}\s*[.．、](?!\d)\s*")),
    (4, re.compile(r"^[（(]\d{1,2}[)）]\s*")),
    (5, re.compile(r"^[①-⑳]\s*")),
]
RUN_MARKER = re.compile(r"(?:^|(?<=[：:；;。，,\s]))(?:其)?([一二三四五六七八九十])(?:是|要|则)(?=[^\s])")
QUOTED_PROBLEM = re.compile(r"(?:关于|针对)\s*[“\"「]?(.{6,200}?)[”\"」]?\s*的问题")
DETAIL_START = re.compile(r"\s*(?:\d{4}年|截至|截止|其中|经查|该|此外还|目前|至今|涉及|共计|合计|如|例如|比如)")
SENTENCE_END = re.compile(r"(?<=[。！？!?])(?![”’」』])|(?<=[。！？!?][”’」』])")
QUESTION = re.compile(r"[？?]|为什么|怎样|怎么|如何|吗$|呢$")
LEAD_PHRASE = re.compile(
    r"^(?:(?:此外|另外|同时|其次|再次|最后|具体来看|具体而言|具体表现为|主要表现为|主要是|经查|审计发现|审计指出|"
    r"巡察发现|检查发现|调查发现|审计报告指出|报告指出|会议指出|会议认为|巡察组指出|常委会认为)[，,：:]?|"
    r"[^，,。]{0,8}(?:还|也|同时|另外|此外)(?:发现|指出|反映)[，,：:]|"
    r"(?:在|从)[^，,。]{1,20}(?:方面|上|看|来看|中)[，,]|"
    r"[^，,。]{0,12}(?:发现|指出|反映)的?(?:主要)?问题(?:有|是|为)?[：:])"
)


@dataclass
class FindingSpan:
    start: int
    end: int
    page: int
    unit: str = ""
    heading: str = ""
    confidence: float = 1.0  # the problem model's probability that this is a problem statement
    review: bool = False  # below the model's threshold: listed for an analyst to accept or reject


@dataclass
class Candidate:
    """A span that may be a finding, with the context the problem model reads.

    The rules below find the *shape* of a report (numbering, tables, headings,
    units, sentence and clause boundaries) and propose every statement as a
    candidate; whether it states a problem is decided by the learned model in
    :mod:`miner.problem_model`. ``rule_ok`` is what the hand-written cues say, kept
    as one feature among many.
    """

    start: int
    end: int
    page: int
    text: str
    source: str  # headline | run | sentence | clause | row | quoted | standalone
    rule_ok: bool
    zone: str = ""  # pos | neg | "" from the heading path
    level: int = 0  # numbering level of the block
    heading: str = ""
    unit: str = ""
    title: str = ""
    position: float = 0.0  # relative position of the block in the document
    after_quoted: bool = False  # inside an item that restates a problem (关于“……”的问题)
    block_first: bool = True  # the candidate opens its block
    group: int = -1  # candidates of one group are alternatives: the whole statement or its parts
    alt: str = ""  # "whole" | "part" within a group
    lead: str = ""  # for items of a list: the words that announce it (…主要有： / 建议：)


def _marker(text: str) -> tuple[int, int]:
    """(level, length) of a leading numbering marker, or (0, 0)."""
    for level, pat in _MARKERS:
        m = pat.match(text)
        if m:
            return level, m.end()
    return 0, 0


def is_problem(clause: str, min_len: int = 6) -> bool:
    """A clause states a problem: a deficiency cue and no remedy/plan/achievement cue."""
    c = clause.strip("，,。；;：: ")
    if len(c) < min_len or not re.search(r"[\u4e00-\u9fff]", c):
        return False
    if NON_PROBLEM_CUES.search(c) or LEAD_IN.search(c) or BACKGROUND.search(c):
        return False
    if IMPERATIVE.match(c) and not STRONG_NEG.search(c):
        return False
    if QUESTION.search(c) and not PROBLEM_CUES.search(QUESTION.split(c)[0]):
        return False
    return PROBLEM_CUES.search(c) is not None


def _is_heading(text: str, level: int, body: str) -> bool:
    """A numbered line that names a section rather than stating content."""
    if level == 0:
        return False
    if len(body) > 40:
        return False
    inner = body.rstrip("。：:")
    return not re.search(r"[。；;，,]", inner) or len(inner) <= 16


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink [start, end) past whitespace, numbering, lead phrases and end punctuation."""
    while start < end and text[start] in " \t\u3000，,；;：:":
        start += 1
    while True:
        level, n = _marker(text[start:end])
        if not n:
            break
        start += n
    run = re.match(r"(?:其)?[一二三四五六七八九十](?:是|则)", text[start:end])
    if run:
        start += run.end()
    lead = LEAD_PHRASE.match(text[start:end])
    if lead and end - start - lead.end() >= 8:
        start += lead.end()
    while start < end and text[start] in " \t\u3000，,；;：:":
        start += 1
    while end > start and text[end - 1] in " \t\u3000，,；;：:。.！!":
        end -= 1
    return start, end


def _split_positions(text: str, start: int, end: int, pattern: re.Pattern) -> list[tuple[int, int]]:
    """Split [start, end) at pattern matches (zero-width ok); returns absolute spans."""
    cuts = [start]
    for m in pattern.finditer(text, start, end):
        if m.start() > cuts[-1]:
            cuts.append(m.start() if m.group(0) else m.end())
    cuts.append(end)
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]


# A clause that opens with a new subject (another unit, "some of", "in addition") after a
# comma or semicolon may be a problem of its own rather than a detail of the one before.
NEW_SUBJECT = re.compile(
    r"(?:另有|另外|此外|还有|同时|与此同时|部分|有的|个别|一些|少数|多个|多家|其余|剩余|尚有|仍有|"
    r"\d+个|\d+家|\d+所|\d+名|[两二三四五六七八九十]+(?:个|家|所|名)|"
    r"[市县区镇乡][^\s，,；;。]{1,12}(?:局|委|办|院|中心|公司|集团|学校|医院|政府|街道|镇|乡|所|站|馆|队))"
)


# A unit named inside a statement ("市城市管理局将……", "县第一中学向……"): the subject of the
# problem when no heading or table column names one.
UNIT_IN_TEXT = re.compile(
    r"(?:[\u4e00-\u9fff]{2,6}[市县区])?(?:市|县|区|镇|乡)?[\u4e00-\u9fff]{1,14}?"
    r"(?:局|委员会|委|办公室|办|中心|有限公司|公司|集团有限公司|集团|学校|中学|小学|医院|卫生院|街道办事处|街道|政府|镇|乡|所|站|馆)"
    r"(?=[^\u4e00-\u9fff]|所属|下属|原|项目|新|[将向对在于未把以从为有的等及和与已仍])"
)
_NOT_A_UNIT = re.compile(
    r"^(?:部分|有的|个别|一些|少数|多个|全|各|该|本|其|上级|有关|相关|所属|下属|审计|巡察|检查|借|向|对|由|原)"
)


def unit_in_text(text: str) -> str:
    """The first unit the statement names, or "" (anonymised 某局 and "部分单位" are not units).

    Only for reports about several units (or none named): in a report about one unit the
    names inside its statements are mostly its venues, subsidiaries and counterparties.
    """
    for m in UNIT_IN_TEXT.finditer(text[:60]):
        name = m.group(0)
        if "某" in name or _NOT_A_UNIT.match(name) or len(name) < 3:
            continue
        return name
    return ""


def _sub_problems(text: str, start: int, end: int, headline: bool) -> list[tuple[int, int]]:
    """The statement cut into sub-problems, or [] when it reads as one problem.

    A headline over several sub-problems ("基本建设程序执行不严格。A项目……；B工程……")
    and a sentence listing problems of different subjects are both common; whether
    the parts or the whole is the finding is left to the problem model, which sees
    both alternatives. Cuts go at semicolons, and at commas before a new subject;
    the headline of a headline item is a category and is not a part.
    """
    body_start = start
    if headline:
        first = SENTENCE_END.search(text, start, end)
        if not first or first.end() >= end:
            return []
        body_start = first.end()
    cuts = [body_start]
    for m in re.finditer(r"[；;，,。]", text[body_start:end]):
        pos = body_start + m.end()
        if pos >= end:
            break
        if m.group(0) in "；;。" or NEW_SUBJECT.match(text, pos):
            cuts.append(pos)
    cuts.append(end)
    parts = [_trim(text, a, b) for a, b in zip(cuts, cuts[1:])]
    parts = [(a, b) for a, b in parts if b - a >= 6]
    # Only clauses that state a deficiency of their own count; details are merged back.
    merged: list[tuple[int, int]] = []
    for a, b in parts:
        if merged and (not is_problem(text[a:b]) or DETAIL_START.match(text[a:b])):
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    if len(merged) < 2 or not all(is_problem(text[a:b]) for a, b in merged):
        return []
    return merged


def _choose_alternatives(cands: list[Candidate], probs) -> list[bool]:
    """Per group, keep the whole statement or its parts, whichever the model finds likelier."""
    keep = [True] * len(cands)
    groups: dict[int, list[int]] = {}
    for i, c in enumerate(cands):
        if c.group >= 0:
            groups.setdefault(c.group, []).append(i)
    for members in groups.values():
        whole = [i for i in members if cands[i].alt == "whole"]
        parts = [i for i in members if cands[i].alt == "part"]
        split = bool(parts) and sum(probs[i] for i in parts) / len(parts) > max(probs[i] for i in whole)
        for i in whole if split else parts:
            keep[i] = False
    return keep


Piece = tuple[int, int, bool, str]  # (start, end, rule says problem, source)


class FindingExtractor:
    """Turns a parsed document into finding spans; one instance can be reused.

    ``candidates`` walks the blocks once and proposes every statement with its
    context; ``extract`` keeps those the problem model accepts.
    """

    def __init__(self, model=None, threshold: float | None = None, floor: float | None = None) -> None:
        self._model = model
        self._threshold = threshold
        self._floor = floor

    def extract(self, doc: ParsedDocument) -> list[FindingSpan]:
        """Findings (confidence ≥ the model's threshold) in document order."""
        return [s for s in self.scored(doc) if not s.review]

    def scored(self, doc: ParsedDocument) -> list[FindingSpan]:
        """Every candidate at or above the review floor, with its confidence; those under
        the threshold are marked for review."""
        from miner import problem_model

        model = self._model or problem_model.default_model()
        # A problem restated in a rectification report (关于“……”的问题) is a record of what
        # was done about an earlier finding, never a new finding: every corpus agrees.
        cands = [c for c in self.candidates(doc) if c.source != "quoted"]
        if not cands:
            return []
        probs = model.predict(cands)
        floor = self._floor if self._floor is not None else model.floor
        keep = _choose_alternatives(cands, probs)
        threshold = self._keep()
        return [
            FindingSpan(
                c.start,
                c.end,
                c.page,
                c.unit,
                c.heading,
                round(float(p), 4),
                bool(p < threshold),
            )
            for c, p, k in zip(cands, probs, keep)
            if k and p >= floor
        ]

    def restated(self, doc: ParsedDocument) -> list[Candidate]:
        """Problems restated in a rectification report, for rectification records."""
        return [c for c in self.candidates(doc) if c.source == "quoted"]

    def _keep(self) -> float:
        from miner import problem_model

        if self._threshold is not None:
            return self._threshold
        return (self._model or problem_model.default_model()).threshold

    def candidates(self, doc: ParsedDocument) -> list[Candidate]:
        text = doc.text
        cands: list[Candidate] = []
        headings: dict[int, str] = {}
        zones: dict[int, str] = {}  # level -> "pos" | "neg"
        units: dict[int, str] = {}
        table_col: tuple[int, int] | None = None
        title = next((b.text for b in doc.blocks[:6] if b.kind == "title"), "")
        quoted_level: int | None = None  # level of the item that restated a problem
        n_blocks = max(len(doc.blocks), 1)
        for i, (block, bstart) in enumerate(zip(doc.blocks, doc.block_starts)):
            btext = block.text
            bend = bstart + len(btext)
            if block.kind == "title":
                if i > 0 and re.match(r"附(?:表|件)|.{0,40}(?:明细表|清单|一览表)$", btext):
                    # An appendix starts afresh: the zones of the body end with it.
                    headings.clear()
                    zones.clear()
                    units.clear()
                    zones[0] = "pos" if re.search(r"问题", btext) else ""
                continue
            if re.fullmatch(r"附(?:表|件)\s*\d*[：:]?", btext):
                headings.clear()
                zones.clear()
                units.clear()
                continue
            ctx = dict(
                title=title,
                position=i / n_blocks,
                heading=" > ".join(headings[lv] for lv in sorted(headings)),
                unit=next((units[lv] for lv in sorted(units, reverse=True)), ""),
                zone=next((zones[lv] for lv in sorted(zones, reverse=True)), ""),
            )
            if block.kind == "row":
                table_col = self._table_row(doc, block, bstart, table_col, cands, units, ctx)
                continue
            table_col = None
            level, mlen = _marker(btext)
            body = btext[mlen:]
            if level and quoted_level is not None and level <= quoted_level:
                quoted_level = None
            if _is_heading(btext, level, body) and not self._standalone_item(doc.blocks, i, level, body):
                for lv in [lv for lv in headings if lv >= level]:
                    headings.pop(lv)
                    zones.pop(lv, None)
                    units.pop(lv, None)
                if level == 1:
                    zones.pop(0, None)
                headings[level] = body.rstrip("。：:")
                h = headings[level]
                if NEG_HEADING.search(h) and not re.search(r"问题及原因|存在问题|尚未整改", h):
                    zones[level] = "neg"
                elif POS_HEADING.search(h):
                    zones[level] = "pos"
                if UNIT_HEADING.search(h) and not POS_HEADING.search(h) and len(h) <= 30:
                    units[level] = h
                if QUOTED_PROBLEM.search(h):
                    quoted_level = level
                    cands.extend(self._quoted(doc, bstart, bend, level, ctx))
                continue
            if btext.endswith(("：", ":")) and len(btext) <= 60:
                # "为此，……提出以下意见和建议：" opens a non-problem stretch, "发现的主要问题如下：" a problem one.
                if re.search(r"意见|建议|要求|措施|打算|安排", btext) and "问题" not in btext:
                    zones[0] = "neg"
                    continue
                if POS_HEADING.search(btext):
                    zones[0] = "pos"
                    ctx["zone"] = next((zones[lv] for lv in sorted(zones, reverse=True)), "")
            quoted = self._quoted(doc, bstart, bend, level, ctx)
            if quoted:
                quoted_level = level if level else quoted_level
                cands.extend(quoted)
                rest = max(c.end for c in quoted)
                tail = re.search(r"的问题[”」]?[。：:]?", text[rest:bend])
                pieces = self._free_text(text, rest + tail.end(), bend) if tail else []
            else:
                pieces = self._paragraph(text, bstart, bend, level, mlen)
            leads = self._leads(doc, i, bstart, pieces)
            for k, (s, e, ok, src) in enumerate(pieces):
                s, e = _trim(text, s, e)
                if e - s < 6 or not re.search(r"[\u4e00-\u9fff]", text[s:e]):
                    continue
                whole = Candidate(
                    s,
                    e,
                    doc.page_at(s),
                    text[s:e],
                    src,
                    ok,
                    level=level,
                    after_quoted=quoted_level is not None,
                    block_first=k == 0,
                    lead=leads[k],
                    **ctx,
                )
                cands.append(whole)
                parts = _sub_problems(text, s, e, src == "headline")
                if parts:
                    whole.group, whole.alt = len(cands), "whole"
                    for ps, pe in parts:
                        cands.append(
                            Candidate(
                                ps,
                                pe,
                                doc.page_at(ps),
                                text[ps:pe],
                                src,
                                is_problem(text[ps:pe]),
                                level=level,
                                after_quoted=whole.after_quoted,
                                block_first=k == 0,
                                group=whole.group,
                                alt="part",
                                lead=whole.lead,
                                **ctx,
                            )
                        )
        return cands

    @staticmethod
    def _leads(doc: ParsedDocument, i: int, bstart: int, pieces: list[Piece]) -> list[str]:
        """What announces each list (一是 run, 有的 clauses): the words just before its first item,
        or the previous paragraph when the list opens its own and that one ends with a colon.

        "发现的问题主要有：一是……" and "为此建议：一是……" have the same shape; only the
        announcement tells problems from recommendations, and it is outside every item.
        """
        leads: list[str] = []
        first = ""
        for k, (s, _, _, src) in enumerate(pieces):
            if src not in ("run", "clause"):
                leads.append("")
                continue
            if k == 0 or pieces[k - 1][3] != src:  # the first item of a list
                before = RUN_MARKER.sub("", doc.text[max(bstart, s - 24) : s]).strip()
                if s - bstart <= 4 and i > 0 and doc.blocks[i - 1].text.rstrip().endswith(("：", ":")):
                    before = doc.blocks[i - 1].text.strip()
                first = before[-16:]
            leads.append(first)
        return leads

    @staticmethod
    def _standalone_item(blocks: list[Block], i: int, level: int, body: str) -> bool:
        """A short numbered problem line with nothing under it is a finding, not a heading.

        "（一）暂付款长期挂账未清理。" followed by "（二）……" or "二、……" stands alone;
        followed by deeper items or unnumbered text it heads a section.
        """
        if level < 2 or not is_problem(body):
            return False
        nxt = next((b for b in blocks[i + 1 :] if b.kind != "row"), None)
        if nxt is None:
            return True
        nlevel, _ = _marker(nxt.text)
        return 0 < nlevel <= level

    # ------------------------------------------------------------------ shapes

    def _quoted(self, doc: ParsedDocument, start: int, end: int, level: int, ctx: dict) -> list[Candidate]:
        """Problems restated in rectification reports: 关于“……”的问题 / 针对……的问题."""
        text = doc.text
        out = []
        _, mlen = _marker(text[start:end])
        for m in QUOTED_PROBLEM.finditer(text, start, end):
            inner_s, inner_e = m.start(1), m.end(1)
            # Only when the quote opens the item or a sentence: 关于 in running prose
            # ("关于预算管理的问题较多") is not a quotation.
            before = text[start + mlen : m.start()].strip()
            if before and not before.endswith(("。", "；", "，")):
                continue
            s, e = _trim(text, inner_s, inner_e)
            if e - s >= 6:
                ok = is_problem(text[s:e])
                out.append(
                    Candidate(s, e, doc.page_at(s), text[s:e], "quoted", ok, level=level, after_quoted=True, **ctx)
                )
        return out

    def _paragraph(self, text: str, start: int, end: int, level: int, mlen: int) -> list[Piece]:
        content_start = start + mlen
        sentences = _split_positions(text, content_start, end, SENTENCE_END)
        first = text[sentences[0][0] : sentences[0][1]].rstrip("。")
        short_head = len(first) <= 20 and not re.search(r"[，,；;]", first)
        if level >= 1 or (short_head and len(sentences) <= 3):
            found = self._headline_item(text, content_start, end)
            if found is not None:
                return found
        background = BACKGROUND.search(text[content_start : content_start + 120]) and not RUN_MARKER.search(
            text, content_start, end
        )
        if background and len(sentences) <= 1:
            return [(content_start, end, False, "sentence")]
        return self._free_text(text, content_start, end)

    def _headline_item(self, text: str, start: int, end: int) -> list[Piece] | None:
        """An item opening with a problem headline: "暂付款长期挂账未清理。截至2022年末，……".

        Headline and detail form one finding. When several independent problem
        sentences follow, the headline only names their category and each sentence
        is a finding. Returns None when the item does not open with a headline.
        """
        sentences = _split_positions(text, start, end, SENTENCE_END)
        first = text[sentences[0][0] : sentences[0][1]]
        headline = first.rstrip("。")
        if len(headline) > 60 or not is_problem(headline, min_len=4) or RUN_MARKER.search(first[2:]):
            return None
        body: list[tuple[int, int]] = []
        rest: list[tuple[int, int]] = []
        for k, (s, e) in enumerate(sentences[1:], start=1):
            sent = text[s:e]
            if NON_PROBLEM_CUES.search(sent.strip("，。 ")) or LEAD_IN.search(sent):
                rest = sentences[k:]
                break
            body.append((s, e))
        independent = [(s, e) for s, e in body if is_problem(text[s:e]) and not DETAIL_START.match(text[s:e])]
        if len(body) >= 2 and len(independent) == len(body):
            out: list[Piece] = []
            for s, e in body:
                out.extend(self._sentences(text, s, e))
        else:
            keep_end = body[-1][1] if body else sentences[0][1]
            out = [(start, keep_end, True, "headline")]
        for s, e in rest:  # what follows the problem (整改, 处理) is proposed too, for the model to judge
            out.extend(self._sentences(text, s, e))
        return out

    def _free_text(self, text: str, start: int, end: int) -> list[Piece]:
        """Narrative: split at 一是/二是 runs, sentences and semicolons."""
        out: list[Piece] = []
        runs = [m for m in RUN_MARKER.finditer(text, start, end)]
        pieces: list[tuple[int, int, bool]] = []  # (start, end, is_run_item)
        if len(runs) >= 2:
            if runs[0].start() > start:
                pieces.append((start, runs[0].start(), False))
            bounds = [m.start() for m in runs] + [end]
            for a, b in zip(bounds, bounds[1:]):
                pieces.append((a, b, True))
        else:
            pieces.append((start, end, False))
        for pstart, pend, is_run in pieces:
            if is_run:
                item = text[pstart:pend]
                if re.match(r"(?:其)?[一二三四五六七八九十]要", item):
                    out.append((pstart, pend, False, "run"))  # 一要……二要…… are demands
                    continue
                found = self._headline_item(text, pstart, pend)
                if found is not None and len(_split_positions(text, pstart, pend, SENTENCE_END)) > 1:
                    out.extend(found)
                    continue
                # A run item can end in a new sentence that is not part of it.
                sents = _split_positions(text, pstart, pend, SENTENCE_END)
                s, e = _trim(text, *sents[0])
                out.append((s, e, is_problem(text[s:e]), "run"))
                for s2, e2 in sents[1:]:
                    out.extend(self._sentences(text, s2, e2))
                continue
            out.extend(self._sentences(text, pstart, pend))
        return out

    def _sentences(self, text: str, start: int, end: int) -> list[Piece]:
        out: list[Piece] = []
        prev_problem = False
        for s, e in _split_positions(text, start, end, SENTENCE_END):
            sent = text[s:e]
            if LEAD_IN.search(sent.strip()):
                # "……发现的主要问题：A；B" keeps what follows the colon.
                out.append((s, e, False, "sentence"))
                prev_problem = False
                continue
            colon = re.search(r"(?:问题|如下|表现在|表现为|主要有|不足|差距|短板|方面)[：:]", sent)
            if colon:
                s = s + colon.end()
                sent = text[s:e]
            if QUESTION.search(sent):
                q = re.search(r"[，,](?=[^，,]*(?:为什么|怎样|怎么|如何|吗|呢|[？?]))", sent)
                if q:
                    e = s + q.start()
                    sent = text[s:e]
            clauses = _split_positions(text, s, e, re.compile(r"(?<=[；;])"))
            if len(clauses) > 2:
                # "……发现了一些问题，有的A；有的B；有的C": the announcement before the first 有的
                # is not part of item A (the colon case above, written with a comma).
                opens = {text[(p := _trim(text, cs, ce)[0]) : p + 2] for cs, ce in clauses[1:]}
                if len(opens) == 1 and (word := opens.pop()) in ("有的", "个别", "部分", "一些"):
                    m = re.search(f"[，,：:]{word}", text[clauses[0][0] : clauses[0][1]])
                    if m:
                        clauses[0] = (clauses[0][0] + m.start() + 1, clauses[0][1])
            if len(clauses) == 1:
                cs, ce = _trim(text, s, e)
                clause = text[cs:ce]
                ok = is_problem(clause)
                if (
                    not ok
                    and prev_problem
                    and out
                    and re.match(r"(?:其中|截至|经查|目前|至今|涉及)", clause)
                    and not NON_PROBLEM_CUES.search(clause)
                ):
                    ps, _, pok, psrc = out[-1]
                    out[-1] = (ps, ce, pok, psrc)  # detail sentence of the previous finding
                    continue
                out.append((cs, ce, ok, "sentence"))
                prev_problem = ok
                continue
            for cs, ce in clauses:
                cs, ce = _trim(text, cs, ce)
                ok = is_problem(text[cs:ce])
                out.append((cs, ce, ok, "clause"))
                prev_problem = prev_problem or ok
        return out

    # ------------------------------------------------------------------ tables

    def _table_row(
        self, doc, block: Block, bstart: int, cols: tuple[int, int] | None, cands, units, ctx: dict
    ) -> tuple[int, int] | None:
        """One table row. ``cols`` = (problem column, unit column or -1), read from the header row."""
        cells = block.cells or []
        if cols is None:
            col, unit_col, first_is_data = self._table_header(cells)
            cols = (col, unit_col)
            if not first_is_data:
                return cols
        col, unit_col = cols
        if col < 0 or col >= len(cells):
            return cols
        offset = bstart + sum(len(c) + 1 for c in cells[:col])
        cell = cells[col]
        s, e = _trim(doc.text, offset, offset + len(cell))
        if e - s >= 6:
            ok = is_problem(cell) or (ctx["zone"] == "pos" and len(cell) >= 8)
            unit = cells[unit_col] if 0 <= unit_col < len(cells) and cells[unit_col] else ""
            ctx = {**ctx, "unit": unit or ctx["unit"]}
            cands.append(Candidate(s, e, block.page, doc.text[s:e], "row", ok, **ctx))
        return cols

    @staticmethod
    def _table_header(cells: list[str]) -> tuple[int, int, bool]:
        """Problem column, unit column (-1 if none), and whether this first row is data (no header)."""
        unit_col = next(
            (i for i, c in enumerate(cells) if re.search(r"单位|部门|被审计|被巡察|被检查|对象", c) and len(c) <= 10),
            -1,
        )
        for i, c in enumerate(cells):
            if re.search(r"问题描述|问题表现|主要问题|问题内容|具体问题|存在问题|情况说明|描述", c):
                return i, unit_col, False
        for i, c in enumerate(cells):
            if re.search(r"问题|内容|情况", c) and not re.search(r"类型|类别|金额|序号|单位|整改", c):
                return i, unit_col, False
        if all(len(c) <= 8 for c in cells):
            return -1, -1, False  # header of a table we cannot read as problems
        # no header row: the longest cell is the statement, and this row is data already
        return (max(range(len(cells)), key=lambda i: len(cells[i])) if cells else -1), -1, True


def extract_findings(doc: ParsedDocument, with_review: bool = False) -> list[FindingSpan]:
    """The findings of a document by the shipped problem model (and, with ``with_review``,
    the doubtful ones an analyst should look at, marked ``review``)."""
    extractor = FindingExtractor()
    return extractor.scored(doc) if with_review else extractor.extract(doc)


_ANNOUNCED_TABLE = re.compile(r"(?:见|详见|如)(?:下表|附表|附件|表\d)|具体情况如下表|明细表")


def under_read(doc: ParsedDocument, spans: list[FindingSpan]) -> str:
    """A warning when a document looks under-read, else "".

    A table or appendix (附表) announced in the text but no table row read, or very
    few findings for a long report, usually means the layout defeated the reader
    (a scan, a table drawn as an image, columns read across): the analyst should
    open the file rather than trust the count.
    """
    found = sum(not s.review for s in spans)
    rows = sum(b.kind == "row" for b in doc.blocks)
    if _ANNOUNCED_TABLE.search(doc.text) and rows == 0:
        return "a table or appendix is announced but no table rows were read / 文中提到附表或表格，但未读出表格内容"
    if found == 0:
        return "no problem findings found in this document / 未识别出问题"
    if len(doc.text) > 3000 and found * 600 < len(doc.text):
        return (
            f"only {found} findings for {len(doc.text)} characters: check the layout / "
            f"{len(doc.text)}字仅提取到{found}条问题，请核对原件"
        )
    return ""
