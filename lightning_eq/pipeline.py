"""The main job: embed once, sweep every model (a study per outer fold for the nested estimate, one over all
words for the model to register), score the baselines the same way, evaluate the defaults on the random
splits, save every final model, name the champion, and estimate the whole procedure on unseen words (the
champion's choice made inside each outer fold: ``training.procedure``); write the reports."""

from __future__ import annotations

import functools
import json
import logging
import math
import time

import numpy as np
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from lightning_eq.config import Config
from lightning_eq.data.socialeq import load_hq_words, load_records
from lightning_eq.embeddings.vectors import Vectors
from lightning_eq.models.catalog import DESCRIPTIONS, MODEL_KEYS, relative_cost
from lightning_eq.models.store import save_model, set_best_model
from lightning_eq.search import DEFAULT_STORAGE
from lightning_eq.search.runner import prewarm
from lightning_eq.search.selection import FoldOutcome, Routes, as_written, route_models
from lightning_eq.search.space import default_config
from lightning_eq.training.evaluate import (Evaluation, evaluate, fit_final, fit_resolved, is_sweepable,
                                            language_baselines, nested_predictions, outer_parts, routed_english,
                                            splits_for, table_for)
from lightning_eq.training.nested import SCOPES, ModelSweep, SweepRequest, plan_for, sweep_model
from lightning_eq.training.procedure import ProcedureFold, chosen_line, headline, procedure_folds
from lightning_eq.training.report import (choices_table, language_table, markdown, nested_table, routing_table,
                                          study_table, summarise)

log = logging.getLogger(__name__)


@dataclass
class Job:
    models: Sequence[str] = MODEL_KEYS
    trials: int | None = None  # per study (default: each YAML's sweep.trials)
    workers: int = 1  # worker processes per study
    jobs: int = 1  # models swept (and evaluated) at once, each in its own process
    storage: str = DEFAULT_STORAGE
    tracking_uri: str | None = None
    reports_dir: Path = Path("reports")
    models_dir: Path = Path("models")
    cache_dir: str | None = None
    sweeps_dir: str | Path | None = None
    random_seeds: Sequence[int] = (0, 1, 2)


@dataclass
class JobResult:
    sweeps: list[ModelSweep]
    champion: str
    champion_reason: str
    tables: dict[str, str]
    report_paths: list[Path]
    seconds: dict[str, float] = field(default_factory=dict)
    multilingual: str | None = None  # the model for the other languages; None: the champion answers every language
    procedure: list[ProcedureFold] = field(default_factory=list)  # the nested estimate of the whole procedure
    multilingual_reason: str = ""


def _baseline_folds(key: str, cfg: Config, data, hq_words, vectors: Vectors) -> ModelSweep:
    """flat and mean have nothing to search: their default is scored on each outer fold (default = swept)."""
    from lightning_eq.search.objective import language_value
    from lightning_eq.search.selection import predict, scores_of

    out = ModelSweep(key)
    for fold in range(4):
        train, test = outer_parts(data, hq_words, cfg, fold)
        fitted = fit_resolved(key, cfg, train, vectors)
        pred = as_written(predict(fitted.model, key, fitted.config, test, vectors))
        scores, english = scores_of(pred, test), language_value(fitted.cv.metrics, "en")
        out.folds.append(FoldOutcome(key, fold, f"{key}-fold{fold}", fitted.cv.value, fitted.cv.value, fitted.cv.stderr,
                                     0, scores, scores, {}, {"default": pred, "swept": pred}, {}, fitted.cv.stderr,
                                     {"default": english, "swept": english}, test))
    final = fit_final(key, cfg, table_for(data, cfg), vectors)
    out.final_model, out.final_config, out.final_value, out.final_stderr = final.model, final.config, final.cv.value, final.cv.stderr
    out.final_english, out.final_english_se = language_value(final.cv.metrics, "en")
    return out


