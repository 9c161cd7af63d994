"""Request and response bodies of the JSON API, as pydantic models (they document the /docs page)."""

from __future__ import annotations

import json
from typing import Literal, Optional

from pydantic import BaseModel, Field

from lightning_eq.curves import DEFAULT_MAX_GAIN_DB, LOW_CONFIDENCE, EqCurve
from lightning_eq.errors import ConfigError, DataError
from lightning_eq.tune import MAX_RATINGS
from lightning_eq.web.codes import CODES, coded, tag

AMOUNT = Field(1.0, ge=-4.0, le=4.0, description="Multiplies the gains: 1 = as described, 0.5 = half, -1 = the opposite.")
MAX_GAIN_DB = Field(DEFAULT_MAX_GAIN_DB, gt=0.0, le=24.0,
                    description="Largest boost or cut of the curve at amount 1, in dB (5 dB by default, as in Audealize).")
MODEL = Field(None, description="Model key; must be the one the server runs (see GET /api/health). Leave out to use it.")
CONFIDENCE_SCALING = Field(True, description="Multiply the gains by the curve's confidence (default), so an unfamiliar "
                           "description gets a gentler curve; false applies the shape at full strength.")
EMPTY_TEXT = 'The description is empty. Type how the sound should change, e.g. "warm" or "less boomy, more presence".'


def check_description(text: str, max_chars: int) -> str:
    """``text`` stripped; ConfigError when empty or too long."""
    text = text.strip()
    if not text:
        raise tag(ConfigError(EMPTY_TEXT), "empty_description")
    if len(text) > max_chars:
        raise tag(ConfigError(f"The description has {len(text)} characters; keep it under {max_chars}, a phrase or two."),
                  "description_too_long", chars=len(text), max_chars=max_chars)
    return text


def curve_from_data(data: object) -> EqCurve:
    """An EqCurve from a JSON object: /api/predict's answer (curve_z, description_amount) or `export --format json`."""
    if isinstance(data, dict) and "description_amount" in data:
        data = {**data, "amount": data["description_amount"]}  # an /api/predict curve sent back as it came
    with coded("bad_curve"):
        try:
            return EqCurve.from_dict(data, source="curve")
        except (TypeError, ValueError) as err:
            raise DataError(f"The curve's values must be numbers ({err}).") from err


def parse_curve(curve_json: str) -> EqCurve:
    """``curve_from_data`` of a JSON text (a multipart form field)."""
    try:
        data = json.loads(curve_json)
    except json.JSONDecodeError as err:
        raise tag(DataError(f"The curve is not valid JSON ({err.msg} at character {err.pos}); send a curve from "
                            "/api/predict or `lightning-eq export --format json`."), "bad_curve") from err
    return curve_from_data(data)


class PredictRequest(BaseModel):
    """One description in ``text``, or several in ``texts``."""

    text: Optional[str] = Field(None, description='A description such as "warm" or "less boomy, more presence".',
                                examples=["warm and punchy"])
    texts: Optional[list[str]] = Field(None, description="Several descriptions at once; each gets its own curve.")
    amount: float = AMOUNT
    max_gain_db: float = MAX_GAIN_DB
    confidence_scaling: bool = CONFIDENCE_SCALING
    model: Optional[str] = MODEL

    def descriptions(self, max_texts: int, max_chars: int) -> list[str]:
        """The descriptions asked for, checked; ConfigError if there are none, too many or an empty one."""
        if (self.text is None) == (self.texts is None):
            raise ConfigError('Send exactly one of "text" (one description) or "texts" (a list of them).')
        texts = [self.text] if self.text is not None else self.texts
        if not texts:
            raise ConfigError('"texts" is an empty list; send at least one description.')
        if len(texts) > max_texts:
            raise tag(ConfigError(f"{len(texts)} descriptions in one request; send at most {max_texts}."),
                      "too_many_descriptions", count=len(texts), max_texts=max_texts)
        return [check_description(t, max_chars) for t in texts]


