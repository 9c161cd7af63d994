"""Sweeps per model: one study per outer fold (the nested estimate) and one over all words (the model to register).

For outer fold k the study searches inside the fold's training words; its trial 0 (the default) and its best
trial are refitted on that training part and scored once on the fold's test words. The ``all`` study
searches over every word; its best configuration, refitted on every record, is the model's final form. With
tracking, each study has an MLflow parent run (see ``tracking.runs``) that also gets the refit's test scores.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from lightning_eq.config import Config, merge
from lightning_eq.data.socialeq import SocialEQ
from lightning_eq.embeddings.vectors import Vectors
from lightning_eq.errors import ConfigError
from lightning_eq.search import DEFAULT_STORAGE
from lightning_eq.search.runner import StudyPlan, best_trial, run_study, trial_config
from lightning_eq.search.selection import FoldOutcome, refit
from lightning_eq.search.space import load_spec, with_overrides
from lightning_eq.training.evaluate import nested_fold, outer_parts, table_for

log = logging.getLogger(__name__)
FOLD_SCOPES = ("fold0", "fold1", "fold2", "fold3")
SCOPES = (*FOLD_SCOPES, "all")


@dataclass
class SweepRequest:
    """Which studies to run and where: the CLI's and the main job's sweep settings."""

    models: Sequence[str]
    scopes: Sequence[str] = SCOPES
    trials: int | None = None  # every study's budget (default: its YAML's sweep.trials)
    workers: int = 1
    storage: str = DEFAULT_STORAGE
    tracking_uri: str | None = None
    sweeps_dir: str | Path | None = None
    overrides: dict | None = None  # dotted --set settings on top of each YAML's fixed
    resume: str | None = None  # a study name to resume (one model, one scope)

    def __post_init__(self) -> None:
        unknown = [s for s in self.scopes if s not in SCOPES]
        if unknown:
            raise ConfigError(f"Unknown study scope {unknown[0]!r}; use fold0..fold3 or all.")
        if self.resume and (len(self.models) != 1 or len(self.scopes) != 1):
            raise ConfigError("--study resumes one study: give one --model and one --scope with it.")


@dataclass
class ModelSweep:
    """A model's studies: the nested outcomes per fold, study summaries, and the refitted ``all`` configuration."""

    key: str
    folds: list[FoldOutcome] = field(default_factory=list)
    studies: list[dict] = field(default_factory=list)
    final_model: object = None
    final_config: Config | None = None
    final_value: float = math.nan  # the ``all`` study's best objective
    final_stderr: float = math.nan
    final_english: float = math.nan  # that trial's objective over the English validation records (the champion's choice)
    final_english_se: float = math.nan
    final_known: dict | None = None  # the final model's training words' curves (``search.objective.known_word_curves``)

    def candidate(self):
        """The ``all`` study's best trial as the champion's choice sees it (``search.selection.route_models``)."""
        from lightning_eq.search.selection import Candidate

        return Candidate(self.final_value, self.final_stderr, self.final_english, self.final_english_se)


def plan_for(key: str, scope: str, cfg: Config, data: SocialEQ, hq_words: list[str], request: SweepRequest) -> tuple[StudyPlan, object]:
    """(plan, test rows or None) of one study."""
    spec = with_overrides(load_spec(key, request.sweeps_dir), request.overrides)
    base = spec.base_config(cfg)
    if request.trials:
        base = merge(base, {"sweep.trials": request.trials}, "--trials")
    if scope == "all":
        return StudyPlan(key, scope, spec, base, table_for(data, base)), None
    train, test = outer_parts(data, hq_words, base, int(scope.removeprefix("fold")))
    return StudyPlan(key, scope, spec, base, train), test


def _tracker(request: SweepRequest, plan: StudyPlan) -> Callable | None:
    if not request.tracking_uri:
        return None
    from lightning_eq.tracking.runs import git_commit, open_parent_run, run_tags

    from lightning_eq.search.selection import study_summary

    tags = run_tags(plan.key, plan.base, plan.scope, git_commit())
    return lambda study: open_parent_run(study, request.tracking_uri, tags, study_summary)


def sweep_model(key: str, cfg: Config, data: SocialEQ, hq_words: list[str], vectors: Vectors, request: SweepRequest,
                on_study: Callable[[dict], None] | None = None) -> ModelSweep:
    """Run the requested studies of model ``key``; score fold studies once on their test words."""
    from lightning_eq.search.selection import study_summary

    out = ModelSweep(key)
    for scope in request.scopes:
        start = time.perf_counter()
        plan, test = plan_for(key, scope, cfg, data, hq_words, request)
        study, tracking = run_study(plan, vectors, request.storage, workers=request.workers,
                                    track=_tracker(request, plan), resume=request.resume)
        summary = study_summary(study) | {"scope": scope}
        if test is not None:
            outcome = nested_fold(study, key, int(scope.removeprefix("fold")), plan.table, test, vectors)
            out.folds.append(outcome)
            summary.update({"test": outcome.swept_test, "default_test": outcome.default_test})
        else:
            best = best_trial(study)
            out.final_config = trial_config(best)
            out.final_model = refit(key, out.final_config, plan.table, vectors)
            out.final_value, out.final_stderr = summary["best_value"], summary["best_se"]
            out.final_english, out.final_english_se = summary["best_english"], summary["best_english_se"]
        summary["seconds"] = time.perf_counter() - start
        out.studies.append(summary)
        if tracking is not None:
            _log_to_parent(tracking, study, key, plan, test, out, data, summary)
        if on_study:
            on_study(summary)
    return out


def _log_to_parent(tracking, study, key: str, plan: StudyPlan, test, out: ModelSweep, data: SocialEQ, summary: dict) -> None:
    """The study's summary (once), the data it saw as dataset inputs, then the refit: test scores for a fold
    study, the model for ``all``."""
    from lightning_eq.tracking.experiments import log_dataset
    from lightning_eq.tracking.figures import log_refit
    from lightning_eq.tracking.runs import close_parent

    close_parent(tracking, study, summary)
    client = tracking.client()
    log_dataset(client, tracking.parent_run_id, data, list(plan.table.ids), context="training")
    if test is not None:
        log_dataset(client, tracking.parent_run_id, data, list(test.ids), context="test")
    if test is not None:
        outcome = out.folds[-1]
        log_refit(client, tracking.parent_run_id, key, trial_config(best_trial(study)), outcome.models["swept"],
                  outcome.swept_test, outcome.default_test,
                  (test.words, outcome.predictions["swept"], test.curves_unit, f"{study.study_name}: best configuration, "
                   "test words (scored once)"))
    else:
        log_refit(client, tracking.parent_run_id, key, out.final_config, out.final_model)
