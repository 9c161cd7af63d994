"""How studies become choices, without reading an outer test word.

- An outer fold's study searches inside that fold's training words; its best configuration (and trial 0, the
  default) are refitted on the fold's training part and scored once on the fold's test words. Over the four
  folds that is the nested estimate of the whole procedure, search then refit, on unseen words.
- A model's ``all`` study searches over every word; its best configuration is refitted on all the data: the
  model that is registered.
- The champion (``route_models``) is the model whose best trial reached the lowest objective over the English
  validation records, over every model: an English model's objective, a multilingual model's objective over its
  English records (the inner folds put an English word in the same fold in every study, so the two are paired).
  A multilingual champion answers every language; otherwise the multilingual model with the lowest objective
  (``models.catalog.multilingual_keys``) answers the other languages. ``lightning-eq run`` applies the same rule
  to each outer fold's studies: that is the nested estimate of the whole procedure (``training.procedure``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Collection

import numpy as np

from lightning_eq.config import Config, from_dict
from lightning_eq.data.table import Table
from lightning_eq.embeddings.vectors import Vectors
from lightning_eq.errors import LightningEqError, ModelNotFound
from lightning_eq.models.catalog import build_model, check_model_key, embedder_keys, multilingual_keys
from lightning_eq.models.metrics import score
from lightning_eq.search.objective import fit_table, language_value
from lightning_eq.search.runner import best_trial, default_trial, trial_config


def refit(key: str, cfg: Config, table: Table, vectors: Vectors):
    """Model ``key`` trained with the resolved ``cfg`` on every row of ``table`` (or its word means)."""
    rows = fit_table(cfg, table)
    model = build_model(key, cfg)
    model.fit(vectors.features(cfg, embedder_keys(key, cfg), rows.words), rows.curves_unit, list(rows.words), rows.weights)
    return model


def predict(model, key: str, cfg: Config, table: Table, vectors: Vectors) -> np.ndarray:
    """(len(table), 40) unit-scale predictions for the rows' words."""
    return model.predict(vectors.features(cfg, embedder_keys(key, cfg), table.words), len(table))


def scores_of(pred: np.ndarray, table: Table) -> dict[str, float]:
    """test/* metrics of predictions ``pred`` (rows of ``table``), overall and per language when there are several."""
    metrics = score(pred, table.curves_unit, table.words, "test")
    for lang in sorted(set(table.langs)) if len(set(table.langs)) > 1 else ():
        rows = np.array([x == lang for x in table.langs])
        metrics.update({k.replace("test/", f"test/{lang}/"): v for k, v in
                        score(pred[rows], table.curves_unit[rows], [w for w, r in zip(table.words, rows) if r], "test").items()})
    return metrics


@dataclass
class FoldOutcome:
    """One outer fold of the nested estimate: the default and the swept configuration, each refitted and tested once."""

    key: str
    fold: int
    study: str
    default_value: float  # objective of trial 0 (inner folds)
    best_value: float
    best_stderr: float
    best_trial: int
    default_test: dict[str, float]
    swept_test: dict[str, float]
    swept_config: dict = field(default_factory=dict)
    predictions: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # "default"/"swept" -> (N, 40)
    models: dict[str, Any] = field(default_factory=dict, repr=False)  # "default"/"swept" -> the refitted model
    default_stderr: float = math.nan
    english: dict[str, tuple[float, float]] = field(default_factory=dict)  # "default"/"swept" -> objective over the
    # English validation records, ± s.e. (the objective itself for an English-only study)
    test: Table | None = field(default=None, repr=False)  # the fold's test rows, in the order of ``predictions``

    def candidate(self, label: str) -> "Candidate":
        """The fold study's trial 0 (``default``) or best trial (``swept``) as the champion's choice sees it."""
        value, se = (self.default_value, self.default_stderr) if label == "default" else (self.best_value, self.best_stderr)
        return Candidate(value, se, *self.english.get(label, (math.nan, math.nan)))


def as_written(pred_unit: np.ndarray) -> np.ndarray:
    """Unit-scale predictions as reports/predictions.json gives them back (z scale, 5 decimals): every test score
    is computed from these, so a program that reads the file recomputes the reports' figures exactly."""
    from lightning_eq.curves import unit_to_z, z_to_unit

    return z_to_unit(np.round(unit_to_z(pred_unit), 5))


