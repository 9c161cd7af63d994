"""Confidence on the embedder of the champion `make run` promoted (benchmarks/champion.py): training words,
held-out words, generated non-words, the issue's probe strings and phrases; fit time and scoring latency per
description.

Held-out words: for each word-disjoint fold the confidence is fitted on the fold's training words only and
scores the fold's HQ/HR test words, so a high figure there is not memorisation. Non-words: a fresh seeded
draw (seed 1) that no fit has seen.

    python benchmarks/bench_confidence.py [--keys gpt,glove] [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections import Counter

import numpy as np

from lightning_eq.config import Config
from lightning_eq.data.folds import fold_test_words
from lightning_eq.data.socialeq import load_hq_words, load_records
from champion import CHAMPION
from lightning_eq.describe import parse_description
from lightning_eq.embeddings import embed_vocabulary
from lightning_eq.models.confidence import HELD_OUT_PROBES, combine_clauses, fit_coverage, generate_nonwords

UNSEEN = ["glassy", "silky", "gritty", "boomy", "nasal", "thin", "lush", "sibilant", "shimmering", "banana", "spreadsheet"]
PHRASES = ["warm and bright", "less boomy, more presence", "very warm", "warm and {nonword}", "{nonword} and bright"]


def _share(x: np.ndarray, at_least: float | None = None, at_most: float | None = None) -> str:
    return f"{np.mean(x >= at_least if at_least is not None else x <= at_most):.0%}"


def main(keys: tuple[str, ...] = (), cache_dir: str | None = None, probes: bool = True) -> None:
    cfg, data, hq = Config(), load_records(), load_hq_words()
    keys = keys or (CHAMPION,)  # the embedding of the champion that `make run` promoted
    embed = lambda texts: embed_vocabulary(keys, texts, cfg.embedders, cache_dir, progress=False)
    words, counts = data.words, Counter(data.descriptors)
    vectors = embed(words)

    start = time.perf_counter()
    cov = fit_coverage(vectors, words, embed)
    fit_s = time.perf_counter() - start
    print(f"embedders {'+'.join(keys)}: fitted on {cov.n_words} words and {cov.n_nonwords} generated non-words "
          f"in {fit_s:.1f} s (includes embedding the non-words unless cached)", flush=True)

    frequent = sorted(w for w, n in counts.items() if n >= 3 and " " not in w)
    s = cov.score(embed(frequent))
    lowest = ", ".join(f"{w} {v:.2f}" for w, v in sorted(zip(frequent, s), key=lambda p: p[1])[:3])
    print(f"training words with >= 3 records ({len(s)}): min {s.min():.2f}, median {np.median(s):.2f}, "
          f">= 0.8: {_share(s, 0.8)} (lowest: {lowest})")

    held, held_frequent = [], []
    for test in fold_test_words(data, hq):
        train = [w for w in words if w not in set(test)]
        fold_cov = fit_coverage(embed(train), train, embed)
        scores = fold_cov.score(embed(test))
        held += list(scores)
        held_frequent += [v for w, v in zip(test, scores) if counts[w] >= 3]
    held, held_frequent = np.array(held), np.array(held_frequent)
    print(f"held-out HQ/HR words, word-disjoint folds ({len(held)}): median {np.median(held):.2f}, "
          f">= 0.5: {_share(held, 0.5)}, >= 0.8: {_share(held, 0.8)}; "
          f"those with >= 3 records ({len(held_frequent)}): >= 0.8: {_share(held_frequent, 0.8)}")

    fresh = generate_nonwords(seed=1, exclude=words)
    per_kind = {kind: cov.score(embed(texts)) for kind, texts in fresh.items()}
    every = np.concatenate(list(per_kind.values()))
    by_kind = ", ".join(f"{k} {_share(v, at_most=0.2)}" for k, v in per_kind.items())
    print(f"generated non-words, unseen draw ({len(every)}): <= 0.2: {_share(every, at_most=0.2)}, "
          f"median {np.median(every):.3f}, max {every.max():.2f}; <= 0.2 by kind: {by_kind}")

    s = cov.score(embed(UNSEEN))
    print("real words not in SocialEQ: " + ", ".join(f"{w} {v:.2f}" for w, v in zip(UNSEEN, s)))

    nonword = fresh["random"][0]
    for template in PHRASES:
        text = template.format(nonword=nonword)
        terms = parse_description(text)
        clause = cov.score(embed([t.phrase for t in terms]))
        c = combine_clauses(clause, [t.weight for t in terms])
        parts = ", ".join(f"{t.phrase} {v:.2f} (x{t.weight:g})" for t, v in zip(terms, clause))
        print(f"phrase {text!r}: clauses {parts} -> {c:.2f}")

    if probes:
        s = cov.score(embed(list(HELD_OUT_PROBES)))
        print("the issue's probe strings (target <= 0.2): " + ", ".join(f"{p!r} {v:.3f}" for p, v in zip(HELD_OUT_PROBES, s)))

    one = {k: v[:1] for k, v in vectors.items()}
    times = []
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(1000):
            cov.score(one)
        times.append((time.perf_counter() - start) * 1000)  # ms per 1000 = us per call
    print(f"scoring one description (embedding excluded): median {statistics.median(times):.0f} us", flush=True)
    for module in ("numpy", "lightning_eq.models.confidence"):
        code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
        seconds = float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout)
        print(f"cold `import {module}`: {seconds * 1000:.0f} ms", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", default="", help="comma-separated embedder keys (default: the champion's, benchmarks/champion.py)")
    parser.add_argument("--cache-dir", default=None, help="embedding cache (default: the config's)")
    args = parser.parse_args()
    main(tuple(k for k in args.keys.split(",") if k), args.cache_dir)
