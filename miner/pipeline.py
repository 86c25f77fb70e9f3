"""The pipeline, top to bottom: ingest → findings → (index) → search / cluster → export.

:class:`Workspace` owns the files of one workspace folder. The functions here
are what the CLI and the API call; each stage lives in its own module.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from miner.config import Settings, get_settings
from miner.ingest import SUPPORTED_SUFFIXES, IngestError, Limits, ParsedDocument, read_document, sha256_file
from miner.records import ISSUER_KIND_ZH, CommonProblem, DocumentMeta, Finding, MetadataOverrides
from miner.store import BatchFile, Catalogue, make_private

if TYPE_CHECKING:
    from miner.findings import FindingSpan

# Stages that only writing commands need (findings, metadata, duplicates: datasketch pulls in
# scipy) are imported where they are used, so that read commands start in well under a second.

# Files in a folder that we report rather than skip: an analyst who drops a .doc
# into a batch should hear that it was not read.
_REPORTED_SUFFIXES = SUPPORTED_SUFFIXES + (".doc", ".wps", ".ofd", ".rtf", ".xls", ".xlsx")


class Workspace:
    """One workspace folder: the SQLite catalogue plus search indexes beside it."""

    def __init__(self, root: Path | None = None, settings: Settings | None = None):
        self.settings = settings or get_settings()
        self.root = Path(root or self.settings.workspace).expanduser().resolve()
        # Reports are sensitive: everything miner writes in this process (catalogue, WAL, chromadb's
        # files, caches, uploads) is created for the owner only, and an existing workspace is
        # tightened to 0700/0600 when opened.
        os.umask(0o077)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        make_private(self.root)
        self.catalogue = Catalogue(self.root / "catalogue.sqlite")

    def close(self) -> None:
        self.catalogue.close()


@dataclass
class Parsed:
    """What a worker process sends back for one file."""

    path: str
    sha256: str
    doc: ParsedDocument | None = None
    meta: DocumentMeta | None = None
    spans: list[FindingSpan] | None = None
    error: str = ""
    # (model name, model version, texts, vectors) of the findings, when a Ray task embedded them
    vectors: tuple | None = None


def collect_files(paths: Iterable[Path]) -> list[Path]:
    """Expand folders (recursively, sorted) and keep explicit files as given."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out.extend(
                sorted(
                    f
                    for f in p.rglob("*")
                    if f.is_file() and not f.name.startswith((".", "~$")) and f.suffix.lower() in _REPORTED_SUFFIXES
                )
            )
        else:
            out.append(p)
    return out


def parse_file(
    path: str,
    sha256: str,
    table_path_objects: int = 6,
    ocr: str = "auto",
    limits: Limits | None = None,
    max_findings: int = 5000,
) -> Parsed:
    """Read one file and split it into findings; never raises for bad input."""
    from miner.findings import extract_findings, unit_in_text
    from miner.metadata import infer_metadata

    try:
        doc = read_document(Path(path), table_path_objects, ocr, limits)
        meta = infer_metadata(doc, Path(path).name)
        spans = extract_findings(doc, with_review=True)
        if sum(not s.review for s in spans) > max_findings:
            raise IngestError(
                f"{len(spans)} findings in one document, more than the limit of {max_findings} "
                "(MINER_MAX_FINDINGS_PER_DOCUMENT); is this really one report? / 问题条数超过上限"
            )
        if len(meta.units) != 1:  # a report about several units: the unit a statement names
            for s in spans:
                s.unit = s.unit or unit_in_text(doc.text[s.start : s.end])
        return Parsed(path, sha256, doc, meta, spans)
    except IngestError as exc:
        return Parsed(path, sha256, error=str(exc))
    except MemoryError:
        return Parsed(path, sha256, error="needs more memory than MINER_WORKER_MEMORY_MB allows / 文件过大，内存不足")
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop a batch
        return Parsed(path, sha256, error=f"could not read file ({type(exc).__name__}: {exc}) / 文件无法读取")


