"""All configuration in one place (pydantic-settings, env vars prefixed ``MINER_``).

Importing this module also switches off every network-touching default of the
libraries we use: miner must run with no network at all.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from platformdirs import user_data_dir
from pydantic_settings import BaseSettings, SettingsConfigDict

# No model hub downloads, no telemetry (see DEVELOPERS.md: no network at run time).
for _key, _value in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ORT_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ.setdefault(_key, _value)

PACKAGE_ROOT = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_ROOT.parent
CORPORA_DIR = PROJECT_ROOT / "corpora"
MODELS_DIR = PROJECT_ROOT / "models"


class Settings(BaseSettings):
    """Runtime settings; every field can be set as ``MINER_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="MINER_", extra="ignore")

    workspace: Path = Path(user_data_dir("miner", appauthor=False))
    # "default" = the offline embedder shipped with miner; else a sentence-transformers
    # model name or local directory (e.g. a local copy of BAAI/bge-base-zh-v1.5).
    embed_model: str = "default"
    corpora_dir: Path = CORPORA_DIR
    # PDF pages with at least this many vector path objects are checked for ruled tables
    # with pdfplumber; all other pages take the much faster pypdfium2 text path.
    table_path_objects: int = 6
    # Scanned PDFs: "auto" runs Tesseract (chi_sim) when it is installed, "off" reports them.
    ocr: str = "auto"
    # Upload limits for the API.
    max_upload_mb: int = 50
    max_files_per_batch: int = 500
    # Bounds per file, checked before the expensive work so that one hostile file can neither hang
    # a batch nor exhaust memory (see tests/test_hostile.py and benchmarks/bench_hostile.py).
    max_file_mb: int = 200  # bytes on disk per file
    max_pdf_pages: int = 3000
    max_document_chars: int = 3_000_000  # ~1,500 pages of dense Chinese text
    max_findings_per_document: int = 5000
    max_docx_unzipped_mb: int = 300  # sum of the declared sizes of the zip members
    max_docx_members: int = 5000
    file_timeout_s: float = 120.0  # reading + splitting one file; the worker is killed after this
    worker_memory_mb: int = 4096  # address-space limit of a parsing worker process
    # API host/port for ``miner serve``.
    host: str = "127.0.0.1"
    port: int = 8000


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
