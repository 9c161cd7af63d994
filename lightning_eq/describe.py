"""Richer descriptions: several descriptors, intensity words and opposites, in English and Spanish.

"warm, punchy and a bit airy" is split into clauses at commas, semicolons and the words and / but / with
(y / e / pero / con in Spanish), and before "without" / "sin" (which start an opposite clause). Each clause
may start with modifiers that set its weight; they multiply, so "un poco más" is x0.5 and "muy muy" x2.25:

- intensity: "very" / "muy" / "bien" x1.5, "extremely" / "extremadamente" / "super" x2, "quite" / "bastante"
  x1.25, "slightly" / "a bit" / "a little" / "somewhat" / "un poco" / "un poquito" / "algo" / "ligeramente" x0.5,
  "barely" / "apenas" x0.25, "much more" / "mucho más" x1.5, "too" / "demasiado" x1.5;
- direction: "less X", "not X", "without X", "no X" (and "menos", "no", "sin", "nada", "nada de") give the
  opposite direction of X (weight x-1), "more X" / "más X" keeps it ("much less X" / "mucho menos X" is
  x-1.5); Spanish "poco X" (without "un") means "not very X" and is x-0.5.

What remains of a clause is embedded as a phrase; with a ``vocabulary`` (the model's training descriptors)
a phrase typed without its accents ("calido") becomes the known descriptor ("cálido"). The curve of the
description is the weighted sum of the clauses' z shapes (each opposite clause flipped), rescaled to a z
shape; its ``amount`` is the largest absolute weight, so "very warm" is the shape of "warm" at 1.5 times the
gain, and "less bright" is the shape of "bright" turned upside down. The words around the phrases also tell the
language: ``function_words`` and ``function_word_votes`` ("un poco más brillante" is Spanish, "less brillante"
has an English word). Only text handling here: the model is passed in.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np

from lightning_eq.curves import EqCurve
from lightning_eq.errors import LightningEqError
from lightning_eq.language import Vocabulary

# Longest first: "much more" before "more". Values multiply the clause's weight.
ENGLISH_MODIFIERS: dict[str, float] = {
    "much more": 1.5, "a lot more": 1.5, "far more": 1.5, "much less": -1.5, "a lot less": -1.5, "far less": -1.5,
    "a little bit": 0.5, "a little": 0.5, "a bit": 0.5, "a touch": 0.5, "a tad": 0.5, "kind of": 0.5, "sort of": 0.5,
    "very": 1.5, "really": 1.5, "quite": 1.25, "super": 2.0, "extremely": 2.0, "incredibly": 2.0, "too": 1.5,
    "slightly": 0.5, "somewhat": 0.5, "mildly": 0.5, "barely": 0.25, "more": 1.0, "less": -1.0, "fewer": -1.0,
    "not": -1.0, "without": -1.0, "no": -1.0, "non": -1.0, "anti": -1.0,
}
# Spanish, mirroring the English weights; accents optional. Compounds such as "mucho más" (1.5 x 1), "un poco
# menos" (0.5 x -1) and "no tan" (-1 x 1) come from peeling one modifier after another.
SPANISH_MODIFIERS: dict[str, float] = {
    "un poquito": 0.5, "un poquitín": 0.5, "un poquitin": 0.5, "un poco": 0.5, "un pelín": 0.5, "un pelin": 0.5,
    "un toque de": 0.5, "un toque": 0.5, "un tanto": 0.5, "algo": 0.5, "medio": 0.5, "ligeramente": 0.5,
    "levemente": 0.5, "apenas": 0.25, "poco": -0.5, "poca": -0.5, "pocos": -0.5, "pocas": -0.5,
    "muy": 1.5, "bien": 1.5, "realmente": 1.5, "bastante": 1.25, "súper": 2.0, "extremadamente": 2.0,
    "sumamente": 2.0, "increíblemente": 2.0, "increiblemente": 2.0, "demasiado": 1.5, "demasiada": 1.5,
    "mucho": 1.5, "mucha": 1.5, "muchos": 1.5, "muchas": 1.5, "muchísimo": 2.0, "muchisimo": 2.0,
    "muchísima": 2.0, "muchisima": 2.0, "más": 1.0, "mas": 1.0, "tan": 1.0, "menos": -1.0, "sin": -1.0,
    "nada de": -1.0, "nada": -1.0,
}
MODIFIERS: dict[str, float] = {**ENGLISH_MODIFIERS, **SPANISH_MODIFIERS}
# The words that link clauses or fill them out (see SPLIT and FILLER), per language.
ENGLISH_LINKS = ("and", "but", "with", "plus", "the", "an", "sound", "sounding", "some", "please")
SPANISH_LINKS = ("y", "pero", "con", "un", "una", "el", "la", "los", "las", "unos", "unas", "de", "del", "suena",
                 "por", "favor")
NEUTRAL_WORDS = frozenset({"a", "e", "no", "non", "anti", "super"})  # written alike in both languages


def _tokens(words) -> frozenset[str]:
    return frozenset(t for w in words for t in w.split()) - NEUTRAL_WORDS


# Intensity, opposite and linking words that tell the language of a description: "un poco más brillante" is
# Spanish even though "brillante" is an English training word too.
ENGLISH_FUNCTION_WORDS = _tokens([*ENGLISH_MODIFIERS, *ENGLISH_LINKS]) - _tokens([*SPANISH_MODIFIERS, *SPANISH_LINKS])
SPANISH_FUNCTION_WORDS = _tokens([*SPANISH_MODIFIERS, *SPANISH_LINKS]) - _tokens([*ENGLISH_MODIFIERS, *ENGLISH_LINKS])
SPLIT = re.compile(
    r"\s*(?:[,;/+&]|\band\b|\bbut\b|\bwith\b|\bplus\b|\by\b|\be\b|\bpero\b|\bcon\b)\s*"
    r"|\s+(?=(?:without|sin)\b)"  # "warm without mud": "without mud" is a clause of its own
)
FILLER = re.compile(
    r"^(?:and|but|a|an|the|sound|sounding|some|un|una|el|la|los|las|unos|unas|de|del|suena)\s+"
    r"|\s+(?:sound|sounding|please|por favor)$"
)
_WORD = re.compile(r"[^\W\d_]+")
_MODIFIER_RE = re.compile(r"^(" + "|".join(re.escape(m) for m in sorted(MODIFIERS, key=len, reverse=True)) + r")\b\s*")


@dataclass(frozen=True)
class Term:
    """One clause: the phrase to embed and its weight (negative: the opposite direction)."""

    phrase: str
    weight: float


def parse_description(text: str) -> list[Term]:
    """Split a description into weighted phrases; see the module docstring for the rules."""
    if not isinstance(text, str) or not text.strip():
        raise LightningEqError("Expected a description such as 'warm' or 'less boomy, more presence', got empty text.")
    terms = []
    for clause in SPLIT.split(" ".join(text.lower().split())):
        weight, clause = 1.0, clause.strip(" .!?\"'")
        while True:  # peel modifiers and filler words off the front until the phrase remains
            match = _MODIFIER_RE.match(clause)
            if match and match.end() < len(clause):
                weight *= MODIFIERS[match.group(1)]
                clause = clause[match.end():]
                continue
            stripped = FILLER.sub("", clause).strip()
            if stripped == clause or not stripped:
                break
            clause = stripped
        if clause:
            terms.append(Term(clause, weight))
    if not terms:
        raise LightningEqError(f"No descriptor found in {text!r}; expected words such as 'warm' or 'less boomy'.")
    return terms


def function_words(text: str, terms: Sequence[Term] | None = None) -> list[str]:
    """The words of ``text`` outside its phrases: its intensity, opposite, linking and filler words, lower-cased.
    ``terms``: ``text`` already parsed."""
    terms = parse_description(text) if terms is None else terms
    rest = Counter(_WORD.findall(text.lower()))
    rest.subtract(Counter(w for t in terms for w in _WORD.findall(t.phrase.lower())))
    return [w for w, n in rest.items() for _ in range(max(n, 0))]


def function_word_votes(words: Iterable[str]) -> tuple[int, int]:
    """(English, Spanish) counts of ``words`` (see ``function_words``) that only one language uses."""
    words = list(words)
    return sum(w in ENGLISH_FUNCTION_WORDS for w in words), sum(w in SPANISH_FUNCTION_WORDS for w in words)


def combine(terms: Sequence[Term], shapes_z: np.ndarray) -> tuple[np.ndarray, float]:
    """(40,) z shape and amount from each term's (40,) z curve; see the module docstring."""
    weights = np.array([t.weight for t in terms])
    mixed = (weights[:, None] * shapes_z).sum(axis=0)
    centred = mixed - mixed.mean()
    std = centred.std()
    shape = centred / std if std > 1e-12 else centred
    return shape, float(np.max(np.abs(weights)))


def describe(text: str, predict_z: Callable[[list[str]], np.ndarray], model: str | None = None,
             vocabulary: Vocabulary | Iterable[str] | None = None, terms: Sequence[Term] | None = None) -> EqCurve:
    """The curve of a whole description. ``predict_z`` maps phrases to (N, 40) z curves; ``vocabulary`` (known
    descriptors) turns a phrase typed without its accents into the known one; ``terms``: ``text`` already parsed."""
    terms = parse_description(text) if terms is None else terms
    if vocabulary is not None:
        vocabulary = vocabulary if isinstance(vocabulary, Vocabulary) else Vocabulary.of(vocabulary)
        terms = [Term(vocabulary.match(t.phrase), t.weight) for t in terms]
    if len(terms) == 1 and terms[0].weight == 1.0:
        shape, amount = predict_z([terms[0].phrase])[0], 1.0  # a plain phrase: the model's own curve
    else:
        shape, amount = combine(terms, predict_z([t.phrase for t in terms]))
    return EqCurve(shape, "z", model=model, text=text, amount=amount)
