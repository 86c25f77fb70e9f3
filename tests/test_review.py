"""Review: analysts accept or reject findings; decisions hold across search, clusters and re-runs."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from miner.cli import app

SAMPLES = Path(__file__).resolve().parents[1] / "corpora" / "samples"


def run(ws: Path, *args: str) -> object:
    r = CliRunner().invoke(app, ["--workspace", str(ws), *args])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout) if "--format" in args else r.stdout


def test_reject_and_accept_hold_across_search_and_clusters(tmp_path: Path):
    ws = tmp_path / "ws"
    run(ws, "ingest", str(SAMPLES), "--format", "json")
    findings = run(ws, "findings", "--format", "json")
    assert all(0.0 <= f["confidence"] <= 1.0 and f["review"] == "" for f in findings)
    target = next(f for f in findings if "暂付款" in f["text_normalised"])
    pending = run(ws, "review", "list", "--format", "json")
    assert all(p["review"] == "pending" for p in pending)
    assert not {p["id"] for p in pending} & {f["id"] for f in findings}

    out = run(ws, "review", "reject", target["id"], "--note", "not a problem")
    assert f"{target['id']}: rejected" in out
    assert target["id"] not in {f["id"] for f in run(ws, "findings", "--format", "json")}
    hits = run(ws, "search", "--format", "json", target["text_normalised"][:12])[0]["hits"]
    assert target["id"] not in {h["finding_id"] for h in hits}
    clustered = {i for c in run(ws, "clusters", "--format", "json") for i in c["finding_ids"]}
    assert target["id"] not in clustered
    # a rebuild of the common problems keeps the analyst's word
    clustered = {i for c in run(ws, "clusters", "--rebuild", "--format", "json") for i in c["finding_ids"]}
    assert target["id"] not in clustered

    run(ws, "review", "accept", target["id"])
    assert target["id"] in {f["id"] for f in run(ws, "findings", "--format", "json")}
    hits = run(ws, "search", "--format", "json", target["text_normalised"][:12])[0]["hits"]
    assert target["id"] in {h["finding_id"] for h in hits}


def test_unknown_id_is_refused_with_a_clear_message(tmp_path: Path):
    ws = tmp_path / "ws"
    run(ws, "ingest", str(SAMPLES / "s01_audit_jiangzhou_water.txt"), "--format", "json")
    r = CliRunner().invoke(app, ["--workspace", str(ws), "review", "accept", "nope-001"])
    assert r.exit_code == 2
    assert "nope-001" in r.output
