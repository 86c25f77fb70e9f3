"""The HTTP API, end to end on the sample reports, with FastAPI's TestClient (no network)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from miner.config import Settings

SAMPLES = Path(__file__).resolve().parents[1] / "corpora" / "samples"
BASE = "http://127.0.0.1:8000"  # an allowed Host (the default TestClient host is refused)


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> TestClient:
    ws = tmp_path_factory.mktemp("ws")
    app = create_app(ws, Settings(workspace=ws, max_upload_mb=1))
    with TestClient(app, base_url=BASE) as c:
        files = [("files", (p.name, p.read_bytes(), "text/plain")) for p in sorted(SAMPLES.glob("*.txt"))]
        files.append(("files", ("broken.pdf", b"%PDF-1.4 truncated", "application/pdf")))
        r = c.post("/batches", files=files, data={"label": "样例"})
        assert r.status_code == 201, r.text
        c.batch = r.json()  # type: ignore[attr-defined]
        yield c


def test_upload_reports_per_file_status(client: TestClient):
    batch = client.batch  # type: ignore[attr-defined]
    status = {f["name"]: f["status"] for f in batch["files"]}
    assert status.pop("broken.pdf") == "failed"
    assert set(status.values()) == {"ok"} and len(status) == 6
    assert client.get(f"/batches/{batch['id']}").json()["counts"] == {"ok": 6, "duplicate": 0, "failed": 1}


def test_duplicate_upload_is_noop(client: TestClient):
    p = sorted(SAMPLES.glob("*.txt"))[0]
    before = len(client.get("/documents").json())
    r = client.post("/batches", files=[("files", ("renamed.txt", p.read_bytes(), "text/plain"))])
    assert r.status_code == 201 and r.json()["files"][0]["status"] == "duplicate"
    assert len(client.get("/documents").json()) == before


def test_wrong_type_and_too_large(client: TestClient):
    r = client.post("/batches", files=[("files", ("virus.exe", b"MZ", "application/octet-stream"))])
    assert r.status_code == 415 and "unsupported" in r.json()["error"]
    big = io.BytesIO(b"x" * (1024 * 1024 + 10))
    r = client.post("/batches", files=[("files", ("big.txt", big, "text/plain"))])
    assert r.status_code == 413
    r = client.post("/batches", files=[("files", ("a.txt", b"x", "text/plain"))], data={"metadata": "{bad json"})
    assert r.status_code == 422


def test_documents_and_findings_cite_sources(client: TestClient):
    docs = client.get("/documents").json()
    audit = next(d for d in docs if d["name"].startswith("s01"))
    assert audit["issuer_kind"] == "audit" and audit["year"] == 2024
    detail = client.get(f"/documents/{audit['id']}").json()
    f = detail["findings"][0]
    one = client.get(f"/findings/{f['id']}").json()
    assert one["document"] == audit["name"] and one["page"] == 1 and one["citation"].endswith("第1页")
    assert client.get("/findings/nope").status_code == 404
    assert client.get("/findings/nope").json()["error"]


def test_search_with_filters(client: TestClient):
    r = client.get("/search", params={"q": "往来款长期挂账", "k": 5}).json()
    assert r["hits"] and "暂" in r["hits"][0]["text"] + r["hits"][0]["text_normalised"]
    kinds = {
        h["issuer_kind"]
        for h in client.get("/search", params={"q": "往来款", "issuer_kind": "congress"}).json()["hits"]
    }
    assert kinds == {"congress"}
    assert client.get("/search", params={"q": "往来款", "issuer_kind": "police"}).status_code == 422
    assert client.get("/search", params={"q": "往来款", "year": "twenty"}).status_code == 422


def test_similar_excludes_own_document(client: TestClient):
    hit = client.get("/search", params={"q": "公车私用", "k": 1}).json()["hits"][0]
    sim = client.get(f"/findings/{hit['id']}/similar", params={"k": 5}).json()
    assert sim["hits"] and all(h["document"] != hit["document"] for h in sim["hits"])


def test_clusters_edit_and_export(client: TestClient):
    cs = client.get("/clusters").json()
    assert cs, "the samples share problems across bodies"
    top = cs[0]
    assert len({f["issuer_kind"] for f in top["findings"]}) >= 2
    assert all(f["document"] and f["page"] for f in top["findings"])
    r = client.post(f"/clusters/{top['id']}/rename", json={"label": "往来款长期挂账未清理"})
    assert r.status_code == 200
    assert client.get(f"/clusters/{top['id']}").json()["label"] == "往来款长期挂账未清理"
    assert client.post("/clusters/nope/rename", json={"label": "x"}).status_code == 404
    x = client.get("/exports", params={"format": "xlsx"})
    assert x.status_code == 200 and x.content[:2] == b"PK"
    md = client.get("/exports", params={"format": "md"}).text
    assert "往来款长期挂账未清理" in md and "第1页" in md


def test_web_page_and_docs(client: TestClient):
    page = client.get("/")
    assert page.status_code == 200 and "共性问题" in page.text
    assert client.get("/openapi.json").json()["info"]["title"] == "miner API"


def test_access_tokens_limit_what_users_see(tmp_path):
    from miner import access
    from miner.naming import shared_type

    ws = tmp_path / "ws"
    app = create_app(ws, Settings(workspace=ws))
    with TestClient(app, base_url=BASE) as c:
        files = [("files", (p.name, p.read_bytes(), "text/plain")) for p in sorted(SAMPLES.glob("*.txt"))]
        assert c.post("/batches", files=files).status_code == 201  # single-user mode: open on localhost
        auditor = access.add_user(ws, "审计局分析员", ["audit", "congress"])
        admin = access.add_user(ws, "管理员", ["*"], can_write=True)
        assert c.get("/documents").status_code == 401
        assert c.get("/documents", headers={"Authorization": "Bearer wrong"}).status_code == 401
        h = {"Authorization": f"Bearer {auditor}"}
        kinds = {d["issuer_kind"] for d in c.get("/documents", headers=h).json()}
        assert kinds == {"audit", "congress"}
        hidden = next(
            d
            for d in c.get("/documents", headers={"Authorization": f"Bearer {admin}"}).json()
            if d["issuer_kind"] == "discipline"
        )
        assert c.get(f"/documents/{hidden['id']}", headers=h).status_code == 404
        hits = c.get("/search", params={"q": "公车私用 违规发放津贴补贴", "k": 20}, headers=h).json()["hits"]
        assert hits and {x["issuer_kind"] for x in hits} <= {"audit", "congress"}
        for cl in c.get("/clusters", headers=h).json():
            assert {f["issuer_kind"] for f in cl["findings"]} <= {"audit", "congress"}
            visible = "".join(f["text_normalised"] for f in cl["findings"])
            # a name is the vocabulary's problem type the visible findings share, or their own words
            typed = cl["label"] == shared_type([f["text"] for f in cl["findings"]])[0]
            assert typed or all(ch in visible for ch in cl["label"] if "\u4e00" <= ch <= "\u9fff"), cl["label"]
            assert all(w in visible for w in cl["keywords"])
        assert c.post("/batches", files=files[:1], headers=h).status_code == 403
        assert c.post("/batches", files=files[:1], headers={"Authorization": f"Bearer {admin}"}).status_code == 201


def test_server_is_the_only_writer(tmp_path):
    from miner.store import WorkspaceBusy, write_lock

    ws = tmp_path / "ws"
    app = create_app(ws, Settings(workspace=ws))
    with TestClient(app, base_url=BASE):
        with pytest.raises(WorkspaceBusy, match="miner serve"):
            with write_lock(ws):
                pass
    with write_lock(ws):  # released when the server stops
        pass
