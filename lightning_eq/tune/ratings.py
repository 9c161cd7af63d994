"""A listener's ratings of probe curves, checked at the edge (the CLI's file, the API's body)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lightning_eq.curves import N_BANDS
from lightning_eq.errors import RatingsError

MAX_RATINGS = 200  # a listener rates a handful; 200 keeps one request small and its solve instant


@dataclass(frozen=True)
class Rating:
    """How much a listener liked one probe: ``curve_z`` (40,) as played, ``rating`` in [0, 1] (1 = best)."""

    curve_z: np.ndarray
    rating: float

    def to_dict(self) -> dict:
        return {"curve_z": np.asarray(self.curve_z, dtype=float).round(5).tolist(), "rating": self.rating}


def zscore(curve: np.ndarray) -> np.ndarray:
    """The z-scored shape (mean 0, population std 1 across bands), as SocialEQ stores curves; flat stays flat."""
    curve = np.asarray(curve, dtype=float)
    centred = curve - curve.mean(axis=-1, keepdims=True)
    std = centred.std(axis=-1, keepdims=True)
    return np.divide(centred, std, out=np.zeros_like(centred), where=std > 1e-12)


def _curve(value: object, where: str) -> np.ndarray:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or len(value) != N_BANDS:
        got = f"{len(value)} values" if isinstance(value, (list, tuple)) else type(value).__name__
        raise RatingsError(f"{where}: curve_z must be a list of {N_BANDS} finite numbers (one per band), got {got}.")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value):
        raise RatingsError(f"{where}: curve_z must be {N_BANDS} finite numbers; it holds a non-number, NaN or infinity.")
    return np.asarray(value, dtype=float)


def _rating(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RatingsError(f"{where}: rating must be a number from 0 (dislike) to 1 (like), got {value!r}.")
    if not 0.0 <= value <= 1.0:
        raise RatingsError(f"{where}: rating {value:g} is outside [0, 1]; rate from 0 (dislike) to 1 (like).")
    return float(value)


def parse_ratings(obj: object) -> list[Rating]:
    """Ratings from JSON-like data: a list of {"curve_z": [40], "rating": r}, or {"ratings": [...]}; Rating items pass."""
    if isinstance(obj, dict) and "ratings" in obj:
        obj = obj["ratings"]
    if obj is None:
        return []
    if not isinstance(obj, (list, tuple)):
        raise RatingsError(f"Ratings must be a list of {{\"curve_z\": [{N_BANDS} numbers], \"rating\": 0..1}} objects "
                           f"(or {{\"ratings\": [...]}}), got {type(obj).__name__}.")
    if len(obj) > MAX_RATINGS:
        raise RatingsError(f"{len(obj)} ratings is more than the {MAX_RATINGS} one request may hold; send the latest {MAX_RATINGS}.")
    out = []
    for i, item in enumerate(obj):
        where = f"ratings[{i}]"
        if isinstance(item, Rating):
            item = {"curve_z": item.curve_z, "rating": item.rating}
        if not isinstance(item, dict) or "curve_z" not in item or "rating" not in item:
            raise RatingsError(f"{where}: expected an object with 'curve_z' ({N_BANDS} numbers) and 'rating' (0..1).")
        out.append(Rating(_curve(item["curve_z"], where), _rating(item["rating"], where)))
    return out
