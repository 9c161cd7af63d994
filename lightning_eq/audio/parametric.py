"""Fit a few parametric filters (a low shelf, a high shelf and peaking bells) to a dB curve.

Producers' equalisers take a handful of filters rather than 40 bands. ``fit_parametric`` builds them
greedily, then refines them together:

1. a low shelf (LSC) and a high shelf (HSC), fitted first to the curve's broad tilt;
2. each bell (PK) starts where the remaining error is largest, with that error as its gain;
3. after each addition every filter's frequency, gain and Q are refined jointly by bounded least squares
   (``scipy.optimize.least_squares``) on the summed dB response at the 40 centres, plus three monotone
   (PCHIP) in-between points per gap at a third of the weight so nothing odd happens between centres,
   and a small penalty on each filter's gain so that no two big bells cancel each other.

Filters are the cookbook biquads Equalizer APO builds (``biquads.peaking_sos`` / ``shelf_sos``), evaluated
at 48 kHz. The parameters are rounded as they will be written (1 Hz, 0.1 dB, Q to 0.01) before the fit
error is measured, so the reported error is that of the preset. With one filter there is only a bell; with
two, only the shelves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import PchipInterpolator
from scipy.optimize import least_squares

from lightning_eq.audio.biquads import peaking_sos, shelf_sos, sos_response_db
from lightning_eq.curves import BAND_CENTRES_HZ
from lightning_eq.errors import DataError

FIT_SAMPLE_RATE = 48000
MAX_FILTERS = 20
GAP_POINTS, GAP_WEIGHT = 3, 1 / 3
GAIN_RIDGE = 0.1  # per dB of filter gain: stops pairs of +-15 dB bells cancelling for a 0.05 dB gain in fit
# (low, high) bounds per filter type for fc (Hz), gain (dB) and Q; shelves above Q 1 overshoot.
BOUNDS = {
    "PK": ((20.0, 20000.0), (-20.0, 20.0), (0.3, 8.0)),
    "LSC": ((20.0, 2000.0), (-20.0, 20.0), (0.4, 1.0)),
    "HSC": ((1000.0, 20000.0), (-20.0, 20.0), (0.4, 1.0)),
}


@dataclass(frozen=True)
class ParametricFilter:
    """One filter as Equalizer APO names it: kind PK, LSC or HSC; fc in Hz; gain in dB; Q."""

    kind: str
    fc_hz: float
    gain_db: float
    q: float

    def sos(self, sample_rate: float = FIT_SAMPLE_RATE) -> np.ndarray:
        if self.kind == "PK":
            return peaking_sos(self.fc_hz, self.gain_db, self.q, sample_rate)
        return shelf_sos("low" if self.kind == "LSC" else "high", self.fc_hz, self.gain_db, self.q, sample_rate)

    def rounded(self) -> ParametricFilter:
        return ParametricFilter(self.kind, float(round(self.fc_hz)), float(round(self.gain_db, 1)), float(round(self.q, 2)))


def filters_response_db(filters: tuple[ParametricFilter, ...] | list[ParametricFilter], freqs_hz: np.ndarray) -> np.ndarray:
    """Summed dB response of the filters at freqs_hz (at FIT_SAMPLE_RATE)."""
    if not filters:
        return np.zeros(np.shape(freqs_hz))
    sos = np.stack([f.sos() for f in filters])
    return sos_response_db(sos, freqs_hz, FIT_SAMPLE_RATE).sum(axis=0)


@dataclass(frozen=True)
class ParametricFit:
    """Filters fitted to target_db at centres_hz; errors are of the rounded filters, in dB."""

    filters: tuple[ParametricFilter, ...]
    centres_hz: np.ndarray
    target_db: np.ndarray
    realised_db: np.ndarray

    @property
    def max_error_db(self) -> float:
        return float(np.max(np.abs(self.realised_db - self.target_db)))

    @property
    def rms_error_db(self) -> float:
        return float(np.sqrt(np.mean((self.realised_db - self.target_db) ** 2)))

    @property
    def preamp_db(self) -> float:
        """Minus the largest boost of the realised response from 20 Hz to 20 kHz, rounded down to 0.1 dB."""
        peak_db = float(np.max(filters_response_db(self.filters, np.geomspace(20, 20000, 2000))))
        return -float(np.ceil(max(peak_db, 0.0) * 10.0)) / 10.0 + 0.0  # + 0.0 turns -0.0 into 0.0


def _kinds(n_filters: int) -> list[str]:
    if n_filters == 1:
        return ["PK"]
    return ["LSC", "HSC"] + ["PK"] * (n_filters - 2)


def _unpack(x: np.ndarray, kinds: list[str]) -> list[ParametricFilter]:
    p = x.reshape(-1, 3)
    return [ParametricFilter(k, 2.0 ** p[i, 0], p[i, 1], np.exp(p[i, 2])) for i, k in enumerate(kinds)]


def _pack(filters: list[ParametricFilter]) -> np.ndarray:
    return np.array([[np.log2(f.fc_hz), f.gain_db, np.log(f.q)] for f in filters]).ravel()


def _refine(filters: list[ParametricFilter], freqs_hz, target_db, weights) -> list[ParametricFilter]:
    kinds = [f.kind for f in filters]
    lower = np.array([[np.log2(BOUNDS[k][0][0]), BOUNDS[k][1][0], np.log(BOUNDS[k][2][0])] for k in kinds]).ravel()
    upper = np.array([[np.log2(BOUNDS[k][0][1]), BOUNDS[k][1][1], np.log(BOUNDS[k][2][1])] for k in kinds]).ravel()
    start = np.clip(_pack(filters), lower + 1e-9, upper - 1e-9)

    def residual(x: np.ndarray) -> np.ndarray:
        misfit = weights * (filters_response_db(_unpack(x, kinds), freqs_hz) - target_db)
        return np.concatenate([misfit, GAIN_RIDGE * x[1::3]])

    fitted = least_squares(residual, start, bounds=(lower, upper), x_scale="jac", ftol=1e-5, xtol=1e-5)
    return _unpack(fitted.x, kinds)


def fit_parametric(
    gains_db: np.ndarray, centres_hz: tuple[float, ...] | np.ndarray = BAND_CENTRES_HZ, n_filters: int = 8
) -> ParametricFit:
    """n_filters shelves and bells approximating gains_db (dB) at centres_hz (Hz); see the module docstring."""
    if not 1 <= n_filters <= MAX_FILTERS:
        raise DataError(f"Number of filters must be between 1 and {MAX_FILTERS}, got {n_filters}.")
    centres, target = np.asarray(centres_hz, dtype=float), np.asarray(gains_db, dtype=float)
    log_f = np.log2(centres)
    steps = np.linspace(0.0, 1.0, GAP_POINTS + 1, endpoint=False)
    grid = np.concatenate([lo + (hi - lo) * steps for lo, hi in zip(log_f[:-1], log_f[1:])] + [log_f[-1:]])
    freqs, grid_db = 2.0**grid, PchipInterpolator(log_f, target)(grid)
    weights = np.full(grid.size, GAP_WEIGHT)
    weights[:: GAP_POINTS + 1] = 1.0

    kinds = _kinds(n_filters)
    filters = [ParametricFilter(k, 105.0 if k == "LSC" else 7000.0, 0.0, 0.7) for k in kinds if k != "PK"]
    if filters:
        filters = _refine(filters, freqs, grid_db, weights)
    for _ in range(kinds.count("PK")):
        error = grid_db - filters_response_db(filters, freqs)
        worst = int(np.argmax(np.abs(error) * weights))
        filters.append(ParametricFilter("PK", float(freqs[worst]), float(error[worst]), 2.0))
        filters = _refine(filters, freqs, grid_db, weights)
    rounded = tuple(sorted((f.rounded() for f in filters), key=lambda f: f.fc_hz))
    return ParametricFit(rounded, centres, target, filters_response_db(rounded, centres))
