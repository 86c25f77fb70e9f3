"""The web boundary: foreign Host and cross-site writes refused, body limits before auth,
security headers, safe uploads, metadata validated before anything is written, xlsx
cells never formulas, and reads that do not wait for the writer."""

from __future__ import annotations

import io
import json
import re
import threading
import time
import zipfile
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from miner import access
from miner.config import Settings
from miner.export import export
from miner.records import CommonProblem, Finding

BASE = "http://127.0.0.1:8000"
SAMPLES = Path(__file__).resolve().parents[1] / "corpora" / "samples"
REPORT = (SAMPLES / "s01_audit_jiangzhou_water.txt").read_bytes()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Single-user mode (no users): the case CSRF and DNS rebinding attack."""
    ws = tmp_path_factory.mktemp("sec-ws")
    app = create_app(ws, Settings(workspace=ws, max_upload_mb=1, allowed_hosts=["miner.example.org"]))
    with TestClient(app, base_url=BASE) as c:
        r = c.post("/batches", files=[("files", ("s01.txt", REPORT, "text/plain"))])
        assert r.status_code == 201, r.text
        yield c, ws


def _batches(ws: Path) -> int:
    from miner import db as database

    db = database.connect(ws / "catalogue.sqlite", read_only=True)  # SQLite, or the test PostgreSQL
    try:
        return db.execute("SELECT COUNT(*) FROM batches").fetchone()[0]
    finally:
        db.close()


def test_foreign_host_is_refused_on_every_path(served):
    c, _ = served
    for path in ("/", "/health", "/documents", "/static/app.js", "/docs", "/nope"):
        r = c.get(path, headers={"Host": "evil.example:8000"})
        assert r.status_code == 400 and "host" in r.json()["error"], path
    assert c.get("/health", headers={"Host": "localhost:8000"}).status_code == 200
    assert c.get("/health", headers={"Host": "[::1]:8000"}).status_code == 200
    assert c.get("/health", headers={"Host": "miner.example.org"}).status_code == 200  # MINER_ALLOWED_HOSTS


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://127.0.0.1:9999"},  # another local port is another origin
        {"Referer": "http://evil.example/page.html"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
def test_cross_site_writes_are_refused(served, headers):
    c, ws = served
    before = _batches(ws)
    r = c.post("/batches", files=[("files", ("x.txt", b"abc", "text/plain"))], headers=headers)
    assert r.status_code == 403 and "跨站" in r.json()["error"] and "cross-site" in r.json()["error"]
    assert _batches(ws) == before
    top = c.get("/clusters").json()
    if top:
        r = c.post(f"/clusters/{top[0]['id']}/rename", json={"label": "被篡改"}, headers=headers)
        assert r.status_code == 403
    assert c.get("/documents", headers=headers).status_code == 200  # reads are not state-changing


def test_same_origin_writes_pass(served):
    c, _ = served
    r = c.post("/batches", files=[("files", ("dup.txt", REPORT, "text/plain"))], headers={"Origin": BASE})
    assert r.status_code == 201 and r.json()["files"][0]["status"] == "duplicate"


def test_security_headers_and_no_inline_script(served):
    c, _ = served
    for path in ("/", "/documents", "/static/app.js", "/nope"):
        h = c.get(path).headers
        assert h["x-frame-options"] == "DENY" and h["x-content-type-options"] == "nosniff", path
        assert (
            "frame-ancestors 'none'" in h["content-security-policy"]
            and "unsafe-inline" not in h["content-security-policy"]
        )
        assert h["referrer-policy"]
    page = c.get("/").text
    assert "<script>" not in page and not re.search(r"\son[a-z]+=", page)  # script only from /static/app.js
    assert "/static/app.js" in page and c.get("/static/app.js").status_code == 200
    assert c.get("/static/index.html").status_code == 404 and c.get("/static/..%2Fdeps.py").status_code == 404
    docs_csp = c.get("/docs").headers["content-security-policy"]
    assert "script-src 'self' 'sha256-" in docs_csp and "https:" not in docs_csp  # offline: no CDN
    assert "unsafe-inline" not in docs_csp


def _post_raw(app, headers: dict[str, str], chunks: int) -> tuple[int, int]:
    """POST /batches straight into the ASGI app, a 256 KiB chunk per receive(); returns (status, chunks read)."""
    import asyncio

    read = 0
    status = 0

    async def receive() -> dict:
        nonlocal read
        read += 1
        head = b'--xyz\r\nContent-Disposition: form-data; name="files"; filename="a.txt"\r\n\r\n' if read == 1 else b""
        return {"type": "http.request", "body": head + b"x" * (256 * 1024), "more_body": read < chunks}

    async def send(message: dict) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/batches",
        "raw_path": b"/batches",
        "root_path": "",
        "query_string": b"",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "headers": [(b"host", b"127.0.0.1:8000")] + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    asyncio.run(app(scope, receive, send))
    return status, read


def test_body_limit_before_reading_and_before_auth(tmp_path):
    ws = tmp_path / "ws"
    app = create_app(ws, Settings(workspace=ws, max_upload_mb=1, max_body_kb=4))
    token = access.add_user(ws, "writer", ["*"], can_write=True)
    multipart = {"content-type": "multipart/form-data; boundary=xyz"}
    # Content-Length over the limit: refused before the token is checked and before a byte is read.
    assert _post_raw(app, {"content-length": str(300 * 1024 * 1024), **multipart}, 1200) == (413, 0)
    # No Content-Length (chunked) and no token: refused without reading the body.
    assert _post_raw(app, multipart, 1200) == (401, 0)
    # With a token the body is read, but only up to the limit (1 MB = 4 chunks).
    status, read = _post_raw(app, {"authorization": f"Bearer {token}", **multipart}, 1200)
    assert status == 413 and read <= 5
    assert not (ws / "uploads").exists() or not any((ws / "uploads").iterdir())
    with TestClient(app, base_url=BASE) as c:  # other routes take small bodies only
        r = c.post("/clusters/x/rename", json={"label": "x" * 10_000}, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 413 and "MB" in r.json()["error"]


def test_long_hostile_names_and_failed_uploads_leave_nothing(served):
    c, ws = served
    long_name = "报告" * 150 + ".txt"
    r = c.post(
        "/batches",
        files=[
            # another report (REPORT with a place renamed would now be refused as the same report)
            ("files", (long_name, (SAMPLES / "s03_congress_jiangzhou.txt").read_bytes(), "text/plain")),
            ("files", ("../../etc/pass<wd>.txt", b"\x00\x01", "text/plain")),
            ("files", ("broken.pdf", b"%PDF-1.4 truncated", "application/pdf")),
        ],
    )
    assert r.status_code == 201, r.text
    files = {f["status"]: f for f in r.json()["files"]}
    assert len(files["ok"]["name"]) <= 120 and files["ok"]["name"].endswith(".txt")
    assert files["failed"]["name"] == "broken.pdf"
    kept = [p for p in (ws / "uploads").rglob("*") if p.is_file()]
    assert all("broken" not in p.name and len(p.name.encode()) < 255 for p in kept)
    assert all(".." not in p.relative_to(ws / "uploads").as_posix() for p in kept)
    assert "path" not in json.dumps(c.get("/batches").json())  # no server paths in responses


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("报告.PDF", "报告.pdf"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("C:\\Users\\a\\审计 报告(1).docx", "审计 报告(1).docx"),
        ("..pdf", "upload.pdf"),
        ("a\u202eb\x00c;rm -rf.txt", "a_b_c_rm -rf.txt"),
        ("", "upload"),
    ],
)
def test_safe_upload_names(raw, expected):
    from api.routes.batches import safe_name

    assert safe_name(raw, 120) == expected
    long = safe_name("巡察" * 200 + ".pdf", 120)
    assert long.endswith(".pdf") and len(long) <= 120 and len(long.encode()) <= 200


@pytest.mark.parametrize(
    "metadata",
    [
        {"units": 5},
        {"year": "abc"},
        {"year": 1e20},
        {"year": 2024.5},
        {"issuer_kind": "police"},
        {"colour": "red"},
        {"files": {"s01.txt": {"year": "2024年"}}},
        {"files": {"other.txt": {"year": 2024}}},
        {"files": {"s01.txt": {"units": [1, 2]}}},
        [1, 2],
        "{bad json",
    ],
)
def test_bad_metadata_is_refused_before_anything_is_written(served, metadata):
    c, ws = served
    before = _batches(ws)
    uploads = sorted((ws / "uploads").iterdir())
    raw = metadata if isinstance(metadata, str) else json.dumps(metadata)
    r = c.post(
        "/batches",
        files=[("files", ("s01.txt", b"new content " + raw.encode(), "text/plain"))],
        data={"metadata": raw},
    )
    assert r.status_code == 422, r.text
    assert "元数据" in r.json()["error"] and "metadata" in r.json()["error"]
    assert _batches(ws) == before and sorted((ws / "uploads").iterdir()) == uploads


def test_good_metadata_is_applied(served):
    c, _ = served
    meta = {"issuer_kind": "audit", "files": {"m.txt": {"year": 2023, "unit": "某局；另一局", "issuer": "某审计局"}}}
    r = c.post(
        "/batches",
        # another report (a near copy of REPORT would be refused as the same report)
        files=[("files", ("m.txt", (SAMPLES / "s05_finance_jiangzhou.txt").read_bytes(), "text/plain"))],
        data={"metadata": json.dumps(meta)},
    )
    assert r.status_code == 201, r.text
    doc = c.get(f"/documents/{r.json()['files'][0]['document_id']}").json()
    assert (doc["year"], doc["issuer"], doc["units"]) == (2023, "某审计局", ["某局", "另一局"])


def _finding(text: str, n: int = 1) -> Finding:
    return Finding(
        id=f"d{n}-001",
        document=f"=cmd|' /C calc'!A{n}.pdf",
        text=text,
        issuer="=1+1",
        unit="@SUM(A1)",
        issuer_kind="audit",
        year=2024,
    )


def test_xlsx_cells_from_data_are_never_formulas(tmp_path):
    problem = CommonProblem(
        id="c-1",
        label='=HYPERLINK("http://evil.example","点击")',
        keywords=["=2+2"],
        findings=[_finding('=WEBSERVICE("http://evil.example")往来款长期挂账', 1), _finding("+1-1 公车私用", 2)],
        note="-3+3",
    )
    path = export([problem], "xlsx", tmp_path, title="=1+1 清单", generated_at=date(2026, 1, 1))
    with zipfile.ZipFile(path) as z:
        sheets = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
    assert sheets and all("<f>" not in s and "<f " not in s for s in sheets)
    from openpyxl import load_workbook

    wb = load_workbook(path)
    cells = [cell for ws in wb.worksheets for row in ws.iter_rows() for cell in row if cell.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert any(str(c.value).startswith("=HYPERLINK") for c in cells)  # kept, as text


def test_xlsx_export_through_the_api_has_no_formulas(served):
    c, _ = served
    r = c.get("/exports", params={"format": "xlsx", "title": "=1+1"})
    assert r.status_code == 200
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        assert all("<f>" not in z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/"))


def test_reads_do_not_wait_for_the_writer(served):
    c, _ = served
    state = c.app.state.miner  # type: ignore[attr-defined]
    held = threading.Event()
    release = threading.Event()

    def writer() -> None:  # stands for a long ingest holding the write lock
        with state.write_lock:
            held.set()
            release.wait(30)

    t = threading.Thread(target=writer)
    t.start()
    held.wait(5)
    try:
        started = time.perf_counter()
        for path in ("/clusters", "/documents", "/batches", "/health", "/clusters/-/edits"):
            assert c.get(path).status_code == 200, path
        assert c.get("/search", params={"q": "往来款"}).status_code == 200
        assert c.get("/exports", params={"format": "md"}).status_code == 200
        assert time.perf_counter() - started < 10
    finally:
        release.set()
        t.join()
