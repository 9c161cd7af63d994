"""Honest selection: outer test words never reach a study; the nested estimate refits trial 0 and the best trial
and scores each once on the fold's test words; the champion is the lowest all-words objective."""

from __future__ import annotations

import optuna
import pytest

from engine import FakeVectors, write_space
from lightning_eq.config import Config, merge, to_dict
from lightning_eq.search import selection
from lightning_eq.search.objective import OBJECTIVE_VERSION
from lightning_eq.search.selection import (Candidate, choose_champion, choose_routes, route_models, score_fold,
                                          study_summary)
from lightning_eq.training.evaluate import outer_parts
from lightning_eq.training.nested import SweepRequest, plan_for
from lightning_eq.training.report import changes, choices_table

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.mark.parametrize("language", ["English", "all"])
def test_outer_test_words_never_reach_a_study_and_are_each_tested_once(data_all, hq_words, language):
    cfg = merge(Config(), {"data.language": language})
    tested = []
    for fold in range(4):
        train, test = outer_parts(data_all, hq_words, cfg, fold)
        assert not set(train.words) & set(test.words)
        tested += sorted(set(test.words))
    assert len(tested) == len(set(tested))
    assert set(hq_words) <= set(tested)
    spanish = {r.descriptor for r in data_all.records if r.lang != "English"}
    assert (spanish <= set(tested)) == (language == "all")


def test_a_fold_study_is_planned_on_its_training_words_only(tmp_path, data_all, hq_words):
    write_space(tmp_path, "glove")
    request = SweepRequest(["glove"], ["fold2"], sweeps_dir=tmp_path)
    plan, test = plan_for("glove", "fold2", Config(), data_all, hq_words, request)
    assert not set(plan.table.words) & set(test.words)
    everything, none = plan_for("glove", "all", Config(), data_all, hq_words, request)
    assert none is None and set(everything.table.words) == {r.descriptor for r in data_all.records if r.lang == "English"}


def test_the_nested_step_refits_default_and_best_and_scores_each_once(tmp_path, data_all, hq_words):
    from lightning_eq.search.runner import run_study

    write_space(tmp_path, "ridge", trials=3, sweep={"pruner": "none"}, fixed={"baseline": {"embedder": "glove"}},
                space={"baseline.ridge_alpha": {"low": 1.0, "high": 10000.0, "log": True}})
    vectors = FakeVectors(data_all.words)
    request = SweepRequest(["ridge"], ["fold1"], sweeps_dir=tmp_path)
    plan, test = plan_for("ridge", "fold1", Config(), data_all, hq_words, request)
    study, _ = run_study(plan, vectors, f"sqlite:///{tmp_path}/optuna.db")
    outcome = score_fold(study, "ridge", 1, plan.table, test, vectors)
    assert outcome.predictions["swept"].shape == outcome.predictions["default"].shape == (len(test), 40)
    assert set(outcome.default_test) >= {"test/mae_unit", "test/r_word", "test/r_word_pos"}
    summary = study_summary(study)
    changed = changes(summary["default_config"], summary["best_config"])
    if summary["best_trial"] == 0:
        assert changed == {}
    else:  # the space searches alpha alone; everything else the trials share
        assert set(changed) == {"baseline.ridge_alpha"}


def test_the_choices_table_lists_what_the_best_trial_changed_from_the_default():
    default = {"head": {"dropout": 0.5, "hidden_sizes": [256, 128], "lr": 0.1}, "embedders": {"gpt": {"layer": "middle"}}}
    best = {"head": {"dropout": 0.17019, "hidden_sizes": [191], "lr": 0.1}, "embedders": {"gpt": {"layer": "8-21"}},
            "sweep": {"trials": 40}, "trainer": {"accelerator": "gpu"}}  # a resumed study's budget, another device
    default |= {"sweep": {"trials": 20}, "trainer": {"accelerator": "cpu"}}
    assert changes(default, best) == {"head.dropout": (0.5, 0.17019), "head.hidden_sizes": ([256, 128], [191]),
                                      "embedders.gpt.layer": ("middle", "8-21")}
    row = {"study": "gpt-all-abc", "default_value": 0.1004, "best_value": 0.0995, "best_se": 0.0008}
    table = choices_table([row | {"default_config": default, "best_config": best},
                           row | {"study": "knn-all-def", "default_config": default, "best_config": default}])
    assert "| gpt-all-abc | 0.1004 → 0.0995 ± 0.0008 |" in table
    assert 'head.dropout 0.5 → 0.17; head.hidden_sizes [256, 128] → [191]; embedders.gpt.layer "middle" → "8-21"' in table
    assert "| knn-all-def |" in table and "nothing: the default won" in table


