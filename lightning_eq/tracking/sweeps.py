"""Sweeps with tracking attached: one study per (model, fold), run by N worker processes, then the chosen config
refitted on the fold's whole training part and scored once on its test words.

``run_sweeps`` is what the main job and ``lightning-eq sweep`` call. Worker processes are spawned (not forked)
and get the fold's vectors pickled, so they never re-embed; several machines join the same study by running
the same command against a PostgreSQL storage and a shared MLflow server.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import multiprocessing
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import optuna
from optuna.trial import TrialState

from lightning_eq.config import Config
from lightning_eq.data.socialeq import SocialEQ, load_hq_words, load_records
from lightning_eq.errors import ConfigError, LightningEqError
from lightning_eq.models.catalog import embedder_keys
from lightning_eq.tracking import DEFAULT_TRACKING_URI, figures
from lightning_eq.tracking.runs import EXPERIMENT, TrialTracker, experiment_id, git_commit, run_tags, tracking_client
from lightning_eq.tracking.studies import (DEFAULT_STORAGE, FINISHED, WorkerReport, budget_lock, fail_stale, load_study,
                                          open_storage, work)
from lightning_eq.training.evaluate import Embeddings
from lightning_eq.training.space import (DEFAULT_SWEEPS_DIR, SweepConfig, SweepSpec, apply_values, load_spec,
                                         with_overrides)
from lightning_eq.training.sweep import FoldData, Objective, config_of, refit_and_test, study_name

log = logging.getLogger(__name__)


@dataclass
class StudyResult:
    """One (model, fold) study: the chosen config's validation score and its single test score."""

    model: str
    fold: int
    study: str
    finished: int  # complete + pruned trials in the study
    pruned: int
    failed: int
    best_trial: int | None
    best_params: dict
    val_mae_unit: float
    test: dict[str, float]
    chosen: dict = field(default_factory=dict)
    parent_run_id: str | None = None
    seconds: float = 0.0
    trials_run: int = 0  # trials finished by this call (the rest were there already)

    @property
    def test_mae_unit(self) -> float:
        return self.test.get("test/mae_unit", math.nan)


@dataclass
class Tracking:
    uri: str
    experiment_id: str
    parent_run_id: str
    tags: dict[str, str]


@dataclass
class WorkerJob:
    """Everything one worker process needs; pickled to spawned processes."""

    key: str
    cfg: Config
    spec: SweepSpec
    sweep: SweepConfig
    fold: FoldData
    storage_url: str
    study: str
    index: int = 0
    tracking: Tracking | None = None


def quiet_lightning() -> None:
    """Lightning's per-fit banners (GPU available, tips) would print once per trial."""
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)


def one_device(cfg: Config, index: int) -> Config:
    """Worker ``index`` trains on GPU ``index`` mod the GPU count: with devices="auto" Lightning would spread
    every trial over all GPUs (DDP), which these small heads do not need."""
    if cfg.trainer.devices != "auto" or cfg.trainer.accelerator == "cpu":
        return cfg
    import torch

    if not torch.cuda.is_available():
        return cfg
    return dataclasses.replace(cfg, trainer=dataclasses.replace(cfg.trainer, devices=f"{index % torch.cuda.device_count()},"))


def run_worker(job: WorkerJob) -> WorkerReport:
    """Join the study and run trials until its budget is met."""
    quiet_lightning()
    cfg = one_device(job.cfg, job.index)
    storage = open_storage(job.storage_url, job.sweep)
    study = load_study(job.study, storage, job.sweep, job.index)
    objective = Objective(job.key, cfg, job.spec, job.fold)
    if job.tracking is None:
        return work(study, storage, job.storage_url, objective, job.sweep)
    t = job.tracking
    tracker = TrialTracker(objective, tracking_client(t.uri), t.experiment_id, t.parent_run_id, t.tags)
    return work(study, storage, job.storage_url, tracker, job.sweep, housekeeping=tracker.close_stale_runs)


def _worker_process(job: WorkerJob) -> None:
    logging.basicConfig(level=logging.INFO, format=f"[worker {job.index}] %(message)s")
    run_worker(job)


