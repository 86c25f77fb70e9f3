"""Problem status: from records, by an analyst (with history), deadlines and overdue problems."""

from __future__ import annotations

from datetime import date

import pytest
from workflow_reports import build_workspace

from miner import status


@pytest.fixture
def ws(tmp_path):
    w = build_workspace(tmp_path)
    yield w
    w.close()


def _audit_findings(ws):
    return ws.catalogue.findings(document="a2021.txt")


def test_status_follows_linked_records(ws):
    advance, idle, subsidy = _audit_findings(ws)
    st = status.statuses(ws.catalogue)
    assert (st[advance.id].status, st[advance.id].source) == ("整改中", "rectification")
    assert st[subsidy.id].status == "已整改"
    assert (st[idle.id].status, st[idle.id].source) == ("未整改", "default")
    assert st[advance.id].records


def test_analyst_status_history_and_closing(ws):
    f = _audit_findings(ws)[1]
    with pytest.raises(ValueError, match="已整改"):
        status.set_status(ws.catalogue, f.id, "已销号")
    status.set_status(ws.catalogue, f.id, "整改中", note="已制定运营方案", on="2022-01-10", who="甲")
    s = status.set_status(ws.catalogue, f.id, "已整改", note="已投入使用", on="2022-09-01", who="甲")
    assert (s.status, s.source, s.note) == ("已整改", "analyst", "已投入使用")
    s = status.set_status(ws.catalogue, f.id, "已销号", on="2022-10-01")
    assert s.status == "已销号"
    assert [h["status"] for h in status.history(ws.catalogue, f.id)] == ["整改中", "已整改", "已销号"]
    with pytest.raises(ValueError):
        status.set_status(ws.catalogue, f.id, "done")
    with pytest.raises(KeyError):
        status.set_status(ws.catalogue, "nope", "整改中")
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        status.set_status(ws.catalogue, f.id, "整改中", on="2022/1/1")


def test_deadlines_and_overdue(ws):
    advance, idle, subsidy = _audit_findings(ws)
    status.set_deadline(ws.catalogue, idle.id, "2022-06-30", responsible="市文化旅游局")
    status.set_deadline(ws.catalogue, subsidy.id, "2022-06-30")
    status.set_deadline(ws.catalogue, advance.id, "2030-01-01")
    late = status.overdue(ws.catalogue, today=date(2024, 1, 1))
    # the rectified one and the one not yet due are not overdue
    assert [s.finding_id for s in late] == [idle.id]
    assert late[0].responsible == "市文化旅游局"
    # a deadline alone leaves the status derived
    assert status.statuses(ws.catalogue)[subsidy.id].source == "rectification"