def order_by_cost(keys: Sequence[str], cfg: Config, sweeps_dir: str | Path | None = None) -> list[str]:
    """Slowest models first, so parallel jobs finish together: by ``catalog.relative_cost`` of each default
    configuration (from the registry's embedder costs; a model whose cost is not known goes first)."""
    cost = {k: relative_cost(k, default_config(k, cfg, sweeps_dir)) for k in keys}
    for key in [k for k in keys if math.isinf(cost[k])]:
        log.warning("%s reads an embedder without a cost in embeddings/registry.py; its studies start first", key)
    return sorted(keys, key=lambda k: -cost[k])


def _quiet_worker() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")


def in_parallel(task, items: list, jobs: int) -> list:
    """``[task(item) for item in items]``, over ``jobs`` spawned processes when jobs > 1 (each process imports the ML
    stack once and takes the next item when it is free); results in the order of ``items``."""
    if jobs <= 1 or len(items) <= 1:
        return [task(item) for item in items]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(min(jobs, len(items)), mp_context=multiprocessing.get_context("spawn"),
                             initializer=_quiet_worker) as pool:
        return list(pool.map(task, items))


def _create_stores(job: Job) -> None:
    """The study storage's and the MLflow store's tables and the sweep experiment, created once, here."""
    from lightning_eq.search.storage import open_storage

    open_storage(job.storage)
    if job.tracking_uri:
        from lightning_eq.tracking.runs import experiment_id, tracking_client

        experiment_id(tracking_client(job.tracking_uri))


def _log_study(summary: dict) -> None:
    test = summary.get("test", {}).get("test/mae_unit")
    log.info("%s: CV MAE default %.4f, best %.4f ± %.4f%s (%.0f s)", summary["study"], summary["default_value"],
             summary["best_value"], summary["best_se"], f"; test MAE {test:.4f}" if test is not None else "",
             summary["seconds"])


def _sweep_task(key: str, cfg: Config, data, hq_words, vectors: Vectors, request: SweepRequest) -> ModelSweep:
    """A model's studies, then its final model's known-word curves (one more cross-validation: done here, in the
    parallel jobs, rather than when the models are saved one after another)."""
    from lightning_eq.search.objective import known_word_curves

    out = sweep_model(key, cfg, data, hq_words, vectors, request, on_study=_log_study)
    if out.final_config is not None:
        out.final_known = known_word_curves(key, out.final_config, table_for(data, out.final_config), vectors)
    return out


def _random_task(item: tuple, data, splits, vectors: Vectors):
    key, cfg = item
    return evaluate(data, splits, vectors, {key: cfg}, on_step=lambda m: log.info("[random split] %s", m))


