"""Search spaces: every sweeps/*.yaml loads and builds; bad files fail on load with a clear ConfigError."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from lightning_eq.config import Config, HEAD_MODEL_KEYS
from lightning_eq.errors import ConfigError
from lightning_eq.models.catalog import build_model
from lightning_eq.training.space import (DEFAULT_SWEEPS_DIR, apply_values, load_spec, parse_spec, suggest,
                                         with_overrides)

SPACE_FILES = sorted(DEFAULT_SWEEPS_DIR.glob("*.yaml"))


def test_there_is_a_space_for_every_model_with_hyperparameters():
    assert {p.stem for p in SPACE_FILES} >= {*HEAD_MODEL_KEYS, "e5", "ensemble", "attention", "knn", "ridge"}


@pytest.mark.parametrize("path", SPACE_FILES, ids=lambda p: p.stem)
def test_every_space_loads_suggests_and_builds(path: Path):
    spec = load_spec(path.stem)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(5):
        values = suggest(study.ask(), spec.params)
        cfg = apply_values(spec.base_config(Config()), values)
        assert build_model(spec.model, cfg) is not None
        if "head.hidden_sizes" in values:
            assert 1 <= len(cfg.head.hidden_sizes) <= 3 and all(32 <= w <= 512 for w in cfg.head.hidden_sizes)
        if cfg.head.scheduler != "step":  # step size and decay apply to the stepped schedule only
            assert "head.lr_step_updates" not in values


def test_the_gpt_space_searches_the_hidden_layer_and_the_schedule():
    paths = {p.path for p in load_spec("gpt").params}
    assert {"embedders.gpt_layer", "head.dropout", "head.hidden_sizes", "head.lr", "head.lr_step_updates",
            "head.lr_gamma"} <= paths


def test_a_finished_trial_rebuilds_the_same_config():
    spec = load_spec("attention")
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1)).ask()
    cfg = apply_values(Config(), suggest(trial, spec.params))
    again = apply_values(Config(), suggest(optuna.trial.FixedTrial(trial.params), spec.params))
    assert cfg == again


GOOD = {"model": "glove", "space": {"head.dropout": {"low": 0.0, "high": 0.5}}}


@pytest.mark.parametrize("change, words", [
    ({"extra": 1}, "unknown section 'extra'"),
    ({"model": "bert"}, "named for 'glove'"),
    ({"space": {"head.dropuot": {"low": 0.0, "high": 0.5}}}, "'head.dropuot' is not a config field"),
    ({"space": {"head": {"low": 0.0, "high": 0.5}}}, "is a section"),
    ({"space": {"head.dropout": {"low": 0.5, "high": 0.1}}}, "low (0.5) must be below high (0.1)"),
    ({"space": {"head.dropout": {"low": 0.0, "high": 1.5}}}, "head.dropout = 1.5 is outside [0, 1)"),
    ({"space": {"head.lr": {"low": 0.0, "high": 0.1, "log": True}}}, "needs low > 0"),
    ({"space": {"head.dropout": {"low": 0.0, "hihg": 0.5}}}, "unknown key 'hihg'"),
    ({"space": {"head.max_epochs": {"low": 1.5, "high": 9}}}, "must be integers"),
    ({"space": {"head.scheduler": {"choices": ["step", "linear"]}}}, "head.scheduler"),
    ({"space": {"head.optimizer": {"low": 0, "high": 1}}}, "needs `choices"),
    ({"space": {"head.hidden_sizes": {"depth": [3, 1], "width": [8, 64]}}}, "min above max"),
    ({"space": {"head.lr_gamma": {"low": 0.1, "high": 0.9, "when": {"head.scheduler": "step"}}}}, "not a choice of an earlier"),
    ({"sweep": {"pruner": "asha"}}, "sweep.pruner is 'asha'"),
    ({"sweep": {"trails": 3}}, "unknown key 'trails'"),
    ({"sweep": {"heartbeat_interval_s": 10, "grace_period_s": 5}}, "grace_period_s > heartbeat_interval_s"),
    ({"fixed": {"head": {"dropout": 2.0}}}, "head.dropout = 2.0"),
    ({"fixed": {"head": {"max_epoch": 3}}}, "unknown key 'max_epoch'"),
    ({"space": {}}, "space must map config fields"),
])
def test_bad_spaces_are_refused_on_load(change, words):
    with pytest.raises(ConfigError) as err:
        parse_spec({**GOOD, **change}, Path("sweeps/glove.yaml"), "glove")
    assert words in str(err.value)
    assert "sweeps/glove.yaml" in str(err.value)


def test_a_missing_space_names_the_ones_there(tmp_path):
    (tmp_path / "knn.yaml").write_text("model: knn\nspace: {baseline.knn_k: {low: 1, high: 9}}\n")
    with pytest.raises(ConfigError, match="Spaces there: knn"):
        load_spec("ridge", tmp_path)


def test_list_settings_take_one_suggested_value():
    spec = load_spec("knn")
    values = suggest(optuna.create_study().ask(), spec.params)
    assert isinstance(values["baseline.knn_k"], list) and len(values["baseline.knn_k"]) == 1


def test_an_override_fixes_a_setting_and_drops_it_from_the_space():
    spec = with_overrides(load_spec("glove"), {"head": {"scheduler": "cosine", "max_epochs": 3}})
    paths = {p.path for p in spec.params}
    assert "head.scheduler" not in paths and "head.lr_step_updates" not in paths and "head.lr_gamma" not in paths
    assert spec.base_config(Config()).head.max_epochs == 3
    kept = with_overrides(load_spec("glove"), {"head": {"scheduler": "step"}})
    assert {"head.lr_step_updates", "head.lr_gamma"} <= {p.path for p in kept.params}
    with pytest.raises(ConfigError, match="head.dropout"):
        with_overrides(load_spec("glove"), {"head": {"dropout": -1.0}})
