"""Stable codes for the API's errors, so a client (the page) can word them in its own language.

Every error response is ``{"detail": "...", "code": "...", "params": {...}}``: ``detail`` is the server's
English sentence, ``code`` one of ``CODES`` and ``params`` the numbers and names a translation needs. A
LightningEqError gets its code where it is raised (``tag``) or where the web layer calls the code that raises it
(``coded``); any other user error is ``bad_request``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from lightning_eq.errors import LightningEqError

CODES: dict[str, str] = {
    "empty_description": "The description is empty.",
    "description_too_long": "The description is too long (params: chars, max_chars).",
    "too_many_descriptions": "Too many descriptions in one request (params: count, max_texts).",
    "file_too_large": "The upload is over the server's size limit (params: max_mb).",
    "unreadable_audio": "The upload is not audio, or in a format the server cannot read (params: filename).",
    "audio_too_long": "The audio lasts longer than the server's limit (params: filename, seconds, max_seconds).",
    "bad_curve": "The curve sent is not a valid 40-band curve.",
    "bad_ratings": "A rating outside [0, 1], a rated curve that is not 40 finite numbers, or too many ratings "
                   "(params: max_ratings); 'detail' says which.",
    "tuner_unavailable": "This server was started without a tuner, so /api/tune cannot answer (HTTP 404).",
    "unknown_model": "No model has that key (params: model).",
    "model_not_served": "A real model key, but not the one this server runs (params: model, served).",
    "invalid_request": "A field is missing or has the wrong type or range (HTTP 422; see 'errors').",
    "body_too_large": "A JSON body over 1 MB.",
    "bad_request": "Any other invalid input; 'detail' says what to do.",
}


def tag(err: LightningEqError, code: str, **params: object) -> LightningEqError:
    """``err`` with its code and params set (returned, so ``raise tag(ConfigError(...), "...")`` reads in one line)."""
    if code not in CODES:
        raise ValueError(f"Unknown error code {code!r}; add it to CODES.")
    err.code, err.params = code, params  # type: ignore[attr-defined]
    return err


@contextlib.contextmanager
def coded(code: str, **params: object) -> Iterator[None]:
    """Tag a LightningEqError raised inside with ``code`` unless it has one already."""
    try:
        yield
    except LightningEqError as err:
        if getattr(err, "code", None) is None:
            tag(err, code, **params)
        raise


def code_of(err: LightningEqError) -> tuple[str, dict]:
    """(code, params) of a user error; ``bad_request`` when nobody tagged it."""
    return getattr(err, "code", None) or "bad_request", dict(getattr(err, "params", None) or {})
