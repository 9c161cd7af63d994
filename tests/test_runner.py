"""Studies: a name that carries the hash of what they search, trial 0 the default configuration, seeds from the
name, Optuna's own budget and error handling, resolved configurations stored on trials, changed specs refused."""

from __future__ import annotations

import optuna
import pytest

from engine import write_space
from lightning_eq.config import Config, to_dict
from lightning_eq.errors import ConfigError
from lightning_eq.search import objective as objective_module
from lightning_eq.search.runner import StudyPlan, best_trial, default_trial, open_study, run_study, trial_config
from lightning_eq.search.space import load_spec

optuna.logging.set_verbosity(optuna.logging.WARNING)


def plan_in(folder, table, model="glove", scope="fold0", **space_args) -> StudyPlan:
    write_space(folder, model, **space_args)
    spec = load_spec(model, folder)
    return StudyPlan(model, scope, spec, spec.base_config(Config()), table)


def test_the_name_carries_a_hash_of_space_settings_data_and_objective(tmp_path, table, monkeypatch):
    plan = plan_in(tmp_path / "a", table)
    assert plan.name == f"glove-fold0-{plan.hash}" and len(plan.hash) == 8
    assert plan_in(tmp_path / "b", table, trials=9).name == plan.name  # the budget is not part of it
    assert plan_in(tmp_path / "c", table, epochs=5).name != plan.name
    assert plan_in(tmp_path / "d", table, space={"head.dropout": {"low": 0.0, "high": 0.6}}).name != plan.name
    assert plan_in(tmp_path / "e", table.take(range(len(table) - 5))).name != plan.name
    monkeypatch.setattr("lightning_eq.search.runner.OBJECTIVE_VERSION", objective_module.OBJECTIVE_VERSION + "-changed")
    assert plan_in(tmp_path / "f", table).name != plan.name


def test_a_study_runs_to_its_budget_with_the_default_as_trial_zero(tmp_path, table, vectors):
    plan = plan_in(tmp_path, table, trials=4)
    url = f"sqlite:///{tmp_path}/optuna.db"
    study, _ = run_study(plan, vectors, url)
    trials = study.get_trials()
    assert sum(t.state.name in ("COMPLETE", "PRUNED") for t in trials) == 4
    zero = trials[0]
    assert zero.user_attrs["default"] is True and default_trial(study).number == 0
    assert zero.params == {"head.dropout": 0.2, "head.lr": 0.1}
    stored = trial_config(zero)
    assert stored.head.max_epochs <= plan.base.head.max_epochs  # resolved: the epochs the inner folds chose
    assert to_dict(stored.embedders) == to_dict(plan.base.embedders) and stored.head.hidden_sizes == [16]
    assert "fold_values" in zero.user_attrs["cv"] and zero.user_attrs["cv"]["stderr"] >= 0
    run_study(plan, vectors, url)  # resumed: nothing more to do
    assert len(optuna.load_study(study_name=plan.name, storage=url).trials) == len(trials)


def test_studies_draw_different_start_up_trials(tmp_path, table, vectors):
    url = f"sqlite:///{tmp_path}/optuna.db"
    first = run_study(plan_in(tmp_path / "a", table, trials=2, scope="fold0"), vectors, url)[0].trials[1].params
    second = run_study(plan_in(tmp_path / "b", table, trials=2, scope="fold1"), vectors, url)[0].trials[1].params
    assert first != second


def test_a_failing_trial_fails_alone_and_the_study_goes_on(tmp_path, table, vectors, monkeypatch):
    real = objective_module.cross_validate
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("a broken trial")
        return real(*args, **kwargs)

    monkeypatch.setattr("lightning_eq.search.runner.cross_validate", flaky)
    study, _ = run_study(plan_in(tmp_path, table, trials=3), vectors, f"sqlite:///{tmp_path}/optuna.db")
    states = [t.state.name for t in study.trials]
    assert states.count("FAIL") == 1 and states.count("COMPLETE") + states.count("PRUNED") == 3


def test_refits_rebuild_from_the_stored_configuration_not_todays_yaml(tmp_path, table, vectors):
    plan = plan_in(tmp_path, table, trials=2)
    study, _ = run_study(plan, vectors, f"sqlite:///{tmp_path}/optuna.db")
    before = trial_config(best_trial(study))
    write_space(tmp_path, "glove", fixed={"head": {"max_epochs": 2, "hidden_sizes": [64, 64]}})
    assert trial_config(best_trial(study)) == before and before.head.hidden_sizes == [16]


def test_resuming_a_study_whose_spec_changed_is_refused(tmp_path, table, vectors):
    url = f"sqlite:///{tmp_path}/optuna.db"
    old = plan_in(tmp_path / "old", table, trials=2)
    run_study(old, vectors, url)
    new = plan_in(tmp_path / "new", table, trials=2, epochs=5)
    with pytest.raises(ConfigError) as err:
        open_study(new, url, resume=old.name)
    assert f"Study {old.name} was made with another search space" in str(err.value)
    assert "leaving out --study" in str(err.value) and "\n" not in str(err.value)
    assert open_study(old, url, resume=old.name).study_name == old.name  # the same spec resumes
