"""On-disk embedding cache: each (embedder signature, text) is embedded once.

One SQLite file holds every embedder's vectors; SQLite makes it safe for several sweep workers at once.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Sequence

import numpy as np

from lightning_eq.embeddings.base import Embedder, clean_texts

SCHEMA = "CREATE TABLE IF NOT EXISTS vectors (signature TEXT, text TEXT, vector BLOB, PRIMARY KEY (signature, text))"


class EmbeddingCache:
    """Vectors keyed by embedder signature and cleaned text, in ``<cache_dir>/embeddings.sqlite``."""

    def __init__(self, cache_dir: str | Path):
        self.path = Path(cache_dir).expanduser() / "embeddings.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=60)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def get(self, signature: str, texts: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._connect() as db:
            for start in range(0, len(texts), 500):
                chunk = list(texts[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows = db.execute(f"SELECT text, vector FROM vectors WHERE signature = ? AND text IN ({marks})", [signature, *chunk])
                found.update((t, np.frombuffer(v, dtype=np.float32)) for t, v in rows)
        return found

    def put(self, signature: str, vectors: dict[str, np.ndarray]) -> None:
        rows = [(signature, t, np.asarray(v, dtype=np.float32).tobytes()) for t, v in vectors.items()]
        with self._connect() as db:
            db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)

    def count(self, signature: str) -> int:
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM vectors WHERE signature = ?", [signature]).fetchone()[0]


class CachedEmbedder:
    """Wraps an embedder: texts already in the cache are read back, the rest are embedded and stored."""

    def __init__(self, embedder: Embedder, cache: EmbeddingCache):
        self.embedder = embedder
        self.cache = cache
        self.key = embedder.key
        self.hits = 0
        self.misses = 0

    @property
    def dim(self) -> int:
        return self.embedder.dim

    @property
    def signature(self) -> str:
        return self.embedder.signature

    @property
    def model_digest(self) -> str:
        return self.embedder.model_digest

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32; only texts missing from the cache reach the model."""
        texts = clean_texts(texts)
        found = self.cache.get(self.signature, sorted(set(texts)))
        missing = sorted(set(texts) - set(found))
        if missing:
            fresh = self.embedder.embed(missing)
            new = dict(zip(missing, fresh))
            self.cache.put(self.signature, new)
            found.update(new)
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        return np.stack([found[t] for t in texts]).astype(np.float32)
