"""The one registry of model keys: what each model is, which embeddings it reads, which config section holds its
hyperparameters, and how to build it.

Every embedder of ``embeddings.registry`` gets a dense head of the same key; ``ensemble`` and ``attention``
read the embedders of ``ensemble.embedders``; ``knn`` and ``ridge`` read ``baseline.embedder``. A model's
*default configuration* is ``Config()`` with the ``fixed:`` settings of its ``sweeps/<key>.yaml``.

What follows from the registry here: a study's configuration digest (``read_settings``: only the sections a model
reads and the settings of the embedders it can read), the order the main job starts studies in
(``relative_cost``) and the multilingual models (``multilingual_keys``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import math

from lightning_eq.config import Config, fingerprint
from lightning_eq.embeddings.registry import EMBEDDERS
from lightning_eq.errors import ConfigError


@dataclass(frozen=True)
class ModelEntry:
    key: str
    description: str
    section: str  # the config section of its hyperparameters ("" for none)
    kind: str  # head | ensemble | attention | baseline
    embedders: Callable[[Config], tuple[str, ...]]
    reads: tuple[str, ...] = ()  # config sections only some models read (head, ensemble, baseline) that this one does
    weight: float = 1.0  # its study's time relative to a head study on the same embeddings (see relative_cost)


def head_entry(key: str) -> ModelEntry:
    """The dense head that every registered embedder gets, under the embedder's key."""
    return ModelEntry(key, f"dense head on {EMBEDDERS[key].description}", "head", "head", lambda cfg: (key,), ("head",))


def _entries() -> dict[str, ModelEntry]:
    heads = [head_entry(k) for k in EMBEDDERS]
    ensembles = [
        ModelEntry("ensemble", "dense head on several embeddings side by side", "head", "ensemble",
                   lambda cfg: tuple(cfg.ensemble.embedders), ("head", "ensemble")),
        ModelEntry("attention", "attention ensemble over several embeddings", "head", "attention",
                   lambda cfg: tuple(cfg.ensemble.embedders), ("head", "ensemble"), 1.5),
    ]
    baselines = [
        ModelEntry("flat", "baseline: the flat curve", "", "baseline", lambda cfg: (), weight=0.0),
        ModelEntry("mean", "baseline: the mean training curve", "", "baseline", lambda cfg: (), weight=0.0),
        ModelEntry("knn", "baseline: mean curve of the k nearest training words", "baseline", "baseline",
                   lambda cfg: (cfg.baseline.embedder,), ("baseline",), 0.05),
        ModelEntry("ridge", "baseline: ridge regression from an embedding", "baseline", "baseline",
                   lambda cfg: (cfg.baseline.embedder,), ("baseline",), 0.1),
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


def relative_cost(key: str, cfg: Config) -> float:
    """Rough time of model ``key``'s study under ``cfg``: its weight times the registry's costs of the embeddings it
    reads (a head: its embedder's; an ensemble: the sum). An embedder without a cost counts as infinitely slow,
    so an unknown model is started first, never last."""
    costs = [EMBEDDERS[k].cost for k in embedder_keys(key, cfg)]
    if any(c is None for c in costs):
        return math.inf
    return MODELS[key].weight * (sum(costs) if costs else 1.0)


def read_settings(key: str, cfg: Config, embedders: tuple[str, ...] | set[str]) -> dict:
    """The settings of ``cfg`` that model ``key`` can read, flattened (``config.fingerprint``): every section but the
    model-specific ones of other models (head, ensemble, baseline) and the ``embedders`` section, plus the
    sub-sections of ``embedders`` (its embeddings: every one its search space can choose). What a study's name
    covers, so that registering an embedder or changing another model's section renames no study of this one."""
    own = set(MODELS[check_model_key(key)].reads)
    other = {s for e in MODELS.values() for s in e.reads} - own
    keep = {f"embedders.{k}" for k in embedders}
    out = {}
    for path, value in fingerprint(cfg).items():
        section = path.split(".")[0]
        if section in other or (section == "embedders" and ".".join(path.split(".")[:2]) not in keep):
            continue
        out[path] = value
    return out
