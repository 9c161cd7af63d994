"""Tune by ear: refine a curve from a listener's ratings of probe curves (numpy only at import and inference)."""

from lightning_eq.tune.basis import CurveBasis
from lightning_eq.tune.ratings import MAX_RATINGS, Rating, parse_ratings, zscore
from lightning_eq.tune.tuner import TUNER_FILE, TuneResult, Tuner, TuneSettings, load_tuner, prior_of, save_tuner

__all__ = ["CurveBasis", "MAX_RATINGS", "Rating", "TUNER_FILE", "TuneResult", "TuneSettings", "Tuner", "load_tuner",
           "parse_ratings", "prior_of", "save_tuner", "zscore"]
