"""Run one Optuna study: what it searches (``StudyPlan``), its name, trial 0, and Optuna's own runtime.

A study is one model on one scope: an outer word-disjoint fold (``fold0``..``fold3``: its training words) or
``all`` (every word: the study whose best configuration is refitted on all data and registered). Its name,
``<model>-<scope>-<hash>``, carries a short hash of what the study reads (``StudyPlan.identity``): its spec
(space and fixed settings), the settings of the default configuration that the model reads (its own sections
and the settings of the embedders its space can choose, not every embedder's), the model digest of each of
those embedders, the data and the objective's code version. So a changed spec, model file or objective never
mixes with old trials, and registering an embedder renames only the studies that can read it. The identity is
also stored on the study and checked on resume. Trial 0 is the default configuration, and the TPE sampler
(multivariate) is seeded from the study's name, so studies draw different start-up trials.

Workers run ``study.optimize`` with ``MaxTrialsCallback`` for the budget and ``catch`` so one bad trial fails
alone; the storage's heartbeat fails a dead worker's trial and ``RetryHeartbeatStaleTrialCallback`` queues it
again. Several workers on this machine are spawned processes; other machines join by running the same command.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from lightning_eq.config import RUNTIME_SETTINGS, Config, flatten, short_hash, to_dict
from lightning_eq.data.table import Table
from lightning_eq.embeddings.vectors import Vectors
from lightning_eq.errors import ConfigError, LightningEqError
from lightning_eq.embeddings.registry import EMBEDDERS
from lightning_eq.models.catalog import is_neural, read_settings
from lightning_eq.search.objective import MONITOR, OBJECTIVE_VERSION, CVResult, cross_validate
from lightning_eq.search.space import SweepSpec, apply_values, default_params, suggest
from lightning_eq.search.storage import open_storage

log = logging.getLogger(__name__)


@dataclass
class StudyPlan:
    """One study: model ``key`` searched over ``spec`` from the default configuration ``base``, on ``table``."""

    key: str
    scope: str  # fold0..fold3 or all
    spec: SweepSpec
    base: Config
    table: Table  # the study's training rows (never an outer fold's test words)
    _hash: str = field(default="", repr=False)
    _identity: dict | None = field(default=None, repr=False)

    def identity(self) -> dict[str, Any]:
        """What the study's hash covers: the spec (space, fixed settings), the default configuration's settings that
        the model reads, the model digest of every embedder it can read, the data and the objective's code version."""
        if self._identity is None:
            settings = embedder_settings(self)
            root = Path(self.base.embedders.cache_dir).expanduser()
            models = {k: " ".join(sorted({EMBEDDERS[k].model_digest(getattr(s, k), root) for s in sections}))
                      for k, sections in settings.items()}
            fixed = {k: v for k, v in flatten(self.spec.fixed).items() if k not in RUNTIME_SETTINGS}
            self._identity = {"model": self.key, "scope": self.scope, "space": [p.describe() for p in self.spec.params],
                              "fixed": fixed, "config": read_settings(self.key, self.base, set(settings)),
                              "models": models, "data": self.table.checksum(), "objective": OBJECTIVE_VERSION}
        return self._identity

    @property
    def hash(self) -> str:
        if not self._hash:
            self._hash = short_hash(self.identity())
        return self._hash

    @property
    def name(self) -> str:
        return f"{self.key}-{self.scope}-{self.hash}"

    @property
    def sampler_seed(self) -> int:
        return int(hashlib.sha256(self.name.encode()).hexdigest()[:8], 16)


def embedder_settings(plan: "StudyPlan") -> dict[str, list]:
    """{embedder key: [embedders sections]}: every embedder setting the study's trials can read, so they can be
    embedded once, before any trial (a float or int range over an embedder setting is not supported)."""
    import itertools

    from lightning_eq.models.catalog import embedder_keys

    categorical = [p for p in plan.spec.params if p.kind in ("categorical", "subsets")]
    keys = set(embedder_keys(plan.key, plan.base))
    for p in categorical:
        for choice in p.choices:
            value = choice.split("+") if p.kind == "subsets" else ([choice] if p.wrap else choice)
            keys.update(embedder_keys(plan.key, apply_values(plan.base, {p.path: value})))
    out: dict[str, list] = {}
    for key in sorted(keys):
        own = [p for p in categorical if p.path.startswith(f"embedders.{key}.")]
        combos = itertools.product(*[p.choices for p in own]) if own else [()]
        out[key] = [apply_values(plan.base, dict(zip([p.path for p in own], combo))).embedders for combo in combos]
    return out


