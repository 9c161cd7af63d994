"""MLflow runs of a sweep: one parent run per study, one child run per trial, attached from outside the objective.

``TrialTracker`` wraps an ``Objective``: it opens the trial's child run, hands the objective a Lightning
callback that logs per-epoch metrics, and closes the run FINISHED, FAILED or KILLED whatever happens. A worker
killed with SIGKILL cannot close its run; ``close_stale_runs`` does that once the trial is failed by heartbeat.
Everything goes through an explicit ``MlflowClient``, never MLflow's global active run.
"""

from __future__ import annotations

import logging
import math
import subprocess
import time
from pathlib import Path

import lightning.pytorch as pl
import optuna
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunStatus
from mlflow.exceptions import MlflowException
from optuna.trial import TrialState

from lightning_eq.config import EMBEDDER_KEYS, Config, to_dict
from lightning_eq.errors import ConfigError
from lightning_eq.models.catalog import embedder_keys
from lightning_eq.training.space import flatten

log = logging.getLogger(__name__)
EXPERIMENT = "lightning-eq-sweeps"
PLOT_WORDS = 6


def check_tracking_uri(uri: str) -> str:
    if not uri.startswith(("sqlite:///", "http://", "https://", "postgresql://", "postgresql+psycopg2://")):
        raise ConfigError(f"Unsupported tracking URI {uri!r}; use sqlite:///mlruns/mlflow.db or http://host:5000 "
                          "(MLflow 3 no longer accepts a plain folder).")
    return uri


def tracking_client(uri: str) -> MlflowClient:
    """A client on ``uri``: ``sqlite:///path`` (its folder is created) or ``http(s)://`` an MLflow server."""
    if check_tracking_uri(uri).startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return MlflowClient(tracking_uri=uri)


