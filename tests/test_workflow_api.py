"""The workflow routes (api/routes/workflow.py), mounted on the app as the lead will wire them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from workflow_reports import build_workspace

from api.main import create_app
from api.routes import workflow
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
    app.include_router(workflow.router)
    app.include_router(workflow.audit_router)
    with TestClient(app) as c:
        yield c, tokens


def _h(tokens, who):
    return {"Authorization": f"Bearer {tokens[who]}"}


def test_profile_is_cut_to_what_the_user_may_read(setup):
    c, t = setup
    full = c.get("/units/文旅局", headers=_h(t, "admin")).json()
    audit_only = c.get("/units/文旅局", headers=_h(t, "auditor")).json()
    assert {f["issuer_kind"] for f in full["findings"]} == {"audit", "inspection"}
    assert {f["issuer_kind"] for f in audit_only["findings"]} == {"audit"}
    # a chain that runs through an inspection report is not shown to an audit-only reader
    assert full["recurrences"] and not audit_only["recurrences"]
    assert c.get("/units/没有的单位", headers=_h(t, "admin")).status_code == 404


def test_edits_need_write_and_land_in_the_audit_log(setup):
    c, t = setup
    chains = c.get("/recurrence", headers=_h(t, "inspector")).json()
    assert chains == []  # every chain starts in an audit report
    fid = c.get("/status", headers=_h(t, "inspector")).json()[0]["finding_id"]
    r = c.post(f"/status/{fid}", json={"status": "整改中", "note": "约谈"}, headers=_h(t, "auditor"))
    assert r.status_code == 403
    r = c.post(f"/status/{fid}", json={"status": "整改中", "note": "约谈"}, headers=_h(t, "inspector"))
    assert r.status_code == 200 and r.json()["status"] == "整改中"
    r = c.post(f"/status/{fid}", json={"status": "已销号"}, headers=_h(t, "inspector"))
    assert r.status_code == 400
    assert c.get("/audit", headers=_h(t, "inspector")).status_code == 403
    log = c.get("/audit", params={"limit": 0}, headers=_h(t, "admin")).json()
    assert any(e["who"] == "inspector" and e["action"] == "edit" and e["target"] == f"status:{fid}" for e in log)
    assert any(e["who"] == "auditor" and e["action"] == "read" for e in log)
    csv = c.get("/audit/export", headers=_h(t, "admin"))
    assert csv.status_code == 200 and "inspector" in csv.text
    assert auditlog.ACTIONS  # the log's vocabulary is public


def test_restricting_a_finding_hides_it_from_readers_of_several_kinds(setup):
    c, t = setup
    fid = c.get("/status", headers=_h(t, "auditor")).json()[0]["finding_id"]
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
