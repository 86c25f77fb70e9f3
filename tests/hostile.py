"""Hostile input files, generated on the fly: shared by tests/test_hostile.py and benchmarks/bench_hostile.py.

Every generator writes one file and returns what a correct miner must do with it:
``"failed"`` (refused with a message), ``"ok"`` (read, with findings) or ``"warn"`` (read, no
findings, and the batch report says so). ``"any"`` accepts ok/warn/failed as long as the
outcome is reported (random damage may or may not leave a readable document).
"""

from __future__ import annotations

import io
import os
import random
import zipfile
from collections.abc import Callable
from pathlib import Path

from miner.store import COUNTED

ROOT = Path(__file__).resolve().parents[1]


def child_env(**extra: str) -> dict:
    """Environment of a `python -m miner` child process in the crash and hostile runs.

    Offline, no telemetry; the corpus holds near copies of each sample (:func:`crash_corpus`),
    which count as distinct reports here, so the duplicate-report check is off
    (tests/test_duplicates.py covers it).
    """
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
        "ORT_DISABLE_TELEMETRY": "1",
        "MINER_DUPLICATE_THRESHOLD": "1.1",
        **extra,
    }


REPORT = (
    "关于江州市某局的巡察反馈意见\n"
    "一、发现的主要问题\n"
    "（一）暂付款长期挂账未清理。截至2023年底，局本级暂付款余额1260万元，其中账龄3年以上的684万元。\n"
    "（二）规避公开招标。将河道清淤项目拆分为5个合同，单个合同金额均低于公开招标限额。\n"
    "（三）违规发放津贴补贴。以防汛值班补助名义向未参加值班的人员发放补贴12.8万元。\n"
    "（四）公务用车管理不规范，存在公车私用问题。\n"
    "二、整改要求\n"
    "请于两个月内报送整改情况。\n"
)
JAPANESE = "日本語のテキストです。監査報告書によると、予算執行に問題が発見されました。" * 20
KOREAN = "한국어 텍스트입니다. 감사 보고서에 따르면 예산 집행에 문제가 발견되었습니다." * 20
NO_PROBLEMS = "江州市统计局2024年工作总结\n今年以来，我局认真贯彻落实上级部署，各项工作稳步推进，取得了良好成效。\n"


def _variant(rng: random.Random) -> str:
    """The report with a unique line, so that generated copies are not duplicates of each other."""
    return REPORT + f"江州市某局　编号{rng.randrange(10**9)}\n"


def minimal_pdf(pages: int, text_ops: bytes = b"") -> bytes:
    """A valid PDF with ``pages`` pages sharing one content stream (a 20,001-page file stays small)."""
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % (4 + i) for i in range(pages)) + b"] /Count %d >>" % pages,
        b"<< /Length %d >>\nstream\n" % len(text_ops) + text_ops + b"\nendstream",
    ]
    objs += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 3 0 R >>"] * pages
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref))
    return out.getvalue()


def docx_bytes(text: str) -> bytes:
    import docx

    d = docx.Document()
    for line in text.splitlines():
        d.add_paragraph(line)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def zip_bomb_docx(path: Path, inflated_mb: int = 400) -> None:
    """A .docx whose document.xml inflates to ``inflated_mb`` MB (a few hundred KB on disk)."""
    base = zipfile.ZipFile(io.BytesIO(docx_bytes(REPORT)))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for item in base.infolist():
            if item.filename == "word/document.xml":
                with zf.open(item.filename, "w", force_zip64=True) as fh:
                    chunk = b" " * (1 << 20)
                    for _ in range(inflated_mb):
                        fh.write(chunk)
            else:
                zf.writestr(item, base.read(item.filename))


def lying_zip_docx(path: Path) -> None:
    """A .docx whose document.xml claims to be small but inflates to far more (sizes patched)."""
    zip_bomb_docx(path, inflated_mb=50)
    data = bytearray(path.read_bytes())
    # Patch the uncompressed size fields of document.xml in the central directory to 1000 bytes.
    name = b"word/document.xml"
    pos = data.find(b"PK\x01\x02")
    while pos != -1:
        name_len = int.from_bytes(data[pos + 28 : pos + 30], "little")
        if data[pos + 46 : pos + 46 + name_len] == name:
            if data[pos + 24 : pos + 28] != b"\xff\xff\xff\xff":
                data[pos + 24 : pos + 28] = (1000).to_bytes(4, "little")
        pos = data.find(b"PK\x01\x02", pos + 4)
    path.write_bytes(bytes(data))


