"""The outer protocols: how well a model, or the whole search-then-refit procedure, does on unseen data.

- ``evaluate``: each model in one configuration (its default, or with ``--set`` changes) on the word-disjoint
  folds and the random splits. Settings with candidates (the epoch count, k, alpha) are resolved by the
  objective's inner folds inside each training part, then the model is refitted there and scored once.
- ``nested``: per outer fold, a study searches inside the fold's training words; trial 0 (the default) and the
  best trial are refitted and scored once on the fold's test words (``search.selection.score_fold``).
- ``fit_final``: a configuration resolved by inner folds over all words and refitted on every record.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from lightning_eq.config import Config, from_dict, merge
from lightning_eq.curves import unit_to_z
from lightning_eq.data.folds import Split, bilingual_word_folds, random_splits, word_folds
from lightning_eq.data.socialeq import SocialEQ
from lightning_eq.data.table import Table
from lightning_eq.embeddings.vectors import Vectors
from lightning_eq.models.catalog import MODELS
from lightning_eq.models.metrics import score
from lightning_eq.search.objective import CVResult, cross_validate
from lightning_eq.search.selection import FoldOutcome, as_written, predict, refit, score_fold, scores_of
from lightning_eq.search.space import DEFAULT_SWEEPS_DIR

log = logging.getLogger(__name__)


def table_for(data: SocialEQ, cfg: Config) -> Table:
    """The records a model of ``cfg`` trains on (its ``data.language``), with their fit weights."""
    from lightning_eq.data.table import language_code

    wanted = {"English": ("en",), "Español": ("es",), "all": ("en", "es")}[cfg.data.language]
    index = [i for i, r in enumerate(data.records) if language_code(r.lang) in wanted]
    return Table.from_records(data.records, index, cfg.data.spanish_weight)


def splits_for(data: SocialEQ, hq_words: list[str], protocols: Sequence[str], folds: Sequence[int] | None = None,
               seeds: Sequence[int] = (0, 1, 2)) -> list[Split]:
    out: list[Split] = []
    if "words" in protocols:
        out += [s for s in word_folds(data, hq_words) if folds is None or s.index in folds]
    if "random" in protocols:
        out += random_splits(data, tuple(seeds))
    return out


@dataclass
class Fitted:
    """A model refitted with the settings its inner folds chose."""

    model: object
    config: Config
    cv: CVResult


def fit_resolved(key: str, cfg: Config, train: Table, vectors: Vectors) -> Fitted:
    """Resolve ``cfg``'s candidates by inner folds over ``train``, then refit on all of ``train``."""
    cv = cross_validate(key, cfg, train, vectors)
    resolved = cv.config(cfg)
    return Fitted(refit(key, resolved, train, vectors), resolved, cv)


def fit_final(key: str, cfg: Config, table: Table, vectors: Vectors) -> Fitted:
    """The model trained on every record of ``table``; its candidates chosen by inner folds over all words."""
    return fit_resolved(key, cfg, table, vectors)


@dataclass
class Evaluation:
    """One metrics dict per (model, split), and every test prediction."""

    results: list[dict] = field(default_factory=list)
    predictions: list[dict] = field(default_factory=list)


def prediction_rows(split: str, protocol: str, key: str, label: str, test: Table, pred: np.ndarray) -> list[dict]:
    """predictions.json's rows (see ``rescore``): ``row`` is the record's index in ``load_records(language="all")``."""
    return [{"protocol": protocol, "split": split, "model": key, "config": label, "descriptor": w, "row": row,
             "curve_z": unit_to_z(p).round(5).tolist()} for w, row, p in zip(test.words, test.ids, pred)]


def nested_predictions(outcomes: Sequence[FoldOutcome]) -> list[dict]:
    """predictions.json's rows of the nested estimate: protocol ``nested``, split = the outer fold (``fold2``),
    ``config`` default or swept, for every model and the ``procedure``."""
    return [row for o in outcomes if o.test is not None for label in ("default", "swept") if label in o.predictions
            for row in prediction_rows(f"fold{o.fold}", "nested", o.key, label, o.test, o.predictions[label])]


