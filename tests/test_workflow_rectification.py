"""Rectification records: read from 整改 reports, linked to the finding they answer, relinkable."""

from __future__ import annotations

import pytest
from workflow_reports import RECTIFY_2022, build_workspace

from miner import rectification
from miner.rectification import amount_of, parse, status_of


def test_items_of_a_rectification_report():
    recs = parse(RECTIFY_2022, document_id="d", year=2022, title="整改情况的公告")
    assert [r.problem for r in recs] == ["暂付款长期挂账", "违规发放补助"]
    first, second = recs
    assert first.status == "整改中"  # 仍有……尚未收回
    assert first.amount_wan == 770.0
    assert second.status == "已整改"
    assert second.amount_wan == 18.5  # amount before its verb: "18.5万元已全部清退"
    assert first.date == second.date == "2022-03-20"
    assert "下一步" not in second.measures  # measures stop at the next top-level heading
    assert [r.id for r in recs] == ["d-r01", "d-r02"]


def test_not_a_rectification_report():
    assert parse("某局巡察反馈意见\n关于“暂付款长期挂账”的问题较多。", title="巡察反馈意见") == []


@pytest.mark.parametrize(
    ("measures", "status"),
    [
        ("已全部清退违规资金。", "已整改"),
        ("修订管理办法，实行集中采购。", "已整改"),
        ("正在与承租方协商解除合同。", "整改中"),
        ("仍有2家企业的工程款尚未支付。", "整改中"),
        ("因主管部门调整，该问题尚未整改。", "未整改"),
    ],
)
def test_status_from_measures(measures: str, status: str):
    assert status_of(measures) == status


def test_amounts_in_yuan_wan_and_yi():
    assert amount_of("已追回资金1.2亿元，收回租金30万元") == 12030.0
    assert amount_of("制定制度5项") is None


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = build_workspace(tmp_path_factory.mktemp("rect"))
    yield w
    w.close()


def test_ingest_reads_records_and_links_them(ws):
    recs = rectification.records(ws, document="r2022.txt")
    assert len(recs) == 2
    found = {f.id: f for f in ws.catalogue.findings(document="a2021.txt")}
    for r in recs:
        assert r.linked_by == "auto" and r.finding_id in found, r
        assert 0.5 <= r.link_score <= 1
    assert "暂付款" in found[recs[0].finding_id].text
    assert "补助" in found[recs[1].finding_id].text


def test_analyst_relink_survives_rescan(ws):
    rec = rectification.records(ws, document="r2022.txt")[0]
    other = ws.catalogue.findings(document="a2021.txt")[1]
    rectification.relink(ws, rec.id, other.id)
    rectification.scan(ws)
    again = rectification.records(ws, document="r2022.txt")[0]
    assert (again.finding_id, again.linked_by) == (other.id, "analyst")
    rectification.relink(ws, rec.id, None)
    rectification.scan(ws)
    assert rectification.records(ws, document="r2022.txt")[0].finding_id is None
    with pytest.raises(KeyError):
        rectification.relink(ws, "no-such-record", None)


def test_records_of_an_earlier_batch_link_to_findings_that_arrive_later(tmp_path):
    """The rectification report lands first; the report it answers comes in a later batch."""
    from workflow_reports import SIDECAR, write_reports

    from miner.pipeline import Workspace, ingest

    files = {p.name: p for p in write_reports(tmp_path / "in")}
    ws = Workspace(tmp_path / "ws")
    try:
        ingest(ws, [files["r2022.txt"]], sidecar=SIDECAR, index=False)
        assert [r.finding_id for r in rectification.records(ws, document="r2022.txt")] == [None, None]
        ingest(ws, [files["a2021.txt"], files["i2023.txt"]], sidecar=SIDECAR, index=False)
        recs = rectification.records(ws, document="r2022.txt")
        found = {f.id for f in ws.catalogue.findings(document="a2021.txt")}
        assert len(recs) == 2 and all(r.finding_id in found and r.linked_by == "auto" for r in recs)
        # a batch without rectification reports re-reads only the documents that hold records
        assert rectification.affected_by(ws, ["x"]) == sorted({"x", recs[0].document_id})
    finally:
        ws.close()
