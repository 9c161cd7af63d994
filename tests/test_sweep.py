"""Studies without tracking: the objective reads only inner-training and validation words, the budget is exact,
studies resume, pruning stops trials, and a changed embedder setting is re-embedded once."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from lightning_eq.config import Config, EmbedderConfig
from lightning_eq.training.space import load_spec
from lightning_eq.tracking.studies import load_study, open_storage
from lightning_eq.training.sweep import FoldData, Objective, study_name
from lightning_eq.tracking.sweeps import run_sweep, run_sweeps, sweep_embedders
from lightning_eq.errors import ConfigError
from test_sweep_helpers import fake_embeddings, write_space


@pytest.fixture(scope="module")
def emb(data):
    return fake_embeddings(data.words)


def fold_of(data, hq_words, emb, k=2):
    return FoldData(data, hq_words, emb, k)


def test_validation_words_are_inside_training_and_disjoint_from_test_and_inner(data, hq_words, emb):
    index = fold_of(data, hq_words, emb).indices()
    words = {name: {data.records[i].descriptor for i in idx} for name, idx in index.items()}
    assert not words["val"] & words["test"] and not words["inner"] & words["test"]
    assert not words["val"] & words["inner"]
    assert set(index["val"]) | set(index["inner"]) == set(index["train"])


class SpyFold(FoldData):
    asked: list

    def parts(self, cfg, key, names):
        self.asked = [*getattr(self, "asked", []), *names]
        return super().parts(cfg, key, names)


def test_the_objective_returns_validation_mae_and_never_reads_test_words(tmp_path, data, hq_words, emb):
    spec = load_spec("glove", write_space(tmp_path, epochs=3).parent)
    fold = SpyFold(data, hq_words, emb, 1)
    trial = optuna.create_study().ask()
    value = Objective("glove", Config(), spec, fold)(trial)
    assert 0 < value < 0.5 and math.isfinite(value)
    assert set(fold.asked) == {"inner", "val"}
    assert "best_epoch" in trial.user_attrs["chosen"]


class AlwaysPrune(optuna.pruners.BasePruner):
    def prune(self, study, trial) -> bool:
        return True


def test_the_lightning_pruning_callback_stops_a_poor_trial(tmp_path, data, hq_words, emb):
    spec = load_spec("glove", write_space(tmp_path, epochs=20).parent)
    trial = optuna.create_study(pruner=AlwaysPrune()).ask()
    with pytest.raises(optuna.TrialPruned):
        Objective("glove", Config(), spec, fold_of(data, hq_words, emb))(trial)
    assert list(trial.study.trials[0].intermediate_values) == [0]  # stopped after its first epoch


def test_a_study_meets_its_budget_exactly_and_resumes(tmp_path, data, hq_words, emb):
    write_space(tmp_path, trials=3, epochs=2)
    url = f"sqlite:///{tmp_path}/optuna.db"
    fold = fold_of(data, hq_words, emb, 0)
    first = run_sweep("glove", Config(), fold, trials=2, storage=url, tracking_uri=None, sweeps_dir=tmp_path)
    assert (first.finished, first.trials_run) == (2, 2)
    again = run_sweep("glove", Config(), fold, trials=3, storage=url, tracking_uri=None, sweeps_dir=tmp_path)
    assert (again.finished, again.trials_run) == (3, 1)
    study = optuna.load_study(study_name="glove-fold0", storage=url)
    assert [t.number for t in study.trials] == [0, 1, 2]
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in study.trials)
    assert again.best_trial is not None and "test/mae_unit" in again.test and math.isfinite(again.val_mae_unit)
    assert study.user_attrs["test"]["best_trial"] == again.best_trial


def test_a_time_budget_stops_asking_for_trials(tmp_path, data, hq_words, emb):
    write_space(tmp_path, trials=50, epochs=2)
    result = run_sweep("glove", Config(), fold_of(data, hq_words, emb, 3), timeout_s=0.01,
                       storage=f"sqlite:///{tmp_path}/optuna.db", tracking_uri=None, sweeps_dir=tmp_path)
    assert 1 <= result.finished < 50


def test_baselines_sweep_their_own_settings(tmp_path, data, hq_words, emb):
    write_space(tmp_path, "knn", trials=3, sweep={"pruner": "none"}, fixed={},
                space={"baseline.knn_k": {"low": 1, "high": 30}, "baseline.embedder": {"choices": ["glove", "bert"]}})
    assert sweep_embedders(["knn"], Config(), tmp_path) == ["bert", "glove"]
    (result,) = run_sweeps(Config(), emb, ["knn"], [1], 3, f"sqlite:///{tmp_path}/optuna.db", None, data=data,
                           hq_words=hq_words, sweeps_dir=tmp_path)
    assert result.study == "knn-fold1" and result.finished == 3
    assert result.chosen["k"] == result.best_params["baseline.knn_k"]


def test_missing_embeddings_are_named(tmp_path, data, hq_words):
    write_space(tmp_path, "glove")
    from lightning_eq.training.evaluate import Embeddings

    with pytest.raises(ConfigError, match="need embeddings glove"):
        run_sweeps(Config(), Embeddings(data.words, {}), ["glove"], [0], 1, f"sqlite:///{tmp_path}/o.db", None,
                   data=data, hq_words=hq_words, sweeps_dir=tmp_path)


def test_an_unsupported_storage_is_a_clear_error():
    with pytest.raises(ConfigError, match="sqlite:///path/optuna.db"):
        open_storage("mysql://host/db", load_spec("glove").sweep)


def test_a_searched_gpt_layer_is_embedded_once_per_layer(tmp_path, data, hq_words, emb, monkeypatch):
    """The layer of a gpt trial changes its vectors: they come from build_embedder (cached on disk), once per layer."""
    calls = []

    class LayerEmbedder:
        def __init__(self, layer):
            self.layer = layer

        def embed(self, texts):
            calls.append(self.layer)
            return np.full((len(texts), 32), float(self.layer), dtype=np.float32)

    import lightning_eq.embeddings as embeddings

    monkeypatch.setattr(embeddings, "build_embedder", lambda key, cfg, cache_dir=None: LayerEmbedder(cfg.gpt_layer))
    write_space(tmp_path, "gpt", space={"embedders.gpt_layer": {"choices": [8, 15, 21]}})
    fold = fold_of(data, hq_words, emb)
    for layer in (8, 15, 21, 8):
        cfg = Config(embedders=EmbedderConfig(gpt_layer=layer))
        expected = emb.vectors["gpt"] if layer == EmbedderConfig().gpt_layer else np.float32(layer)
        assert (fold.embeddings(cfg, ["gpt"]).vectors["gpt"] == expected).all()
    assert calls == [8, 21]  # 15 is the default layer the vectors were made with


def test_only_models_with_a_space_are_sweepable():
    from lightning_eq.config import MODEL_KEYS
    from lightning_eq.tracking.sweeps import sweepable

    assert set(sweepable(MODEL_KEYS)) == set(MODEL_KEYS) - {"flat", "mean"}


def test_each_worker_trains_on_its_own_gpu(monkeypatch):
    import torch

    from lightning_eq.tracking.sweeps import one_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    assert [one_device(Config(), i).trainer.devices for i in (0, 1, 5)] == ["0,", "1,", "1,"]
    cpu = Config()
    cpu.trainer.accelerator = "cpu"
    assert one_device(cpu, 3).trainer.devices == "auto"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert one_device(Config(), 1).trainer.devices == "auto"


def test_study_names_follow_the_model_and_fold():
    assert study_name("attention", 2) == "attention-fold2"


def test_a_resumed_study_keeps_its_sampler_and_pruner(tmp_path):
    sweep = load_spec("glove").sweep
    storage = open_storage(f"sqlite:///{tmp_path}/o.db", sweep)
    study = load_study("glove-fold0", storage, sweep)
    assert isinstance(study.sampler, optuna.samplers.TPESampler)
    assert isinstance(study.pruner, optuna.pruners.MedianPruner)
    assert load_study("glove-fold0", storage, sweep).study_name == "glove-fold0"
