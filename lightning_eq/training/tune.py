"""`lightning-eq run`'s tuner stage (after the models' job, before promote): the tuner's study on the training
words' listeners, then ``models/tuner.json`` (the basis of every English record with the study's best settings),
which ``tune.load_tuner`` reads, and ``reports/tuner.md``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lightning_eq.config import Config, merge
from lightning_eq.curves import unit_to_z
from lightning_eq.data.folds import fold_test_words
from lightning_eq.data.socialeq import SocialEQ
from lightning_eq.data.table import Table, language_code
from lightning_eq.embeddings.vectors import Vectors
from lightning_eq.search.objective import cross_validate
from lightning_eq.search.runner import best_trial, default_trial, trial_config
from lightning_eq.search.space import default_config, load_spec
from lightning_eq.search.tune_study import TUNER_KEY, TunerPlan, run_tuner_study
from lightning_eq.training.evaluate import table_for
from lightning_eq.tune import CurveBasis, Tuner, save_tuner, zscore

log = logging.getLogger(__name__)
# The simulated listeners' text prior: ridge on the gpt features, a second's fit, which the nested estimate puts
# within the spread of the gpt head (the usual champion); a neural prior would cost minutes per study.
PRIOR_MODEL = "ridge"
SCOPE = "train"  # the words no outer fold tests


@dataclass
class TunerOutcome:
    study: str
    settings: dict
    best_value: float
    best_se: float
    default_value: float
    best_metrics: dict
    default_metrics: dict
    path: Path


def training_listeners(data: SocialEQ, hq_words: list[str], cfg: Config) -> Table:
    """The English records of the words no outer fold tests: the study's simulated listeners."""
    english = table_for(data, merge(cfg, {"data.language": "English"}))
    english_data = SocialEQ(tuple(r for r in data.records if language_code(r.lang) == "en"), data.path)
    tested = {w for fold in fold_test_words(english_data, hq_words) for w in fold}
    return english.with_words(tested, inside=False)


def text_priors(table: Table, cfg: Config, vectors: Vectors, key: str = PRIOR_MODEL, sweeps_dir=None) -> np.ndarray:
    """(N, 40) z-scored out-of-fold predictions of text model ``key`` (default configuration) for each row's word."""
    oof = cross_validate(key, default_config(key, cfg, sweeps_dir), table, vectors).oof
    return zscore(unit_to_z(oof))


def plan_tuner(cfg: Config, listeners: Table, priors_z: np.ndarray, trials: int | None = None, sweeps_dir=None) -> TunerPlan:
    spec = load_spec(TUNER_KEY, sweeps_dir)
    base = spec.base_config(cfg)
    if trials:
        base = merge(base, {"sweep.trials": trials}, "--trials")
    return TunerPlan(TUNER_KEY, SCOPE, spec, base, listeners, priors_z=priors_z)


def _tracker(tracking_uri: str | None, plan: TunerPlan):
    if not tracking_uri:
        return None
    from lightning_eq.search.selection import study_summary
    from lightning_eq.tracking.runs import git_commit, open_parent_run

    tags = {"model": TUNER_KEY, "scope": SCOPE, "seed": str(plan.base.trainer.seed), "git_commit": git_commit(),
            "prior_model": PRIOR_MODEL}
    return lambda study: open_parent_run(study, tracking_uri, tags, study_summary)


def tune_tuner(cfg: Config, data: SocialEQ, hq_words: list[str], vectors: Vectors, storage: str, models_dir: Path,
               tracking_uri: str | None = None, trials: int | None = None, sweeps_dir=None) -> TunerOutcome:
    """Run the tuner's study (resumed if it exists) and store the chosen settings where ``load_tuner`` finds them."""
    listeners = training_listeners(data, hq_words, cfg)
    plan = plan_tuner(cfg, listeners, text_priors(listeners, cfg, vectors, sweeps_dir=sweeps_dir), trials, sweeps_dir)
    study, tracking = run_tuner_study(plan, storage, _tracker(tracking_uri, plan))
    best, default = best_trial(study), default_trial(study)
    settings = trial_config(best).tune
    english = table_for(data, merge(cfg, {"data.language": "English"}))
    tuner = Tuner(CurveBasis.fit(unit_to_z(english.curves_unit), settings.basis_size), settings)
    metrics = lambda t: t.user_attrs["cv"]["metrics"] if t is not None else {}  # noqa: E731
    outcome = TunerOutcome(study.study_name, settings.model_dump(), float(best.value), best.user_attrs["cv"]["stderr"],
                           float(default.value) if default is not None else float("nan"), metrics(best), metrics(default),
                           models_dir / "tuner.json")
    save_tuner(tuner, models_dir, {"study": outcome.study, "objective": outcome.best_value,
                                   "metrics": outcome.best_metrics, "listeners": len(listeners)})
    if tracking is not None:
        from lightning_eq.tracking.runs import close_parent

        close_parent(tracking, study)
        tracking.client().log_artifact(tracking.parent_run_id, str(outcome.path))
    log.info("%s: 1 - r after 5 and 10 ratings, default %.3f, best %.3f ± %.3f", outcome.study, outcome.default_value,
             outcome.best_value, outcome.best_se)
    return outcome


def tuner_table(outcome: TunerOutcome) -> str:
    """The study's default and best settings with their r after 0, 5 and 10 ratings (simulated listeners)."""
    lines = ["| tuner settings | r after 0 | r after 5 | r after 10 | objective (1 - mean r at 5, 10) |", "|---|---:|---:|---:|---:|"]
    for name, m, value in (("default", outcome.default_metrics, outcome.default_value),
                           ("chosen", outcome.best_metrics, outcome.best_value)):
        lines.append(f"| {name} | {m.get('val/r_0', float('nan')):.2f} | {m.get('val/r_5', float('nan')):.2f} | "
                     f"{m.get('val/r_10', float('nan')):.2f} | {value:.3f} |")
    chosen = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in outcome.settings.items())
    return "\n".join(lines) + f"\n\nChosen by study {outcome.study}: {chosen}; stored in {outcome.path}."


def run_tuner_stage(cfg: Config, storage: str, models_dir: Path, reports_dir: Path, tracking_uri: str | None = None,
                    trials: int | None = None, cache_dir: str | None = None) -> str:
    """The whole stage from the project's data (embeddings from the cache the job filled); returns its table,
    also written to ``reports_dir/tuner.md``."""
    from lightning_eq.data.socialeq import load_hq_words, load_records

    data = load_records(cfg.data.path or None, "all")
    outcome = tune_tuner(cfg, data, load_hq_words(), Vectors(data.words, cache_dir), storage, models_dir, tracking_uri,
                         trials)
    table = tuner_table(outcome)
    reports_dir.mkdir(parents=True, exist_ok=True)
    (reports_dir / "tuner.md").write_text("# The tuner (Tune by ear): its study on simulated listeners of the training "
                                          "words\n\n" + table + "\n")
    return table
