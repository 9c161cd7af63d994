"""Text embedders, one adapter per key (see ``registry.EMBEDDERS``), each behind the on-disk cache.

>>> vectors = build_embedder("glove", Config().embedders).embed(["warm", "bright and airy"])  # (2, 50)

Importing this package is cheap: an adapter module is imported, and its model loaded, only when needed, so
reading cached vectors never touches a model.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from lightning_eq.embeddings.base import Embedder, clean_texts
from lightning_eq.embeddings.cache import CachedEmbedder, EmbeddingCache
from lightning_eq.embeddings.registry import EMBEDDERS
from lightning_eq.errors import ConfigError

__all__ = ["Embedder", "CachedEmbedder", "EmbeddingCache", "clean_texts", "make_embedder", "build_embedder",
           "embed_vocabulary", "embed_settings", "EMBEDDERS"]

log = logging.getLogger(__name__)


def check_embedder_key(key: str) -> str:
    if key not in EMBEDDERS:
        raise ConfigError(f"Unknown embedder {key!r}. Choose one of: {', '.join(EMBEDDERS)}.")
    return key


def cache_root(cfg: Any, cache_dir: str | Path | None = None) -> Path:
    """The cache folder: ``cache_dir`` if given, else the embedders section's ``cache_dir`` (``~`` expanded)."""
    return Path(cache_dir if cache_dir is not None else cfg.cache_dir).expanduser()


def make_embedder(key: str, cfg: Any, cache_dir: str | Path | None = None) -> Embedder:
    """The uncached adapter for ``key`` with the settings of ``cfg`` (a config's ``embedders`` section)."""
    entry = EMBEDDERS[check_embedder_key(key)]
    return entry.build(getattr(cfg, key), cache_root(cfg, cache_dir))


def build_embedder(key: str, cfg: Any, cache_dir: str | Path | None = None) -> CachedEmbedder:
    """The adapter for ``key`` behind the SQLite cache in ``cache_dir`` (default: the section's ``cache_dir``)."""
    root = cache_root(cfg, cache_dir)
    return CachedEmbedder(make_embedder(key, cfg, root), EmbeddingCache(root))


def embed_vocabulary(keys: Sequence[str], texts: Sequence[str], cfg: Any, cache_dir: str | Path | None = None,
                     progress: bool = True) -> dict[str, np.ndarray]:
    """{key: (len(texts), dim) float32} for each embedder key, rows in the order of ``texts``; logs timings."""
    for key in keys:
        check_embedder_key(key)
    texts = clean_texts(texts)
    vectors = {}
    for key in keys:
        embedder = build_embedder(key, cfg, cache_dir)
        start_s = time.perf_counter()
        vectors[key] = embedder.embed(texts)
        if progress:
            log.info("%s: %d texts -> %s in %.1f s (%d from cache)", key, len(texts), vectors[key].shape,
                     time.perf_counter() - start_s, embedder.hits)
    return vectors


def embed_settings(key: str, settings_list: Sequence[Any], texts: Sequence[str], cfg: Any,
                   cache_dir: str | Path | None = None) -> list[np.ndarray]:
    """(len(texts), dim) arrays, one per settings object of embedder ``key``, through the cache: only texts
    missing from it reach the model. Settings that differ only in the adapter's ``variant_fields`` share one pass
    (``embed_variants``): gpt's layers (one forward pass per prompt and pooling), gemma's sentences (each distinct
    model input once per model and prompt)."""
    texts = clean_texts(texts)
    root = cache_root(cfg, cache_dir)
    cache = EmbeddingCache(root)
    entry = EMBEDDERS[check_embedder_key(key)]
    unique = set(texts)
    adapters = [entry.build(settings, root) for settings in settings_list]
    found = [cache.get(adapter.signature, sorted(unique)) for adapter in adapters]
    variants = getattr(adapters[0], "variant_fields", ()) if adapters else ()
    groups: dict[str, list[int]] = defaultdict(list)  # settings that one pass serves
    for i, settings in enumerate(settings_list):
        if len(found[i]) < len(unique):
            shared = {k: v for k, v in settings.model_dump().items() if k not in variants} if variants else {"i": i}
            groups[repr(sorted(shared.items()))].append(i)
    for members in groups.values():
        missing = sorted(set().union(*(unique - found[i].keys() for i in members)))
        start_s = time.perf_counter()
        if variants:
            fresh = dict(zip(members, adapters[members[0]].embed_variants(missing, [adapters[i] for i in members])))
        else:
            fresh = {members[0]: adapters[members[0]].embed(missing)}
        for i, vectors in fresh.items():
            new = dict(zip(missing, vectors))
            cache.put(adapters[i].signature, new)
            found[i].update(new)
        log.info("%s: %d texts embedded for %d setting(s) in %.1f s", key, len(missing), len(members), time.perf_counter() - start_s)
    return [np.stack([f[t] for t in texts]).astype(np.float32) for f in found]
