"""Richer descriptions: several descriptors, intensity words and opposites.

"warm, punchy and a bit airy" is split into clauses at commas, semicolons and the words and / but / with
(y / pero / con in Spanish). Each clause may start with modifiers that set its weight:

- intensity: "very" x1.5, "extremely" x2, "slightly" / "a bit" / "a little" / "somewhat" x0.5, "much more" x1.5;
- direction: "less X", "not X", "without X", "no X" give the opposite direction of X (weight x-1),
  "more X" keeps it ("much less X" is x-1.5).

What remains of a clause is embedded as a phrase. The curve of the description is the weighted sum of the
clauses' z shapes (each opposite clause flipped), rescaled to a z shape; its ``amount`` is the largest
absolute weight, so "very warm" is the shape of "warm" at 1.5 times the gain, and "less bright" is the
shape of "bright" turned upside down. Only text handling here: the model is passed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from lightning_eq.curves import EqCurve
from lightning_eq.errors import LightningEqError

# Longest first: "much more" before "more". Values multiply the clause's weight.
MODIFIERS: dict[str, float] = {
    "much more": 1.5, "a lot more": 1.5, "far more": 1.5, "much less": -1.5, "a lot less": -1.5, "far less": -1.5,
    "a little bit": 0.5, "a little": 0.5, "a bit": 0.5, "a touch": 0.5, "a tad": 0.5, "kind of": 0.5, "sort of": 0.5,
    "very": 1.5, "really": 1.5, "quite": 1.25, "super": 2.0, "extremely": 2.0, "incredibly": 2.0, "too": 1.5,
    "slightly": 0.5, "somewhat": 0.5, "mildly": 0.5, "barely": 0.25, "more": 1.0, "less": -1.0, "fewer": -1.0,
    "not": -1.0, "without": -1.0, "no": -1.0, "non": -1.0, "anti": -1.0, "un poco": 0.5, "muy": 1.5,
    "más": 1.0, "mas": 1.0, "menos": -1.0, "sin": -1.0, "demasiado": 1.5, "ligeramente": 0.5, "poco": 0.5,
}
SPLIT = re.compile(r"\s*(?:[,;/+&]|\band\b|\bbut\b|\bwith\b|\bplus\b|\by\b|\be\b|\bpero\b|\bcon\b)\s*")
FILLER = re.compile(r"^(?:and|but|a|an|the|sound|sounding|some|un|una|el|la)\s+|\s+(?:sound|sounding|please)$")
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


def combine(terms: Sequence[Term], shapes_z: np.ndarray) -> tuple[np.ndarray, float]:
    """(40,) z shape and amount from each term's (40,) z curve; see the module docstring."""
    weights = np.array([t.weight for t in terms])
    mixed = (weights[:, None] * shapes_z).sum(axis=0)
    centred = mixed - mixed.mean()
    std = centred.std()
    shape = centred / std if std > 1e-12 else centred
    return shape, float(np.max(np.abs(weights)))


def describe(text: str, predict_z: Callable[[list[str]], np.ndarray], model: str | None = None) -> EqCurve:
    """The curve of a whole description. ``predict_z`` maps phrases to (N, 40) z curves."""
    terms = parse_description(text)
    if len(terms) == 1 and terms[0].weight == 1.0:
        shape, amount = predict_z([terms[0].phrase])[0], 1.0  # a plain phrase: the model's own curve
    else:
        shape, amount = combine(terms, predict_z([t.phrase for t in terms]))
    return EqCurve(shape, "z", model=model, text=text, amount=amount)
