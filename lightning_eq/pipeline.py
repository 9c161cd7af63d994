"""The main job: embed the vocabulary, evaluate every model under both protocols, write the reports,
train the final models on all the data and remember the best one."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from lightning_eq.config import MODEL_KEYS, Config, to_dict
from lightning_eq.data.socialeq import load_hq_words, load_records
from lightning_eq.models.catalog import DESCRIPTIONS, STUDY_MODELS, embedder_keys
from lightning_eq.models.store import StoredModel, save_model, set_best_model
from lightning_eq.training.evaluate import PROTOCOLS, Embeddings, evaluate, fit_final, splits_for
from lightning_eq.training.report import best_model, markdown, summarise, write_reports

log = logging.getLogger(__name__)


@dataclass
class Job:
    models: Sequence[str] = MODEL_KEYS
    protocols: Sequence[str] = PROTOCOLS
    folds: Sequence[int] | None = None  # None: all four
    seeds: Sequence[int] = (0, 1, 2)
    reports_dir: Path = Path("reports")
    models_dir: Path | None = Path("models")  # None: do not train and save final models
    predictions_path: Path | None = None
    cache_dir: str | None = None


@dataclass
class JobResult:
    summary: list[dict]
    best: str
    table: str
    report_paths: tuple[Path, Path]
    seconds: dict[str, float] = field(default_factory=dict)


def embed_words(texts: list[str], keys: Sequence[str], cfg: Config, cache_dir: str | None = None) -> Embeddings:
    """Every text through every embedder in ``keys`` (cached on disk; progress is logged per embedder)."""
    from lightning_eq.embeddings import embed_vocabulary

    return Embeddings(list(texts), embed_vocabulary(keys, texts, cfg.embedders, cache_dir))


def run_job(cfg: Config, job: Job) -> JobResult:
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    data = load_records(cfg.data_path or None, cfg.language)
    hq_words = load_hq_words()
    keys = sorted({k for m in job.models for k in embedder_keys(m, cfg)})
    emb = embed_words(data.words, keys, cfg, job.cache_dir)
    seconds["embed"] = time.perf_counter() - start

    splits = splits_for(data, hq_words, job.protocols, job.folds, job.seeds)
    total, done = len(splits) * len(job.models), [0]

    def progress(message: str) -> None:
        done[0] += 1
        log.info("[evaluate %d/%d] %s", done[0], total, message)

    start = time.perf_counter()
    evaluation = evaluate(data, hq_words, emb, cfg, job.models, splits, on_step=progress)
    seconds["evaluate"] = time.perf_counter() - start
    summary = summarise(evaluation.results)
    candidates = [m for m in job.models if m in STUDY_MODELS or m in ("e5", "knn", "ridge")] or list(job.models)
    protocol = "words" if "words" in job.protocols else job.protocols[0]
    best = best_model(summary, candidates, protocol)
    table = markdown(summary, DESCRIPTIONS) + _raters_note(data, splits)
    meta = {"data": str(data.path), "records": len(data), "words": len(data.words), "best_model": best,
            "best_by": f"lowest mean {protocol} test/mae_unit", "config": to_dict(cfg), "seconds": seconds}
    paths = write_reports(job.reports_dir, evaluation.results, summary, meta, table)
    if job.predictions_path:
        job.predictions_path.parent.mkdir(parents=True, exist_ok=True)
        job.predictions_path.write_text(json.dumps(evaluation.predictions) + "\n")

    if job.models_dir is not None:
        start = time.perf_counter()
        for i, key in enumerate(job.models, 1):
            log.info("[final %d/%d] training %s on all %d records", i, len(job.models), key, len(data))
            model = fit_final(key, cfg, data, hq_words, emb)
            metrics = {k: v for r in summary if r["model"] == key for k, v in r.items() if k.startswith("test/")}
            save_model(StoredModel(key, cfg, model, metrics), job.models_dir)
        score = next(r["test/mae_unit"] for r in summary if r["model"] == best and r["protocol"] == protocol)
        set_best_model(job.models_dir, best, meta["best_by"], score if protocol == "words" else None)
        seconds["final"] = time.perf_counter() - start
    return JobResult(summary, best, table, paths, seconds)


def _raters_note(data, splits) -> str:
    """A reference line: how well the other raters of the same test word predict each test record."""
    from lightning_eq.curves import z_to_unit
    from lightning_eq.models.metrics import other_raters_mae

    test = [i for s in splits if s.protocol == "words" for i in s.test]
    if not test:
        return ""
    mae, n = other_raters_mae(z_to_unit(data.curves_z[test]), [data.records[i].descriptor for i in test])
    return (f"\nReference: the mean curve of the other raters of the same word scores MAE {mae:.4f} on the {n} "
            f"word-disjoint test records whose word has another rater (raters disagree; no text model is expected there).\n")