def generators(sample_pdf: bytes) -> dict[str, tuple[str, str, Callable[[random.Random], bytes]]]:
    """kind → (suffix, expectation, make(rng) → file bytes)."""

    def truncated_pdf(rng: random.Random) -> bytes:
        return sample_pdf[: rng.randrange(16, len(sample_pdf) - 10)]

    def flipped_pdf(rng: random.Random) -> bytes:
        data = bytearray(sample_pdf)
        for _ in range(rng.randrange(1, 40)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)

    def garbage_pdf(rng: random.Random) -> bytes:
        return b"%PDF-1.7\n" + rng.randbytes(rng.randrange(10, 20000))

    def truncated_docx(rng: random.Random) -> bytes:
        data = docx_bytes(_variant(rng))
        return data[: rng.randrange(10, len(data) - 10)]

    def docx_no_body(rng: random.Random) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("[Content_Types].xml", "<Types/>")
            zf.writestr("junk.bin", rng.randbytes(100))
        return buf.getvalue()

    def enc(encoding: str, text: str | None = None) -> Callable[[random.Random], bytes]:
        return lambda rng: ((text + f"\n{rng.randrange(10**9)}\n") if text else _variant(rng)).encode(encoding)

    return {
        "truncated_pdf": (".pdf", "any", truncated_pdf),
        "flipped_pdf": (".pdf", "any", flipped_pdf),
        "garbage_pdf": (".pdf", "failed", garbage_pdf),
        "not_a_pdf": (".pdf", "failed", lambda rng: rng.randbytes(rng.randrange(1, 5000))),
        "empty_pdf": (".pdf", "failed", lambda rng: b""),
        "textless_pdf": (".pdf", "failed", lambda rng: minimal_pdf(rng.randrange(1, 5))),
        "pages_20001_pdf": (".pdf", "failed", lambda rng: minimal_pdf(20001)),
        "garbage_docx": (".docx", "failed", lambda rng: rng.randbytes(rng.randrange(1, 5000))),
        "truncated_docx": (".docx", "failed", truncated_docx),
        "docx_no_body": (".docx", "failed", docx_no_body),
        "good_docx": (".docx", "ok", lambda rng: docx_bytes(_variant(rng))),
        "utf8_txt": (".txt", "ok", enc("utf-8")),
        "gb18030_txt": (".txt", "ok", enc("gb18030")),
        "big5_txt": (".txt", "ok", lambda rng: _traditional(_variant(rng)).encode("big5", "replace")),
        "utf16_txt": (".txt", "ok", enc("utf-16")),
        "hz_txt": (".txt", "ok", enc("hz")),
        "utf7_txt": (".txt", "ok", enc("utf-7")),
        "shift_jis_txt": (".txt", "failed", enc("shift_jis", JAPANESE)),
        "iso2022jp_txt": (".txt", "failed", enc("iso-2022-jp", JAPANESE)),
        "euc_kr_txt": (".txt", "failed", enc("euc-kr", KOREAN)),
        "random_txt": (".txt", "failed", lambda rng: rng.randbytes(rng.randrange(100, 20000))),
        "latin1_txt": (
            ".txt",
            "failed",
            lambda rng: (f"Café report {rng.random()}, naïve façade. " * 50).encode("latin-1"),
        ),
        "empty_txt": (".txt", "failed", lambda rng: b"   \n\n"),
        "no_findings_txt": (".txt", "warn", lambda rng: (NO_PROBLEMS + f"编号{rng.randrange(10**9)}\n").encode()),
        "one_line_10mb_txt": (".txt", "failed", lambda rng: ("问题" * 1_700_000).encode()),
        "many_lines_37mb_txt": (".txt", "failed", lambda rng: ("存在问题。\n" * 2_400_000).encode()),
        "nul_bytes_txt": (".txt", "failed", lambda rng: b"\x00" * rng.randrange(10, 10000)),
    }


def _traditional(text: str) -> str:
    import opencc

    return opencc.OpenCC("s2t").convert(text)


SLOW_KINDS = {"pages_20001_pdf", "one_line_10mb_txt", "many_lines_37mb_txt"}


def write_hostile(folder: Path, n: int, sample_pdf: bytes, seed: int = 0, kinds: list[str] | None = None) -> dict:
    """Write ``n`` hostile files (cycling through the kinds) into ``folder``; name → (kind, expectation).

    The large kinds are written once each whatever ``n`` is (they are slow to make and to refuse).
    """
    rng = random.Random(seed)
    gens = generators(sample_pdf)
    names = kinds or list(gens)
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, tuple[str, str]] = {}
    written_slow: set[str] = set()
    i = 0
    while len(out) < n:
        kind = names[i % len(names)]
        i += 1
        if kind in SLOW_KINDS:
            if kind in written_slow:
                if all(k in SLOW_KINDS for k in names):
                    break
                continue
            written_slow.add(kind)
        suffix, expect, make = gens[kind]
        name = f"{len(out):04d}_{kind}{suffix}"
        (folder / name).write_bytes(make(rng))
        out[name] = (kind, expect)
    return out