def ingest(
    ws: Workspace,
    paths: Iterable[Path],
    *,
    overrides: dict | None = None,
    sidecar: dict[str, dict] | None = None,
    label: str = "",
    workers: int | None = None,
    progress: Callable[[str, str], None] | None = None,
    index: bool = True,
    on_read: Callable[[str], None] | None = None,
    ray: str | None = None,
) -> dict:
    """Ingest files into a new batch and return the batch with per-file status.

    Same content already in the workspace → ``duplicate`` (a no-op). A file that
    cannot be read → ``failed`` with the reason; the rest of the batch goes on.
    Each document lands in one transaction with its findings. ``on_read(name)`` is called as
    each file has been read (before the batch is stored), for progress shown while it runs.
    ``ray`` (a Ray address, or "auto" for a local Ray of ``workers`` CPUs; default
    ``MINER_RAY_ADDRESS``) parses the files on a Ray cluster instead of local worker processes
    (:mod:`miner.distributed`).
    """
    # Metadata is checked for every file before anything is written: a bad value refuses the
    # whole batch (MetadataError) instead of landing in the catalogue.
    overrides = MetadataOverrides.check(overrides, "batch metadata")
    sidecar = {name: MetadataOverrides.check(v, f"metadata for {name}") for name, v in (sidecar or {}).items()}
    files = collect_files(paths)
    cat = ws.catalogue
    ray = ws.settings.ray_address if ray is None else ray
    if ray:
        from miner import distributed

        distributed.require()  # a missing Ray is refused before a batch is recorded
    if index:
        from miner import indexing

        indexing.repair(ws)
    batch_id = cat.new_batch(label, overrides)
    todo: list[tuple[Path, str]] = []
    seen: dict[str, str] = {}
    for f in files:
        name = f.name
        if not f.exists():
            cat.record_file(batch_id, BatchFile(name, str(f), "failed", "file not found / 文件不存在"))
            _note(progress, name, "failed")
            continue
        if f.suffix.lower() not in SUPPORTED_SUFFIXES:
            msg = f"unsupported file type {f.suffix or '(none)'}; convert to .pdf, .docx or .txt / 不支持的文件类型"
            cat.record_file(batch_id, BatchFile(name, str(f), "failed", msg))
            _note(progress, name, "failed")
            continue
        digest = sha256_file(f)
        existing = cat.document_by_hash(digest)
        if existing or digest in seen:
            other = existing["name"] if existing else seen[digest]
            cat.record_file(
                batch_id,
                BatchFile(
                    name,
                    str(f),
                    "duplicate",
                    f"same content as {other} / 与 {other} 内容相同",
                    digest,
                    existing["id"] if existing else None,
                ),
            )
            _note(progress, name, "duplicate")
            continue
        seen[digest] = name
        todo.append((f, digest))

    settings = ws.settings
    results = _parse_all(todo, settings, workers, ray, while_waiting=lambda: _warm_writing(index))
    if on_read is not None:
        results = (_read(on_read, r) for r in results)
    # Same report in another form (scan, docx beside PDF): recorded as duplicate, not added, so
    # it neither forms a common problem with itself nor inflates counts. Text beats OCR in a batch:
    # OCR'd reports wait until the rest is stored; the others are stored as they arrive.
    results = _text_before_ocr(results)
    from miner.duplicates import DuplicateIndex
    from miner.metadata import apply_overrides

    same = DuplicateIndex.for_workspace(ws.root, cat, settings.duplicate_threshold) if todo else None
    new_ids: list[str] = []
    for parsed in results:
        f = Path(parsed.path)
        if parsed.error:
            cat.record_file(batch_id, BatchFile(f.name, str(f), "failed", parsed.error, parsed.sha256))
            _note(progress, f.name, "failed")
            continue
        assert parsed.doc is not None and parsed.meta is not None and parsed.spans is not None
        if same is not None and (match := same.match(parsed.doc.text)):
            cat.record_file(
                batch_id,
                BatchFile(f.name, str(f), "duplicate", match.message(), parsed.sha256, match.doc_id),
            )
            _note(progress, f.name, "duplicate")
            continue
        meta = apply_overrides(parsed.meta, {**overrides, **sidecar.get(f.name, {})})
        doc_id = parsed.sha256[:12]
        cat.add_document(
            doc_id=doc_id,
            sha256=parsed.sha256,
            name=f.name,
            path=str(f.resolve()),
            batch_id=batch_id,
            pages=parsed.doc.pages,
            meta=meta,
            traditional=parsed.doc.traditional,
            text=parsed.doc.text,
            source_text=parsed.doc.source_text,
            spans=parsed.spans,
            batch_file=BatchFile(
                f.name, str(f), "ok", _notes(parsed), parsed.sha256, doc_id, sum(not s.review for s in parsed.spans)
            ),
        )
        new_ids.append(doc_id)
        if index and parsed.vectors is not None:
            _keep_vectors(ws, parsed.vectors)
        if same is not None:
            same.add(doc_id, f.name, parsed.doc.text)
        _note(progress, f.name, "ok")
    if same is not None and new_ids:
        same.save(ws.root, new_ids)
    if index and new_ids:
        from miner import indexing

        indexing.index_documents(ws)
    if new_ids:  # rectification records of the new reports, and links of older ones to new findings
        from miner import rectification

        rectification.scan(ws, rectification.affected_by(ws, new_ids))
    result = cat.batch(batch_id)
    assert result is not None
    return result


