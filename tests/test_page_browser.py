"""The analysts' page in a real browser (system Chromium through Playwright) against `miner serve`.

Each test is one task of an analyst's day: sign in (or be refused), upload with
progress, search, open a finding's source, edit a common problem, download each
export, read the API docs with the network off. Runs in CI (``pytest -q``);
skipped, saying why, only where Chromium or the playwright package is absent.
"""

from __future__ import annotations

import json
import urllib.request

import browser
import pytest

from miner import access

pytestmark = [pytest.mark.browser, pytest.mark.skipif(browser.missing() is not None, reason=str(browser.missing()))]

FILES = [
    "s01_audit_jiangzhou_water.txt",
    "s02_inspection_jiangzhou.txt",
    "s03_congress_jiangzhou.txt",
    "s04_discipline_jiangzhou.txt",
    "s05_finance_jiangzhou.txt",
    "s07_audit_jiangzhou_education.pdf",
    "s08_discipline_jiangzhou.docx",
]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    ws = tmp_path_factory.mktemp("page-ws")
    tokens = {
        "analyst": access.add_user(ws, "analyst", ["*"], can_write=True),
        "auditor": access.add_user(ws, "auditor", ["audit"], can_write=False),
    }
    server = browser.Server(ws, tmp_path_factory.mktemp("page-log") / "serve.log")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = browser.launch(pw)
        try:
            yield {"url": server.url, "tokens": tokens, "browser": chromium, "uploaded": []}
        finally:
            chromium.close()
            server.stop()


@pytest.fixture
def page(site):
    context = site["browser"].new_context(accept_downloads=True, locale="zh-CN")
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    yield p
    context.close()
    assert not errors, f"script errors on the page: {errors}"


@pytest.fixture
def loaded(site, page):
    """Signed in as the writer, with the sample reports uploaded (once per module)."""
    browser.sign_in(page, site["url"], site["tokens"]["analyst"])
    if not site["uploaded"]:
        browser.upload(page, [browser.SAMPLES / f for f in FILES], label="样例批次")
        site["uploaded"].append(True)
        page.reload()
        page.wait_for_selector("#app:not([hidden])")
    page.wait_for_selector("#clusters .cluster")
    return page


def test_without_a_session_only_the_sign_in_is_shown(site, page):
    page.goto(site["url"] + "/")
    page.wait_for_selector("#signin:not([hidden])")
    assert page.is_hidden("#app")
    assert page.locator("#signin input#token").is_visible()
    # A wrong token is refused in Chinese and the data stays hidden.
    page.fill("#token", "not-a-token")
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#signin-status .failed")
    assert "访问令牌无效" in page.inner_text("#signin-status")
    assert page.is_hidden("#app")
    # And the API says 401 (in Chinese) to a browser without the cookie.
    r = page.request.get(site["url"] + "/documents")
    assert r.status == 401 and "需要" in r.json()["error"]


def test_sign_in_sets_an_http_only_strict_cookie_and_sign_out_ends_it(site, page):
    browser.sign_in(page, site["url"], site["tokens"]["analyst"])
    cookies = page.context.cookies()
    c = next(c for c in cookies if c["name"] == "miner_session")
    assert c["httpOnly"] and c["sameSite"] == "Strict"
    assert site["tokens"]["analyst"] not in c["value"]
    assert "analyst" in page.inner_text("#who")
    assert page.request.get(site["url"] + "/documents").status == 200
    page.click("#logout")
    page.wait_for_selector("#signin:not([hidden])")
    assert page.request.get(site["url"] + "/documents").status == 401


def test_upload_reports_progress_per_file(site, page):
    browser.sign_in(page, site["url"], site["tokens"]["analyst"])
    phases: list[str] = []
    page.on(
        "response",
        lambda r: phases.append(r.json()["phase"]) if "/batches/-/jobs/" in r.url and r.status == 200 else None,
    )
    browser.upload(page, [browser.SAMPLES / f for f in FILES], label="样例批次")
    site["uploaded"].append(True)
    assert page.inner_text("#job-phase").startswith("已完成")
    items = page.locator("#status li")
    assert items.count() == len(FILES)
    text = page.inner_text("#status")
    assert "成功 7" in text, text
    for name in FILES:
        assert name in text
    assert phases, "the page polled the upload's progress"
    page.wait_for_selector("#documents td a[download]")
    assert page.locator("#documents tr").count() == len(FILES) + 1


