"""Common problems in a workspace: stable ids, incremental batches, analyst edits that stick."""

from __future__ import annotations

from pathlib import Path

import pytest

from miner import problems
from miner.pipeline import Workspace, ingest

REPORTS = {
    "a_audit.txt": """江州市审计局关于某局预算执行情况的审计结果公告
二、审计发现的主要问题
（一）暂收暂付款长期挂账未清理，局本级暂付款余额860万元。
（二）将同一工程拆分为多个合同，规避公开招标。
（三）公务用车管理不规范，存在公车私用现象。
江州市审计局
2023年5月6日""",
    "b_inspection.txt": """市委第一巡察组关于巡察某区教育局党组的反馈意见
一、巡察发现的主要问题
（一）其他应收款长期挂账，暂付款余额较大未清理。
（二）采购项目化整为零，规避公开招标。
（三）“第一议题”制度落实不到位，理论学习流于形式。
中共江州市委第一巡察组
2024年3月1日""",
    "c_congress.txt": """江州市人大常委会关于审计工作报告的审议意见
会议指出，还存在一些问题：一是部分部门暂收暂付款余额过大，长期挂账不清理；二是一些单位拆分项目规避公开招标；三是违规发放津贴补贴。
江州市人大常委会办公室
2024年9月5日""",
}
LATER = {
    "d_finance.txt": """江州市财政局关于财会监督检查情况的通报
一、发现的主要问题
（一）5个部门暂收暂付款长期挂账未清理。
（二）部分单位公车私用，公务用车管理不严。
江州市财政局
2024年4月2日""",
}


def write(folder: Path, docs: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    w = Workspace(tmp_path / "ws")
    ingest(w, [write(tmp_path / "b1", REPORTS)])
    problems.update(w)
    return w


def cluster_of(ws: Workspace, needle: str) -> problems.CommonProblem:
    return next(p for p in problems.problems(ws, min_size=1) if any(needle in f.text for f in p.findings))


def test_recurring_problems_found_across_bodies(ws: Workspace):
    ps = problems.problems(ws)
    receivables = cluster_of(ws, "暂收暂付款长期挂账")
    assert {f.issuer_kind for f in receivables.findings} == {"audit", "inspection", "congress"}
    tender = cluster_of(ws, "规避公开招标")
    assert tender.id != receivables.id and len(tender.findings) == 3
    assert ps[0].score >= ps[-1].score
    assert "审计" in receivables.span and "3 条" in receivables.span
    # findings that resemble nothing stay out
    assert all(not any("第一议题" in f.text for f in p.findings) for p in ps)


def test_same_data_same_ids(ws: Workspace, tmp_path: Path):
    again = Workspace(tmp_path / "ws2")
    ingest(again, [tmp_path / "b1"])
    problems.update(again)
    assert [(p.id, [f.id for f in p.findings]) for p in problems.problems(ws)] == [
        (p.id, [f.id for f in p.findings]) for p in problems.problems(again)
    ]
    before = [(p.id, p.label) for p in problems.problems(ws)]
    problems.update(ws)
    assert [(p.id, p.label) for p in problems.problems(ws)] == before


def test_new_batch_joins_without_reshuffling(ws: Workspace, tmp_path: Path):
    before = {p.id: {f.id for f in p.findings} for p in problems.problems(ws)}
    ingest(ws, [write(tmp_path / "b2", LATER)])
    problems.update(ws)
    after = {p.id: {f.id for f in p.findings} for p in problems.problems(ws, min_size=1)}
    for cid, members in before.items():
        assert members <= after[cid]  # nobody left an existing cluster
    receivables = cluster_of(ws, "暂收暂付款长期挂账")
    assert "finance" in {f.issuer_kind for f in receivables.findings}


def test_edits_survive_new_batches_and_rebuild(ws: Workspace, tmp_path: Path):
    rec = cluster_of(ws, "暂收暂付款长期挂账")
    tender = cluster_of(ws, "规避公开招标")
    problems.rename(ws, rec.id, "往来款长期挂账未清理")
    moved = next(f for f in tender.findings if "化整为零" in f.text)
    problems.move(ws, moved.id, rec.id)
    dropped = next(f for f in rec.findings if "其他应收款" in f.text)
    problems.remove(ws, dropped.id)
    ingest(ws, [write(tmp_path / "b2", LATER)])
    problems.update(ws)
    problems.update(ws, rebuild=True)
    rec2 = next(p for p in problems.problems(ws, min_size=1) if p.id == rec.id)
    assert rec2.label == "往来款长期挂账未清理"
    ids = {f.id for f in rec2.findings}
    assert moved.id in ids and dropped.id not in ids
    assert all(dropped.id not in {f.id for f in p.findings} for p in problems.problems(ws, min_size=1))
    assert [e["action"] for e in problems.edits(ws)] == ["rename", "move", "remove"]


def test_merge_and_split(ws: Workspace):
    rec = cluster_of(ws, "暂收暂付款长期挂账")
    tender = cluster_of(ws, "规避公开招标")
    problems.merge(ws, rec.id, [tender.id])
    merged = next(p for p in problems.problems(ws) if p.id == rec.id)
    assert len(merged.findings) == len(rec.findings) + len(tender.findings)
    assert tender.id not in {p.id for p in problems.problems(ws)}
    back = [f.id for f in tender.findings]
    new_id = problems.split(ws, rec.id, back, label="规避招标")
    split_off = next(p for p in problems.problems(ws) if p.id == new_id)
    assert sorted(f.id for f in split_off.findings) == sorted(back) and split_off.label == "规避招标"
    with pytest.raises(problems.EditError):
        problems.split(ws, rec.id, ["no-such-finding"])


def test_subset_filters(ws: Workspace):
    only_audit = problems.problems(ws, filters={"issuer_kind": ["audit"]}, min_size=1)
    assert only_audit and all(f.issuer_kind == "audit" for p in only_audit for f in p.findings)
    assert problems.problems(ws, min_bodies=3)  # the receivables problem spans three bodies
    assert not problems.problems(ws, min_bodies=4)


def test_label_of_a_restricted_view_comes_from_visible_findings(ws: Workspace):
    rec = cluster_of(ws, "暂收暂付款长期挂账")
    secret = "仅见于人大报告的措辞"
    ws.catalogue.db.execute("UPDATE clusters SET label=?, keywords='[\"措辞\"]' WHERE id=?", (secret, rec.id))
    ws.catalogue.db.commit()
    seen = next(p for p in problems.problems(ws, filters={"issuer_kind": ["audit", "inspection"]}) if p.id == rec.id)
    visible = "".join(f.text for f in seen.findings)
    assert seen.label != secret and "措辞" not in seen.keywords
    # the name is the vocabulary's problem type the visible findings share, or their own wording
    from miner.naming import shared_type

    assert seen.label == shared_type([f.text for f in seen.findings])[0] or all(ch in visible for ch in seen.label)
    full = next(p for p in problems.problems(ws) if p.id == rec.id)
    assert full.label == secret  # unrestricted views keep the stored name


def _no_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a, **_k):
        raise AssertionError("reading common problems must not embed anything")

    monkeypatch.setattr(problems, "_embeddings", refuse)