def _stderr(trial) -> float:
    return float(trial.user_attrs.get("cv", {}).get("stderr", math.nan))


def _english(trial) -> tuple[float, float]:
    return language_value(trial.user_attrs.get("cv", {}).get("metrics", {}), "en")


def score_fold(study, key: str, fold: int, train: Table, test: Table, vectors: Vectors) -> FoldOutcome:
    """Refit the study's trial 0 and best trial on the fold's training part; score both once on its test words."""
    from lightning_eq.config import to_dict

    best = best_trial(study)
    default = default_trial(study) or best
    outcome: dict[str, Any] = {}
    preds: dict[str, np.ndarray] = {}
    models: dict[str, Any] = {}
    for label, trial in (("default", default), ("swept", best)):
        cfg = trial_config(trial)
        models[label] = model = refit(key, cfg, train, vectors)
        preds[label] = as_written(predict(model, key, cfg, test, vectors))
        outcome[label] = scores_of(preds[label], test)
    return FoldOutcome(key, fold, study.study_name, float(default.value), float(best.value), _stderr(best), best.number,
                       outcome["default"], outcome["swept"], to_dict(trial_config(best)), preds, models, _stderr(default),
                       {"default": _english(default), "swept": _english(best)}, test)


@dataclass(frozen=True)
class Candidate:
    """A model's (best) trial as the champion's choice sees it."""

    value: float  # the objective its study minimised: every validation record, in each language it trains on
    stderr: float
    english: float  # the same mean over inner folds, over the English validation records alone
    english_se: float


@dataclass
class Routes:
    """Who answers what: the champion, and the model that answers the other languages (None: the champion does)."""

    champion: str
    reason: str
    multilingual: str | None = None
    multilingual_reason: str = ""


def route_models(candidates: dict[str, Candidate], multilingual: Collection[str] | None = None) -> Routes:
    """The champion: the lowest objective over the English validation records, of every model (``choose_champion``).
    A multilingual champion answers every language; otherwise the multilingual model (``multilingual``, default
    ``models.catalog.multilingual_keys()``) whose study reached the lowest objective answers the other languages."""
    multilingual = multilingual_keys() if multilingual is None else tuple(multilingual)
    key, reason = choose_champion({k: (c.english, c.english_se) for k, c in candidates.items() if math.isfinite(c.english)})
    if key in multilingual:
        return Routes(key, reason + "; multilingual, it answers every language")
    return Routes(key, reason, *best_multilingual(candidates, multilingual))


def best_multilingual(candidates: dict[str, Candidate], multilingual: Collection[str]) -> tuple[str | None, str]:
    """(key, reason) of the multilingual candidate whose study reached the lowest objective; (None, "") if none."""
    others = {k: c for k, c in candidates.items() if k in multilingual and math.isfinite(c.value)}
    if not others:
        return None, ""
    multi = min(others, key=lambda k: others[k].value)
    return multi, f"the lowest objective of the multilingual models, {others[multi].value:.4f} ± {others[multi].stderr:.4f}"


@dataclass
class Choice:
    key: str
    config: Config
    reason: str
    value: float = math.nan  # the all-study objective
    study: str = ""
    resolved: bool = True  # a trial's stored configuration (refit as it is); False: a default with candidates


def all_studies(storage: str) -> dict[str, list[dict]]:
    """{model key: [finished ``all`` studies, newest last]} with each one's best trial, identity and stored config."""
    import optuna

    from lightning_eq.search.runner import best_trial
    from lightning_eq.search.storage import open_storage, storage_exists

    if not storage_exists(storage):
        return {}
    rdb = open_storage(storage)
    out: dict[str, list[dict]] = {}
    for summary in optuna.get_all_study_summaries(rdb, include_best_trial=False):
        attrs = summary.user_attrs
        if attrs.get("scope") != "all" or "identity" not in attrs:
            continue
        study = optuna.load_study(study_name=summary.study_name, storage=rdb)
        try:
            best = best_trial(study)
        except LightningEqError:  # no complete trial: not a candidate
            continue
        identity = json.loads(attrs["identity"])
        out.setdefault(attrs["model"], []).append({
            "study": summary.study_name, "value": float(best.value),
            "stderr": _stderr(best), "english": _english(best), "data": identity["data"],
            "objective": identity["objective"], "config": best.user_attrs["config"], "trial": best.number})
    return out


