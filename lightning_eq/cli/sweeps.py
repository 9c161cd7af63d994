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

from lightning_eq.cli import app
from lightning_eq.search import DEFAULT_STORAGE
from lightning_eq.cli.core import CacheDir, Sets, TrackingUri, base_config
from lightning_eq.errors import ConfigError

log = logging.getLogger(__name__)

Storage = typer.Option(DEFAULT_STORAGE, "--storage", envvar="LIGHTNING_EQ_STORAGE",
                       help="Optuna study storage: sqlite:///path (one machine) or postgresql://user@host/db (many).")
SweepsDir = typer.Option(None, "--sweeps-dir", help="Folder of <model>.yaml search spaces (default: the project's sweeps/).")
Host = typer.Option("127.0.0.1", "--host", help="Address to listen on (127.0.0.1: this machine only).")


def check_uris(storage: str, tracking_uri: str | None) -> None:
    from lightning_eq.search.storage import check_storage_url

    check_storage_url(storage)
    if tracking_uri is not None:
        check_tracking_uri(tracking_uri)


def check_tracking_uri(tracking_uri: str) -> None:
    if not tracking_uri.startswith(("sqlite:///", "http://", "https://")):
        raise ConfigError(f"Unsupported tracking URI {tracking_uri!r}; use sqlite:///mlruns/mlflow.db or http://host:5000 "
                          "(MLflow 3 no longer accepts a plain folder).")


def parse_scopes(scope: str) -> list[str]:
    """"0,1,2,3,all" -> ["fold0", ..., "all"]."""
    out = []
    for part in (p.strip() for p in scope.split(",") if p.strip()):
        if part == "all":
            out.append("all")
        elif part == "folds":
            out += ["fold0", "fold1", "fold2", "fold3"]
        elif part.removeprefix("fold").isdigit() and int(part.removeprefix("fold")) in range(4):
            out.append(f"fold{int(part.removeprefix('fold'))}")
        else:
            raise ConfigError(f"--scope takes outer folds 0-3, 'folds' (all four) and 'all' (every word), comma-separated; got {part!r}.")
    if not out:
        raise ConfigError("--scope is empty; use e.g. 0,1,2,3,all.")
    return list(dict.fromkeys(out))


@app.command()
def sweep(
    model: str = typer.Option(..., "--model", help="Model key(s) to sweep, comma-separated (e.g. attention or glove,bert)."),
    scope: str = typer.Option("folds,all", "--scope", help="Which studies: outer folds 0-3 (each searches inside the "
                              "fold's training words; its choice is scored once on the fold's test words), 'folds' for all "
                              "four, and 'all' (every word: the configuration that is promoted). Comma-separated."),
    trials: Optional[int] = typer.Option(None, "--trials", help="Finished trials per study, over all workers (default: the YAML's)."),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="Seconds after which a worker starts no new trial."),
    workers: int = typer.Option(1, "--workers", help="Worker processes on this machine, all on the same study."),
    study: Optional[str] = typer.Option(None, "--study", help="Resume this study by name (one model and one scope); "
                                        "refused when its search space, settings, data or objective changed."),
    storage: str = Storage,
    tracking_uri: str = TrackingUri,
    no_tracking: bool = typer.Option(False, "--no-tracking", help="Run the studies without MLflow."),
    accelerator: str = typer.Option("auto", "--accelerator", help="auto, cpu or gpu (with --workers N: one GPU per worker)."),
    sets: List[str] = Sets,
    sweeps_dir: Optional[Path] = SweepsDir,
    cache_dir: Optional[str] = CacheDir,
) -> None:
    """Run Optuna studies per model: trial 0 is the default configuration; each trial is scored by inner
    word-disjoint folds and logged as an MLflow child run. Studies resume where they stopped."""
    from lightning_eq.config import parse_sets
    from lightning_eq.models.catalog import check_model_key

    models = [check_model_key(m.strip()) for m in model.split(",") if m.strip()]
    scopes = parse_scopes(scope)
    if workers < 1 or (trials is not None and trials < 1):
        raise ConfigError(f"--workers and --trials must be at least 1, got {workers} and {trials}.")
    check_uris(storage, None if no_tracking else tracking_uri)
    overrides = parse_sets(list(sets))
    if timeout is not None:
        overrides["sweep.timeout_s"] = timeout
    if accelerator not in ("auto", "cpu", "gpu"):
        raise ConfigError(f"--accelerator must be auto, cpu or gpu, got {accelerator!r}.")
    if accelerator != "auto":
        overrides["trainer.accelerator"] = accelerator
    cfg = base_config(cache_dir)
    from lightning_eq.search.space import load_spec, with_overrides

    for key in models:  # every space and setting is checked before the ML stack loads
        with_overrides(load_spec(key, sweeps_dir), overrides)
    from lightning_eq.training.nested import SweepRequest
    from lightning_eq.training.sweeps import run_sweep_command

    request = SweepRequest(models, scopes, trials, workers, storage, None if no_tracking else tracking_uri, sweeps_dir,
                           overrides, study)
    table = run_sweep_command(cfg, request, cache_dir)
    typer.echo("\n" + table)
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

    from lightning_eq.search.storage import sqlalchemy_url

    typer.echo(f"Optuna dashboard for {storage} at http://{host}:{port}/ (Ctrl-C to stop)")
    run_server(sqlalchemy_url(storage), host=host, port=port)


