"""A worker killed with SIGKILL mid-trial: the study resumes and completes, the stale trial is failed by its
heartbeat and retried with the same parameters, no finished trial is lost, and its MLflow run is not RUNNING.

Runs the real command (`lightning-eq sweep`) in subprocesses, on the real GloVe vectors (cached once)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState

from processes import start, stop_tree
from test_sweep_helpers import glove_cache, write_space  # noqa: F401  (fixture)

CLI = [str(Path(sys.executable).parent / "lightning-eq"), "sweep", "--model", "glove", "--fold", "3"]


def sweep_cmd(tmp: Path, cache: str, trials: int, epochs: int) -> list[str]:
    return [*CLI, "--trials", str(trials), "--set", f"head.max_epochs={epochs}", "--sweeps-dir", str(tmp),
            "--storage", f"sqlite:///{tmp}/optuna.db", "--tracking-uri", f"sqlite:///{tmp}/mlflow.db",
            "--cache-dir", cache, "--accelerator", "cpu"]


def run_cli(cmd: list[str], tmp: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def wait_for_running_trial(url: str, number: int, proc: subprocess.Popen, timeout_s: float = 120) -> optuna.trial.FrozenTrial:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the worker ended before it could be killed"
        try:
            trials = optuna.load_study(study_name="glove-fold3", storage=url).trials
        except KeyError:  # study not created yet
            trials = []
        if len(trials) > number and trials[number].state == TrialState.RUNNING and "mlflow_run_id" in trials[number].user_attrs:
            return trials[number]
        time.sleep(0.3)
    pytest.fail(f"trial {number} never started")


@pytest.mark.slow
def test_sigkill_mid_trial_then_resume(tmp_path, glove_cache):
    write_space(tmp_path, trials=3, sweep={"pruner": "none", "heartbeat_interval_s": 1, "grace_period_s": 3})
    url = f"sqlite:///{tmp_path}/optuna.db"
    run_cli(sweep_cmd(tmp_path, glove_cache, trials=1, epochs=3), tmp_path)  # trial 0 finishes
    first = optuna.load_study(study_name="glove-fold3", storage=url).trials[0]

    worker = start(sweep_cmd(tmp_path, glove_cache, trials=3, epochs=100000), cwd=tmp_path,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        doomed = wait_for_running_trial(url, 1, worker)
        time.sleep(1.5)  # mid-trial: a few epochs logged
        os.kill(worker.pid, signal.SIGKILL)
        assert worker.wait(timeout=30) == -signal.SIGKILL
    finally:
        stop_tree(worker)  # anything it started, if the test failed before the kill

    resumed = run_cli(sweep_cmd(tmp_path, glove_cache, trials=3, epochs=3), tmp_path)
    assert "glove-fold3 | 3 (" in resumed.stdout

    trials = optuna.load_study(study_name="glove-fold3", storage=url).trials
    assert trials[0].state == TrialState.COMPLETE and trials[0].value == first.value  # nothing finished is lost
    assert trials[1].state == TrialState.FAIL
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == 1]
    assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE and retries[0].params == doomed.params
    assert sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials) == 3
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]

    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    killed = client.get_run(doomed.user_attrs["mlflow_run_id"])
    assert killed.info.status == "KILLED" and killed.data.tags["optuna.state"] == "FAIL"
    assert client.get_metric_history(killed.info.run_id, "train/mae_unit")  # it did log epochs before dying
    runs = client.search_runs([killed.info.experiment_id])
    assert not [r.info.run_name for r in runs if r.info.status == "RUNNING"]
    assert retries[0].user_attrs["mlflow_run_id"] in {r.info.run_id for r in runs}