def prewarm(plan: "StudyPlan", vectors: Vectors) -> None:
    """Embed every setting the study can read before any trial (from the disk cache when it is there)."""
    for key, sections in embedder_settings(plan).items():
        vectors.prepare(key, sections, plan.table.vocabulary)


@dataclass
class TrialOutcome:
    """A finished trial's score, the configuration it resolved to, and its cross-validation details."""

    value: float
    config: Config  # fully resolved: what a refit trains
    result: CVResult


class Objective:
    """Suggest a configuration, cross-validate it inside the study's training words, return the mean MAE."""

    def __init__(self, plan: StudyPlan, vectors: Vectors):
        self.plan, self.vectors = plan, vectors
        self.default_params, self.default_kept = default_params(plan.spec, plan.base)

    def __call__(self, trial) -> float:
        return self.run(trial).value

    def configure(self, trial) -> Config:
        skip = self.default_kept if trial.user_attrs.get("default") else ()
        return apply_values(self.plan.base, suggest(trial, self.plan.spec.params, skip))

    def run(self, trial, callbacks: Sequence = ()) -> TrialOutcome:
        """Score one suggested configuration; raises optuna.TrialPruned when the pruner stops it."""
        cfg = self.configure(trial)
        extra = list(callbacks)
        if is_neural(self.plan.key) and cfg.sweep.pruner != "none":
            from optuna_integration import PyTorchLightningPruningCallback

            # Last: the epoch loggers record the epoch the pruner stops the trial at before it raises.
            extra.append(PyTorchLightningPruningCallback(trial, monitor=MONITOR))
        result = cross_validate(self.plan.key, cfg, self.plan.table, self.vectors, extra)
        resolved = result.config(cfg)
        trial.set_user_attr("config", to_dict(resolved))
        trial.set_user_attr("cv", {"stderr": result.stderr, "fold_values": result.fold_values,
                                   "metrics": {k: float(v) for k, v in result.metrics.items()}})
        return TrialOutcome(result.value, resolved, result)


def _pruner(sweep):
    import optuna

    if sweep.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=sweep.n_startup_trials, n_warmup_steps=sweep.warmup_epochs)
    if sweep.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(1, sweep.warmup_epochs))
    return optuna.pruners.NopPruner()