def bomb_files(folder: Path) -> dict:
    """The two zip-bomb .docx files (slow-ish to make: a few seconds)."""
    folder.mkdir(parents=True, exist_ok=True)
    zip_bomb_docx(folder / "bomb.docx", 400)
    lying_zip_docx(folder / "lying_bomb.docx")
    return {"bomb.docx": ("zip_bomb", "failed"), "lying_bomb.docx": ("lying_zip", "failed")}


def check_outcome(expect: str, status: str, findings: int, message: str) -> str | None:
    """None when the file was handled as it must be, else what went wrong."""
    if status == "duplicate":  # same bytes as a file already handled: reported, not silent
        return None
    if status == "ok" and findings == 0 and "warning" not in message:
        return "silently accepted with 0 findings"
    if status == "failed" and not message.strip():
        return "failed without a message"
    if expect == "any":
        return None
    got = "warn" if status == "ok" and findings == 0 else status
    return None if got == expect else f"expected {expect}, got {got} ({message[:80]})"


# --------------------------------------------------------------------------- crash runs


def crash_corpus(folder: Path, samples: Path, copies: int = 3) -> list[Path]:
    """Distinct reports from the shipped samples: each text sample in ``copies`` variants, plus the PDF and .docx."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for src in sorted(samples.iterdir()):
        if src.suffix == ".txt":
            text = src.read_text(encoding="utf-8")
            for i in range(copies):
                p = folder / f"{src.stem}_{i}.txt"
                p.write_text(text + f"\n附件编号：{src.stem}-{i}\n", encoding="utf-8")
                out.append(p)
        elif src.suffix in (".pdf", ".docx"):
            p = folder / src.name
            p.write_bytes(src.read_bytes())
            out.append(p)
    return out


def workspace_state(root: Path) -> dict:
    """Counts of every store in a workspace, read straight from the files (not through the index stamp)."""
    import json

    from miner import db as database
    from miner.search import INDEX_DIR, MANIFEST, KeywordIndex

    db = database.connect(root / "catalogue.sqlite", read_only=True)  # SQLite, or MINER_DATABASE_URL
    state = {
        "documents": db.execute("SELECT COUNT(*) FROM documents").fetchone()[0],
        # the findings that count (review items wait for an analyst and are not indexed)
        "findings": db.execute(f"SELECT COUNT(*) FROM findings f WHERE {COUNTED}").fetchone()[0],
    }
    db.close()
    index = root / INDEX_DIR
    state["manifest"] = json.loads((index / MANIFEST).read_text())["count"] if (index / MANIFEST).exists() else None
    try:
        state["keyword"] = len(KeywordIndex.load(index / "keyword"))
    except (OSError, ValueError):
        state["keyword"] = None
    state["vectors"] = None
    from miner.vectors import _client, collection_name, server_url

    if server_url():  # vectors on the test chroma server (MINER_CHROMA_URL): this workspace's collection
        try:
            collection = collection_name(index / "chroma", "findings", server_url())
            state["vectors"] = _client(index / "chroma", server_url()).get_collection(collection).count()
        except Exception:  # noqa: BLE001 - no collection yet counts as no vectors
            pass
    elif (index / "chroma" / "chroma.sqlite3").exists():
        import chromadb
        from chromadb.api.client import SharedSystemClient
        from chromadb.config import Settings

        # chromadb caches one client per path and process; another process may have rebuilt the store.
        SharedSystemClient.clear_system_cache()
        try:
            client = chromadb.PersistentClient(
                path=str(index / "chroma"), settings=Settings(anonymized_telemetry=False)
            )
            state["vectors"] = client.get_collection("findings").count()
        except Exception:  # noqa: BLE001 - a broken store counts as no vectors
            pass
        SharedSystemClient.clear_system_cache()
    return state


def consistent(state: dict) -> bool:
    n = state["findings"]
    return state["manifest"] == n and state["keyword"] == n and state["vectors"] == n


def search_snapshot(root: Path, queries: list[str], k: int = 10) -> list[list[tuple[str, float]]]:
    """What search returns for the queries, as (finding id, score) lists."""
    from miner.indexing import open_searcher
    from miner.pipeline import Workspace

    ws = Workspace(root)
    try:
        searcher = open_searcher(ws, report=None)
        return [[(fid, round(float(s), 4)) for fid, s in searcher.search(q, k=k)] for q in queries]
    finally:
        ws.close()


def processes_in_session(sid: int) -> list[int]:
    """Live processes of a session (a killed ingest started with start_new_session=True)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[3]) == sid:
            found.append(int(entry.name))
    return found
