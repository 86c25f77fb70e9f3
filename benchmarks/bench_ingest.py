"""Ingest speed: miner (reading + findings + catalogue) vs pdfplumber extract_text, same PDFs.

    python benchmarks/bench_ingest.py [--pdfs DIR] [--repeat 3] [--index]

Default PDFs: ../shared/eval/dev/pdf when present, else report PDFs generated
here (the test suite's generator, with running headers, footers and tables).
Prints pages/s for both and the ratio. Everything stays on this machine.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def generated_pdfs(folder: Path, n: int = 20) -> list[Path]:
    from conftest import AUDIT_PAGES, AUDIT_TITLE, make_pdf

    out = []
    for i in range(n):
        out.append(make_pdf(folder / f"gen{i:02d}.pdf", AUDIT_PAGES * 2, title=AUDIT_TITLE))
    return out


def pdfplumber_pages_per_s(pdfs: list[Path]) -> tuple[float, int]:
    import pdfplumber

    pages = 0
    t0 = time.perf_counter()
    for p in pdfs:
        with pdfplumber.open(p) as pdf:
            for page in pdf.pages:
                page.extract_text()
                pages += 1
    return pages / (time.perf_counter() - t0), pages


def miner_pages_per_s(pdfs: list[Path], index: bool) -> tuple[float, int, int]:
    from miner.pipeline import Workspace, ingest

    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Path(tmp) / "ws")
        t0 = time.perf_counter()
        batch = ingest(ws, pdfs, index=index)
        elapsed = time.perf_counter() - t0
        pages = sum(d["pages"] for d in ws.catalogue.documents())
        findings = ws.catalogue.count("findings")
        assert batch["counts"]["failed"] == 0, batch
        ws.close()
    return pages / elapsed, pages, findings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pdfs", type=Path, default=ROOT.parent / "shared/eval/dev/pdf")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--index", action="store_true", help="include embedding + search indexes")
    args = ap.parse_args()
    tmp = None
    if args.pdfs.is_dir() and any(args.pdfs.glob("*.pdf")):
        pdfs = sorted(args.pdfs.glob("*.pdf"))
    else:
        tmp = Path(tempfile.mkdtemp())
        pdfs = generated_pdfs(tmp)
    # Warm up imports and OS file cache for both, then take the median of repeats.
    pdfplumber_pages_per_s(pdfs[:1])
    miner_pages_per_s(pdfs[:1], index=False)
    plumber = [pdfplumber_pages_per_s(pdfs) for _ in range(args.repeat)]
    mine = [miner_pages_per_s(pdfs, index=args.index) for _ in range(args.repeat)]
    p_rate = statistics.median(r[0] for r in plumber)
    m_rate = statistics.median(r[0] for r in mine)
    print(f"PDFs: {len(pdfs)} files, {plumber[0][1]} pages ({args.pdfs if tmp is None else 'generated'})")
    print(f"pdfplumber extract_text, page by page : {p_rate:8.1f} pages/s")
    label = "miner ingest (+findings +catalogue" + (" +index)" if args.index else ")")
    print(f"{label:38}: {m_rate:8.1f} pages/s  ({mine[0][2]} findings)")
    print(f"ratio miner / pdfplumber               : {m_rate / p_rate:8.2f}x")
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