def test_search_and_the_source_viewer(site, loaded):
    page = loaded
    page.fill("#q", "往来款长期挂账")
    page.click("#search-form button[type=submit]")
    page.wait_for_selector("#results table")
    assert page.locator("#results tr").count() > 1
    # Open a PDF finding: its page is rendered with the finding highlighted, with the report's data.
    page.fill("#q", "撤并学校的校舍闲置")
    page.click("#search-form button[type=submit]")
    page.wait_for_selector("#results table")
    page.locator("#results a.cite", has_text="江州市教育局").first.click()
    page.wait_for_selector("#viewer[open] #page-img")
    page.wait_for_function("() => { const i = document.getElementById('page-img'); return i && i.naturalWidth > 0; }")
    body = page.inner_text("#viewer-body")
    assert "江州市审计局" in body and "2023" in body
    assert "第1页" in body or "第2页" in body
    assert page.locator("#viewer mark").count() == 1
    with page.expect_download() as d:
        page.click("#viewer-download")
    assert d.value.suggested_filename == "s07_audit_jiangzhou_education.pdf"
    page.click("#viewer-close")
    # A .txt finding: its text with the finding marked, no page image.
    page.fill("#q", "公务用车")
    page.click("#search-form button[type=submit]")
    page.wait_for_selector("#results table")
    page.locator("#results a.cite").first.click()
    page.wait_for_selector("#viewer[open] .context mark")
    assert page.locator("#viewer-body").inner_text().count("文号") == 1


def test_expand_filter_and_rename_a_common_problem(site, loaded):
    page = loaded
    page.select_option("#min-bodies", "1")
    page.click("#load-clusters")
    page.wait_for_selector("#clusters .cluster")
    first = page.locator("#clusters .cluster").first
    expand = first.locator("[data-expand]")
    if expand.count():
        before = first.locator("ul.findings li").count()
        expand.click()
        first = page.locator("#clusters .cluster").first
        assert first.locator("ul.findings li").count() > before
    first.locator("[data-rename]").click()
    first.locator(".rename-box input").fill("往来款清理不及时（分析员命名）")
    first.locator("[data-rename-save]").click()
    page.wait_for_selector("#edit-status .ok")
    page.wait_for_selector("#clusters .cluster b.label:text('往来款清理不及时（分析员命名）')")
    page.wait_for_selector("#edits td:text('重命名')")
    # Filters narrow the list: a year no report has leaves nothing.
    page.fill("#f-year", "1990")
    page.click("#load-clusters")
    page.wait_for_selector("#clusters p.muted:text('暂无共性问题')")
    page.fill("#f-year", "")
    page.select_option("#f-kind", "audit")
    page.click("#load-clusters")
    page.wait_for_selector("#clusters .cluster, #clusters p.muted")
    assert "/exports?" in page.get_attribute("a[data-fmt=xlsx]", "href")
    assert "issuer_kind=audit" in page.get_attribute("a[data-fmt=xlsx]", "href")


@pytest.mark.parametrize("fmt,suffix", [("xlsx", ".xlsx"), ("docx", ".docx"), ("md", ".md"), ("json", ".json")])
def test_each_export_downloads(site, loaded, fmt, suffix, tmp_path):
    page = loaded
    page.select_option("#min-bodies", "1")
    with page.expect_download() as d:
        page.click(f"a[data-fmt={fmt}]")
    target = tmp_path / ("export" + suffix)
    d.value.save_as(target)
    assert d.value.suggested_filename.endswith(suffix)
    assert target.stat().st_size > 100
    if fmt == "json":
        assert json.loads(target.read_text("utf-8"))


def test_a_read_only_user_sees_no_edit_controls(site, loaded, page):
    page.context.clear_cookies()
    browser.sign_in(page, site["url"], site["tokens"]["auditor"])
    assert "只读" in page.inner_text("#who")
    assert page.is_hidden("#upload")
    assert page.is_hidden("#edit-bar")
    page.wait_for_selector("#documents table")
    names = page.inner_text("#documents")
    assert "s07_audit_jiangzhou_education.pdf" in names and "s04_discipline" not in names


def test_api_docs_render_with_the_network_off(site, page):
    browser.sign_in(page, site["url"], site["tokens"]["analyst"])
    page.goto(site["url"] + "/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
    assert "miner API" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector(".opblock-tag-section")
    assert "cdn" not in page.content().lower()
    page.goto(site["url"] + "/redoc")
    page.wait_for_selector("redoc h1, [role=main] h1", timeout=30_000)
    with urllib.request.urlopen(site["url"] + "/favicon.ico") as r:
        assert r.headers["content-type"].startswith("image/")
