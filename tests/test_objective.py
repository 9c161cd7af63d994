"""The objective: word-disjoint inner folds inside a study's training words, every word validated once; one
batched fit for all folds of a neural trial, whose members never mix; the mean over folds with its standard
error; what the folds chose (epochs, alpha, k) returned as resolved settings."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
import torch

from lightning_eq.config import Config, merge
from lightning_eq.models.neural import fit_members
from lightning_eq.search.objective import cross_validate, inner_fold_of

FAST = {"head.max_epochs": 6, "head.patience": 2, "head.hidden_sizes": [16], "trainer.accelerator": "cpu"}


def test_every_training_word_is_validated_exactly_once_and_folds_depend_on_the_words_alone(table):
    folds = inner_fold_of(table.words, 4)
    assert set(folds) == set(table.words) and set(folds.values()) == {0, 1, 2, 3}
    sizes = np.bincount(list(folds.values()))
    assert sizes.min() > 0.15 * len(folds)  # a hash spreads the words about evenly
    assert inner_fold_of(list(reversed(table.words)), 4) == folds
    fewer = table.vocabulary[::3] + ["brillante", "cálido"]  # another study's words: the shared ones keep their fold
    assert {w: f for w, f in inner_fold_of(fewer, 4).items() if w in folds} == {w: folds[w] for w in fewer if w in folds}


@pytest.mark.parametrize("key", ["ridge", "glove"])
def test_every_trial_stores_its_objective_over_the_english_records(data_all, key):
    """Bilingual: the objective counts every record, and the English (and Spanish) mean over inner folds, ± s.e.,
    is stored beside it. English-only: the English value is the objective."""
    from engine import FakeVectors, small_table

    cfg = merge(Config(), FAST | {"baseline.ridge_alpha": [100.0], "baseline.embedder": "glove"})
    vectors = FakeVectors(data_all.words)
    table = small_table(data_all, 120)
    english = table.take(np.flatnonzero(np.array(table.langs) == "en"))
    assert set(table.langs) == {"en", "es"}
    both, alone = cross_validate(key, cfg, table, vectors), cross_validate(key, cfg, english, vectors)
    assert alone.metrics["val/en/mae_unit"] == alone.value and alone.metrics["val/en/mae_unit_se"] == alone.stderr
    fold = np.array([inner_fold_of(table.words, 4)[w] for w in table.words])
    error = np.abs(both.oof - table.curves_unit).mean(axis=1)
    for lang in ("en", "es"):
        rows = np.array(table.langs) == lang
        per_fold = [error[rows & (fold == i)].mean() for i in range(4)]
        assert both.metrics[f"val/{lang}/mae_unit"] == pytest.approx(np.mean(per_fold), abs=1e-6)
        assert both.metrics[f"val/{lang}/mae_unit_se"] == pytest.approx(np.std(per_fold, ddof=1) / 2, abs=1e-6)
    assert both.metrics["val/mae_unit"] == both.value != both.metrics["val/en/mae_unit"]


@pytest.mark.parametrize("key, setting, grid", [("ridge", "baseline.ridge_alpha", [1.0, 100.0, 10000.0]),
                                                ("knn", "baseline.knn_k", [1, 5, 20])])
def test_baselines_choose_their_candidate_on_the_inner_folds(table, vectors, key, setting, grid):
    result = cross_validate(key, merge(Config(), {setting: grid}), table, vectors)
    assert len(result.resolved[setting]) == 1 and result.resolved[setting][0] in grid
    assert result.value == pytest.approx(np.mean(result.fold_values)) and len(result.fold_values) == 4
    assert result.stderr == pytest.approx(np.std(result.fold_values, ddof=1) / 2)
    assert result.oof.shape == table.curves_unit.shape and result.metrics["val/mae_unit"] == result.value
    single = cross_validate(key, merge(Config(), {setting: result.resolved[setting]}), table, vectors)
    assert single.value == pytest.approx(result.value)  # the chosen candidate alone scores what it scored


def test_a_neural_trial_trains_all_folds_at_once_and_keeps_the_best_mean_epoch(table, vectors):
    result = cross_validate("glove", merge(Config(), FAST), table, vectors)
    epochs = result.epoch_values
    best = int(np.argmin(epochs))
    assert result.resolved["head.max_epochs"] == best + 1
    assert set(result.resolved) == {"head.max_epochs", "word_prior_records"}
    assert result.value == pytest.approx(epochs[best]) and result.value == pytest.approx(np.mean(result.fold_values))
    assert 1 <= len(epochs) <= 6 and result.metrics["val/best_epoch"] == best


def test_members_trained_together_do_not_mix():
    """A member whose rows all weigh 0 gets no gradient: after training, its weights are its initial weights,
    while the other member's moved."""
    x, y = np.random.default_rng(0).standard_normal((40, 8)).astype(np.float32), np.random.default_rng(1).random((40, 40))
    weights = np.stack([np.ones(40), np.zeros(40)])
    head = Config().head.model_copy(update={"max_epochs": 3, "hidden_sizes": [8], "momentum": 0.0, "dropout": 0.0})
    fit = fit_members(x, y, weights, {"a": 8}, "head", head, Config().trainer, seed=3)
    from lightning_eq.models.net import StackedNet
    import lightning.pytorch as pl

    pl.seed_everything(3, verbose=False)
    initial = StackedNet(2, {"a": 8}, [8], 0.0).state_dict()
    trained = fit.net.state_dict()
    for name in ("hidden.0.weight", "output.weight"):
        assert torch.equal(trained[name][1], initial[name][1])
        assert not torch.equal(trained[name][0], initial[name][0])


def test_the_pruner_sees_the_running_mean_over_the_inner_folds(table, vectors):
    from optuna_integration import PyTorchLightningPruningCallback

    study = optuna.create_study(pruner=optuna.pruners.NopPruner())
    trial = study.ask()
    result = cross_validate("glove", merge(Config(), FAST), table, vectors, [PyTorchLightningPruningCallback(trial, "val/mae_unit")])
    reported = study._storage.get_trial(trial._trial_id).intermediate_values
    assert [reported[e] for e in sorted(reported)] == pytest.approx(result.epoch_values, abs=1e-6)


def test_words_mode_fits_word_means_and_scores_records(table, vectors):
    records = cross_validate("ridge", merge(Config(), {"baseline.ridge_alpha": [100.0]}), table, vectors)
    words = cross_validate("ridge", merge(Config(), {"baseline.ridge_alpha": [100.0], "train_on": "words"}), table, vectors)
    assert records.oof.shape == words.oof.shape == table.curves_unit.shape  # scored on every record either way
    assert records.value != words.value
