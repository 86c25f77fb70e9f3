"""The ``miner`` command line: batch work for analysts and the scorer's contract.

Machine output (``--format json|jsonl|csv``) goes to stdout; progress bars,
logs and summary tables go to stderr, so stdout stays parseable.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from enum import StrEnum
from pathlib import Path

import typer
import typer.core
from rich.console import Console
from rich.table import Table

from miner.config import get_settings
from miner.pipeline import finding_view, problem_view
from miner.records import ISSUER_KINDS


def _refusals() -> tuple[type[Exception], ...]:
    """Errors that are the analyst's to fix, not bugs: one line on stderr and exit code 2."""
    from miner.distributed import RayUnavailable
    from miner.indexing import ModelMismatch
    from miner.records import MetadataError
    from miner.store import WorkspaceBusy, WorkspaceUnusable

    return (WorkspaceBusy, WorkspaceUnusable, ModelMismatch, MetadataError, PermissionError, RayUnavailable)


class _Group(typer.core.TyperGroup):
    """Turns refusals raised anywhere in a command into one clear line (no traceback)."""

    def invoke(self, ctx):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except _refusals() as exc:
            _fail(str(exc))


app = typer.Typer(
    cls=_Group,
    add_completion=False,
    no_args_is_help=True,
    help="miner: mine supervision reports for problems that recur across agencies. / 监督报告共性问题挖掘",
)
err = Console(stderr=True)


def _table_width() -> int | None:
    """Full text width when piped: rich falls back to 80 columns without a terminal, which folds
    every Chinese sentence; a file has no width, so tables get a wide one (COLUMNS still wins)."""
    if sys.stdout.isatty() or os.environ.get("COLUMNS"):
        return None
    return 400


out = Console(soft_wrap=True, width=_table_width())


class Fmt(StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


class State:
    workspace: Path | None = None


state = State()


@app.callback()
def main(
    workspace: Path | None = typer.Option(
        None, "--workspace", "-w", help="Workspace folder (else MINER_WORKSPACE, else a per-user data folder)."
    ),
) -> None:
    state.workspace = workspace


def _ws(read: bool = False):
    """Open the workspace; reading commands check the indexes against the catalogue and say so."""
    from miner.pipeline import Workspace

    ws = Workspace(state.workspace or get_settings().workspace)
    if read:
        from miner import indexing

        reason = indexing.check(ws)
        if reason:
            indexing.say(f"warning: {reason}; the next writing command (or `miner reindex`) repairs it")
    return ws


def _audit(ws, action: str, target: str, items: int, **detail) -> None:
    """Append a reading command to the audit log (who = the OS account); a log that cannot be
    written (read-only medium, a writer holding the catalogue too long) is said, not fatal."""
    import sqlite3

    from miner import auditlog

    try:
        auditlog.record(ws.catalogue, auditlog.current_user(), action, target, items, detail or None)
    except sqlite3.Error as exc:
        err.print(f"warning: audit log not written ({exc}) / 审计日志未写入")


def _lock(ws, what: str):
    """The workspace's write lock; a lock left by a killed writer is taken over, saying so."""
    from miner.indexing import say
    from miner.store import write_lock

    return write_lock(ws.root, what, say)


def _emit(rows: list[dict], fmt: Fmt, columns: list[str], title: str = "") -> None:
    """Print rows in the requested format (tables go to stdout for humans)."""
    if fmt == Fmt.json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=1) + "\n")
    elif fmt == Fmt.jsonl:
        for r in rows:
            sys.stdout.write(json.dumps(r, ensure_ascii=False) + "\n")
    elif fmt == Fmt.csv:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(
                {k: (json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v) for k, v in r.items()}
            )
        sys.stdout.write(buf.getvalue())
    else:
        t = Table(title=title or None, show_lines=False)
        for c in columns:
            t.add_column(c, overflow="fold", max_width=60 if c in ("text", "title", "label") else None)
        for r in rows:
            t.add_row(
                *[
                    ", ".join(map(str, v)) if isinstance(v, list) else ("" if v is None else str(v))
                    for v in (r.get(c) for c in columns)
                ]
            )
        out.print(t)