def run_workers(jobs: list[WorkerJob]) -> list[int]:
    """One spawned process per job; returns their exit codes (one killed worker does not stop the others)."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker_process, args=(job,), name=f"{job.study}-worker{job.index}") for job in jobs]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return [p.exitcode for p in procs]


def sweepable(models: Sequence[str], sweeps_dir: str | Path | None = None) -> list[str]:
    """The models in ``models`` that have a search space (flat and mean have nothing to search)."""
    return [m for m in models if (Path(sweeps_dir or DEFAULT_SWEEPS_DIR) / f"{m}.yaml").is_file()]


def sweep_embedders(models: Sequence[str], cfg: Config, sweeps_dir: str | Path | None = None,
                    overrides: dict | None = None) -> list[str]:
    """Embedder keys ``run_sweeps`` needs vectors for: each model's, under every categorical choice."""
    keys: set[str] = set()
    for key in models:
        spec = with_overrides(load_spec(key, sweeps_dir), overrides)
        categorical = [p for p in spec.params if p.kind == "categorical"]
        # Every categorical setting at its first choice, then each one over all its choices.
        base = apply_values(spec.base_config(cfg), {p.path: [p.choices[0]] if p.wrap else p.choices[0] for p in categorical})
        keys.update(embedder_keys(key, base))
        for p in categorical:
            for choice in p.choices:
                keys.update(embedder_keys(key, apply_values(base, {p.path: [choice] if p.wrap else choice})))
    return sorted(keys)


def prewarm(key: str, cfg: Config, spec: SweepSpec, fold: FoldData) -> None:
    """Embed every embedder setting the space can pick (``embedders.gpt_layer``) once, before workers start."""
    base = spec.base_config(cfg)
    for p in spec.params:
        if not p.path.startswith("embedders."):
            continue
        values = p.choices if p.kind == "categorical" else range(int(p.low), int(p.high) + 1, int(p.step or 1)) if p.kind == "int" else ()
        for value in values:
            trial_cfg = apply_values(base, {p.path: value})
            fold.embeddings(trial_cfg, embedder_keys(key, trial_cfg))


def open_parent_run(study: optuna.Study, tracking_uri: str, experiment: str, tags: dict, storage_url: str) -> Tracking:
    """The study's parent run: the one recorded on the study (resume) or a new one."""
    from mlflow.exceptions import MlflowException

    client = tracking_client(tracking_uri)
    exp = experiment_id(client, experiment)
    with budget_lock(storage_url, study.study_name):  # workers on other machines may be opening it too
        run_id = study.user_attrs.get("mlflow_parent_run_id")
        try:
            if run_id is None or client.get_run(run_id).info.experiment_id != exp:
                run_id = None
        except MlflowException:
            run_id = None
        if run_id is None:
            run_tags_ = {**tags, "optuna.study": study.study_name, "optuna.storage": storage_url.split("@")[-1]}
            run_id = client.create_run(exp, tags=run_tags_, run_name=study.study_name).info.run_id
            study.set_user_attr("mlflow_parent_run_id", run_id)
        else:
            client.update_run(run_id, status="RUNNING")
    return Tracking(tracking_uri, exp, run_id, tags)


def finish_study(study: optuna.Study, job: WorkerJob, started: float, trials_before: int) -> StudyResult:
    """Refit the best trial's config on the fold's training part, score it once on test words, log the parent run."""
    fail_stale(study)
    trials = study.get_trials(deepcopy=False)
    count = {s: sum(t.state == s for t in trials) for s in TrialState}
    finished = count[TrialState.COMPLETE] + count[TrialState.PRUNED]
    result = StudyResult(job.key, job.fold.fold, study.study_name, finished, count[TrialState.PRUNED], count[TrialState.FAIL],
                         None, {}, math.nan, {}, parent_run_id=job.tracking.parent_run_id if job.tracking else None,
                         trials_run=finished - trials_before)
    if count[TrialState.COMPLETE]:
        best = study.best_trial
        cfg = config_of(best, one_device(job.cfg, 0), job.spec)
        chosen = best.user_attrs.get("chosen", {})
        model, test, test_part = refit_and_test(job.key, cfg, job.fold, chosen)
        result = dataclasses.replace(result, best_trial=best.number, best_params=dict(best.params),
                                     val_mae_unit=float(best.value), test=test, chosen=chosen)
        study.set_user_attr("test", {"best_trial": best.number, **test})
    result.seconds = time.perf_counter() - started
    if job.tracking is not None:
        client = tracking_client(job.tracking.uri)
        TrialTracker(None, client, job.tracking.experiment_id, job.tracking.parent_run_id, {}).close_stale_runs(study)
        if result.best_trial is not None:
            figures.log_study(client, job.tracking.parent_run_id, study, job.key, cfg, model, test_part, result)
        else:
            client.set_tag(job.tracking.parent_run_id, "note", "no trial completed; nothing was scored on test words")
        client.set_terminated(job.tracking.parent_run_id, "FINISHED")
    return result