class CurvePrediction(BaseModel):
    text: str = Field(description="The description, as sent.")
    curve_z: list[float] = Field(description="The curve's shape on the z scale (SocialEQ's scale), 40 values.")
    curve_unit: list[float] = Field(description="The same shape on the study's unit scale, (z + 4) / 8.")
    gains_db: list[float] = Field(description="Gains in dB at the 40 centres, at the requested amount and max gain.")
    description_amount: float = Field(description='Intensity read from the words ("very" 1.5, "less" -1); '
                                      "already included in gains_db.")
    confidence: Optional[float] = Field(description="How well the model's training covers the description, 0 to 1 "
                                        "(null: this model gives none); gains_db is multiplied by it unless "
                                        "confidence_scaling is false.")
    unfamiliar: bool = Field(description=f"True when confidence < {LOW_CONFIDENCE:g}: the description is unfamiliar "
                             "to the model and its curve is a guess.")
    language: Optional[str] = Field(description='Language identified in the description ("en", "es"; null: not '
                                    "identified).")
    model: str = Field(description="Key of the model that answered this description (with routing, descriptions of "
                       "one request may be answered by different models).")

    @classmethod
    def of(cls, curve: EqCurve, model: str, max_gain_db: float, amount: float, confidence_scaling: bool) -> CurvePrediction:
        """The API's view of one predicted curve; ``model`` names the answering model when the curve does not."""
        return cls(text=curve.text, curve_z=curve.curve_z.round(5).tolist(), curve_unit=curve.curve_unit.round(6).tolist(),
                   gains_db=curve.to_db(max_gain_db, amount, confidence_scaling).values.round(4).tolist(),
                   description_amount=curve.amount, confidence=curve.confidence, unfamiliar=curve.unfamiliar,
                   language=curve.language, model=curve.model or model)


class PredictResponse(BaseModel):
    """The curves; the top-level curve fields (text to model) repeat the first (or only) description's."""

    freqs_hz: list[float] = Field(description="The 40 band centres in Hz, 20 Hz to 19682 Hz.")
    amount: float
    max_gain_db: float
    confidence_scaling: bool
    low_confidence: float = Field(LOW_CONFIDENCE, description="Confidence under which a curve counts as unfamiliar.")
    text: str
    curve_z: list[float]
    curve_unit: list[float]
    gains_db: list[float]
    description_amount: float
    confidence: Optional[float]
    unfamiliar: bool
    language: Optional[str]
    model: str = Field(description="Key of the model that answered the first description.")
    predictions: list[CurvePrediction] = Field(description="One curve per description, in the order sent.")


class ExportRequest(BaseModel):
    """A description (``text``) or a curve (``curve``, as /api/predict or `export --format json` give it)."""

    text: Optional[str] = Field(None, description="A description of the sound.", examples=["airy"])
    curve: Optional[dict] = Field(None, description="A curve instead of a description: curve_z or gains_db lists.")
    format: Literal["graphic", "parametric", "json"] = Field(
        description="graphic: Equalizer APO / Wavelet GraphicEQ line; parametric: Equalizer APO filters; json: the curve.")
    filters: int = Field(8, ge=1, le=20, description="Number of parametric filters (shelves plus bells).")
    amount: float = AMOUNT
    max_gain_db: float = MAX_GAIN_DB
    confidence_scaling: bool = CONFIDENCE_SCALING
    model: Optional[str] = MODEL


class FitSummary(BaseModel):
    filters: int
    max_error_db: float = Field(description="Largest difference from the 40-band curve at its centres, in dB.")
    rms_error_db: float = Field(description="RMS difference over the 40 centres, in dB.")


class ExportResponse(BaseModel):
    format: str
    filename: str = Field(description="A suggested file name for the preset.")
    preset: str = Field(description="The preset's text, ready to save or paste.")
    fit: Optional[FitSummary] = Field(None, description="For parametric presets, how well the filters fit.")


