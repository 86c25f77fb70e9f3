"""What the page needs from the API: sign-in sessions, background uploads, the source viewer, Chinese errors."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api import session
from api.main import create_app
from api.source import locate, text_context
from miner import access
from miner.config import Settings

BASE = "http://127.0.0.1:8000"
SAMPLES = Path(__file__).resolve().parents[1] / "corpora" / "samples"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    ws = tmp_path_factory.mktemp("page-api")
    tokens = {
        "writer": access.add_user(ws, "writer", ["*"], can_write=True),
        "auditor": access.add_user(ws, "auditor", ["audit"], can_write=True),
    }
    with TestClient(create_app(ws, Settings()), base_url=BASE) as c:
        yield c, ws, tokens


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_session_cookie_signs_in_and_out(served):
    c, _, tokens = served
    c.cookies.clear()
    assert c.get("/session").json() == {"signed_in": False, "multi_user": True}
    r = c.post("/session", json={"token": "wrong"})
    assert r.status_code == 401 and "访问令牌无效" in r.json()["error"]
    r = c.post("/session", json={"token": tokens["writer"]})
    assert r.status_code == 200 and r.json()["user"] == "writer"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=" in cookie
    assert tokens["writer"] not in cookie
    assert c.get("/documents").status_code == 200  # the cookie alone is enough
    assert c.get("/session").json()["can_write"] is True
    c.delete("/session")
    c.cookies.clear()  # the client drops an expired cookie as a browser does
    assert c.get("/documents").status_code == 401


def test_session_values_are_checked(served):
    _, ws, _ = served
    secret = (ws / "api_secret").read_text().strip().encode()
    secret = bytes.fromhex(secret.decode())
    users = access.load(ws)
    writer = next(u for u in users if u.name == "writer")
    value = session.issue(secret, writer, hours=1)
    assert session.verify(secret, users, value) == writer
    assert session.verify(secret, users, value, now=time.time() + 7200) is None  # expired
    assert session.verify(b"another workspace" * 2, users, value) is None  # forged
    name, expiry, fp, mac = value.split("|")
    assert session.verify(secret, users, f"{name}|{int(expiry) + 9999}|{fp}|{mac}") is None  # tampered expiry
    # A new token for the user (or revoking them) ends the sessions issued before.
    renewed = [access.User(u.name, "0" * 64, u.issuer_kinds, u.can_write) if u.name == "writer" else u for u in users]
    assert session.verify(secret, renewed, value) is None
    assert session.verify(secret, [u for u in users if u.name != "writer"], value) is None
    assert session.verify(secret, users, "garbage") is None and session.verify(secret, users, None) is None


def test_cross_site_sign_in_is_refused(served):
    c, _, tokens = served
    r = c.post("/session", json={"token": tokens["writer"]}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    c.cookies.clear()


def test_background_upload_reports_progress_to_its_uploader_only(served):
    c, _, tokens = served
    files = [
        ("files", (name, (SAMPLES / name).read_bytes()))
        for name in ("s01_audit_jiangzhou_water.txt", "s07_audit_jiangzhou_education.pdf")
    ]
    r = c.post(
        "/batches?background=true",
        files=files,
        data={"metadata": '{"issuer_kind": "audit"}'},
        headers=_bearer(tokens["auditor"]),
    )
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["total"] == 2 and {f["state"] for f in job["files"]} <= {"queued", "parsing"}
    seen = {job["phase"]}
    for _ in range(600):
        job = c.get(f"/batches/-/jobs/{job['job']}", headers=_bearer(tokens["auditor"])).json()
        seen.add(job["phase"])
        if job["phase"] in ("done", "failed"):
            break
        time.sleep(0.2)
    assert job["phase"] == "done", job
    assert job["done"] == 2 and {f["state"] for f in job["files"]} == {"ok"}
    assert job["batch"]["counts"]["ok"] == 2 and job["phase_zh"] == "已完成"
    # Another user cannot follow someone else's upload.
    other = c.get(f"/batches/-/jobs/{job['job']}", headers=_bearer(tokens["writer"]))
    assert other.status_code == 404 and "没有该上传任务" in other.json()["error"]


def _finding_in(c, tokens, user: str, suffix: str) -> str:
    docs = c.get("/documents", headers=_bearer(tokens[user])).json()
    doc = next(d for d in docs if d["name"].endswith(suffix))
    return c.get(f"/documents/{doc['id']}", headers=_bearer(tokens[user])).json()["findings"][0]["id"]


def test_source_viewer_renders_the_page_and_serves_the_original(served):
    c, _, tokens = served
    fid = _finding_in(c, tokens, "auditor", ".pdf")
    s = c.get(f"/findings/{fid}/source", headers=_bearer(tokens["auditor"])).json()
    assert s["kind"] == "pdf" and s["page_image"] and s["download"]
    assert s["document"]["issuer_kind"] == "audit" and "path" not in s["document"]
    assert s["context"]["match"] and s["context"]["match"] in s["finding"]["text"] + s["context"]["match"]
    png = c.get(s["page_image"], headers=_bearer(tokens["auditor"]))
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.headers["x-miner-highlighted"] == "1"
    original = c.get(s["download"], headers=_bearer(tokens["auditor"]))
    assert original.status_code == 200 and original.content[:5] == b"%PDF-"
    assert "attachment" in original.headers["content-disposition"]
    txt = c.get(f"/findings/{_finding_in(c, tokens, 'auditor', '.txt')}/source", headers=_bearer(tokens["auditor"]))
    assert txt.json()["kind"] == "text" and txt.json()["page_image"] is None


def test_source_follows_the_access_rules(served):
    c, ws, tokens = served
    reader = access.add_user(ws, "discipline_only", ["discipline"], can_write=False)
    fid = _finding_in(c, tokens, "auditor", ".pdf")
    for path in (f"/findings/{fid}/source", f"/findings/{fid}/page.png"):
        assert c.get(path, headers=_bearer(reader)).status_code == 404
        assert c.get(path).status_code == 401
    doc = fid.rsplit("-", 1)[0]
    assert c.get(f"/documents/{doc}/file", headers=_bearer(reader)).status_code == 404


def test_locate_finds_a_finding_across_spacing_and_width():
    page = list("（一）其他应收款长期挂账。截至２０２３年底，\n余额926.30万元。（二）学校采购化整为零。")
    first, last = locate(page, "其他应收款长期挂账。截至2023年底，余额926.30万元。")
    assert "".join(page[first : last + 1]).replace("\n", "").startswith("其他应收款")
    assert page[last] == "。" and last < "".join(page).index("（二）")
    # Running on to the next page: highlighted to the end of this one.
    first, last = locate(page, "学校采购化整为零。3所中学将同一批次课桌椅采购拆分为6个项目")
    assert "".join(page[first:]).startswith("学校") and last == len(page) - 1
    assert locate(page, "完全不在本页的句子，并且很长很长") is None
    ctx = text_context("前文。问题句子。后文。", 3, 8, chars=2)
    assert ctx == {"before": "…文。", "match": "问题句子。", "after": "后文…"}


def test_every_error_has_a_chinese_form(served):
    c, _, tokens = served
    for method, path in (("GET", "/no-such-route"), ("PUT", "/documents"), ("GET", "/documents/nope")):
        r = c.request(method, path, headers=_bearer(tokens["writer"]))
        assert r.status_code >= 400
        assert any("\u4e00" <= ch <= "\u9fff" for ch in r.json()["error"]), (path, r.json())


def test_offline_docs_and_favicon(served):
    c, _, tokens = served
    docs = c.get("/docs", headers=_bearer(tokens["writer"])).text
    assert "/docs/assets/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert c.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
    assert c.get("/docs/assets/../main.py").status_code == 404
    assert "/docs/assets/redoc.standalone.js" in c.get("/redoc", headers=_bearer(tokens["writer"])).text
    assert c.get("/favicon.ico").headers["content-type"].startswith("image/svg")