@app.command()
def ui(tracking_uri: str = TrackingUri, host: str = Host,
       port: int = typer.Option(5000, "--port", help="Port of the MLflow UI.")) -> None:
    """Open the MLflow UI on the tracking store."""
    check_tracking_uri(tracking_uri)  # before MLflow loads: a wrong URI is a one-line error at once
    if tracking_uri.startswith(("http://", "https://")):
        typer.echo(f"{tracking_uri} is an MLflow server already: open it in a browser.")
        return
    if tracking_uri.startswith("sqlite:///") and not Path(tracking_uri.removeprefix("sqlite:///")).is_file():
        raise ConfigError(f"No MLflow store at {tracking_uri}; run `lightning-eq sweep` first or pass --tracking-uri.")
    import os

    from lightning_eq.tracking.experiments import runs_page_url
    from lightning_eq.tracking.runs import EXPERIMENT, tracking_client

    found = tracking_client(tracking_uri).get_experiment_by_name(EXPERIMENT)
    url = f"http://{host}:{port}"
    typer.echo(f"MLflow UI for {tracking_uri} at {url}/ (Ctrl-C to stop)")
    if found is not None:
        typer.echo(f"The studies, best first, with their scores: {runs_page_url(url, found.experiment_id)}")
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", tracking_uri, "--host", host, "--port", str(port)]
    # The project runs no MLflow jobs: without job execution the UI starts no job consumers (seven processes).
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    raise typer.Exit(subprocess.run(cmd, env=env).returncode)


@app.command()
def promote(
    model: Optional[str] = typer.Option(None, "--model", help="Promote this model key for English (default: the model "
                                        "whose all-words study reached the lowest cross-validated MAE on the English words; a multilingual champion "
                                        "answers every language)."),
    storage: str = Storage,
    tracking_uri: str = TrackingUri,
    cache_dir: Optional[str] = CacheDir,
) -> None:
    """Refit the chosen configurations (stored on their best trials) on all the data and register them as one
    routing pyfunc `lightning-eq` with the alias `champion`."""
    check_uris(storage, tracking_uri)
    if model:
        from lightning_eq.models.catalog import check_model_key

        check_model_key(model)
    from lightning_eq.training.promote import promote as promote_champion

    p = promote_champion(base_config(cache_dir), model=model, storage=storage, tracking_uri=tracking_uri, cache_dir=cache_dir)
    from lightning_eq.training.promote import routes_line

    typer.echo(f"Registered lightning-eq version {p.version} as @champion: {routes_line(p.routes)} ({p.reason}).")
    typer.echo(f"Serve it (in the activated venv, which has uvicorn): MLFLOW_TRACKING_URI={tracking_uri} "
               "mlflow models serve -m models:/lightning-eq@champion --env-manager local -p 5001")
    typer.echo('Predict with it: lightning-eq predict "warm"')
