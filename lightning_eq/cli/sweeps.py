"""Sweep commands: sweep (Optuna studies with MLflow runs), dashboard, ui, promote.

Environment variables read here: MLFLOW_TRACKING_URI (the MLflow store), LIGHTNING_EQ_STORAGE (the study storage).
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

import typer
import yaml

from lightning_eq.cli import app
from lightning_eq.cli.core import CacheDir, ModelsDir, TrackingUri
from lightning_eq.config import Config, check_model_key, merge
from lightning_eq.errors import ConfigError
from lightning_eq.tracking import DEFAULT_TRACKING_URI

log = logging.getLogger(__name__)
DEFAULT_STORAGE = "sqlite:///mlruns/optuna.db"  # lightning_eq.training.sweep.DEFAULT_STORAGE, without importing optuna

Storage = typer.Option(DEFAULT_STORAGE, "--storage", envvar="LIGHTNING_EQ_STORAGE",
                       help="Optuna study storage: sqlite:///path (one machine) or postgresql://user@host/db (many).")
SweepsDir = typer.Option(None, "--sweeps-dir", help="Folder of <model>.yaml search spaces (default: the project's sweeps/).")
Host = typer.Option("127.0.0.1", "--host", help="Address to listen on (127.0.0.1: this machine only).")


def parse_sets(items: list[str]) -> dict:
    """["head.max_epochs=5", "head.lr=0.05"] -> {"head": {"max_epochs": 5, "lr": 0.05}}; values read as YAML."""
    from lightning_eq.training.space import nest

    values = {}
    for item in items:
        path, sep, text = item.partition("=")
        if not sep or not path.strip():
            raise ConfigError(f"--set expects FIELD=VALUE such as head.max_epochs=5, got {item!r}.")
        values[path.strip()] = yaml.safe_load(text)
    return nest(values)


def _trainer_config(cache_dir: Optional[str], accelerator: str, devices: str) -> Config:
    if accelerator not in ("auto", "cpu", "gpu"):
        raise ConfigError(f"--accelerator must be auto, cpu or gpu, got {accelerator!r}.")
    cfg = Config()
    if cache_dir:
        cfg.embedders.cache_dir = cache_dir
    return merge(cfg, {"trainer": {"accelerator": accelerator, "devices": devices}}, "--accelerator/--devices")


def _check_uri(uri: str, prefixes: tuple[str, ...], what: str, hint: str) -> None:
    if not uri.startswith(prefixes):
        raise ConfigError(f"Unsupported {what} {uri!r}; use {hint}.")


def _folds(fold: str) -> list[int]:
    if fold == "all":
        return [0, 1, 2, 3]
    if fold.isdigit() and int(fold) in range(4):
        return [int(fold)]
    raise ConfigError(f"--fold must be 0, 1, 2, 3 or all, got {fold!r}.")


@app.command()
def sweep(
    model: str = typer.Option(..., "--model", help="Model key(s) to sweep, comma-separated (e.g. attention or glove,bert)."),
    fold: str = typer.Option("all", "--fold", help="Word-disjoint fold 0-3, or all (one study each)."),
    trials: Optional[int] = typer.Option(None, "--trials", help="Finished trials per study, over all workers (default: the YAML's)."),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="Seconds after which no new trial starts (per worker)."),
    workers: int = typer.Option(1, "--workers", help="Worker processes on this machine, all on the same study."),
    storage: str = Storage,
    tracking_uri: str = TrackingUri,
    no_tracking: bool = typer.Option(False, "--no-tracking", help="Run the studies without MLflow."),
    accelerator: str = typer.Option("auto", "--accelerator", help="auto, cpu or gpu (with --workers N: one GPU per worker)."),
    devices: str = typer.Option("auto", "--devices", help="Lightning devices per trial: auto, a count, or GPU ids such as '1,'."),
    sets: List[str] = typer.Option([], "--set", help="Config override on top of the YAML's fixed:, e.g. head.max_epochs=5."),
    sweeps_dir: Optional[Path] = SweepsDir,
    cache_dir: Optional[str] = CacheDir,
) -> None:
    """Run one Optuna study per (model, fold); each trial is an MLflow child run. Resumes existing studies."""
    from lightning_eq.training.space import load_spec

    # Arguments first, before the ML stack loads (seconds) or anything is embedded.
    models = [check_model_key(m.strip()) for m in model.split(",") if m.strip()]
    folds = _folds(fold)
    cfg = _trainer_config(cache_dir, accelerator, devices)
    overrides = parse_sets(sets)
    for key in models:
        load_spec(key, sweeps_dir)
    _check_uri(storage, ("sqlite:///", "postgresql://", "postgresql+psycopg2://"), "study storage",
               "sqlite:///path/optuna.db (one machine) or postgresql://user@host:5432/db (many machines)")
    if not no_tracking:
        _check_uri(tracking_uri, ("sqlite:///", "http://", "https://"), "tracking URI",
                   "sqlite:///mlruns/mlflow.db or http://host:5000 (MLflow 3 no longer accepts a plain folder)")

    from lightning_eq.data.socialeq import load_hq_words, load_records
    from lightning_eq.embeddings import embed_vocabulary
    from lightning_eq.tracking.sweeps import run_sweeps, sweep_embedders
    from lightning_eq.training.evaluate import Embeddings
    from lightning_eq.training.report import sweep_table

    data, hq_words = load_records(cfg.data_path or None, cfg.language), load_hq_words()
    keys = sweep_embedders(models, cfg, sweeps_dir, overrides)
    emb = Embeddings(data.words, embed_vocabulary(keys, data.words, cfg.embedders, cache_dir) if keys else {})
    results = run_sweeps(cfg, emb, models, folds, trials, storage, None if no_tracking else tracking_uri,
                         data=data, hq_words=hq_words, workers=workers, timeout_s=timeout, sweeps_dir=sweeps_dir,
                         overrides=overrides)
    typer.echo("\n" + sweep_table(results))
    if not no_tracking:
        typer.echo(f"Runs: lightning-eq ui --tracking-uri {tracking_uri}")
    typer.echo(f"Studies: lightning-eq dashboard --storage {storage}")


@app.command()
def dashboard(storage: str = Storage, host: str = Host,
              port: int = typer.Option(8080, "--port", help="Port of the dashboard.")) -> None:
    """Open optuna-dashboard on the study storage."""
    if storage.startswith("sqlite:///") and not Path(storage.removeprefix("sqlite:///")).is_file():
        raise ConfigError(f"No study storage at {storage}; run `lightning-eq sweep` first or pass --storage.")
    from optuna_dashboard import run_server

    from lightning_eq.tracking.studies import sqlalchemy_url

    typer.echo(f"Optuna dashboard for {storage} at http://{host}:{port}/ (Ctrl-C to stop)")
    run_server(sqlalchemy_url(storage), host=host, port=port)


@app.command()
def ui(tracking_uri: str = TrackingUri, host: str = Host,
       port: int = typer.Option(5000, "--port", help="Port of the MLflow UI.")) -> None:
    """Open the MLflow UI on the tracking store."""
    if tracking_uri.startswith(("http://", "https://")):
        typer.echo(f"{tracking_uri} is an MLflow server already: open it in a browser.")
        return
    if tracking_uri.startswith("sqlite:///") and not Path(tracking_uri.removeprefix("sqlite:///")).is_file():
        raise ConfigError(f"No MLflow store at {tracking_uri}; run `lightning-eq sweep` first or pass --tracking-uri.")
    typer.echo(f"MLflow UI for {tracking_uri} at http://{host}:{port}/ (Ctrl-C to stop)")
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", tracking_uri, "--host", host, "--port", str(port)]
    raise typer.Exit(subprocess.run(cmd).returncode)


@app.command()
def promote(
    model: Optional[str] = typer.Option(None, "--model", help="Promote this model key (default: the best of the sweeps)."),
    storage: str = Storage,
    tracking_uri: str = TrackingUri,
    accelerator: str = typer.Option("auto", "--accelerator", help="auto, cpu or gpu."),
    models_dir: Path = ModelsDir,
    sweeps_dir: Optional[Path] = SweepsDir,
    cache_dir: Optional[str] = CacheDir,
) -> None:
    """Train the best configuration on all the data; register it as `lightning-eq` with the alias `champion`."""
    from lightning_eq.tracking.registry import promote as promote_model

    cfg = _trainer_config(cache_dir, accelerator, "auto")
    p = promote_model(cfg, model=model, storage=storage, tracking_uri=tracking_uri, models_dir=models_dir,
                      sweeps_dir=sweeps_dir)
    typer.echo(f"Registered lightning-eq version {p.version} ({p.key}) as @champion: {p.reason}.")
    typer.echo(f"Serve it (in the activated venv, which has uvicorn): MLFLOW_TRACKING_URI={tracking_uri} "
               "mlflow models serve -m models:/lightning-eq@champion --env-manager local -p 5001")
    typer.echo('Predict with it: lightning-eq predict "warm"')
