"""FastAPI routes: the page, and a JSON API that calls predict, apply and export.

``create_app(predictor, settings, tuner)`` builds the app around a predictor and a tuner loaded once (tests inject
their own); without a tuner, /api/tune answers 404.
Endpoints are plain ``def`` functions, so FastAPI runs them in its thread pool and a long apply does not
hold up other clients. LightningEqErrors become 4xx responses with their message as ``detail`` and a stable
``code`` (``web/codes.py``) that the page words in its own language.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
from pathlib import Path
from typing import Literal, Optional, Protocol, Sequence

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException

from lightning_eq.audio import apply_file
from lightning_eq.models.catalog import check_model_key
from lightning_eq.curves import BAND_CENTRES_HZ, DEFAULT_MAX_GAIN_DB, LOW_CONFIDENCE, N_BANDS, EqCurve
from lightning_eq.errors import ConfigError, LightningEqError, ModelNotFound
from lightning_eq.presets import export_preset
from lightning_eq.tune import Tuner
from lightning_eq.web import uploads
from lightning_eq.web.codes import code_of, coded, tag
from lightning_eq.web.schemas import (
    CurvePrediction, ErrorResponse, ExportRequest, ExportResponse, FitSummary, HealthResponse, PredictRequest,
    PredictResponse, TuneRequest, TuneResponse, check_description, curve_from_data, parse_curve,
)  # fmt: skip
from lightning_eq.web.tuning import tune_step
from lightning_eq.web.settings import WebSettings

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).parent / "static"
STATUS_CODES = {ModelNotFound: 404, uploads.UploadTooLarge: 413, uploads.AudioTooLong: 422}
ERRORS = {code: {"model": ErrorResponse} for code in (400, 404, 413, 422)}


class Predicts(Protocol):
    """What the app needs of a predictor. Each curve may name its own ``model``, ``confidence`` and ``language``;
    a predictor that routes may also list the keys it answers with in ``model_keys`` (read if present)."""

    key: str

    def predict(self, texts: Sequence[str]) -> list[EqCurve]: ...


def served_models(predictor: Predicts) -> list[str]:
    """The keys of the models that may answer: the predictor's ``model_keys`` if it has them, else its key."""
    return list(getattr(predictor, "model_keys", None) or [predictor.key])


def without_confidence(curve: EqCurve, confidence_scaling: bool) -> EqCurve:
    """``curve`` as is, or without its confidence when the gains should not be scaled by it (apply, export)."""
    return curve if confidence_scaling else dataclasses.replace(curve, confidence=None)


def _status(err: LightningEqError) -> int:
    return next((code for cls, code in STATUS_CODES.items() if isinstance(err, cls)), 400)


def _plain_validation(errors: Sequence[dict]) -> str:
    """Pydantic's errors as one sentence: 'amount: Input should be a valid number; file: Field required'."""
    parts = []
    for e in errors:
        if e.get("type") == "json_invalid":
            parts.append("the body is not valid JSON")
            continue
        field = ".".join(str(p) for p in e["loc"] if p not in ("body", "query", "form")) or "body"
        parts.append(f"{field}: {e['msg']}")
    return "Invalid request: " + "; ".join(parts) + ". The expected fields are listed at /docs."


def _slug(text: str | None) -> str:
    return re.sub(r"[^a-z0-9]+", "-", (text or "curve").lower()).strip("-")[:40] or "curve"


