"""Shared pieces of the engine tests (imported by them; no tests here): fake embedding vectors for every
embedder setting, small tables of real SocialEQ records, search spaces written to tmp_path, and a toy embedder
registered for one test as a new adapter and registry entry would be."""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import yaml

from lightning_eq.data.table import Table
from lightning_eq.embeddings.base import clean_texts
from lightning_eq.embeddings.registry import EMBEDDERS, EmbedderEntry, Settings
from lightning_eq.embeddings.vectors import Vectors, setting_id



def fake_dim(key: str) -> int:
    """The width of embedder ``key``'s fake vectors: 16 to 63, from a hash of the key (any registered key works)."""
    return 16 + int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 48


class FakeVectors(Vectors):
    """Deterministic vectors from a hash of (embedder setting, text): no model is loaded, and two settings of one
    embedder (another gpt layer, say) give other vectors, as real ones do. Pickles for spawned workers."""

    def prepare(self, key, embedders_list, words=None) -> None:
        for embedders in embedders_list:
            name = setting_id(key, embedders)
            if name not in self.matrices:
                seeds = [int(hashlib.sha256(f"{name}|{t}".encode()).hexdigest()[:8], 16) for t in self.texts]
                self.matrices[name] = np.stack([np.random.default_rng(s).standard_normal(fake_dim(key)) for s in seeds]).astype(np.float32)
                self.filled[name] = np.ones(len(self.texts), dtype=bool)


def small_table(data, n_words: int = 60) -> Table:
    """The records of the first ``n_words`` words (sorted), as a table: quick to cross-validate."""
    words = set(data.words[:n_words])
    return Table.from_records(data.records, [i for i, r in enumerate(data.records) if r.descriptor in words])


def write_space(folder: Path, model: str = "glove", trials: int = 3, epochs: int = 4, sweep: dict | None = None,
                space: dict | None = None, fixed: dict | None = None) -> Path:
    """A small sweeps/<model>.yaml: few trials, few epochs, a one-layer head, fast heartbeats."""
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "model": model,
        "sweep": {"trials": trials, "pruner": "median", "n_startup_trials": 2, "warmup_epochs": 1,
                  "heartbeat_interval_s": 1, "grace_period_s": 3, **(sweep or {})},
        "fixed": fixed if fixed is not None else {"head": {"max_epochs": epochs, "patience": 2, "hidden_sizes": [16]}},
        "space": space or {"head.dropout": {"low": 0.0, "high": 0.5}, "head.lr": {"low": 0.01, "high": 0.3, "log": True}},
    }
    path = folder / f"{model}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


class ToySettings(Settings):
    scale: float = 1.0  # multiplies every vector: a setting that changes the vectors


class ToyEmbedder:
    """A new embedder as its adapter module would define it: deterministic vectors from a hash of the text, no model."""

    key = "toy"
    dim = 24

    def __init__(self, scale: float = 1.0, cache_root=None):
        self.scale, self.calls = scale, 0

    @property
    def signature(self) -> str:
        return f"toy|toy-vectors==1.0|scale={self.scale}"

    @property
    def model_digest(self) -> str:
        return "toy-vectors==1.0"

    def embed(self, texts):
        texts = clean_texts(texts)
        seeds = [int(hashlib.sha256(t.encode()).hexdigest()[:8], 16) for t in texts]
        return (self.scale * np.stack([np.random.default_rng(s).standard_normal(self.dim) for s in seeds])).astype(np.float32)


TOY = EmbedderEntry("toy", "toy vectors", ToySettings, "engine:ToyEmbedder")


@contextmanager
def registered(entry: EmbedderEntry = TOY):
    """``entry`` in the embedder registry as if embeddings/registry.py listed it: the config gets its ``embedders``
    section and the catalog its head, as importing them with that registry would build them; undone on exit."""
    EMBEDDERS[entry.key] = entry
    try:
        _rebuild_from_registry()
        yield entry
    finally:
        del EMBEDDERS[entry.key]
        _rebuild_from_registry()


def _rebuild_from_registry() -> None:
    """What importing config.py and models/catalog.py builds from EMBEDDERS, rebuilt in place."""
    from pydantic import Field
    from pydantic.fields import FieldInfo

    from lightning_eq import config
    from lightning_eq.models import catalog

    section = config._embedders_section()
    config.EmbedderConfig = section
    config.Config.model_fields["embedders"] = FieldInfo.from_annotated_attribute(section, Field(default_factory=section))
    config.Config.model_rebuild(force=True)
    entries = catalog._entries()
    catalog.MODELS.clear()
    catalog.MODELS.update(entries)
    catalog.DESCRIPTIONS.clear()
    catalog.DESCRIPTIONS.update({k: e.description for k, e in entries.items()})
    catalog.MODEL_KEYS = tuple(entries)
