"""Rows to fit or score: one per record (or per word, as its mean curve), as arrays aligned with the words.

Heads never see text: a row's features are looked up by its word in the embedding vectors (``Vectors``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from lightning_eq.curves import z_to_unit


def language_code(lang: str) -> str:
    """'en' or 'es' from a record's ``lang`` column (English, Español)."""
    return "es" if lang.strip().lower().startswith(("espa", "spa", "es")) else "en"


@dataclass(frozen=True)
class Table:
    """``curves_unit`` (N, 40) on the unit scale; ``weights`` (N,) of each row in a fit; ``ids`` index the
    records of the data set (-1 for a word's mean) and ``rows`` are their line numbers in the data file."""

    words: tuple[str, ...]
    langs: tuple[str, ...]
    curves_unit: np.ndarray
    weights: np.ndarray
    ids: tuple[int, ...]
    rows: tuple[int, ...]

    @classmethod
    def from_records(cls, records: Sequence, index: Iterable[int] | None = None, spanish_weight: float = 1.0) -> "Table":
        """Rows for ``records[i]`` for i in ``index`` (default all); Spanish rows weigh ``spanish_weight`` in a fit."""
        index = list(range(len(records))) if index is None else list(index)
        chosen = [records[i] for i in index]
        langs = tuple(language_code(r.lang) for r in chosen)
        weights = np.array([spanish_weight if lang == "es" else 1.0 for lang in langs])
        curves = z_to_unit(np.stack([r.curve_z for r in chosen])) if chosen else np.zeros((0, 40))
        return cls(tuple(r.descriptor for r in chosen), langs, curves, weights, tuple(index), tuple(r.row for r in chosen))

    def __len__(self) -> int:
        return len(self.words)

    @property
    def vocabulary(self) -> list[str]:
        return sorted(set(self.words))

    def take(self, index: np.ndarray) -> "Table":
        index = np.asarray(index, dtype=int)
        return Table(tuple(self.words[i] for i in index), tuple(self.langs[i] for i in index), self.curves_unit[index],
                     self.weights[index], tuple(self.ids[i] for i in index), tuple(self.rows[i] for i in index))

    def take_ids(self, ids: Iterable[int]) -> "Table":
        """The rows of the given record ids that this table holds, in that order."""
        where = {r: i for i, r in enumerate(self.ids)}
        return self.take(np.array([where[i] for i in ids if i in where], dtype=int))

    def with_words(self, words: set[str], inside: bool = True) -> "Table":
        """The rows whose word is (or, with ``inside=False``, is not) in ``words``."""
        return self.take(np.array([i for i, w in enumerate(self.words) if (w in words) == inside], dtype=int))

    def word_means(self) -> "Table":
        """One row per word: the mean of its records' curves (and of their weights)."""
        names = self.vocabulary
        members = {w: [] for w in names}
        for i, w in enumerate(self.words):
            members[w].append(i)
        return Table(tuple(names), tuple(self.langs[members[w][0]] for w in names),
                     np.stack([self.curves_unit[members[w]].mean(axis=0) for w in names]),
                     np.array([self.weights[members[w]].mean() for w in names]), tuple(-1 for _ in names),
                     tuple(-1 for _ in names))

    def checksum(self) -> str:
        """16 hex digits over every row's word, language and curve: which data a study saw."""
        digest = hashlib.sha256()
        for w, lang, c in zip(self.words, self.langs, np.round(self.curves_unit, 6)):
            digest.update(f"{w}|{lang}|".encode() + c.tobytes())
        return digest.hexdigest()[:16]
