"""Uploads that run in the background, with per-file progress the page can poll.

``POST /batches?background=true`` saves the files, answers at once with a job id,
and ingests in a thread under the API's write lock; ``GET /batches/-/jobs/{id}``
tells the uploader (and only them) where each file is: 排队 queued → 解析
parsing → read → ok / duplicate / failed, then the batch's indexing and clustering, and
finally the batch as ``POST /batches`` would have returned it. Jobs live in memory
(a finished one for an hour): the batch itself is in the catalogue for good.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

KEEP_S = 3600.0
PHASES = {
    "queued": "排队等待",
    "parsing": "正在解析",
    "indexing": "正在建立索引",
    "clustering": "正在归并共性问题",
    "done": "已完成",
    "failed": "失败",
}
FILE_STATES = {
    "queued": "排队",
    "parsing": "解析中",
    "read": "已解析，等待入库",
    "ok": "成功",
    "duplicate": "重复（已跳过）",
    "failed": "失败",
}


@dataclass
class Job:
    id: str
    owner: str
    files: dict[str, str]  # file name → state (FILE_STATES)
    phase: str = "queued"
    result: dict | None = None
    error: str = ""
    started: float = field(default_factory=time.time)
    finished: float | None = None

    def view(self) -> dict:
        done = sum(1 for s in self.files.values() if s in ("ok", "duplicate", "failed"))
        return {
            "job": self.id,
            "phase": self.phase,
            "phase_zh": PHASES[self.phase],
            "files": [{"name": n, "state": s, "state_zh": FILE_STATES[s]} for n, s in self.files.items()],
            "done": done,
            "read": done + sum(1 for s in self.files.values() if s == "read"),
            "total": len(self.files),
            "batch": self.result,
            "error": self.error,
            "elapsed_s": round((self.finished or time.time()) - self.started, 1),
        }


class Jobs:
    """The background uploads of one API process."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(self, owner: str, names: list[str], work: Callable[[Job], dict]) -> Job:
        """Run ``work(job)`` in a thread; its return value is the job's result."""
        job = Job(uuid.uuid4().hex[:16], owner, dict.fromkeys(names, "queued"))
        with self._lock:
            now = time.time()
            for k in [k for k, j in self._jobs.items() if j.finished and now - j.finished > KEEP_S]:
                del self._jobs[k]
            self._jobs[job.id] = job

        def run() -> None:
            try:
                job.result = work(job)
                job.phase = "done"
            except Exception as exc:  # noqa: BLE001 - reported to the uploader, not raised into the void
                job.error = getattr(exc, "detail", None) or str(exc) or type(exc).__name__
                job.phase = "failed"
                for name, state in job.files.items():
                    if state in ("queued", "parsing", "read"):
                        job.files[name] = "failed"
            finally:
                job.finished = time.time()

        threading.Thread(target=run, name=f"miner-upload-{job.id}", daemon=True).start()
        return job

    def get(self, job_id: str, owner: str) -> Job | None:
        job = self._jobs.get(job_id)
        return job if job is not None and job.owner == owner else None
