"""The vocabulary's vectors under every embedder setting a job needs, read from (or added to) the disk cache.

``Vectors`` is what training, the objective and the sweeps' workers see instead of text: ``features(cfg,
keys, words)`` gives {embedder key: (len(words), dim)} for the settings in ``cfg.embedders``. It pickles
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
    """Vectors of ``texts`` per embedder setting; missing settings are embedded through the cache on demand."""

    def __init__(self, texts: Sequence[str], cache_dir: str | Path | None = None):
        self.texts = sorted(set(clean_texts(texts)))
        self.index = {t: i for i, t in enumerate(self.texts)}
        self.cache_dir = None if cache_dir is None else str(cache_dir)
        self.matrices: dict[str, np.ndarray] = {}

    def prepare(self, key: str, embedders_list: Sequence[Any]) -> None:
        """Embed (or read from the cache) every setting of ``key`` in the given ``embedders`` sections at once."""
        from lightning_eq.embeddings import embed_settings

        missing = {}
        for embedders in embedders_list:
            missing.setdefault(setting_id(key, embedders), embedders)
        missing = {k: v for k, v in missing.items() if k not in self.matrices}
        if not missing:
            return
        first = next(iter(missing.values()))
        arrays = embed_settings(key, [getattr(e, key) for e in missing.values()], self.texts, first, self.cache_dir)
        self.matrices.update(zip(missing, arrays))

    def matrix(self, key: str, embedders: Any) -> np.ndarray:
        """(len(texts), dim) for embedder ``key`` with the settings of ``embedders``."""
        name = setting_id(key, embedders)
        if name not in self.matrices:
            self.prepare(key, [embedders])
        return self.matrices[name]

    def features(self, cfg: Any, keys: Sequence[str], words: Sequence[str]) -> dict[str, np.ndarray]:
        """{key: (len(words), dim)} rows for ``words`` (each must be in the vocabulary)."""
        rows = [self.index[w] for w in words]
        return {k: self.matrix(k, cfg.embedders)[rows] for k in keys}

    def extend(self, texts: Sequence[str]) -> "Vectors":
        """A new Vectors over these texts and the new ones (matrices are embedded again on demand)."""
        return Vectors([*self.texts, *texts], self.cache_dir)
