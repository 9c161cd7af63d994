"""Presets for other equalisers: Equalizer APO / Wavelet GraphicEQ, Equalizer APO parametric filters, or JSON.

- ``graphic``: one line, ``GraphicEQ: 20 -1.2; 50 0.3; ...`` (frequency in Hz and gain in dB pairs joined by
  "; "), the format Equalizer APO's GraphicEQ filter and Wavelet's AutoEq import read. The 40 centres go
  in as they are; those programs interpolate between them.
- ``parametric``: Equalizer APO's text format, as AutoEq writes it: ``Preamp: -5.1 dB`` then lines such as
  ``Filter 1: ON PK Fc 1000 Hz Gain 3.0 dB Q 1.41`` (``LSC``/``HSC`` for the shelves), fitted by
  ``audio.parametric.fit_parametric``. ``#`` comment lines, which Equalizer APO ignores, say where the
  preset came from and how well it fits. The preamp is minus the largest boost of the fitted response.
- ``json``: centres, gains in dB and, when known, the z-scale shape, amount, model and text. ``EqCurve.load``
  reads it back (the shape, if present, with the same max gain reproduces the same gains).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from lightning_eq.audio.parametric import ParametricFit, fit_parametric
from lightning_eq.curves import DEFAULT_MAX_GAIN_DB, EqCurve
from lightning_eq.errors import DataError

EXPORT_FORMATS = ("graphic", "parametric", "json")


@dataclass(frozen=True)
class Preset:
    """The preset's text, and for ``parametric`` the fit behind it."""

    format: str
    text: str
    fit: ParametricFit | None = None


def _number(value: float, decimals: int) -> str:
    """value with `decimals` decimals, never "-0.0"."""
    return f"{round(float(value), decimals) + 0.0:.{decimals}f}"


def graphic_eq_text(gains_db: np.ndarray, centres_hz: tuple[float, ...]) -> str:
    """The GraphicEQ line: 'GraphicEQ: 20 -1.2; 50 0.3; ...'."""
    pairs = "; ".join(f"{_number(f, 0)} {_number(g, 1)}" for f, g in zip(centres_hz, gains_db))
    return f"GraphicEQ: {pairs}\n"


def _origin(curve: EqCurve, max_gain_db: float, amount: float) -> str:
    said = f'"{" ".join(curve.text.split())}"' if curve.text else "a curve file"  # one line, whatever the text
    model = f" (model {curve.model})" if curve.model else ""
    return f"# lightning-eq: {said}{model}, largest gain {max_gain_db:g} dB, amount {amount * curve.amount:g}"


def parametric_text(fit: ParametricFit, comment: str = "") -> str:
    """Equalizer APO parametric preset: optional comment, Preamp line, one Filter line per filter."""
    lines = [comment] if comment else []
    lines.append(
        f"# {len(fit.filters)} filters fitted to the 40-band curve: max error {fit.max_error_db:.2f} dB, "
        f"RMS {fit.rms_error_db:.2f} dB"
    )
    lines.append(f"Preamp: {_number(fit.preamp_db, 1)} dB")
    for i, f in enumerate(fit.filters, start=1):
        lines.append(f"Filter {i}: ON {f.kind} Fc {_number(f.fc_hz, 0)} Hz Gain {_number(f.gain_db, 1)} dB Q {f.q:.2f}")
    return "\n".join(lines) + "\n"


def curve_json(curve: EqCurve, gains_db: np.ndarray, max_gain_db: float, amount: float) -> str:
    """The curve with its centres, gains in dB and, when known, shape, amount, model, text, confidence and language
    (the confidence too, so the file reloads to the same gains)."""
    out: dict = {"centres_hz": list(curve.centres_hz), "gains_db": [round(float(g), 4) for g in gains_db]}
    out["max_gain_db"] = max_gain_db
    if curve.scale != "db":  # a shape reloads with its amount; dB gains already have it applied
        out["curve_z"] = [round(float(v), 5) for v in curve.curve_z]
        out["amount"] = amount * curve.amount
    for key in ("model", "text", "confidence", "language"):
        if getattr(curve, key) is not None:
            out[key] = getattr(curve, key)
    return json.dumps(out, indent=1) + "\n"


def export_preset(
    curve: EqCurve,
    fmt: str,
    n_filters: int = 8,
    max_gain_db: float = DEFAULT_MAX_GAIN_DB,
    amount: float = 1.0,
) -> Preset:
    """The preset for curve, scaled by ``EqCurve.to_db(max_gain_db, amount)``, in format fmt."""
    if fmt not in EXPORT_FORMATS:
        raise DataError(f"Unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}.")
    gains_db = curve.to_db(max_gain_db, amount).values
    if fmt == "graphic":
        return Preset(fmt, graphic_eq_text(gains_db, curve.centres_hz))
    if fmt == "json":
        return Preset(fmt, curve_json(curve, gains_db, max_gain_db, amount))
    fit = fit_parametric(gains_db, curve.centres_hz, n_filters)
    return Preset(fmt, parametric_text(fit, _origin(curve, max_gain_db, amount)), fit)
