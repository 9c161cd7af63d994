"""The one registry of model keys: what each model is, which embeddings it reads, which config section holds its
hyperparameters, and how to build it.

Every embedder of ``embeddings.registry`` gets a dense head of the same key; ``ensemble`` and ``attention``
read the embedders of ``ensemble.embedders``; ``knn`` and ``ridge`` read ``baseline.embedder``. A model's
*default configuration* is ``Config()`` with the ``fixed:`` settings of its ``sweeps/<key>.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from lightning_eq.config import Config
from lightning_eq.embeddings.registry import EMBEDDERS
from lightning_eq.errors import ConfigError


@dataclass(frozen=True)
class ModelEntry:
    key: str
    description: str
    section: str  # the config section of its hyperparameters ("" for none)
    kind: str  # head | ensemble | attention | baseline
    embedders: Callable[[Config], tuple[str, ...]]


def _entries() -> dict[str, ModelEntry]:
    heads = [ModelEntry(k, f"dense head on {e.description}", "head", "head", lambda cfg, k=k: (k,)) for k, e in EMBEDDERS.items()]
    ensembles = [
        ModelEntry("ensemble", "dense head on several embeddings side by side", "head", "ensemble",
                   lambda cfg: tuple(cfg.ensemble.embedders)),
        ModelEntry("attention", "attention ensemble over several embeddings", "head", "attention",
                   lambda cfg: tuple(cfg.ensemble.embedders)),
    ]
    baselines = [
        ModelEntry("flat", "baseline: the flat curve", "", "baseline", lambda cfg: ()),
        ModelEntry("mean", "baseline: the mean training curve", "", "baseline", lambda cfg: ()),
        ModelEntry("knn", "baseline: mean curve of the k nearest training words", "baseline", "baseline",
                   lambda cfg: (cfg.baseline.embedder,)),
        ModelEntry("ridge", "baseline: ridge regression from an embedding", "baseline", "baseline",
                   lambda cfg: (cfg.baseline.embedder,)),
    ]
    return {e.key: e for e in heads + ensembles + baselines}


MODELS: dict[str, ModelEntry] = _entries()
MODEL_KEYS: tuple[str, ...] = tuple(MODELS)
NEURAL_KINDS = ("head", "ensemble", "attention")
DESCRIPTIONS = {k: e.description for k, e in MODELS.items()}


def multilingual_keys() -> tuple[str, ...]:
    """The head keys whose embedder is multilingual (``embeddings.registry``'s ``multilingual`` flag)."""
    return tuple(k for k, e in EMBEDDERS.items() if e.multilingual)


def check_model_key(key: str) -> str:
    if key not in MODELS:
        raise ConfigError(f"Unknown model {key!r}. Choose one of: {', '.join(MODEL_KEYS)}.")
    return key


def is_neural(key: str) -> bool:
    return MODELS[check_model_key(key)].kind in NEURAL_KINDS


def embedder_keys(key: str, cfg: Config) -> tuple[str, ...]:
    """The embeddings model ``key`` reads under ``cfg``."""
    return MODELS[check_model_key(key)].embedders(cfg)


def build_model(key: str, cfg: Config):
    """A fresh, untrained model of ``key`` with ``cfg``'s settings (a list of candidates takes its first value:
    the objective's inner folds resolve candidates to one before anything is fitted)."""
    from lightning_eq.models.baselines import FlatBaseline, KnnBaseline, MeanBaseline, RidgeBaseline

    entry = MODELS[check_model_key(key)]
    if key == "flat":
        return FlatBaseline()
    if key == "mean":
        return MeanBaseline()
    if key == "knn":
        return KnnBaseline(embedder=cfg.baseline.embedder, k=cfg.baseline.knn_k[0])
    if key == "ridge":
        return RidgeBaseline(embedder=cfg.baseline.embedder, alpha=cfg.baseline.ridge_alpha[0])
    from lightning_eq.models.neural import NeuralModel

    return NeuralModel(key, entry.embedders(cfg), entry.kind, cfg.head, cfg.trainer)
