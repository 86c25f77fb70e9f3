"""Hostile input is bounded and reported: no hang, no memory blow-up, no silent empty document.

Files come from tests/hostile.py (truncated/garbage PDFs, zip bombs, huge lines, odd encodings);
each must be read with findings, read with a warning, or refused with a message — through the
CLI and the pipeline — and bad metadata is refused before anything is written.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import AUDIT_PAGES, AUDIT_TITLE, make_pdf
from hostile import (
    REPORT,
    bomb_files,
    check_outcome,
    consistent,
    generators,
    minimal_pdf,
    workspace_state,
    write_hostile,
)

from miner.config import Settings
from miner.pipeline import Workspace, ingest
from miner.records import MetadataError
from miner.store import acquire_write_lock, release_write_lock

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_PDF = ROOT / "corpora" / "samples" / "s07_audit_jiangzhou_education.pdf"


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}


def miner(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "miner", *args], capture_output=True, text=True, env=_env(), timeout=300
    )


def _one_line_refusal(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


@pytest.mark.slow
def test_every_hostile_kind_through_the_cli(tmp_path: Path):
    folder = tmp_path / "in"
    files = write_hostile(folder, 2 * len(generators(b"")), SAMPLE_PDF.read_bytes(), seed=3)
    files.update(bomb_files(folder))
    ws = tmp_path / "ws"
    start = time.time()
    proc = miner("-w", str(ws), "ingest", str(folder), "--format", "json")
    took = time.time() - start
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    batch = json.loads(proc.stdout)
    assert {f["file"] for f in batch["files"]} == set(files)
    problems = {}
    for f in batch["files"]:
        kind, expect = files[f["file"]]
        bad = check_outcome(expect, f["status"], f["findings"], f["message"])
        if bad:
            problems[f["file"]] = bad
    assert problems == {}
    assert took < 90, took  # nothing hangs: the 20,001-page PDF, 37 MB text and bombs are refused up front
    assert consistent(workspace_state(ws))


@pytest.mark.parametrize(
    "kind",
    ["gb18030_txt", "big5_txt", "utf16_txt", "hz_txt", "utf7_txt", "shift_jis_txt", "euc_kr_txt", "random_txt"],
)
def test_text_encodings_are_detected_or_refused(tmp_path: Path, kind: str):
    import random

    suffix, expect, make = generators(b"")[kind]
    (tmp_path / f"a{suffix}").write_bytes(make(random.Random(0)))
    batch = ingest(Workspace(tmp_path / "ws"), [tmp_path / f"a{suffix}"], index=False)
    f = batch["files"][0]
    assert check_outcome(expect, f["status"], f["findings"], f["message"]) is None, f
    if expect == "ok":
        text = Workspace(tmp_path / "ws").catalogue.findings()[0].text
        assert "暂付款" in text or "招标" in text  # decoded, not garbage (Big5 comes back Simplified)
    else:
        assert "encoding" in f["message"] or "not Chinese" in f["message"]


def test_limits_are_settings(tmp_path: Path):
    make_pdf(tmp_path / "three.pdf", AUDIT_PAGES + [["第三页。"]], title=AUDIT_TITLE)
    (tmp_path / "many.txt").write_text(REPORT, encoding="utf-8")
    settings = Settings(max_pdf_pages=2, max_findings_per_document=2, workspace=tmp_path / "ws")
    batch = ingest(Workspace(tmp_path / "ws", settings), [tmp_path / "three.pdf", tmp_path / "many.txt"], index=False)
    msgs = {f["name"]: (f["status"], f["message"]) for f in batch["files"]}
    assert msgs["three.pdf"][0] == "failed" and "MINER_MAX_PDF_PAGES" in msgs["three.pdf"][1]
    assert msgs["many.txt"][0] == "failed" and "MINER_MAX_FINDINGS_PER_DOCUMENT" in msgs["many.txt"][1]


def test_a_file_over_the_time_limit_is_stopped_and_the_batch_goes_on(tmp_path: Path):
    # ~1 MB of report text takes seconds to split; the small report next to it is fine (a loaded
    # machine needs some margin: a fresh worker reads it in milliseconds when idle).
    (tmp_path / "slow.txt").write_text(REPORT * 2500, encoding="utf-8")
    (tmp_path / "quick.txt").write_text(REPORT, encoding="utf-8")
    settings = Settings(file_timeout_s=1.5, workspace=tmp_path / "ws")  # slow.txt takes ~4 s
    start = time.time()
    batch = ingest(Workspace(tmp_path / "ws", settings), [tmp_path / "slow.txt", tmp_path / "quick.txt"], index=False)
    assert time.time() - start < 30
    status = {f["name"]: (f["status"], f["message"]) for f in batch["files"]}
    assert status["slow.txt"][0] == "failed" and "MINER_FILE_TIMEOUT_S" in status["slow.txt"][1]
    assert status["quick.txt"][0] == "ok", status["quick.txt"]  # the next file gets a fresh worker


def test_a_worker_over_its_memory_budget_fails_that_file_only(tmp_path: Path):
    (tmp_path / "big.txt").write_text(REPORT * 10000, encoding="utf-8")  # ~2 MB of text: far over 64 MB to split
    settings = Settings(worker_memory_mb=64, workspace=tmp_path / "ws")
    batch = ingest(Workspace(tmp_path / "ws", settings), [tmp_path / "big.txt"], index=False)
    f = batch["files"][0]
    assert f["status"] == "failed" and ("MINER_WORKER_MEMORY_MB" in f["message"] or "died" in f["message"]), f


def test_zip_bomb_is_refused_from_the_zip_directory(tmp_path: Path):
    bomb_files(tmp_path)
    batch = ingest(Workspace(tmp_path / "ws"), [tmp_path / "bomb.docx", tmp_path / "lying_bomb.docx"], index=False)
    status = {f["name"]: (f["status"], f["message"]) for f in batch["files"]}
    assert status["bomb.docx"][0] == "failed" and "zip bomb" in status["bomb.docx"][1]
    assert status["lying_bomb.docx"][0] == "failed"


def test_damaged_pdf_without_text_says_so(tmp_path: Path):
    data = minimal_pdf(2)
    (tmp_path / "cut.pdf").write_bytes(data[: data.rindex(b"trailer")])
    batch = ingest(Workspace(tmp_path / "ws"), [tmp_path / "cut.pdf"], index=False)
    f = batch["files"][0]
    assert f["status"] == "failed" and "damaged" in f["message"], f


def test_zero_findings_is_a_warning_in_the_batch_report(tmp_path: Path):
    from hostile import NO_PROBLEMS

    (tmp_path / "summary.txt").write_text(NO_PROBLEMS, encoding="utf-8")
    proc = miner("-w", str(tmp_path / "ws"), "ingest", str(tmp_path / "summary.txt"))
    assert proc.returncode == 0, proc.stderr
    assert "no problem findings" in proc.stderr and "warning" in proc.stderr


@pytest.mark.parametrize(
    "bad",
    [{"units": 5}, {"year": "abc"}, {"year": 1e20}, {"issuer_kind": "ministry"}, {"units": [1, 2]}, {"year": 1800}],
)
def test_bad_metadata_is_refused_before_anything_is_written(tmp_path: Path, bad: dict):
    (tmp_path / "a.txt").write_text(REPORT, encoding="utf-8")
    (tmp_path / "b.txt").write_text(REPORT + "另附。\n", encoding="utf-8")
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(MetadataError):
        ingest(ws, [tmp_path / "a.txt", tmp_path / "b.txt"], sidecar={"b.txt": bad})
    with pytest.raises(MetadataError):
        ingest(ws, [tmp_path / "a.txt"], overrides=bad)
    assert ws.catalogue.count("batches") == 0 and ws.catalogue.count("documents") == 0


def test_bad_sidecar_through_the_cli_is_one_line_and_exit_2(tmp_path: Path):
    (tmp_path / "a.txt").write_text(REPORT, encoding="utf-8")
    sidecar = tmp_path / "meta.json"
    sidecar.write_text(json.dumps({"a.txt": {"units": 5}}), encoding="utf-8")
    line = _one_line_refusal(
        miner("-w", str(tmp_path / "ws"), "ingest", str(tmp_path / "a.txt"), "--metadata", str(sidecar))
    )
    assert "a.txt" in line and "units" in line
    # nothing was written, and the workspace still answers every command
    for cmd in (["documents", "--format", "json"], ["clusters", "--format", "json"], ["search", "问题"]):
        proc = miner("-w", str(tmp_path / "ws"), *cmd)
        assert proc.returncode == 0, (cmd, proc.stderr)


def test_a_second_writer_is_refused_in_one_line(tmp_path: Path):
    ws = tmp_path / "ws"
    Workspace(ws).close()
    (tmp_path / "a.txt").write_text(REPORT, encoding="utf-8")
    fd = acquire_write_lock(ws, "serve")
    try:
        line = _one_line_refusal(miner("-w", str(ws), "ingest", str(tmp_path / "a.txt")))
        assert f"pid {os.getpid()}" in line and "serve" in line
        _one_line_refusal(miner("-w", str(ws), "cluster", "rename", "c-x", "新名称"))
    finally:
        release_write_lock(fd)


def test_workspace_files_are_private(tmp_path: Path):
    (tmp_path / "a.txt").write_text(REPORT, encoding="utf-8")
    ws_dir = tmp_path / "ws"
    ws_dir.mkdir(mode=0o755)
    (ws_dir / "old-notes.txt").write_text("x")
    os.chmod(ws_dir / "old-notes.txt", 0o644)
    proc = miner("-w", str(ws_dir), "ingest", str(tmp_path / "a.txt"))
    assert proc.returncode == 0, proc.stderr
    Workspace(ws_dir).close()
    seen = 0
    for folder, _, names in os.walk(ws_dir):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700, folder
        for name in names:
            mode = stat.S_IMODE(os.stat(os.path.join(folder, name)).st_mode)
            assert mode & 0o077 == 0, (name, oct(mode))
            seen += 1
    assert seen >= 5  # catalogue, embedding cache, chroma, keyword index, manifest …
