"""Supervised units as entities: one unit under its full name, abbreviations and Party bodies.

Reports name the same unit many ways: "沄江市文化广电旅游局", "市文化广电旅游局党组", "文旅局",
"中共沄江交通投资集团有限公司委员会", "集团公司党委", "沄江交投集团", "县教育局党组" (in a
county's report). Profiles and recurrence need them as one entity. No library resolves Chinese
organisation names offline, so this module normalises names by the conventions of the genre
(Party prefix/suffix, company form, city prefix, the issuing county for 县/区 names, the
document's own full name for 集团公司), merges a name with its abbreviation (same first and last
character, characters in order: 交投集团 ⊂ 交通投资集团) and lets an analyst add or move
aliases (``unit_aliases``), which always win.
"""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from miner.segment import normalize
from miner.store import Catalogue

_CJK = r"\u4e00-\u9fff"
_PARTY_PREFIX = re.compile(r"^(?:中共|中国共产党)")
# A Party body of a unit ("……局党组", "……公司委员会", "……镇党委") stands for the unit.
_PARTY_SUFFIX = re.compile(r"(?:党组|党委|党工委|党支部|党总支|机关党委)$")
_COMPANY_COMMITTEE = re.compile(r"(?<=公司|集团)委员会$")
_COMPANY_FORM = re.compile(r"(?:股份)?有限(?:责任)?公司$")
_CITY = re.compile(rf"^[{_CJK}]{{2}}市(?!场|政|容|民|级|直|属)(?=[{_CJK}]{{3,}})")
_SUPERVISOR = re.compile(r"审计|巡察|巡视|人大|纪委|监委|纪律检查|政法委|检察院|法院|统计局|财政局")
_REGION = re.compile(rf"([{_CJK}]{{2,3}}?(?:县|区))")
# What a unit name ends with; anything else (a topic, "全县涉农资金") is not a unit.
UNIT_END = re.compile(
    r"(?:局|委员会|委|办公室|办|集团|公司|中心|医院|卫生院|学校|中学|小学|幼儿园|大学|院|馆|所|站|队|"
    r"镇|乡|街道|街道办事处|社区|村|管委会|政府|厅|署|会)$"
)
# Unit names inside running text ("市文化广电旅游局等11个部门", "沄江交投集团").
UNIT_MENTION = re.compile(
    rf"(?:[{_CJK}]{{2,3}}[市县区])?[{_CJK}]{{1,10}}?(?:集团|公司|局|委员会|管委会|中心|医院|卫生院|学校|街道|镇|乡)"
)
_OBJECT_BEFORE = re.compile(r"移交|交由|上交|报送|报请|[向由经给至]$|会同|协调|委托")
_NOT_UNIT = re.compile(r"^(?:我|该|本|各|全|有关|相关|所属|下属|某|其|个|家|等|\d)|[，。、；：]")


def _region_of(issuer: str, title: str) -> str:
    """The county or district a report is about ("白石县"), from its issuer or title."""
    for text in (issuer, title):
        t = re.sub(rf"^[{_CJK}]{{2}}市", "", _PARTY_PREFIX.sub("", normalize(text or "")))
        m = _REGION.match(t)
        if m and not re.search(r"地区|辖区|城区|全区|全县|本县|本区|届|第|轮|各", m.group(1)):
            return m.group(1)
    return ""


def canonical(name: str, *, region: str = "", company: str = "") -> str:
    """A unit name in its normal form: Simplified, no Party prefix/suffix, no company form,
    no city prefix; a bare 县/区 name takes the report's region, a bare 集团公司 the
    company the report names. Returns "" for what is not a unit name."""
    n = normalize(name or "").strip()
    n = re.sub(r"[（(].*?[)）]", "", n)  # "交通运输局（市公路事业发展中心）"
    n = re.sub(r"[\s“”\"「」（）()]", "", n)
    if not n:
        return ""
    n = _PARTY_PREFIX.sub("", n)
    n = _COMPANY_COMMITTEE.sub("", n)
    n = _PARTY_SUFFIX.sub("", n)
    if n in ("集团公司", "集团", "公司", "本公司", "集团本部") and company:
        n = company
    n = _COMPANY_FORM.sub("", n) or n
    if n.endswith("集团公司"):
        n = n[:-2]
    if n.startswith(("县", "区")) and region and region[-1] == n[0]:
        n = region + n[1:]
    n = _CITY.sub("", n)
    if n.startswith("市") and not n.startswith(("市场", "市政", "市容")) and len(n) >= 4:
        n = n[1:]
    if len(n) < 3 or not UNIT_END.search(n) or _NOT_UNIT.search(n):
        return ""
    return n