def create_app(predictor: Predicts, settings: WebSettings | None = None, tuner: Tuner | None = None) -> FastAPI:
    """The web app around ``predictor`` and ``tuner`` (each loaded once by the caller; no tuner: no /api/tune)."""
    settings = settings or WebSettings()
    predict_lock = threading.Lock()  # embedders load their weights lazily and are not documented thread-safe
    app = FastAPI(
        title="lightning-eq",
        summary="Describe a sound; get a 40-band EQ curve, equalised audio and presets.",
        description=f"Model `{predictor.key}`. Errors come back as `{{\"detail\": \"what went wrong\", \"code\": "
                    "\"empty_description\", \"params\": {}}` with a 4xx status: 400 for invalid input, 404 for a model "
                    f"this server does not run, 413 for an upload over {settings.max_upload_mb:g} MB, 422 for malformed "
                    f"fields or audio over {settings.max_audio_seconds:g} s. `code` is stable (see ErrorResponse); "
                    "`detail` is English prose. Each curve carries a `confidence` (0 to 1, or null); below "
                    f"{LOW_CONFIDENCE:g} it is `unfamiliar`, and gains are multiplied by the confidence unless "
                    "`confidence_scaling` is false.",
        version="0.1.0",
        docs_url=None,  # served below from the vendored Swagger UI: FastAPI's default page loads it from a CDN
        redoc_url=None,
    )
    app.add_middleware(uploads.BodySizeLimit, upload_path="/api/apply", upload_bytes=settings.max_body_bytes,
                       file_limit_bytes=settings.max_upload_bytes)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(LightningEqError)
    async def user_error(request: Request, err: LightningEqError) -> JSONResponse:
        log.info("%s %s -> %s", request.method, request.url.path, err)
        code, params = code_of(err)
        return JSONResponse({"detail": str(err), "code": code, "params": params}, status_code=_status(err))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, err: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _plain_validation(err.errors()), "code": "invalid_request", "params": {},
                             "errors": jsonable_encoder(err.errors())}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def too_large(request: Request, err: StarletteHTTPException) -> JSONResponse:
        if err.status_code != 413:  # unknown paths, wrong methods: FastAPI's own answer
            return await http_exception_handler(request, err)
        is_upload = request.url.path == "/api/apply"  # a chunked body stopped by uploads.BodySizeLimit
        code, params = ("file_too_large", {"max_mb": settings.max_upload_mb}) if is_upload else ("body_too_large", {})
        return JSONResponse({"detail": err.detail, "code": code, "params": params}, status_code=413)

    def predict_curves(texts: list[str], model: str | None) -> list[EqCurve]:
        if model and model != predictor.key:
            with coded("unknown_model", model=model):
                check_model_key(model)
            routed = " (it routes by language: each description goes to the model for its language)" \
                if model in served_models(predictor) else ""
            raise tag(ModelNotFound(f"This server runs model {predictor.key!r}, not {model!r}{routed}; leave 'model' "
                                    f"out, or start another with `lightning-eq serve --model {model}`."),
                      "model_not_served", model=model, served=predictor.key)
        with predict_lock:
            return predictor.predict(texts)

    def one_curve(text: str | None, curve: object | None, model: str | None) -> EqCurve:
        if text is None and curve is None:
            raise ConfigError('Send a description in "text" (e.g. "warm") or a curve as JSON in "curve".')
        if text is not None and curve is not None:
            raise ConfigError('Send "text" or "curve", not both.')
        if text is not None:
            return predict_curves([check_description(text, settings.max_text_chars)], model)[0]
        return parse_curve(curve) if isinstance(curve, str) else curve_from_data(curve)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url, title="lightning-eq API",
                                   swagger_js_url="/static/swagger-ui-bundle.js", swagger_css_url="/static/swagger-ui.css",
                                   swagger_favicon_url="data:,")

    @app.get("/api/health", response_model=HealthResponse, tags=["api"])
    def health() -> HealthResponse:
        """The model this server runs (and those it routes to), and its limits."""
        return HealthResponse(model=predictor.key, models=served_models(predictor), low_confidence=LOW_CONFIDENCE,
                              bands=N_BANDS, max_upload_mb=settings.max_upload_mb,
                              max_audio_seconds=settings.max_audio_seconds)

    @app.post("/api/predict", response_model=PredictResponse, responses=ERRORS, tags=["api"])
    def predict(body: PredictRequest) -> PredictResponse:
        """The EQ curve of each description: its shape (z and unit scales), gains in dB at the centres, and how
        sure the model is (confidence, unfamiliar), with the language and the model that answered."""
        curves = predict_curves(body.descriptions(settings.max_texts, settings.max_text_chars), body.model)
        found = [CurvePrediction.of(c, predictor.key, body.max_gain_db, body.amount, body.confidence_scaling)
                 for c in curves]
        return PredictResponse(freqs_hz=list(BAND_CENTRES_HZ), amount=body.amount, max_gain_db=body.max_gain_db,
                               confidence_scaling=body.confidence_scaling, **found[0].model_dump(), predictions=found)

    @app.post("/api/export", response_model=ExportResponse, responses=ERRORS, tags=["api"])
    def export(body: ExportRequest) -> ExportResponse:
        """A preset for another equaliser: GraphicEQ line, Equalizer APO parametric filters, or the curve as JSON."""
        curve = without_confidence(one_curve(body.text, body.curve, body.model), body.confidence_scaling)
        preset = export_preset(curve, body.format, body.filters, body.max_gain_db, body.amount)
        fit = preset.fit and FitSummary(filters=len(preset.fit.filters), max_error_db=preset.fit.max_error_db,
                                        rms_error_db=preset.fit.rms_error_db)
        extension = "json" if body.format == "json" else "txt"
        return ExportResponse(format=body.format, filename=f"{_slug(curve.text)}-{body.format}.{extension}",
                              preset=preset.text, fit=fit)

    @app.post("/api/tune", response_model=TuneResponse, responses=ERRORS, tags=["api"])
    def tune(body: TuneRequest) -> TuneResponse:
        """Tune by ear: the listener's curve estimated from every rating so far, and the next probes to rate.
        Stateless: send all the ratings each time (the server keeps nothing). The prior is the description's curve
        from the same model as /api/predict (its intensity's sign included; an unfamiliar description starts from
        the mean curve unless confidence_scaling is false), or the mean curve without text."""
        if tuner is None:
            raise tag(ModelNotFound("This server has no tuner: /api/tune needs `lightning-eq serve` started where "
                                    "data/socialeq (or models/tuner.json) can be read."), "tuner_unavailable")
        text = None if body.text is None else check_description(body.text, settings.max_text_chars)
        predicted = predict_curves([text], body.model)[0] if text is not None else None
        return tune_step(tuner, body, predicted, predictor.key)

    audio_types = {media: {} for _, media in uploads.PLAYABLE.values()}
    apply_doc = {200: {"content": audio_types, "description": "The equalised audio file.",
                       "headers": {k: {"description": v, "schema": {"type": "string"}}
                                   for k, v in uploads.REPORT_HEADERS_DOC.items()}}}

    @app.post("/api/apply", response_class=FileResponse, responses={**apply_doc, **ERRORS}, tags=["api"])
    def apply(
        file: UploadFile = File(..., description="Audio to equalise: WAV, FLAC, OGG or MP3, any common sample rate."),
        text: Optional[str] = Form(None, description="A description of the sound (or send `curve`)."),
        curve: Optional[str] = Form(None, description="A curve as JSON, e.g. one prediction from /api/predict."),
        amount: float = Form(1.0, ge=-4.0, le=4.0, description="Multiplies the gains (1 = as described)."),
        max_gain_db: float = Form(DEFAULT_MAX_GAIN_DB, gt=0.0, le=24.0, description="Largest gain at amount 1, in dB."),
        normalize: bool = Form(True, description="Turn the result down if the EQ would push peaks over full scale."),
        confidence_scaling: bool = Form(True, description="Multiply the gains by the curve's confidence (default)."),
        out_format: Optional[Literal["wav", "flac", "ogg", "mp3"]] = Form(
            None, alias="format", description="Format of the result (default: the input's, or WAV)."),
        model: Optional[str] = Form(None, description="Must be the server's model if given."),
    ) -> FileResponse:
        """Equalise an uploaded file by a description or a curve; the response is the audio file."""
        eq_curve = without_confidence(one_curve(text, curve, model), confidence_scaling)
        work = uploads.new_workdir(settings.work_dir)
        try:
            in_path = uploads.save_upload(file.file, file.filename, work, settings.max_upload_bytes)
            info = uploads.check_audio(in_path, settings.max_audio_seconds)
            extension, media_type = uploads.output_format(info, out_format)
            out_path = work / f"{in_path.stem}-eq.{extension}"
            with uploads.plain_paths(work):
                report = apply_file(in_path, out_path, eq_curve, max_gain_db, amount, normalize, extension)
        except BaseException:
            uploads.remove_workdir(work)
            raise
        return FileResponse(out_path, media_type=media_type, filename=out_path.name,
                            headers=uploads.report_headers(report, eq_curve.model, eq_curve.confidence),
                            background=BackgroundTask(uploads.remove_workdir, work))

    return app