def _keep_vectors(ws: Workspace, vectors: tuple) -> None:
    """Put the vectors a Ray task computed into the workspace's embedding cache, if the model is ours."""
    from miner.indexing import embedder_for

    name, version, texts, vecs = vectors
    cache = embedder_for(ws)
    if (name, version) == (cache.name, cache.version):
        cache.put(texts, vecs)


def _text_before_ocr(results: Iterable[Parsed]) -> Iterator[Parsed]:
    """Parsed files as they come, except OCR'd ones, which follow all the others.

    Only the OCR'd results are held back (a scan's text is short), so a batch of thousands
    of files is stored while it is read instead of being held in memory whole.
    """
    later: list[Parsed] = []
    for r in results:
        if r.doc is not None and r.doc.ocr:
            later.append(r)
        else:
            yield r
    yield from later


def _warm_writing(index: bool) -> None:
    """Import what storing the batch needs while the workers parse (they start in ~1 s).

    The duplicate check (datasketch pulls in scipy.integrate), the vector store (chromadb) and
    jieba's dictionary take ~1.5 s to load; done after parsing, a 30-file batch waited for them
    in sequence. Errors are left for the stage that needs the module to report.
    """
    try:
        import miner.duplicates  # noqa: F401

        if index:
            import chromadb  # noqa: F401

            from miner.segment import get_tokenizer

            get_tokenizer()
    except Exception:  # noqa: BLE001 - reported where the module is used
        pass


def _read(on_read: Callable[[str], None], parsed: Parsed) -> Parsed:
    on_read(Path(parsed.path).name)
    return parsed


def _note(progress: Callable[[str, str], None] | None, name: str, status: str) -> None:
    if progress:
        progress(name, status)


def _notes(parsed: Parsed) -> str:
    """Warnings an analyst must see in the batch report for a document that was read."""
    from miner.findings import under_read

    notes = []
    if parsed.doc is not None and parsed.spans is not None:
        under = under_read(parsed.doc, parsed.spans)  # no findings, an unread table, too few for its length
        if under:
            notes.append(f"warning: {under}")
    if parsed.doc is not None and parsed.doc.ocr:
        notes.append("read by OCR: check quotes against the scan / 经 OCR 识别，引用请核对原件")
    if parsed.path.lower().endswith(".pdf"):
        from miner.ingest import _pdf_truncated

        if _pdf_truncated(Path(parsed.path)):
            notes.append("warning: PDF is truncated, later pages may be missing / 警告：PDF 文件不完整")
    return "; ".join(notes)