def test_the_champion_is_the_lowest_objective_and_ties_are_named():
    key, reason = choose_champion({"gpt": (0.1000, 0.0005), "ridge": (0.1003, 0.0004), "glove": (0.1040, 0.0005)})
    assert key == "gpt" and "0.1000" in reason
    assert "ridge" in reason and "cannot separate" in reason and "glove" not in reason


def test_run_promotes_from_its_own_studies_not_a_newer_one_in_the_same_storage(monkeypatch):
    def study(name, value):
        return {"study": name, "value": value, "stderr": 0.0005, "english": (value, 0.0005), "data": "en",
                "objective": OBJECTIVE_VERSION, "config": to_dict(Config()), "trial": 3}

    found = {"ridge": [study("ridge-all-old", 0.1010), study("ridge-all-newer", 0.0990)],
             "glove": [study("glove-all-old", 0.1000)]}
    monkeypatch.setattr(selection, "all_studies", lambda storage: found)
    checksums = {"English": "en", "all": "all"}
    newest, _ = choose_routes(Config(), "sqlite:///unused.db", checksums)
    assert (newest.key, newest.study) == ("ridge", "ridge-all-newer")  # by default: each model's newest study
    own, _ = choose_routes(Config(), "sqlite:///unused.db", checksums, only={"ridge-all-old", "glove-all-old"})
    assert (own.key, own.study) == ("glove", "glove-all-old")


def test_the_champion_is_chosen_on_english_over_every_model_and_a_multilingual_one_answers_every_language():
    """A bilingual study's objective counts its Spanish records too: the choice compares the English values."""
    english = {"gpt": Candidate(0.0970, 0.0005, 0.0970, 0.0005), "ridge": Candidate(0.0990, 0.0004, 0.0990, 0.0004)}
    e5 = Candidate(0.0900, 0.0006, 0.0985, 0.0006)  # lowest objective, thanks to its Spanish records: not the champion
    routes = route_models(english | {"e5": e5}, multilingual=("e5", "gemma"))
    assert (routes.champion, routes.multilingual) == ("gpt", "e5") and "0.0970" in routes.reason
    assert "0.0900" in routes.multilingual_reason
    gemma = Candidate(0.0950, 0.0005, 0.0965, 0.0005)  # the lowest English value: it answers everything alone
    routes = route_models(english | {"e5": e5, "gemma": gemma}, multilingual=("e5", "gemma"))
    assert (routes.champion, routes.multilingual) == ("gemma", None)
    assert "gpt" in routes.reason and "cannot separate" in routes.reason and "every language" in routes.reason
    assert route_models(english, multilingual=("e5",)).multilingual is None  # no multilingual study: one route


def test_promote_routes_from_the_stored_english_values(monkeypatch):
    def study(name, value, english, data="all"):
        return {"study": name, "value": value, "stderr": 0.0005, "english": english, "data": data,
                "objective": OBJECTIVE_VERSION, "config": to_dict(Config()), "trial": 1}

    found = {"gpt": [study("gpt-all-a", 0.0970, (0.0970, 0.0005), "en")], "e5": [study("e5-all-b", 0.0900, (0.0990, 0.0005))],
             "knn": [study("knn-all-old", 0.0800, (0.0800, 0.0005), "stale data")]}
    monkeypatch.setattr(selection, "all_studies", lambda storage: found)
    monkeypatch.setattr(selection, "multilingual_keys", lambda: ("e5",))
    checksums = {"English": "en", "all": "all"}
    champion, multi = choose_routes(Config(), "sqlite:///unused.db", checksums)
    assert (champion.key, multi.key, multi.study) == ("gpt", "e5", "e5-all-b")
    found["e5"] = [study("e5-all-c", 0.0900, (0.0960, 0.0005))]
    champion, multi = choose_routes(Config(), "sqlite:///unused.db", checksums)
    assert (champion.key, champion.study, multi) == ("e5", "e5-all-c", None)
    asked, multi = choose_routes(Config(), "sqlite:///unused.db", checksums, model="gpt")
    assert (asked.key, multi.key) == ("gpt", "e5")
