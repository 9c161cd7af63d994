"""Baselines that are models like any other: flat curve, training mean, k nearest words, ridge regression.

All predict on the unit scale from ``features`` ({embedder key: (N, dim)}) with numpy alone. Each takes one
value of its hyperparameter; ``knn_scores`` and ``ridge_path`` score many values at once, for the objective's
inner folds to choose from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lightning_eq.curves import N_BANDS, z_to_unit
from lightning_eq.models.metrics import group_means

Features = dict[str, np.ndarray]


def _n(features: Features, n: int | None) -> int:
    return n if n is not None else len(next(iter(features.values()), []))


@dataclass
class FlatBaseline:
    """The flat curve: every band at z = 0 (unit 0.5). Needs no data."""

    key: str = "flat"
    embedder_keys: tuple[str, ...] = ()

    def fit(self, features: Features, curves_unit: np.ndarray, words: list[str], weights: np.ndarray | None = None) -> None:
        pass

    def predict(self, features: Features, n: int | None = None) -> np.ndarray:
        return np.tile(z_to_unit(np.zeros(N_BANDS)), (_n(features, n), 1))


@dataclass
class MeanBaseline(FlatBaseline):
    """The (weighted) mean training curve, whatever the description."""

    key: str = "mean"
    mean_unit: np.ndarray | None = None

    def fit(self, features, curves_unit, words, weights=None) -> None:
        self.mean_unit = np.average(curves_unit, axis=0, weights=weights)

    def predict(self, features, n=None) -> np.ndarray:
        return np.tile(self.mean_unit, (_n(features, n), 1))


def unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def knn_scores(word_vectors: np.ndarray, word_curves: np.ndarray, queries: np.ndarray, ks: list[int]) -> np.ndarray:
    """(len(ks), Q, 40): for each k, the mean curve of the k training words nearest (cosine) to each query."""
    sims = unit_rows(queries) @ unit_rows(word_vectors).T  # (Q, W)
    order = np.argsort(-sims, axis=1, kind="stable")
    cumulative = np.cumsum(word_curves[order], axis=1)  # (Q, W, 40)
    return np.stack([cumulative[:, min(k, sims.shape[1]) - 1] / min(k, sims.shape[1]) for k in ks])


@dataclass
class KnnBaseline(FlatBaseline):
    """Mean curve of the k training words nearest (cosine) in one embedding."""

    key: str = "knn"
    embedder: str = "gpt"
    k: int = 10
    word_vectors: np.ndarray | None = None
    word_curves: np.ndarray | None = None

    def __post_init__(self):
        self.embedder_keys = (self.embedder,)

    def fit(self, features, curves_unit, words, weights=None) -> None:
        names, self.word_curves = group_means(curves_unit, words)
        first = {w: i for i, w in reversed(list(enumerate(words)))}
        self.word_vectors = np.asarray(features[self.embedder])[[first[w] for w in names]]

    def predict(self, features, n=None) -> np.ndarray:
        return knn_scores(self.word_vectors, self.word_curves, np.asarray(features[self.embedder]), [self.k])[0]


@dataclass
class Standardiser:
    """Weighted mean and std of training features; ``apply`` standardises."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, weights: np.ndarray | None = None) -> "Standardiser":
        mean = np.average(x, axis=0, weights=weights)
        std = np.sqrt(np.average((x - mean) ** 2, axis=0, weights=weights))
        return cls(mean, np.where(std > 1e-12, std, 1.0))

    def apply(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.std


def _ridge_system(x: np.ndarray, y: np.ndarray, weights: np.ndarray | None):
    """(scaler, y mean, eigenvalues, eigenvectors, V^T X^T W (y - mean)) of weighted ridge on standardised x."""
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=float)
    scaler = Standardiser.fit(x, w)
    xs = scaler.apply(x)
    y_mean = np.average(y, axis=0, weights=w)
    xw = xs * w[:, None]
    eigenvalues, eigenvectors = np.linalg.eigh(xw.T @ xs)  # the weighted Gram matrix, (dim, dim)
    return scaler, y_mean, np.clip(eigenvalues, 0, None), eigenvectors, eigenvectors.T @ (xw.T @ (y - y_mean))


def _coef(eigenvalues: np.ndarray, eigenvectors: np.ndarray, projected: np.ndarray, alpha: float) -> np.ndarray:
    return eigenvectors @ (projected / (eigenvalues + alpha)[:, None])


def ridge_path(x: np.ndarray, y: np.ndarray, x_new: np.ndarray, alphas: list[float],
               weights: np.ndarray | None = None) -> np.ndarray:
    """(len(alphas), N_new, 40) predictions of ridge regression on standardised x, one per alpha, from one
    eigendecomposition. Minimises sum_i w_i |y_i - b0 - x_i B|^2 + alpha |B|^2 (the intercept is not
    penalised), as scikit-learn's ``Ridge`` with ``sample_weight`` after ``StandardScaler``."""
    scaler, y_mean, values, vectors, projected = _ridge_system(x, y, weights)
    xn = scaler.apply(x_new)
    return np.stack([y_mean + xn @ _coef(values, vectors, projected, a) for a in alphas])


@dataclass
class RidgeBaseline(FlatBaseline):
    """Ridge regression from one standardised embedding to the 40 bands."""

    key: str = "ridge"
    embedder: str = "gpt"
    alpha: float = 1000.0
    scaler: Standardiser | None = None
    coef: np.ndarray | None = None  # (dim, 40) on standardised inputs
    intercept: np.ndarray | None = None

    def __post_init__(self):
        self.embedder_keys = (self.embedder,)

    def fit(self, features, curves_unit, words, weights=None) -> None:
        self.scaler, self.intercept, values, vectors, projected = _ridge_system(
            np.asarray(features[self.embedder], dtype=float), curves_unit, weights)
        self.coef = _coef(values, vectors, projected, self.alpha)

    def predict(self, features, n=None) -> np.ndarray:
        x = self.scaler.apply(np.asarray(features[self.embedder], dtype=float))
        return np.clip(self.intercept + x @ self.coef, 0.0, 1.0)
