"""The tuner's study: its space (sweeps/tuner.yaml) holds the defaults as trial 0, its listeners are never an
outer test word, it runs on the project's runner with MLflow attached, and it stores what load_tuner reads."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from engine import FakeVectors
from lightning_eq.config import Config, fingerprint, merge
from lightning_eq.data.folds import fold_test_words
from lightning_eq.search.runner import best_trial, trial_config
from lightning_eq.search.space import apply_values, default_params, load_spec, suggest
from lightning_eq.search.tune_study import run_tuner_study, score_settings
from lightning_eq.training.tune import plan_tuner, training_listeners, tune_tuner
from lightning_eq.tune import TuneSettings, load_tuner


def test_the_tuner_space_starts_from_the_defaults():
    spec = load_spec("tuner")
    base = spec.base_config(Config())
    params, kept = default_params(spec, base)
    assert base.tune == TuneSettings() and not kept
    assert apply_values(base, suggest(optuna.trial.FixedTrial(params), spec.params, kept)) == base
    assert {p.path for p in spec.params} == {f"tune.{k}" for k in TuneSettings.model_fields}


def test_the_tune_section_leaves_the_model_studies_names_alone():
    changed = merge(Config(), {"tune.exploration": 2.0})
    assert fingerprint(changed) == fingerprint(Config()) and fingerprint(changed, tune=True) != fingerprint(Config(), tune=True)


def test_the_listeners_are_english_records_of_words_no_outer_fold_tests(data, data_all, hq_words):
    listeners = training_listeners(data_all, hq_words, Config())
    tested = {w for fold in fold_test_words(data, hq_words) for w in fold}
    assert len(listeners) > 300 and set(listeners.langs) == {"en"} and not tested & set(listeners.words)


def test_the_objective_scores_r_after_5_and_10_ratings(data_all, hq_words):
    listeners = training_listeners(data_all, hq_words, Config()).take(np.arange(80))
    curves = listeners.curves_unit * 8 - 4
    priors = np.full((80, 40), np.nan)
    result = score_settings(Config(), curves, listeners.words, priors)
    m = result.metrics
    assert m["val/r_0"] < 0.35 < m["val/r_5"] < m["val/r_10"]  # from the mean curve toward each listener
    assert abs(result.value - (1 - (m["val/r_5"] + m["val/r_10"]) / 2)) < 0.02  # a mean of fold means
    assert len(result.fold_values) == Config().sweep.inner_folds and result.stderr > 0
    again = score_settings(Config(), curves, listeners.words, priors)
    assert again.value == result.value  # seeded
    assert score_settings(merge(Config(), {"tune.candidates": 1}), curves, listeners.words, priors).value != result.value


def test_a_tiny_study_runs_on_the_runner_and_resumes(data_all, hq_words, tmp_path):
    listeners = training_listeners(data_all, hq_words, Config()).take(np.arange(60))
    priors = np.full((60, 40), np.nan)
    plan = plan_tuner(Config(), listeners, priors, trials=3)
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    study, _ = run_tuner_study(plan, storage)
    trials = study.get_trials()
    assert plan.name.startswith("tuner-train-") and study.study_name == plan.name
    assert len(trials) == 3 and trials[0].user_attrs["default"] and all(t.state.name == "COMPLETE" for t in trials)
    assert trial_config(trials[0]).tune == TuneSettings()
    study, _ = run_tuner_study(plan, storage)
    assert len(study.get_trials()) == 3  # resumed at its budget: nothing to run


def run_step(data_all, hq_words, tmp_path, uri: str | None):
    """``lightning-eq run``'s tuner step with 2 trials (text priors from ridge on fake vectors), checked."""
    outcome = tune_tuner(Config(), data_all, hq_words, FakeVectors(data_all.words), f"sqlite:///{tmp_path / 'optuna.db'}",
                         tmp_path / "models", uri, trials=2)
    stored = load_tuner(tmp_path / "models")
    study = optuna.load_study(study_name=outcome.study, storage=f"sqlite:///{tmp_path / 'optuna.db'}")
    assert stored.settings == trial_config(best_trial(study)).tune and stored.basis.size == stored.settings.basis_size
    assert outcome.best_value <= outcome.default_value and outcome.best_metrics["val/r_10"] > outcome.best_metrics["val/r_0"]
    return outcome


def test_the_run_step_stores_the_chosen_settings_where_load_tuner_finds_them(data_all, hq_words, tmp_path):
    run_step(data_all, hq_words, tmp_path, None)


@pytest.mark.slow
def test_the_run_step_tracks_the_study_in_mlflow(data_all, hq_words, tmp_path):
    """MLflow starts a subprocess (uname): a slow test."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    outcome = run_step(data_all, hq_words, tmp_path, uri)
    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    parent = [r for r in runs if r.info.run_name == outcome.study]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent[0].info.run_id]
    assert parent[0].data.tags["model"] == "tuner" and parent[0].info.status == "FINISHED" and len(children) == 2
    assert "val/r_5" in children[0].data.metrics and "tune.exploration" in children[0].data.params
