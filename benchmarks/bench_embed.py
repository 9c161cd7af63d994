"""Embedding the SocialEQ vocabulary (388 descriptors) per embedder: cold (import + model load + embed, no
embedding cache) and warm (every text already in the SQLite cache, model never loaded).

Converted models (gpt's GGUF -> safetensors) live in the config's cache_dir as in normal use; the embedding
cache is a temporary directory so "cold" really embeds. Embedders run in one process in registry (EMBEDDERS) order,
so torch and transformers are imported inside gpt's load time and bert's load excludes them.

For the embedders whose YAML searches their own settings over every language (gemma), two more lines: every
setting ``sweeps/<key>.yaml`` can ask for, embedded on all descriptors (English and Spanish) as the job's prewarm
does it (``embed_settings``, model inputs per second), and a new phrase with the model loaded (median of 20).

    python benchmarks/bench_embed.py [key ...]
"""

from __future__ import annotations

import itertools
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from lightning_eq.config import EmbedderConfig
from lightning_eq.data.socialeq import load_records
from lightning_eq.config import Config, merge
from lightning_eq.embeddings import EMBEDDERS, EmbeddingCache, build_embedder, embed_settings, make_embedder

import yaml

SWEEPS = Path(__file__).resolve().parents[1] / "sweeps"
SPACE_KEYS = ("gemma",)  # sweeps that search the embedder's own settings on English and Spanish


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


def space_settings(key: str) -> list:
    """Every combination of the ``embedders.<key>.*`` choices in ``sweeps/<key>.yaml``, as settings objects."""
    space = yaml.safe_load((SWEEPS / f"{key}.yaml").read_text())["space"]
    own = {path: spec["choices"] for path, spec in space.items() if path.startswith(f"embedders.{key}.")}
    return [getattr(merge(Config(), dict(zip(own, combo))).embedders, key) for combo in itertools.product(*own.values())]


def time_space(key: str, cfg: EmbedderConfig, texts: list[str]) -> None:
    """Seconds for every setting of the key's sweep on ``texts``, through an empty embedding cache (the model
    files are read from the config's cache), and the latency of one new phrase."""
    settings = space_settings(key)
    with tempfile.TemporaryDirectory(prefix="bench-space-") as tmp:
        (Path(tmp) / "models").symlink_to(Path(cfg.cache_dir).expanduser() / "models", target_is_directory=True)
        start_s = time.perf_counter()
        embed_settings(key, settings, texts, Config().embedders, tmp)
        seconds = time.perf_counter() - start_s
    from lightning_eq.embeddings.sentences import sentences_for

    adapters = [EMBEDDERS[key].build(s, Path(cfg.cache_dir).expanduser()) for s in settings]
    inputs = {(a.prompt, x) for a in adapters for group in sentences_for(texts, a.sentences) for x in group}
    print(f"{key}: {len(settings)} settings of sweeps/{key}.yaml on {len(texts)} descriptors (English and Spanish), "
          f"{len(inputs)} distinct model inputs, model load included: {seconds:.1f} s = "
          f"{len(inputs) / seconds:.1f} inputs/s", flush=True)
    adapter = adapters[0]
    adapter.embed(["warm"])
    phrases = [f"a little more {w} and airy" for w in texts[:20]]
    latencies = []
    for phrase in phrases:
        start_s = time.perf_counter()
        adapter.embed([phrase])
        latencies.append(time.perf_counter() - start_s)
    print(f"{key}: a new phrase, model loaded: median {1000 * statistics.median(latencies):.0f} ms "
          f"(max {1000 * max(latencies):.0f})", flush=True)


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
    every = load_records(language="all").words
    for key in [k for k in (keys or EMBEDDERS) if k in SPACE_KEYS]:
        time_space(key, cfg, every)


if __name__ == "__main__":
    main(sys.argv[1:])
