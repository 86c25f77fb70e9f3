"""Rectification records: what a 整改 report says was done about each problem.

A rectification report (整改情况报告/通报/公告, 整改落实情况) restates each problem it answers
("（一）关于暂付款长期挂账的问题。") and then says what was done, what was recovered and what is
still open. Each such item becomes a record: the restated problem, the measures, the amount
recovered (万元), a status (已整改 / 整改中 / 未整改) and the report's date. A record is linked to
the finding it answers when that finding is in the workspace — same unit entity, most similar
problem, the score kept — otherwise it stands as a problem known only from the report. An
analyst can relink or unlink; that word survives re-scans.

The item shape is the one the findings stage already recognises (``findings.QUOTED_PROBLEM``);
the status and amount cues are the fixed phrases of the genre (已整改到位, 仍有……尚未, 追回……万元).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from miner.findings import _marker
from miner.segment import char_ngrams, normalize

if TYPE_CHECKING:
    from miner.pipeline import Workspace
    from miner.units import UnitIndex

STATUSES = ("已整改", "整改中", "未整改")
# findings.QUOTED_PROBLEM with short problems too ("关于游泳馆闲置的问题"): here the numbered
# item shape already says it is a restated problem.
QUOTED = re.compile(r"(?:关于|针对)\s*[“\"「]?(.{2,200}?)[”\"」]?\s*的问题")
NOT_STARTED = re.compile(r"未整改|尚未整改|未开展整改|未启动整改|未采取.{0,4}措施")
STILL_OPEN = re.compile(
    r"仍有|仍未|仍为|仍存在|仍然|尚未|未完成|未能|正在|持续推进|持续整改|阶段性|部分整改|需长期|推进中|(?<![^\s，。；])拟|"
    r"滞后|未落实|没有落实"
)
DONE = re.compile(r"已|全额|全部|到位|完成|办结|销号")
AMOUNT = re.compile(
    r"(?:追回|收回|清退|上缴|缴入|归还|退还|补缴|收缴|盘活|支付|核减|退赔|挽回|整改问题金额)[^。；]*?"
    r"(\d[\d,，]*(?:\.\d+)?)\s*(亿元|万元|元)"
)
AMOUNT_AFTER = re.compile(
    r"(\d[\d,，]*(?:\.\d+)?)\s*(亿元|万元|元)[^。；，]{0,6}?已(?:全部|全额)?(?:清退|收回|追回|上缴|缴入|归还|退还|补缴|收缴|核减|支付|付清)"
)
DATE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
REPORT = re.compile(r"整改")
# "（三）关于重点民生资金审计发现问题的整改情况": a section answering a group of problems at once
SECTION = re.compile(
    r"(?:关于)?(.{2,40}?)(?:审计|巡察|巡视|检查|督查)?(?:发现|查出|指出|反馈)的?问题(?:的)?整改(?:情况|落实情况)?[。：:]?$"
)
_END = re.compile(r"^(?:[一二三四五六七八九十]+、|下一步|附件)")

# A record is linked when the best candidate scores at least this (unit entity already matched);
# with no unit match the bar is higher.
LINK_MIN = 0.5
LINK_MIN_ANY_UNIT = 0.75
NEAREST = 50


@dataclass
class Rectification:
    id: str
    document_id: str
    seq: int
    start: int
    end: int
    page: int
    unit: str
    problem: str
    measures: str
    amount_wan: float | None
    status: str
    date: str
    finding_id: str | None = None
    link_score: float | None = None
    linked_by: str = ""  # "auto" | "analyst" | ""

    def to_dict(self) -> dict:
        return asdict(self)


def status_of(measures: str) -> str:
    """已整改 / 整改中 / 未整改 from what the report says was done."""
    if NOT_STARTED.search(measures) and not re.search(r"已(?:整改|完成)", measures):
        return "未整改"
    if STILL_OPEN.search(measures):
        return "整改中"
    # measures stated with nothing left open ("修订……办法，实行……") report the problem fixed
    return "已整改" if DONE.search(measures) or measures.strip() else "整改中"


def amount_of(measures: str) -> float | None:
    """万元 recovered, returned or paid, summed over the item (None when no figure)."""
    total, seen = 0.0, False
    for m in [*AMOUNT.finditer(measures), *AMOUNT_AFTER.finditer(measures)]:
        value = float(m.group(1).replace(",", "").replace("，", ""))
        total += {"亿元": 10000.0, "万元": 1.0, "元": 0.0001}[m.group(2)] * value
        seen = True
    return round(total, 2) if seen else None


def report_date(text: str, year: int | None) -> str:
    """The report's date: the last full date in it (the 落款), else its year."""
    dates = DATE.findall(text[-400:]) or DATE.findall(text)
    if dates:
        y, mo, d = dates[-1]
        return f"{int(y):04d}-{int(mo):02d}-{int(d):02d}"
    return str(year) if year else ""


