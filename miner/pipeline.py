"""The pipeline, top to bottom: ingest → findings → (index) → search / cluster → export.

:class:`Workspace` owns the files of one workspace folder. The functions here
are what the CLI and the API call; each stage lives in its own module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from miner.config import Settings, get_settings
from miner.duplicates import DuplicateIndex
from miner.findings import FindingSpan, extract_findings, under_read, unit_in_text
from miner.ingest import SUPPORTED_SUFFIXES, IngestError, ParsedDocument, read_document, sha256_file
from miner.metadata import apply_overrides, infer_metadata
from miner.records import ISSUER_KIND_ZH, CommonProblem, DocumentMeta, Finding
from miner.store import BatchFile, Catalogue

# Files in a folder that we report rather than skip: an analyst who drops a .doc
# into a batch should hear that it was not read.
_REPORTED_SUFFIXES = SUPPORTED_SUFFIXES + (".doc", ".wps", ".ofd", ".rtf", ".xls", ".xlsx")


class Workspace:
    """One workspace folder: the SQLite catalogue plus search indexes beside it."""

    def __init__(self, root: Path | None = None, settings: Settings | None = None):
        self.settings = settings or get_settings()
        self.root = Path(root or self.settings.workspace).expanduser().resolve()
        # Reports are sensitive: a new workspace is readable by its owner only.
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
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


def parse_file(path: str, sha256: str, table_path_objects: int = 6, ocr: str = "auto") -> Parsed:
    """Read one file and split it into findings; never raises for bad input."""
    try:
        doc = read_document(Path(path), table_path_objects, ocr)
        meta = infer_metadata(doc, Path(path).name)
        spans = extract_findings(doc, with_review=True)
        if len(meta.units) != 1:  # a report about several units: the unit a statement names
            for s in spans:
                s.unit = s.unit or unit_in_text(doc.text[s.start : s.end])
        return Parsed(path, sha256, doc, meta, spans)
    except IngestError as exc:
        return Parsed(path, sha256, error=str(exc))
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
) -> dict:
    """Ingest files into a new batch and return the batch with per-file status.

    Same content already in the workspace → ``duplicate`` (a no-op). A file that
    cannot be read → ``failed`` with the reason; the rest of the batch goes on.
    Each document lands in one transaction with its findings.
    """
    overrides = {k: v for k, v in (overrides or {}).items() if v not in (None, "", [])}
    sidecar = sidecar or {}
    files = collect_files(paths)
    cat = ws.catalogue
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
    results = _parse_all(todo, settings.table_path_objects, settings.ocr, workers)
    # Same report in another form (scan, docx beside PDF): recorded as duplicate, not added, so
    # it neither forms a common problem with itself nor inflates counts. Text beats OCR in a batch.
    results = sorted(results, key=lambda r: bool(r.doc and r.doc.ocr))
    same = DuplicateIndex.for_workspace(ws.root, cat, settings.duplicate_threshold) if results else None
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
                f.name,
                str(f),
                "ok",
                "; ".join(
                    m
                    for m in (
                        "read by OCR: check quotes against the scan / 经 OCR 识别，引用请核对原件"
                        if parsed.doc.ocr
                        else "",
                        under_read(parsed.doc, parsed.spans),
                    )
                    if m
                ),
                parsed.sha256,
                doc_id,
                sum(not s.review for s in parsed.spans),
            ),
        )
        new_ids.append(doc_id)
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

        rectification.scan(ws)
    result = cat.batch(batch_id)
    assert result is not None
    return result


def _note(progress: Callable[[str, str], None] | None, name: str, status: str) -> None:
    if progress:
        progress(name, status)


def _parse_all(
    todo: list[tuple[Path, str]], table_path_objects: int, ocr: str, workers: int | None
) -> Iterable[Parsed]:
    """Parse files, in worker processes when there are enough of them to pay off."""
    if workers is None:
        import os

        workers = min(len(todo) // 4, os.cpu_count() or 1)
    if workers <= 1 or len(todo) < 4:
        for f, digest in todo:
            yield parse_file(str(f), digest, table_path_objects, ocr)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(
            parse_file,
            [str(f) for f, _ in todo],
            [d for _, d in todo],
            [table_path_objects] * len(todo),
            [ocr] * len(todo),
            chunksize=2,
        )


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
