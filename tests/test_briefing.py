"""The briefing draft end to end: CLI options reach the document, and on the dev corpus a top-10 briefing
fits a meeting (≤ 12 pages once printed) with a lead whose counts are the list's own."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from docx import Document
from test_export import check_lead_against_list, docx_text
from typer.testing import CliRunner

from miner.cli import app

SAMPLES = Path(__file__).resolve().parents[1] / "corpora" / "samples"
DEV = Path("/work/shared/eval/dev")


def cli(ws: Path, *args: str) -> str:
    r = CliRunner().invoke(app, ["--workspace", str(ws), *args])
    assert r.exit_code == 0, r.output
    return r.stdout


@pytest.fixture(scope="module")
def samples_ws(tmp_path_factory) -> Path:
    ws = tmp_path_factory.mktemp("brief-ws")
    cli(ws, "ingest", str(SAMPLES), "--format", "json")
    return ws


def test_cli_export_options_reach_the_briefing(samples_ws: Path, tmp_path: Path):
    out = tmp_path / "brief.docx"
    args = ["export", "--format", "docx", "--out", str(out), "--top", "2", "--sender", "江州市委巡察办"]
    args += ["--issue", "2024年第5期", "--date", "2024-06-30", "--to", "市委主要领导同志", "--cc", "市审计局"]
    cli(samples_ws, *args)
    doc = Document(out)
    texts = [p.text for p in doc.paragraphs]
    assert texts[:3] == ["监督共性问题专报", "2024年第5期", "江州市委巡察办\t2024年6月30日"]
    assert texts[-3:] == ["报：市委主要领导同志", "抄送：市审计局", "江州市委巡察办\t2024年6月30日印发"]
    assert check_lead_against_list(doc)["problems"] <= 2
    r = CliRunner().invoke(app, ["--workspace", str(samples_ws), "export", "--format", "docx", "--out", str(out)])
    assert r.exit_code == 0
    r = CliRunner().invoke(
        app, ["--workspace", str(samples_ws), "export", "--format", "md", "--out", str(out), "--quotes", "x"]
    )
    assert r.exit_code == 2 and "--quotes" in r.output
    r = CliRunner().invoke(
        app, ["--workspace", str(samples_ws), "export", "--format", "md", "--out", str(out), "--date", "June"]
    )
    assert r.exit_code == 2


def test_cli_quotes_simplified_by_default_published_on_request(samples_ws: Path, tmp_path: Path):
    """The sample s06 is published in Traditional characters."""
    default = tmp_path / "s.md"
    cli(samples_ws, "export", "--format", "md", "--out", str(default))
    published = tmp_path / "p.md"
    cli(samples_ws, "export", "--format", "md", "--out", str(published), "--quotes", "published")
    s, p = default.read_text(encoding="utf-8"), published.read_text(encoding="utf-8")
    if "s06" not in s:
        pytest.skip("no common problem cites the Traditional sample")
    assert "以繁体字发布" in s and "引文已转为简体字" in s and "違規" not in s
    assert "引文按原文繁体字照录" in p


def _pages(docx: Path, tmp: Path) -> int:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed: scripts/setup.sh installs it")
    import pypdfium2 as pdfium

    profile = (tmp / "lo-profile").as_uri()
    cmd = [soffice, f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf", "--outdir", str(tmp)]
    r = subprocess.run([*cmd, str(docx)], capture_output=True, text=True, timeout=240)
    pdf = tmp / (docx.stem + ".pdf")
    assert r.returncode == 0 and pdf.exists(), r.stdout + r.stderr
    return len(pdfium.PdfDocument(str(pdf)))


@pytest.mark.slow
def test_dev_top10_briefing_fits_a_meeting(tmp_path: Path):
    if not (DEV / "pdf").exists():
        pytest.skip("the dev evaluation corpus is not present")
    ws = tmp_path / "ws"
    cli(ws, "ingest", str(DEV / "pdf"), "--format", "json")
    out = tmp_path / "brief.docx"
    cli(ws, "export", "--format", "docx", "--out", str(out), "--top", "10")
    doc = Document(out)
    counts = check_lead_against_list(doc)
    assert counts["problems"] == 10
    body = docx_text(doc)
    assert "〔" in body  # reports with a 文号 are cited by it
    assert _pages(out, tmp_path) <= 12
