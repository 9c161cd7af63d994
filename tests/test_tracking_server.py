"""A real `mlflow server` on loopback receives a sweep's runs over HTTP: the study's parent run with its scores,
dataset inputs and artifacts (uploaded through the server into its artifact store), and a child run per trial."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient

from engine import FakeVectors, write_space
from lightning_eq.config import Config
from lightning_eq.models.store import load_model
from lightning_eq.search.runner import best_trial, trial_config
from lightning_eq.tracking.experiments import KIND_TAG, TRAINING_KIND
from lightning_eq.training.nested import SweepRequest, sweep_model
from processes import free_port, start, stop_tree, wait_http


@pytest.fixture
def mlflow_server(tmp_path):
    port = free_port()
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{tmp_path}/server.db",
           "--artifacts-destination", str(tmp_path / "server-artifacts"), "--host", "127.0.0.1", "--port", str(port),
           "--workers", "1"]
    proc = start(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", 120, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_tree(proc)


@pytest.mark.slow
def test_a_sweep_logs_to_an_mlflow_server(tmp_path, mlflow_server, data_all, hq_words):
    write_space(tmp_path, trials=2, epochs=3)
    request = SweepRequest(["glove"], ["fold0"], storage=f"sqlite:///{tmp_path}/optuna.db", tracking_uri=mlflow_server,
                           sweeps_dir=tmp_path)
    result = sweep_model("glove", Config(), data_all, hq_words, FakeVectors(data_all.words), request)
    client = MlflowClient(mlflow_server)
    name = result.studies[0]["study"]
    [parent] = client.search_runs(client.search_experiments(filter_string="name = 'lightning-eq-sweeps'")[0].experiment_id,
                                  "tags.`mlflow.parentRunId` IS NULL")
    assert parent.info.run_name == name and parent.info.status == "FINISHED"
    assert client.get_experiment(parent.info.experiment_id).tags[KIND_TAG] == TRAINING_KIND
    assert parent.data.metrics["best/val_mae_unit"] == pytest.approx(result.studies[0]["best_value"])
    assert parent.data.metrics["test/mae_unit"] == pytest.approx(result.folds[0].swept_test["test/mae_unit"])
    assert {i.tags[0].value for i in parent.inputs.dataset_inputs} == {"training", "test"}

    runs = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert sorted(r.data.tags["optuna.trial"] for r in runs) == ["0", "1"]
    assert {(r.info.status, r.data.tags["state"]) for r in runs} == {("FINISHED", "COMPLETE")}
    assert client.get_metric_history(runs[0].info.run_id, "epoch/val/mae_unit")

    files = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"curves_test.png", "optimization_history.png", "best_checkpoint"} <= files
    assert len(list((tmp_path / "server-artifacts").rglob("glove.pt"))) == 1  # uploaded through the server
    local = Path(client.download_artifacts(parent.info.run_id, "best_checkpoint/glove.pkl", str(tmp_path / "download")))
    stored = load_model(local.parent, "glove")  # back through the server: the refitted swept model
    assert stored.config == trial_config(best_trial(optuna.load_study(study_name=name, storage=request.storage)))
