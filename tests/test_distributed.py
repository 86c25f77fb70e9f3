"""Parsing on a Ray cluster gives the same findings as local worker processes.

Ray probes cloud metadata addresses even with usage stats off, so Ray only ever runs here inside
a fresh network namespace (``unshare -n``) with just the loopback interface up: a 2-node
cluster (head + one worker node, ``ray start`` on 127.0.0.1) is started there, the batch is
ingested through it, and the cluster is stopped. The test skips, saying why, where Ray is not
installed or network namespaces are not permitted.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from miner.pipeline import Workspace, ingest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "corpora" / "samples"
ENV = {
    # a chroma server of the run (MINER_TEST_BACKENDS=chroma) listens on the host's loopback, which the
    # namespace cannot reach: the job keeps its vectors in the workspace (PostgreSQL is reached by socket)
    **{k: v for k, v in os.environ.items() if k != "MINER_CHROMA_URL"},
    "PYTHONPATH": str(ROOT),
    "RAY_USAGE_STATS_ENABLED": "0",
    "HF_HUB_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "MINER_DUPLICATE_THRESHOLD": "0.8",
    # Ray's token authentication, with a token of this run only (nothing written to ~/.ray)
    "RAY_AUTH_MODE": "token",
    "RAY_AUTH_TOKEN": secrets.token_hex(32),
}


def _sandbox_or_skip() -> list[str]:
    """The ``unshare -n`` prefix that gives a private network with loopback up, or skip."""
    if importlib.util.find_spec("ray") is None:
        pytest.skip("Ray is not installed (pip install 'miner[scale]')")
    unshare = shutil.which("unshare")
    if not unshare or not shutil.which("ip"):
        pytest.skip("unshare/ip not available: Ray runs only inside a network namespace here")
    probe = subprocess.run([unshare, "-n", "sh", "-c", "ip link set lo up"], capture_output=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip(f"network namespaces are not permitted here ({probe.stderr.decode(errors='replace').strip()})")
    return [unshare, "-n", "sh", "-c"]


def _key(f: dict) -> tuple:
    return (f["document"], f["start"], f["end"], f["page"], f["text"], f["unit"], f["issuer_kind"], f["year"])


@pytest.mark.slow
def test_two_node_ray_cluster_gives_the_same_findings(tmp_path: Path) -> None:
    prefix = _sandbox_or_skip()
    files = sorted(str(p) for p in SAMPLES.iterdir() if p.suffix in (".txt", ".pdf", ".docx"))
    bindir = Path(sys.executable).parent
    ray_cli = str(bindir / "ray") if (bindir / "ray").exists() else "ray"
    port = 26379
    # Ray's session files: a short path (unix socket names are bounded to 107 bytes)
    tmp_ray = Path(tempfile.mkdtemp(prefix="miner-ray-", dir="/tmp"))
    script = " && ".join(
        [
            "ip link set lo up",
            f"{ray_cli} start --head --node-ip-address 127.0.0.1 --port {port} --num-cpus 1 "
            f"--include-dashboard false --disable-usage-stats --temp-dir {tmp_ray} >/dev/null",
            f"{ray_cli} start --address 127.0.0.1:{port} --node-ip-address 127.0.0.1 --num-cpus 1 "
            f"--disable-usage-stats --temp-dir {tmp_ray} >/dev/null",
            f"({sys.executable} {ROOT / 'tests' / 'ray_cluster_job.py'} 127.0.0.1:{port} {tmp_path / 'ray-ws'} "
            f"{' '.join(files)}; echo $? > {tmp_path / 'rc'}); {ray_cli} stop --force >/dev/null 2>&1; true",
        ]
    )
    try:
        r = subprocess.run([*prefix, script], capture_output=True, text=True, env=ENV, timeout=600)
    finally:
        shutil.rmtree(tmp_ray, ignore_errors=True)
    rc = (tmp_path / "rc").read_text().strip() if (tmp_path / "rc").exists() else "?"
    assert rc == "0", f"rc={r.returncode}/{rc}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["alive"] == 2
    assert out["nodes_used"] == 2, "both nodes should have parsed files"
    assert out["parse_errors"] == []
    assert out["vectors_ok"], "the Ray tasks should embed the findings as the writer would"
    assert out["counts"]["ok"] == len(files) and out["counts"]["failed"] == 0

    ws = Workspace(tmp_path / "local-ws")
    try:
        ingest(ws, [Path(f) for f in files], workers=2)
        local = [f.to_dict() for f in ws.catalogue.findings()]
    finally:
        ws.close()
    assert local
    assert sorted(map(_key, out["findings"])) == sorted(map(_key, local))
    assert sorted(f["id"] for f in out["findings"]) == sorted(f["id"] for f in local)


def test_missing_ray_is_a_clear_refusal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without Ray installed, --ray is refused in one line before a batch is recorded."""
    from typer.testing import CliRunner

    from miner.cli import app

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray → ImportError
    r = CliRunner().invoke(app, ["--workspace", str(tmp_path / "ws"), "ingest", str(SAMPLES), "--ray", "auto"])
    assert r.exit_code == 2
    assert "pip install 'miner[scale]'" in r.output
    ws = Workspace(tmp_path / "ws")
    try:
        assert ws.catalogue.batches() == []
    finally:
        ws.close()


def test_ray_auto_with_one_worker_parses_locally(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--ray auto`` asks for a local Ray only when more than one worker is wanted."""
    from miner import distributed

    if importlib.util.find_spec("ray") is None:
        pytest.skip("Ray is not installed (pip install 'miner[scale]')")

    def no_ray(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("Ray was started for one worker")

    monkeypatch.setattr(distributed, "parse_all", no_ray)
    ws = Workspace(tmp_path / "ws")
    try:
        batch = ingest(ws, [SAMPLES / "s01_audit_jiangzhou_water.txt"], workers=1, ray="auto", index=False)
    finally:
        ws.close()
    assert batch["counts"]["ok"] == 1