def run_sweep(key: str, cfg: Config, fold: FoldData, *, trials: int | None = None, timeout_s: float | None = None,
              workers: int = 1, storage: str = DEFAULT_STORAGE, tracking_uri: str | None = DEFAULT_TRACKING_URI,
              sweeps_dir: str | Path | None = None, experiment: str = EXPERIMENT, overrides: dict | None = None) -> StudyResult:
    """One study (``<key>-fold<k>``) to its trial budget with ``workers`` processes; resumes an existing study.
    ``overrides`` (nested config settings) go on top of the YAML's ``fixed``."""
    spec = with_overrides(load_spec(key, sweeps_dir), overrides)
    sweep = dataclasses.replace(spec.sweep, trials=trials or spec.sweep.trials,
                                timeout_s=spec.sweep.timeout_s if timeout_s is None else timeout_s)
    if workers < 1 or sweep.trials < 1:
        raise ConfigError(f"--workers and --trials must be at least 1, got {workers} and {sweep.trials}.")
    started = time.perf_counter()
    quiet_lightning()
    name = study_name(key, fold.fold)
    study = load_study(name, open_storage(storage, sweep), sweep)
    trials_before = len(study.get_trials(deepcopy=False, states=FINISHED))
    prewarm(key, cfg, spec, fold)
    tracking = None
    if tracking_uri:
        tracking = open_parent_run(study, tracking_uri, experiment, run_tags(key, spec.base_config(cfg), fold.fold, git_commit()), storage)
        client = tracking_client(tracking_uri)
        client.log_artifact(tracking.parent_run_id, str(spec.path), "sweep")
        client.log_dict(tracking.parent_run_id, {"fixed": spec.fixed, "sweep": dataclasses.asdict(sweep)}, "sweep/settings.json")
    job = WorkerJob(key, cfg, spec, sweep, fold, storage, name, 0, tracking)
    try:
        if workers == 1:
            run_worker(job)
        else:
            codes = run_workers([dataclasses.replace(job, index=i) for i in range(workers)])
            if any(codes):
                log.warning("%s: worker exit codes %s", name, codes)
        done = len(study.get_trials(deepcopy=False, states=FINISHED))
        if done < sweep.trials and not sweep.timeout_s:
            raise LightningEqError(f"Study {name} stopped at {done}/{sweep.trials} finished trials (a worker died?). "
                                   "Run the same command again to resume it.")
        return finish_study(study, job, started, trials_before)
    except BaseException as err:
        if tracking is not None:
            status = "KILLED" if isinstance(err, KeyboardInterrupt) else "FAILED"
            tracking_client(tracking.uri).set_terminated(tracking.parent_run_id, status)
        raise


def run_sweeps(cfg: Config, emb: Embeddings, models: Sequence[str], folds: Sequence[int], trials: int | None = None,
               storage: str = DEFAULT_STORAGE, tracking_uri: str | None = DEFAULT_TRACKING_URI, *,
               data: SocialEQ | None = None, hq_words: list[str] | None = None, workers: int = 1,
               timeout_s: float | None = None, sweeps_dir: str | Path | None = None, experiment: str = EXPERIMENT,
               overrides: dict | None = None, on_study: Callable[[StudyResult], None] | None = None) -> list[StudyResult]:
    """Sweep every (model, fold), in order. ``emb`` must hold ``sweep_embedders(models, cfg)`` for ``data.words``."""
    data = data or load_records(cfg.data_path or None, cfg.language)
    hq_words = hq_words or load_hq_words()
    missing = sorted(set(sweep_embedders(models, cfg, sweeps_dir, overrides)) - set(emb.vectors))
    if missing:
        raise ConfigError(f"The sweeps need embeddings {', '.join(missing)} that were not computed; embed them with "
                          "pipeline.embed_vocabulary(data.words, sweep_embedders(models, cfg), cfg) first.")
    results = []
    for key in models:
        for k in folds:
            fold = FoldData(data, hq_words, emb, k, cfg.embedders, cfg.embedders.cache_dir)
            result = run_sweep(key, cfg, fold, trials=trials, timeout_s=timeout_s, workers=workers, storage=storage,
                               tracking_uri=tracking_uri, sweeps_dir=sweeps_dir, experiment=experiment, overrides=overrides)
            log.info("%s: val MAE %.4f, test MAE %.4f (%d trials, %.0f s)", result.study, result.val_mae_unit,
                     result.test_mae_unit, result.finished, result.seconds)
            results.append(result)
            if on_study:
                on_study(result)
    return results
