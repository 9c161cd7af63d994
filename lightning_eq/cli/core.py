"""Core commands: evaluate and predict (the main job, `run`, is in cli/job.py)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import List, Optional

import typer

from lightning_eq.cli import app
from lightning_eq.config import MODEL_KEYS, Config, check_model_key
from lightning_eq.errors import ConfigError

log = logging.getLogger(__name__)
BARS = "▁▂▃▄▅▆▇█"

ModelsDir = typer.Option(Path("models"), "--models-dir", help="Where trained models are saved and read.")
CacheDir = typer.Option(None, "--cache-dir", envvar="LIGHTNING_EQ_CACHE",
                        help="Embedding and model cache (default ~/.cache/lightning-eq).")
DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"  # lightning_eq.tracking's, without importing mlflow
TrackingUri = typer.Option(DEFAULT_TRACKING_URI, "--tracking-uri", envvar="MLFLOW_TRACKING_URI",
                           help="MLflow store: sqlite:///path or http://host:port of an MLflow server.")


def _config(cache_dir: Optional[str]) -> Config:
    cfg = Config()
    if cache_dir:
        cfg.embedders.cache_dir = cache_dir
    return cfg


def _parse_models(models: Optional[str]) -> list[str]:
    if not models:
        return list(MODEL_KEYS)
    return [check_model_key(m.strip()) for m in models.split(",") if m.strip()]


def _parse_ints(text: Optional[str], what: str, allowed: range | None = None) -> list[int] | None:
    if not text:
        return None
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{what} must be comma-separated integers such as 0,2; got {text!r}.") from None
    if allowed is not None and any(v not in allowed for v in values):
        raise ConfigError(f"{what} must be between {allowed.start} and {allowed.stop - 1}; got {text!r}.")
    return values


def _evaluate(models, protocol, folds, seeds, reports_dir, models_dir, predictions, cache_dir, save_models=True, sets=()):
    from lightning_eq.cli.sweeps import parse_sets  # here, not at the top: cli.sweeps imports this module
    from lightning_eq.config import merge
    from lightning_eq.pipeline import Job, run_job

    protocols = ("words", "random") if protocol == "both" else (protocol,)
    if protocol not in ("both", "words", "random"):
        raise ConfigError(f"Unknown protocol {protocol!r}; use words, random or both.")
    job = Job(models=_parse_models(models), protocols=protocols, folds=_parse_ints(folds, "--folds", range(4)),
              seeds=_parse_ints(seeds, "--seeds") or (0, 1, 2), reports_dir=reports_dir,
              models_dir=models_dir if save_models else None, predictions_path=predictions, cache_dir=cache_dir)
    return run_job(merge(_config(cache_dir), parse_sets(list(sets)), "--set"), job)


@app.command()
def evaluate(
    models: Optional[str] = typer.Option(None, "--models", help=f"Comma-separated model keys (default all: {', '.join(MODEL_KEYS)})."),
    protocol: str = typer.Option("both", "--protocol", help="words (word-disjoint 4-fold CV), random (80/20 split) or both."),
    folds: Optional[str] = typer.Option(None, "--folds", help="Word-disjoint folds to run, e.g. 0 or 0,2 (default all four)."),
    seeds: Optional[str] = typer.Option(None, "--seeds", help="Random-split seeds (default 0,1,2)."),
    reports_dir: Path = typer.Option(Path("reports"), "--reports-dir", help="Where evaluation.json and evaluation.md go."),
    predictions: Optional[Path] = typer.Option(None, "--predictions", help="Write every test prediction (z scale) to this JSON file."),
    save_models: bool = typer.Option(True, "--save-models/--no-save-models", help="Also train each model on all data for predict."),
    sets: List[str] = typer.Option([], "--set", help="Config override, repeatable: head.dropout=0.2, train_on=words, embedders.gpt_layer=8."),
    models_dir: Path = ModelsDir,
    cache_dir: Optional[str] = CacheDir,
) -> None:
    """Train and score models under both protocols; write reports/evaluation.{json,md}."""
    result = _evaluate(models, protocol, folds, seeds, reports_dir, models_dir, predictions, cache_dir, save_models, sets)
    typer.echo(result.table)
    typer.echo(f"Best model: {result.best}. Reports: {result.report_paths[0]}, {result.report_paths[1]}")


def _sparkline(values) -> str:
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    return "".join(BARS[min(len(BARS) - 1, int((v - lo) / span * len(BARS)))] for v in values)


@app.command()
def predict(
    texts: List[str] = typer.Argument(..., help="One or more descriptions, e.g. warm \"bright and airy\"."),
    model: Optional[str] = typer.Option(None, "--model", help="Which trained model answers (default: the best by the evaluation)."),
    output_format: str = typer.Option("table", "--format", help="table (readable, in the terminal) or json."),
    max_gain_db: float = typer.Option(5.0, "--max-gain-db", help="Peak gain of the dB column in the table."),
    models_dir: Path = ModelsDir,
    cache_dir: Optional[str] = CacheDir,
    tracking_uri: str = TrackingUri,
) -> None:
    """Print the 40-band EQ curve of each description (by default from the registered champion, else the
    best model of the last evaluation)."""
    from lightning_eq.curves import BAND_CENTRES_HZ
    from lightning_eq.predict import predict_curves

    from lightning_eq.describe import parse_description

    if output_format not in ("table", "json"):
        raise ConfigError(f"Unknown --format {output_format!r}; use table or json.")
    if model:
        check_model_key(model)
    for text in texts:  # reject empty descriptions before loading any model
        parse_description(text)
    curves = predict_curves(texts, model, models_dir, cache_dir or Config().embedders.cache_dir, tracking_uri)
    if output_format == "json":
        out = {"freqs_hz": list(BAND_CENTRES_HZ), "predictions": [
            {"text": c.text, "curve_z": c.curve_z.round(5).tolist(), "curve_unit": c.curve_unit.round(6).tolist(),
             "amount": c.amount, "model": c.model}
            for c in curves]}
        typer.echo(json.dumps(out))
        return
    typer.echo(f"model: {curves[0].model}   bands: 20 Hz ... 19682 Hz (40, log-spaced)   dB at peak ±{max_gain_db:g}")
    for c in curves:
        db = c.to_db(max_gain_db).values
        typer.echo(f"\n{c.text!r}\n  {_sparkline(db)}")
        cells = [f"{f:>6g} Hz {g:+5.1f} dB" for f, g in zip(BAND_CENTRES_HZ, db)]
        for row in range(10):
            typer.echo("  " + "   ".join(cells[row::10]))
