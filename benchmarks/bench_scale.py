"""Speed and scale in one run: ingest pages/s, a 1,000-page batch through the CLI, search at scale,
OCR pages/s, peak memory, start-up of read commands.

    python benchmarks/bench_scale.py                          # all sections but 1M search
    python benchmarks/bench_scale.py --sections batch,startup # some of them
    python benchmarks/bench_scale.py --sections search --search-n 100000,1000000

Sections
  ingest   pages/s of miner ingest (reading + findings + catalogue, 2 workers) vs pdfplumber
           ``extract_text`` page by page, on the dev + dev2 PDFs.
  batch    a 1,000-page batch made of the dev + dev2 PDFs, copied until 1,000 pages; each copy
           differs in its PDF info dictionary only (so its hash differs) and MINER_DUPLICATE_THRESHOLD
           is 1.1 for this run, because miner otherwise (rightly) refuses copies as duplicate reports.
           Timed twice: (a) as a user runs it, ``miner ingest DIR --workers 2`` then
           ``miner clusters --format json`` as subprocesses (wall time to searchable and clustered,
           peak RSS of each); (b) in this process with per-stage timers (parse+OCR+findings in
           workers, embed, index = chroma + BM25 + dense matrix, catalogue writes, cluster).
           The copies repeat texts: the embedding cache (by text hash) makes embedding of copies
           free in (a) and (b), so the uncached embed rate is printed too.
  search   search p50/p95 with filters at --search-n synthetic findings (benchmarks/bench_search.py:
           sentences recombined from typical report phrases, 12 per document, 6 issuer kinds,
           years 2019-2024), in a fresh serving process as ``miner search`` / the API run it.
  ocr      OCR pages/s on the dev2 scans (Tesseract chi_sim) with 1 and 2 workers.
  startup  wall time of ``miner findings|documents|batches`` on the 1,000-page workspace.

Nothing is sent anywhere; the network is refused in this process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
EVAL = ROOT.parent / "shared" / "eval"
if not EVAL.exists():
    EVAL = Path("/work/shared/eval")
for _k, _v in (("HF_HUB_OFFLINE", "1"), ("ORT_DISABLE_TELEMETRY", "1"), ("ANONYMIZED_TELEMETRY", "False")):
    os.environ[_k] = _v

import bench_search  # noqa: E402  (refuses network connections for this process on import)

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "MINER_DUPLICATE_THRESHOLD": "1.1"}


def source_pdfs() -> list[Path]:
    return sorted((EVAL / "dev" / "pdf").glob("*.pdf")) + sorted((EVAL / "dev2" / "pdf").glob("*.pdf"))


def pages_of(pdf: Path) -> int:
    import pypdfium2

    doc = pypdfium2.PdfDocument(str(pdf))
    try:
        return len(doc)
    finally:
        doc.close()


def distinct_copies(pdfs: list[Path], folder: Path, pages: int) -> tuple[list[Path], int]:
    """Copies of ``pdfs`` until ``pages`` pages, each with its own info dictionary (so its own hash)."""
    import pikepdf

    folder.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    total = 0
    sizes = {p: pages_of(p) for p in pdfs}
    copy = 0
    while total < pages:
        for p in pdfs:
            if total >= pages:
                break
            dest = folder / f"c{copy:02d}_{p.name}"
            with pikepdf.open(p) as pdf:
                pdf.docinfo["/MinerBenchCopy"] = str(copy)
                pdf.save(dest)
            out.append(dest)
            total += sizes[p]
        copy += 1
    return out, total


def cli(ws: Path, *args: str, env: dict | None = None) -> tuple[float, str]:
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "miner", "-w", str(ws), *args],
        capture_output=True,
        text=True,
        env=env or ENV,
        timeout=3600,
    )
    if r.returncode != 0:
        raise RuntimeError(f"miner {' '.join(args)} failed: {r.stderr[-2000:]}")
    return time.perf_counter() - t0, r.stdout


def children_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


# --------------------------------------------------------------------------- sections


def section_ingest(out: dict) -> None:
    from bench_ingest import miner_pages_per_s, pdfplumber_pages_per_s

    pdfs = source_pdfs()
    pdfplumber_pages_per_s(pdfs[:1])
    p_rate, pages = pdfplumber_pages_per_s(pdfs)
    m_rate, _, findings = miner_pages_per_s(pdfs, index=False)
    print(f"\n== ingest: {len(pdfs)} PDFs, {pages} pages (dev + dev2) ==")
    print(f"pdfplumber extract_text, page by page      : {p_rate:7.1f} pages/s")
    print(f"miner ingest (read+findings+catalogue)     : {m_rate:7.1f} pages/s ({findings} findings)")
    print(f"ratio miner / pdfplumber                   : {m_rate / p_rate:7.2f}x")
    out["ingest"] = {"pdfplumber_pages_s": round(p_rate, 1), "miner_pages_s": round(m_rate, 1)}


def section_batch(out: dict, work: Path, pages: int) -> Path:
    files, total = distinct_copies(source_pdfs(), work / "batch", pages)
    print(f"\n== {total}-page batch: {len(files)} PDFs (dev + dev2, distinct copies) ==")

    # (a) as a user runs it
    ws = work / "ws-cli"
    t_ingest, stdout = cli(ws, "ingest", str(work / "batch"), "--workers", "2", "--format", "json")
    batch = json.loads(stdout)
    peak_ingest = children_peak_mb()
    t_cluster, stdout = cli(ws, "clusters", "--format", "json")
    n_problems = len(json.loads(stdout))
    peak_all = children_peak_mb()
    total_s = t_ingest + t_cluster
    print(f"miner ingest --workers 2 (searchable)      : {t_ingest:7.1f} s  ({batch['counts']})")
    print(f"miner clusters --format json               : {t_cluster:7.1f} s  ({n_problems} common problems)")
    print(f"1,000 pages searchable and clustered       : {total_s:7.1f} s  (target ≤ 45 s on 2 cores)")
    print(f"peak RSS, largest CLI process              : {peak_all:7.0f} MB (ingest {peak_ingest:.0f} MB)")
    out["batch_cli"] = {
        "pages": total,
        "files": len(files),
        "ingest_s": round(t_ingest, 1),
        "clusters_s": round(t_cluster, 1),
        "total_s": round(total_s, 1),
        "peak_rss_mb": round(peak_all),
    }

    # (b) per stage, in this process
    stages = stage_times(files, work / "ws-stages")
    print("per stage (in-process run, 2 parsing workers):")
    for k, v in stages.items():
        print(f"  {k:41s}: {v}")
    out["batch_stages"] = stages
    return ws


def stage_times(files: list[Path], ws_dir: Path) -> dict:
    """One ingest + cluster with timers around each stage."""
    os.environ["MINER_DUPLICATE_THRESHOLD"] = "1.1"
    from miner import embed, indexing, pipeline, problems, rectification
    from miner.config import get_settings

    get_settings.cache_clear()
    timers: dict[str, float] = {}

    def timed(name, fn):  # type: ignore[no-untyped-def]
        def wrapper(*a, **k):  # type: ignore[no-untyped-def]
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                timers[name] = timers.get(name, 0.0) + time.perf_counter() - t0

        return wrapper

    real_parse_all = pipeline._parse_all

    def parse_all(*a, **k):  # type: ignore[no-untyped-def]
        gen = real_parse_all(*a, **k)
        while True:
            t0 = time.perf_counter()
            try:
                item = next(gen)
            except StopIteration:
                timers["parse"] = timers.get("parse", 0.0) + time.perf_counter() - t0
                return
            timers["parse"] = timers.get("parse", 0.0) + time.perf_counter() - t0
            yield item

    originals = (
        pipeline._parse_all,
        indexing.index_documents,
        embed.CachedEmbedder.encode,
        rectification.scan,
        indexing.repair,
    )
    pipeline._parse_all = parse_all
    indexing.index_documents = timed("index", indexing.index_documents)
    embed.CachedEmbedder.encode = timed("embed", embed.CachedEmbedder.encode)
    rectification.scan = timed("rectification", rectification.scan)
    indexing.repair = timed("repair", indexing.repair)
    try:
        ws = pipeline.Workspace(ws_dir)
        t0 = time.perf_counter()
        pipeline.ingest(ws, files, workers=2)
        t_ingest = time.perf_counter() - t0
        t0 = time.perf_counter()
        problems.update(ws)
        t_cluster = time.perf_counter() - t0
        n = ws.catalogue.count("findings")
        texts = [f.text for f in ws.catalogue.findings()]
        ws.close()
    finally:
        (
            pipeline._parse_all,
            indexing.index_documents,
            embed.CachedEmbedder.encode,
            rectification.scan,
            indexing.repair,
        ) = originals

    # findings' share of parsing: split the texts again in this process, one worker's worth
    from miner.findings import extract_findings
    from miner.ingest import read_document

    sample = files[: max(1, len(files) // 10)]
    t_read = t_find = 0.0
    for f in sample:
        t0 = time.perf_counter()
        doc = read_document(f)
        t1 = time.perf_counter()
        extract_findings(doc, with_review=True)
        t_read += t1 - t0
        t_find += time.perf_counter() - t1
    share = t_find / (t_read + t_find)

    uncached = embed.get_embedder("default")
    uncached.encode(texts[:50])
    unique = list(dict.fromkeys(texts))
    t0 = time.perf_counter()
    uncached.encode(unique)
    rate = len(unique) / (time.perf_counter() - t0)

    parse = timers.get("parse", 0.0)
    index = timers.get("index", 0.0) - timers.get("embed", 0.0)
    rest = t_ingest - parse - timers.get("index", 0.0) - timers.get("rectification", 0.0) - timers.get("repair", 0.0)
    return {
        "findings": n,
        "ingest total s": round(t_ingest, 1),
        "parse + OCR + findings s (2 workers, wall)": round(parse, 1),
        "  of which findings (share, 1-process sample)": f"{share:.0%}",
        "embed s (cached by text)": round(timers.get("embed", 0.0), 1),
        "embed, uncached, findings/s": round(rate),
        "index s (chroma + BM25 + matrix)": round(index, 1),
        "rectification scan s": round(timers.get("rectification", 0.0), 1),
        "catalogue + duplicates s": round(rest, 1),
        "cluster s": round(t_cluster, 1),
        "cluster share of searchable+clustered": f"{t_cluster / (t_ingest + t_cluster):.0%}",
    }


def section_search(out: dict, sizes: list[int]) -> None:
    from miner.embed import get_embedder

    embedder = get_embedder(None)
    queries = [q["query"] for q in bench_search.load_dev(EVAL / "dev")[1]]
    for n in sizes:
        print(f"\n== search: {n} synthetic findings ==")
        res = bench_search.scale_run(embedder, None, n, queries)
        for key, value in res.items():
            print(f"{key:52s} {value}")
        out[f"search_{n}"] = res


def section_ocr(out: dict, work: Path) -> None:
    scans = sorted((EVAL / "dev2" / "scanned").glob("*.pdf"))
    if not scans or not shutil.which("tesseract"):
        print("\n== ocr: skipped (no scans or no tesseract) ==")
        return
    files, total = distinct_copies(scans, work / "scans", 2 * sum(pages_of(p) for p in scans))
    print(f"\n== ocr: {len(files)} scanned PDFs, {total} pages (dev2 scans, 2 copies each) ==")
    res = {}
    for workers in (1, 2):
        ws = work / f"ws-ocr{workers}"
        t, stdout = cli(ws, "ingest", str(work / "scans"), "--workers", str(workers), "--format", "json")
        counts = json.loads(stdout)["counts"]
        res[workers] = round(total / t, 2)
        print(f"OCR ingest, {workers} worker(s)                     : {total / t:7.2f} pages/s ({t:.1f} s, {counts})")
    out["ocr_pages_s"] = res


def section_startup(out: dict, ws: Path) -> None:
    print(f"\n== start-up of read commands ({ws.name}) ==")
    res = {}
    for command in ("findings", "documents", "batches"):
        times = []
        for _ in range(5):
            t, _ = cli(ws, command, "--format", "json")
            times.append(t)
        res[command] = round(statistics.median(times), 2)
        print(f"miner {command:10s} (median of 5)              : {res[command]:7.2f} s  (target ≤ 1 s)")
    out["startup_s"] = res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sections", default="ingest,batch,ocr,startup,search")
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--search-n", default="100000", help="comma-separated sizes, e.g. 100000,1000000")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    sections = set(args.sections.split(","))
    out: dict = {"cpus": os.cpu_count()}
    print(f"cpus: {os.cpu_count()}")
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        work = Path(tmp)
        ws = None
        if "ingest" in sections:
            section_ingest(out)
        if "batch" in sections or "startup" in sections:
            ws = section_batch(out, work, args.pages)
        if "ocr" in sections:
            section_ocr(out, work)
        if "startup" in sections and ws is not None:
            section_startup(out, ws)
        if "search" in sections:
            section_search(out, [int(n) for n in args.search_n.split(",")])
    if args.json:
        args.json.write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
