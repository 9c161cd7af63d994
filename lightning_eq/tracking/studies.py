"""Where studies live and how workers share them: an Optuna RDB storage with heartbeats, a budget lock, the loop.

Several worker processes, on one machine or many, share a study through its storage: SQLite for one machine,
PostgreSQL for many. Each worker asks for a trial only while finished + running trials are below the budget,
under a lock (a file lock for SQLite, an advisory lock for PostgreSQL), so a study ends with exactly its
budget of finished trials. A running trial records a heartbeat; one whose worker died is failed after the
grace period and queued again with the same parameters.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import math
import os
import socket
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import optuna
from optuna.trial import TrialState

from lightning_eq.errors import ConfigError, LightningEqError
from lightning_eq.training.space import SweepConfig

log = logging.getLogger(__name__)
DEFAULT_STORAGE = "sqlite:///mlruns/optuna.db"
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def sqlalchemy_url(url: str) -> str:
    """SQLAlchemy 2.1 reads postgresql:// as psycopg 3; the project ships psycopg2."""
    return "postgresql+psycopg2://" + url.removeprefix("postgresql://") if url.startswith("postgresql://") else url


def check_storage_url(url: str) -> str:
    if not url.startswith(("sqlite:///", "postgresql://", "postgresql+psycopg2://")):
        raise ConfigError(f"Unsupported study storage {url!r}; use sqlite:///path/optuna.db (one machine) "
                          "or postgresql://user@host:5432/db (many machines).")
    return url


def open_storage(url: str, sweep: SweepConfig) -> optuna.storages.RDBStorage:
    """An RDB storage with heartbeats: SQLite (one machine, several processes) or PostgreSQL (many machines)."""
    check_storage_url(url)
    engine_kwargs = {}
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine_kwargs = {"connect_args": {"timeout": 120}}  # worker processes take turns writing
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            return optuna.storages.RDBStorage(
                sqlalchemy_url(url), engine_kwargs=engine_kwargs, heartbeat_interval=sweep.heartbeat_interval_s,
                grace_period=sweep.grace_period_s,
                # RetryFailedTrialCallback's name since Optuna 4.9: re-queues a dead worker's trial as WAITING.
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=sweep.max_retry))
        except Exception as err:  # SQLAlchemy's connection errors: say where and what to check
            raise ConfigError(f"Cannot open study storage {url}: {str(err).splitlines()[0]}. Is the database up?") from err


def load_study(name: str, storage: optuna.storages.RDBStorage, sweep: SweepConfig, worker: int = 0) -> optuna.Study:
    """Create the study or resume it (``load_if_exists``); worker ``i`` samples with seed + i."""
    sampler = optuna.samplers.TPESampler(seed=sweep.seed + worker, n_startup_trials=sweep.n_startup_trials,
                                         constant_liar=True)
    if sweep.pruner == "median":
        pruner: optuna.pruners.BasePruner = optuna.pruners.MedianPruner(
            n_startup_trials=sweep.n_startup_trials, n_warmup_steps=sweep.warmup_epochs)
    elif sweep.pruner == "hyperband":
        pruner = optuna.pruners.HyperbandPruner(min_resource=max(1, sweep.warmup_epochs))
    else:
        pruner = optuna.pruners.NopPruner()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # constant_liar
        return optuna.create_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner,
                                   direction="minimize", load_if_exists=True)


@contextlib.contextmanager
def budget_lock(url: str, name: str) -> Iterator[None]:
    """Serialise "count trials, then ask" across processes and machines sharing the study."""
    if url.startswith("sqlite:///"):
        with open(f"{url.removeprefix('sqlite:///')}.{name}.lock", "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
        return
    import psycopg2

    key = int.from_bytes(hashlib.sha256(f"lightning-eq/{name}".encode()).digest()[:8], "big", signed=True)
    conn = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (key,))
            try:
                yield
            finally:
                cur.execute("SELECT pg_advisory_unlock(%s)", (key,))
    finally:
        conn.close()


class Heartbeat:
    """Records a trial's heartbeat every ``interval_s`` in a thread while the trial runs."""

    def __init__(self, storage: optuna.storages.RDBStorage, trial_id: int, interval_s: float):
        self.storage, self.trial_id, self.interval_s = storage, trial_id, interval_s
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while not self.stop.wait(self.interval_s):
            self.storage.record_heartbeat(self.trial_id)

    def __enter__(self) -> "Heartbeat":
        self.storage.record_heartbeat(self.trial_id)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()


@dataclass
class WorkerReport:
    trials: int  # trials this worker finished (complete or pruned)
    failed: int
    seconds: float


def fail_stale(study: optuna.Study) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def _tell(study: optuna.Study, trial: optuna.Trial, objective: Callable[[optuna.Trial], float]) -> optuna.trial.FrozenTrial:
    try:
        value = objective(trial)
    except optuna.TrialPruned:
        return study.tell(trial, state=TrialState.PRUNED)
    except BaseException:
        study.tell(trial, state=TrialState.FAIL)
        raise
    if value is None or not math.isfinite(value):
        log.warning("%s trial %d returned %r; marked failed", study.study_name, trial.number, value)
        return study.tell(trial, state=TrialState.FAIL)
    return study.tell(trial, value)


def work(study: optuna.Study, storage: optuna.storages.RDBStorage, url: str, objective: Callable[[optuna.Trial], float],
         sweep: SweepConfig, housekeeping: Callable[[optuna.Study], None] | None = None, poll_s: float = 1.0) -> WorkerReport:
    """Run trials until the study holds ``sweep.trials`` finished ones (or ``sweep.timeout_s`` passes)."""
    start = time.monotonic()
    done = failed = 0
    study_id = storage.get_study_id_from_name(study.study_name)
    while not (sweep.timeout_s and time.monotonic() - start > sweep.timeout_s):
        fail_stale(study)
        if housekeeping is not None:
            housekeeping(study)
        with budget_lock(url, study.study_name):
            finished = len(study.get_trials(deepcopy=False, states=FINISHED))
            if finished >= sweep.trials:
                break
            running = len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
            with warnings.catch_warnings():  # we record heartbeats ourselves (Heartbeat below), not via optimize()
                warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
                trial = study.ask() if finished + running < sweep.trials else None
            if trial is not None:
                trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
                storage.record_heartbeat(trial_id)
                trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        if trial is None:  # the last trials run elsewhere; if a worker dies, its retry shows up as WAITING
            time.sleep(poll_s)
            continue
        started = time.perf_counter()
        with Heartbeat(storage, trial_id, sweep.heartbeat_interval_s):
            frozen = _tell(study, trial, objective)
        done += frozen.state in FINISHED
        failed += frozen.state == TrialState.FAIL
        value = f" val MAE {frozen.value:.4f}" if frozen.value is not None else ""
        log.info("%s trial %d %s%s in %.1f s (%d/%d finished)", study.study_name, trial.number, frozen.state.name.lower(),
                 value, time.perf_counter() - started, finished + (frozen.state in FINISHED), sweep.trials)
        if failed > sweep.trials:
            raise LightningEqError(f"Study {study.study_name}: {failed} trials failed (non-finite validation MAE); "
                                   "narrow the learning-rate range in its sweeps/*.yaml.")
    return WorkerReport(done, failed, time.monotonic() - start)
