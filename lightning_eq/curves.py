"""EqCurve: 40 band centres in Hz plus values on one named scale, with every conversion in one place.

Scales:
- ``z``: the z-scored curve shape as stored in SocialEQ (mean 0, std 1 across bands, about -3.3..3.5);
- ``unit``: the study's training scale, y01 = (y + 4) / 8, so [-4, 4] maps to [0, 1];
- ``db``: gains in decibels, ready for a filter.

A shape has no gain of its own. ``to_db`` states the rule: remove the mean (a shape does not change the
overall level), scale so the largest absolute gain is ``max_gain_db`` (5 dB, as the Audealize tools do),
then multiply by ``amount`` (1 = as described, 0.5 = half, negative = the opposite direction).

This module imports numpy only, so a curve can be applied without the ML stack.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from lightning_eq.errors import DataError

Scale = Literal["z", "unit", "db"]
SCALES: tuple[str, ...] = ("z", "unit", "db")

BAND_CENTRES_HZ: tuple[float, ...] = (
    20, 50, 83, 120, 161, 208, 259, 318, 383, 455, 537, 628, 729, 843, 971, 1114, 1273, 1452, 1652, 1875,
    2126, 2406, 2719, 3070, 3462, 3901, 4392, 4941, 5556, 6244, 7014, 7875, 8839, 9917, 11124, 12474,
    13984, 15675, 17566, 19682,
)
N_BANDS = len(BAND_CENTRES_HZ)
BAND_Q = 4.31  # peaking-filter Q of the SocialEQ / Audealize graphic EQ
DEFAULT_MAX_GAIN_DB = 5.0
# Below this confidence a description counts as unfamiliar: the CLI and the page say its curve is a guess.
# Halfway between the targets of issue 8 (known SocialEQ words >= 0.8, strings that are no word <= 0.2).
LOW_CONFIDENCE = 0.5
UNIT_OFFSET, UNIT_SPAN = 4.0, 8.0


def z_to_unit(curve_z: np.ndarray) -> np.ndarray:
    """The study's scale: y01 = (y + 4) / 8. Works on any array shape."""
    return (np.asarray(curve_z, dtype=float) + UNIT_OFFSET) / UNIT_SPAN


def unit_to_z(curve_unit: np.ndarray) -> np.ndarray:
    """Inverse of ``z_to_unit``: y = 8 * y01 - 4."""
    return np.asarray(curve_unit, dtype=float) * UNIT_SPAN - UNIT_OFFSET


def shape_to_db(values: np.ndarray, max_gain_db: float = DEFAULT_MAX_GAIN_DB, amount: float = 1.0) -> np.ndarray:
    """Gains in dB from a curve shape: mean removed, peak |gain| = max_gain_db, times amount."""
    if not np.isfinite(max_gain_db) or max_gain_db <= 0:
        raise DataError(f"max_gain_db must be a positive number of decibels, got {max_gain_db}.")
    if not np.isfinite(amount):
        raise DataError(f"amount must be a finite number (1 = as described, 0.5 = half), got {amount}.")
    centred = np.asarray(values, dtype=float) - np.mean(values)
    peak = np.max(np.abs(centred))
    if peak < 1e-12:
        return np.zeros_like(centred)
    return centred / peak * max_gain_db * amount


