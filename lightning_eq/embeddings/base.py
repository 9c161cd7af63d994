"""The embedder interface: ``key``, ``dim``, ``signature`` and ``embed(texts) -> (N, dim) float32``.

Adapters load their model lazily, on the first ``embed`` call, so that a cache hit never loads a model.
Every adapter accepts phrases ("bright and airy") as well as single words and states what it returns for
text it does not know.
"""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from lightning_eq.errors import EmbedderError


@runtime_checkable
class Embedder(Protocol):
    key: str  # "glove", "tok2vec", "gpt", "bert", "e5"

    @property
    def dim(self) -> int:
        """Length of one embedding vector."""
        ...

    @property
    def signature(self) -> str:
        """Model id, version and settings that change the vectors; part of the cache key."""
        ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32 array, one row per text."""
        ...


def clean_texts(texts: Sequence[str]) -> list[str]:
    """Lower-case and strip each text; reject empty or non-text input with a clear message."""
    if isinstance(texts, str):
        texts = [texts]
    cleaned = []
    for text in texts:
        if not isinstance(text, str):
            raise EmbedderError(f"Expected text to embed, got {type(text).__name__} {text!r}.")
        text = " ".join(text.strip().lower().split())
        if not text:
            raise EmbedderError("Expected a description such as 'warm' or 'bright and airy', got empty text.")
        cleaned.append(text)
    if not cleaned:
        raise EmbedderError("Expected at least one description to embed, got none.")
    return cleaned
