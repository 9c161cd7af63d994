"""Sweep throughput, one worker on this machine: finished trials per minute and seconds per trial of a study of
each model (outer fold 0, the objective's 4 inner word-disjoint folds, trial 0 = the default, the YAML's space),
with MLflow tracking off and on (SQLite). Then one gpt study with 2 worker processes. Targets (2-core CPU): gpt
>= 30 trials per minute per worker (median trial <= 2 s); ridge and knn <= 0.3 s per trial.

    python benchmarks/bench_sweep.py [model ...] [--trials N]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path

import optuna

from lightning_eq.config import Config
from lightning_eq.data.socialeq import load_hq_words, load_records
from lightning_eq.embeddings.vectors import Vectors
from lightning_eq.search.runner import prewarm, run_study
from lightning_eq.training.nested import SweepRequest, plan_for

MODELS = ("gpt", "ridge", "knn", "glove", "e5", "attention")


def study_figures(study) -> tuple[float, list[float]]:
    """(finished trials per minute from the first start to the last end, seconds of each finished trial)."""
    done = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    spans = [(t.datetime_complete - t.datetime_start).total_seconds() for t in done]
    wall = (max(t.datetime_complete for t in done) - min(t.datetime_start for t in done)).total_seconds()
    return 60 * len(done) / wall, spans


def one(key: str, trials: int, tmp: Path, data, hq, vectors, tracking: bool, workers: int = 1, tag: str = "") -> str:
    request = SweepRequest([key], ["fold0"], trials, workers, f"sqlite:///{tmp}/optuna{tag}.db",
                           f"sqlite:///{tmp}/mlflow{tag}.db" if tracking else None)
    plan, _ = plan_for(key, "fold0", Config(), data, hq, request)
    prewarm(plan, vectors)
    track = None
    if tracking:
        from lightning_eq.search.selection import study_summary
        from lightning_eq.tracking.runs import git_commit, open_parent_run, run_tags

        tags = run_tags(key, plan.base, "fold0", git_commit())
        track = lambda study: open_parent_run(study, request.tracking_uri, tags, study_summary)  # noqa: E731
    study, _ = run_study(plan, vectors, request.storage, workers=workers, track=track)
    per_minute, spans = study_figures(study)
    pruned = sum(t.state.name == "PRUNED" for t in study.trials)
    q = statistics.quantiles(spans, n=10) if len(spans) > 1 else spans * 9
    return (f"{key:<10} {'on ' if tracking else 'off'}  {workers}  {len(spans):>3} ({pruned:>2} pruned)  {per_minute:>6.1f}  "
            f"{statistics.median(spans):>6.2f}  {q[0]:>5.2f}-{q[-1]:<5.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=list(MODELS))
    parser.add_argument("--trials", type=int, default=24)
    args = parser.parse_args(argv or [])
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("lightning_eq").setLevel(logging.WARNING)
    data, hq = load_records(language="all"), load_hq_words()
    vectors = Vectors(data.words)
    print("model      MLflow workers trials (pruned)  trials/min  median s  p10-p90 s   (outer fold 0, 4 inner folds)")
    with tempfile.TemporaryDirectory() as tmp:
        for i, key in enumerate(args.models):
            for tracking in (False, True):
                print(one(key, args.trials, Path(tmp), data, hq, vectors, tracking, tag=f"{i}{tracking}"), flush=True)
        if "gpt" in args.models:
            start = time.perf_counter()
            line = one("gpt", 2 * args.trials, Path(tmp), data, hq, vectors, False, workers=2, tag="w2")
            print(line + f"   (2 workers, {time.perf_counter() - start:.0f} s with process start-up)", flush=True)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