@dataclass(frozen=True)
class EqCurve:
    """Values at ``centres_hz`` on one scale (see the module docstring)."""

    values: np.ndarray
    scale: Scale = "z"
    centres_hz: tuple[float, ...] = BAND_CENTRES_HZ
    model: str | None = None
    text: str | None = None
    amount: float = 1.0  # intensity carried from the description ("very" 1.5, "less" -1); multiplies to_db's amount
    confidence: float | None = None  # how well the model's training covers the description, in [0, 1]
    language: str | None = None  # the description's language as identified ("en", "es"; None: not identified)

    def __post_init__(self) -> None:
        values = np.asarray(self.values, dtype=float)
        if self.scale not in SCALES:
            raise DataError(f"Unknown curve scale {self.scale!r}; use one of {', '.join(SCALES)}.")
        if values.shape != (len(self.centres_hz),):
            raise DataError(
                f"Curve has {values.size} values for {len(self.centres_hz)} centres; lightning-eq curves have "
                f"{N_BANDS} bands ({BAND_CENTRES_HZ[0]} Hz to {BAND_CENTRES_HZ[-1]} Hz)."
            )
        if not np.all(np.isfinite(values)):
            raise DataError("Curve values must be finite numbers; found NaN or infinity.")
        object.__setattr__(self, "values", values)

    @property
    def curve_z(self) -> np.ndarray:
        if self.scale == "z":
            return self.values
        if self.scale == "unit":
            return unit_to_z(self.values)
        raise DataError("A curve in dB has no z shape of its own; keep the z or unit curve to convert from.")

    @property
    def curve_unit(self) -> np.ndarray:
        return z_to_unit(self.curve_z)

    @property
    def unfamiliar(self) -> bool:
        """True when the model says it knows little of the description (confidence under LOW_CONFIDENCE)."""
        return self.confidence is not None and self.confidence < LOW_CONFIDENCE

    def to_db(self, max_gain_db: float = DEFAULT_MAX_GAIN_DB, amount: float = 1.0, confidence_scaling: bool = True) -> EqCurve:
        """This curve as gains in dB (a dB curve is rescaled by the same rule); amounts multiply, and so does the
        confidence unless ``confidence_scaling`` is off (an unfamiliar description gets a gentler curve)."""
        scale = amount * self.amount
        if confidence_scaling and self.confidence is not None:
            scale *= self.confidence
        gains_db = shape_to_db(self.values, max_gain_db, scale)
        return EqCurve(gains_db, "db", self.centres_hz, self.model, self.text)

    def to_dict(self) -> dict:
        out = {"centres_hz": list(self.centres_hz), "scale": self.scale, "values": self.values.tolist()}
        if self.model is not None:
            out["model"] = self.model
        if self.text is not None:
            out["text"] = self.text
        if self.amount != 1.0:
            out["amount"] = self.amount
        if self.confidence is not None:
            out["confidence"] = self.confidence
        if self.language is not None:
            out["language"] = self.language
        return out

    @classmethod
    def from_dict(cls, data: dict, source: str = "curve") -> EqCurve:
        """Accepts ``to_dict`` output, or a dict with curve_z / curve_unit / gains_db lists."""
        if not isinstance(data, dict):
            raise DataError(f"{source}: expected a JSON object with 'values' and 'scale', got {type(data).__name__}.")
        centres = tuple(data.get("centres_hz") or data.get("freqs_hz") or BAND_CENTRES_HZ)
        amount = float(data.get("amount", 1.0))
        confidence = None if data.get("confidence") is None else float(data["confidence"])
        extra = {"confidence": confidence, "language": data.get("language")}
        for key, scale in (("curve_z", "z"), ("curve_unit", "unit"), ("gains_db", "db")):
            if key in data:
                return cls(np.asarray(data[key], dtype=float), scale, centres, data.get("model"), data.get("text"), amount, **extra)
        if "values" not in data:
            raise DataError(f"{source}: expected 'values' (with 'scale'), 'curve_z', 'curve_unit' or 'gains_db'.")
        try:
            values = np.asarray(data["values"], dtype=float)
        except (TypeError, ValueError) as err:
            raise DataError(f"{source}: 'values' must be a list of numbers.") from err
        return cls(values, data.get("scale", "z"), centres, data.get("model"), data.get("text"), amount, **extra)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> EqCurve:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError as err:
            raise DataError(f"Curve file {path} does not exist; save one with `lightning-eq export --format json`.") from err
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DataError(f"Curve file {path} is not JSON: {err}. Expected the output of `export --format json`.") from err
        # `export --format json` and `predict --format json` outputs both hold a curve; take the first.
        if isinstance(data, dict) and "predictions" in data and data["predictions"]:
            data = {**data["predictions"][0], "freqs_hz": data.get("freqs_hz")}
        return cls.from_dict(data, source=str(path))
