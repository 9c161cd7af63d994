"""The vocabulary's vectors under every embedder setting a job needs, read from (or added to) the disk cache.

``Vectors`` is what training, the objective and the sweeps' workers see instead of text: ``features(cfg,
keys, words)`` gives {embedder key: (len(words), dim)} for the settings in ``cfg.embedders``. Words are embedded
when first asked for (an English-only model never embeds the Spanish words), and the whole object pickles
(arrays and names only), so spawned workers never re-embed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from lightning_eq.embeddings.base import clean_texts


def setting_id(key: str, embedders: Any) -> str:
    """A stable name of embedder ``key``'s settings in ``embedders`` (a config's ``embedders`` section)."""
    return f"{key}:{json.dumps(getattr(embedders, key).model_dump(), sort_keys=True)}"


class Vectors:
    """Vectors of ``texts`` per embedder setting; what is missing is embedded through the cache on demand."""

    def __init__(self, texts: Sequence[str], cache_dir: str | Path | None = None):
        self.texts = sorted(set(clean_texts(texts)))
        self.index = {t: i for i, t in enumerate(self.texts)}
        self.cache_dir = None if cache_dir is None else str(cache_dir)
        self.matrices: dict[str, np.ndarray] = {}  # setting id -> (len(texts), dim), NaN rows not embedded yet
        self.filled: dict[str, np.ndarray] = {}  # setting id -> (len(texts),) bool

    def _rows(self, words: Sequence[str] | None) -> np.ndarray:
        return np.arange(len(self.texts)) if words is None else np.unique([self.index[w] for w in words])

    def prepare(self, key: str, embedders_list: Sequence[Any], words: Sequence[str] | None = None) -> None:
        """Embed (or read from the cache) ``words`` (default: every text) under every setting of ``key`` in the given
        ``embedders`` sections, at once (gpt settings that differ only in layer share one forward pass)."""
        from lightning_eq.embeddings import embed_settings

        rows = self._rows(words)
        todo: dict[str, Any] = {}
        for embedders in embedders_list:
            name = setting_id(key, embedders)
            if name not in self.filled or not self.filled[name][rows].all():
                todo.setdefault(name, embedders)
        if not todo:
            return
        needed = np.unique(np.concatenate([rows[~self.filled[n][rows]] if n in self.filled else rows for n in todo]))
        first = next(iter(todo.values()))
        arrays = embed_settings(key, [getattr(e, key) for e in todo.values()], [self.texts[i] for i in needed], first,
                                self.cache_dir)
        for name, array in zip(todo, arrays):
            if name not in self.matrices:
                self.matrices[name] = np.full((len(self.texts), array.shape[1]), np.nan, dtype=np.float32)
                self.filled[name] = np.zeros(len(self.texts), dtype=bool)
            self.matrices[name][needed] = array
            self.filled[name][needed] = True

    def matrix(self, key: str, embedders: Any, words: Sequence[str] | None = None) -> np.ndarray:
        """(len(texts), dim) for embedder ``key`` with the settings of ``embedders``; ``words`` (default all) are
        sure to be embedded."""
        self.prepare(key, [embedders], words)
        return self.matrices[setting_id(key, embedders)]

    def features(self, cfg: Any, keys: Sequence[str], words: Sequence[str]) -> dict[str, np.ndarray]:
        """{key: (len(words), dim)} rows for ``words`` (each must be in the vocabulary)."""
        rows = [self.index[w] for w in words]
        return {k: self.matrix(k, cfg.embedders, words)[rows] for k in keys}
