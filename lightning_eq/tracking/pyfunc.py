"""The registered model as an MLflow pyfunc: descriptions in (a ``text`` column), (N, 40) z-scale curves out.

It carries the trained model pickle (models/store format) and its config as artifacts, embeds text through
``build_embedder`` at inference (cached on disk) and needs the lightning-eq package installed where it runs.
"""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd

from lightning_eq.curves import N_BANDS, unit_to_z
from lightning_eq.describe import describe
from lightning_eq.embeddings.base import clean_texts
from lightning_eq.errors import LightningEqError
from lightning_eq.models.store import StoredModel, load_model


class CurveModel(mlflow.pyfunc.PythonModel):
    """Text -> 40-band curve (z scale), through ``describe`` as `lightning-eq predict` does."""

    stored: StoredModel

    def load_context(self, context) -> None:
        from lightning_eq.embeddings import build_embedder

        path = Path(context.artifacts["model"])
        self.stored = load_model(path.parent, path.stem)
        self.embedders = {k: build_embedder(k, self.stored.config.embedders) for k in self.stored.embedder_keys}

    def _predict_z(self, phrases: list[str]) -> np.ndarray:
        texts = clean_texts(phrases)
        features = {k: e.embed(texts) for k, e in self.embedders.items()}
        return unit_to_z(self.stored.model.predict(features, len(texts)))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> np.ndarray:
        """(N, 40) float64 curves for a DataFrame with a ``text`` column (a list of strings or one string also do).

        The DataFrame hint tells MLflow not to infer a schema from type hints: the logged signature is explicit."""
        if hasattr(model_input, "columns"):
            if "text" not in model_input.columns:
                raise LightningEqError(f"Expected a 'text' column of descriptions, got columns {list(model_input.columns)}.")
            texts = [str(t) for t in model_input["text"]]
        else:
            texts = [model_input] if isinstance(model_input, str) else [str(t) for t in model_input]
        curves = [describe(t, self._predict_z, self.stored.key).curve_z for t in texts]
        return np.asarray(curves, dtype=np.float64).reshape(len(texts), N_BANDS)
