"""A registered champion in a temporary MLflow store, for the benchmarks that need one (no study storage): the
gemma head (the model `make run` promotes; multilingual, it answers every language) in its default
configuration, trained on all the data. Not a benchmark itself."""

from __future__ import annotations

import logging
from pathlib import Path

from lightning_eq.config import Config

CHAMPION = "gemma"  # what a fresh clone's `make run` promoted


def temporary_champion(folder: Path) -> str:
    """Register a champion in ``folder``; returns its tracking URI."""
    from lightning_eq.training.promote import promote

    logging.getLogger("lightning_eq").setLevel(logging.WARNING)
    uri = f"sqlite:///{folder}/mlflow.db"
    promote(Config(), model=CHAMPION, storage=None, tracking_uri=uri)
    return uri
