"""The objective of one Optuna study per (model, fold), and the single test score of its chosen config.

As in optuna-examples' ``pytorch_lightning_simple.py``, the objective reads the space, builds a config, fits
and returns one float (validation MAE on held-out words, pruned on ``val/mae_unit``); tracking attaches from
outside (``tracking/``) through the extra Lightning callbacks ``Objective.run`` accepts and by wrapping it.
Where studies are stored and how workers share them is ``tracking/studies.py``.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import optuna

from lightning_eq.config import Config, EmbedderConfig
from lightning_eq.data.folds import word_folds
from lightning_eq.data.socialeq import SocialEQ
from lightning_eq.models.catalog import build_model, embedder_keys
from lightning_eq.models.metrics import score
from lightning_eq.training.evaluate import Embeddings, Part, fit_rows, inner_split, take
from lightning_eq.training.space import SweepSpec, apply_values, suggest

log = logging.getLogger(__name__)
MONITOR = "val/mae_unit"


def study_name(model: str, fold: int) -> str:
    return f"{model}-fold{fold}"


@dataclass
class FoldData:
    """A fold's records and vectors: inner training and validation words for the search, train/test for the end."""

    data: SocialEQ
    hq_words: list[str]
    emb: Embeddings
    fold: int
    embedders: EmbedderConfig = field(default_factory=EmbedderConfig)  # the settings ``emb`` was made with
    cache_dir: str | None = None
    _reembedded: dict = field(default_factory=dict, repr=False)

    def indices(self) -> dict[str, np.ndarray]:
        split = word_folds(self.data, self.hq_words)[self.fold]
        inner, val = inner_split(self.data, self.hq_words, split)
        return {"train": split.train, "test": split.test, "inner": inner, "val": val}

    def embeddings(self, cfg: Config, keys: Sequence[str]) -> Embeddings:
        """Vectors under ``cfg.embedders``: an embedder whose settings a trial changed (``gpt_layer``) is re-run
        through ``build_embedder``, whose on-disk cache makes a repeated setting cheap."""
        vectors = dict(self.emb.vectors)
        for key in keys:
            names = [f.name for f in dataclasses.fields(cfg.embedders) if f.name.startswith(f"{key}_")]
            settings = tuple((n, getattr(cfg.embedders, n)) for n in names)
            if settings == tuple((n, getattr(self.embedders, n)) for n in names) and key in vectors:
                continue
            if (key, settings) not in self._reembedded:
                from lightning_eq.embeddings import build_embedder

                log.info("embedding %d texts with %s %s", len(self.emb.texts), key, dict(settings))
                self._reembedded[(key, settings)] = build_embedder(key, cfg.embedders, self.cache_dir).embed(self.emb.texts)
            vectors[key] = self._reembedded[(key, settings)]
        return Embeddings(self.emb.texts, vectors)

    def parts(self, cfg: Config, key: str, names: Sequence[str]) -> dict[str, Part]:
        """Records of the named parts (train, test, inner, val) with the vectors model ``key`` reads."""
        keys = embedder_keys(key, cfg)
        emb = self.embeddings(cfg, keys)
        index = self.indices()
        return {name: take(self.data, emb, index[name], keys) for name in names}


@dataclass
class TrialOutcome:
    """What one trial produced: the objective's value, validation metrics, the fitted model and its config."""

    value: float
    metrics: dict[str, float]
    model: object
    config: Config
    val: Part


class Objective:
    """Train on the fold's inner training words, score on its validation words; test words are never read."""

    def __init__(self, key: str, cfg: Config, spec: SweepSpec, fold: FoldData):
        self.key, self.cfg, self.spec, self.fold = key, spec.base_config(cfg), spec, fold

    def __call__(self, trial: optuna.Trial) -> float:
        return self.run(trial).value

    def run(self, trial: optuna.Trial, callbacks: Sequence = ()) -> TrialOutcome:
        """Fit one suggested config; raises optuna.TrialPruned when the pruner stops it."""
        from optuna_integration import PyTorchLightningPruningCallback

        cfg = apply_values(self.cfg, suggest(trial, self.spec.params))
        parts = self.fold.parts(cfg, self.key, ("inner", "val"))  # never the test words
        inner, val = fit_rows(self.key, cfg, parts["inner"]), parts["val"]
        model = build_model(self.key, cfg)
        if hasattr(model, "history"):  # neural: prune on the monitored epoch metric
            pruning = PyTorchLightningPruningCallback(trial, monitor=MONITOR)
            model.fit(inner.features, inner.curves_unit, inner.words, val=val.validation(), callbacks=[pruning, *callbacks])
        else:
            model.fit(inner.features, inner.curves_unit, inner.words, val=val.validation())
        metrics = score(model.predict(val.features, len(val.words)), val.curves_unit, val.words, "val")
        trial.set_user_attr("chosen", model.chosen)
        return TrialOutcome(metrics[MONITOR], metrics, model, cfg, val)


def config_of(trial: optuna.trial.FrozenTrial, cfg: Config, spec: SweepSpec) -> Config:
    """The config a finished trial trained."""
    return apply_values(spec.base_config(cfg), suggest(optuna.trial.FixedTrial(trial.params), spec.params))


def refit_and_test(key: str, cfg: Config, fold: FoldData, chosen: dict) -> tuple[object, dict[str, float], Part]:
    """The chosen config refitted on the fold's whole training part, scored once on its test words."""
    parts = fold.parts(cfg, key, ("train", "test"))
    train, test = fit_rows(key, cfg, parts["train"]), parts["test"]
    model = build_model(key, cfg, chosen=chosen)
    with warnings.catch_warnings():  # refitted without validation words, on purpose
        warnings.filterwarnings("ignore", message=".*no `val_dataloader`")
        model.fit(train.features, train.curves_unit, train.words)
    model.chosen = chosen
    return model, score(model.predict(test.features, len(test.words)), test.curves_unit, test.words, "test"), test
