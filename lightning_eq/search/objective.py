"""The objective: one configuration scored by word-disjoint cross-validation inside a study's training words.

Each of the study's training words falls in inner fold ``sha256(word) mod sweep.inner_folds``: its fold depends on
the word alone, so an English word is validated in the same inner fold in every study, English-only or bilingual
(a multilingual model's English figures are paired with the English models'). Every word is validated exactly
once, by a model that never saw it. The objective is the mean over inner folds of the validation MAE per record
(unit scale); its standard error over folds is kept beside it. Beside it, every trial stores the same mean and
standard error over each language's validation records alone (``val/en/mae_unit``, ``val/en/mae_unit_se``,
``val/es/...``): for an English-only study the English value is the objective; for a bilingual one it is what
the champion's choice compares (``search.selection``). A neural trial trains every fold (times ``sweep.seeds``) at once, as the members of
one LightningModule; each epoch the pruner sees the running mean over the folds, and the epoch with the lowest
mean is the number of epochs the refit trains. knn and ridge score every candidate k or alpha on the same
folds and keep the best. Whatever the folds chose is returned as ``resolved`` settings, so a refit on all the
training words is fully determined by the trial's stored configuration.

Test words never reach this module: callers pass the training rows of their study only.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from lightning_eq.config import Config, merge
from lightning_eq.data.table import Table
from lightning_eq.embeddings.vectors import Vectors
from lightning_eq.models.baselines import knn_scores, ridge_path
from lightning_eq.models.catalog import MODELS, build_model, embedder_keys, is_neural
from lightning_eq.models.metrics import group_means, score
from lightning_eq.models.neural import fit_members, stack_features

OBJECTIVE_VERSION = 3  # bump when what a trial computes changes: it is part of every study's name
MONITOR = "val/mae_unit"


def inner_fold_of(words: Sequence[str], n_folds: int) -> dict[str, int]:
    """word -> inner fold: sha256 of the word modulo ``n_folds``. A word's fold does not depend on which other
    words a study holds (a round-robin deal of the sorted hashes would move most words when one is added), so
    studies on other word sets (English-only, bilingual, another outer fold) validate a shared word alike."""
    return {w: int(hashlib.sha256(w.encode()).hexdigest(), 16) % n_folds for w in set(words)}


@dataclass
class CVResult:
    """One configuration's cross-validated score inside a study's training words."""

    value: float  # mean over inner folds of validation MAE (unit scale)
    stderr: float  # standard error of that mean over folds
    fold_values: list[float]
    metrics: dict[str, float]  # val/* of the out-of-fold predictions (mae, r_word, ...), plus the objective
    resolved: dict[str, Any]  # dotted settings the folds chose (head.max_epochs, baseline.ridge_alpha, ...)
    epoch_values: list[float] = field(default_factory=list)  # neural: mean validation MAE per epoch
    oof: np.ndarray | None = field(default=None, repr=False)  # (N, 40) out-of-fold predictions of the kept settings

    def config(self, cfg: Config) -> Config:
        """``cfg`` with the settings the folds chose: what a refit trains."""
        return merge(cfg, self.resolved, "resolved settings")


def fit_table(cfg: Config, table: Table) -> Table:
    """The rows a fit sees: every record, or each word's mean curve (``train_on``)."""
    return table.word_means() if cfg.train_on == "words" else table


def _summary(fold_errors: np.ndarray) -> tuple[float, float]:
    """(mean, standard error) over folds of per-fold values (K,)."""
    k = len(fold_errors)
    return float(fold_errors.mean()), float(fold_errors.std(ddof=1) / math.sqrt(k)) if k > 1 else 0.0