def choose_routes(cfg: Config, storage: str | None, data_checksums: dict[str, str], model: str | None = None,
                  only: Collection[str] | None = None) -> tuple[Choice, Choice | None]:
    """(champion, the model for the other languages or None when the champion answers every language), from the
    ``all`` studies on the current data and objective (``route_models``).

    ``data_checksums`` maps a data language ("English", "all") to the checksum its studies must have seen;
    ``only``, when given, names the studies to choose from (`lightning-eq run` passes its own)."""
    from lightning_eq.search.objective import OBJECTIVE_VERSION

    studies = all_studies(storage) if storage else {}
    if only is not None:
        studies = {k: [s for s in found if s["study"] in only] for k, found in studies.items()}
    seen = set(data_checksums.values())
    current = {k: ok[-1] for k, found in studies.items()
               if (ok := [s for s in found if s["data"] in seen and s["objective"] == OBJECTIVE_VERSION])}
    multilingual = multilingual_keys()

    def chosen(key: str, reason: str) -> Choice:
        found = current[key]
        return Choice(key, from_dict(found["config"]), f"{reason}; best trial {found['trial']} of {found['study']}",
                      found["value"], found["study"])

    candidates = {k: Candidate(s["value"], s["stderr"], *s.get("english", (math.nan, math.nan))) for k, s in current.items()}
    if model is not None:
        check_model_key(model)
        champion = (chosen(model, "asked for") if model in current else
                    Choice(model, _default(model, cfg), "asked for; no study of it: its default configuration", resolved=False))
        if model in multilingual:
            return champion, None
        routes = Routes(model, champion.reason, *best_multilingual(candidates, multilingual))
    elif any(math.isfinite(c.english) for c in candidates.values()):
        routes = route_models(candidates)
        champion = chosen(routes.champion, routes.reason)
        if routes.multilingual is None and routes.champion in multilingual:
            return champion, None
    else:
        raise ModelNotFound("Nothing to promote: no finished study over all words in the study storage. Run "
                            "`lightning-eq sweep --scope all` or `lightning-eq run` first, or pass --model KEY.")
    if routes.multilingual is not None:
        return champion, chosen(routes.multilingual, routes.multilingual_reason)
    if not multilingual:
        return champion, None
    fallback = multilingual[0]
    return champion, Choice(fallback, _default(fallback, cfg), "no study of a multilingual model: its default configuration",
                            resolved=False)


def _default(key: str, cfg: Config) -> Config:
    """A model's default configuration, when it has no study."""
    from lightning_eq.search.space import default_config

    return default_config(key, cfg)


def study_summary(study) -> dict:
    """Counts, the best trial and trial 0 (the default), each with its objective and standard error."""
    trials = study.get_trials(deepcopy=False)
    count = {s: sum(t.state.name == s for t in trials) for s in ("COMPLETE", "PRUNED", "FAIL")}
    best = best_trial(study)
    default = default_trial(study)
    se = lambda t: _stderr(t) if t is not None else math.nan  # noqa: E731
    english = _english(default) if default is not None else (math.nan, math.nan)
    return {"study": study.study_name, "complete": count["COMPLETE"], "pruned": count["PRUNED"], "failed": count["FAIL"],
            "best_trial": best.number, "best_value": float(best.value), "best_se": se(best),
            "best_english": _english(best)[0], "best_english_se": _english(best)[1],
            "default_value": float(default.value) if default is not None else math.nan, "default_se": se(default),
            "default_english": english[0], "default_english_se": english[1],
            "best_params": dict(best.params), "best_config": best.user_attrs["config"],
            "default_config": default.user_attrs.get("config") if default is not None else None}


def choose_champion(values: dict[str, tuple[float, float]]) -> tuple[str, str]:
    """(model key, reason) with the lowest objective over the English validation records; ``values`` maps key ->
    (that value, its standard error). A model within one combined standard error of it is named in the reason."""
    if not values:
        raise ValueError("no finished study to choose from")
    key = min(values, key=lambda k: values[k][0])
    value, se = values[key]
    close = sorted(k for k, (v, s) in values.items() if k != key and v - value < math.hypot(se, s))
    reason = f"lowest cross-validated MAE on the English words, {value:.4f} ± {se:.4f}"
    if close:
        reason += f"; within one standard error of it: {', '.join(close)} (the data cannot separate them)"
    return key, reason
