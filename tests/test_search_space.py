"""Search spaces: every sweeps/*.yaml loads, suggests and builds; the default configuration lies inside every
space (it is trial 0); the spaces hold what moves the result; bad files fail on load with a clear ConfigError."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import yaml

from lightning_eq.config import Config
from lightning_eq.errors import ConfigError
from lightning_eq.models.catalog import MODELS, NEURAL_KINDS, build_model
from lightning_eq.search.space import (DEFAULT_SWEEPS_DIR, apply_values, default_params, load_spec, parse_spec, suggest,
                                       with_overrides)

# Every model's space; sweeps/tuner.yaml is the tuner's (tests/test_tune_study.py), not a text model's.
SPACE_FILES = sorted(p for p in DEFAULT_SWEEPS_DIR.glob("*.yaml") if p.stem != "tuner")
NEURAL = [k for k, e in MODELS.items() if e.kind in NEURAL_KINDS]


def test_every_model_with_hyperparameters_has_a_space():
    missing = sorted({k for k in MODELS if k not in ("flat", "mean")} - {p.stem for p in SPACE_FILES})
    assert not missing, f"no search space for {', '.join(missing)}: add sweeps/<key>.yaml (a head: copy sweeps/glove.yaml)"
    assert {p.stem for p in SPACE_FILES} <= set(MODELS)


@pytest.mark.parametrize("path", SPACE_FILES, ids=lambda p: p.stem)
def test_every_space_loads_suggests_and_builds(path: Path):
    spec = load_spec(path.stem)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(5):
        cfg = apply_values(spec.base_config(Config()), suggest(study.ask(), spec.params))
        assert build_model(spec.model, cfg) is not None


@pytest.mark.parametrize("path", SPACE_FILES, ids=lambda p: p.stem)
def test_the_default_configuration_is_a_point_of_every_space(path: Path):
    spec = load_spec(path.stem)
    base = spec.base_config(Config())
    params, kept = default_params(spec, base)
    trial = optuna.trial.FixedTrial(params)
    assert apply_values(base, suggest(trial, spec.params, kept)) == base


def test_the_head_space_is_written_once_and_shared_by_every_neural_model():
    shared = set(yaml.safe_load((DEFAULT_SWEEPS_DIR / "shared" / "head.yaml").read_text())["space"])
    assert {"train_on", "head.dropout", "head.hidden_sizes", "head.lr"} <= shared
    for key in NEURAL:
        assert shared <= {p.path for p in load_spec(key).params}, key
        assert "head" not in yaml.safe_load((DEFAULT_SWEEPS_DIR / f"{key}.yaml").read_text()).get("space", {})


def test_the_spaces_search_what_moves_the_result():
    assert {"embedders.gpt.layer", "embedders.gpt.prompt", "embedders.gpt.pooling"} <= {p.path for p in load_spec("gpt").params}
    assert len(next(p for p in load_spec("gpt").params if p.path == "embedders.gpt.prompt").choices) >= 4
    for key in ("ensemble", "attention"):
        subsets = next(p for p in load_spec(key).params if p.path == "ensemble.embedders")
        assert "glove+tok2vec+gpt+bert" in subsets.choices and "gpt+bert" in subsets.choices
    assert {"baseline.embedder", "baseline.ridge_alpha"} <= {p.path for p in load_spec("ridge").params}
    assert {"baseline.embedder", "baseline.knn_k"} <= {p.path for p in load_spec("knn").params}
    assert load_spec("e5").base_config(Config()).data.language == "all"  # the multilingual model learns Spanish too


def test_trial_zero_of_ridge_keeps_its_candidates_for_the_inner_folds():
    spec = load_spec("ridge")
    params, kept = default_params(spec, spec.base_config(Config()))
    assert kept == ("baseline.ridge_alpha",) and "baseline.ridge_alpha" not in params


def test_a_finished_trial_rebuilds_the_same_config():
    spec = load_spec("attention")
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1)).ask()
    cfg = apply_values(Config(), suggest(trial, spec.params))
    assert apply_values(Config(), suggest(optuna.trial.FixedTrial(trial.params), spec.params)) == cfg


GOOD = {"model": "glove", "space": {"head.dropout": {"low": 0.0, "high": 0.5}}}


@pytest.mark.parametrize("change, words", [
    ({"extra": 1}, "unknown section 'extra'"),
    ({"model": "bert"}, "named for 'glove'"),
    ({"space": {"head.dropuot": {"low": 0.0, "high": 0.5}}}, "'head.dropuot' is not a config setting"),
    ({"space": {"head": {"low": 0.0, "high": 0.5}}}, "'head' is not a config setting"),
    ({"space": {"head.dropout": {"low": 0.5, "high": 0.1}}}, "low (0.5) must be below high (0.1)"),
    ({"space": {"head.dropout": {"low": 0.0, "high": 1.5}}}, "head.dropout: Input should be less than 1"),
    ({"space": {"head.lr": {"low": 0.0, "high": 0.1, "log": True}}}, "needs low > 0"),
    ({"space": {"head.dropout": {"low": 0.0, "hihg": 0.5}}}, "unknown key 'hihg'"),
    ({"space": {"head.max_epochs": {"low": 1.5, "high": 9}}}, "head.max_epochs: Input should be a valid integer"),
    ({"space": {"head.scheduler": {"choices": ["step", "linear"]}}}, "head.scheduler"),
    ({"space": {"head.optimizer": {"low": 0, "high": 1}}}, "needs `choices"),
    ({"space": {"head.hidden_sizes": {"depth": [3, 1], "width": [8, 64]}}}, "min above max"),
    ({"space": {"ensemble.embedders": {"subsets": ["gpt", "word2vec"], "min": 2}}}, "ensemble.embedders"),
    ({"space": {"head.lr_gamma": {"low": 0.1, "high": 0.9, "when": {"head.scheduler": "step"}}}}, "not a choice of an earlier"),
    ({"sweep": {"pruner": "asha"}}, "sweep.pruner"),
    ({"sweep": {"trails": 3}}, "unknown setting 'sweep.trails'"),
    ({"sweep": {"heartbeat_interval_s": 10, "grace_period_s": 5}}, "grace_period_s must be longer"),
    ({"fixed": {"head": {"dropout": 2.0}}}, "head.dropout"),
    ({"fixed": {"head": {"max_epoch": 3}}}, "unknown setting 'head.max_epoch'"),
    ({"space": {}}, "space must map config settings"),
])
def test_bad_spaces_are_refused_on_load(change, words):
    with pytest.raises(ConfigError) as err:
        parse_spec({**GOOD, **change}, Path("sweeps/glove.yaml"), "glove")
    assert words in str(err.value) and "sweeps/glove.yaml" in str(err.value)
    assert "\n" not in str(err.value)


def test_a_default_outside_its_space_is_refused(tmp_path):
    (tmp_path / "glove.yaml").write_text("model: glove\nspace: {head.dropout: {low: 0.3, high: 0.6}}\n")
    spec = load_spec("glove", tmp_path)
    with pytest.raises(ConfigError, match="the default head.dropout = 0.2 is outside"):
        default_params(spec, spec.base_config(Config()))


def test_includes_are_read_relative_to_the_file_and_cycles_refused(tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "h.yaml").write_text("space: {head.lr: {low: 0.01, high: 0.3, log: true}}\n")
    (tmp_path / "glove.yaml").write_text("model: glove\ninclude: [shared/h.yaml]\nspace: {head.dropout: {low: 0.0, high: 0.6}}\n")
    assert [p.path for p in load_spec("glove", tmp_path).params] == ["head.lr", "head.dropout"]
    (tmp_path / "bert.yaml").write_text("model: bert\ninclude: [bert.yaml]\nspace: {head.dropout: {low: 0.0, high: 0.6}}\n")
    with pytest.raises(ConfigError, match="makes a cycle"):
        load_spec("bert", tmp_path)
    (tmp_path / "e5.yaml").write_text("model: e5\ninclude: [nowhere.yaml]\n")
    with pytest.raises(ConfigError, match="nowhere.yaml does not exist"):
        load_spec("e5", tmp_path)


def test_a_missing_space_names_the_ones_there(tmp_path):
    (tmp_path / "knn.yaml").write_text("model: knn\nspace: {baseline.knn_k: {low: 1, high: 9}}\n")
    with pytest.raises(ConfigError, match="Spaces there: knn"):
        load_spec("ridge", tmp_path)


def test_list_settings_take_one_suggested_value():
    values = suggest(optuna.create_study().ask(), load_spec("knn").params)
    assert isinstance(values["baseline.knn_k"], list) and len(values["baseline.knn_k"]) == 1


def test_an_override_fixes_a_setting_and_drops_it_from_the_space():
    spec = with_overrides(load_spec("gpt"), {"embedders.gpt.layer": 8, "head.max_epochs": 3, "sweep.trials": 2})
    assert "embedders.gpt.layer" not in {p.path for p in spec.params}
    base = spec.base_config(Config())
    assert (base.embedders.gpt.layer, base.head.max_epochs, base.sweep.trials) == (8, 3, 2)
    with pytest.raises(ConfigError, match="head.dropout"):
        with_overrides(load_spec("glove"), {"head.dropout": -1.0})
