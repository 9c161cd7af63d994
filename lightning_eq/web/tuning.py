"""The web side of tuning by ear: the tuner's step on the request's ratings, and its curves as the API gives them.

The prior is ``lightning_eq.tune.prior_of`` (shared with the CLI): the description's curve from the served
model, turned over for a negative intensity ("less warm"); the mean curve without text, or for an unfamiliar
description while ``confidence_scaling`` is on (the default, as everywhere in the API: its curve is a guess).
``amount`` and ``max_gain_db`` scale ``gains_db`` as /api/predict does.
"""

from __future__ import annotations

import numpy as np

from lightning_eq.audio import design_graphic_eq
from lightning_eq.curves import BAND_CENTRES_HZ, EqCurve
from lightning_eq.tune import MAX_RATINGS, Rating, Tuner, parse_ratings, prior_of
from lightning_eq.web.codes import coded
from lightning_eq.web.schemas import TunedCurve, TuneRequest, TuneResponse


def checked_ratings(body: TuneRequest) -> list[Rating]:
    """The request's ratings through the tuner's own checks (a RatingsError, coded ``bad_ratings``)."""
    with coded("bad_ratings", max_ratings=MAX_RATINGS):
        return parse_ratings([r.model_dump() for r in body.ratings])


def tuned_curve(curve_z: np.ndarray, body: TuneRequest) -> TunedCurve:
    """One curve as the API gives it: its shape, its gains at the request's amount and max gain, and, when the
    request names a sample rate, the biquads /api/apply would run (``design_graphic_eq``, the same solve)."""
    gains = EqCurve(np.asarray(curve_z, dtype=float)).to_db(body.max_gain_db, body.amount).values
    sos = design_graphic_eq(gains, body.sample_rate).sos.tolist() if body.sample_rate else None
    return TunedCurve(curve_z=np.round(curve_z, 5).tolist(), gains_db=gains.round(4).tolist(), sos=sos)


def tune_step(tuner: Tuner, body: TuneRequest, predicted: EqCurve | None, model: str | None) -> TuneResponse:
    """One stateless step: the estimate from the prior and every rating, and the next probes."""
    ratings = checked_ratings(body)
    prior = prior_of(predicted, body.confidence_scaling)
    result = tuner.step(prior, ratings, n_probes=body.n_probes, seed=body.seed)
    estimate = tuned_curve(result.curve_z, body)
    return TuneResponse(**estimate.model_dump(), freqs_hz=list(BAND_CENTRES_HZ), n_ratings=result.n_ratings,
                        probes=[tuned_curve(p, body) for p in result.probes], prior="mean" if prior is None else "text",
                        text=predicted.text if predicted else None,
                        model=(predicted.model or model) if prior is not None else None,
                        confidence=predicted.confidence if predicted else None)