def _language_values(row_error: np.ndarray, langs: Sequence[str], fold: np.ndarray, k: int) -> dict[str, float]:
    """val/<lang>/mae_unit and its _se: the objective's mean and standard error over inner folds, computed over one
    language's validation records (``row_error`` (N,): each record's MAE, as the objective averages it)."""
    out: dict[str, float] = {}
    for lang in sorted(set(langs)):
        rows = np.array([x == lang for x in langs])
        per_fold = np.array([row_error[rows & (fold == i)].mean() for i in range(k) if (rows & (fold == i)).any()])
        out[f"val/{lang}/mae_unit"], out[f"val/{lang}/mae_unit_se"] = _summary(per_fold)
    return out


def _result(oof: np.ndarray, val: Table, fold: np.ndarray, k: int, resolved: dict, epochs: list[float] = (),
            row_error: np.ndarray | None = None) -> CVResult:
    """``row_error`` (N,): each record's validation MAE as the objective counts it (default: of ``oof``)."""
    row_error = np.abs(oof - val.curves_unit).mean(axis=1) if row_error is None else row_error
    values = np.array([row_error[fold == i].mean() for i in range(k)])
    mean, se = _summary(values)
    metrics = score(oof, val.curves_unit, val.words, "val")
    several = len(set(val.langs)) > 1
    for lang in sorted(set(val.langs)) if several else ():
        rows = np.array([x == lang for x in val.langs])
        metrics.update({k.replace("val/", f"val/{lang}/"): v for k, v in score(oof[rows], val.curves_unit[rows],
                        [w for w, r in zip(val.words, rows) if r], "val").items()})
    metrics.update(_language_values(row_error, val.langs, fold, k) if several else
                   {f"val/{lang}/{name}": v for lang in set(val.langs) for name, v in (("mae_unit", mean), ("mae_unit_se", se))})
    metrics.update({MONITOR: mean, f"{MONITOR}_se": se})
    return CVResult(mean, se, values.tolist(), metrics, resolved, list(epochs), oof)


def language_value(metrics: dict, lang: str = "en") -> tuple[float, float]:
    """(objective over ``lang``'s validation records, its standard error) from a trial's ``val/*`` metrics; NaNs
    when the study held none of them (or was scored before OBJECTIVE_VERSION 3)."""
    if f"val/{lang}/mae_unit_se" not in metrics:
        return math.nan, math.nan
    return float(metrics[f"val/{lang}/mae_unit"]), float(metrics[f"val/{lang}/mae_unit_se"])


