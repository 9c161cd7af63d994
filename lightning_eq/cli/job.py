"""`lightning-eq run`, the main job: embed, sweep every model on every fold, evaluate, promote, report."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Optional

import typer

from lightning_eq.cli import app
from lightning_eq.cli.core import CacheDir, ModelsDir, TrackingUri, _config
from lightning_eq.cli.sweeps import Storage
from lightning_eq.errors import ConfigError

log = logging.getLogger(__name__)
DEFAULT_TRIALS = 3


@app.command()
def run(
    trials: int = typer.Option(DEFAULT_TRIALS, "--trials", help="Optuna trials per (model, fold) study; 0 skips the sweeps and promote."),
    workers: int = typer.Option(1, "--workers", help="Sweep worker processes per study."),
    storage: str = Storage,
    tracking_uri: str = TrackingUri,
    models_dir: Path = ModelsDir,
    reports_dir: Path = typer.Option(Path("reports"), "--reports-dir", help="Where the evaluation and sweep reports go."),
    cache_dir: Optional[str] = CacheDir,
) -> None:
    """The main job: embed, sweep every model on every fold, evaluate all models under both protocols,
    promote the champion, then print the comparison table, where the MLflow UI and the dashboard are, and how to predict."""
    if trials < 0 or workers < 1:
        raise ConfigError(f"--trials must be 0 or more and --workers 1 or more, got {trials} and {workers}.")
    from lightning_eq.config import MODEL_KEYS
    from lightning_eq.pipeline import Job, run_job

    cfg, seconds, start = _config(cache_dir), {}, time.perf_counter()
    sweeps, promotion = [], None
    if trials:
        sweeps = _sweep_all(cfg, trials, workers, storage, tracking_uri, cache_dir)
        seconds["sweeps"] = time.perf_counter() - start
    mark = time.perf_counter()
    result = run_job(cfg, Job(models=MODEL_KEYS, reports_dir=reports_dir, models_dir=models_dir,
                              predictions_path=reports_dir / "predictions.json", cache_dir=cache_dir))
    seconds["evaluate"] = time.perf_counter() - mark
    if trials:
        from lightning_eq.tracking.registry import promote

        mark = time.perf_counter()
        promotion = promote(cfg, storage=storage, tracking_uri=tracking_uri, models_dir=models_dir)
        seconds["promote"] = time.perf_counter() - mark
    seconds["total"] = time.perf_counter() - start
    _print_summary(result, sweeps, promotion, reports_dir, models_dir, storage, tracking_uri, seconds)


def _sweep_all(cfg, trials, workers, storage, tracking_uri, cache_dir) -> list:
    from lightning_eq.config import MODEL_KEYS
    from lightning_eq.data.socialeq import load_hq_words, load_records
    from lightning_eq.embeddings import embed_vocabulary
    from lightning_eq.tracking.sweeps import run_sweeps, sweep_embedders, sweepable
    from lightning_eq.training.evaluate import Embeddings

    data, hq_words = load_records(cfg.data_path or None, cfg.language), load_hq_words()
    models = sweepable(MODEL_KEYS)
    keys = sweep_embedders(models, cfg)
    emb = Embeddings(data.words, embed_vocabulary(keys, data.words, cfg.embedders, cache_dir))
    total, done = len(models) * 4, [0]

    def progress(result) -> None:
        done[0] += 1
        log.info("[sweep %d/%d] %s: val MAE %.4f, test MAE %.4f (%d trials, %.0f s)", done[0], total, result.study,
                 result.val_mae_unit, result.test_mae_unit, result.finished, result.seconds)

    return run_sweeps(cfg, emb, models, [0, 1, 2, 3], trials, storage, tracking_uri, data=data,
                      hq_words=hq_words, workers=workers, on_study=progress)


def _print_summary(result, sweeps, promotion, reports_dir, models_dir, storage, tracking_uri, seconds) -> None:
    from lightning_eq.training.report import sweep_table

    typer.echo("\n## Evaluation (each model's default configuration)\n\n" + result.table)
    typer.echo(f"Best model by the evaluation (lowest word-disjoint test MAE): {result.best}")
    if sweeps:
        table = sweep_table(sweeps)
        (reports_dir / "sweeps.md").write_text(f"# lightning-eq sweeps\n\n{table}\n")
        typer.echo("\n## Sweeps (one Optuna study per model and fold)\n\n" + table)
    if promotion:
        typer.echo(f"\nChampion: {promotion.key}, registered as models:/lightning-eq@champion version "
                   f"{promotion.version} ({promotion.reason}).")
    typer.echo(f"\nReports: {reports_dir}/evaluation.md, evaluation.json, predictions.json"
               + (", sweeps.md" if sweeps else "") + f"; trained models in {models_dir}/")
    typer.echo(f"MLflow UI:  lightning-eq ui --tracking-uri {tracking_uri}      (http://127.0.0.1:5000/)")
    typer.echo(f"Dashboard:  lightning-eq dashboard --storage {storage}   (http://127.0.0.1:8080/)")
    typer.echo('Predict:    lightning-eq predict "warm" "bright and airy"   (--format json, --model KEY)')
    typer.echo('Apply:      lightning-eq apply song.wav song-warm.wav --text "warm and punchy"')
    typer.echo("Web page:   lightning-eq serve   (http://127.0.0.1:8000/)")
    typer.echo("Seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items()))
