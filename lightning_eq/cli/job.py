"""`lightning-eq run`, the main job: embed, sweep every model (nested folds and all words), score the
baselines, evaluate the defaults on the random splits, run the tuner's study, save the final models, promote the
champion, report."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Optional

import typer

from lightning_eq.cli import app
from lightning_eq.cli.core import CacheDir, ModelsDir, TrackingUri, base_config, parse_models
from lightning_eq.cli.sweeps import Storage, check_uris
from lightning_eq.errors import ConfigError

log = logging.getLogger(__name__)


@app.command()
def run(
    models: Optional[str] = typer.Option(None, "--models", help="Comma-separated model keys (default: every model; "
                                         "the nested estimate of the procedure chooses among these)."),
    trials: Optional[int] = typer.Option(None, "--trials", help="Trials per study (default: each sweeps/*.yaml's "
                                         "sweep.trials: 8 for the neural models, 6 for ensemble and attention, 40 for knn and ridge, 24 for the tuner)."),
    workers: int = typer.Option(1, "--workers", help="Worker processes per study."),
    jobs: int = typer.Option(2, "--jobs", help="Models swept at once, each in its own process (default 2: this "
                             "project's 2-core machine; each process trains on one core)."),
    storage: str = Storage,
    tracking_uri: str = TrackingUri,
    models_dir: Path = ModelsDir,
    reports_dir: Path = typer.Option(Path("reports"), "--reports-dir", help="Where the evaluation report goes."),
    promote: bool = typer.Option(True, "--promote/--no-promote", help="Register the champion in MLflow at the end."),
    cache_dir: Optional[str] = CacheDir,
) -> None:
    """The main job: sweep every model (one study per outer fold for the nested estimate, one over all words for
    the model to keep), score the baselines, evaluate the defaults on the random splits, choose the tuner's
    settings (Tune by ear: its own study, models/tuner.json), promote the champion, then print the tables, where
    the MLflow UI and the dashboard are, and how to predict."""
    if (trials is not None and trials < 1) or workers < 1 or jobs < 1:
        raise ConfigError(f"--trials, --workers and --jobs must be at least 1, got {trials}, {workers} and {jobs}.")
    check_uris(storage, tracking_uri)
    from lightning_eq.pipeline import Job, run_job

    cfg = base_config(cache_dir)
    start = time.perf_counter()
    result = run_job(cfg, Job(models=parse_models(models), trials=trials, workers=workers, jobs=jobs, storage=storage, tracking_uri=tracking_uri,
                              reports_dir=reports_dir, models_dir=models_dir, cache_dir=cache_dir))
    from lightning_eq.training.tune import run_tuner_stage

    mark = time.perf_counter()  # the tuner's own study (numpy only): models/tuner.json, which `tune` reads
    tuned = run_tuner_stage(cfg, storage, models_dir, reports_dir, tracking_uri, trials, cache_dir)
    result.seconds["tuner"] = time.perf_counter() - mark
    typer.echo("\n## The tuner (Tune by ear): its settings chosen on simulated listeners of the training words\n\n" + tuned)
    promotion = None
    if promote:
        from lightning_eq.training.promote import promote as promote_champion

        mark = time.perf_counter()
        own = {st["study"] for s in result.sweeps for st in s.studies if st["scope"] == "all"}  # not older ones
        promotion = promote_champion(cfg, storage=storage, tracking_uri=tracking_uri, cache_dir=cache_dir, studies=own)
        result.seconds["promote"] = time.perf_counter() - mark
    result.seconds["total"] = time.perf_counter() - start
    _print_summary(result, promotion, reports_dir, models_dir, storage, tracking_uri)


def _print_summary(result, promotion, reports_dir, models_dir, storage, tracking_uri) -> None:
    if "procedure" in result.tables:
        typer.echo("\n## What `lightning-eq run` gives you on unseen words (nested: the whole procedure inside each "
                   "outer fold)\n\n" + result.tables["procedure"])
    typer.echo("\n## Nested estimate: the procedure, then each model's default and swept configuration on unseen "
               "words\n\n" + result.tables["nested"])
    if "languages" in result.tables:
        typer.echo("\n## Per language: the multilingual model against reference curves\n\n" + result.tables["languages"])
    if "routing" in result.tables:
        typer.echo("\n## Routing by language: the champion's English test words alone and behind the router\n\n"
                   + result.tables["routing"])
    typer.echo("\n## Models over all words (the champion has the lowest cross-validated MAE over the English records)\n\n"
               + result.tables["final"])
    typer.echo("\n## What the all-words studies chose (refitted on all the data and saved)\n\n" + result.tables["choices"])
    typer.echo("\n## Studies\n\n" + result.tables["studies"])
    typer.echo("\n## Random 80/20 split, default configurations\n\n" + result.tables["random"])
    typer.echo(f"\nChampion: {result.champion} ({result.champion_reason})"
               + (f"; other languages: {result.multilingual} ({result.multilingual_reason})." if result.multilingual else "."))
    if promotion:
        from lightning_eq.training.promote import routes_line

        typer.echo(f"Registered as models:/lightning-eq@champion version {promotion.version}: {routes_line(promotion.routes)}.")
    typer.echo(f"\nReports: {', '.join(str(p) for p in result.report_paths)}; trained models in {models_dir}/")
    typer.echo(f"MLflow UI:  lightning-eq ui --tracking-uri {tracking_uri}      (http://127.0.0.1:5000/)")
    typer.echo(f"Dashboard:  lightning-eq dashboard --storage {storage}   (http://127.0.0.1:8080/)")
    typer.echo('Predict:    lightning-eq predict "warm" "bright and airy" "cálido"   (--format json, --model KEY)')
    typer.echo('Apply:      lightning-eq apply song.wav song-warm.wav --text "warm and punchy"')
    typer.echo("Web page:   lightning-eq serve   (http://127.0.0.1:8000/)")
    typer.echo("Seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in result.seconds.items()))