def cross_validate(key: str, cfg: Config, table: Table, vectors: Vectors, callbacks: Sequence = ()) -> CVResult:
    """Score model ``key`` with ``cfg`` by inner word-disjoint folds over ``table`` (a study's training rows).

    ``callbacks`` go to the Lightning trainer of a neural trial (the pruner, an epoch logger). BLAS runs on
    ``trainer.num_threads`` threads: several busy-waiting BLAS threads per worker make a small solve 10x slower
    as soon as the cores are shared (measured: a 700 x 576 SVD, 0.1 s on one thread, 1.2 s on two)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=cfg.trainer.num_threads or None):
        return _cross_validate(key, cfg, table, vectors, callbacks)


def _cross_validate(key: str, cfg: Config, table: Table, vectors: Vectors, callbacks: Sequence) -> CVResult:
    k = cfg.sweep.inner_folds
    fold_of = inner_fold_of(table.words, k)
    fit_rows = fit_table(cfg, table)
    fit_fold = np.array([fold_of[w] for w in fit_rows.words])
    val_fold = np.array([fold_of[w] for w in table.words])
    keys = embedder_keys(key, cfg)
    fit_x = vectors.features(cfg, keys, fit_rows.words)
    val_x = vectors.features(cfg, keys, table.words)
    if is_neural(key):
        return _neural(key, cfg, fit_rows, fit_fold, fit_x, table, val_fold, val_x, k, callbacks)
    oof = np.zeros_like(table.curves_unit)
    candidates: dict[str, list] = {}
    preds_by: list[np.ndarray] = []
    for i in range(k):
        tr, va = fit_fold != i, val_fold == i
        sub = fit_rows.take(np.flatnonzero(tr))
        if key == "ridge":
            x = fit_x[cfg.baseline.embedder]
            preds_by.append(ridge_path(x[tr], sub.curves_unit, val_x[cfg.baseline.embedder][va], cfg.baseline.ridge_alpha, sub.weights))
        elif key == "knn":
            names, curves = group_means(sub.curves_unit, sub.words)
            first = {w: j for j, w in reversed(list(enumerate(sub.words)))}
            vecs = fit_x[cfg.baseline.embedder][tr][[first[w] for w in names]]
            preds_by.append(knn_scores(vecs, curves, val_x[cfg.baseline.embedder][va], cfg.baseline.knn_k))
        else:
            model = build_model(key, cfg)
            model.fit({kk: v[tr] for kk, v in fit_x.items()}, sub.curves_unit, list(sub.words), sub.weights)
            preds_by.append(model.predict({kk: v[va] for kk, v in val_x.items()}, int(va.sum()))[None])
    if key in ("ridge", "knn"):
        setting = "baseline.ridge_alpha" if key == "ridge" else "baseline.knn_k"
        grid = cfg.baseline.ridge_alpha if key == "ridge" else cfg.baseline.knn_k
        per_candidate = np.array([[np.abs(np.clip(p[c], 0, 1) - table.curves_unit[val_fold == i]).mean()
                                   for i, p in enumerate(preds_by)] for c in range(len(grid))])  # (C, K)
        best = int(np.argmin(per_candidate.mean(axis=1)))
        candidates[setting] = [grid[best]]
        preds_by = [p[best : best + 1] for p in preds_by]
    for i, p in enumerate(preds_by):
        oof[val_fold == i] = np.clip(p[0], 0, 1)
    return _result(oof, table, val_fold, k, candidates)


def _neural(key, cfg, fit_rows, fit_fold, fit_x, val, val_fold, val_x, k, callbacks) -> CVResult:
    seeds = cfg.sweep.seeds
    members = [(i, s) for i in range(k) for s in range(seeds)]
    weights = np.stack([fit_rows.weights * (fit_fold != i) for i, _ in members])
    val_weights = np.stack([(val_fold == i).astype(float) for i, _ in members])
    keys = embedder_keys(key, cfg)
    dims = {kk: fit_x[kk].shape[1] for kk in keys}
    fit = fit_members(stack_features(fit_x, keys), fit_rows.curves_unit, weights, dims, MODELS[key].kind, cfg.head,
                      cfg.trainer, x_val=stack_features(val_x, keys), y_val=val.curves_unit, val_weights=val_weights,
                      callbacks=callbacks, early_stopping=True)
    history = fit.val_mae  # (E, M)
    per_fold = history.reshape(len(history), k, seeds).mean(axis=2)  # (E, K)
    best = int(np.argmin(per_fold.mean(axis=1)))
    oof = np.zeros_like(val.curves_unit)
    row_error = np.zeros(len(val))  # each record's MAE, averaged over seeds, as the members' validation counts it
    preds = fit.best_val_pred  # (M, Nv, 40) at the best epoch
    for m, (i, _) in enumerate(members):
        oof[val_fold == i] += preds[m][val_fold == i] / seeds
        row_error[val_fold == i] += np.abs(preds[m][val_fold == i] - val.curves_unit[val_fold == i]).mean(axis=1) / seeds
    result = _result(oof, val, val_fold, k, {"head.max_epochs": best + 1}, per_fold.mean(axis=1).tolist(), row_error)
    mean, se = _summary(per_fold[best])  # the members' own validation MAE (what the pruner and the epoch choice saw)
    result.value, result.stderr, result.fold_values = mean, se, per_fold[best].tolist()
    result.metrics.update({MONITOR: mean, f"{MONITOR}_se": se, "val/best_epoch": float(best)})
    if len(set(val.langs)) == 1:  # one language: its value is the objective itself
        result.metrics.update({f"val/{val.langs[0]}/mae_unit": mean, f"val/{val.langs[0]}/mae_unit_se": se})
    return result