def open_study(plan: StudyPlan, storage_url: str, worker: int = 0, resume: str | None = None):
    """Create the study (trial 0 = the default configuration) or resume it; a changed spec is refused."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # a line per trial; the callers log one per study
    sweep = plan.base.sweep
    storage = open_storage(storage_url, sweep)
    name = resume or plan.name
    if resume is not None:
        names = optuna.get_all_study_names(storage)
        if resume not in names:
            same = sorted(n for n in names if n.startswith(f"{plan.key}-{plan.scope}-"))
            raise ConfigError(f"No study {resume!r} in {storage_url}; studies of {plan.key} {plan.scope} there: "
                              f"{', '.join(same) or 'none'}. Leave out --study to run this spec's ({plan.name}).")
        if resume != plan.name:
            _refuse(plan, resume, storage)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # multivariate, group, constant_liar
        sampler = optuna.samplers.TPESampler(seed=plan.sampler_seed + worker, n_startup_trials=sweep.n_startup_trials,
                                             multivariate=True, group=True, constant_liar=True)
        study = optuna.create_study(study_name=name, storage=storage, sampler=sampler, pruner=_pruner(sweep),
                                    direction="minimize", load_if_exists=True)
    identity = json.dumps(plan.identity(), sort_keys=True, default=str)
    stored = study.user_attrs.get("identity")
    if stored is None:
        study.set_user_attr("identity", identity)
        for k, v in {"model": plan.key, "scope": plan.scope, "hash": plan.hash, "trials": sweep.trials,
                     "base_config": to_dict(plan.base)}.items():
            study.set_user_attr(k, v)
        params, _ = default_params(plan.spec, plan.base)
        study.enqueue_trial(params, user_attrs={"default": True}, skip_if_exists=True)
    elif stored != identity:
        _refuse(plan, name, storage)
    elif study.user_attrs.get("trials") != sweep.trials:  # resumed with another budget (--trials): the latest counts,
        study.set_user_attr("trials", sweep.trials)  # so the parent run reopens and closes at the new budget
    return study


def _refuse(plan: StudyPlan, name: str, storage) -> None:
    raise ConfigError(
        f"Study {name} was made with another search space, default configuration, model files, data or objective "
        f"than this run's ({plan.name}); start fresh by leaving out --study (this run's study is {plan.name}), or delete "
        f"the old one with `optuna delete-study --study-name {name} --storage <url>`.")


FINISHED_STATES = ("COMPLETE", "PRUNED")


def finished(study) -> int:
    return sum(t.state.name in FINISHED_STATES for t in study.get_trials(deepcopy=False))


def optimize(study, objective: Callable, budget: int, timeout_s: float = 0.0, callbacks: Sequence = ()) -> None:
    """Run trials in this process until the study holds ``budget`` finished (complete or pruned) trials."""
    import optuna
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    if finished(study) >= budget:
        return
    stop = [MaxTrialsCallback(budget, states=(TrialState.COMPLETE, TrialState.PRUNED)),
            MaxTrialsCallback(3 * budget, states=None)]  # a spec where every trial fails must end too
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        study.optimize(objective, timeout=timeout_s or None, callbacks=[*stop, *callbacks], catch=(Exception,),
                       gc_after_trial=False, show_progress_bar=False)


@dataclass
class WorkerJob:
    """Everything one worker process needs; pickled to spawned processes."""

    plan: StudyPlan
    vectors: Vectors
    storage_url: str
    index: int = 0
    tracking: Any = None  # an object with wrap(objective, study) -> objective and callbacks(study) -> list


def one_device(cfg: Config, index: int) -> Config:
    """Worker ``index`` trains on GPU ``index`` mod the GPU count: with devices="auto" Lightning would spread every
    trial over all GPUs, which these small networks do not need."""
    if cfg.trainer.devices != "auto" or cfg.trainer.accelerator == "cpu":
        return cfg
    import torch

    if not torch.cuda.is_available():
        return cfg
    from lightning_eq.config import merge

    return merge(cfg, {"trainer.devices": f"{index % torch.cuda.device_count()},"}, "worker device")


def run_worker(job: WorkerJob) -> None:
    """Join the study and run trials until its budget is met."""
    from dataclasses import replace

    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    study = open_study(job.plan, job.storage_url, job.index)
    plan = replace(job.plan, base=one_device(job.plan.base, job.index), _hash=job.plan.hash)
    objective: Callable = Objective(plan, job.vectors)
    callbacks: list = []
    if job.tracking is not None:
        objective, callbacks = job.tracking.wrap(objective, study), job.tracking.callbacks(study)
    sweep = job.plan.base.sweep
    optimize(study, objective, sweep.trials, sweep.timeout_s, callbacks)


def _worker_process(job: WorkerJob) -> None:
    logging.basicConfig(level=logging.INFO, format=f"[worker {job.index}] %(message)s")
    run_worker(job)


def run_workers(job: WorkerJob, workers: int) -> None:
    """``workers`` processes on the same study (worker 0 in this process when there is only one)."""
    if workers == 1:
        run_worker(job)
        return
    from dataclasses import replace

    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker_process, args=(replace(job, index=i),), name=f"{job.plan.name}-worker{i}")
             for i in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    codes = [p.exitcode for p in procs]
    if any(codes):
        log.warning("%s: worker exit codes %s", job.plan.name, codes)


def run_study(plan: StudyPlan, vectors: Vectors, storage_url: str, *, workers: int = 1,
              track: Callable[[Any], Any] | None = None, resume: str | None = None):
    """Open (or resume) the study, run it to its budget with ``workers`` processes; returns (study, tracking).

    ``track(study)`` (tracking attached from outside) returns an object with ``wrap(objective, study)`` and
    ``callbacks(study)``, or None."""
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}.")
    study = open_study(plan, storage_url, resume=resume)
    prewarm(plan, vectors)
    tracking = track(study) if track is not None else None
    run_workers(WorkerJob(plan, vectors, storage_url, 0, tracking), workers)
    done = finished(study)
    if done < plan.base.sweep.trials and not plan.base.sweep.timeout_s:
        raise LightningEqError(f"Study {plan.name} stopped at {done}/{plan.base.sweep.trials} finished trials (a worker "
                               "died, or every trial failed: see the log). Run the same command again to resume it.")
    return study, tracking


def best_trial(study):
    """The complete trial with the lowest objective."""
    from optuna.trial import TrialState

    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if "config" in t.user_attrs]
    if not complete:
        raise LightningEqError(f"Study {study.study_name} has no complete trial; run it again (see the log for errors).")
    return min(complete, key=lambda t: t.value)


def default_trial(study):
    """Trial 0 of the study: the default configuration (None if it did not complete)."""
    for t in study.get_trials(deepcopy=False):
        if t.user_attrs.get("default") and t.state.name == "COMPLETE" and "config" in t.user_attrs:
            return t
    return None


def trial_config(trial) -> Config:
    """The fully resolved configuration a trial stored: what a refit trains (never today's YAML)."""
    from lightning_eq.config import from_dict

    return from_dict(trial.user_attrs["config"], f"trial {trial.number}'s stored configuration")
