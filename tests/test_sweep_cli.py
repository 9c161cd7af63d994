"""The sweep commands as a user runs them: one-line errors for bad arguments of `sweep`, `promote`, `dashboard` and
`ui`, and `dashboard` and `ui` serving the study storage and the MLflow store on loopback (`ui` prints the URL of
the studies' runs page).

The errors go through ``lightning_eq.cli.main``, the console script's entry point, in this process (fast); one test
runs the installed `lightning-eq` script to show it is the same."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import optuna
import psutil
import pytest

from engine import write_space
from lightning_eq.cli import main
from processes import free_port, start, stop_tree, wait_http

CLI = str(Path(sys.executable).parent / "lightning-eq")
UNKNOWN = "Unknown model 'glvoe'. Choose one of: glove, tok2vec, gpt, bert, e5, gemma, ensemble, attention, flat, mean, knn, ridge."


def error_of(monkeypatch, capsys, *args: str) -> str:
    """The one line that `lightning-eq ARGS` prints on stderr, checked to exit with code 1 and print nothing else."""
    monkeypatch.setattr(sys, "argv", ["lightning-eq", *args])
    with pytest.raises(SystemExit) as done:
        main()
    out, err = capsys.readouterr()
    assert done.value.code == 1 and not out, (done.value.code, out, err)
    assert err.count("\n") == 1 and err.startswith("error: "), err
    return err.removeprefix("error: ").strip()


@pytest.mark.parametrize("args, words", [
    (["sweep", "--model", "glvoe"], UNKNOWN),
    (["sweep", "--model", "glove", "--scope", "7"], "--scope takes outer folds 0-3, 'folds' (all four) and 'all'"),
    (["sweep", "--model", "glove", "--scope", ","], "--scope is empty; use e.g. 0,1,2,3,all."),
    (["sweep", "--model", "glove", "--set", "head.dropout"], "--set expects FIELD=VALUE such as head.dropout=0.2"),
    (["sweep", "--model", "glove", "--set", "head.nope=3"], "unknown setting 'head.nope'"),
    (["sweep", "--model", "glove", "--set", "head.dropout=2"], "head.dropout: Input should be less than 1, got 2."),
    (["sweep", "--model", "glove", "--accelerator", "tpu"], "--accelerator must be auto, cpu or gpu, got 'tpu'"),
    (["sweep", "--model", "glove", "--workers", "0"], "--workers and --trials must be at least 1"),
    (["sweep", "--model", "mean"], "No search space for model 'mean'"),
    (["sweep", "--model", "glove", "--storage", "redis://localhost"], "Unsupported study storage 'redis://localhost'"),
    (["sweep", "--model", "glove", "--tracking-uri", "./mlruns"], "Unsupported tracking URI './mlruns'"),
    (["sweep", "--model", "glove", "--study", "glove-fold0-00000000"], "--study resumes one study: give one --model"),
    (["promote", "--model", "glvoe"], UNKNOWN),
    (["promote", "--storage", "redis://x"], "Unsupported study storage 'redis://x'"),
    (["dashboard", "--storage", "sqlite:///nowhere/optuna.db"], "No study storage at sqlite:///nowhere/optuna.db; run "
                                                                 "`lightning-eq sweep` first or pass --storage."),
    (["ui", "--tracking-uri", "sqlite:///nowhere/mlflow.db"], "No MLflow store at sqlite:///nowhere/mlflow.db"),
    (["ui", "--tracking-uri", "./mlruns"], "Unsupported tracking URI './mlruns'"),
])
def test_bad_arguments_are_one_line_errors(monkeypatch, capsys, args, words):
    assert words in error_of(monkeypatch, capsys, *args)


def test_resuming_a_study_the_storage_does_not_have_lists_the_ones_it_has(tmp_path, monkeypatch, capsys):
    write_space(tmp_path)
    storage = f"sqlite:///{tmp_path}/optuna.db"
    optuna.create_study(study_name="glove-fold0-12345678", storage=storage)
    line = error_of(monkeypatch, capsys, "sweep", "--model", "glove", "--scope", "0", "--study", "glove-fold0-deadbeef",
                    "--storage", storage, "--sweeps-dir", str(tmp_path), "--no-tracking")
    assert line.startswith(f"No study 'glove-fold0-deadbeef' in {storage}; studies of glove fold0 there: "
                           "glove-fold0-12345678. Leave out --study to run this spec's (glove-fold0-")


def test_promote_without_a_finished_all_study_says_what_to_run(tmp_path, monkeypatch, capsys):
    line = error_of(monkeypatch, capsys, "promote", "--storage", f"sqlite:///{tmp_path}/optuna.db",
                    "--tracking-uri", f"sqlite:///{tmp_path}/mlflow.db")
    assert line == ("Nothing to promote: no finished study over all words in the study storage. Run "
                    "`lightning-eq sweep --scope all` or `lightning-eq run` first, or pass --model KEY.")
    assert not (tmp_path / "optuna.db").exists() and not (tmp_path / "mlflow.db").exists()  # looking creates nothing


@pytest.mark.slow  # the installed console script, in a subprocess
def test_the_installed_command_prints_the_same_one_line_error(tmp_path):
    done = subprocess.run([CLI, "sweep", "--model", "glvoe"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", f"error: {UNKNOWN}\n")


@contextmanager
def serving(cmd: list[str], url: str, cwd: Path, lines: int = 1):
    """(process, the first ``lines`` lines it printed) while ``url`` answers; then the whole process tree is stopped.

    `lightning-eq ui` runs `mlflow ui` in a child, which starts uvicorn workers (and, with job execution on, a job
    runner and its consumers): terminating `lightning-eq` alone would leave them running (see tests/processes.py)."""
    proc = start(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        wait_http(url, 120, proc)
        yield proc, [proc.stdout.readline() for _ in range(lines)]
    finally:
        stop_tree(proc)
        proc.stdout.close()


@pytest.mark.slow
def test_dashboard_serves_the_studies(tmp_path):
    storage = f"sqlite:///{tmp_path}/optuna.db"
    optuna.create_study(study_name="glove-fold0-12345678", storage=storage).optimize(
        lambda t: t.suggest_float("x", 0, 1), 2)
    port = free_port()
    with serving([CLI, "dashboard", "--storage", storage, "--port", str(port)], f"http://127.0.0.1:{port}/",
                 tmp_path) as (_, banner):
        assert banner == [f"Optuna dashboard for {storage} at http://127.0.0.1:{port}/ (Ctrl-C to stop)\n"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=10) as response:
            names = [s["study_name"] for s in json.load(response)["study_summaries"]]
        assert names == ["glove-fold0-12345678"]


@pytest.mark.slow
def test_ui_serves_the_mlflow_store_and_prints_the_runs_page_url(tmp_path):
    from lightning_eq.tracking.experiments import runs_page_url
    from lightning_eq.tracking.runs import experiment_id, tracking_client

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    exp = experiment_id(tracking_client(uri))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serving([CLI, "ui", "--tracking-uri", uri, "--port", str(port)], f"{url}/health", tmp_path, 2) as (proc, banner):
        assert banner == [f"MLflow UI for {uri} at {url}/ (Ctrl-C to stop)\n",
                          f"The studies, best first, with their scores: {runs_page_url(url, exp)}\n"]
        assert "workflowType=machine_learning" in banner[1]
        request = urllib.request.Request(f"{url}/api/2.0/mlflow/experiments/search",
                                         json.dumps({"max_results": 10}).encode(), {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            names = {e["name"] for e in json.load(response)["experiments"]}
        assert "lightning-eq-sweeps" in names
        tree = [" ".join(p.cmdline()) for p in psutil.Process(proc.pid).children(recursive=True)]
        assert tree and not [c for c in tree if "huey" in c]  # no MLflow job consumers: the project runs no jobs


def test_serve_with_an_unknown_model_is_one_line_error(monkeypatch, capsys):
    """Regression: lightning_eq.web.app imported check_model_key from lightning_eq.config, where it is no more, so
    every `lightning-eq serve` ended in an ImportError traceback."""
    assert error_of(monkeypatch, capsys, "serve", "--model", "glvoe") == UNKNOWN
