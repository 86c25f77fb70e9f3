"""Regenerate the screenshots of the analysts' page (docs/page-*.png), linked from README.md.

    PYTHONPATH=. .venv/bin/python docs/screenshots.py

Starts `miner serve` on a fresh workspace with one writer, drives the system
Chromium (offline, as the browser tests do) through each state of the page:
sign-in, upload progress, the common problems with one expanded, search results,
the source viewer, the edit log, the API docs. Uses only the repository's own
sample reports (corpora/samples).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import browser  # noqa: E402

from miner import access  # noqa: E402

OUT = ROOT / "docs"
SIZE = {"width": 1280, "height": 900}


def main() -> None:
    why = browser.missing()
    if why:
        sys.exit(f"cannot take screenshots: {why}")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        ws.mkdir()
        token = access.add_user(ws, "分析员", ["*"], can_write=True)
        server = browser.Server(ws, Path(tmp) / "serve.log")
        try:
            with sync_playwright() as pw:
                chromium = browser.launch(pw)
                page = chromium.new_page(viewport=SIZE, locale="zh-CN")
                shot = lambda name, **kw: page.screenshot(path=str(OUT / f"page-{name}.png"), **kw)  # noqa: E731

                page.goto(server.url + "/")
                page.wait_for_selector("#signin:not([hidden])")
                shot("signin")
                browser.sign_in(page, server.url, token)

                files = sorted(p for p in browser.SAMPLES.iterdir() if p.suffix in (".txt", ".pdf", ".docx"))
                page.set_input_files("#files", [str(f) for f in files])
                page.fill("#up-label", "2024年第一批")
                page.click("#upload-button")
                page.wait_for_selector("#status progress")
                page.locator("#upload").screenshot(path=str(OUT / "page-upload-progress.png"))
                page.wait_for_selector("#job-phase.ok", timeout=300_000)
                page.locator("#upload").screenshot(path=str(OUT / "page-upload-done.png"))

                page.reload()
                page.wait_for_selector("#clusters .cluster")
                page.select_option("#min-bodies", "1")
                page.click("#load-clusters")
                page.wait_for_selector("#clusters .cluster")
                expand = page.locator("#clusters [data-expand]").first
                if expand.count():
                    expand.click()
                page.locator("#clusters-box").screenshot(path=str(OUT / "page-clusters.png"))

                page.fill("#q", "往来款长期挂账")
                page.click("#search-form button[type=submit]")
                page.wait_for_selector("#results table")
                page.locator("#search-box").screenshot(path=str(OUT / "page-search.png"))

                page.fill("#q", "撤并学校的校舍闲置")
                page.click("#search-form button[type=submit]")
                page.wait_for_selector("#results table")
                page.locator("#results a.cite", has_text="教育局").first.click()
                page.wait_for_function("() => (document.getElementById('page-img') || {}).naturalWidth > 0")
                shot("source")
                page.click("#viewer-close")

                first = page.locator("#clusters .cluster").first
                first.locator("[data-rename]").click()
                first.locator(".rename-box input").fill("往来款长期挂账未清理")
                first.locator("[data-rename-save]").click()
                page.wait_for_selector("#edits td")
                page.locator("#edits-box").screenshot(path=str(OUT / "page-edits.png"))

                page.goto(server.url + "/docs")
                page.wait_for_selector(".swagger-ui .info .title")
                shot("docs")
                chromium.close()
        finally:
            server.stop()
    print("wrote", ", ".join(sorted(p.name for p in OUT.glob("page-*.png"))))


if __name__ == "__main__":
    main()
