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
training words is fully determined by the trial's stored configuration. Every model also resolves the word prior
λ from its out-of-fold predictions (``with_word_prior``): how far a known word's curve moves toward its records.

Test words never reach this module: callers pass the training rows of their study only.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from lightning_eq.config import Config, merge
from lightning_eq.data.table import Table
from lightning_eq.embeddings.vectors import Vectors
from lightning_eq.models.baselines import knn_scores, ridge_path
from lightning_eq.models.catalog import MODELS, build_model, embedder_keys, is_neural
from lightning_eq.models.metrics import group_means, score
from lightning_eq.models.neural import fit_members, stack_features

# What a trial computes: this module and the fitting code it relies on. Their text (with OBJECTIVE_REVISION) is the
# objective's code version, part of every study's name: a changed objective starts new studies by itself. Bump
# OBJECTIVE_REVISION for a change outside these files that changes what a trial computes.
OBJECTIVE_REVISION = 3
OBJECTIVE_SOURCES = ("search/objective.py", "models/baselines.py", "models/head.py", "models/metrics.py", "models/net.py",
                     "models/neural.py", "data/table.py")


def objective_version() -> str:
    """'<revision>-<12 hex>': OBJECTIVE_REVISION and a SHA-256 of the OBJECTIVE_SOURCES' text (line ends normalised,
    so any clone of the same commit agrees)."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for name in OBJECTIVE_SOURCES:
        digest.update(name.encode() + b"\0" + (root / name).read_bytes().replace(b"\r\n", b"\n") + b"\0")
    return f"{OBJECTIVE_REVISION}-{digest.hexdigest()[:12]}"


OBJECTIVE_VERSION = objective_version()
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
        return with_word_prior(_cross_validate(key, cfg, table, vectors, callbacks), cfg, table)


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


# A known word's curve: what the model predicts for it, moved toward its own records by how many there are.
def choose_word_prior(oof: np.ndarray, table: Table, candidates: Sequence[float]) -> tuple[float, float]:
    """(λ in records, its MAE per held-out record): among ``candidates``, the λ whose shrunk curve
    m + (n-1)/(n-1+λ)·(ȳ₋ⱼ − m) best predicts each record j of a word with n >= 2 records from the mean ȳ₋ⱼ of the
    word's other records and the word's out-of-fold prediction m (leave one record out). ``oof``: (N, 40)
    out-of-fold predictions of ``table``'s rows (a study's training words only). Without a word of two records
    nothing says a word's own record beats the model: the largest candidate, MAE NaN."""
    candidates = np.asarray(candidates, dtype=float)
    rows: dict[str, list[int]] = {}
    for i, word in enumerate(table.words):
        rows.setdefault(word, []).append(i)
    errors, count = np.zeros(len(candidates)), 0
    for index in (np.array(r) for r in rows.values() if len(r) >= 2):
        y, m, n = table.curves_unit[index], oof[index].mean(axis=0), len(index)
        others = (y.sum(axis=0) - y) / (n - 1)  # (n, 40): the mean of the other records, per held-out record
        keep = (n - 1) / (n - 1 + candidates)  # (C,)
        pred = m + keep[:, None, None] * (others - m)[None]  # (C, n, 40)
        errors += np.abs(pred - y[None]).mean(axis=2).sum(axis=1)
        count += n
    if not count:
        return float(candidates.max()), float("nan")
    best = int(np.argmin(errors))
    return float(candidates[best]), float(errors[best] / count)


def with_word_prior(result: CVResult, cfg: Config, table: Table) -> CVResult:
    """``result`` with the λ the training words chose (``choose_word_prior``) among ``cfg.word_prior_records``, as
    a resolved setting, and its leave-one-record-out MAE as ``val/known_word_mae_unit``. The objective's value is
    unchanged: it scores words the model never saw, whose curves no λ touches."""
    prior, mae = choose_word_prior(result.oof, table, cfg.word_prior_records)
    result.resolved["word_prior_records"] = [prior]
    if math.isfinite(mae):
        result.metrics["val/known_word_mae_unit"] = mae
    return result


def shrunk_word_curves(oof: np.ndarray, table: Table, prior_records: float) -> dict[str, np.ndarray]:
    """{training word: (40,) unit curve m + n/(n+λ)·(ȳ − m)}: ȳ the mean of its n records, m its out-of-fold
    prediction ``oof`` (never an in-sample one, which repeats the records), λ = ``prior_records``."""
    names, means = group_means(table.curves_unit, table.words)
    _, oof_means = group_means(oof, table.words)
    counts = {}
    for word in table.words:
        counts[word] = counts.get(word, 0) + 1
    n = np.array([counts[w] for w in names], dtype=float)[:, None]
    return dict(zip(names, oof_means + n / (n + prior_records) * (means - oof_means)))


def known_word_curves(key: str, cfg: Config, table: Table, vectors: Vectors) -> dict[str, np.ndarray]:
    """Every training word's stored curve for model ``key`` refitted with the resolved ``cfg`` on ``table``: its
    configuration cross-validated again over ``table`` for each word's out-of-fold prediction and λ."""
    cv = cross_validate(key, cfg, table, vectors)
    return shrunk_word_curves(cv.oof, table, cv.resolved["word_prior_records"][0])

