"""Baselines that are models like any other: flat curve, training mean, k nearest words, ridge.

All predict on the unit scale from ``features`` ({embedder key: (N, dim)}); those with candidates (k, alpha)
choose on the validation words they are given, never on test words.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lightning_eq.curves import N_BANDS, z_to_unit
from lightning_eq.models.metrics import group_means, mae

Features = dict[str, np.ndarray]


@dataclass
class Validation:
    """Held-out words inside the training part, for choosing hyperparameters."""

    features: Features
    curves_unit: np.ndarray
    words: list[str]


@dataclass
class FlatBaseline:
    """The flat curve: every band at z = 0 (unit 0.5). Needs no data."""

    key: str = "flat"
    embedder_keys: tuple[str, ...] = ()
    chosen: dict = field(default_factory=dict)

    def fit(self, features: Features, curves_unit: np.ndarray, words: list[str], val: Validation | None = None) -> None:
        pass

    def predict(self, features: Features, n: int | None = None) -> np.ndarray:
        n = n if n is not None else len(next(iter(features.values()), []))
        return np.tile(z_to_unit(np.zeros(N_BANDS)), (n, 1))


@dataclass
class MeanBaseline(FlatBaseline):
    """The mean training curve, whatever the description."""

    key: str = "mean"
    mean_unit: np.ndarray | None = None

    def fit(self, features, curves_unit, words, val=None) -> None:
        self.mean_unit = curves_unit.mean(axis=0)

    def predict(self, features, n=None) -> np.ndarray:
        n = n if n is not None else len(next(iter(features.values()), []))
        return np.tile(self.mean_unit, (n, 1))


def _unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


@dataclass
class EmbeddingBaseline(FlatBaseline):
    """A baseline that reads one embedding, named by ``embedder`` (the config's ``baseline.embedder``)."""

    embedder: str = "gpt"

    def __post_init__(self):
        self.embedder_keys = (self.embedder,)


@dataclass
class KnnBaseline(EmbeddingBaseline):
    """Mean curve of the k training words nearest (cosine) in one embedding."""

    key: str = "knn"
    k_candidates: tuple[int, ...] = (3, 5, 10, 20, 40)
    k: int = 10
    word_vectors: np.ndarray | None = None
    word_curves: np.ndarray | None = None

    def fit(self, features, curves_unit, words, val=None) -> None:
        names, self.word_curves = group_means(curves_unit, words)
        first = {w: i for i, w in reversed(list(enumerate(words)))}
        self.word_vectors = _unit_rows(features[self.embedder][[first[w] for w in names]])
        if val is not None and len(self.k_candidates) > 1:
            scores = {k: mae(self._predict(val.features, k), val.curves_unit) for k in self.k_candidates}
            self.k = min(scores, key=scores.get)
        self.chosen = {"k": self.k}

    def _predict(self, features: Features, k: int) -> np.ndarray:
        sims = _unit_rows(features[self.embedder]) @ self.word_vectors.T  # (N, W)
        k = min(k, sims.shape[1])
        nearest = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        return self.word_curves[nearest].mean(axis=1)

    def predict(self, features, n=None) -> np.ndarray:
        return self._predict(features, self.k)


@dataclass
class RidgeBaseline(EmbeddingBaseline):
    """Ridge regression from one standardised embedding to the 40 bands."""

    key: str = "ridge"
    alpha_candidates: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0, 1000.0)
    alpha: float = 10.0
    model: object = None

    def _fit(self, features, curves_unit, alpha):
        from sklearn.linear_model import Ridge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), Ridge(alpha=alpha)).fit(features[self.embedder], curves_unit)

    def fit(self, features, curves_unit, words, val=None) -> None:
        if val is not None and len(self.alpha_candidates) > 1:
            scores = {
                a: mae(self._fit(features, curves_unit, a).predict(val.features[self.embedder]), val.curves_unit)
                for a in self.alpha_candidates
            }
            self.alpha = min(scores, key=scores.get)
        self.model = self._fit(features, curves_unit, self.alpha)
        self.chosen = {"alpha": self.alpha}

    def predict(self, features, n=None) -> np.ndarray:
        return np.clip(self.model.predict(features[self.embedder]), 0.0, 1.0)
