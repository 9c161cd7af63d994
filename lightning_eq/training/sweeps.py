"""`lightning-eq sweep`: the requested studies of each model, then their tables."""

from __future__ import annotations

import logging

from lightning_eq.config import Config
from lightning_eq.data.socialeq import load_hq_words, load_records
from lightning_eq.embeddings.vectors import Vectors
from lightning_eq.models.catalog import DESCRIPTIONS
from lightning_eq.training.nested import SweepRequest, sweep_model
from lightning_eq.training.report import choices_table, nested_table, study_table

log = logging.getLogger(__name__)


def run_sweep_command(cfg: Config, request: SweepRequest, cache_dir: str | None = None) -> str:
    """Run every requested study; the studies' table, and the nested table when outer folds were swept."""
    data, hq_words = load_records(cfg.data.path or None, "all"), load_hq_words()
    vectors = Vectors(data.words, cache_dir)
    sweeps = []
    for key in request.models:
        sweeps.append(sweep_model(key, cfg, data, hq_words, vectors, request, on_study=lambda s: log.info(
            "%s: CV MAE default %.4f, best %.4f ± %.4f (trial %d)", s["study"], s["default_value"], s["best_value"],
            s["best_se"], s["best_trial"])))
    studies = [st for s in sweeps for st in s.studies]
    table = study_table(studies) + "\n\nWhat each best trial changed:\n\n" + choices_table(studies)
    folds = [o for s in sweeps for o in s.folds]
    if folds:
        table += "\n\nTest words of each outer fold, scored once with trial 0 (default) and the best trial:\n\n"
        table += nested_table(folds, DESCRIPTIONS)
    return table