def _die_with_parent() -> bool:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux PR_SET_PDEATHSIG)."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return False
    parent = os.getppid()
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
    return True


def _in_forkserver() -> bool:
    """This process is the forkserver of our pool: its parent's pid, and it runs the forkserver.

    The pid alone is not enough: any other child of a miner process that has parsed (a ``miner``
    CLI run by a script that ingested, a test) inherits the variable and the same parent.
    """
    import sys

    ours = os.environ.get("MINER_FORKSERVER_PARENT") == str(os.getppid())
    return ours and "multiprocessing.forkserver" in sys.modules


# The forkserver imports this module (set_forkserver_preload): it must die with miner too, or it
# and the workers it forked outlive a ``kill -9`` of miner. It is recognised by its parent's pid.
if _in_forkserver():
    _die_with_parent()


def warm_parsing() -> None:
    """Import the parsing stages and load the problem model once, before workers are forked.

    Workers forked from the forkserver then start ready instead of spending the first file's
    time limit (``MINER_FILE_TIMEOUT_S``) on imports, the model and the word tags (~0.5 s each).
    """
    try:
        import miner.findings  # noqa: F401
        from miner import metadata, problem_model

        problem_model.default_model()
        metadata._word_tags()  # jieba's dictionary file, read on the first document (~0.5 s)
        import pypdfium2  # noqa: F401
    except Exception:  # noqa: BLE001 - a worker loads them itself, and reports what fails
        pass


if _in_forkserver():
    warm_parsing()


def _worker_init(memory_mb: int) -> None:
    """Runs in each parsing worker: die with the parent, and stay inside a memory budget.

    PR_SET_PDEATHSIG makes the kernel kill the worker when the process that forked it (the
    forkserver, which itself dies with miner) goes away, so a ``kill -9`` of miner leaves no
    worker behind holding files or the workspace lock. RLIMIT_AS turns a decompression bomb
    into a MemoryError in this worker instead of swapping the machine.
    """
    import resource

    _die_with_parent()
    # Tesseract's OpenMP threads cost more than they bring (2 cores, 14 scanned pages: 1 worker
    # 0.24, 2 workers 0.27 pages/s with them; 2 workers 0.70 pages/s without): one thread per worker.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle


def _pool_context() -> multiprocessing.context.BaseContext:
    """Workers come from a forkserver: forking miner itself would copy chromadb's threads and locks."""
    os.environ["MINER_FORKSERVER_PARENT"] = str(os.getpid())  # read by the forkserver, see _die_with_parent
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["miner.pipeline"])  # which warms the parsing stages, see warm_parsing
    return ctx