def experiment_id(client: MlflowClient, name: str = EXPERIMENT) -> str:
    """Get or create experiment ``name``; with a SQLite store its artifacts go next to the database."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    uri = client.tracking_uri
    location = None
    if uri.startswith("sqlite:///"):
        location = (Path(uri.removeprefix("sqlite:///")).resolve().parent / "artifacts").as_uri()
    try:
        return client.create_experiment(name, artifact_location=location)
    except MlflowException:  # another worker created it first
        return client.get_experiment_by_name(name).experiment_id


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=10)
    except OSError:
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def run_tags(key: str, cfg: Config, fold: int, commit: str) -> dict[str, str]:
    """Model key, fold, seed, git commit and the id of every pretrained embedding model the run reads."""
    tags = {"model": key, "fold": str(fold), "seed": str(cfg.trainer.seed), "git_commit": commit}
    emb = to_dict(cfg.embedders)
    for k in embedder_keys(key, cfg):
        if k in EMBEDDER_KEYS:
            model_id = emb.get(f"{k}_model") or emb.get(f"{k}_variant", "")
            tags[f"embedder.{k}"] = f"{model_id}@layer{cfg.embedders.gpt_layer}" if k == "gpt" else str(model_id)
    return tags


def log_config(client: MlflowClient, run_id: str, cfg: Config, extra: dict | None = None) -> None:
    """Every config setting (dotted names) plus ``extra`` as run parameters."""
    values = {**flatten(to_dict(cfg)), **(extra or {})}
    params = [Param(k, str(v)[:6000]) for k, v in sorted(values.items())]
    for start in range(0, len(params), 100):
        client.log_batch(run_id, params=params[start : start + 100])


def log_metrics(client: MlflowClient, run_id: str, metrics: dict[str, float], step: int = 0) -> None:
    now = int(time.time() * 1000)
    batch = [Metric(k, float(v), now, step) for k, v in metrics.items() if isinstance(v, (int, float)) and math.isfinite(v)]
    if batch:
        client.log_batch(run_id, metrics=batch)


def curves_figure(words, pred_unit, true_unit, title: str):
    """Predicted (line) against true (mean of the word's records, dashed) curves, unit scale, a few words."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from lightning_eq.curves import BAND_CENTRES_HZ
    from lightning_eq.models.metrics import group_means

    names, true_w = group_means(np.asarray(true_unit), words)
    _, pred_w = group_means(np.asarray(pred_unit), words)
    shown = names[:: max(1, len(names) // PLOT_WORDS)][:PLOT_WORDS]
    fig, axes = plt.subplots(2, 3, figsize=(10, 5), sharex=True, sharey=True)
    for ax, word in zip(axes.flat, shown):
        i = names.index(word)
        ax.semilogx(BAND_CENTRES_HZ, pred_w[i], label="predicted")
        ax.semilogx(BAND_CENTRES_HZ, true_w[i], "--", label="true (word mean)")
        ax.set_title(word, fontsize=9)
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


class EpochLogger(pl.Callback):
    """Logs ``train/*`` at each training epoch end and ``val/*`` at each validation end, step = epoch."""

    def __init__(self, client: MlflowClient, run_id: str, flush_every: int = 10):
        self.client, self.run_id, self.flush_every = client, run_id, flush_every
        self.pending: list[Metric] = []

    def _add(self, trainer: pl.Trainer, prefix: str) -> None:
        now = int(time.time() * 1000)
        for k, v in trainer.callback_metrics.items():
            if k.startswith(prefix):
                self.pending.append(Metric(k, float(v), now, trainer.current_epoch))
        if prefix == "train/" and trainer.optimizers:
            self.pending.append(Metric("train/lr", trainer.optimizers[0].param_groups[0]["lr"], now, trainer.current_epoch))
        if len(self.pending) >= 3 * self.flush_every:
            self.flush()

    def flush(self) -> None:
        for start in range(0, len(self.pending), 900):
            self.client.log_batch(self.run_id, metrics=self.pending[start : start + 900])
        self.pending = []

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self._add(trainer, "train/")

    def on_validation_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self._add(trainer, "val/")

    def on_train_end(self, trainer, pl_module) -> None:
        self.flush()

    def on_exception(self, trainer, pl_module, exception) -> None:
        self.flush()


class TrialTracker:
    """Wraps an objective: one child run per trial under the study's parent run."""

    def __init__(self, objective, client: MlflowClient, experiment: str, parent_run_id: str, tags: dict[str, str]):
        self.objective, self.client, self.experiment = objective, client, experiment
        self.parent_run_id, self.tags = parent_run_id, tags
        self.closed: set[str] = set()

    def __call__(self, trial: optuna.Trial) -> float:
        name = f"{trial.study.study_name}-trial{trial.number}"
        tags = {**self.tags, "mlflow.parentRunId": self.parent_run_id, "optuna.study": trial.study.study_name,
                "optuna.trial": str(trial.number)}
        retried = trial.study.get_trials(deepcopy=False)[trial.number].system_attrs.get("failed_trial")
        if retried is not None:
            tags["optuna.retry_of"] = str(retried)
        run_id = self.client.create_run(self.experiment, tags=tags, run_name=name).info.run_id
        trial.set_user_attr("mlflow_run_id", run_id)
        logger = EpochLogger(self.client, run_id)
        start = time.perf_counter()
        try:
            outcome = self.objective.run(trial, callbacks=[logger])
        except optuna.TrialPruned:
            self._end(run_id, trial, "PRUNED", {"trial_seconds": time.perf_counter() - start}, RunStatus.FINISHED)
            raise
        except BaseException as err:
            status = RunStatus.KILLED if isinstance(err, KeyboardInterrupt) else RunStatus.FAILED
            self.client.set_tag(run_id, "error", f"{type(err).__name__}: {err}"[:5000])
            self._end(run_id, trial, "FAIL", {}, status)
            raise
        chosen = {f"chosen.{k}": v for k, v in outcome.model.chosen.items()}
        metrics = {**outcome.metrics, **chosen, "trial_seconds": time.perf_counter() - start}
        log_config(self.client, run_id, outcome.config)
        if self._is_best(trial, outcome.value):  # a figure costs ~0.5 s: draw it for improving trials only
            fig = curves_figure(outcome.val.words, outcome.model.predict(outcome.val.features, len(outcome.val.words)),
                                outcome.val.curves_unit, f"{name}: validation words")
            self.client.log_figure(run_id, fig, "curves_val.png")
            import matplotlib.pyplot as plt

            plt.close(fig)
        finite = math.isfinite(outcome.value)
        # Final scores (of the kept best-epoch weights) one step past the last epoch, so they read as the latest.
        step = len(getattr(outcome.model, "history", []))
        self._end(run_id, trial, "COMPLETE" if finite else "FAIL", metrics, RunStatus.FINISHED if finite else RunStatus.FAILED, step)
        return outcome.value

    @staticmethod
    def _is_best(trial: optuna.Trial, value: float) -> bool:
        done = trial.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        return math.isfinite(value) and all(value < t.value for t in done)

    def _end(self, run_id: str, trial: optuna.Trial, state: str, metrics: dict, status: int, step: int = 0) -> None:
        if state != "COMPLETE":  # a finished trial logs its whole config above; others at least their parameters
            self.client.log_batch(run_id, params=[Param(k, str(v)) for k, v in trial.params.items()])
        log_metrics(self.client, run_id, metrics, step)
        self.client.set_tag(run_id, "optuna.state", state)
        self.client.set_terminated(run_id, RunStatus.to_string(status))

    def close_stale_runs(self, study: optuna.Study) -> int:
        """Mark KILLED the child runs still RUNNING whose trial the heartbeat failed (their worker died)."""
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
                self.client.set_tag(run_id, "optuna.state", "FAIL")
                self.client.set_tag(run_id, "error", "worker stopped mid-trial; the trial was failed by heartbeat and retried")
                self.client.set_terminated(run_id, "KILLED")
                closed += 1
        if closed:
            log.info("%s: closed %d MLflow run(s) left running by a dead worker", study.study_name, closed)
        return closed
