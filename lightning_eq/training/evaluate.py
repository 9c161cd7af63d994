"""Train and score models under both protocols; hyperparameters are chosen on validation data inside
each training part, then the model is refitted on the whole training part and scored once on the test part."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from lightning_eq.config import Config
from lightning_eq.curves import unit_to_z, z_to_unit
from lightning_eq.data.folds import Split, random_splits, validation_split, word_folds
from lightning_eq.data.socialeq import SocialEQ
from lightning_eq.models.baselines import Features, Validation
from lightning_eq.models.catalog import build_model, embedder_keys
from lightning_eq.models.metrics import score

log = logging.getLogger(__name__)
PROTOCOLS = ("words", "random")
RANDOM_VAL_SHARE = 0.15


@dataclass
class Embeddings:
    """Vectors of every text for each embedder key: ``vectors[key]`` is (len(texts), dim)."""

    texts: list[str]
    vectors: dict[str, np.ndarray]

    def features(self, texts: Sequence[str], keys: Sequence[str]) -> Features:
        index = {t: i for i, t in enumerate(self.texts)}
        rows = [index[t] for t in texts]
        return {k: self.vectors[k][rows] for k in keys}


@dataclass
class Part:
    """Records of one part of a split: features, unit-scale curves, words and file rows."""

    features: Features
    curves_unit: np.ndarray
    words: list[str]
    rows: list[int]

    def validation(self) -> Validation:
        return Validation(self.features, self.curves_unit, self.words)


@dataclass
class Evaluation:
    """One metrics dict per (model, split), and every test prediction."""

    results: list[dict] = field(default_factory=list)
    predictions: list[dict] = field(default_factory=list)


def take(data: SocialEQ, emb: Embeddings, index: np.ndarray, keys: Sequence[str]) -> Part:
    records = [data.records[i] for i in index]
    words = [r.descriptor for r in records]
    curves = z_to_unit(np.stack([r.curve_z for r in records]))
    return Part(emb.features(words, keys), curves, words, [r.row for r in records])


def inner_split(data: SocialEQ, hq_words: list[str], split: Split) -> tuple[np.ndarray, np.ndarray]:
    """(inner training, validation) record indices inside ``split.train``, never touching ``split.test``."""
    if split.protocol == "words":
        val = validation_split(data, hq_words, split.index)
        return val.train, val.test
    rng = np.random.default_rng(split.index)
    shuffled = rng.permutation(split.train)
    n_val = int(round(RANDOM_VAL_SHARE * len(shuffled)))
    return np.sort(shuffled[n_val:]), np.sort(shuffled[:n_val])


def word_means(part: Part) -> Part:
    """One row per word: the mean of its records' curves (features are per word already)."""
    names = sorted(set(part.words))
    first = {w: i for i, w in reversed(list(enumerate(part.words)))}
    rows = [first[w] for w in names]
    curves = np.stack([part.curves_unit[[i for i, x in enumerate(part.words) if x == w]].mean(axis=0) for w in names])
    return Part({k: v[rows] for k, v in part.features.items()}, curves, names, [part.rows[i] for i in rows])


def fit_rows(key: str, cfg: Config, part: Part) -> Part:
    """The rows a fit sees: every record, or each word's mean curve, as ``cfg.train_on`` says."""
    if cfg.train_on == "words":
        return word_means(part)
    return part


def fit_selected(key: str, cfg: Config, train: Part, inner: Part, val: Part):
    """Choose hyperparameters on ``val`` (fit on ``inner``), then refit with them on all of ``train``.

    When ``cfg.train_on`` says so (see Config) the fits see each word's mean curve; ``val`` stays per record.
    """
    train, inner = fit_rows(key, cfg, train), fit_rows(key, cfg, inner)
    probe = build_model(key, cfg)
    probe.fit(inner.features, inner.curves_unit, inner.words, val=val.validation())
    model = build_model(key, cfg, chosen=probe.chosen)
    model.fit(train.features, train.curves_unit, train.words)
    model.chosen = probe.chosen
    return model


def splits_for(data: SocialEQ, hq_words: list[str], protocols: Sequence[str], folds: Sequence[int] | None = None,
               seeds: Sequence[int] = (0, 1, 2)) -> list[Split]:
    out: list[Split] = []
    if "words" in protocols:
        out += [s for s in word_folds(data, hq_words) if folds is None or s.index in folds]
    if "random" in protocols:
        out += random_splits(data, tuple(seeds))
    return out


def evaluate(data: SocialEQ, hq_words: list[str], emb: Embeddings, cfg: Config, model_keys: Sequence[str],
             splits: Sequence[Split], on_step: Callable[[str], None] | None = None) -> Evaluation:
    """Fit every model on every split; collect metrics and test predictions (z scale)."""
    result = Evaluation()
    for split in splits:
        inner_idx, val_idx = inner_split(data, hq_words, split)
        for key in model_keys:
            keys = embedder_keys(key, cfg)
            train, test = take(data, emb, split.train, keys), take(data, emb, split.test, keys)
            model = fit_selected(key, cfg, train, take(data, emb, inner_idx, keys), take(data, emb, val_idx, keys))
            pred_test = model.predict(test.features, len(test.words))
            pred_train = model.predict(train.features, len(train.words))
            metrics = score(pred_train, train.curves_unit, train.words, "train")
            metrics |= score(pred_test, test.curves_unit, test.words, "test")
            result.results.append({"model": key, "protocol": split.protocol, "split": split.name,
                                   "chosen": model.chosen, **metrics})
            result.predictions += [
                {"protocol": split.protocol, "split": split.name, "model": key, "descriptor": w, "row": row,
                 "curve_z": unit_to_z(p).round(5).tolist()}
                for w, row, p in zip(test.words, test.rows, pred_test)
            ]
            if on_step:
                on_step(f"{split.protocol} {split.name} {key}: test MAE {metrics['test/mae_unit']:.4f}, "
                        f"word r {metrics['test/r_word']:.2f}")
    return result


def fit_final(key: str, cfg: Config, data: SocialEQ, hq_words: list[str], emb: Embeddings, val_fold: int = 1):
    """Train ``key`` on every record; hyperparameters chosen on the HQ/HR words of one fold held out."""
    keys = embedder_keys(key, cfg)
    everything = np.arange(len(data))
    val_idx = word_folds(data, hq_words)[val_fold].test
    inner_idx = np.setdiff1d(everything, val_idx)
    return fit_selected(key, cfg, take(data, emb, everything, keys), take(data, emb, inner_idx, keys),
                        take(data, emb, val_idx, keys))
