"""Sharing rules for case leads, and the append-only audit log."""

from __future__ import annotations

import csv
import sqlite3

import pytest
from workflow_reports import build_workspace

from miner import auditlog, sharing


@pytest.fixture
def ws(tmp_path):
    w = build_workspace(tmp_path)
    yield w
    w.close()


@pytest.mark.parametrize(
    ("text", "lead"),
    [
        ("群众反映该局原局长违规插手工程项目的问题线索已移交市纪委监委", True),
        ("发现问题线索3件，已移送市纪委监委", True),
        ("对涉嫌犯罪的案件未及时移送司法机关", False),  # a problem of law enforcement, not a lead
        ("暂付款长期挂账未清理", False),
    ],
)
def test_lead_rule(text: str, lead: bool):
    assert bool(sharing.rule_reason(text)) is lead


def test_analyst_marks_and_clears(ws):
    cat = ws.catalogue
    assert sharing.restricted_finding_ids(cat) == set()
    f = cat.findings(document="i2023.txt")[0]
    sharing.mark(cat, "finding", f.id, reason="未核实的线索")
    assert sharing.restricted_finding_ids(cat) == {f.id}
    assert sharing.owners(cat) == {f.id: "inspection"}
    doc = cat.document("a2021.txt")
    sharing.mark(cat, "document", "a2021.txt", reason="内部")
    audit_ids = {x.id for x in cat.findings(document="a2021.txt")}
    assert sharing.restricted_finding_ids(cat) == {f.id} | audit_ids
    assert doc["id"] in sharing.restricted_document_ids(cat)
    # an analyst can share one finding of a restricted document
    one = next(iter(sorted(audit_ids)))
    sharing.mark(cat, "finding", one, restricted=False)
    assert one not in sharing.restricted_finding_ids(cat)
    with pytest.raises(KeyError):
        sharing.mark(cat, "finding", "nope")
    with pytest.raises(ValueError):
        sharing.mark(cat, "batch", f.id)


def test_who_may_see_a_restricted_item(ws):
    assert sharing.may_see("discipline", None)  # the administrator
    assert sharing.may_see("discipline", ["discipline"])
    assert not sharing.may_see("discipline", ["discipline", "audit"])  # a reader of several bodies
    assert not sharing.may_see("discipline", ["audit"])
    f = ws.catalogue.findings(document="i2023.txt")[0]
    sharing.mark(ws.catalogue, "finding", f.id)
    assert sharing.hidden_for(ws.catalogue, ["audit", "inspection"]) == {f.id}
    assert sharing.hidden_for(ws.catalogue, ["inspection"]) == set()


def test_audit_log_is_append_only(ws, tmp_path):
    cat = ws.catalogue
    n = auditlog.record(cat, "审计局分析员", "search", "往来款", 12, {"k": 10})
    auditlog.record(cat, "巡察办", "export", "xlsx", 30)
    with pytest.raises(ValueError):
        auditlog.record(cat, "x", "delete-everything")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        with cat.db:
            cat.db.execute("UPDATE audit_log SET who='someone else' WHERE seq=?", (n,))
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        with cat.db:
            cat.db.execute("DELETE FROM audit_log")
    rows = auditlog.entries(cat)
    assert [(r["who"], r["action"], r["items"]) for r in rows] == [
        ("审计局分析员", "search", 12),
        ("巡察办", "export", 30),
    ]
    assert rows[0]["detail"] == {"k": 10}
    assert auditlog.entries(cat, who="巡察办")[0]["target"] == "xlsx"
    out = auditlog.export(cat, tmp_path / "log.csv")
    with out.open(encoding="utf-8-sig") as fh:
        assert [r["who"] for r in csv.DictReader(fh)] == ["审计局分析员", "巡察办"]
    out = auditlog.export(cat, tmp_path / "log.jsonl", "jsonl")
    assert len(out.read_text(encoding="utf-8").splitlines()) == 2
