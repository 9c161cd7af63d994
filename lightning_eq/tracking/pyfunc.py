"""The registered model as an MLflow pyfunc: descriptions in (a ``text`` column), one row per description out:
its language, the model that answered, the confidence, the description's amount and the 40-band z-scale curve.

It carries ``bundle.pkl``, the routes of ``predict.Predictor`` ({"en": StoredModel, "multi": StoredModel}, or
{"all": StoredModel} for a multilingual champion that answers every language),
embeds text through the embedding cache at inference and needs lightning-eq installed where it runs.
"""

from __future__ import annotations

import mlflow.pyfunc
import pandas as pd

from lightning_eq.errors import LightningEqError
from lightning_eq.tracking.champion import read_bundle

BUNDLE = "bundle"  # the artifact's key; the file is bundle.pkl


class CurveModel(mlflow.pyfunc.PythonModel):
    """Text -> curve through ``predict.Predictor``, as `lightning-eq predict` does (routing, describe, confidence)."""

    def load_context(self, context) -> None:
        from lightning_eq.predict import Predictor

        self.predictor = Predictor(read_bundle(context.artifacts[BUNDLE]))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        """A DataFrame with a ``text`` column (a list of strings or one string also do).

        The DataFrame hint tells MLflow not to infer a schema from type hints: the logged signature is explicit."""
        if hasattr(model_input, "columns"):
            if "text" not in model_input.columns:
                raise LightningEqError(f"Expected a 'text' column of descriptions, got columns {list(model_input.columns)}.")
            texts = [str(t) for t in model_input["text"]]
        else:
            texts = [model_input] if isinstance(model_input, str) else [str(t) for t in model_input]
        curves = self.predictor.predict(texts)
        return pd.DataFrame({
            "text": [c.text for c in curves], "language": [c.language or "" for c in curves],
            "model": [c.model for c in curves], "confidence": [float("nan") if c.confidence is None else c.confidence for c in curves],
            "amount": [c.amount for c in curves], "curve_z": [c.curve_z.round(6).tolist() for c in curves]})
