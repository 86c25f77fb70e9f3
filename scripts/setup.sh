#!/usr/bin/env bash
# Set up miner on a fresh machine: system fonts/tools (when root), a virtualenv, the package.
# torch==2.13.0 goes in first so pip takes the local CPU wheel instead of CUDA builds.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    need=()
    fc-list 2>/dev/null | grep -qi "wqy" || need+=(fonts-wqy-zenhei)
    # OCR of scanned PDFs (optional at run time; miner reports scans clearly without it)
    if [ "${MINER_WITH_OCR:-1}" = 1 ] && ! tesseract --list-langs 2>/dev/null | grep -qx chi_sim; then
        need+=(tesseract-ocr tesseract-ocr-chi-sim)
    fi
    if [ "${MINER_WITH_LIBREOFFICE:-1}" = 1 ] && ! command -v soffice >/dev/null; then
        need+=(libreoffice-writer-nogui)
    fi
    # The page's browser tests (Playwright drives the system Chromium; never `playwright install`)
    if [ "${MINER_WITH_CHROMIUM:-1}" = 1 ] && ! command -v chromium >/dev/null; then
        need+=(chromium)
    fi
    # PostgreSQL for the catalogue tests' second pass (MINER_TEST_BACKENDS=postgres; tests/backends.py
    # runs a throwaway cluster with initdb/pg_ctl from /usr/lib/postgresql/*/bin, never the system service)
    if [ "${MINER_WITH_POSTGRES:-1}" = 1 ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
        need+=(postgresql)
    fi
    if [ ${#need[@]} -gt 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    fi
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q torch==2.13.0
.venv/bin/pip install -q -e ".[dev,scale,postgres]"  # scale: Ray, for ingest --ray; postgres: psycopg (tests run both offline)
echo "miner is set up: .venv/bin/miner --help"
