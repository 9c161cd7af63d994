"""Sweep throughput: seconds per trial of each model (one worker, MLflow on SQLite, the sweeps/*.yaml spaces),
and trials per minute of one study with 1 and 2 worker processes. Stores in a temporary folder.

Pass model keys to time a subset: python benchmarks/bench_sweep.py glove attention
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from pathlib import Path

from lightning_eq.config import Config
from lightning_eq.data.socialeq import load_hq_words, load_records
from lightning_eq.embeddings import embed_vocabulary
from lightning_eq.tracking.sweeps import run_sweep, sweep_embedders
from lightning_eq.training.evaluate import Embeddings
from lightning_eq.training.sweep import FoldData

MODELS = ("glove", "tok2vec", "gpt", "bert", "e5", "ensemble", "attention", "knn", "ridge")
TRIALS = 6  # per model: the TPE start-up trials and a couple of modelled ones
WORKER_TRIALS = 12


def seconds_per_trial(key: str, cfg: Config, fold: FoldData, tmp: Path) -> tuple[float, float]:
    """(mean seconds per finished trial, seconds for the whole study including the test refit)."""
    result = run_sweep(key, cfg, fold, trials=TRIALS, storage=f"sqlite:///{tmp}/optuna.db",
                       tracking_uri=f"sqlite:///{tmp}/mlflow.db")
    import optuna

    study = optuna.load_study(study_name=result.study, storage=f"sqlite:///{tmp}/optuna.db")
    spans = [(t.datetime_complete - t.datetime_start).total_seconds() for t in study.trials if t.datetime_complete]
    return sum(spans) / len(spans), result.seconds


def trials_per_minute(workers: int, cfg: Config, fold: FoldData, tmp: Path) -> tuple[float, float]:
    """(finished trials per minute over the whole call, per minute once the workers have started)."""
    import optuna

    storage = f"sqlite:///{tmp}/workers{workers}.db"
    start = time.perf_counter()
    run_sweep("glove", cfg, fold, trials=WORKER_TRIALS, workers=workers, storage=storage,
              tracking_uri=f"sqlite:///{tmp}/mlflow.db")
    wall = time.perf_counter() - start
    trials = optuna.load_study(study_name=f"glove-fold{fold.fold}", storage=storage).trials
    first = min(t.datetime_start for t in trials)
    last = max(t.datetime_complete for t in trials)
    return 60 * WORKER_TRIALS / wall, 60 * WORKER_TRIALS / (last - first).total_seconds()


def main(models: list[str] | None = None) -> None:
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    logging.getLogger("lightning_eq").setLevel(logging.WARNING)
    models = models or list(MODELS)
    cfg = Config()
    data, hq = load_records(), load_hq_words()
    keys = sweep_embedders(models, cfg)
    emb = Embeddings(data.words, embed_vocabulary(keys, data.words, cfg.embedders, progress=False))
    fold = FoldData(data, hq, emb, 0, cfg.embedders)
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'model':<10} {'s/trial':>8} {'study s':>8}   ({TRIALS} trials, fold 0, 1 worker, MLflow on SQLite)")
        for key in models:
            per_trial, total = seconds_per_trial(key, cfg, fold, Path(tmp))
            print(f"{key:<10} {per_trial:>8.2f} {total:>8.1f}", flush=True)
        print(f"\nglove study of {WORKER_TRIALS} trials: trials per minute (whole call / once started)")
        for workers in (1, 2):
            whole, started = trials_per_minute(workers, cfg, fold, Path(tmp))
            print(f"{workers} worker{'s' if workers > 1 else ' '}  {whole:>6.1f} / {started:>6.1f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
