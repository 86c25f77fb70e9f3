"""Read commands start fast: they must not import the heavy stacks (torch, sklearn, chromadb, jieba, scipy).

The budget is 1 s for ``miner findings`` / ``documents`` / ``batches``; most of that goes to imports,
so this checks what is imported (stable) rather than timing it (benchmarks/bench_scale.py times it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from miner import indexing, search

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "corpora" / "samples"
HEAVY = ("torch", "sklearn", "chromadb", "jieba", "scipy", "bm25s", "numba", "datasketch", "ray", "pdfplumber")


def _imported(workspace: Path, *args: str) -> set[str]:
    """Top-level packages a fresh ``python -m miner`` process imported (from ``-X importtime``)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    r = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "miner", "-w", str(workspace), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    mods = set()
    for line in r.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            mods.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return mods


def test_index_layout_constants_match_search() -> None:
    ours = (indexing.INDEX_DIR, indexing.MANIFEST, indexing.MATRIX)
    assert ours == (search.INDEX_DIR, search.MANIFEST, search.MATRIX)


@pytest.mark.slow
def test_read_commands_do_not_import_heavy_stacks(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    r = subprocess.run(
        [sys.executable, "-m", "miner", "-w", str(ws), "ingest", str(SAMPLES)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    for command in (["findings"], ["documents"], ["batches"], ["findings", "--format", "json"]):
        heavy = _imported(ws, *command) & set(HEAVY)
        assert not heavy, f"`miner {' '.join(command)}` imports {sorted(heavy)}"


@pytest.mark.slow
def test_reading_clusters_again_loads_no_embedder_and_no_heavy_stack(tmp_path: Path) -> None:
    """Names, keywords and order are stored when clusters change: a second ``miner clusters``
    with nothing new only reads them (no torch, scikit-learn, chromadb, nor jieba: the embedder needs it)."""
    ws = tmp_path / "ws"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    for args in (["ingest", str(SAMPLES)], ["clusters"]):
        r = subprocess.run(
            [sys.executable, "-m", "miner", "-w", str(ws), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )
        assert r.returncode == 0, r.stderr[-2000:]
    for command in (["clusters"], ["clusters", "--format", "json"], ["clusters", "--year", "2023"]):
        mods = _imported(ws, *command)
        heavy = mods & set(HEAVY)
        assert not heavy, f"`miner {' '.join(command)}` imports {sorted(heavy)}"