class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"
    model: str = Field(description="Key of the model loaded at start-up.")
    models: list[str] = Field(description="Keys of every model that may answer (several when the server routes "
                              "descriptions by language).")
    low_confidence: float = Field(description="Confidence under which a curve counts as unfamiliar.")
    bands: int
    max_upload_mb: float
    max_audio_seconds: float


class ErrorResponse(BaseModel):
    detail: str = Field(description="What went wrong and what to do, in plain words (English).")
    code: str = Field(description="Stable machine-readable kind of error: " + ", ".join(CODES) + ".")
    params: dict = Field({}, description="Names and numbers a client needs to word the error itself, per code.")


class RatingIn(BaseModel):
    """One rated probe: the curve as it was played and how much the listener liked it."""

    curve_z: list[float] = Field(description="The probe's shape on the z scale, 40 finite numbers (as /api/tune sent it).")
    rating: float = Field(description="0 (dislike) to 1 (like); the page's 0-10 slider divided by 10.")


TUNE_EXAMPLE = {"text": "warm", "ratings": [{"curve_z": [round(0.08 * (20 - i), 2) for i in range(40)], "rating": 0.7}],
                "n_probes": 2, "seed": 0}


class TuneRequest(BaseModel):
    """The listener's ratings so far (the client keeps them: the server holds no session) and what to start from."""

    model_config = {"json_schema_extra": {"examples": [TUNE_EXAMPLE]}}

    text: Optional[str] = Field(None, description="The description to start from (its curve is the prior); leave out "
                                "to start from the mean curve of SocialEQ.")
    ratings: list[RatingIn] = Field([], description=f"Every rating so far, oldest first; at most {MAX_RATINGS}.")
    n_probes: int = Field(2, ge=1, le=8, description="How many probe curves to propose for rating next.")
    seed: int = Field(0, ge=0, description="Seeds the probes: the same request gives the same answer.")
    amount: float = AMOUNT
    max_gain_db: float = MAX_GAIN_DB
    confidence_scaling: bool = Field(True, description="Trust the description's curve by its confidence: an unfamiliar "
                                     "description (confidence under 0.5) starts from the mean curve, as with no text.")
    sample_rate: Optional[int] = Field(None, ge=8000, le=192000, description="With a sample rate in Hz, each curve also "
                                       "carries the peaking biquads /api/apply would run for it at that rate (to play "
                                       "the curves in the browser).")
    model: Optional[str] = MODEL


class TunedCurve(BaseModel):
    curve_z: list[float] = Field(description="The shape on the z scale, 40 values (send it back with a rating).")
    gains_db: list[float] = Field(description="Gains in dB at the 40 centres, at the requested amount and max gain.")
    sos: Optional[list[list[float]]] = Field(None, description="With sample_rate: one [b0, b1, b2, a0, a1, a2] per band "
                                             "below Nyquist, the cascade that realises gains_db (bands overlap, so its "
                                             "filter gains are solved jointly and differ from gains_db).")


class TuneResponse(TunedCurve):
    """The current estimate (top-level curve fields) and the probes to rate next."""

    freqs_hz: list[float] = Field(description="The 40 band centres in Hz.")
    probes: list[TunedCurve] = Field(description="The next curves to play and rate.")
    n_ratings: int = Field(description="How many ratings the estimate used.")
    prior: Literal["text", "mean"] = Field(description="What the estimate started from: the description's curve, or the "
                                           "mean curve (no text, or an unfamiliar one with confidence_scaling).")
    text: Optional[str] = Field(description="The description, as sent.")
    model: Optional[str] = Field(description="Key of the model that gave the prior curve (null: the mean curve).")
    confidence: Optional[float] = Field(description="The prior curve's confidence (null: none given, or no text).")
