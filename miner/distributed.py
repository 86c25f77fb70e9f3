"""Parse a batch on a Ray cluster: reading, OCR, findings and their embeddings as Ray tasks, writing stays here.

``miner ingest --ray ADDRESS`` sends each file's bytes to a Ray task that runs
:func:`miner.pipeline.parse_file` wherever the cluster has a free CPU, and streams the parsed
documents back to this process, the workspace's one writer (chromadb and the catalogue allow one
writing process per path). ``--ray auto`` starts a private local Ray with ``--workers`` CPUs.

Ray is optional (``pip install 'miner[scale]'``) and imported only here, only when asked for.
Worker nodes need the same miner (package, ``models/`` and ``corpora/``) and Python; files need
not be on a shared disk, their bytes travel through Ray's object store. Each file still has its
time limit (``MINER_FILE_TIMEOUT_S``: the task is cancelled and the file reported); the memory
limit of a pebble worker (``RLIMIT_AS``) is left to Ray's own memory monitor, because an address
space limit on a long-lived Ray worker would also cap Ray's shared-memory mappings.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from miner.config import Settings
    from miner.pipeline import Parsed

# Ray reports usage to its authors unless told not to; miner sends nothing anywhere.
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

#: tasks in flight per cluster CPU: enough to keep every CPU busy, few enough that the file bytes
#: of a province's archive never sit in the object store all at once
IN_FLIGHT_PER_CPU = 3


class RayUnavailable(RuntimeError):
    """Ray was asked for but is not installed, or the cluster cannot be reached."""


def require() -> None:
    """Refuse (RayUnavailable) when Ray is not installed."""
    _ray()


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailable(
            "--ray needs Ray, which is not installed: pip install 'miner[scale]' (or pip install ray)"
        ) from exc
    return ray


def _parse_bytes(
    name: str, data: bytes, sha256: str, extra: tuple, embed_model: str | None = None
) -> tuple[Parsed, str]:
    """Runs on a Ray worker: the file's bytes into a private temp file, parsed as on the writer.

    With ``embed_model`` the findings are embedded here too, so that a cluster also shares the
    model time (minutes per thousand findings for a transformer on CPU), not just the reading.
    """
    import ray

    from miner.pipeline import parse_file

    os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # one Tesseract thread per task, as in pipeline._worker_init
    with tempfile.TemporaryDirectory(prefix="miner-ray-") as tmp:
        local = Path(tmp) / Path(name).name
        local.write_bytes(data)
        parsed = parse_file(str(local), sha256, *extra)
    if parsed.error:  # messages name the file as the analyst knows it, not the task's temp copy
        parsed.error = parsed.error.replace(str(local), local.name)
    if embed_model is not None and parsed.doc is not None and parsed.spans:
        from miner.embed import get_embedder

        model = get_embedder(embed_model)
        texts = [parsed.doc.text[s.start : s.end] for s in parsed.spans if not s.review]
        parsed.vectors = (model.name, model.version, texts, model.encode(texts))
    return parsed, ray.get_runtime_context().get_node_id()


def connect(address: str, workers: int | None) -> bool:
    """Join the cluster at ``address``, or start a local Ray for ``auto``; True when we started it."""
    ray = _ray()
    if ray.is_initialized():
        return False
    # the writer's MINER_* settings (problem model, OCR, limits) hold on every node too
    env = {k: v for k, v in os.environ.items() if k.startswith("MINER_")}
    env.update({"RAY_USAGE_STATS_ENABLED": "0", "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"})
    common: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "logging_level": "ERROR",
        "runtime_env": {"env_vars": env},
    }
    try:
        if address == "auto":
            ray.init(num_cpus=max(1, workers or os.cpu_count() or 1), **common)
        else:
            ray.init(address=address, **common)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise RayUnavailable(f"cannot reach the Ray cluster at {address}: {exc}") from exc
    return True


def parse_all(
    todo: list[tuple[Path, str]],
    settings: Settings,
    address: str,
    workers: int | None = None,
    nodes: set[str] | None = None,
) -> Iterator[Parsed]:
    """Parse ``todo`` as Ray tasks and yield the results in ``todo`` order (as they complete).

    ``nodes``, when given, collects the ids of the Ray nodes that parsed files.
    """
    from miner.ingest import Limits
    from miner.pipeline import Parsed

    if not todo:
        return
    ray = _ray()
    started = connect(address, workers)
    try:
        extra = (
            settings.table_path_objects,
            settings.ocr,
            Limits.from_settings(settings),
            settings.max_findings_per_document,
        )
        remote = ray.remote(num_cpus=1, max_retries=0)(_parse_bytes)
        embed_model = settings.embed_model if settings.ray_embed else None
        cpus = int(ray.cluster_resources().get("CPU", 1))
        window = max(2, IN_FLIGHT_PER_CPU * cpus)
        timeout = float(settings.file_timeout_s)
        pending: dict[Any, tuple[int, float]] = {}  # ref → (index in todo, start time)
        done: dict[int, Parsed] = {}
        nxt = emitted = 0
        while emitted < len(todo):
            while nxt < len(todo) and len(pending) < window:
                f, digest = todo[nxt]
                try:
                    data = f.read_bytes()
                except OSError as exc:
                    done[nxt] = Parsed(str(f), digest, error=f"could not read file ({exc}) / 文件无法读取")
                else:
                    ref = remote.remote(f.name, data, digest, extra, embed_model)
                    pending[ref] = (nxt, time.monotonic())
                nxt += 1
            if pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
                for ref in ready:
                    i, _ = pending.pop(ref)
                    done[i] = _result(ray, ref, todo[i])
                    if nodes is not None and done[i].error == "" and hasattr(done[i], "_node"):
                        nodes.add(done[i]._node)  # type: ignore[attr-defined]
                now = time.monotonic()
                for ref, (i, t0) in list(pending.items()):
                    if now - t0 > timeout:
                        ray.cancel(ref, force=True)
                        del pending[ref]
                        f, digest = todo[i]
                        done[i] = Parsed(
                            str(f),
                            digest,
                            error=f"reading took longer than {timeout:g} s and was stopped "
                            "(MINER_FILE_TIMEOUT_S) / 处理超时",
                        )
            while emitted in done:
                yield done.pop(emitted)
                emitted += 1
    finally:
        if started:
            ray.shutdown()


def _result(ray: Any, ref: Any, item: tuple[Path, str]) -> Parsed:
    """A finished task's Parsed, its path the writer's own; a crashed task is the file's failure."""
    from miner.pipeline import Parsed

    f, digest = item
    try:
        parsed, node = ray.get(ref)
    except ray.exceptions.OutOfMemoryError:
        return Parsed(str(f), digest, error="the reader ran out of memory on the Ray cluster / 文件过大，内存不足")
    except ray.exceptions.RayError as exc:
        return Parsed(
            str(f), digest, error=f"the reader failed on the Ray cluster ({type(exc).__name__}) / 读取进程异常退出"
        )
    parsed.path = str(f)
    parsed._node = node  # type: ignore[attr-defined]
    return parsed
