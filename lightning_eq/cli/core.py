"""Core commands: evaluate, predict, run (the main job)."""

from __future__ import annotations

from lightning_eq.cli import app  # noqa: F401