def rescore(rows: Sequence[dict], data: SocialEQ) -> list[dict]:
    """The test scores of a predictions file (written by `lightning-eq run` or `evaluate --predictions`), recomputed
    from its rows and the data alone: one dict per (protocol, split, model, config) with the test/* metrics of
    ``search.selection.scores_of`` (per language too where the split holds several), in the file's order.

    Each row: ``protocol``, ``split``, ``model``, ``config``, ``descriptor``, ``row`` (the record's index in
    ``load_records(language="all")``) and ``curve_z`` (40 bands). The reports score the very values the file
    holds, so the figures agree exactly (``training.report.nested_rescored`` makes the nested table)."""
    from lightning_eq.curves import z_to_unit
    from lightning_eq.errors import DataError

    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["protocol"], r["split"], r["model"], r["config"]), []).append(r)
    out = []
    for (protocol, split, model, label), members in groups.items():
        ids = [int(r["row"]) for r in members]
        if any(not 0 <= i < len(data.records) or data.records[i].descriptor != r["descriptor"] for i, r in zip(ids, members)):
            raise DataError(f"The predictions of {model} on {split} name records that are not in {data.path}; "
                            "rescore them against the data they were made on (load_records(language='all')).")
        test = Table.from_records(data.records, ids)
        pred = z_to_unit(np.array([r["curve_z"] for r in members], dtype=float))
        out.append({"protocol": protocol, "split": split, "model": model, "config": label, **scores_of(pred, test)})
    return out


def evaluate(data: SocialEQ, splits: Sequence[Split], vectors: Vectors, configs: dict[str, Config],
             on_step: Callable[[str], None] | None = None) -> Evaluation:
    """Fit every model (``configs``: key -> configuration) on every split; collect metrics and test predictions."""
    result = Evaluation()
    for split in splits:
        for key, cfg in configs.items():
            table = table_for(data, cfg)
            train, test = table.take_ids(split.train), table.take_ids(split.test)
            if split.protocol == "random":  # the study's split of English records; a multilingual model trains on its
                test = test.take(np.flatnonzero(np.array(test.langs) == "en"))  # Spanish ones too, is scored on English
            fitted = fit_resolved(key, cfg, train, vectors)
            pred = as_written(predict(fitted.model, key, fitted.config, test, vectors))
            metrics = score(predict(fitted.model, key, fitted.config, train, vectors), train.curves_unit, train.words, "train")
            metrics |= scores_of(pred, test)
            chosen = dict(fitted.cv.resolved)
            result.results.append({"model": key, "protocol": split.protocol, "split": split.name, "chosen": chosen,
                                   "val/mae_unit": fitted.cv.value, **metrics})
            result.predictions += prediction_rows(split.name, split.protocol, key, "default", test, pred)
            if on_step:
                on_step(f"{split.protocol} {split.name} {key}: test MAE {metrics['test/mae_unit']:.4f}, "
                        f"word r {metrics['test/r_word']:.2f}")
    return result


def rescore_file(path: Path, data_path: str | None = None) -> str:
    """`lightning-eq evaluate --rescore FILE`: the nested table (the procedure and every model) and the other
    protocols' tables of a predictions file, recomputed from its rows and the data (``training.evaluate.rescore``)."""
    from lightning_eq.data.socialeq import load_records
    from lightning_eq.errors import DataError
    from lightning_eq.models.catalog import DESCRIPTIONS
    from lightning_eq.training.report import markdown, nested_rescored, summarise

    try:
        rows = json.loads(Path(path).read_text())
        rows[0]["curve_z"]  # noqa: B018  (a list of prediction rows)
    except (OSError, ValueError, TypeError, KeyError, IndexError) as err:
        raise DataError(f"{path} is not a predictions file of lightning-eq ({err}); write one with `lightning-eq run` "
                        "(reports/predictions.json) or `lightning-eq evaluate --predictions FILE`.") from None
    results = rescore(rows, load_records(data_path or None, "all"))
    out = []
    if any(r["protocol"] == "nested" for r in results):
        out += ["### Nested estimate, English test words (recomputed from the predictions)", "",
                nested_rescored(results, DESCRIPTIONS), ""]
    others = [{k: v for k, v in r.items() if k != "config"} for r in results if r["protocol"] != "nested"]
    return "\n".join(out) + ("\n" if out else "") + (markdown(summarise(others), DESCRIPTIONS) if others else "")


