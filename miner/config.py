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
    # Search: hits whose relevance (keyword coverage of the query mixed with dense cosine,
    # 0..1, see miner.search.HybridSearcher.scored) is below this are not returned, so a
    # filtered query is not padded with irrelevant findings. 0 turns the floor off. On dev every
    # relevant top-10 hit scores above 0.16 (filtered or not); 0.12 leaves a margin for unseen
    # text and on dev2 keeps 99.7 % of relevant hits while dropping 39 % of the irrelevant ones
    # (benchmarks/bench_search.py prints the trade-off).
    search_floor: float = 0.12
    # Upload limits for the API.
    max_upload_mb: int = 50
    max_files_per_batch: int = 500
    # API host/port for ``miner serve``.
    host: str = "127.0.0.1"
    port: int = 8000


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