def is_abbreviation(short: str, full: str) -> bool:
    """ "交投集团" of "交通投资集团", "文旅局" of "文化广电旅游局": same first and last
    character, the characters of the short name in order in the long one."""
    if len(short) < 3 or len(short) >= len(full) or short[0] != full[0] or short[-1] != full[-1]:
        return False
    it = iter(full)
    return all(ch in it for ch in short)


def _company_of(text_head: str) -> str:
    m = re.search(rf"[{_CJK}]{{2,12}}集团(?:有限)?(?:责任)?(?:公司)?", text_head)
    if not m:
        return ""
    name = re.split(r".*(?:对|向|于|的|在|组|：)", m.group(0))[-1]  # "巡察组关于对X集团" -> "X集团"
    return canonical(name)


@dataclass
class Entity:
    """One supervised unit with every name it goes by."""

    name: str
    aliases: set[str] = field(default_factory=set)
    documents: set[str] = field(default_factory=set)

    def to_dict(self) -> dict:
        return {"name": self.name, "aliases": sorted(self.aliases - {self.name}), "documents": sorted(self.documents)}


class UnitIndex:
    """Every unit of a workspace as entities, and which findings concern which entity.

    Built from the catalogue: each document's units (resolved against its issuer and
    title), each finding's unit, and unit names mentioned in finding texts and in the
    analyst's alias table.
    """

    def __init__(self, catalogue: Catalogue, findings: Iterable | None = None):
        self.catalogue = catalogue
        self.findings = list(findings if findings is not None else catalogue.findings())
        self._doc_ctx: dict[str, tuple[str, str]] = {}
        self._doc_units: dict[str, set[str]] = {}
        self._issuer: dict[str, str] = {}  # a report's issuer is not its subject
        names: dict[str, set[str]] = defaultdict(set)  # canonical -> document ids naming it as their unit
        for row in catalogue.db.execute("SELECT id, issuer, title, units, issuer_kind, report_kind FROM documents"):
            head = catalogue.db.execute("SELECT substr(text, 1, 400) FROM documents WHERE id=?", (row["id"],))
            head_text = normalize(head.fetchone()[0] or "")
            region = _region_of(row["issuer"], row["title"] or head_text[:80])
            company = _company_of(row["title"] + " " + head_text)
            self._doc_ctx[row["id"]] = (region, company)
            self._issuer[row["id"]] = canonical(row["issuer"], region=region, company=company)
            units = {canonical(u, region=region, company=company) for u in json.loads(row["units"] or "[]")}
            if "整改" in (row["report_kind"] or "") + (row["title"] or "") and not _SUPERVISOR.search(row["issuer"]):
                units.add(canonical(row["issuer"], region=region, company=company))  # the unit reports itself
            if not (units - {""}):
                m = UNIT_MENTION.match(re.sub(r"^\s*(?:关于)?(?:对)?", "", normalize(row["title"] or "")))
                if m:
                    titled = canonical(m.group(0), region=region, company=company)
                    if titled != self._issuer[row["id"]]:  # "市统计局关于……的通报" is about others
                        units.add(titled)
            units.discard("")
            self._doc_units[row["id"]] = units
            for u in units:
                names[u].add(row["id"])
        for f in self.findings:
            region, company = self._doc_ctx.get(f.doc_id, ("", ""))
            u = canonical(f.unit, region=region, company=company)
            if u:
                names[u].add(f.doc_id)
        self.aliases_table = {
            r["alias"]: r["canonical"] for r in catalogue.db.execute("SELECT alias, canonical FROM unit_aliases")
        }
        for alias, target in self.aliases_table.items():
            names.setdefault(canonical(alias) or alias, set())
            names.setdefault(canonical(target) or target, set())
        self.entities = self._group(names)
        self._lookup: dict[str, Entity | None] = {}
        self._of_finding: dict[str, list[Entity]] = {}

    # ------------------------------------------------------------------ grouping

    def _group(self, names: dict[str, set[str]]) -> dict[str, Entity]:
        parent = {n: n for n in names}

        def find(x: str) -> str:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        def union(a: str, b: str) -> None:
            ra, rb = find(a), find(b)
            if ra != rb:
                # the longer (fuller) name leads the entity
                keep, other = (ra, rb) if (len(ra), ra) >= (len(rb), rb) else (rb, ra)
                parent[other] = keep

        # a name the analyst placed is placed only by the analyst ("unit-alias X X" keeps X apart)
        pinned = {canonical(alias) or alias for alias in self.aliases_table}
        ordered = sorted(names, key=len)
        for i, a in enumerate(ordered):
            for b in ordered[i + 1 :]:
                if a not in pinned and b not in pinned and is_abbreviation(a, b):
                    union(a, b)
        for alias, target in self.aliases_table.items():
            a, t = canonical(alias) or alias, canonical(target) or target
            if a in parent and t in parent:
                parent[find(a)] = find(t)
                parent[find(t)] = find(t)
        groups: dict[str, Entity] = {}
        for n, docs in names.items():
            root = find(n)
            e = groups.setdefault(root, Entity(root))
            e.aliases.add(n)
            e.documents |= docs
        # an analyst's canonical name names the entity
        for target in self.aliases_table.values():
            t = canonical(target) or target
            if t in parent:
                groups[find(t)].name = target
        return {e.name: e for e in groups.values()}

    # ------------------------------------------------------------------ lookups

    def entity_of(self, name: str, doc_id: str = "") -> Entity | None:
        """The entity a unit name belongs to (None when unknown)."""
        region, company = self._doc_ctx.get(doc_id, ("", ""))
        c = canonical(name, region=region, company=company) or (name if name in self.aliases_table else "")
        if not c:
            return None
        if c not in self._lookup:
            self._lookup[c] = next((e for e in self.entities.values() if c in e.aliases or c == e.name), None) or next(
                (e for e in self.entities.values() if any(is_abbreviation(c, a) for a in e.aliases)), None
            )
        return self._lookup[c]

    def find(self, query: str) -> Entity | None:
        """An entity by any of its names, or by a part of one ("文旅局", "交投")."""
        e = self.entity_of(query)
        if e:
            return e
        q = normalize(query)
        hits = [e for e in self.entities.values() if any(q in a or is_abbreviation(q, a) for a in e.aliases)]
        return max(hits, key=lambda e: len(e.documents)) if hits else None

    def document_entities(self, doc_id: str) -> list[Entity]:
        out = []
        for u in self._doc_units.get(doc_id, ()):
            e = self.entity_of(u)
            if e and e not in out:
                out.append(e)
        return out

    def finding_entities(self, f) -> list[Entity]:
        """Entities a finding concerns: its own unit, else its document's; plus units it names."""
        if f.id in self._of_finding:
            return self._of_finding[f.id]
        out: list[Entity] = []
        own = self.entity_of(f.unit, f.doc_id) if f.unit else None
        if own:
            out.append(own)
        else:
            out.extend(self.document_entities(f.doc_id))
        region, company = self._doc_ctx.get(f.doc_id, ("", ""))
        text = normalize(f.text)
        for m in UNIT_MENTION.finditer(text):
            if _OBJECT_BEFORE.search(text[max(0, m.start() - 4) : m.start()]):
                continue  # "移交市机关事务管理局": the unit a thing went to, not the one at fault
            e = self.entity_of(m.group(0), f.doc_id)
            if e and e not in out and self._issuer.get(f.doc_id) not in e.aliases:
                out.append(e)
        self._of_finding[f.id] = out
        return out

    def by_entity(self) -> dict[str, list]:
        """Entity name → the findings that concern it."""
        out: dict[str, list] = defaultdict(list)
        for f in self.findings:
            for e in self.finding_entities(f):
                out[e.name].append(f)
        return out


def set_alias(catalogue: Catalogue, alias: str, canonical_name: str, who: str = "") -> None:
    """An analyst's word: ``alias`` names the same unit as ``canonical_name`` (the name shown)."""
    with catalogue.db:
        catalogue.db.execute(
            "INSERT INTO unit_aliases VALUES (?, ?, ?, ?) ON CONFLICT (alias) DO UPDATE SET"
            " canonical=excluded.canonical, who=excluded.who, at=excluded.at",
            (alias, canonical_name, who, time.time()),
        )


def remove_alias(catalogue: Catalogue, alias: str) -> bool:
    with catalogue.db:
        cur = catalogue.db.execute("DELETE FROM unit_aliases WHERE alias=?", (alias,))
    return cur.rowcount > 0
