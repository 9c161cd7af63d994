"""The typed config: defaults that validate, dotted --set overrides, one-line errors that name the setting."""

from __future__ import annotations

import pytest

from lightning_eq.config import Config, fingerprint, merge, parse_sets, with_sets
from lightning_eq.embeddings.gpt import layer_range
from lightning_eq.embeddings.registry import EMBEDDERS
from lightning_eq.errors import ConfigError


def test_every_registered_embedder_has_its_own_section():
    cfg = Config()
    for key, entry in EMBEDDERS.items():
        assert isinstance(getattr(cfg.embedders, key), entry.settings)
    assert cfg.embedders.gpt.layer == "middle" and cfg.embedders.gpt.pooling == "mean"


def test_set_overrides_are_dotted_and_read_as_yaml():
    assert parse_sets(["head.max_epochs=5", "head.hidden_sizes=[64, 32]", "embedders.gpt.layer=8-21"]) == {
        "head.max_epochs": 5, "head.hidden_sizes": [64, 32], "embedders.gpt.layer": "8-21"}
    cfg = with_sets(Config(), ["head.dropout=0.2", "embedders.gpt.prompt={text}", "train_on=words"])
    assert (cfg.head.dropout, cfg.embedders.gpt.prompt, cfg.train_on) == (0.2, "{text}", "words")
    assert Config().head.dropout == 0.2  # the default is untouched


@pytest.mark.parametrize("item, words", [
    ("head.dropot=0.1", "unknown setting 'head.dropot'"),
    ("head.dropout=1.5", "head.dropout: Input should be less than 1"),
    ("head.lr=fast", "head.lr: Input should be a valid number"),
    ("head.optimizer=rmsprop", "head.optimizer: Input should be 'sgd' or 'adam'"),
    ("embedders.gpt.layer=top", "embedders.gpt.layer: layer must be an index"),
    ("embedders.gpt.prompt=The sound", "must contain '{text}' exactly once"),
    ("ensemble.embedders=[gpt]", "ensemble.embedders: List should have at least 2 items"),
    ("baseline.embedder=word2vec", "baseline.embedder: embedder 'word2vec' is not one of"),
    ("data.language=fr", "data.language: language 'fr' is not one of English, Español, all"),
    ("sweep.grace_period_s=5", "grace_period_s must be longer than heartbeat_interval_s"),
    ("head.dropout", "--set expects FIELD=VALUE"),
])
def test_bad_settings_are_one_line_errors_naming_the_setting(item, words):
    with pytest.raises(ConfigError) as err:
        with_sets(Config(), [item])
    assert words in str(err.value) and "\n" not in str(err.value)


def test_the_study_fingerprint_ignores_where_and_how_fast_a_study_runs():
    base = fingerprint(Config())
    assert fingerprint(merge(Config(), {"trainer.accelerator": "cpu", "sweep.trials": 99, "embedders.cache_dir": "/x"})) == base
    assert fingerprint(merge(Config(), {"head.lr": 0.05})) != base
    assert fingerprint(merge(Config(), {"embedders.gpt.layer": 8})) != base


@pytest.mark.parametrize("layer, n_layers, expected", [
    ("middle", 30, (15, 15)), (8, 30, (8, 8)), (-1, 30, (30, 30)), ("8-21", 30, (8, 21)), ("middle", 12, (6, 6))])
def test_gpt_layer_settings_read_as_ranges_of_hidden_states(layer, n_layers, expected):
    assert layer_range(layer, n_layers) == expected


@pytest.mark.parametrize("layer", [31, "21-8", -32])
def test_a_layer_the_model_does_not_have_is_a_config_error(layer):
    with pytest.raises(ConfigError, match="hidden states 0..30"):
        layer_range(layer, 30)
