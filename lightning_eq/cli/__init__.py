"""The `lightning-eq` command. Each command group lives in its own module and registers on ``app``.

Environment variables are read here only: LIGHTNING_EQ_CACHE (embedding cache), MLFLOW_TRACKING_URI.
Errors of type LightningEqError become one line and exit code 1; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import logging
import sys

import typer

from lightning_eq.errors import LightningEqError

app = typer.Typer(
    name="lightning-eq",
    help="Turn a description of a sound ('warm', 'bright and airy') into a 40-band EQ curve, and apply it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Command modules register themselves on `app` when imported.
from lightning_eq.cli import core  # noqa: E402,F401
from lightning_eq.cli import sweeps  # noqa: E402,F401
from lightning_eq.cli import audio  # noqa: E402,F401
from lightning_eq.cli import tune  # noqa: E402,F401
from lightning_eq.cli import web  # noqa: E402,F401
from lightning_eq.cli import job  # noqa: E402,F401
from lightning_eq.cli import fetch  # noqa: E402,F401


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        app(standalone_mode=False)
    except LightningEqError as err:
        typer.secho(f"error: {err}", err=True, fg=typer.colors.RED)
        sys.exit(1)
    except (typer.Abort, KeyboardInterrupt):
        typer.secho("Aborted.", err=True)
        sys.exit(130)
    except typer.Exit as err:
        sys.exit(err.exit_code)
    except Exception as err:  # click's usage errors carry their own exit code and message
        import click

        if isinstance(err, click.ClickException):
            err.show()
            sys.exit(err.exit_code)
        raise
