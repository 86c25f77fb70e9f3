"""The CLI contract the scorer and analysts rely on: JSON on stdout, logs on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from miner.cli import app

SAMPLES = Path(__file__).resolve().parents[1] / "corpora" / "samples"


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    w = tmp_path_factory.mktemp("cli-ws")
    r = CliRunner().invoke(app, ["--workspace", str(w), "ingest", str(SAMPLES), "--format", "json"])
    assert r.exit_code == 0, r.output
    return w


def run(ws: Path, *args: str) -> object:
    r = CliRunner().invoke(app, ["--workspace", str(ws), *args])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_findings_json_contract(ws: Path):
    items = run(ws, "findings", "--format", "json")
    assert len(items) >= 25
    for f in items:
        assert {"id", "document", "text", "page", "start", "end"} <= set(f)
        assert f["document"].endswith((".txt", ".pdf", ".docx"))
    assert {f["document"].rsplit(".", 1)[1] for f in items} == {"txt", "pdf", "docx"}
    trad = [f for f in items if f["document"].startswith("s06")]
    assert trad and "違規" in trad[0]["text"] and "违规" in trad[0]["text_normalised"]
    one = run(ws, "findings", "--document", "s01_audit_jiangzhou_water.txt", "--format", "json")
    assert {f["document"] for f in one} == {"s01_audit_jiangzhou_water.txt"}


def test_ids_stable_across_reading_commands(ws: Path):
    ids = {f["id"] for f in run(ws, "findings", "--format", "json")}
    clusters = run(ws, "clusters", "--format", "json")
    assert clusters and all(set(c["finding_ids"]) <= ids for c in clusters)
    assert all({"id", "label", "finding_ids"} <= set(c) for c in clusters)
    results = run(ws, "search", "--k", "5", "--format", "json", "往来款挂账", "公车私用")
    assert [r["query"] for r in results] == ["往来款挂账", "公车私用"]
    for r in results:
        assert r["hits"] and all(h["finding_id"] in ids and isinstance(h["score"], float) for h in r["hits"])


def test_search_filters(ws: Path):
    res = run(ws, "search", "--k", "10", "--issuer-kind", "discipline", "--format", "json", "违规发放津贴补贴")
    assert res[0]["hits"] and {h["issuer_kind"] for h in res[0]["hits"]} == {"discipline"}
    none = run(ws, "search", "--year", "1999", "--format", "json", "往来款")
    assert none[0]["hits"] == []


def test_reingest_is_noop(ws: Path):
    before = run(ws, "findings", "--format", "json")
    batch = run(ws, "ingest", str(SAMPLES), "--format", "json")
    assert {f["status"] for f in batch["files"]} == {"duplicate"}
    assert run(ws, "findings", "--format", "json") == before


def test_other_model_needs_reindex(ws: Path, monkeypatch, tmp_path: Path):
    import shutil

    from miner.config import get_settings
    from tests.backends import copy_workspace

    other = tmp_path / "other-model"
    shutil.copytree(Path(__file__).resolve().parents[1] / "models" / "static-zh-e5", other)
    meta = json.loads((other / "meta.json").read_text(encoding="utf-8"))
    meta["version"] = str(meta.get("version", "")) + "-other"
    (other / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    copy = tmp_path / "ws"
    copy_workspace(ws, copy)  # with its own catalogue also when that is in PostgreSQL
    monkeypatch.setenv("MINER_EMBED_MODEL", str(other))
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(app, ["--workspace", str(copy), "search", "往来款"])
        assert r.exit_code != 0 and "miner reindex" in r.output
        r = CliRunner().invoke(app, ["--workspace", str(copy), "reindex"])
        assert r.exit_code == 0, r.output
        assert run(copy, "search", "--format", "json", "往来款")[0]["hits"]
    finally:
        get_settings.cache_clear()


def test_export_and_bad_input(ws: Path, tmp_path: Path):
    out = tmp_path / "list.json"
    r = CliRunner().invoke(app, ["--workspace", str(ws), "export", "--format", "json", "--out", str(out)])
    assert r.exit_code == 0, r.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data and all(f["document"] and f["page"] for p in data for f in p["findings"])
    r = CliRunner().invoke(app, ["--workspace", str(ws), "findings", "--document", "nope.pdf"])
    assert r.exit_code == 2
    r = CliRunner().invoke(app, ["--workspace", str(ws), "ingest", str(SAMPLES), "--issuer-kind", "police"])
    assert r.exit_code == 2


def test_edit_commands_confirm_what_they_did(ws: Path):
    clusters = run(ws, "clusters", "--format", "json")
    first, second = clusters[0], clusters[1]
    r = CliRunner().invoke(app, ["--workspace", str(ws), "cluster", "rename", first["id"], "往来款清理（命名）"])
    assert r.exit_code == 0 and "已重命名" in r.output and first["id"] in r.output and "往来款清理（命名）" in r.output
    fid = second["finding_ids"][-1]
    r = CliRunner().invoke(app, ["--workspace", str(ws), "cluster", "move", fid, first["id"]])
    assert r.exit_code == 0 and "已移动" in r.output and fid in r.output
    r = CliRunner().invoke(app, ["--workspace", str(ws), "cluster", "split", first["id"], fid])
    assert r.exit_code == 0 and "已拆分" in r.output
    new_id = r.stdout.strip().splitlines()[0]
    assert new_id.startswith("c-")  # stdout still carries just the new id for scripts
    r = CliRunner().invoke(app, ["--workspace", str(ws), "cluster", "merge", first["id"], new_id])
    assert r.exit_code == 0 and "已合并" in r.output
    r = CliRunner().invoke(app, ["--workspace", str(ws), "cluster", "remove", fid])
    assert r.exit_code == 0 and "已移出" in r.output


def test_tables_use_the_full_width_when_piped(ws: Path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    root = Path(__file__).resolve().parents[1]
    env["PYTHONPATH"] = str(root)
    piped = subprocess.run(
        [sys.executable, "-m", "miner", "-w", str(ws), "findings"], capture_output=True, text=True, env=env, cwd=root
    )
    assert piped.returncode == 0, piped.stderr
    assert max(len(line) for line in piped.stdout.splitlines()) > 80  # not squeezed to 80 columns
    js = subprocess.run(
        [sys.executable, "-m", "miner", "-w", str(ws), "findings", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
    )
    assert isinstance(json.loads(js.stdout), list)


def test_reading_commands_are_in_the_audit_log(ws: Path):
    from miner import auditlog
    from miner.pipeline import Workspace

    run(ws, "documents", "--format", "json")
    hits = run(ws, "search", "--k", "3", "--format", "json", "公车私用")
    w = Workspace(ws)
    try:
        last = auditlog.entries(w.catalogue, limit=2)
    finally:
        w.close()
    assert [(e["action"], e["target"]) for e in last] == [("read", "documents"), ("search", "公车私用")]
    assert last[1]["items"] == len(hits[0]["hits"]) and last[1]["who"].startswith("cli")
