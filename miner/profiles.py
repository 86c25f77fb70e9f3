"""Unit profiles (单位画像): everything the workspace knows about one supervised unit.

For one unit entity (:mod:`miner.units`): its names, every document and finding about it from
every body and year, the kinds of problem (common problems) they fall in, each problem's
status (:mod:`miner.status`), its rectification records and its recurrence chains. Exported as
JSON or markdown.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from miner.records import ISSUER_KIND_ZH

if TYPE_CHECKING:
    from miner.pipeline import Workspace


def entities(ws: Workspace) -> list[dict]:
    """Every unit entity with its aliases and how many documents and findings concern it."""
    from miner.units import UnitIndex

    ix = UnitIndex(ws.catalogue)
    counts = {name: fs for name, fs in ix.by_entity().items()}
    names = {r["id"]: r["name"] for r in ws.catalogue.db.execute("SELECT id, name FROM documents")}
    out = []
    for e in ix.entities.values():
        fs = counts.get(e.name, [])
        docs = sorted({f.doc_id for f in fs} | e.documents)
        out.append(
            {
                "name": e.name,
                "aliases": sorted(e.aliases - {e.name}),
                "documents": len(docs),
                "findings": len(fs),
                "files": [names[d] for d in docs if d in names],
            }
        )
    out.sort(key=lambda r: (-r["documents"], -r["findings"], r["name"]))
    return out


def profile(ws: Workspace, name: str) -> dict | None:
    """The profile of the unit called ``name`` (any of its names, or part of one); None if unknown."""
    from miner import rectification, recurrence, status
    from miner.units import UnitIndex

    cat = ws.catalogue
    findings = cat.findings()
    ix = UnitIndex(cat, findings)
    e = ix.find(name)
    if e is None:
        return None
    mine = [f for f in findings if any(x.name == e.name for x in ix.finding_entities(f))]
    mine.sort(key=lambda f: (f.year or 0, f.document, f.start))
    cluster_of = {
        r[0]: r[1]
        for r in cat.db.execute(
            "SELECT m.finding_id, c.label FROM cluster_members m JOIN clusters c ON c.id = m.cluster_id"
        )
    }
    st = status.statuses(cat, [f.id for f in mine])
    chains = [c for c in recurrence.chains(ws) if c.unit == e.name]
    in_chain = {ev.finding_id: c.label for c in chains for ev in c.events if ev.finding_id}
    doc_ids = {f.doc_id for f in mine} | e.documents
    docs = [
        dict(r)
        for r in cat.db.execute(
            f"SELECT id, name, title, issuer_kind, issuer, year, report_kind FROM documents"
            f" WHERE id IN ({','.join('?' * len(doc_ids))}) ORDER BY year, name",
            sorted(doc_ids),
        )
    ]
    # the unit's own rectification reports, and records answering its findings
    own_docs = {d for d in doc_ids if any(x.name == e.name for x in ix.document_entities(d))}
    recs = {r.id: r for d in own_docs for r in rectification.records(ws, document=d)}
    for f in mine:
        recs.update({r.id: r for r in rectification.records(ws, finding_id=f.id)})
    rows = [
        {
            "id": f.id,
            "year": f.year,
            "issuer_kind": f.issuer_kind,
            "issuer_kind_zh": ISSUER_KIND_ZH.get(f.issuer_kind, ""),
            "issuer": f.issuer,
            "document": f.document,
            "page": f.page,
            "text": cat.source_text(f.id) or f.text,
            "problem_type": cluster_of.get(f.id, ""),
            "status": st[f.id].status,
            "status_source": st[f.id].source,
            "deadline": st[f.id].deadline,
            "recurrence": in_chain.get(f.id, ""),
        }
        for f in mine
    ]
    return {
        "unit": e.name,
        "aliases": sorted(e.aliases - {e.name}),
        "documents": docs,
        "bodies": sorted({d["issuer_kind"] for d in docs}),
        "years": sorted({d["year"] for d in docs if d["year"]}),
        "problem_types": Counter(r["problem_type"] or "（未归类）" for r in rows).most_common(),
        "statuses": dict(Counter(r["status"] for r in rows)),
        "findings": rows,
        "rectifications": [r.to_dict() for r in sorted(recs.values(), key=lambda r: (r.date, r.id))],
        "recurrences": [c.to_dict() for c in chains],
    }


def to_markdown(p: dict) -> str:
    """A profile as a markdown brief (headings, tables and lists only)."""
    lines = [f"# 单位画像：{p['unit']}", ""]
    if p["aliases"]:
        lines += ["别名：" + "、".join(p["aliases"]), ""]
    bodies = "、".join(ISSUER_KIND_ZH.get(k, k) for k in p["bodies"])
    years = f"{p['years'][0]}–{p['years'][-1]}" if p["years"] else "年份不详"
    lines += [
        f"{len(p['documents'])} 份文件 · {len(p['findings'])} 条问题 · {bodies} · {years}",
        "",
        "整改状态：" + "，".join(f"{k} {v} 条" for k, v in p["statuses"].items()),
        "",
        "## 文件",
        "",
    ]
    for d in p["documents"]:
        kind = ISSUER_KIND_ZH.get(d["issuer_kind"], d["issuer_kind"])
        lines.append(f"- {d['year'] or '?'} {kind} {d['issuer']}《{d['title']}》（{d['name']}）")
    lines += ["", "## 问题类型", ""]
    lines += [f"- {t}：{n} 条" for t, n in p["problem_types"]]
    if p["recurrences"]:
        lines += ["", "## 反弹 / 屡审屡犯 / 整改不实", ""]
        for c in p["recurrences"]:
            lines.append(f"- **{c['label']}** {c['kind']}：{c['summary']}")
    lines += [
        "",
        "## 问题清单",
        "",
        "| 年份 | 监督主体 | 问题 | 类型 | 状态 | 复发 | 出处 |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in p["findings"]:
        text = r["text"].replace("|", "｜").replace("\n", " ")
        lines.append(
            f"| {r['year'] or ''} | {r['issuer_kind_zh']} | {text} | {r['problem_type']} | {r['status']} |"
            f" {r['recurrence']} | {r['document']} 第{r['page']}页 |"
        )
    if p["rectifications"]:
        lines += ["", "## 整改记录", ""]
        for r in p["rectifications"]:
            amount = f"，收回/整改金额 {r['amount_wan']} 万元" if r["amount_wan"] else ""
            lines.append(f"- {r['date']} 关于“{r['problem']}”的问题：{r['status']}{amount}")
    return "\n".join(lines) + "\n"