def parse(text: str, *, document_id: str = "", year: int | None = None, title: str = "") -> list[Rectification]:
    """The records of one rectification report (none for other reports).

    An item is a paragraph whose numbered opening restates a problem (关于“……”的问题); its
    measures run to the next numbered item, the next top-level heading or 下一步.
    """
    if not REPORT.search(title + text[:300]):
        return []
    date = report_date(text, year)
    lines: list[tuple[int, str]] = []
    pos = 0
    for line in text.split("\n"):
        lines.append((pos, line))
        pos += len(line) + 1
    out: list[Rectification] = []
    current: dict | None = None

    def close(end: int) -> None:
        if current is None:
            return
        measures = text[current["mstart"] : end].strip()
        seq = len(out) + 1
        out.append(
            Rectification(
                id=f"{document_id}-r{seq:02d}",
                document_id=document_id,
                seq=seq,
                start=current["start"],
                end=end,
                page=1,
                unit="",
                problem=current["problem"],
                measures=measures,
                amount_wan=amount_of(measures),
                status=status_of(measures),
                date=date,
            )
        )

    for start, line in lines:
        level, mlen = _marker(line)
        m = QUOTED.match(line, mlen) if line else None
        if m and (level or m.start() == mlen):
            close(start - 1 if start else 0)
            problem = m.group(1).strip('“”"「」 ')
            tail = re.match(r"[”」\"]?[。：:，,]?", line[m.end() :])
            current = {
                "start": start,
                "problem": problem,
                "mstart": start + m.end() + (tail.end() if tail else 0),
            }
            continue
        if current is not None and (level and level <= 2 or _END.match(line)):
            close(start - 1)
            current = None
        sm = SECTION.match(line, mlen) if level and level <= 2 else None
        if sm:
            problem = re.sub(r"^关于", "", sm.group(1)).strip()
            current = {"start": start, "problem": problem + "问题", "mstart": start + len(line) + 1, "section": True}
    close(len(text))
    # a section heading followed at once by its own items holds no measures of its own
    out = [r for r in out if r.measures]
    for seq, r in enumerate(out, start=1):
        r.seq, r.id = seq, f"{document_id}-r{seq:02d}"
    return out


# --------------------------------------------------------------------------- linking


def _containment(a: str, b: str) -> float:
    ga = set(char_ngrams(normalize(a)))
    if not ga:
        return 0.0
    return len(ga & set(char_ngrams(normalize(b)))) / len(ga)


def link(
    ws: Workspace, records: list[Rectification], units: UnitIndex, findings: list | None = None
) -> list[Rectification]:
    """Link each record to the earlier finding it answers (same unit entity, most similar).

    The score mixes character-bigram containment of the restated problem in the finding
    with the embedder's cosine similarity, so a short restatement ("暂付款长期挂账") finds
    the long finding that details it. The records of one report are matched to findings
    one to one (scipy's assignment solver): a report answers each problem once, and two
    restatements never take the same finding.
    """
    from scipy.optimize import linear_sum_assignment

    from miner.indexing import embedder_for

    findings = findings if findings is not None else ws.catalogue.findings()
    if not records or not findings:
        return records
    doc_year = {r["id"]: r["year"] for r in ws.catalogue.db.execute("SELECT id, year FROM documents")}
    emb = embedder_for(ws)
    fvec = emb.encode([f.text for f in findings])
    rvec = emb.encode([r.problem for r in records])
    f_entities = [{e.name for e in units.finding_entities(f)} for f in findings]
    by_doc: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        if r.linked_by != "analyst":
            by_doc.setdefault(r.document_id, []).append(i)
    for doc_id, idx in by_doc.items():
        year = doc_year.get(doc_id)
        doc_entities = {e.name for e in units.document_entities(doc_id)}
        # a government's report answers problems of any unit (an audit work report's findings);
        # a unit's report only its own
        wide = not doc_entities or all(n.endswith("政府") for n in doc_entities)
        cand = [j for j, f in enumerate(findings) if f.doc_id != doc_id and not (year and f.year and f.year > year)]
        score = np.zeros((len(idx), len(cand)))
        key = np.full((len(idx), len(cand)), -1.0)
        for a, i in enumerate(idx):
            r = records[i]
            mentioned = units.entity_of(r.unit, doc_id) if r.unit else None
            r_entities = {mentioned.name} if mentioned else doc_entities
            sims = fvec[cand] @ rvec[i] if cand else np.zeros(0)
            # another unit's finding is only a candidate for a government's report, and then
            # only among the most similar ones (the character comparison is the slow part)
            near = set(np.argsort(-sims)[:NEAREST].tolist()) if wide else set()
            for b, j in enumerate(cand):
                same_unit = bool(r_entities & f_entities[j])
                if not same_unit and b not in near:
                    continue
                s = 0.5 * _containment(r.problem, findings[j].text) + 0.5 * float(np.clip(sims[b], 0, 1))
                score[a, b] = s
                if s >= (LINK_MIN if same_unit else LINK_MIN_ANY_UNIT):
                    key[a, b] = s + (0.2 if same_unit else 0.0)
        for i in idx:
            records[i].finding_id, records[i].link_score, records[i].linked_by = None, None, ""
        if not cand:
            continue
        rows, cols = linear_sum_assignment(-key)
        for a, b in zip(rows, cols):
            if key[a, b] < 0:
                continue
            r = records[idx[a]]
            r.finding_id, r.link_score, r.linked_by = findings[cand[b]].id, round(float(score[a, b]), 3), "auto"
    return records


