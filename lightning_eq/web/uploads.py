"""Uploaded audio: a request-size limit, a private work folder per request, and checks before equalising.

The size limit is an ASGI middleware so that an oversized upload is refused from its Content-Length
before any of it is spooled to disk (and, without a Content-Length, as soon as the count passes the limit).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lightning_eq.audio.apply import ApplyReport
from lightning_eq.audio.files import AudioInfo, read_info
from lightning_eq.errors import AudioError
from lightning_eq.web.codes import coded, tag
from lightning_eq.web.settings import MB

# Formats a browser's <audio> element plays; anything else comes back as WAV unless asked otherwise.
PLAYABLE = {"WAV": ("wav", "audio/wav"), "FLAC": ("flac", "audio/flac"), "OGG": ("ogg", "audio/ogg"),
            "MP3": ("mp3", "audio/mpeg")}
OUTPUT_FORMATS = tuple(ext for ext, _ in PLAYABLE.values())
SMALL_BODY_BYTES = 1 * MB  # JSON bodies of predict and export are a few hundred bytes
COPY_CHUNK_BYTES = 1 * MB


class UploadTooLarge(AudioError):
    """The request carries more bytes than the server's upload limit (HTTP 413)."""


class AudioTooLong(AudioError):
    """The uploaded audio lasts longer than the server's length limit (HTTP 422)."""


def too_large_message(limit_bytes: int, size_bytes: int | None = None) -> str:
    size = f"is {size_bytes / MB:.1f} MB" if size_bytes is not None else "is larger than that"
    return (f"The upload {size}; this server takes audio files up to {limit_bytes / MB:g} MB. Send a shorter or "
            "compressed file (FLAC or OGG), or use `lightning-eq apply` in a terminal, which has no limit.")


class BodySizeLimit:
    """Refuse request bodies over ``upload_bytes`` on ``upload_path`` and over 1 MiB elsewhere, with a 413."""

    def __init__(self, app: ASGIApp, upload_path: str, upload_bytes: int, file_limit_bytes: int):
        self.app, self.upload_path = app, upload_path
        self.upload_bytes, self.file_limit_bytes = upload_bytes, file_limit_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_upload = scope["path"] == self.upload_path
        limit = self.upload_bytes if is_upload else SMALL_BODY_BYTES
        message = (too_large_message(self.file_limit_bytes) if is_upload
                   else f"The request body is over {limit // MB} MB; JSON requests here are small.")
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            if is_upload:
                message = too_large_message(self.file_limit_bytes, int(declared))
            code, params = ("file_too_large", {"max_mb": self.file_limit_bytes / MB}) if is_upload else ("body_too_large", {})
            body = {"detail": message, "code": code, "params": params}
            await JSONResponse(body, status_code=413)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            msg = await receive()
            received += len(msg.get("body", b""))
            if received > limit:  # a chunked body that never said how long it is (the app's handler adds the code)
                raise HTTPException(413, detail=message)
            return msg

        await self.app(scope, counted, send)


def new_workdir(parent: str | None = None) -> Path:
    """A private temporary folder (mode 0700) in ``parent`` for one request's input and output."""
    return Path(tempfile.mkdtemp(prefix="lightning-eq-web-", dir=parent))


def remove_workdir(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def safe_name(filename: str | None) -> str:
    """The upload's base name with only letters, digits, '.', '_' and '-' (never hidden, at most 100 chars)."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(filename or "").name).lstrip("._")[-100:]
    return name or "upload"


@contextlib.contextmanager
def plain_paths(folder: Path) -> Iterator[None]:
    """AudioErrors name the uploaded file as the user called it, not the server's temporary path."""
    try:
        yield
    except AudioError as err:
        raise type(err)(str(err).replace(f"{folder}/", "")) from err


def save_upload(source: BinaryIO, filename: str | None, folder: Path, max_bytes: int) -> Path:
    """Copy the uploaded stream into ``folder`` under a safe name; UploadTooLarge past ``max_bytes``."""
    path = folder / safe_name(filename)
    written = 0
    with path.open("wb") as out:
        while chunk := source.read(COPY_CHUNK_BYTES):
            written += len(chunk)
            if written > max_bytes:
                raise tag(UploadTooLarge(too_large_message(max_bytes)), "file_too_large", max_mb=max_bytes / MB)
            out.write(chunk)
    return path


def _minutes(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}:{rest:02d}"


def check_audio(path: Path, max_seconds: float) -> AudioInfo:
    """The upload's header, read and checked: AudioError if it is not audio, AudioTooLong past ``max_seconds``."""
    with coded("unreadable_audio", filename=path.name), plain_paths(path.parent):
        info = read_info(path)
    seconds = info.frames / info.sample_rate
    if seconds > max_seconds:
        raise tag(AudioTooLong(
            f"{path.name} lasts {_minutes(seconds)}; this server equalises files up to {_minutes(max_seconds)} "
            "long. Trim it, or use `lightning-eq apply` in a terminal, which has no length limit."
        ), "audio_too_long", filename=path.name, seconds=round(seconds, 3), max_seconds=max_seconds)
    return info


def output_format(info: AudioInfo, requested: str | None) -> tuple[str, str]:
    """(extension, media type) of the result: as requested, else the input's if a browser plays it, else WAV."""
    if requested:
        fmt = requested.upper()
        if fmt not in PLAYABLE:
            raise AudioError(f"Unknown output format {requested!r}; use one of {', '.join(OUTPUT_FORMATS)}.")
    else:
        fmt = info.format if info.format in PLAYABLE else "WAV"
    return PLAYABLE[fmt]


def report_headers(report: ApplyReport, model: str | None, confidence: float | None = None) -> dict[str, str]:
    """What apply_file did, and how sure the model was of the curve, as response headers (documented on /docs)."""
    return {
        "X-Normalization-Gain-Db": f"{report.normalization_gain_db:.2f}",
        "X-Peak-Out-Dbfs": f"{report.peak_out_dbfs:.2f}",
        "X-Clipped": "true" if report.clipped else "false",
        "X-Sample-Rate": str(report.sample_rate),
        "X-Channels": str(report.channels),
        "X-Duration-S": f"{report.duration_s:.3f}",
        "X-Dropped-Centres-Hz": ",".join(f"{f:g}" for f in report.dropped_centres_hz),
        "X-Model": model or "",
        "X-Confidence": "" if confidence is None else f"{confidence:.3f}",
    }


REPORT_HEADERS_DOC = {
    "X-Normalization-Gain-Db": "Gain applied to keep peaks under full scale, in dB (0 = unchanged, negative = turned down).",
    "X-Peak-Out-Dbfs": "Sample peak of the result in dBFS.",
    "X-Clipped": "true when the result clips (only possible with normalize=false).",
    "X-Sample-Rate": "Sample rate in Hz (the input's).",
    "X-Channels": "Number of channels (the input's).",
    "X-Duration-S": "Length in seconds.",
    "X-Dropped-Centres-Hz": "Band centres at or above Nyquist, which were left out (comma-separated).",
    "X-Model": "Key of the model that turned the description into a curve (empty for a curve sent as JSON).",
    "X-Confidence": "The curve's confidence, 0 to 1 (empty when the model gives none or confidence_scaling is false).",
}
