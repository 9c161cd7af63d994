"""Core commands: evaluate and predict (the main job, `run`, is in cli/job.py).

Only typer and the standard library are imported here at start-up: `lightning-eq --help` stays fast, and each
command imports what it needs when it runs.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import List, Optional

import typer

from lightning_eq.cli import app
from lightning_eq.errors import ConfigError
from lightning_eq.tracking import DEFAULT_TRACKING_URI

log = logging.getLogger(__name__)
BARS = "▁▂▃▄▅▆▇█"

ModelsDir = typer.Option(Path("models"), "--models-dir", help="Where trained models are saved and read.")
CacheDir = typer.Option(None, "--cache-dir", envvar="LIGHTNING_EQ_CACHE",
                        help="Embedding and model cache (default ~/.cache/lightning-eq).")
TrackingUri = typer.Option(DEFAULT_TRACKING_URI, "--tracking-uri", envvar="MLFLOW_TRACKING_URI",
                           help="MLflow store: sqlite:///path or http://host:port of an MLflow server.")
Sets = typer.Option([], "--set", help="Config setting, repeatable: head.dropout=0.2, train_on=words, embedders.gpt.layer=8.")
ConfidenceScaling = typer.Option(True, "--confidence-scaling/--no-confidence-scaling",
                                 help="Multiply the gains by the prediction's confidence (an unfamiliar description gets a gentler curve).")


def base_config(cache_dir: Optional[str], sets: list[str] | None = None):
    """The default Config with ``--cache-dir`` and ``--set`` applied (validated)."""
    from lightning_eq.config import Config, merge, parse_sets

    overrides = parse_sets(list(sets or []))
    if cache_dir:
        overrides["embedders.cache_dir"] = cache_dir
    return merge(Config(), overrides, "--set") if overrides else Config()


def parse_models(models: Optional[str]) -> list[str]:
    from lightning_eq.models.catalog import MODEL_KEYS, check_model_key

    if not models:
        return list(MODEL_KEYS)
    return [check_model_key(m.strip()) for m in models.split(",") if m.strip()]


def parse_ints(text: Optional[str], what: str, allowed: range | None = None) -> list[int] | None:
    if not text:
        return None
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{what} must be comma-separated integers such as 0,2; got {text!r}.") from None
    if allowed is not None and any(v not in allowed for v in values):
        raise ConfigError(f"{what} must be between {allowed.start} and {allowed.stop - 1}; got {text!r}.")
    return values


@app.command()
def evaluate(
    models: Optional[str] = typer.Option(None, "--models", help="Comma-separated model keys (default: every model)."),
    protocol: str = typer.Option("both", "--protocol", help="words (word-disjoint 4-fold CV), random (80/20 split) or both."),
    folds: Optional[str] = typer.Option(None, "--folds", help="Word-disjoint folds to run, e.g. 0 or 0,2 (default all four)."),
    seeds: Optional[str] = typer.Option(None, "--seeds", help="Random-split seeds (default 0,1,2)."),
    reports_dir: Path = typer.Option(Path("reports"), "--reports-dir", help="Where evaluation-defaults.{json,md} go."),
    predictions: Optional[Path] = typer.Option(None, "--predictions", help="Write every test prediction (z scale) to this JSON file."),
    rescore_file: Optional[Path] = typer.Option(None, "--rescore", help="Train nothing: recompute the tables of a "
                                                "predictions file (reports/predictions.json of `run`, or --predictions) "
                                                "from its rows and the data alone."),
    sets: List[str] = Sets,
    cache_dir: Optional[str] = CacheDir,
) -> None:
    """Score each model in one configuration (its default, changed by --set) under both protocols.

    Settings with candidates (the epoch count, k, alpha) are chosen by inner folds inside each training part;
    test words are scored once. For searched configurations, use `sweep` or `run` (the nested estimate)."""
    if rescore_file is not None:
        from lightning_eq.training.evaluate import rescore_file as rescored

        typer.echo(rescored(rescore_file))
        return
    if protocol not in ("both", "words", "random"):
        raise ConfigError(f"Unknown protocol {protocol!r}; use words, random or both.")
    keys = parse_models(models)
    fold_list, seed_list = parse_ints(folds, "--folds", range(4)), parse_ints(seeds, "--seeds") or [0, 1, 2]
    from lightning_eq.config import parse_sets
    from lightning_eq.pipeline import evaluate_defaults

    overrides = parse_sets(list(sets))
    base_config(cache_dir, sets)  # a bad --set fails here, before anything loads
    result = evaluate_defaults(base_config(cache_dir), keys, ("words", "random") if protocol == "both" else (protocol,),
                               fold_list, seed_list, overrides, reports_dir, predictions, cache_dir)
    typer.echo(result.table)
    typer.echo(f"Reports: {', '.join(str(p) for p in result.paths)}")


def _sparkline(values) -> str:
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    return "".join(BARS[min(len(BARS) - 1, int((v - lo) / span * len(BARS)))] for v in values)


def prediction_json(curves, confidence_scaling: bool = True, max_gain_db: float = 5.0) -> dict:
    from lightning_eq.curves import BAND_CENTRES_HZ

    return {"freqs_hz": list(BAND_CENTRES_HZ), "predictions": [
        {"text": c.text, "language": c.language, "model": c.model, "confidence": c.confidence, "unfamiliar": c.unfamiliar,
         "amount": c.amount, "curve_z": c.curve_z.round(5).tolist(), "curve_unit": c.curve_unit.round(6).tolist(),
         "gains_db": c.to_db(max_gain_db, confidence_scaling=confidence_scaling).values.round(3).tolist()}
        for c in curves]}


@app.command()
def predict(
    texts: List[str] = typer.Argument(..., help="One or more descriptions, e.g. warm \"bright and airy\" \"cálido\"."),
    model: Optional[str] = typer.Option(None, "--model", help="Answer with this trained model from --models-dir "
                                        "(default: the registered champion, which routes by language; else the best saved model)."),
    output_format: str = typer.Option("table", "--format", help="table (readable, in the terminal) or json."),
    max_gain_db: float = typer.Option(5.0, "--max-gain-db", help="Peak gain of the dB column, before the confidence."),
    confidence_scaling: bool = ConfidenceScaling,
    models_dir: Path = ModelsDir,
    cache_dir: Optional[str] = CacheDir,
    tracking_uri: str = TrackingUri,
) -> None:
    """Print the 40-band EQ curve of each description, with its language, the model that answered and how sure it is."""
    from lightning_eq.describe import parse_description

    if output_format not in ("table", "json"):
        raise ConfigError(f"Unknown --format {output_format!r}; use table or json.")
    if model:
        from lightning_eq.models.catalog import check_model_key

        check_model_key(model)
    for text in texts:  # reject empty descriptions before loading any model
        parse_description(text)
    from lightning_eq.curves import BAND_CENTRES_HZ
    from lightning_eq.predict import predict_curves

    curves = predict_curves(texts, model, models_dir, cache_dir, tracking_uri)
    if output_format == "json":
        typer.echo(json.dumps(prediction_json(curves, confidence_scaling, max_gain_db)))
        return
    typer.echo(f"bands: 20 Hz ... 19682 Hz (40, log-spaced)   dB at peak ±{max_gain_db:g}"
               + (" times the confidence" if confidence_scaling else ""))
    for c in curves:
        db = c.to_db(max_gain_db, confidence_scaling=confidence_scaling).values
        sure = "" if c.confidence is None else f", confidence {c.confidence:.2f}"
        typer.echo(f"\n{c.text!r}  (model {c.model}, language {c.language or 'not identified'}{sure})")
        if c.unfamiliar:
            typer.echo("  Unfamiliar description: the model has learned nothing close to it, so this curve is a guess.")
        typer.echo(f"  {_sparkline(db)}")
        cells = [f"{f:>6g} Hz {round(g, 1) + 0.0:+5.1f} dB" for f, g in zip(BAND_CENTRES_HZ, db)]  # no "-0.0"
        for row in range(10):
            typer.echo("  " + "   ".join(cells[row::10]))
