"""The tuner's study: its settings (``Config.tune``, space in ``sweeps/tuner.yaml``) chosen by Optuna on
simulated listeners of training words only.

Listeners are the English records of the words that no outer fold tests (so the chosen settings never read a
test word of the benchmark). Each listener starts from the text prior a tuner would get for its word: the
out-of-fold prediction of a text model (``search.objective.cross_validate``: by a model that never saw the
word), or the mean curve where there is none. The listeners' words are dealt over the inner folds
(``inner_fold_of``), and a fold's listeners are tuned in the curve basis of the other folds' records. The
objective is 1 - the mean r to the listener's curve after 5 and after 10 ratings (``tune.simulate``).

The same runner as every model's study (``open_study``: trial 0 the default settings, seeded TPE, the study
hash; ``optimize``), and the same MLflow tracking attached from outside; only the objective is the tuner's.
numpy only inside a trial: a study of 24 trials takes seconds.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from lightning_eq.config import Config, fingerprint, to_dict
from lightning_eq.curves import unit_to_z
from lightning_eq.search.objective import CVResult, inner_fold_of
from lightning_eq.search.runner import StudyPlan, TrialOutcome, open_study, optimize
from lightning_eq.search.space import apply_values, default_params, suggest
from lightning_eq.tune.basis import CurveBasis
from lightning_eq.tune.simulate import simulate
from lightning_eq.tune.tuner import Tuner

TUNER_KEY = "tuner"  # the study's key and its YAML's name; not a text model (not in the catalog)
TUNE_OBJECTIVE_VERSION = 3  # bump when what a trial computes changes (2: prior projected on the basis; 3: tail of EM)
CHECKPOINTS = (0, 5, 10)  # scored: 5 and 10 ratings; 0 is logged (the prior's own r)


@dataclass
class TunerPlan(StudyPlan):
    """A tuner study: ``table`` holds the listeners' records, ``priors_z`` (N, 40) their text priors (NaN rows:
    none, the mean curve)."""

    priors_z: np.ndarray = field(default=None, repr=False)

    def identity(self) -> dict:
        priors = np.round(np.nan_to_num(self.priors_z, nan=99.0), 5)
        return {"model": self.key, "scope": self.scope, "space": [p.describe() for p in self.spec.params],
                "config": fingerprint(self.base, tune=True), "data": self.table.checksum(),
                "priors": hashlib.sha256(priors.tobytes()).hexdigest()[:16], "objective": TUNE_OBJECTIVE_VERSION}


def listener_priors(priors_z: np.ndarray) -> list[np.ndarray | None]:
    return [None if np.isnan(p).any() else p for p in priors_z]


def inner_folds(words: Sequence[str], k: int) -> np.ndarray:
    fold_of = inner_fold_of(words, k)
    return np.array([fold_of[w] for w in words])


def fold_bases(curves_z: np.ndarray, fold: np.ndarray, k: int) -> list[CurveBasis]:
    """The basis of each inner fold: the other folds' curves (every direction; a trial's basis_size cuts it)."""
    return [CurveBasis.fit(curves_z[fold != i]) for i in range(k)]


def score_settings(cfg: Config, curves_z: np.ndarray, words: Sequence[str], priors_z: np.ndarray,
                   seed: int = 0, bases: list[CurveBasis] | None = None) -> CVResult:
    """The objective of ``cfg.tune`` over inner word folds: 1 - mean r after 5 and 10 ratings (per fold, then mean).
    BLAS runs on ``trainer.num_threads`` threads, as in every objective (these are small solves)."""
    from threadpoolctl import threadpool_limits

    k = cfg.sweep.inner_folds
    fold = inner_folds(words, k)
    with threadpool_limits(limits=cfg.trainer.num_threads or None):
        bases = bases or fold_bases(curves_z, fold, k)
        r = np.zeros((len(words), len(CHECKPOINTS)))
        for i in range(k):
            r[fold == i] = simulate(Tuner(bases[i], cfg.tune), curves_z[fold == i], listener_priors(priors_z[fold == i]),
                                    CHECKPOINTS, seed + 1000 * i)
    return _result(r, fold, k)


def _result(r: np.ndarray, fold: np.ndarray, k: int) -> CVResult:
    per_fold = np.array([1.0 - r[fold == i, 1:].mean() for i in range(k)])
    value, se = float(per_fold.mean()), float(per_fold.std(ddof=1) / math.sqrt(k))
    metrics = {f"val/r_{n}": float(r[:, j].mean()) for j, n in enumerate(CHECKPOINTS)}
    metrics.update({"val/objective": value, "val/objective_se": se})
    return CVResult(value, se, per_fold.tolist(), metrics, {})


class TunerObjective:
    """Suggest tuner settings, score them on the plan's simulated listeners (the runner's objective interface)."""

    def __init__(self, plan: TunerPlan):
        self.plan = plan
        self.curves_z = unit_to_z(plan.table.curves_unit)
        k = plan.base.sweep.inner_folds
        self.bases = fold_bases(self.curves_z, inner_folds(plan.table.words, k), k)  # the same for every trial
        self.default_params, self.default_kept = default_params(plan.spec, plan.base)

    def __call__(self, trial) -> float:
        return self.run(trial).value

    def run(self, trial, callbacks: Sequence = ()) -> TrialOutcome:
        skip = self.default_kept if trial.user_attrs.get("default") else ()
        cfg = apply_values(self.plan.base, suggest(trial, self.plan.spec.params, skip))
        result = score_settings(cfg, self.curves_z, self.plan.table.words, self.plan.priors_z, cfg.trainer.seed, self.bases)
        trial.set_user_attr("config", to_dict(cfg))
        trial.set_user_attr("cv", {"stderr": result.stderr, "fold_values": result.fold_values, "metrics": result.metrics})
        return TrialOutcome(result.value, cfg, result)


def run_tuner_study(plan: TunerPlan, storage_url: str, track: Callable | None = None):
    """Open (or resume) the tuner's study and run it to its budget in this process; returns (study, tracking)."""
    study = open_study(plan, storage_url)
    tracking = track(study) if track is not None else None
    objective: Callable = TunerObjective(plan)
    callbacks: list = []
    if tracking is not None:
        objective, callbacks = tracking.wrap(objective, study), tracking.callbacks(study)
    optimize(study, objective, plan.base.sweep.trials, plan.base.sweep.timeout_s, callbacks)
    return study, tracking
