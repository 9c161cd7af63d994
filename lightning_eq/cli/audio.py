"""Audio commands: apply (equalise a file) and export (a preset for another equaliser)."""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path
from typing import Optional

import typer

from lightning_eq.cli import app
from lightning_eq.cli.core import CacheDir, ConfidenceScaling, ModelsDir
from lightning_eq.curves import EqCurve
from lightning_eq.errors import ConfigError, DataError

log = logging.getLogger(__name__)

Text = typer.Option(None, "--text", help='A description of the sound, e.g. "warm and punchy" (needs a trained model).')
CurveFile = typer.Option(None, "--curve", help="A JSON curve (from `export --format json` or `predict --format json`).")
Amount = typer.Option(1.0, "--amount", help="1 = as described, 0.5 = half as much, -1 = the opposite.")
MaxGainDb = typer.Option(5.0, "--max-gain-db", help="Largest boost or cut of the curve, in dB.")
Model = typer.Option(None, "--model", help="Which trained model answers --text (default: the registered champion, "
                     "else the best saved model).")


def _curve(text: Optional[str], curve_path: Optional[Path], model: Optional[str], models_dir: Path, cache_dir,
           confidence_scaling: bool = True) -> EqCurve:
    """The curve to use: predicted from --text, or loaded from --curve (exactly one of them); without confidence
    scaling, the curve's confidence is dropped so it does not lower the gains."""
    if (text is None) == (curve_path is None):
        raise ConfigError('Give exactly one of --text "a description" or --curve FILE.json.')
    if curve_path is not None:
        curve = EqCurve.load(curve_path)
    else:
        if not text.strip():
            raise ConfigError('--text is empty; describe the sound, e.g. --text "warm and punchy".')
        if model:
            from lightning_eq.models.catalog import check_model_key

            check_model_key(model)
        from lightning_eq.predict import predict_curves  # loads the ML stack only when a description needs it

        curve = predict_curves([text], model, models_dir, cache_dir)[0]
        if curve.unfamiliar:
            log.warning("Unfamiliar description %r (confidence %.2f): the curve is a guess.", text, curve.confidence)
    return curve if confidence_scaling else dataclasses.replace(curve, confidence=None)


def _duration(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:04.1f}"


def _dbfs(value: float) -> str:
    return "-inf dBFS" if math.isinf(value) else f"{value:+.1f} dBFS"


@app.command()
def apply(
    in_path: Path = typer.Argument(..., metavar="IN", help="Audio to equalise: WAV, FLAC, OGG or MP3."),
    out_path: Path = typer.Argument(..., metavar="OUT", help="Where to write the result (may be IN itself)."),
    text: Optional[str] = Text,
    curve_path: Optional[Path] = CurveFile,
    amount: float = Amount,
    max_gain_db: float = MaxGainDb,
    normalize: bool = typer.Option(True, "--normalize/--no-normalize",
                                   help="Turn the output down if the EQ would push peaks over -0.1 dBFS."),
    out_format: Optional[str] = typer.Option(None, "--format",
                                             help="wav, flac, ogg or mp3 (default: OUT's extension, else IN's format)."),
    subtype: Optional[str] = typer.Option(None, "--subtype", help="e.g. PCM_16, PCM_24, FLOAT (default: IN's)."),
    model: Optional[str] = Model,
    confidence_scaling: bool = ConfidenceScaling,
    models_dir: Path = ModelsDir,
    cache_dir: Optional[str] = CacheDir,
) -> None:
    """Equalise an audio file by a description or a curve, and print a one-line summary."""
    from lightning_eq.audio import apply_file

    curve = _curve(text, curve_path, model, models_dir, cache_dir, confidence_scaling)
    report = apply_file(in_path, out_path, curve, max_gain_db, amount, normalize, out_format, subtype)
    source = f'"{curve.text}"' if curve.text else str(curve_path)
    level = (f"turned down {-report.normalization_gain_db:.1f} dB to avoid clipping"
             if report.normalization_gain_db < 0 else "level unchanged")
    line = (f"Wrote {report.out_path} ({report.format} {report.subtype}, {report.sample_rate} Hz, {report.channels} ch, "
            f"{_duration(report.duration_s)}) with {source}: {level}, peak {_dbfs(report.peak_out_dbfs)}")
    if report.dropped_centres_hz:
        line += f"; bands from {report.dropped_centres_hz[0]:g} Hz up skipped (above Nyquist)"
    if report.clipped:
        line += "; WARNING: the output clips (drop --no-normalize or lower --amount)"
    typer.echo(line)


@app.command()
def export(
    text: Optional[str] = Text,
    curve_path: Optional[Path] = CurveFile,
    preset_format: str = typer.Option(..., "--format", help="graphic (Equalizer APO / Wavelet GraphicEQ line), "
                                      "parametric (Equalizer APO filters) or json."),
    n_filters: int = typer.Option(8, "--filters", help="Number of parametric filters (shelves plus bells)."),
    amount: float = Amount,
    max_gain_db: float = MaxGainDb,
    output: Optional[Path] = typer.Option(None, "--output", help="Write the preset to this file (default: print it)."),
    model: Optional[str] = Model,
    confidence_scaling: bool = ConfidenceScaling,
    models_dir: Path = ModelsDir,
    cache_dir: Optional[str] = CacheDir,
) -> None:
    """Write a preset for another equaliser from a description or a curve."""
    from lightning_eq.presets import export_preset

    curve = _curve(text, curve_path, model, models_dir, cache_dir, confidence_scaling)
    preset = export_preset(curve, preset_format, n_filters, max_gain_db, amount)
    fit_note = (f"{len(preset.fit.filters)} filters, fit error max {preset.fit.max_error_db:.2f} dB, "
                f"RMS {preset.fit.rms_error_db:.2f} dB over the 40 centres" if preset.fit else "")
    if output is None:
        typer.echo(preset.text, nl=False)
        if fit_note:
            log.info(fit_note)  # stderr, so the preset on stdout stays clean
        return
    try:
        output.write_text(preset.text)
    except OSError as err:
        raise DataError(f"Cannot write {output} ({err.strerror}); choose a writable path.") from err
    typer.echo(f"Wrote {output} ({preset_format} preset{'; ' + fit_note if fit_note else ''}).")
