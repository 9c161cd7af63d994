"""Shared pieces of the engine tests (imported by them; no tests here): fake embedding vectors for every
embedder setting, small tables of real SocialEQ records, and search spaces written to tmp_path."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import yaml

from lightning_eq.data.table import Table
from lightning_eq.embeddings.vectors import Vectors, setting_id

DIMS = {"glove": 50, "tok2vec": 24, "gpt": 32, "bert": 40, "e5": 16, "gemma": 20}


class FakeVectors(Vectors):
    """Deterministic vectors from a hash of (embedder setting, text): no model is loaded, and two settings of one
    embedder (another gpt layer, say) give other vectors, as real ones do. Pickles for spawned workers."""

    def prepare(self, key, embedders_list, words=None) -> None:
        for embedders in embedders_list:
            name = setting_id(key, embedders)
            if name not in self.matrices:
                seeds = [int(hashlib.sha256(f"{name}|{t}".encode()).hexdigest()[:8], 16) for t in self.texts]
                self.matrices[name] = np.stack([np.random.default_rng(s).standard_normal(DIMS[key]) for s in seeds]).astype(np.float32)
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
