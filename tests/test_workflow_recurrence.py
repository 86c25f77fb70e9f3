"""Recurrence chains across years, unit profiles, and the CLI over them."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner
from workflow_reports import build_workspace

from miner import problems, profiles, recurrence
from miner.cli import app
from miner.recurrence import says_recurrence


def test_statements_that_say_they_recur():
    assert says_recurrence("2021年审计指出的暂付款截至2023年6月仍有50万元未收回")
    assert says_recurrence("超编配车问题反弹")
    assert says_recurrence("同类问题在2021年、2023年审计中均被指出")
    assert not says_recurrence("暂付款长期挂账未清理")


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = build_workspace(tmp_path_factory.mktemp("rec"))
    yield w
    w.close()


def test_found_reported_found_again(ws):
    chains = [c for c in recurrence.chains(ws) if c.earlier_in_workspace]
    by_label = {c.label: c for c in chains}
    # advance payments: reported in progress, still open, found again -> 屡审屡犯
    advance = by_label["屡审屡犯"]
    assert advance.unit == "文化旅游局"
    assert advance.documents == ["a2021.txt", "r2022.txt", "i2023.txt"]
    assert [e.role for e in advance.events] == ["found", "reported", "still_open", "found_again"]
    assert advance.years == [2021, 2022, 2023]
    # subsidies: reported fixed (已整改), found again -> 反弹
    subsidy = by_label["反弹"]
    assert [e.role for e in subsidy.events] == ["found", "reported", "found_again"]
    assert subsidy.events[1].status == "已整改"
    assert "→" in subsidy.summary()
    # problems found once are in no chain
    assert not any("公车私用" in e.text for c in chains for e in c.events)


def test_reported_fixed_then_found_persisting_is_not_genuine(ws):
    from miner import status

    advance = ws.catalogue.findings(document="a2021.txt")[0]
    status.set_status(ws.catalogue, advance.id, "已整改", on="2022-04-01")
    try:
        labels = {c.label for c in recurrence.chains(ws) if advance.id in {e.finding_id for e in c.events}}
        assert labels == {"整改不实"}  # said fixed, and the 2023 inspection found it still there
    finally:
        ws.catalogue.db.execute("DELETE FROM problem_status WHERE finding_id=?", (advance.id,))
        ws.catalogue.db.commit()


def test_chains_on_common_problems(ws):
    ps = problems.problems(ws)
    with_chains = [p for p in ps if p.recurrences]
    assert with_chains
    assert all({"unit", "label", "summary", "documents", "years"} <= set(r) for p in with_chains for r in p.recurrences)


def test_unit_profile(ws):
    p = profiles.profile(ws, "市文化旅游局党组")
    assert p is not None and p["unit"] == "文化旅游局"
    assert {d["name"] for d in p["documents"]} == {"a2021.txt", "r2022.txt", "i2023.txt"}
    assert p["bodies"] == ["audit", "inspection"]
    assert p["years"] == [2021, 2022, 2023]
    assert sum(p["statuses"].values()) == len(p["findings"])
    assert {r["recurrence"] for r in p["findings"]} >= {"反弹", "屡审屡犯"}
    assert len(p["rectifications"]) == 2
    md = profiles.to_markdown(p)
    assert md.startswith("# 单位画像：文化旅游局") and "| 年份 |" in md
    assert profiles.profile(ws, "不存在的单位") is None


def test_cli_unit_recurrence_and_audit(ws, tmp_path):
    run = CliRunner()
    base = ["--workspace", str(ws.root)]
    r = run.invoke(app, [*base, "unit", "文旅局", "--format", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["unit"] == "文化旅游局"
    out = tmp_path / "profile.md"
    r = run.invoke(app, [*base, "unit", "文旅局", "--out", str(out)])
    assert r.exit_code == 0 and out.read_text(encoding="utf-8").startswith("# 单位画像")
    r = run.invoke(app, [*base, "recurrence", "--format", "json"])
    assert r.exit_code == 0
    assert {c["label"] for c in json.loads(r.stdout)} == {"反弹", "屡审屡犯"}
    r = run.invoke(app, [*base, "unit", "没有这个单位"])
    assert r.exit_code != 0
    r = run.invoke(app, [*base, "rectify", "list", "--format", "json"])
    assert r.exit_code == 0 and len(json.loads(r.stdout)) == 2
    fid = ws.catalogue.findings(document="i2023.txt")[-1].id
    r = run.invoke(app, [*base, "status", "set", fid, "整改中", "--note", "已约谈", "--deadline", "2020-01-01"])
    assert r.exit_code == 0, r.output
    r = run.invoke(app, [*base, "status", "overdue", "--format", "json"])
    assert [row["finding_id"] for row in json.loads(r.stdout)] == [fid]
    r = run.invoke(app, [*base, "audit", "list", "--format", "json", "--limit", "0"])
    log = json.loads(r.stdout)
    assert [e["action"] for e in log][:3] == ["read", "read", "export"]  # unit --json; unit --out: read + export
    assert any(e["action"] == "edit" and e["target"] == f"status:{fid}" for e in log)
    assert all(e["who"].startswith("cli") for e in log)
