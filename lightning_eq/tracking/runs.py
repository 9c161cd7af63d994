"""MLflow runs of a sweep: one parent run per Optuna study, one child run per trial, attached from outside.

``StudyTracking`` is what the sweep runner is given: ``wrap(objective, study)`` opens each trial's child run
around the objective and closes it in a ``finally`` with the trial's state (complete or pruned: FINISHED with a
``state`` tag; failed: FAILED; interrupted: KILLED), and ``callbacks(study)`` ends the parent run once, when
the study has its budget and no trial is running. A worker killed mid-trial cannot close its run: the next
trial on any worker marks it KILLED once Optuna's heartbeat has failed that trial. Everything goes through an
explicit ``MlflowClient``, never MLflow's global active run. It pickles (ids and names only) for spawned workers.
"""

from __future__ import annotations

import logging
import math
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from lightning_eq.config import Config, flatten, to_dict
from lightning_eq.errors import ConfigError
from lightning_eq.models.catalog import embedder_keys

log = logging.getLogger(__name__)
EXPERIMENT = "lightning-eq-sweeps"


def check_tracking_uri(uri: str) -> str:
    if not uri.startswith(("sqlite:///", "http://", "https://", "postgresql://", "postgresql+psycopg2://")):
        raise ConfigError(f"Unsupported tracking URI {uri!r}; use sqlite:///mlruns/mlflow.db or http://host:5000 "
                          "(MLflow 3 no longer accepts a plain folder).")
    return uri


def tracking_client(uri: str):
    """A client on ``uri``: ``sqlite:///path`` (its folder is created) or ``http(s)://`` an MLflow server."""
    from mlflow import MlflowClient

    if check_tracking_uri(uri).startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return MlflowClient(tracking_uri=uri)


def experiment_id(client, name: str = EXPERIMENT) -> str:
    """Get or create experiment ``name`` (as a training-runs experiment; see ``tracking.experiments``)."""
    from lightning_eq.tracking.experiments import get_or_create_experiment

    return get_or_create_experiment(client, name)


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=10)
    except OSError:
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def run_tags(key: str, cfg: Config, scope: str, commit: str) -> dict[str, str]:
    """Model key, scope (fold or all), seed, git commit and the settings of every embedder the run reads."""
    tags = {"model": key, "scope": scope, "seed": str(cfg.trainer.seed), "git_commit": commit}
    for k in embedder_keys(key, cfg):
        settings = getattr(cfg.embedders, k).model_dump()
        tags[f"embedder.{k}"] = ", ".join(f"{n}={v}" for n, v in settings.items())[:5000]
    return tags


def log_config(client, run_id: str, cfg: Config, extra: dict | None = None) -> None:
    """Every config setting (dotted names) plus ``extra`` as run parameters."""
    from mlflow.entities import Param

    values = {**flatten(to_dict(cfg)), **(extra or {})}
    params = [Param(k, str(v)[:6000]) for k, v in sorted(values.items())]
    for start in range(0, len(params), 100):
        client.log_batch(run_id, params=params[start : start + 100])


