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
    # The learned "is this a problem statement" model (models/train_problem_model.py rebuilds it).
    problem_model: Path = MODELS_DIR / "problem-model"
    # PDF pages with at least this many vector path objects are checked for ruled tables
    # with pdfplumber; all other pages take the much faster pypdfium2 text path.
    table_path_objects: int = 6
    # Scanned PDFs: "auto" runs Tesseract (chi_sim) when it is installed, "off" reports them.
    ocr: str = "auto"
    # Exports: quotes from reports published in Traditional characters read "simplified"
    # (converted, the default) or "published" (as published); the 专报's 版头/版记 defaults.
    export_quotes: str = "simplified"
    brief_masthead: str = "监督共性问题专报"
    brief_issuer: str = ""  # 编发单位 (发文机关); empty prints a placeholder to fill
    brief_to: str = ""  # 报送
    brief_cc: str = ""  # 抄送
    # A new document whose text is this alike (MinHash Jaccard of character 3-shingles) to a
    # stored one is the same report in another form and is not added; above 1 turns it off.
    duplicate_threshold: float = 0.8
    # Upload limits for the API: checked from Content-Length (and while streaming) before the
    # body is read or a token is checked; every other request body is capped at max_body_kb.
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
    max_body_kb: int = 1024
    max_filename_chars: int = 120
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
    # Vectors on a chroma server (``chroma run``) instead of in the workspace, e.g.
    # "http://10.0.0.5:8000"; empty keeps them in the workspace (embedded chromadb).
    chroma_url: str = ""
    # The catalogue in PostgreSQL instead of the workspace's SQLite file, for a multi-user office:
    # a SQLAlchemy URL such as "postgresql://miner@db.example.org/miner" (psycopg 3; pip install
    # 'miner[postgres]'). Each workspace is one schema of that database, named in the workspace's
    # catalogue.schema file (or database_schema). Empty: SQLite in the workspace (the default).
    database_url: str = ""
    database_schema: str = ""
    database_pool_size: int = 5  # pooled connections per process (the API: one per concurrent request)
    database_max_overflow: int = 20
    # Parse batches on a Ray cluster (``miner ingest --ray``): its address, or "auto" for a local
    # Ray when more than one worker is asked for; empty uses local worker processes.
    ray_address: str = ""
    # On a Ray cluster, embed each file's findings in its Ray task too (every node needs the model
    # at the same MINER_EMBED_MODEL path); the writer then only stores the vectors.
    ray_embed: bool = True
    # API host/port for ``miner serve``.
    host: str = "127.0.0.1"
    port: int = 8000
    # Host names the API answers to (DNS-rebinding guard), besides 127.0.0.1, localhost, ::1 and
    # ``host``; e.g. MINER_ALLOWED_HOSTS='["miner.example.org"]'. State-changing requests from a
    # browser must come from the same origin (Origin/Referer), or from one of ``allowed_origins``.
    allowed_hosts: list[str] = []
    allowed_origins: list[str] = []
    # Sign-in on the page: the token is exchanged for an HttpOnly session cookie signed with the
    # workspace secret; it expires after this many hours (and at once when the user is revoked).
    session_hours: float = 12.0
    # Set the cookie's Secure flag (serve behind HTTPS); off by default for http://127.0.0.1.
    session_secure: bool = False


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
