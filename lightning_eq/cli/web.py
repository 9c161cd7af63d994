"""`lightning-eq serve`: the web page and its JSON API, with one model loaded once at start-up."""

from __future__ import annotations

import ipaddress
import logging
import time
from pathlib import Path
from typing import Optional

import typer

from lightning_eq.cli import app
from lightning_eq.cli.core import CacheDir, ModelsDir, TrackingUri
from lightning_eq.errors import ConfigError

log = logging.getLogger(__name__)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 opens it to the network)."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    model: Optional[str] = typer.Option(None, "--model", help="Answer with this trained model from --models-dir (default: "
                                        "the registered champion, which routes by language; else the best saved model)."),
    max_upload_mb: float = typer.Option(50.0, "--max-upload-mb", help="Largest audio upload, in MiB."),
    max_audio_seconds: float = typer.Option(600.0, "--max-audio-seconds", help="Longest audio to equalise, in seconds."),
    models_dir: Path = ModelsDir,
    cache_dir: Optional[str] = CacheDir,
    tracking_uri: str = TrackingUri,
) -> None:
    """Serve the page (type a description, see and hear the EQ, download presets) and its API (/docs)."""
    import uvicorn

    from lightning_eq.predict import load_predictor
    from lightning_eq.web import WebSettings, create_app

    if not 0 < port < 65536:
        raise ConfigError(f"--port must be between 1 and 65535, got {port}.")
    if model:
        from lightning_eq.models.catalog import check_model_key

        check_model_key(model)
    settings = WebSettings(max_upload_mb=max_upload_mb, max_audio_seconds=max_audio_seconds)
    start = time.perf_counter()
    predictor = load_predictor(model, models_dir, cache_dir, tracking_uri)
    # Without this the first new phrase makes every request behind it wait (about 1 s for GloVe, more for LMs).
    predictor.warm_up()
    log.info("Model %s ready in %.1f s.", predictor.key, time.perf_counter() - start)
    tuner = _load_tuner(models_dir)
    if not _is_loopback(host):
        log.warning("Listening on %s: anyone who can reach this address can use the server (no login).", host)
    shown = f"[{host}]" if ":" in host else host
    log.info("Open http://%s:%d/ (API documentation at /docs). Ctrl+C stops.", shown, port)
    uvicorn.run(create_app(predictor, settings, tuner), host=host, port=port, log_level="info")


def _load_tuner(models_dir: Path):
    """The tuner for /api/tune, loaded once; without one (no tuner.json and no data to learn its basis from) the
    page and the other endpoints still work, and /api/tune says why it cannot answer."""
    from lightning_eq.errors import LightningEqError
    from lightning_eq.tune import load_tuner

    try:
        return load_tuner(models_dir)
    except LightningEqError as err:
        log.warning("Tune by ear is off: %s", err)
        return None