def outer_parts(data: SocialEQ, hq_words: list[str], cfg: Config, fold: int) -> tuple[Table, Table]:
    """(training rows, test rows) of outer word-disjoint fold ``fold`` for a model of ``cfg``: the English HQ/HR
    words, plus the Spanish words for a model that learns Spanish (``data.folds.bilingual_word_folds``)."""
    folds = word_folds if cfg.data.language == "English" else bilingual_word_folds
    split = folds(data, hq_words)[fold]
    table = table_for(data, cfg)
    return table.take_ids(split.train), table.take_ids(split.test)


def nested_fold(study, key: str, fold: int, train: Table, test: Table, vectors: Vectors) -> FoldOutcome:
    """Score a finished outer-fold study once on its test words (default and swept configurations)."""
    outcome = score_fold(study, key, fold, train, test, vectors)
    log.info("%s: test MAE default %.4f, swept %.4f; r word default %.2f, swept %.2f", study.study_name,
             outcome.default_test["test/mae_unit"], outcome.swept_test["test/mae_unit"],
             outcome.default_test["test/r_word"], outcome.swept_test["test/r_word"])
    return outcome


def is_sweepable(key: str, sweeps_dir: str | Path | None = None) -> bool:
    return key in MODELS and (Path(sweeps_dir or DEFAULT_SWEEPS_DIR) / f"{key}.yaml").is_file()


def language_baselines(data: SocialEQ, hq_words: list[str], fold: int) -> dict[str, dict[str, float]]:
    """The reference curves on bilingual fold ``fold``'s test words, per test language: the flat curve, the English
    mean curve and the Spanish mean curve of the fold's training records. {baseline: {"test/<lang>/<metric>": v}}."""
    cfg = merge(Config(), {"data.language": "all"})
    train, test = outer_parts(data, hq_words, cfg, fold)
    out: dict[str, dict[str, float]] = {}
    means = {"flat": np.full(40, 0.5), "English mean": train.curves_unit[np.array(train.langs) == "en"].mean(axis=0),
             "Spanish mean": train.curves_unit[np.array(train.langs) == "es"].mean(axis=0)}
    for name, curve in means.items():
        out[name] = {}
        for lang in ("en", "es"):
            rows = np.array([x == lang for x in test.langs])
            words = [w for w, r in zip(test.words, rows) if r]
            scored = score(np.tile(curve, (int(rows.sum()), 1)), test.curves_unit[rows], words, "test")
            out[name].update({k.replace("test/", f"test/{lang}/"): v for k, v in scored.items()})
    return out


def routed_english(champion: list, multilingual: list, data: SocialEQ, hq_words: list[str], vectors: Vectors,
                   champion_cfg: Config) -> dict[str, list[dict[str, float]]]:
    """What routing by language does to the English test words of the nested estimate: per outer fold, each word
    answered by the champion's swept model when ``language.identify`` says English, else by the multilingual
    model's (the fold models never saw the word, so its language is never known from their vocabulary).
    ``champion`` and ``multilingual`` are the two models' FoldOutcomes (with their refitted models).
    {"champion alone": [test metrics per fold], "routed": [...], "routed away": [{"test/share": ...}]}."""
    from lightning_eq.language import identify

    out: dict[str, list] = {"champion alone": [], "routed": [], "routed away": []}
    by_fold = {o.fold: o for o in multilingual}
    for outcome in champion:
        other = by_fold[outcome.fold]
        _, test = outer_parts(data, hq_words, champion_cfg, outcome.fold)
        english = np.array([identify(w) == "en" for w in test.words])
        own = outcome.predictions["swept"]
        multi_cfg = from_dict(other.swept_config)
        routed = np.where(english[:, None], own, predict(other.models["swept"], other.key, multi_cfg, test, vectors))
        out["champion alone"].append(score(own, test.curves_unit, test.words, "test"))
        out["routed"].append(score(routed, test.curves_unit, test.words, "test"))
        out["routed away"].append({"test/share": float(1 - english.mean())})
    return out