def test_reading_only_reads_what_was_stored(ws: Workspace, monkeypatch: pytest.MonkeyPatch):
    before = problems.problems(ws, min_size=1, recurrences=False)
    restricted = problems.problems(ws, min_size=1, filters={"issuer_kind": ["audit", "inspection"]})
    _no_embedder(monkeypatch)
    assert problems.update(ws) == 0  # nothing new: compares digests, embeds nothing
    again = problems.problems(ws, min_size=1, recurrences=False)
    assert [(p.id, p.label, p.keywords, [f.id for f in p.findings]) for p in again] == [
        (p.id, p.label, p.keywords, [f.id for f in p.findings]) for p in before
    ]
    # names for a subset of issuer kinds were stored when the clusters changed
    again_restricted = problems.problems(ws, min_size=1, filters={"issuer_kind": ["audit", "inspection"]})
    assert [(p.label, p.keywords) for p in again_restricted] == [(p.label, p.keywords) for p in restricted]


def test_stored_views_follow_edits_and_equal_a_full_recomputation(ws: Workspace):
    rec = cluster_of(ws, "暂收暂付款长期挂账")
    tender = cluster_of(ws, "规避公开招标")
    problems.merge(ws, rec.id, [tender.id])
    db = ws.catalogue.db
    versions = dict(db.execute("SELECT cluster_id, version FROM cluster_views"))
    assert tender.id not in versions and rec.id in versions
    typical = {r[0] for r in db.execute("SELECT finding_id FROM cluster_typical WHERE cluster_id=?", (rec.id,))}
    assert typical == {f.id for f in rec.findings + tender.findings}
    assert not db.execute("SELECT 1 FROM cluster_names WHERE cluster_id=?", (tender.id,)).fetchone()
    stored = db.execute("SELECT id, label, keywords, score, span FROM clusters ORDER BY id").fetchall()
    problems._refresh(ws, force=True)  # everything recomputed from scratch gives the same
    assert db.execute("SELECT id, label, keywords, score, span FROM clusters ORDER BY id").fetchall() == stored


def test_rejected_finding_leaves_the_stored_views(ws: Workspace):
    rec = cluster_of(ws, "暂收暂付款长期挂账")
    gone = rec.findings[0]
    ws.catalogue.decide(gone.id, "rejected")
    problems.update(ws)
    after = next(p for p in problems.problems(ws, min_size=1) if p.id == rec.id)
    assert gone.id not in {f.id for f in after.findings}
    assert after.span.endswith(f"{len(rec.findings) - 1} 条")
    assert problems.views_current(ws)
