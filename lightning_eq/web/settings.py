"""Limits of the web app, set by `lightning-eq serve` flags and checked once at start-up."""

from __future__ import annotations

import math
from dataclasses import dataclass

from lightning_eq.errors import ConfigError

MB = 1024 * 1024
FORM_OVERHEAD_BYTES = 64 * 1024  # multipart boundaries and the small form fields next to the file


@dataclass(frozen=True)
class WebSettings:
    """Upload size in MiB and audio length in seconds that one apply request may carry."""

    max_upload_mb: float = 50.0
    max_audio_seconds: float = 600.0
    max_texts: int = 32  # descriptions in one predict request
    max_text_chars: int = 500  # characters in one description
    work_dir: str | None = None  # where an upload and its result wait while equalised (default: the system's temp folder)

    def __post_init__(self) -> None:
        for name in ("max_upload_mb", "max_audio_seconds"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                flag = "--" + name.replace("_", "-")
                raise ConfigError(f"{flag} must be a positive number, got {value!r}.")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * MB)

    @property
    def max_body_bytes(self) -> int:
        """The whole request body an apply may send: the file plus the form around it."""
        return self.max_upload_bytes + FORM_OVERHEAD_BYTES
