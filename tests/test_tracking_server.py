"""A real `mlflow server` on loopback receives a sweep's runs over HTTP, artifacts included."""

from __future__ import annotations

import subprocess
import sys

import pytest
from mlflow import MlflowClient

from lightning_eq.config import Config
from lightning_eq.training.sweep import FoldData
from lightning_eq.tracking.sweeps import run_sweep
from processes import start
from test_sweep_helpers import fake_embeddings, free_port, stop_process, wait_http, write_space


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
        stop_process(proc)


@pytest.mark.slow
def test_a_sweep_logs_to_an_mlflow_server(tmp_path, mlflow_server, data, hq_words):
    write_space(tmp_path, trials=2, epochs=3)
    fold = FoldData(data, hq_words, fake_embeddings(data.words), 0)
    result = run_sweep("glove", Config(), fold, storage=f"sqlite:///{tmp_path}/optuna.db", tracking_uri=mlflow_server,
                       sweeps_dir=tmp_path)
    client = MlflowClient(mlflow_server)
    parent = client.get_run(result.parent_run_id)
    assert parent.info.status == "FINISHED" and parent.data.metrics["test/mae_unit"] == pytest.approx(result.test_mae_unit)
    runs = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{result.parent_run_id}'")
    assert len(runs) == 2 and {r.info.status for r in runs} == {"FINISHED"}
    assert client.get_metric_history(runs[0].info.run_id, "val/mae_unit")
    files = {a.path for a in client.list_artifacts(result.parent_run_id)}
    assert {"curves_test.png", "optimization_history.png", "best_checkpoint"} <= files
    stored = list((tmp_path / "server-artifacts").rglob("glove.ckpt"))
    assert len(stored) == 1  # uploaded through the server, into its artifact store
