"""Shared fixtures: the real SocialEQ file, broken copies of it, and a fake embedder for fast model runs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from lightning_eq.data.socialeq import DEFAULT_DATA_DIR, load_hq_words, load_records

DATA_CSV = DEFAULT_DATA_DIR / "socialeq_en.csv"


@pytest.fixture(scope="session")
def data():
    return load_records()


@pytest.fixture(scope="session")
def data_all():
    """English and Spanish records together (``load_records(language="all")``)."""
    return load_records(language="all")


@pytest.fixture(scope="session")
def hq_words():
    return load_hq_words()


@pytest.fixture
def csv_lines() -> list[str]:
    return DATA_CSV.read_text().splitlines()


@pytest.fixture
def write_csv(tmp_path):
    def write(lines: list[str], name: str = "eq.csv") -> Path:
        path = tmp_path / name
        path.write_text("\n".join(lines) + "\n")
        return path

    return write


class FakeEmbedder:
    """Deterministic vectors from a hash of the text; counts how many texts reach it."""

    def __init__(self, key: str = "fake", dim: int = 16):
        self.key, self._dim, self.calls = key, dim, 0

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def signature(self) -> str:
        return f"{self.key}-{self._dim}"

    def embed(self, texts):
        self.calls += len(texts)
        seeds = [int(hashlib.sha256(t.encode()).hexdigest()[:8], 16) for t in texts]
        return np.stack([np.random.default_rng(s).standard_normal(self._dim) for s in seeds]).astype(np.float32)


@pytest.fixture
def fake_embedder():
    return FakeEmbedder()
