"""Promote to the MLflow registry: `lightning-eq@champion` loads as a pyfunc that turns text into 40 values,
promoting again moves the alias and keeps older versions, predict uses the champion, and `mlflow models serve`
answers a real HTTP request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from lightning_eq.config import Config
from lightning_eq.embeddings import embed_vocabulary
from lightning_eq.predict import load_predictor
from lightning_eq.tracking import CHAMPION, REGISTERED_MODEL
from lightning_eq.tracking.registry import choose_champion, load_champion, promote
from lightning_eq.tracking.sweeps import run_sweeps
from lightning_eq.training.evaluate import Embeddings
from processes import start
from test_sweep_helpers import free_port, glove_cache, stop_process, wait_http, write_space  # noqa: F401  (fixture)


@pytest.fixture(scope="module")
def registry(tmp_path_factory, data, hq_words, glove_cache):
    """A knn sweep on GloVe (one fold), then `mean` promoted (version 1), then the sweeps' best (version 2)."""
    tmp = tmp_path_factory.mktemp("registry")
    write_space(tmp, "knn", trials=3, sweep={"pruner": "none"}, fixed={"baseline": {"embedder": "glove"}},
                space={"baseline.knn_k": {"low": 2, "high": 40, "log": True}})
    cfg = Config()
    cfg.embedders.cache_dir = glove_cache
    emb = Embeddings(data.words, embed_vocabulary(["glove"], data.words, cfg.embedders, progress=False))
    uri, storage = f"sqlite:///{tmp}/mlflow.db", f"sqlite:///{tmp}/optuna.db"
    (swept,) = run_sweeps(cfg, emb, ["knn"], [0], None, storage, uri, data=data, hq_words=hq_words, sweeps_dir=tmp)
    first = promote(cfg, model="mean", storage=None, tracking_uri=uri, data=data, hq_words=hq_words)
    second = promote(cfg, storage=storage, tracking_uri=uri, data=data, hq_words=hq_words, emb=emb, sweeps_dir=tmp)
    return {"tmp": tmp, "uri": uri, "storage": storage, "cfg": cfg, "swept": swept, "first": first, "second": second}


@pytest.mark.slow
def test_the_sweeps_best_is_chosen_by_test_score_with_its_validation_best_params(registry):
    choice = choose_champion(registry["cfg"], registry["storage"], sweeps_dir=registry["tmp"])
    assert choice.key == "knn" and choice.params == registry["swept"].best_params
    assert choice.config.baseline.knn_k == [registry["swept"].best_params["baseline.knn_k"]]
    assert registry["second"].key == "knn" and "sweeps" in registry["second"].reason


@pytest.mark.slow
def test_promoting_again_moves_the_alias_and_keeps_older_versions(registry):
    client = MlflowClient(registry["uri"])
    assert (registry["first"].version, registry["second"].version) == (1, 2)
    assert str(client.get_model_version_by_alias(REGISTERED_MODEL, CHAMPION).version) == "2"
    assert {str(v.version) for v in client.search_model_versions(f"name='{REGISTERED_MODEL}'")} == {"1", "2"}
    assert client.get_model_version(REGISTERED_MODEL, "1").tags["model_key"] == "mean"


@pytest.mark.slow
def test_the_champion_loads_as_a_pyfunc_that_gives_40_values_for_warm(registry):
    mlflow.set_tracking_uri(registry["uri"])
    model = mlflow.pyfunc.load_model(f"models:/{REGISTERED_MODEL}@{CHAMPION}")
    curves = model.predict(pd.DataFrame({"text": ["warm", "bright and airy"]}))
    assert curves.shape == (2, 40) and np.isfinite(curves).all()
    assert not np.allclose(curves[0], curves[1])  # each description has its own curve
    assert model.metadata.get_input_schema().input_names() == ["text"]
    assert load_champion(registry["uri"]).key == "knn"


@pytest.mark.slow
def test_predict_uses_the_champion_by_default(registry, tmp_path):
    predictor = load_predictor(models_dir=tmp_path / "no-models", tracking_uri=registry["uri"])
    assert predictor.key == "knn" and predictor.predict(["warm"])[0].curve_z.shape == (40,)
    assert load_champion(f"sqlite:///{tmp_path}/absent.db") is None and not (tmp_path / "absent.db").exists()


@pytest.mark.slow
def test_mlflow_models_serve_answers_invocations(registry):
    port = free_port()
    bin_dir = str(Path(sys.executable).parent)  # `mlflow models serve` starts the `uvicorn` found on PATH
    env = {**os.environ, "MLFLOW_TRACKING_URI": registry["uri"], "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    cmd = [f"{bin_dir}/mlflow", "models", "serve", "-m", f"models:/{REGISTERED_MODEL}@{CHAMPION}",
           "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]
    proc = start(cmd, cwd=registry["tmp"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/ping", 180, proc)
        body = json.dumps({"dataframe_records": [{"text": "warm"}, {"text": "bright and airy"}]}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            predictions = json.load(response)["predictions"]
        assert len(predictions) == 2 and all(len(p) == 40 for p in predictions)
    finally:
        stop_process(proc)
