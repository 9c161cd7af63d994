"""The two evaluation protocols, both deterministic.

1. Word-disjoint 4-fold cross-validation (Venkatesh et al. 2022). Test words are the HQ words and the HR
   words (every other word with a record whose ratings_consistency > 0.7). Each group is sorted and dealt
   round-robin over the folds, so each HQ and HR word is tested exactly once; a test word's records are
   never in training. All other words are always in training. Folds depend on the word lists alone.
   Hyperparameters are chosen on *validation* words inside the training part: the test words of the next
   fold, (k + 1) mod 4, which are then left out of the fit that is scored on them.
2. The study's random 80/20 split of records (scikit-learn ``train_test_split``), one per seed.
3. Bilingual word-disjoint folds over English + Spanish records (``load_records(language="all")``): the English
   test words of protocol 1 (computed on the English records alone), plus every Spanish word, sorted and dealt
   round-robin. A string that is a descriptor in both languages is one word, tested in one fold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lightning_eq.data.socialeq import Record, SocialEQ, canonical_language
from lightning_eq.errors import DataError

N_FOLDS = 4
HR_CONSISTENCY = 0.7
RANDOM_SPLIT_SEEDS = (0, 1, 2)


@dataclass(frozen=True)
class Split:
    """Indices into ``SocialEQ.records``. ``name`` is e.g. ``fold2`` or ``seed0``."""

    protocol: str  # "words" or "random"
    name: str
    train: np.ndarray
    test: np.ndarray

    @property
    def index(self) -> int:
        return int(self.name.removeprefix("fold").removeprefix("seed"))


def hr_words(data: SocialEQ, hq_words: list[str]) -> list[str]:
    """English words, other than the HQ words, with at least one record of consistency > 0.7."""
    hq = set(hq_words)
    return sorted({r.descriptor for r in data.records
                   if r.consistency > HR_CONSISTENCY and r.descriptor not in hq and _is_english(r)})


def fold_test_words(data: SocialEQ, hq_words: list[str], n_folds: int = N_FOLDS) -> list[list[str]]:
    """Test words of each fold: HQ and HR words each dealt round-robin over the sorted lists."""
    known = set(data.descriptors)
    missing = [w for w in hq_words if w not in known]
    if missing:
        raise DataError(f"HQ words without records in {data.path}: {', '.join(missing)}. Check the HQ word list.")
    folds: list[list[str]] = [[] for _ in range(n_folds)]
    for group in (sorted(set(hq_words)), hr_words(data, hq_words)):
        for i, word in enumerate(group):
            folds[i % n_folds].append(word)
    return [sorted(f) for f in folds]


def _indices(data: SocialEQ, words: set[str], inside: bool) -> np.ndarray:
    return np.array([i for i, r in enumerate(data.records) if (r.descriptor in words) == inside], dtype=int)


def word_folds(data: SocialEQ, hq_words: list[str], n_folds: int = N_FOLDS) -> list[Split]:
    """The word-disjoint folds: test = the fold's HQ/HR words, train = every other record."""
    splits = []
    for k, words in enumerate(fold_test_words(data, hq_words, n_folds)):
        test_words = set(words)
        splits.append(Split("words", f"fold{k}", _indices(data, test_words, False), _indices(data, test_words, True)))
    return splits


def validation_split(data: SocialEQ, hq_words: list[str], fold: int, n_folds: int = N_FOLDS) -> Split:
    """Inside fold ``fold``'s training part: hold out the next fold's test words for model selection."""
    all_folds = fold_test_words(data, hq_words, n_folds)
    held_out = set(all_folds[fold]) | set(all_folds[(fold + 1) % n_folds])
    val_words = set(all_folds[(fold + 1) % n_folds])
    train = _indices(data, held_out, False)
    return Split("words", f"fold{fold}-val", train, _indices(data, val_words, True))


def _is_english(record: Record) -> bool:
    return canonical_language(record.lang) == "English"


def _english_test_words(data: SocialEQ, hq_words: list[str], n_folds: int) -> list[list[str]]:
    """``fold_test_words`` of the English records alone (HR words are English words)."""
    english = SocialEQ(tuple(r for r in data.records if _is_english(r)), data.path)
    if not english.records:
        raise DataError(f"{data.path}: no English records; the bilingual folds need load_records(language='all').")
    return fold_test_words(english, hq_words, n_folds)


def bilingual_fold_test_words(data: SocialEQ, hq_words: list[str], n_folds: int = N_FOLDS) -> list[list[str]]:
    """Test words of each fold over both languages: the English HQ/HR words dealt as ``fold_test_words`` deals
    them, then the other languages' words not already among them, sorted, dealt round-robin. A string that is
    a descriptor in both languages is one word, in one fold."""
    folds = [list(f) for f in _english_test_words(data, hq_words, n_folds)]
    assigned = {w for f in folds for w in f}
    others = sorted({r.descriptor for r in data.records if not _is_english(r)} - assigned)
    for i, word in enumerate(others):
        folds[i % n_folds].append(word)
    return [sorted(f) for f in folds]


def _scored(data: SocialEQ, words: set[str], english_tested: set[str]) -> np.ndarray:
    """Records of ``words`` to score: all but the English records of a word tested only in another language."""
    return np.array([
        i for i, r in enumerate(data.records)
        if r.descriptor in words and (r.descriptor in english_tested or not _is_english(r))
    ], dtype=int)


def bilingual_word_folds(data: SocialEQ, hq_words: list[str], n_folds: int = N_FOLDS) -> list[Split]:
    """Word-disjoint folds over English + Spanish records (protocol "words").

    train: every record whose word is not a test word of the fold, in either language. test: the records to
    score, the English records of the English HQ/HR words and every record of the other languages (tell them
    apart by ``record.lang``). The English records of a word tested only in Spanish (``music``, ``tropical``,
    ...) are in neither. Choose hyperparameters with ``bilingual_validation_split``, not ``validation_split``.
    """
    folds = bilingual_fold_test_words(data, hq_words, n_folds)
    english_tested = {w for f in _english_test_words(data, hq_words, n_folds) for w in f}
    return [
        Split("words", f"fold{k}", _indices(data, set(words), False), _scored(data, set(words), english_tested))
        for k, words in enumerate(folds)
    ]


def bilingual_validation_split(data: SocialEQ, hq_words: list[str], fold: int, n_folds: int = N_FOLDS) -> Split:
    """Inside bilingual fold ``fold``'s training part, the next fold's test words held out (as ``validation_split``)."""
    folds = bilingual_fold_test_words(data, hq_words, n_folds)
    english_tested = {w for f in _english_test_words(data, hq_words, n_folds) for w in f}
    held_out, val_words = set(folds[fold]) | set(folds[(fold + 1) % n_folds]), set(folds[(fold + 1) % n_folds])
    return Split("words", f"fold{fold}-val", _indices(data, held_out, False), _scored(data, val_words, english_tested))


def random_splits(data: SocialEQ, seeds: tuple[int, ...] = RANDOM_SPLIT_SEEDS, test_size: float = 0.2) -> list[Split]:
    """The study's random record split, one per seed (scikit-learn ``train_test_split``)."""
    from sklearn.model_selection import train_test_split

    index = np.arange(len(data))
    out = []
    for seed in seeds:
        train, test = train_test_split(index, test_size=test_size, random_state=seed)
        out.append(Split("random", f"seed{seed}", np.sort(train), np.sort(test)))
    return out
