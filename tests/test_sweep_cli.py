"""The sweep commands as a user runs them: one-line errors for bad arguments, and `dashboard` and `ui` serving
the study storage and the MLflow store on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import optuna
import pytest

from lightning_eq.cli.sweeps import parse_sets
from lightning_eq.errors import ConfigError
from processes import start, stop_tree
from test_sweep_helpers import free_port, wait_http

CLI = str(Path(sys.executable).parent / "lightning-eq")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.mark.slow  # the real command, in a subprocess
@pytest.mark.parametrize("args, words", [
    (["sweep", "--model", "glvoe"], "Unknown model 'glvoe'. Choose one of:"),
    (["sweep", "--model", "glove", "--fold", "7"], "--fold must be 0, 1, 2, 3 or all"),
    (["sweep", "--model", "glove", "--accelerator", "tpu"], "--accelerator must be auto, cpu or gpu"),
    (["sweep", "--model", "glove", "--set", "head.dropout"], "--set expects FIELD=VALUE"),
    (["sweep", "--model", "mean"], "No search space for model 'mean'"),
    (["dashboard", "--storage", "sqlite:///nowhere/optuna.db"], "No study storage at sqlite:///nowhere/optuna.db"),
    (["ui", "--tracking-uri", "sqlite:///nowhere/mlflow.db"], "No MLflow store at"),
    (["sweep", "--model", "glove", "--storage", "redis://localhost"], "Unsupported study storage"),
])
def test_bad_arguments_are_one_line_errors(tmp_path, args, words):
    done = run(*args, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and words in done.stderr, done.stderr


def test_set_values_are_read_as_yaml():
    assert parse_sets(["head.max_epochs=5", "head.hidden_sizes=[64, 32]", "head.scheduler=cosine"]) == {
        "head": {"max_epochs": 5, "hidden_sizes": [64, 32], "scheduler": "cosine"}}
    with pytest.raises(ConfigError):
        parse_sets(["=3"])


@contextmanager
def serving(cmd: list[str], url: str, cwd: Path):
    """(process, first line it printed) while ``url`` answers; then the whole process tree is stopped.

    `lightning-eq ui` runs `mlflow ui` in a child, which starts uvicorn workers, a job runner and seven huey
    consumers: terminating `lightning-eq` alone would leave all of them running (see tests/processes.py)."""
    proc = start(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        wait_http(url, 120, proc)
        yield proc, proc.stdout.readline()
    finally:
        stop_tree(proc)
        proc.stdout.close()


@pytest.mark.slow
def test_dashboard_serves_the_studies(tmp_path):
    storage = f"sqlite:///{tmp_path}/optuna.db"
    optuna.create_study(study_name="glove-fold0", storage=storage).optimize(lambda t: t.suggest_float("x", 0, 1), 2)
    port = free_port()
    with serving([CLI, "dashboard", "--storage", storage, "--port", str(port)], f"http://127.0.0.1:{port}/",
                 tmp_path) as (_, banner):
        assert f"http://127.0.0.1:{port}/" in banner
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=10) as response:
            names = [s["study_name"] for s in json.load(response)["study_summaries"]]
        assert names == ["glove-fold0"]


@pytest.mark.slow
def test_ui_serves_the_mlflow_store(tmp_path):
    from lightning_eq.tracking.runs import experiment_id, tracking_client

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    experiment_id(tracking_client(uri))
    port = free_port()
    with serving([CLI, "ui", "--tracking-uri", uri, "--port", str(port)], f"http://127.0.0.1:{port}/health",
                 tmp_path) as (_, banner):
        assert f"http://127.0.0.1:{port}/" in banner
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search",
                                         json.dumps({"max_results": 10}).encode(), {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            names = {e["name"] for e in json.load(response)["experiments"]}
        assert "lightning-eq-sweeps" in names
