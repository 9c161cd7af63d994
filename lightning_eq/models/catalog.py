"""Every model key, which embeddings it reads, and how to build it from the config."""

from __future__ import annotations

import dataclasses

from lightning_eq.config import HEAD_MODEL_KEYS, MODEL_KEYS, Config, check_model_key
from lightning_eq.models.baselines import FlatBaseline, KnnBaseline, MeanBaseline, RidgeBaseline

STUDY_MODELS = HEAD_MODEL_KEYS + ("ensemble", "attention")  # the study's six
DESCRIPTIONS = {
    "glove": "dense head on GloVe 6B 50-d",
    "tok2vec": "dense head on spaCy Tok2Vec (+ static vectors)",
    "gpt": "dense head on a decoder-only LM's hidden states",
    "bert": "dense head on a BERT-family encoder",
    "e5": "dense head on multilingual e5-small",
    "ensemble": "dense head on all four embeddings side by side",
    "attention": "attention ensemble over the four embeddings",
    "flat": "baseline: the flat curve",
    "mean": "baseline: the mean training curve",
    "knn": "baseline: mean curve of the k nearest training words",
    "ridge": "baseline: ridge regression from an embedding",
}


def embedder_keys(key: str, cfg: Config) -> tuple[str, ...]:
    """The embeddings model ``key`` reads."""
    check_model_key(key)
    if key in ("ensemble", "attention"):
        return HEAD_MODEL_KEYS
    if key in ("knn", "ridge"):
        return (cfg.baseline.embedder,)
    if key in ("flat", "mean"):
        return ()
    return (key,)


def build_model(key: str, cfg: Config, chosen: dict | None = None):
    """A fresh, untrained model. ``chosen`` fixes hyperparameters picked on validation words."""
    from lightning_eq.training.fit import NeuralModel  # torch is imported only when a neural model is built

    check_model_key(key)
    chosen = chosen or {}
    if key == "flat":
        return FlatBaseline()
    if key == "mean":
        return MeanBaseline()
    if key == "knn":
        ks = (chosen["k"],) if "k" in chosen else tuple(cfg.baseline.knn_k)
        return KnnBaseline(embedder=cfg.baseline.embedder, k_candidates=ks, k=ks[0])
    if key == "ridge":
        alphas = (chosen["alpha"],) if "alpha" in chosen else tuple(cfg.baseline.ridge_alpha)
        return RidgeBaseline(embedder=cfg.baseline.embedder, alpha_candidates=alphas, alpha=alphas[0])
    head = cfg.head
    if "best_epoch" in chosen:
        head = dataclasses.replace(head, max_epochs=chosen["best_epoch"] + 1)
    kind = key if key in ("ensemble", "attention") else "head"
    return NeuralModel(key, embedder_keys(key, cfg), kind, head, cfg.trainer)


assert set(DESCRIPTIONS) == set(MODEL_KEYS)
