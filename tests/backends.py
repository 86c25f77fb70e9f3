"""Throwaway servers for the test suite's second pass: PostgreSQL (catalogue) and chroma (vectors).

``MINER_TEST_BACKENDS=postgres,chroma`` (or ``pytest --backends postgres,chroma``) makes
tests/conftest.py start them once per session and set ``MINER_DATABASE_URL`` /
``MINER_CHROMA_URL`` for the whole run; every workspace a test builds then gets its own schema
(miner.db) and its own chroma collection. Both listen on 127.0.0.1 only, at a free port, with
their data in a temporary folder that is removed afterwards.

PostgreSQL comes from the Debian packages (``initdb`` and ``pg_ctl`` in
/usr/lib/postgresql/*/bin, scripts/setup.sh installs them). ``initdb`` refuses to run as root,
so as root the cluster is made and run by the ``postgres`` system account (``runuser``), in a
folder it owns; the unix socket lives in that folder too, never in /var/run.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

BACKENDS = ("postgres", "chroma")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, alive: Callable[[], bool], what: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if not alive() or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise RuntimeError(f"{what} did not start on 127.0.0.1:{port}: {tail}") from None
            time.sleep(0.2)


def pg_bin() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian layout), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def start_postgres() -> tuple[str, Callable[[], None]]:
    """A fresh PostgreSQL cluster on 127.0.0.1 at a free port: (SQLAlchemy URL, stop)."""
    bin_dir = pg_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql; scripts/setup.sh)")
    root = Path(tempfile.mkdtemp(prefix="miner-test-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb will not run as root: the postgres account owns the cluster
        import pwd

        account = pwd.getpwnam("postgres")
        os.chown(root, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, log, port = root / "data", root / "server.log", free_port()

    def run(*args: str) -> None:
        r = subprocess.run([*as_user, *args], capture_output=True, text=True, timeout=120)
        if r.returncode:
            raise RuntimeError(f"{' '.join(args[:2])} failed: {r.stdout[-1000:]}{r.stderr[-1000:]}")

    # C collation: text sorts by code point, as in SQLite, so listings come out in the same order
    run(str(bin_dir / "initdb"), "-D", str(data), "-U", "miner", "--auth=trust", "-E", "UTF8", "--locale=C",
        "--no-sync", "--no-instructions")  # fmt: skip
    options = (
        f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root}"
        " -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        " -c shared_buffers=64MB -c log_min_messages=warning"
    )
    run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start")

    def stop() -> None:
        subprocess.run(
            [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)

    try:
        _wait_port(port, lambda: True, "PostgreSQL", log)
    except BaseException:
        stop()
        raise
    # through the unix socket: also reachable from a private network namespace (the Ray test's)
    return f"postgresql://miner@/postgres?host={root}&port={port}", stop


def start_chroma() -> tuple[str, Callable[[], None]]:
    """A ``chroma run`` server on 127.0.0.1 at a free port: (URL, stop)."""
    exe = Path(sys.executable).with_name("chroma")
    if not exe.exists():
        exe = Path(shutil.which("chroma") or "")
    if not exe.name:
        raise RuntimeError("the chroma CLI (from the chromadb package) is not installed")
    root = Path(tempfile.mkdtemp(prefix="miner-test-chroma-"))
    port, log_path = free_port(), root / "server.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed by stop()
    proc = subprocess.Popen(
        [str(exe), "run", "--path", str(root / "db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(root, ignore_errors=True)

    try:
        _wait_port(port, lambda: proc.poll() is None, "chroma", log_path)
    except BaseException:
        stop()
        raise
    return f"http://127.0.0.1:{port}", stop


def requested(option: str | None) -> list[str]:
    """Backends asked for by ``--backends`` or ``MINER_TEST_BACKENDS`` (comma-separated)."""
    raw = option if option is not None else os.environ.get("MINER_TEST_BACKENDS", "")
    names = [b.strip().lower() for b in raw.split(",") if b.strip()]
    names = ["postgres" if n in ("postgresql", "pg") else n for n in names]
    unknown = sorted(set(names) - set(BACKENDS))
    if unknown:
        raise ValueError(f"unknown test backends {unknown}; choose from {', '.join(BACKENDS)}")
    return names


def copy_workspace(src: Path, dst: Path) -> None:
    """Copy a workspace folder and, when the catalogue is in PostgreSQL, its schema into a new one.

    A folder copy alone would point at the original's schema (miner refuses that, see
    miner.db.workspace_schema): the copy gets a schema of its own holding the same rows.
    """
    import re

    from miner import db as database
    from miner.store import Catalogue, schema_sql

    shutil.copytree(src, dst)
    if not database.database_url():
        return
    old = database.connect(Path(src) / "catalogue.sqlite", read_only=True)
    (Path(dst) / database.SCHEMA_FILE).unlink()
    new = Catalogue(Path(dst) / "catalogue.sqlite")  # a fresh schema with the tables
    try:
        tables = re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", schema_sql("postgresql"))
        with new.db:
            new.db.execute("DELETE FROM meta")
            for table in tables:
                new.db.execute(f"INSERT INTO {table} OVERRIDING SYSTEM VALUE SELECT * FROM {old.main}.{table}")
            for table in ("cluster_edits", "status_history", "audit_log"):
                new.db.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'seq'), COALESCE(MAX(seq), 0) + 1, false)"
                    f" FROM {table}"
                )
    finally:
        new.close()
        old.close()
