"""Promote to the MLflow registry, hermetically (stores in tmp_path, the session's embedding cache): from finished
``all`` studies, the champion is the model with the lowest objective on the English words, the bilingual e5 among
them (and the reason says when the data cannot separate it from another); one pyfunc `lightning-eq` with two routes
(en -> champion, multi -> e5) is registered, or one route when a multilingual model is the champion; promoting again moves the alias and keeps older versions; the champion loads the same through the
SQLite fast path and through MLflow's client; predict uses it by default; `mlflow models serve` answers a real HTTP
request with one row per description.

The studies are tiny (knn and ridge on the real GloVe vectors, an e5 head of 16 units for a few epochs on the real
e5 vectors), so the whole module takes about a minute."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import optuna
import pandas as pd
import pytest
from mlflow import MlflowClient

from engine import write_space
from lightning_eq.config import Config, merge
from lightning_eq.embeddings.vectors import Vectors
from lightning_eq.predict import load_predictor
from lightning_eq.search.runner import best_trial, trial_config
from lightning_eq.tracking import CHAMPION, REGISTERED_MODEL
from lightning_eq.tracking import champion as champion_module
from lightning_eq.tracking.champion import load_champion, local_champion
from lightning_eq.training.nested import SweepRequest, sweep_model
from lightning_eq.training.promote import promote
from processes import free_port, start, stop_tree, wait_http

pytestmark = pytest.mark.slow  # real GloVe and e5 vectors, MLflow model logging
ENGLISH = ("knn", "ridge")
COLUMNS = ["text", "language", "model", "confidence", "amount", "curve_z"]


def write_spaces(folder: Path) -> None:
    baseline = {"sweep": {"pruner": "none", "n_startup_trials": 1}, "fixed": {"baseline": {"embedder": "glove"}}}
    write_space(folder, "knn", trials=3, space={"baseline.knn_k": {"low": 2, "high": 40, "log": True}}, **baseline)
    write_space(folder, "ridge", trials=3, space={"baseline.ridge_alpha": {"low": 1.0, "high": 10000.0, "log": True}},
                **baseline)
    write_space(folder, "e5", trials=2, sweep={"pruner": "none"},
                fixed={"data": {"language": "all"}, "head": {"max_epochs": 4, "patience": 2, "hidden_sizes": [16]}})


@pytest.fixture(scope="module")
def registry(tmp_path_factory, data_all, glove_cache):
    """``all`` studies of knn, ridge and e5; then the English runner-up promoted on request (version 1) and the
    champion chosen by the studies (version 2)."""
    tmp = tmp_path_factory.mktemp("registry")
    write_spaces(tmp)
    cfg = merge(Config(), {"embedders.cache_dir": glove_cache})  # the models embed new text through this cache
    vectors = Vectors(data_all.words, glove_cache)
    uri, storage = f"sqlite:///{tmp}/mlflow.db", f"sqlite:///{tmp}/optuna.db"
    sweeps = {}
    for key in (*ENGLISH, "e5"):
        request = SweepRequest([key], ["all"], storage=storage, tracking_uri=None, sweeps_dir=tmp)
        sweeps[key] = sweep_model(key, cfg, data_all, [], vectors, request)
    studies = {k: optuna.load_study(study_name=s.studies[0]["study"], storage=storage) for k, s in sweeps.items()}
    runner_up = max(ENGLISH, key=lambda k: best_trial(studies[k]).value)
    alone_uri = f"sqlite:///{tmp}/alone.db"  # e5 asked for: a multilingual champion answers every language alone
    alone = promote(cfg, model="e5", storage=storage, tracking_uri=alone_uri, data=data_all, vectors=vectors)
    # Last in ``uri``: MLflow's client path resolves a logged model through the process's global store, which
    # register() leaves at the last store it registered in.
    first = promote(cfg, model=runner_up, storage=storage, tracking_uri=uri, data=data_all, vectors=vectors)
    second = promote(cfg, storage=storage, tracking_uri=uri, data=data_all, vectors=vectors)
    return {"tmp": tmp, "uri": uri, "cache": glove_cache, "studies": studies, "runner_up": runner_up, "first": first,
            "second": second, "alone": alone, "alone_uri": alone_uri, "spanish": sorted({r.descriptor for r in data_all.records if r.lang == "Español"}
                                                - {r.descriptor for r in data_all.records if r.lang == "English"})}


def test_the_champion_is_the_lowest_objective_on_the_english_words_and_ties_are_said(registry):
    best = {k: best_trial(registry["studies"][k]) for k in (*ENGLISH, "e5")}
    metrics = {k: t.user_attrs["cv"]["metrics"] for k, t in best.items()}
    value = {k: (m["val/en/mae_unit"], m["val/en/mae_unit_se"]) for k, m in metrics.items()}
    assert all(value[k] == (best[k].value, best[k].user_attrs["cv"]["stderr"]) for k in ENGLISH)  # English: the objective
    assert value["e5"][0] != best["e5"].value and "val/es/mae_unit" in metrics["e5"]  # bilingual: its English records
    champion = min(value, key=lambda k: value[k][0])
    assert champion in ENGLISH, f"the tiny e5 head won on English {value}: the route tests below assume two routes"
    reason = registry["second"].reason
    assert registry["second"].routes == {"en": champion, "multi": "e5"} and champion != registry["runner_up"]
    assert reason.startswith(f"lowest cross-validated MAE on the English words, {value[champion][0]:.4f} ± "
                             f"{value[champion][1]:.4f}")
    for other in (k for k in value if k != champion):
        inseparable = value[other][0] - value[champion][0] < math.hypot(value[champion][1], value[other][1])
        assert (other in reason) == inseparable, (value, reason)
    assert registry["first"].routes == {"en": registry["runner_up"], "multi": "e5"}
    assert registry["first"].reason.startswith("asked for; best trial")


def test_one_pyfunc_with_two_routes_rebuilt_from_the_stored_configurations(registry):
    routes = load_champion(registry["uri"])
    champion = registry["second"].routes["en"]
    assert {name: stored.key for name, stored in routes.items()} == {"en": champion, "multi": "e5"}
    assert routes["en"].config == trial_config(best_trial(registry["studies"][champion]))  # never today's YAML
    assert routes["multi"].config == trial_config(best_trial(registry["studies"]["e5"]))
    assert routes["multi"].config.data.language == "all" and routes["en"].config.data.language == "English"
    assert routes["en"].coverage is not None and routes["multi"].coverage is not None  # each has its confidence
    client = MlflowClient(registry["uri"])
    version = client.get_model_version(REGISTERED_MODEL, "2")
    assert (version.tags["route.en"], version.tags["route.multi"]) == (champion, "e5")


def test_a_multilingual_champion_is_one_route_that_answers_every_language(registry, tmp_path):
    assert registry["alone"].routes == {"all": "e5"}
    routes = load_champion(registry["alone_uri"])
    assert set(routes) == {"all"} and routes["all"].config == trial_config(best_trial(registry["studies"]["e5"]))
    predictor = load_predictor(models_dir=tmp_path / "no-models", cache_dir=registry["cache"],
                               tracking_uri=registry["alone_uri"])
    warm, other = predictor.predict(["warm", registry["spanish"][0]])
    assert (warm.model, warm.language, other.model, other.language) == ("e5", "en", "e5", "es")


def test_promoting_again_moves_the_alias_and_keeps_older_versions(registry):
    client = MlflowClient(registry["uri"])
    assert (registry["first"].version, registry["second"].version) == (1, 2)
    assert str(client.get_model_version_by_alias(REGISTERED_MODEL, CHAMPION).version) == "2"
    assert {str(v.version) for v in client.search_model_versions(f"name='{REGISTERED_MODEL}'")} == {"1", "2"}
    assert client.get_model_version(REGISTERED_MODEL, "1").tags["route.en"] == registry["runner_up"]


def test_the_champion_loads_the_same_through_sqlite_and_through_mlflow(registry, monkeypatch, tmp_path):
    db = Path(registry["uri"].removeprefix("sqlite:///"))
    found = local_champion(db)
    assert found is not None and found[0] == 2  # the fast path answers for this store
    fast = load_champion(registry["uri"])
    monkeypatch.setattr(champion_module, "local_champion", lambda path: None)  # force MLflow's client
    slow = load_champion(registry["uri"])
    assert fast.keys() == slow.keys() == {"en", "multi"}
    features = {"glove": np.random.default_rng(0).standard_normal((3, 50)).astype(np.float32),
                "e5": np.random.default_rng(1).standard_normal((3, 384)).astype(np.float32)}
    for name in fast:
        assert (fast[name].key, fast[name].config, fast[name].words) == (slow[name].key, slow[name].config, slow[name].words)
        np.testing.assert_array_equal(fast[name].model.predict(features, 3), slow[name].model.predict(features, 3))
    assert load_champion(f"sqlite:///{tmp_path}/absent.db") is None and not (tmp_path / "absent.db").exists()


def test_predict_uses_the_champion_by_default_and_routes_by_language(registry, tmp_path):
    predictor = load_predictor(models_dir=tmp_path / "no-models", cache_dir=registry["cache"],
                               tracking_uri=registry["uri"])
    champion = registry["second"].routes["en"]
    assert predictor.routes_keys == {"en": champion, "multi": "e5"}
    spanish = registry["spanish"][0]
    warm, other = predictor.predict(["warm", spanish])
    assert (warm.model, warm.language, other.model, other.language) == (champion, "en", "e5", "es")
    assert warm.curve_z.shape == other.curve_z.shape == (40,)
    assert 0.0 <= warm.confidence <= 1.0 and 0.0 <= other.confidence <= 1.0


def test_the_pyfunc_gives_one_row_per_description(registry):
    mlflow.set_tracking_uri(registry["uri"])  # conftest restores the global URI after the test
    model = mlflow.pyfunc.load_model(f"models:/{REGISTERED_MODEL}@{CHAMPION}")
    rows = model.predict(pd.DataFrame({"text": ["warm", "bright and airy"]}))
    assert list(rows.columns) == COLUMNS and list(rows["text"]) == ["warm", "bright and airy"]
    assert list(rows["model"]) == [registry["second"].routes["en"]] * 2 and list(rows["language"]) == ["en", "en"]
    curves = np.array(rows["curve_z"].tolist())
    assert curves.shape == (2, 40) and np.isfinite(curves).all() and not np.allclose(curves[0], curves[1])
    assert model.metadata.get_input_schema().input_names() == ["text"]


def test_mlflow_models_serve_answers_invocations(registry):
    port = free_port()
    bin_dir = str(Path(sys.executable).parent)  # `mlflow models serve` starts the `uvicorn` found on PATH
    env = {**os.environ, "MLFLOW_TRACKING_URI": registry["uri"], "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    cmd = [f"{bin_dir}/mlflow", "models", "serve", "-m", f"models:/{REGISTERED_MODEL}@{CHAMPION}",
           "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]
    proc = start(cmd, cwd=registry["tmp"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/ping", 180, proc)
        texts = ["warm", registry["spanish"][0]]
        body = json.dumps({"dataframe_records": [{"text": t} for t in texts]}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:
            predictions = json.load(response)["predictions"]
    finally:
        stop_tree(proc)
    assert [p["text"] for p in predictions] == texts
    assert [(p["language"], p["model"]) for p in predictions] == [("en", registry["second"].routes["en"]), ("es", "e5")]
    assert all(set(COLUMNS) <= set(p) and len(p["curve_z"]) == 40 and 0 <= p["confidence"] <= 1 for p in predictions)


@pytest.mark.parametrize("content, says", [(b"not a pickle", "cannot be read by this version"),
                                           (None, "written by another version")])
def test_a_champion_bundle_of_another_version_is_a_one_line_error(tmp_path, content, says):
    import pickle

    from lightning_eq.errors import ModelNotFound
    from lightning_eq.tracking.champion import read_bundle

    path = tmp_path / "bundle.pkl"
    path.write_bytes(content if content is not None else pickle.dumps({"format": 0, "routes": {}}))
    with pytest.raises(ModelNotFound, match=says) as err:
        read_bundle(path)
    assert "\n" not in str(err.value) and "lightning-eq promote" in str(err.value)
