"""How well descriptions in another language work, measured on held-out words.

For each word-disjoint fold, a model is trained on the fold's English training words; each test word that
has a translation is predicted twice, in English and translated, and both predictions are scored against
the word's true mean curve (Pearson r over the 40 bands). The training data stay English.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lightning_eq.config import Config
from lightning_eq.data.folds import word_folds
from lightning_eq.data.socialeq import DEFAULT_DATA_DIR, SocialEQ
from lightning_eq.errors import DataError
from lightning_eq.models.catalog import embedder_keys
from lightning_eq.models.metrics import group_means, pearson_rows
from lightning_eq.training.evaluate import Embeddings, fit_selected, inner_split, take

DEFAULT_TRANSLATIONS = DEFAULT_DATA_DIR.parent / "translations" / "socialeq_es.tsv"


@dataclass
class LanguageScore:
    model: str
    n_words: int
    r_english: float  # mean per-word r of the English descriptions
    r_translated: float  # the same words, translated
    r_mean_curve: float  # the training mean curve, for reference
    r_between: float  # r between each word's English and translated predictions
    pos_translated: float  # share of translated words with r > 0


def load_translations(path: str | Path = DEFAULT_TRANSLATIONS) -> dict[str, str]:
    """English descriptor -> translation, from a two-column TSV ('#' starts a comment line)."""
    pairs = {}
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip() and not line.startswith("#"):
            parts = line.split("\t")
            if len(parts) != 2:
                raise DataError(f"{path}, line {n}: expected 'english<TAB>translation', got {line!r}.")
            pairs[parts[0].strip().lower()] = parts[1].strip().lower()
    return pairs


def score_translations(data: SocialEQ, hq_words: list[str], emb: Embeddings, cfg: Config, key: str,
                       translations: dict[str, str]) -> LanguageScore:
    """Per-word r of English vs translated descriptions of held-out words; ``emb`` must hold both."""
    keys = embedder_keys(key, cfg)
    r_en, r_tr, r_mean, r_between = [], [], [], []
    for split in word_folds(data, hq_words):
        inner, val = inner_split(data, hq_words, split)
        train = take(data, emb, split.train, keys)
        model = fit_selected(key, cfg, train, take(data, emb, inner, keys), take(data, emb, val, keys))
        test = take(data, emb, split.test, keys)
        words, truth = group_means(test.curves_unit, test.words)
        chosen = [i for i, w in enumerate(words) if w in translations]
        if not chosen:
            continue
        english = [words[i] for i in chosen]
        pred_en = model.predict(emb.features(english, keys), len(english))
        pred_tr = model.predict(emb.features([translations[w] for w in english], keys), len(english))
        true = truth[chosen]
        r_en += list(pearson_rows(pred_en, true))
        r_tr += list(pearson_rows(pred_tr, true))
        r_mean += list(pearson_rows(np.tile(train.curves_unit.mean(axis=0), (len(chosen), 1)), true))
        r_between += list(pearson_rows(pred_en, pred_tr))
    return LanguageScore(key, len(r_tr), float(np.mean(r_en)), float(np.mean(r_tr)), float(np.mean(r_mean)),
                         float(np.mean(r_between)), float(np.mean(np.array(r_tr) > 0)))


def all_texts(data: SocialEQ, translations: dict[str, str]) -> list[str]:
    return sorted(set(data.words) | set(translations.values()))
