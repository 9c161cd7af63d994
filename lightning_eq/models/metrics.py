"""Scores on the unit scale, as the study reports them, plus the ones that tell models apart.

- ``mae_unit`` / ``mape_unit``: per record, against each rater's curve (the study's table);
- ``word_mae_unit``: per test word, prediction against the word's mean curve;
- ``r_record`` / ``r_word``: Pearson r across the 40 bands, averaged over records or words;
- ``r_word_pos``: share of test words whose r > 0.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

import numpy as np


def mae(pred: np.ndarray, true: np.ndarray) -> float:
    return float(np.mean(np.abs(pred - true)))


def mape(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean absolute percentage error in percent (unit-scale targets are > 0)."""
    return float(100 * np.mean(np.abs(pred - true) / np.maximum(np.abs(true), 1e-6)))


def pearson_rows(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """(N,) Pearson r between matching rows of two (N, 40) arrays; 0 where a row is constant."""
    p = pred - pred.mean(axis=1, keepdims=True)
    t = true - true.mean(axis=1, keepdims=True)
    denom = np.sqrt((p**2).sum(axis=1) * (t**2).sum(axis=1))
    return np.where(denom > 1e-12, (p * t).sum(axis=1) / np.maximum(denom, 1e-12), 0.0)


def group_means(values: np.ndarray, words: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Mean row per word, words sorted."""
    rows = defaultdict(list)
    for word, value in zip(words, values):
        rows[word].append(value)
    names = sorted(rows)
    return names, np.stack([np.mean(rows[w], axis=0) for w in names])


def score(pred_unit: np.ndarray, true_unit: np.ndarray, words: Sequence[str], stage: str = "test") -> dict[str, float]:
    """All metrics of one prediction set, keyed ``stage/name``. Rows of ``pred_unit`` align with ``words``."""
    names, word_true = group_means(true_unit, words)
    _, word_pred = group_means(pred_unit, words)
    r_word = pearson_rows(word_pred, word_true)
    return {
        f"{stage}/mae_unit": mae(pred_unit, true_unit),
        f"{stage}/mape_unit": mape(pred_unit, true_unit),
        f"{stage}/word_mae_unit": mae(word_pred, word_true),
        f"{stage}/r_record": float(np.mean(pearson_rows(pred_unit, true_unit))),
        f"{stage}/r_word": float(np.mean(r_word)),
        f"{stage}/r_word_pos": float(np.mean(r_word > 0)),
        f"{stage}/n_words": float(len(names)),
    }


def other_raters_mae(curves_unit: np.ndarray, words: Sequence[str]) -> tuple[float, int]:
    """(MAE, n): each record against the mean curve of the *other* records of its word, over the n records
    whose word has another one. How far raters of one word disagree: a floor no text model is expected to reach."""
    rows = defaultdict(list)
    for i, word in enumerate(words):
        rows[word].append(i)
    errors = []
    for members in rows.values():
        if len(members) > 1:
            total = curves_unit[members].sum(axis=0)
            for i in members:
                others = (total - curves_unit[i]) / (len(members) - 1)
                errors.append(np.mean(np.abs(others - curves_unit[i])))
    return (float(np.mean(errors)) if errors else float("nan")), len(errors)
