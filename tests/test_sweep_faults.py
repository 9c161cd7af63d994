"""A worker killed with SIGKILL mid-trial: Optuna's storage heartbeat fails its trial and
``RetryHeartbeatStaleTrialCallback`` queues it again with the same parameters, the trial's MLflow run ends KILLED
(not RUNNING), nothing finished is lost, and running the same command again resumes the study to its budget.

Runs the real command (`lightning-eq sweep`) in subprocesses, on the real GloVe vectors (cached once). The search
space's YAML sets a 1 s heartbeat and a 3 s grace period, and trials of a few hundred short epochs (no early stop,
no pruner), so a trial lasts a few seconds and can be killed once it has logged epochs."""

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

from engine import write_space
from processes import start, stop_tree

CLI = [str(Path(sys.executable).parent / "lightning-eq"), "sweep", "--model", "glove", "--scope", "0"]
EPOCHS = 300  # about 15 ms each here: a trial of a few seconds


def sweep_cmd(tmp: Path, cache: str, trials: int) -> list[str]:
    return [*CLI, "--trials", str(trials), "--sweeps-dir", str(tmp), "--storage", f"sqlite:///{tmp}/optuna.db",
            "--tracking-uri", f"sqlite:///{tmp}/mlflow.db", "--cache-dir", cache, "--accelerator", "cpu"]


def run_cli(cmd: list[str], tmp: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def wait_for_epochs(url: str, name: str, number: int, client: MlflowClient, proc: subprocess.Popen,
                    timeout_s: float = 120) -> optuna.trial.FrozenTrial:
    """Trial ``number`` of study ``name`` once it runs and its MLflow run has received epoch metrics."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the worker ended before it could be killed"
        trials = optuna.load_study(study_name=name, storage=url).trials
        if len(trials) > number and trials[number].state == TrialState.RUNNING:
            run_id = trials[number].user_attrs.get("mlflow_run_id")
            if run_id and client.get_metric_history(run_id, "epoch/val/mae_unit"):
                return trials[number]
        time.sleep(0.2)
    pytest.fail(f"trial {number} never logged an epoch")


@pytest.mark.slow
def test_sigkill_mid_trial_then_resume(tmp_path, glove_cache):
    write_space(tmp_path, trials=3, sweep={"pruner": "none", "heartbeat_interval_s": 1, "grace_period_s": 3},
                fixed={"head": {"max_epochs": EPOCHS, "patience": EPOCHS, "hidden_sizes": [16]}})
    url, tracking = f"sqlite:///{tmp_path}/optuna.db", f"sqlite:///{tmp_path}/mlflow.db"
    run_cli(sweep_cmd(tmp_path, glove_cache, trials=1), tmp_path)  # trial 0 (the default) finishes
    [name] = optuna.get_all_study_names(url)
    assert name.startswith("glove-fold0-")
    first = optuna.load_study(study_name=name, storage=url).trials[0]
    client = MlflowClient(tracking)

    worker = start(sweep_cmd(tmp_path, glove_cache, trials=3), cwd=tmp_path, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    try:
        doomed = wait_for_epochs(url, name, 1, client, worker)  # mid-trial: epochs logged, far from the last
        os.kill(worker.pid, signal.SIGKILL)
        assert worker.wait(timeout=30) == -signal.SIGKILL
    finally:
        stop_tree(worker)  # anything it started, if the test failed before the kill
    assert client.get_run(doomed.user_attrs["mlflow_run_id"]).info.status == "RUNNING"  # nobody could end it

    resumed = run_cli(sweep_cmd(tmp_path, glove_cache, trials=3), tmp_path)  # the same command again
    assert f"| {name} | 3 (3, 0, 1) |" in resumed.stdout

    trials = optuna.load_study(study_name=name, storage=url).trials
    assert trials[0].state == TrialState.COMPLETE and trials[0].value == first.value  # nothing finished is lost
    assert trials[1].state == TrialState.FAIL  # by heartbeat
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == 1]
    assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE and retries[0].params == doomed.params
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 3 and len(trials) == 4
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]

    killed = client.get_run(doomed.user_attrs["mlflow_run_id"])
    assert killed.info.status == "KILLED" and killed.data.tags["state"] == "FAIL"
    assert "heartbeat" in killed.data.tags["error"]
    assert client.get_metric_history(killed.info.run_id, "epoch/train/mae_unit")  # it did log epochs before dying
    retry = client.get_run(retries[0].user_attrs["mlflow_run_id"])
    assert retry.info.run_id != killed.info.run_id and retry.info.status == "FINISHED"
    assert retry.data.tags["optuna.retry_of"] == "1" and retry.data.tags["state"] == "COMPLETE"
    runs = client.search_runs([killed.info.experiment_id])
    assert not [r.info.run_name for r in runs if r.info.status == "RUNNING"]
    parent = client.get_run(optuna.load_study(study_name=name, storage=url).user_attrs["mlflow_parent_run_id"])
    assert parent.info.status == "FINISHED" and parent.data.metrics["trials/finished"] == 3
    assert parent.data.metrics["trials/failed"] == 1
