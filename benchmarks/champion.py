"""A registered champion in a temporary MLflow store, for the benchmarks that need one (no study storage): the
gpt head for English descriptions (the model `make run` promotes) and the e5 model for the others, each in its
default configuration, trained on all the data. Not a benchmark itself."""

from __future__ import annotations

import logging
from pathlib import Path

from lightning_eq.config import Config


def temporary_champion(folder: Path) -> str:
    """Register a champion in ``folder``; returns its tracking URI."""
    from lightning_eq.training.promote import promote

    logging.getLogger("lightning_eq").setLevel(logging.WARNING)
    uri = f"sqlite:///{folder}/mlflow.db"
    promote(Config(), model="gpt", storage=None, tracking_uri=uri)
    return uri
