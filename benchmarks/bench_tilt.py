"""Which way curves lean, in English and Spanish: tilt = mean gain over 4-16 kHz minus mean gain over 40-250 Hz
(dB at the default 5 dB peak, confidence scaling off) of descriptions whose lean a producer knows, with the
expected sign, from the champion: the registered one with --tracking-uri, a model of --models-dir with --model,
else (as `make bench` runs it) a temporary champion (benchmarks/champion.py: gpt for English, e5 for the rest,
default configurations, all the data).

"answered" is what predict gives; "model alone" is the same route's model without the known-word curves (for a
training word, its in-sample prediction, which repeats the word's records). λ is each route's word prior in
records (``word_prior_records``, chosen by the objective).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from lightning_eq.curves import BAND_CENTRES_HZ, EqCurve

# description -> the sign a producer expects (+: brighter, -: darker)
EXPECTED = {"cálido": -1, "oscuro": -1, "grave": -1, "brillante": +1, "warm": -1, "bright": +1, "dark": -1,
            "un poco más brillante": +1, "menos brillante": -1}
HIGH = (np.asarray(BAND_CENTRES_HZ) >= 4000) & (np.asarray(BAND_CENTRES_HZ) <= 16000)
LOW = (np.asarray(BAND_CENTRES_HZ) >= 40) & (np.asarray(BAND_CENTRES_HZ) <= 250)


def tilt_db(curve: EqCurve) -> float:
    """Mean gain over 4-16 kHz minus mean gain over 40-250 Hz, dB, confidence scaling off."""
    gains = curve.to_db(confidence_scaling=False).values
    return float(gains[HIGH].mean() - gains[LOW].mean())


def tilt_table(predictor) -> str:
    """Markdown: each description's route, expected sign, tilt answered and from the model alone."""
    answered = predictor.predict(list(EXPECTED))
    saved = {name: route.known for name, route in predictor.routes.items()}
    try:
        for route in predictor.routes.values():
            route.known = {}
        alone = predictor.predict(list(EXPECTED))
    finally:
        for name, route in predictor.routes.items():
            route.known = saved[name]
    lines = ["| description | language | model | expected | tilt dB answered | tilt dB model alone | leans right |",
             "|---|---|---|:---:|---:|---:|:---:|"]
    for (text, sign), a, b in zip(EXPECTED.items(), answered, alone):
        t = tilt_db(a)
        lines.append(f"| {text} | {a.language or 'mixed/unknown'} | {a.model} | {'+' if sign > 0 else '−'} | {t:+.1f} | "
                     f"{tilt_db(b):+.1f} | {'yes' if np.sign(t) == sign else 'NO'} |")
    priors = ", ".join(f"{name} ({route.key}): λ = {route.stored.config.word_prior_records}"
                       for name, route in predictor.routes.items())
    return "\n".join(lines) + f"\n\nword prior per route: {priors}"


def main(argv: list[str] | None = None) -> None:
    from lightning_eq.predict import load_predictor

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", help="a store with a registered champion (e.g. sqlite:///mlruns/mlflow.db)")
    parser.add_argument("--models-dir", help="a models folder written by `lightning-eq run`")
    parser.add_argument("--model", help="the model key in --models-dir (default: its best model)")
    args = parser.parse_args(argv or [])
    if args.tracking_uri or args.models_dir:
        predictor = load_predictor(args.model, args.models_dir or "models", tracking_uri=args.tracking_uri)
        print(tilt_table(predictor))
        return
    from champion import temporary_champion

    with tempfile.TemporaryDirectory() as tmp:
        print(tilt_table(load_predictor(tracking_uri=temporary_champion(Path(tmp)))))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main(sys.argv[1:])
