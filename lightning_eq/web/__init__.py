"""The web page and its JSON API. ``create_app(predictor, settings)`` builds it; `lightning-eq serve` runs it."""

from lightning_eq.web.app import create_app
from lightning_eq.web.settings import WebSettings

__all__ = ["WebSettings", "create_app"]
