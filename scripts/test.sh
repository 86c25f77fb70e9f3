#!/usr/bin/env bash
# The test command: the whole suite, then again with the catalogue in a throwaway PostgreSQL and
# the vectors on a chroma server (tests/backends.py starts both on 127.0.0.1 and removes them).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 ORT_DISABLE_TELEMETRY=1 ANONYMIZED_TELEMETRY=False
.venv/bin/python -m pytest -q "$@"
MINER_TEST_BACKENDS=postgres,chroma .venv/bin/python -m pytest -q "$@"