def _fail(message: str, code: int = 2) -> None:
    """A refusal: one line on stderr (never wrapped, never a traceback) and exit code 2."""
    sys.stderr.write(f"error: {' '.join(str(message).split())}\n")
    sys.stderr.flush()
    raise typer.Exit(code)


# --------------------------------------------------------------------------- ingest


@app.command()
def ingest(
    paths: list[Path] = typer.Argument(..., help="Report files (.pdf .docx .txt) or folders."),
    issuer_kind: str | None = typer.Option(None, help=f"Override: one of {', '.join(ISSUER_KINDS)}."),
    issuer: str | None = typer.Option(None, help="Override: issuing body, e.g. 清河市审计局."),
    year: int | None = typer.Option(None, help="Override: year of the reports."),
    report_kind: str | None = typer.Option(None, help="Override: kind of report, e.g. 审计结果公告."),
    unit: str | None = typer.Option(None, help="Override: supervised unit(s), separated by ；"),
    metadata: Path | None = typer.Option(None, help="Sidecar CSV/JSON mapping file names to metadata."),
    label: str = typer.Option("", help="A label for this batch."),
    fmt: Fmt = typer.Option(Fmt.table, "--format", help="Output format of the batch report."),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Parsing processes (default: by batch size)."),
    ray: str | None = typer.Option(
        None,
        "--ray",
        help="Parse on a Ray cluster at this address (e.g. 10.0.0.5:6379), or 'auto' for a local Ray "
        "with --workers CPUs (default MINER_RAY_ADDRESS). Needs pip install 'miner[scale]'.",
    ),
) -> None:
    """Read reports into the workspace and split them into findings. / 导入报告并拆分问题"""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from miner.metadata import load_sidecar
    from miner.pipeline import collect_files
    from miner.pipeline import ingest as run_ingest
    from miner.records import MetadataOverrides

    if issuer_kind and issuer_kind not in ISSUER_KINDS:
        _fail(f"--issuer-kind must be one of {', '.join(ISSUER_KINDS)}")
    sidecar = {}
    if metadata:
        try:
            sidecar = load_sidecar(metadata)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            _fail(f"cannot read metadata file {metadata}: {exc}")
    overrides = {"issuer_kind": issuer_kind, "issuer": issuer, "year": year, "report_kind": report_kind, "units": unit}
    # Checked again by the pipeline; here so that a refusal comes before the progress bar.
    MetadataOverrides.check(overrides, "batch metadata")
    for name, values in sidecar.items():
        MetadataOverrides.check(values, f"metadata for {name}")
    ws = _ws()
    files = collect_files(paths)
    with (
        _lock(ws, "ingest"),
        Progress(
            TextColumn("[bold]ingest"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            console=err,
            transient=True,
        ) as bar,
    ):
        task = bar.add_task("", total=len(files))

        def progress(name: str, status: str) -> None:
            bar.update(task, advance=1, description=f"{name} {status}")

        batch = run_ingest(
            ws, files, overrides=overrides, sidecar=sidecar, label=label, progress=progress, workers=workers, ray=ray
        )
    rows = [
        {
            "file": f["name"],
            "status": f["status"],
            "findings": f["findings"],
            "message": f["message"],
            "document_id": f["document_id"],
        }
        for f in batch["files"]
    ]
    if fmt == Fmt.table:
        t = Table(title=f"batch {batch['id']}")
        for c in ("file", "status", "findings", "message"):
            t.add_column(c, overflow="fold")
        colour = {"ok": "green", "duplicate": "yellow", "failed": "red"}
        for r in rows:
            t.add_row(r["file"], f"[{colour[r['status']]}]{r['status']}", str(r["findings"]), r["message"])
        err.print(t)
        c = batch["counts"]
        empty = sum(1 for r in rows if r["status"] == "ok" and not r["findings"])
        err.print(
            f"{c['ok']} ok, {c['duplicate']} duplicate, {c['failed']} failed; "
            f"{sum(r['findings'] for r in rows)} findings"
            + (f"; [yellow]warning:[/yellow] {empty} document(s) with no findings" if empty else "")
        )
        sys.stdout.write(json.dumps({"batch": batch["id"], **c}) + "\n")
    else:
        batch_out = {k: v for k, v in batch.items() if k != "files"}
        batch_out["files"] = rows
        if fmt == Fmt.json:
            sys.stdout.write(json.dumps(batch_out, ensure_ascii=False, indent=1) + "\n")
        else:
            _emit([batch_out], fmt, list(batch_out))


@app.command()
def documents(fmt: Fmt = typer.Option(Fmt.table, "--format")) -> None:
    """List ingested documents with their metadata. / 文档列表"""
    ws = _ws(read=True)
    rows = ws.catalogue.documents()
    _audit(ws, "read", "documents", len(rows))
    _emit(
        rows, fmt, ["id", "name", "issuer_kind", "issuer", "year", "report_kind", "units", "pages", "findings", "title"]
    )


@app.command()
def batches(fmt: Fmt = typer.Option(Fmt.table, "--format")) -> None:
    """List batches and their per-file status counts. / 批次列表"""
    ws = _ws(read=True)
    rows = []
    for b in ws.catalogue.batches():
        full = ws.catalogue.batch(b["id"]) or {}
        rows.append({"id": b["id"], "label": b["label"], **full.get("counts", {})})
    _audit(ws, "read", "batches", len(rows))
    _emit(rows, fmt, ["id", "label", "ok", "duplicate", "failed"])


@app.command()
def findings(
    document: str | None = typer.Option(None, "--document", help="Only this document (file name or id)."),
    fmt: Fmt = typer.Option(Fmt.table, "--format"),
) -> None:
    """List findings with document, page and offsets. / 问题清单"""
    ws = _ws(read=True)
    items = ws.catalogue.findings(document=document)
    if document and not items and ws.catalogue.document(document) is None:
        _fail(f"no document named {document!r} in {ws.root}")
    rows = [finding_view(f, ws.catalogue) for f in items]
    _audit(ws, "read", f"findings:{document}" if document else "findings", len(rows))
    _emit(rows, fmt, ["id", "document", "page", "issuer_kind", "unit", "text"])


IssuerKindOpt = typer.Option(None, "--issuer-kind", help="Filter: issuer kind (repeatable).")
YearOpt = typer.Option(None, "--year", help="Filter: year or range, e.g. 2023 or 2022-2024.")
UnitOpt = typer.Option(None, "--unit", help="Filter: supervised unit (substring).")
IssuerOpt = typer.Option(None, "--issuer", help="Filter: issuing body (substring).")
BatchOpt = typer.Option(None, "--batch", help="Filter: batch id.")


def _searcher(ws):
    from miner.indexing import ModelMismatch, open_searcher

    try:
        return open_searcher(ws)
    except ModelMismatch as exc:
        _fail(str(exc))


@app.command()
def search(
    queries: list[str] = typer.Argument(..., help="One or more queries, e.g. 往来款长期挂账"),
    k: int = typer.Option(10, "--k", min=1, max=1000, help="Hits per query."),
    issuer_kind: list[str] | None = IssuerKindOpt,
    year: str | None = YearOpt,
    unit: str | None = UnitOpt,
    issuer: str | None = IssuerOpt,
    batch: str | None = BatchOpt,
    fmt: Fmt = typer.Option(Fmt.table, "--format"),
) -> None:
    """Find similar problems: hybrid keyword + semantic ranking. / 相似问题检索"""
    from miner.pipeline import make_filters

    ws = _ws()
    all_findings = ws.catalogue.findings()
    by_id = {f.id: f for f in all_findings}
    flt = make_filters(all_findings, issuer_kind=issuer_kind, year=year, unit=unit, issuer=issuer, batch=batch)
    searcher = _searcher(ws)
    results = []
    for q in queries:
        hits = searcher.search(q, k=k, filters=flt or None)
        results.append({"query": q, "hits": [_hit(by_id[fid], score, ws) for fid, score in hits if fid in by_id]})
    _audit(ws, "search", " | ".join(queries), sum(len(r["hits"]) for r in results), filters=flt)
    _emit_hits(results, fmt)


def _hit(f, score: float, ws) -> dict:
    row = finding_view(f, ws.catalogue)
    return {"finding_id": f.id, "score": round(float(score), 4), **{k: v for k, v in row.items() if k != "id"}}


def _emit_hits(results: list[dict], fmt: Fmt) -> None:
    if fmt == Fmt.json:
        sys.stdout.write(json.dumps(results, ensure_ascii=False, indent=1) + "\n")
        return
    rows = [{"query": r["query"], "rank": i + 1, **h} for r in results for i, h in enumerate(r["hits"])]
    _emit(rows, fmt, ["query", "rank", "score", "document", "page", "issuer_kind", "unit", "year", "text"])


@app.command()
def similar(
    finding_id: str = typer.Argument(..., help="A finding id (see `miner findings`)."),
    k: int = typer.Option(10, "--k", min=1, max=1000),
    include_same_document: bool = typer.Option(False, help="Also return findings of the same document."),
    fmt: Fmt = typer.Option(Fmt.table, "--format"),
) -> None:
    """Where else was this problem found? / 查找相似问题"""
    ws = _ws()
    by_id = {f.id: f for f in ws.catalogue.findings()}
    if finding_id not in by_id:
        _fail(f"no finding {finding_id!r}")
    hits = _searcher(ws).similar(finding_id, k=k, exclude_same_document=not include_same_document)
    _audit(ws, "search", f"similar:{finding_id}", len(hits))
    _emit_hits([{"query": finding_id, "hits": [_hit(by_id[i], s, ws) for i, s in hits if i in by_id]}], fmt)


@app.command()
def reindex() -> None:
    """Rebuild vectors and keyword index with the configured embedding model. / 重建索引"""
    from miner.indexing import index_documents

    ws = _ws()
    with _lock(ws, "reindex"):
        searcher = index_documents(ws, rebuild=True)
    model = searcher.embedder.model_id if searcher.embedder else "keywords only"
    err.print(f"indexed {ws.catalogue.count('findings')} findings with {model}")


def _problems(ws, *, rebuild: bool = False, min_bodies: int = 1, filters: dict | None = None, recurrences: bool = True):
    from miner import indexing, problems
    from miner.store import WorkspaceBusy

    try:
        with _lock(ws, "clusters"):
            indexing.repair(ws)
            problems.update(ws, rebuild=rebuild)
    except WorkspaceBusy as exc:
        err.print(f"[yellow]note:[/yellow] {exc}; showing the clusters as they are")
    return problems.problems(ws, filters=filters, min_bodies=min_bodies, recurrences=recurrences)


@app.command()
def clusters(
    issuer_kind: list[str] | None = IssuerKindOpt,
    year: str | None = YearOpt,
    unit: str | None = UnitOpt,
    issuer: str | None = IssuerOpt,
    batch: str | None = BatchOpt,
    min_bodies: int = typer.Option(1, "--min-bodies", help="Only problems found by at least N kinds of body."),
    rebuild: bool = typer.Option(False, "--rebuild", help="Re-cluster everything (analyst edits are kept)."),
    fmt: Fmt = typer.Option(Fmt.table, "--format"),
) -> None:
    """Common problems across bodies, most systemic first. / 共性问题"""
    from miner.pipeline import make_filters

    ws = _ws()
    flt = make_filters(
        ws.catalogue.findings() if unit or issuer else [],  # names are matched against the findings'
        issuer_kind=issuer_kind,
        year=year,
        unit=unit,
        issuer=issuer,
        batch=batch,
    )
    found = _problems(ws, rebuild=rebuild, min_bodies=min_bodies, filters=flt, recurrences=False)  # not shown here
    rows = [problem_view(p, ws.catalogue) for p in found]
    _audit(ws, "read", "clusters", len(rows), filters=flt)
    if fmt == Fmt.table:
        for r in rows:
            r["sample"] = r["findings"][0]["text"][:60]
    _emit(rows, fmt, ["id", "label", "span", "size", "sample"] if fmt == Fmt.table else list(rows[0]) if rows else [])


class ExportFmt(StrEnum):
    xlsx = "xlsx"
    docx = "docx"
    md = "md"
    json = "json"


@app.command()
def export(
    fmt: ExportFmt = typer.Option(..., "--format", help="xlsx 清单, docx 专报初稿, md or json."),
    out: Path = typer.Option(..., "--out", help="Output file (or folder)."),
    min_bodies: int = typer.Option(1, "--min-bodies", help="Only problems found by at least N kinds of body."),
    title: str | None = typer.Option(None, help="Title of the list or briefing."),
    issuer_kind: list[str] | None = IssuerKindOpt,
    year: str | None = YearOpt,
    unit: str | None = UnitOpt,
    issuer: str | None = IssuerOpt,
    batch: str | None = BatchOpt,
    top: int | None = typer.Option(None, "--top", min=1, help="Only the N most systemic problems."),
    sender: str | None = typer.Option(None, "--sender", help="专报 发文机关/编发单位 (MINER_BRIEF_ISSUER)."),
    issue: str | None = typer.Option(None, "--issue", help="专报 期号, e.g. 2024年第3期."),
    on: str | None = typer.Option(None, "--date", help="专报 date, YYYY-MM-DD (default today)."),
    to: str | None = typer.Option(None, "--to", help="专报 报送 line (MINER_BRIEF_TO)."),
    cc: str | None = typer.Option(None, "--cc", help="专报 抄送 line (MINER_BRIEF_CC)."),
    quotes: str | None = typer.Option(
        None, "--quotes", help="Traditional-published quotes: simplified (default) or published."
    ),
) -> None:
    """Export the common-problem list (xlsx), briefing draft (docx), markdown or JSON. / 导出"""
    from datetime import date

    from miner.export import QUOTES, briefing_defaults, sources_from
    from miner.export import export as write_export
    from miner.pipeline import as_published, make_filters

    if quotes is not None and quotes not in QUOTES:
        _fail(f"--quotes takes {' or '.join(QUOTES)}")
    try:
        when = date.fromisoformat(on) if on else None
    except ValueError:
        _fail(f"--date takes YYYY-MM-DD, not {on!r}")
    opts = briefing_defaults(top_n=top, issuer=sender, issue=issue, date=when, to=to, cc=cc, quotes=quotes)
    ws = _ws()
    flt = make_filters(
        ws.catalogue.findings(), issuer_kind=issuer_kind, year=year, unit=unit, issuer=issuer, batch=batch
    )
    items = as_published(_problems(ws, min_bodies=min_bodies, filters=flt), ws.catalogue)
    sources = sources_from(ws.catalogue.documents())
    path = write_export(items, fmt.value, out, title=title, min_bodies=min_bodies, sources=sources, briefing=opts)
    _audit(ws, "export", fmt.value, min(len(items), top or len(items)), file=str(path), filters=flt)
    err.print(f"wrote {min(len(items), top or len(items))} common problems to {path}")
    sys.stdout.write(str(path) + "\n")


@app.command("run")
def run_all(
    paths: list[Path] = typer.Argument(..., help="Report files or folders."),
    out: Path = typer.Option(Path("miner-out"), "--out", help="Folder for the exports."),
    min_bodies: int = typer.Option(1, "--min-bodies"),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Parsing processes (default: by batch size)."),
    ray: str | None = typer.Option(None, "--ray", help="Parse on a Ray cluster (address or 'auto'), as in ingest."),
) -> None:
    """The main job: ingest, cluster, export xlsx/docx/md/json. / 一键：导入、聚类、导出"""
    from miner.export import FORMATS
    from miner.export import export as write_export
    from miner.pipeline import as_published
    from miner.pipeline import ingest as run_ingest

    ws = _ws()
    with _lock(ws, "run"):
        batch = run_ingest(
            ws, paths, progress=lambda name, status: err.print(f"  {status:9} {name}"), workers=workers, ray=ray
        )
    c = batch["counts"]
    err.print(f"batch {batch['id']}: {c['ok']} ok, {c['duplicate']} duplicate, {c['failed']} failed")
    for f in batch["files"]:
        if f["status"] == "failed":
            err.print(f"  [red]failed[/red] {f['name']}: {f['message']}")
        elif "warning" in f["message"]:
            err.print(f"  [yellow]warning[/yellow] {f['name']}: {f['message']}")
    items = as_published(_problems(ws, min_bodies=min_bodies), ws.catalogue)
    out.mkdir(parents=True, exist_ok=True)
    for fmt in FORMATS:
        path = write_export(items, fmt, out, min_bodies=min_bodies)  # default names in the folder
        err.print(f"wrote {path}")
    t = Table(title=f"共性问题 ({len(items)})")
    for col in ("#", "共性问题", "范围"):
        t.add_column(col, overflow="fold")
    for i, p in enumerate(items, 1):
        t.add_row(str(i), p.label, p.span)
    err.print(t)


cluster_app = typer.Typer(help="Analyst edits of common problems (kept across re-runs). / 编辑共性问题")
app.add_typer(cluster_app, name="cluster")


def _edit(fn, *args, done: str = "") -> None:
    """Run one analyst edit under the write lock; confirm it in one line (stderr, so that
    ``split`` still prints only the new id on stdout for scripts)."""
    from miner import indexing, problems

    ws = _ws()
    with _lock(ws, "cluster edit"):
        indexing.repair(ws)
        problems.update(ws)
        try:
            result = fn(ws, *args)
        except problems.EditError as exc:
            _fail(str(exc))
    if result:
        sys.stdout.write(f"{result}\n")
    if done:
        err.print(done.replace("{result}", str(result)), markup=False, highlight=False)


@cluster_app.command("rename")
def cluster_rename(cluster_id: str, label: str, note: str | None = typer.Option(None)) -> None:
    """Rename a common problem (optionally with a note)."""
    from miner import problems

    _edit(problems.rename, cluster_id, label, note, done=f"已重命名 / renamed: {cluster_id} → {label}")


@cluster_app.command("merge")
def cluster_merge(target: str, others: list[str]) -> None:
    """Merge other common problems into TARGET."""
    from miner import problems

    _edit(problems.merge, target, others, done=f"已合并 / merged: {', '.join(others)} → {target}")


@cluster_app.command("split")
def cluster_split(cluster_id: str, finding_ids: list[str], label: str | None = typer.Option(None)) -> None:
    """Split FINDING_IDS out of a common problem into a new one (prints its id)."""
    from miner import problems

    _edit(
        problems.split,
        cluster_id,
        finding_ids,
        label,
        done=f"已拆分 / split: {len(finding_ids)} 条问题表述从 {cluster_id} 移入新共性问题 {{result}}",
    )


@cluster_app.command("move")
def cluster_move(finding_id: str, target: str) -> None:
    """Move a finding into another common problem."""
    from miner import problems

    _edit(problems.move, finding_id, target, done=f"已移动 / moved: {finding_id} → {target}")


@cluster_app.command("remove")
def cluster_remove(finding_id: str) -> None:
    """Take a finding out of its common problem for good."""
    from miner import problems

    _edit(problems.remove, finding_id, done=f"已移出共性问题 / removed: {finding_id}")


review_app = typer.Typer(help="Doubtful findings for an analyst to accept or reject. / 待审核问题")
app.add_typer(review_app, name="review")


@review_app.command("list")
def review_list(
    document: str | None = typer.Option(None, "--document", help="Only this document (file name or id)."),
    fmt: Fmt = typer.Option(Fmt.table, "--format"),
) -> None:
    """Statements the problem model doubts: not in search, common problems or exports until accepted."""
    from miner import review

    ws = _ws()
    rows = [finding_view(f, ws.catalogue) for f in review.pending(ws.catalogue, document)]
    _emit(rows, fmt, ["id", "document", "page", "confidence", "text"], title="待审核 / for review")


def _decide(finding_ids: list[str], decision: str, note: str) -> None:
    from miner import review
    from miner.store import write_lock

    ws = _ws()
    with write_lock(ws.root):
        for fid in finding_ids:
            try:
                result = review.decide(ws, fid, decision, note=note)
            except KeyError:
                _fail(f"no finding with id {fid!r} / 没有这条问题")
            word = "accepted / 已采纳" if decision == "accepted" else "rejected / 已排除"
            sys.stdout.write(f"{result['finding_id']}: {word}\n")


@review_app.command("accept")
def review_accept(finding_ids: list[str], note: str = typer.Option("", "--note")) -> None:
    """Accept review items as findings (they join search and common problems)."""
    _decide(finding_ids, "accepted", note)


@review_app.command("reject")
def review_reject(finding_ids: list[str], note: str = typer.Option("", "--note")) -> None:
    """Reject findings or review items (they leave search, common problems and exports)."""
    _decide(finding_ids, "rejected", note)


access_app = typer.Typer(help="API users and what each may read. / 访问权限")
app.add_typer(access_app, name="access")


@access_app.command("add")
def access_add(
    name: str,
    kind: list[str] | None = typer.Option(None, "--kind", help="Issuer kind the user may read (repeatable; * = all)."),
    write: bool = typer.Option(False, "--write", help="May upload batches and edit common problems."),
) -> None:
    """Create an API user and print their token (shown once)."""
    from miner import access

    ws = _ws()
    try:
        token = access.add_user(ws.root, name, kind or ["*"], write)
    except ValueError as exc:
        _fail(str(exc))
    err.print(f"user {name}: reads {', '.join(kind or ['*'])}{'; may upload and edit' if write else ''}")
    sys.stdout.write(token + "\n")


@access_app.command("list")
def access_list(fmt: Fmt = typer.Option(Fmt.table, "--format")) -> None:
    """List API users (tokens are never shown again)."""
    from miner import access

    rows = [{"name": u.name, "issuer_kinds": u.issuer_kinds, "can_write": u.can_write} for u in access.load(_ws().root)]
    _emit(rows, fmt, ["name", "issuer_kinds", "can_write"])


@access_app.command("revoke")
def access_revoke(name: str) -> None:
    """Remove an API user."""
    from miner import access

    if not access.revoke(_ws().root, name):
        _fail(f"no user {name!r}")


@app.command()
def serve(
    host: str = typer.Option(None, help="Bind address (default MINER_HOST, 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default MINER_PORT, 8000)."),
) -> None:
    """Start the API and the analysts' web page. / 启动服务"""
    import uvicorn

    from api.main import create_app
    from miner import indexing

    settings = get_settings()
    ws = _ws()
    with _lock(ws, "serve"):  # refuse here, in one line, rather than in the server's start-up
        indexing.repair(ws)
    app_ = create_app(ws.root, settings)
    err.print(f"miner serving {ws.root} on http://{host or settings.host}:{port or settings.port}/ (API docs at /docs)")
    uvicorn.run(app_, host=host or settings.host, port=port or settings.port, log_level="info")


# The supervision workflow: unit, units, unit-alias, recurrence, rectify …, status …, share …, audit …
from miner.workflow_cli import register as _register_workflow  # noqa: E402

_register_workflow(app)


def run() -> None:
    app()


if __name__ == "__main__":
    run()
