"""The workflow routes (api/routes/workflow.py): scoped to the caller, edits by writers, one audit entry per request."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from workflow_reports import build_workspace

from api.main import create_app
from miner import access, auditlog
from miner.config import Settings


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    ws = build_workspace(root)
    ws.close()
    tokens = {
        "admin": access.add_user(ws.root, "admin", ["*"], True),
        "auditor": access.add_user(ws.root, "auditor", ["audit"], False),
        "inspector": access.add_user(ws.root, "inspector", ["inspection"], True),
        "both": access.add_user(ws.root, "both", ["audit", "inspection"], False),
    }
    app = create_app(ws.root, Settings(workspace=ws.root))
    with TestClient(app, base_url="http://127.0.0.1:8000") as c:
        yield c, tokens, app


def _h(tokens, who):
    return {"Authorization": f"Bearer {tokens[who]}"}


def _log(c, t) -> list[dict]:
    return c.get("/audit", params={"limit": 0}, headers=_h(t, "admin")).json()


def test_profile_is_cut_to_what_the_user_may_read(setup):
    c, t, _ = setup
    full = c.get("/units/文旅局", headers=_h(t, "admin")).json()
    audit_only = c.get("/units/文旅局", headers=_h(t, "auditor")).json()
    assert {f["issuer_kind"] for f in full["findings"]} == {"audit", "inspection"}
    assert {f["issuer_kind"] for f in audit_only["findings"]} == {"audit"}
    assert {d["issuer_kind"] for d in audit_only["documents"]} == {"audit"}
    assert audit_only["bodies"] == ["audit"]
    # the chain that runs through the inspection report is not shown to an audit-only reader
    assert any(e["issuer_kind"] == "inspection" for ch in full["recurrences"] for e in ch["events"])
    assert all(e["issuer_kind"] == "audit" for ch in audit_only["recurrences"] for e in ch["events"])
    assert "i2023.txt" not in str(audit_only)
    for ch in full["recurrences"]:
        assert ch["cluster_id"] is None or ch["cluster_id"].startswith("p-")
    assert c.get("/units/没有的单位", headers=_h(t, "admin")).status_code == 404
    md = c.get("/units/文旅局/export", params={"format": "md"}, headers=_h(t, "auditor"))
    assert md.status_code == 200 and md.text.startswith("# 单位画像") and "i2023.txt" not in md.text
    units = c.get("/units", headers=_h(t, "inspector")).json()
    assert units and all(set(u["files"]) <= {"i2023.txt"} for u in units)


def test_edits_need_write_and_every_request_is_logged_once(setup):
    c, t, app = setup
    before = len(_log(c, t))
    chains = c.get("/recurrence", headers=_h(t, "inspector")).json()
    assert chains == []  # every chain starts in an audit report, which the inspector may not read
    fid = c.get("/status", headers=_h(t, "inspector")).json()[0]["finding_id"]
    r = c.post(f"/status/{fid}", json={"status": "整改中", "note": "约谈"}, headers=_h(t, "auditor"))
    assert r.status_code == 403
    r = c.post(f"/status/{fid}", json={"status": "整改中", "note": "约谈"}, headers=_h(t, "inspector"))
    assert r.status_code == 200 and r.json()["status"] == "整改中"
    r = c.post(f"/status/{fid}", json={"status": "已销号"}, headers=_h(t, "inspector"))
    assert r.status_code == 422
    history = c.get(f"/status/{fid}/history", headers=_h(t, "inspector")).json()
    assert [h["status"] for h in history] == ["整改中"]
    assert c.get(f"/status/{fid}/history", headers=_h(t, "auditor")).status_code == 404
    assert c.get("/audit", headers=_h(t, "inspector")).status_code == 403
    assert c.get("/recurrence").status_code == 401  # no token: refused, not logged
    log = _log(c, t)
    new = log[before + 1 :]  # after the admin's own first read of the log
    assert [(e["who"], e["action"], e["detail"]["status"]) for e in new] == [
        ("inspector", "read", 200),
        ("inspector", "read", 200),
        ("auditor", "deny", 403),
        ("inspector", "edit", 200),
        ("inspector", "edit", 422),
        ("inspector", "read", 200),
        ("auditor", "read", 404),
        ("inspector", "read", 403),
    ]
    assert new[3]["target"] == f"/status/{fid}" and new[0]["items"] == 0
    assert new[1]["items"] >= 1
    csv = c.get("/audit/export", headers=_h(t, "admin"))
    assert csv.status_code == 200 and "inspector" in csv.text
    assert "search" in auditlog.ACTIONS


def test_restricting_a_finding_hides_it_from_readers_of_several_kinds(setup):
    c, t, _ = setup
    found = c.get("/status", headers=_h(t, "auditor")).json()
    fid = found[0]["finding_id"]
    r = c.post(
        "/restrictions",
        json={"target_kind": "finding", "target_id": fid, "reason": "线索"},
        headers=_h(t, "admin"),
    )
    assert r.status_code == 200
    assert fid in {s["finding_id"] for s in c.get("/status", headers=_h(t, "auditor")).json()}  # its own body
    assert fid in {s["finding_id"] for s in c.get("/status", headers=_h(t, "admin")).json()}
    assert fid not in {s["finding_id"] for s in c.get("/status", headers=_h(t, "both")).json()}
    rows = c.get("/restrictions", headers=_h(t, "auditor")).json()
    assert [r["finding_id"] for r in rows] == [fid]
    assert c.get("/restrictions", headers=_h(t, "both")).json() == []
    # and everywhere else: the finding, its document's text, search
    assert c.get(f"/findings/{fid}", headers=_h(t, "both")).status_code == 404
    text = c.get(f"/findings/{fid}", headers=_h(t, "auditor")).json()["text"]
    doc = c.get(f"/findings/{fid}", headers=_h(t, "auditor")).json()["document"]
    seen = c.get(f"/documents/{doc}", params={"text": True}, headers=_h(t, "both")).json()
    assert text not in seen["text"] and "■" in seen["text"]
    assert fid not in {f["id"] for f in seen["findings"]}
    hits = c.get("/search", params={"q": text[:12]}, headers=_h(t, "both")).json()["hits"]
    assert fid not in {h["id"] for h in hits}
    # a writer who may not see it cannot clear it either
    r = c.post(
        "/restrictions",
        json={"target_kind": "finding", "target_id": fid, "restricted": False},
        headers=_h(t, "inspector"),
    )
    assert r.status_code == 404


def test_hidden_findings_do_not_take_a_readers_places_in_search(setup):
    c, t, _ = setup
    q = "暂付款"
    top = c.get("/search", params={"q": q, "k": 3}, headers=_h(t, "both")).json()["hits"]
    assert len(top) >= 2
    hidden = top[0]["id"]
    r = c.post(
        "/restrictions",
        json={"target_kind": "finding", "target_id": hidden, "reason": "线索"},
        headers=_h(t, "admin"),
    )
    assert r.status_code == 200
    try:
        hits = c.get("/search", params={"q": q, "k": 1}, headers=_h(t, "both")).json()["hits"]
        assert [h["id"] for h in hits] == [top[1]["id"]]
        similar = c.get(f"/findings/{top[1]['id']}/similar", params={"k": 1}, headers=_h(t, "both")).json()
        assert hidden not in {h["id"] for h in similar["hits"]}
    finally:
        c.post(
            "/restrictions",
            json={"target_kind": "finding", "target_id": hidden, "restricted": False},
            headers=_h(t, "admin"),
        )
