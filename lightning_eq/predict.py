"""Text -> EqCurve with a trained model: embed the text the way the model was trained, run the model."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from lightning_eq.curves import EqCurve, unit_to_z
from lightning_eq.describe import describe
from lightning_eq.embeddings.base import clean_texts
from lightning_eq.errors import LightningEqError
from lightning_eq.models.store import DEFAULT_MODELS_DIR, StoredModel, load_model


class Predictor:
    """A loaded model plus its embedders (whose pretrained weights load only on a cache miss)."""

    def __init__(self, stored: StoredModel, cache_dir: str | Path | None = None):
        from lightning_eq.embeddings import build_embedder

        self.stored = stored
        self.key = stored.key
        self.embedders = {k: build_embedder(k, stored.config.embedders, cache_dir) for k in stored.embedder_keys}

    def warm_up(self) -> None:
        """Load every embedder's pretrained weights now, so the first new phrase does not pay for it."""
        for cached in self.embedders.values():
            cached.embedder.embed(["warm"])  # past the cache on purpose: loads the model, writes nothing

    def predict_unit(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), 40) curves on the unit scale."""
        texts = clean_texts(texts)
        features = {k: e.embed(texts) for k, e in self.embedders.items()}
        return self.stored.model.predict(features, len(texts))

    def predict(self, texts: Sequence[str]) -> list[EqCurve]:
        """One z-scale EqCurve per description, tagged with the text and the model key.

        Descriptions go through ``describe``: several descriptors, intensity words and "less X" are handled
        there; a plain word or phrase gets the model's own curve.
        """
        if isinstance(texts, str):
            texts = [texts]
        return [describe(t, lambda phrases: unit_to_z(self.predict_unit(phrases)), self.key) for t in texts]


def load_predictor(model: str | None = None, models_dir: str | Path = DEFAULT_MODELS_DIR,
                   cache_dir: str | Path | None = None, tracking_uri: str | None = "sqlite:///mlruns/mlflow.db") -> Predictor:
    """The trained model ``model``. By default the registry's ``lightning-eq@champion`` when ``tracking_uri`` has
    one (``lightning-eq promote``), else the best model of the last evaluation in ``models_dir``. The default URI is
    ``lightning_eq.tracking.DEFAULT_TRACKING_URI``; None skips the registry."""
    if model is None and tracking_uri:
        from lightning_eq.tracking.registry import load_champion

        champion = load_champion(tracking_uri)
        if champion is not None:
            return Predictor(champion, cache_dir)
    return Predictor(load_model(models_dir, model), cache_dir)


def predict_curves(texts: Sequence[str], model: str | None = None, models_dir: str | Path = DEFAULT_MODELS_DIR,
                   cache_dir: str | Path | None = None, tracking_uri: str | None = "sqlite:///mlruns/mlflow.db") -> list[EqCurve]:
    """Convenience: load a predictor (the champion by default, see ``load_predictor``) and predict z-scale curves."""
    if not texts:
        raise LightningEqError("Expected at least one description, such as 'warm' or 'bright and airy'.")
    return load_predictor(model, models_dir, cache_dir, tracking_uri).predict(list(texts))