def _unit_in(measures: str, units: UnitIndex, doc_id: str) -> str:
    """The unit an item is about when the report names one ("市财政局制定……")."""
    from miner.units import UNIT_MENTION

    for m in UNIT_MENTION.finditer(normalize(measures[:60])):
        e = units.entity_of(m.group(0), doc_id)
        if e:
            return e.name
    return ""


# --------------------------------------------------------------------------- store


def affected_by(ws: Workspace, new_ids: Iterable[str]) -> list[str]:
    """Documents whose records a batch can change: the new ones, and those that already hold records.

    A document's records are read from its own text only, and a document without records gets
    none from new findings, so scanning these gives what a scan of the whole workspace gives
    (old records may link to the new findings) without re-reading every report on each ingest.
    """
    held = [r[0] for r in ws.catalogue.db.execute("SELECT DISTINCT document_id FROM rectifications")]
    return sorted(set(new_ids) | set(held))


def scan(ws: Workspace, document_ids: Iterable[str] | None = None) -> list[Rectification]:
    """Read the rectification records of documents (all when None) into the catalogue.

    Re-scanning replaces the automatic records and links of those documents; a link an
    analyst set is kept (matched by document and item number).
    """
    from miner.units import UnitIndex

    cat = ws.catalogue
    db = cat.db
    if document_ids is None:
        document_ids = [r[0] for r in db.execute("SELECT id FROM documents")]
    document_ids = list(document_ids)
    findings = cat.findings()
    units = UnitIndex(cat, findings)
    records: list[Rectification] = []
    for doc_id in document_ids:
        row = db.execute("SELECT text, title, year FROM documents WHERE id=?", (doc_id,)).fetchone()
        if row is None:
            continue
        for r in parse(row["text"], document_id=doc_id, year=row["year"], title=row["title"]):
            r.unit = _unit_in(r.measures, units, doc_id)
            r.page = _page(cat, doc_id, r.start)
            records.append(r)
    kept = {
        (r["document_id"], r["seq"]): (r["finding_id"], r["link_score"])
        for r in db.execute("SELECT * FROM rectifications WHERE linked_by='analyst'")
    }
    for r in records:
        if (r.document_id, r.seq) in kept:
            r.finding_id, r.link_score = kept[(r.document_id, r.seq)]
            r.linked_by = "analyst"
    link(ws, records, units, findings)
    with db:
        db.executemany("DELETE FROM rectifications WHERE document_id=?", [(d,) for d in document_ids])
        db.executemany(
            'INSERT INTO rectifications (id, document_id, seq, start, "end", page, unit, problem, measures,'
            " amount_wan, status, date, finding_id, link_score, linked_by) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    r.id,
                    r.document_id,
                    r.seq,
                    r.start,
                    r.end,
                    r.page,
                    r.unit,
                    r.problem,
                    r.measures,
                    r.amount_wan,
                    r.status,
                    r.date,
                    r.finding_id,
                    r.link_score,
                    r.linked_by,
                )
                for r in records
            ],
        )
    return records


def _page(cat, doc_id: str, offset: int) -> int:
    """The page of an offset, from the nearest finding of the document (pages are not stored per line)."""
    row = cat.db.execute(
        "SELECT page FROM findings WHERE document_id=? AND start<=? ORDER BY start DESC LIMIT 1", (doc_id, offset)
    ).fetchone()
    return int(row[0]) if row else 1


def records(ws: Workspace, document: str | None = None, finding_id: str | None = None) -> list[Rectification]:
    """Stored records, by document (id or file name) or by the finding they answer."""
    sql = "SELECT r.* FROM rectifications r JOIN documents d ON d.id = r.document_id"
    where, args = [], []
    if document:
        where.append("(d.id = ? OR d.name = ?)")
        args += [document, document]
    if finding_id:
        where.append("r.finding_id = ?")
        args.append(finding_id)
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY d.name, r.seq"
    return [Rectification(**dict(r)) for r in ws.catalogue.db.execute(sql, args)]


def relink(ws: Workspace, record_id: str, finding_id: str | None) -> Rectification:
    """An analyst links a record to a finding (or unlinks it with None); kept across re-scans."""
    db = ws.catalogue.db
    if db.execute("SELECT 1 FROM rectifications WHERE id=?", (record_id,)).fetchone() is None:
        raise KeyError(record_id)
    if finding_id and db.execute("SELECT 1 FROM findings WHERE id=?", (finding_id,)).fetchone() is None:
        raise KeyError(finding_id)
    with db:
        db.execute(
            "UPDATE rectifications SET finding_id=?, link_score=NULL, linked_by='analyst' WHERE id=?",
            (finding_id, record_id),
        )
    return Rectification(**dict(db.execute("SELECT * FROM rectifications WHERE id=?", (record_id,)).fetchone()))
