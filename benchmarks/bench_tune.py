"""Tune by ear on simulated listeners: the mean r of the estimate to the listener's own curve after 0, 3, 5, 10
and 20 ratings, and the latency of one ``Tuner.step`` with 20 ratings.

Simulated listeners are the English test records of the word-disjoint outer folds. For each fold the text
model (ridge on the gpt features, the project's default configuration, its alpha chosen by inner folds: the
same fit as ``lightning-eq evaluate``) and the curve basis see only the fold's training words; a listener rates
a probe ``clip(0.5 + 0.5 * r(probe, listener) + N(0, 0.15), 0, 1)`` (``lightning_eq.tune.simulate``). The tuner's
settings are the study's (models/tuner.json, written by `lightning-eq run` from the never-tested words), else
the defaults. Rows: the tuner from the text's curve and from the mean curve; the tuner's estimate from random
probes; the crude rating-weighted search over 10 principal components (the issue's baseline, re-implemented).

    python benchmarks/bench_tune.py [--models-dir models] [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from lightning_eq.config import Config
from lightning_eq.curves import unit_to_z
from lightning_eq.data.socialeq import load_hq_words, load_records
from lightning_eq.embeddings.vectors import Vectors
from lightning_eq.search.selection import predict
from lightning_eq.search.space import default_config
from lightning_eq.training.evaluate import fit_resolved, outer_parts
from lightning_eq.tune import CurveBasis, Rating, Tuner, TuneSettings, load_tuner, zscore
from lightning_eq.tune.simulate import CrudeSearch, RandomProbes, simulate

CHECKPOINTS = (0, 3, 5, 10, 20)
TARGETS = {5: 0.65, 10: 0.80}  # the targets, text prior


def fold_parts(data, hq, cfg, vectors, fold: int):
    """(training curves, test listeners, their text priors) of outer fold ``fold``."""
    ridge = default_config("ridge", cfg)
    train, test = outer_parts(data, hq, ridge, fold)
    fitted = fit_resolved("ridge", ridge, train, vectors)
    priors = zscore(unit_to_z(predict(fitted.model, "ridge", fitted.config, test, vectors)))
    return unit_to_z(train.curves_unit), unit_to_z(test.curves_unit), priors


def latency_ms(tuner: Tuner, listener: np.ndarray, n_ratings: int = 20, repeats: int = 200) -> float:
    rng = np.random.default_rng(0)
    ratings = [Rating(zscore(rng.standard_normal(40).cumsum()), float(rng.uniform())) for _ in range(n_ratings)]
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        tuner.step(listener, ratings, 2, i)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main(models_dir: str = "models", cache_dir: str | None = None) -> None:
    cfg, data, hq = Config(), load_records(language="all"), load_hq_words()
    vectors = Vectors(data.words, cache_dir)
    stored = load_tuner(models_dir).settings
    source = "the study's (models/tuner.json)" if stored != TuneSettings() else "the defaults (no models/tuner.json)"
    print(f"tuner settings: {source}: " + ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                                                    for k, v in stored.model_dump().items()), flush=True)
    rows: dict[str, list[np.ndarray]] = {}
    start, n, prior_seconds = time.perf_counter(), 0, 0.0
    for fold in range(4):
        mark = time.perf_counter()
        train_z, listeners, priors = fold_parts(data, hq, cfg, vectors, fold)
        prior_seconds += time.perf_counter() - mark
        basis = CurveBasis.fit(train_z)
        tuner, default = Tuner(basis, stored), Tuner(basis, TuneSettings())
        mean = [None] * len(listeners)
        seed = 10_000 * fold
        for name, proposer, start_from in (
            ("tuner, text prior", tuner, list(priors)),
            ("tuner, mean-curve prior", tuner, mean),
            ("tuner with default settings, text prior", default, list(priors)),
            ("random probes, text prior", RandomProbes(tuner), list(priors)),
            ("crude search (10 PCs), text prior", CrudeSearch(basis), list(priors)),
            ("crude search (10 PCs), mean-curve prior", CrudeSearch(basis), mean),
        ):
            rows.setdefault(name, []).append(simulate(proposer, listeners, start_from, CHECKPOINTS, seed))
        n += len(listeners)
        print(f"fold {fold}: {len(listeners)} listeners, {len(train_z)} training records", flush=True)
    print(f"\nsimulated listeners: {n} English test records of the 4 word-disjoint outer folds "
          f"(text model fits {prior_seconds:.0f} s, simulation {time.perf_counter() - start - prior_seconds:.0f} s)\n")
    header = "| start | " + " | ".join(f"{k} ratings" for k in CHECKPOINTS) + " |"
    print(header + "\n|---|" + "---:|" * len(CHECKPOINTS))
    for name, parts in rows.items():
        r = np.concatenate(parts).mean(axis=0)
        print(f"| {name} | " + " | ".join(f"{v:.2f}" for v in r) + " |")
    text = np.concatenate(rows["tuner, text prior"]).mean(axis=0)
    for k, target in TARGETS.items():
        got = text[CHECKPOINTS.index(k)]
        print(f"r after {k} ratings, text prior: {got:.2f} (target >= {target:.2f}: {'met' if got >= target else 'NOT met'})")
    listener = priors[0]
    print(f"Tuner.step with 20 ratings, 2 probes: median {latency_ms(tuner, listener):.2f} ms "
          f"(basis {tuner.basis.size}, {stored.candidates} candidate pairs; numpy only)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", default="models")
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args()
    main(args.models_dir, args.cache_dir)