def run_job(cfg: Config, job: Job) -> JobResult:
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    data, hq_words = load_records(cfg.data.path or None, "all"), load_hq_words()
    vectors = Vectors(data.words, job.cache_dir)
    request = SweepRequest([m for m in job.models if is_sweepable(m, job.sweeps_dir)], SCOPES, job.trials, job.workers,
                           job.storage, job.tracking_uri, job.sweeps_dir)
    for key in request.models:  # every embedding any trial can read, once, before the first study
        prewarm(plan_for(key, "all", cfg, data, hq_words, request)[0], vectors)
    seconds["embed"] = time.perf_counter() - start

    mark = time.perf_counter()
    _create_stores(job)  # before the jobs start: two processes creating one SQLite schema at once collide
    swept = functools.partial(_sweep_task, cfg=cfg, data=data, hq_words=hq_words, vectors=vectors, request=request)
    sweeps = in_parallel(swept, order_by_cost(request.models, cfg, job.sweeps_dir), job.jobs)
    for key in [m for m in job.models if not is_sweepable(m, job.sweeps_dir)]:
        sweeps.append(_baseline_folds(key, default_config(key, cfg, job.sweeps_dir), data, hq_words, vectors))
    seconds["sweeps"] = time.perf_counter() - mark

    mark = time.perf_counter()
    configs = {key: default_config(key, cfg, job.sweeps_dir) for key in job.models}
    splits = splits_for(data, hq_words, ("random",), seeds=job.random_seeds)
    evaluated = in_parallel(functools.partial(_random_task, data=data, splits=splits, vectors=vectors),
                            [(key, configs[key]) for key in order_by_cost(job.models, cfg, job.sweeps_dir)], job.jobs)
    random = Evaluation([r for e in evaluated for r in e.results], [p for e in evaluated for p in e.predictions])
    seconds["random"] = time.perf_counter() - mark

    routes = route_models({s.key: s.candidate() for s in sweeps if math.isfinite(s.final_value)})
    champion, reason = routes.champion, routes.reason
    procedure = procedure_folds([o for s in sweeps for o in s.folds])
    from lightning_eq.training.promote import stored_model

    mark = time.perf_counter()
    for s in sweeps:
        save_model(stored_model(s.key, s.final_config, s.final_model, table_for(data, s.final_config), vectors,
                                {"cv/mae_unit": s.final_value, "cv/mae_unit_se": s.final_stderr}, s.final_known),
                   job.models_dir)
    seconds["save"] = time.perf_counter() - mark
    set_best_model(job.models_dir, champion, reason, next(s.final_english for s in sweeps if s.key == champion))
    tables = {
        "nested": nested_table([p.outcome for p in procedure] + [o for s in sweeps for o in s.folds], DESCRIPTIONS)
                  + (f"\n\n{chosen_line(procedure)}" if procedure else "") + _raters_note(data, hq_words),
        "studies": study_table([st for s in sweeps for st in s.studies]),
        "random": markdown(summarise(random.results), DESCRIPTIONS),
        "final": _final_table(sweeps, routes),
        "choices": choices_table([st for s in sweeps for st in s.studies if st["scope"] == "all"]),
    }
    if procedure:
        tables["procedure"] = headline(procedure)
    multilingual = [o for s in sweeps for o in s.folds if configs[s.key].data.language != "English"]
    if multilingual:
        spanish = [p.outcome for p in procedure if "es" in p.outcome.test.langs]
        tables["languages"] = language_table(spanish + multilingual, [language_baselines(data, hq_words, k) for k in range(4)])
        own = next(s.folds for s in sweeps if s.key == champion)
        other = [o for s in sweeps if s.key == routes.multilingual for o in s.folds]
        if own and other and len(other) == len(own) and all(o.models for o in own):
            routed = routed_english(own, other, data, hq_words, vectors, configs[champion])
            tables["routing"] = routing_table(routed, champion, routes.multilingual)
    meta = {"champion": champion, "reason": reason, "multilingual": routes.multilingual,
            "multilingual_reason": routes.multilingual_reason, "seconds": seconds}
    paths = _write_reports(job.reports_dir, sweeps, procedure, random, tables, meta)
    seconds["total"] = time.perf_counter() - start
    return JobResult(sweeps, champion, reason, tables, paths, seconds, routes.multilingual, procedure,
                     routes.multilingual_reason)


def _final_table(sweeps: list[ModelSweep], routes: Routes) -> str:
    lines = ["| model | CV MAE, its own words (best configuration) | CV MAE, English records | |", "|---|---:|---:|---|"]
    role = {routes.champion: "champion" + (", every language" if routes.multilingual is None else ""),
            routes.multilingual: "other languages"}
    for s in sorted(sweeps, key=lambda s: s.final_english):
        lines.append(f"| {s.key} | {s.final_value:.4f} ± {s.final_stderr:.4f} | {s.final_english:.4f} ± "
                     f"{s.final_english_se:.4f} | {role.get(s.key, '')} |")
    lines += ["", "The champion has the lowest CV MAE over the English records; for an English model that is its "
              "objective, for a multilingual one (trained on English and Spanish) its objective over its English "
              "validation records, whose words fall in the same inner folds."]
    return "\n".join(lines)


def _nested_row(o: FoldOutcome) -> dict:
    return {"model": o.key, "fold": o.fold, "study": o.study, "default_value": o.default_value,
            "best_value": o.best_value, "best_stderr": o.best_stderr, "best_trial": o.best_trial,
            "english_value": o.english, "default_test": o.default_test, "swept_test": o.swept_test,
            "swept_config": o.swept_config}


def _procedure_row(p: ProcedureFold) -> dict:
    row = _nested_row(p.outcome)
    row["routes"] = {label: {"champion": r.champion, "reason": r.reason, "multilingual": r.multilingual}
                     for label, r in p.routes.items()}
    return row