def log_metrics(client, run_id: str, metrics: dict[str, float], step: int = 0) -> None:
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    batch = [Metric(k, float(v), now, step) for k, v in metrics.items()
             if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
    for start in range(0, len(batch), 900):
        client.log_batch(run_id, metrics=batch[start : start + 900])


@dataclass
class StudyTracking:
    """Where a study's runs go: tracking URI, experiment, its parent run, and tags for every child run."""

    uri: str
    experiment_id: str
    parent_run_id: str
    tags: dict[str, str] = field(default_factory=dict)
    summarise: Callable = None  # study -> summary dict (search.selection.study_summary), given by the sweep side

    def client(self):
        return tracking_client(self.uri)

    def wrap(self, objective, study):
        return TrialTracker(objective, self)

    def callbacks(self, study) -> list:
        return [ParentCloser(self)]


def open_parent_run(study, tracking_uri: str, tags: dict[str, str], summarise: Callable,
                    experiment: str = EXPERIMENT) -> StudyTracking:
    """The study's parent run: the one recorded on the study (a resumed study, or another machine's), or a new one."""
    from mlflow.exceptions import MlflowException

    from lightning_eq.tracking.experiments import save_study_view

    client = tracking_client(tracking_uri)
    exp = experiment_id(client, experiment)
    save_study_view(client, exp)
    run_id = study.user_attrs.get("mlflow_parent_run_id")
    try:
        if run_id is not None and client.get_run(run_id).info.experiment_id != exp:
            run_id = None
    except MlflowException:
        run_id = None
    if run_id is None:
        run_id = client.create_run(exp, tags={**tags, "optuna.study": study.study_name}, run_name=study.study_name).info.run_id
        study.set_user_attr("mlflow_parent_run_id", run_id)
        winner = study.user_attrs.get("mlflow_parent_run_id")  # another machine may have written its own meanwhile
        if winner != run_id:
            client.delete_run(run_id)
            run_id = winner
    elif client.get_run(run_id).info.status != "RUNNING" and _unfinished(study):
        client.update_run(run_id, status="RUNNING")
    return StudyTracking(tracking_uri, exp, run_id, tags, summarise)


def _unfinished(study) -> bool:
    """True while the study lacks its budget (user attribute ``trials``) of complete or pruned trials."""
    done = sum(t.state.name in ("COMPLETE", "PRUNED") for t in study.get_trials(deepcopy=False))
    return done < int(study.user_attrs.get("trials", 0))


class TrialTracker:
    """Wraps an objective: one child run per trial under the study's parent run, closed with the trial's state."""

    def __init__(self, objective, tracking: StudyTracking):
        self.objective, self.tracking = objective, tracking
        self.client = tracking.client()
        self.closed: set[str] = set()

    def __call__(self, trial) -> float:
        import optuna
        from mlflow.entities import RunStatus

        from lightning_eq.tracking.epochs import EpochLogger

        study = trial.study
        self.close_stale_runs(study)
        name = f"{study.study_name}-trial{trial.number}"
        tags = {**self.tracking.tags, "mlflow.parentRunId": self.tracking.parent_run_id, "optuna.study": study.study_name,
                "optuna.trial": str(trial.number), "default": str(bool(trial.user_attrs.get("default"))).lower()}
        retried = study.get_trials(deepcopy=False)[trial.number].system_attrs.get("failed_trial")
        if retried is not None:
            tags["optuna.retry_of"] = str(retried)
        run_id = self.client.create_run(self.tracking.experiment_id, tags=tags, run_name=name).info.run_id
        trial.set_user_attr("mlflow_run_id", run_id)
        start = time.perf_counter()
        state, status, metrics, outcome = "FAIL", RunStatus.FAILED, {}, None
        try:
            outcome = self.objective.run(trial, callbacks=[EpochLogger(self.client, run_id)])
            state, status = "COMPLETE", RunStatus.FINISHED
            return outcome.value
        except optuna.TrialPruned:
            state, status = "PRUNED", RunStatus.FINISHED
            raise
        except KeyboardInterrupt:
            status = RunStatus.KILLED
            raise
        except Exception as err:
            self.client.set_tag(run_id, "error", f"{type(err).__name__}: {err}"[:5000])
            raise
        finally:
            metrics["trial_seconds"] = time.perf_counter() - start
            self._finish(run_id, trial, state, status, metrics, outcome)

    def _finish(self, run_id: str, trial, state: str, status: int, metrics: dict, outcome) -> None:
        """One batch with the run's parameters, metrics and state tag, then its status (two calls: the store is
        written once per call, and a trial lasts about a second)."""
        from mlflow.entities import Metric, Param, RunStatus, RunTag

        values = {k: str(v) for k, v in trial.params.items()}
        if outcome is not None:
            result = outcome.result
            metrics.update(result.metrics)
            metrics.update({f"resolved.{k}": v[0] if isinstance(v, list) else v for k, v in result.resolved.items()
                            if isinstance(v, (int, float, list))})
            values = {**{k: str(v) for k, v in flatten(to_dict(outcome.config)).items()}, **values}
        now, step = int(time.time() * 1000), len(outcome.result.epoch_values) if outcome else 0
        batch = [Metric(k, float(v), now, step) for k, v in metrics.items()
                 if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
        params = [Param(k, v[:6000]) for k, v in sorted(values.items())]
        try:
            for start in range(0, max(len(params), len(batch)), 100):
                self.client.log_batch(run_id, metrics=batch[start : start + 100], params=params[start : start + 100],
                                      tags=[RunTag("state", state)] if start == 0 else [])
        finally:  # a run whose logging failed still ends, in its trial's status
            self.client.set_terminated(run_id, RunStatus.to_string(status))

    def close_stale_runs(self, study) -> int:
        """Mark KILLED the child runs still RUNNING whose trial the heartbeat failed (their worker died)."""
        from mlflow.exceptions import MlflowException
        from optuna.trial import TrialState

        closed = 0
        for trial in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
            run_id = trial.user_attrs.get("mlflow_run_id")
            if not run_id or run_id in self.closed:
                continue
            self.closed.add(run_id)
            try:
                run = self.client.get_run(run_id)
            except MlflowException:
                continue  # logged to another tracking store
            if run.info.status == "RUNNING":
                self.client.set_tag(run_id, "state", "FAIL")
                self.client.set_tag(run_id, "error", "worker stopped mid-trial; the trial was failed by heartbeat and retried")
                self.client.set_terminated(run_id, "KILLED")
                closed += 1
        if closed:
            log.info("%s: closed %d MLflow run(s) left running by a dead worker", study.study_name, closed)
        return closed


class ParentCloser:
    """Optuna callback: once the study has its budget and nothing runs, summarise and end the parent run."""

    def __init__(self, tracking: StudyTracking):
        self.tracking = tracking

    def __call__(self, study, frozen) -> None:
        from optuna.trial import TrialState

        if _unfinished(study) or study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING)):
            return
        close_parent(self.tracking, study)


def close_parent(tracking: StudyTracking, study, summary: dict | None = None) -> None:
    """Log the study's summary on its parent run and end it (once: a finished parent is left as it is)."""
    client = tracking.client()
    if client.get_run(tracking.parent_run_id).info.status != "RUNNING":
        return
    from lightning_eq.tracking.figures import log_study

    log_study(client, tracking.parent_run_id, study, summary or tracking.summarise(study))
    client.set_terminated(tracking.parent_run_id, "FINISHED")
