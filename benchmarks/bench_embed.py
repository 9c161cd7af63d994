"""Embedding the SocialEQ vocabulary (388 descriptors) per embedder: cold (import + model load + embed, no
embedding cache) and warm (every text already in the SQLite cache, model never loaded).

Converted models (gpt's GGUF -> safetensors) live in the config's cache_dir as in normal use; the embedding
cache is a temporary directory so "cold" really embeds. Embedders run in one process in registry (EMBEDDERS) order,
so torch and transformers are imported inside gpt's load time and bert's load excludes them.

    python benchmarks/bench_embed.py [key ...]
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from lightning_eq.config import EmbedderConfig
from lightning_eq.embeddings.registry import EMBEDDERS
from lightning_eq.data.socialeq import load_records
from lightning_eq.embeddings import EmbeddingCache, build_embedder, make_embedder


@dataclass
class EmbedTiming:
    key: str
    dim: int
    load_s: float  # import + model load + one word
    embed_s: float  # the whole vocabulary with the model loaded
    warm_s: float  # the whole vocabulary from the cache, fresh wrapper, no model
    note: str = ""

    @property
    def cold_s(self) -> float:
        return self.load_s + self.embed_s


def time_embedder(key: str, cfg: EmbedderConfig, words: list[str], sqlite_dir: Path) -> EmbedTiming:
    """Cold and warm-cache timings of one embedder on ``words``."""
    embedder = make_embedder(key, cfg)
    converting = getattr(embedder, "conversion_pending", False)
    start_s = time.perf_counter()
    embedder.embed(words[:1])
    load_s = time.perf_counter() - start_s
    start_s = time.perf_counter()
    vectors = embedder.embed(words)
    embed_s = time.perf_counter() - start_s
    EmbeddingCache(sqlite_dir).put(embedder.signature, dict(zip(words, vectors)))
    cached = build_embedder(key, cfg, sqlite_dir)
    start_s = time.perf_counter()
    cached.embed(words)
    warm_s = time.perf_counter() - start_s
    assert cached.misses == 0, f"{key}: {cached.misses} cache misses on a warm cache"
    note = "load includes the one-time GGUF conversion" if converting else ""
    return EmbedTiming(key, vectors.shape[1], load_s, embed_s, warm_s, note)


def main(keys: list[str] | None = None) -> None:
    words = load_records().words
    cfg = EmbedderConfig()
    print(f"{len(words)} descriptors; model cache {cfg.cache_dir}", flush=True)
    print(f"{'embedder':<9} {'dim':>4} {'load s':>7} {'embed s':>8} {'cold s':>7} {'warm ms':>8}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-embed-") as tmp:
        for key in keys or EMBEDDERS:
            t = time_embedder(key, cfg, words, Path(tmp))
            print(f"{t.key:<9} {t.dim:>4} {t.load_s:>7.1f} {t.embed_s:>8.1f} {t.cold_s:>7.1f} {1000 * t.warm_s:>8.1f}  {t.note}",
                  flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