def _parse_all(
    todo: list[tuple[Path, str]],
    settings: Settings,
    workers: int | None,
    ray: str = "",
    while_waiting: Callable[[], None] | None = None,
) -> Iterable[Parsed]:
    """Parse files in worker processes, each file under a time limit and the workers under a memory limit.

    pebble's pool kills the worker of a file that runs past ``file_timeout_s`` and starts a new
    one; that file is reported failed and the batch goes on. With ``ray`` the files are parsed
    as Ray tasks instead (a cluster's address; "auto": a local Ray, when ``workers`` > 1).
    ``while_waiting`` runs in this process once the files are handed to the workers.
    """
    if not todo:
        return
    if ray and (ray != "auto" or (workers or 0) > 1):
        from miner import distributed

        yield from distributed.parse_all(todo, settings, ray, workers)
        return
    from pebble import ProcessExpired, ProcessPool

    if workers is None:
        workers = min(max(1, len(todo) // 4), os.cpu_count() or 1)
    workers = max(1, workers)
    limits = Limits.from_settings(settings)
    timeout = settings.file_timeout_s
    extra = (settings.table_path_objects, settings.ocr, limits, settings.max_findings_per_document)
    try:
        pool = ProcessPool(
            max_workers=workers,
            initializer=_worker_init,
            initargs=(settings.worker_memory_mb,),
            context=_pool_context(),
        )
        futures = [pool.schedule(parse_file, args=(str(f), digest, *extra), timeout=timeout) for f, digest in todo]
    except (OSError, RuntimeError, ValueError):
        # No worker processes here at all (e.g. no /dev/shm in a sandbox): read in this process,
        # without the time and memory limits, rather than fail the batch.
        for f, digest in todo:
            yield parse_file(str(f), digest, *extra)
        return
    if while_waiting is not None:
        while_waiting()
    try:
        for fut, (f, digest) in zip(futures, todo, strict=True):
            try:
                yield fut.result()
            except FutureTimeout:
                yield Parsed(
                    str(f),
                    digest,
                    error=f"reading took longer than {timeout:g} s and was stopped (MINER_FILE_TIMEOUT_S) / 处理超时",
                )
            except ProcessExpired as exc:
                yield Parsed(
                    str(f),
                    digest,
                    error=f"the reader process died (exit code {exc.exitcode}; out of memory?) / 读取进程异常退出",
                )
            except BrokenProcessPool:
                # No worker could start (e.g. a main module without the ``__main__`` guard): as above.
                yield parse_file(str(f), digest, *extra)
    finally:
        pool.stop()
        pool.join()


def make_filters(
    findings: Iterable,
    *,
    issuer_kind: list[str] | None = None,
    issuer: str | None = None,
    year: str | None = None,
    unit: str | None = None,
    batch: str | None = None,
    document: str | None = None,
) -> dict:
    """Analyst filters → the search filter language (values, lists, $gte/$lte).

    ``year`` takes "2023" or a range "2022-2024"; ``unit`` and ``issuer`` match
    as substrings (analysts type "教育局", not the full unit name).
    """
    flt: dict = {}
    if issuer_kind:
        flt["issuer_kind"] = list(issuer_kind)
    if year:
        lo, _, hi = str(year).partition("-")
        if hi:
            flt["year"] = {"$gte": int(lo), "$lte": int(hi)}
        else:
            flt["year"] = int(lo)
    if batch:
        flt["batch_id"] = batch
    if document:
        flt["document"] = document
    findings = list(findings)
    for field, value in (("unit", unit), ("issuer", issuer)):
        if value:
            flt[field] = sorted({getattr(f, field) for f in findings if value in (getattr(f, field) or "")}) or [value]
    return flt


def finding_view(f: Finding, catalogue: Catalogue, score: float | None = None) -> dict:
    """A finding as the CLI and API show it: quoted as published, with its citation."""
    row = f.to_dict()
    row["text_normalised"] = f.text
    row["text"] = catalogue.source_text(f.id) or f.text
    row["issuer_kind_zh"] = ISSUER_KIND_ZH.get(f.issuer_kind, "")
    row["citation"] = f"{f.document} 第{f.page}页"
    if score is not None:
        row["score"] = round(float(score), 4)
    return row


def as_published(problems: list[CommonProblem], catalogue: Catalogue) -> list[CommonProblem]:
    """Let exports quote every finding as published (Traditional stays Traditional)."""
    for p in problems:
        for f in p.findings:
            f.text = catalogue.source_text(f.id) or f.text
    return problems


def problem_view(p: CommonProblem, catalogue: Catalogue) -> dict:
    """A common problem as the CLI and API show it."""
    return {
        "id": p.id,
        "label": p.label,
        "keywords": p.keywords,
        "score": round(p.score, 3),
        "span": p.span,
        "size": len(p.findings),
        "note": p.note,
        "finding_ids": [f.id for f in p.findings],
        "findings": [finding_view(f, catalogue) for f in p.findings],
    }
