"""`lightning-eq tune`: one step of tuning by ear, for scripts: the ratings so far in, the estimate and the next
probes out (the same JSON as the API's ``POST /api/tune``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from lightning_eq.cli import app
from lightning_eq.cli.core import CacheDir, ModelsDir, TrackingUri, _sparkline
from lightning_eq.errors import ConfigError, RatingsError


def read_ratings(path: Optional[Path]) -> object:
    """The JSON of ``--ratings`` (``-`` reads standard input); None without the option."""
    if path is None:
        return None
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text()
        return json.loads(text)
    except FileNotFoundError as err:
        raise RatingsError(f"Ratings file {path} does not exist; write {{\"ratings\": [{{\"curve_z\": [40 numbers], "
                           "\"rating\": 0.7}, ...]} to it, or leave out --ratings for the first probes.") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RatingsError(f"Ratings file {path} is not JSON ({err}); expected {{\"ratings\": [{{\"curve_z\": [...], "
                           "\"rating\": 0.7}, ...]}.") from err


@app.command()
def tune(
    text: Optional[str] = typer.Option(None, "--text", help="The description to start from (default: the mean curve)."),
    ratings: Optional[Path] = typer.Option(None, "--ratings", help='JSON file of the ratings so far, {"ratings": '
                                           '[{"curve_z": [40 numbers], "rating": 0..1}, ...]} or the list alone; '
                                           "- reads standard input. Leave out for the first probes."),
    probes: int = typer.Option(2, "--probes", help="How many probes to propose next (0 to 16)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the probes' draws (the same inputs and seed give the same output)."),
    output_format: str = typer.Option("table", "--format", help="table (readable, in the terminal) or json (the API's "
                                      'response: {"curve_z", "gains_db", "probes": [{"curve_z", "gains_db"}], "n_ratings"}).'),
    max_gain_db: float = typer.Option(5.0, "--max-gain-db", help="Peak gain of the dB curves."),
    model: Optional[str] = typer.Option(None, "--model", help="Text model for --text (default: the champion, as predict)."),
    confidence_scaling: bool = typer.Option(True, "--confidence-scaling/--no-confidence-scaling", help="An unfamiliar "
                                            "description (confidence under 0.5) starts from the mean curve, as its curve is a guess."),
    models_dir: Path = ModelsDir,
    cache_dir: Optional[str] = CacheDir,
    tracking_uri: str = TrackingUri,
) -> None:
    """Tune a curve by ear: from the description's curve (or the mean curve) and your ratings of earlier probes,
    print the current estimate and the next probes to rate. Rate each probe from 0 (dislike) to 1 (like) on your
    own audio, add it to the ratings file with the curve_z you heard, and run again."""
    if output_format not in ("table", "json"):
        raise ConfigError(f"Unknown --format {output_format!r}; use table or json.")
    if not 0 <= probes <= 16:
        raise ConfigError(f"--probes must be between 0 and 16, got {probes}.")
    from lightning_eq.tune import load_tuner, parse_ratings, prior_of

    rated = parse_ratings(read_ratings(ratings))  # bad ratings fail before any model loads
    curve = None
    if text is not None:
        from lightning_eq.describe import parse_description
        from lightning_eq.predict import predict_curves

        parse_description(text)
        curve = predict_curves([text], model, models_dir, cache_dir, tracking_uri)[0]
    prior = prior_of(curve, confidence_scaling)
    result = load_tuner(models_dir).step(prior, rated, probes, seed)
    out = result.to_dict(max_gain_db)
    if output_format == "json":
        typer.echo(json.dumps(out))
        return
    start = f"{text!r} (model {curve.model})" if prior is not None else "the mean curve"
    if curve is not None and prior is None:
        start += f" ({text!r} is unfamiliar to the model, confidence {curve.confidence:.2f}: its curve is a guess)"
    typer.echo(f"Tuned from {start} with {result.n_ratings} rating(s); dB at peak ±{max_gain_db:g}")
    typer.echo(f"\nestimate   {_sparkline(out['gains_db'])}")
    for i, p in enumerate(out["probes"]):
        typer.echo(f"probe {i + 1}    {_sparkline(p['gains_db'])}")
    typer.echo("\nRate each probe from 0 to 1 on your audio (apply it with `lightning-eq apply --curve`); add "
               '{"curve_z": <its curve_z>, "rating": r} to the ratings file (--format json prints the curves).')