def _write_reports(out_dir: Path, sweeps: list[ModelSweep], procedure: list[ProcedureFold], random,
                   tables: dict[str, str], meta: dict) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    nested = [_procedure_row(p) for p in procedure] + [_nested_row(o) for s in sweeps for o in s.folds]
    report = {"meta": meta, "nested": nested, "studies": [st for s in sweeps for st in s.studies],
              "random": {"summary": summarise(random.results), "results": random.results}}
    json_path = out_dir / "evaluation.json"
    json_path.write_text(json.dumps(report, indent=1, default=str) + "\n")
    md_path = out_dir / "evaluation.md"
    md_path.write_text("# lightning-eq evaluation\n\n"
                       + ("## The whole procedure on unseen words\n\n" + tables["procedure"] + "\n\n" if "procedure" in tables else "")
                       + "## Nested estimate (word-disjoint outer folds)\n\n" + tables["nested"]
                       + ("\n\n## Per language (the multilingual model)\n\n" + tables["languages"] if "languages" in tables else "")
                       + ("\n\n## Routing by language, English test words\n\n" + tables["routing"] if "routing" in tables else "")
                       + "\n\n## Models over all words\n\n" + tables["final"]
                       + "\n\n## What the all-words studies chose\n\n" + tables["choices"] + "\n\n## Studies\n\n" + tables["studies"]
                       + "\n\n## Random 80/20 split (default configurations)\n\n" + tables["random"] + "\n")
    preds_path = out_dir / "predictions.json"
    outcomes = [p.outcome for p in procedure] + [o for s in sweeps for o in s.folds]
    preds_path.write_text(json.dumps(nested_predictions(outcomes) + random.predictions) + "\n")
    return [md_path, json_path, preds_path]


@dataclass
class DefaultsResult:
    table: str
    paths: list[Path]


def evaluate_defaults(cfg: Config, models: Sequence[str], protocols: Sequence[str], folds: Sequence[int] | None,
                      seeds: Sequence[int], overrides: dict, reports_dir: Path, predictions: Path | None = None,
                      cache_dir: str | None = None, sweeps_dir: str | Path | None = None) -> DefaultsResult:
    """`lightning-eq evaluate`: every model in its default configuration (with ``overrides``) under the protocols."""
    data, hq_words = load_records(cfg.data.path or None, "all"), load_hq_words()
    vectors = Vectors(data.words, cache_dir)
    configs = {key: default_config(key, cfg, sweeps_dir, overrides) for key in models}
    splits = splits_for(data, hq_words, protocols, folds, seeds)
    total, done = len(splits) * len(configs), [0]

    def step(message: str) -> None:
        done[0] += 1
        log.info("[evaluate %d/%d] %s", done[0], total, message)

    result = evaluate(data, splits, vectors, configs, on_step=step)
    summary = summarise(result.results)
    table = markdown(summary, DESCRIPTIONS)
    reports_dir.mkdir(parents=True, exist_ok=True)
    md, js = reports_dir / "evaluation-defaults.md", reports_dir / "evaluation-defaults.json"
    md.write_text("# lightning-eq: default configurations\n\n" + table + "\n")
    js.write_text(json.dumps({"overrides": overrides, "summary": summary, "results": result.results}, indent=1, default=str) + "\n")
    paths = [md, js]
    if predictions:
        predictions.parent.mkdir(parents=True, exist_ok=True)
        predictions.write_text(json.dumps(result.predictions) + "\n")
        paths.append(predictions)
    return DefaultsResult(table, paths)


def _raters_note(data, hq_words: list[str]) -> str:
    """A reference line: how well the other raters of the same test word predict each English test record."""
    from lightning_eq.curves import z_to_unit
    from lightning_eq.data.folds import word_folds
    from lightning_eq.models.metrics import other_raters_mae

    test = [i for s in word_folds(data, hq_words) for i in s.test if data.records[i].lang == "English"]
    mae, n = other_raters_mae(z_to_unit(np.stack([data.records[i].curve_z for i in test])),
                              [data.records[i].descriptor for i in test])
    return (f"\n\nReference: the mean curve of the other raters of the same word scores MAE {mae:.4f} on the {n} "
            "English test records whose word has another rater (raters disagree; no text model is expected there).")
