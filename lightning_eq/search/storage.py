"""Where studies live: an Optuna RDB storage with heartbeats, so a dead worker's trial is failed and retried.

SQLite for one machine (several worker processes), PostgreSQL for many. The heartbeat and the retry are
Optuna's own: ``RDBStorage(heartbeat_interval, grace_period, heartbeat_stale_trial_callback=
RetryHeartbeatStaleTrialCallback)``; ``study.optimize`` records the heartbeats and fails stale trials.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from lightning_eq.config import SweepConfig
from lightning_eq.errors import ConfigError

SCHEMES = ("sqlite:///", "postgresql://", "postgresql+psycopg2://")


def sqlalchemy_url(url: str) -> str:
    """SQLAlchemy 2.1 reads postgresql:// as psycopg 3; the project ships psycopg2."""
    return "postgresql+psycopg2://" + url.removeprefix("postgresql://") if url.startswith("postgresql://") else url


def check_storage_url(url: str) -> str:
    if not url.startswith(SCHEMES):
        raise ConfigError(f"Unsupported study storage {url!r}; use sqlite:///path/optuna.db (one machine) "
                          "or postgresql://user@host:5432/db (many machines).")
    return url


def storage_exists(url: str) -> bool:
    """False for a SQLite file that is not there yet (a server database is assumed to exist)."""
    return not url.startswith("sqlite:///") or Path(url.removeprefix("sqlite:///")).is_file()


def open_storage(url: str, sweep: SweepConfig | None = None):
    """An RDB storage with heartbeats and retries of trials whose worker died."""
    import optuna

    sweep = sweep or SweepConfig()
    check_storage_url(url)
    engine_kwargs = {}
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine_kwargs = {"connect_args": {"timeout": 120}}  # worker processes take turns writing
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            storage = optuna.storages.RDBStorage(
                sqlalchemy_url(url), engine_kwargs=engine_kwargs, heartbeat_interval=sweep.heartbeat_interval_s,
                grace_period=sweep.grace_period_s,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=sweep.max_retry))
        except Exception as err:  # SQLAlchemy's connection errors: say where and what to check
            raise ConfigError(f"Cannot open study storage {url}: {str(err).splitlines()[0]}. Is the database up?") from err
    if url.startswith("sqlite:///"):
        _fast_sqlite(storage.engine)
    return storage


def _fast_sqlite(engine) -> None:
    """WAL journal with synchronous=NORMAL: a trial reports every epoch, and a full fsync per commit made those
    reports cost more than training (measured: 12 ms a commit on this machine). A process killed mid-trial
    still loses nothing committed; only an operating-system crash could drop the last commits."""
    from sqlalchemy import event

    def pragmas(connection, _record) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(engine, "connect", pragmas)
    engine.dispose()  # connections opened before the listener reconnect with it
