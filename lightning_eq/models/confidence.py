"""Confidence of a prediction: does the description look like the descriptors the model learned from?

A description the model can say something about lands, in the model's own embedding space, where its
training descriptors lie; a string that is no word lands elsewhere. ``fit_coverage`` learns that boundary
at training time: a class-balanced, L2-regularised logistic regression on the model's standardised
embeddings (each embedder standardised with its training words' mean and std, then side by side), with the
training words as one class and generated non-words (seeded: random letters, consonant runs, keyboard walks,
repeated letters, pronounceable pseudo-words, two-token gibberish) embedded the same way as the other. Its
probability is the confidence. A row whose embeddings are all zero (GloVe's answer for text it does not
know) gets 0.

Why not the similarity to the nearest training word: in the hidden states of a language model (``gpt``) and
in Tok2Vec, generated non-words are as close to the training words as real unseen words are (ROC AUC 0.56-0.69
between held-out words and gibberish); the linear boundary separates them (AUC 0.99-1.00) in every embedder
of the project and at every gpt layer tried. ``benchmarks/bench_confidence.py`` prints the figures.

numpy only: scoring is one dot product per description; a fitted ``Coverage`` pickles to a few KB.
"""

from __future__ import annotations

import logging
import random
import string
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from lightning_eq.errors import LightningEqError

log = logging.getLogger(__name__)

Vectors = Mapping[str, np.ndarray]  # {embedder key: (N, dim)}, rows aligned across keys

L2 = 1e-2  # on the class-balanced mean log-loss; 1e-3..1e-1 measured alike on non-test words
PER_KIND = 60  # generated non-words per kind: 6 kinds, 360 strings embedded once per fit
# Below 0.5 (the balanced decision boundary) a description counts as unfamiliar: curves.LOW_CONFIDENCE.

# The probe strings for non-words. Calibration never sees them, nor any string that shares four
# characters in a row with one of them, so the tests that pin them measure generalisation.
HELD_OUT_PROBES = ("xyzzy", "qwertyuiop", "asdf ghjk", "zzzz")
_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_VOWELS, _CONSONANTS = "aeiou", "bcdfghjklmnpqrstvwxyz"


def _grams(text: str, n: int = 4) -> set[str]:
    return {text[i : i + n] for i in range(len(text) - n + 1)}


def generate_nonwords(seed: int = 0, per_kind: int = PER_KIND, exclude: Sequence[str] = ()) -> dict[str, list[str]]:
    """{kind: strings} of lower-case non-words, the same for the same arguments; ``exclude`` (e.g. the
    training words) and the held-out probes never appear."""
    rng = random.Random(seed)
    banned = set().union(*(_grams(p) for p in HELD_OUT_PROBES))
    seen = set(exclude) | set(HELD_OUT_PROBES)
    letters = string.ascii_lowercase

    def letters_run(lo: int, hi: int, alphabet: str = letters) -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(lo, hi)))

    def walk() -> str:  # adjacent keys along one keyboard row, either way
        row = rng.choice(_KEYBOARD_ROWS + tuple(r[::-1] for r in _KEYBOARD_ROWS))
        n = rng.randint(4, min(9, len(row)))
        start = rng.randint(0, len(row) - n)
        return row[start : start + n]

    def walk_two_rows() -> str:
        a, b = rng.sample(_KEYBOARD_ROWS, 2)
        i, j = rng.randint(0, len(a) - 3), rng.randint(0, len(b) - 3)
        return a[i : i + rng.randint(2, 3)] + b[j : j + rng.randint(2, 4)]

    def repeated() -> str:
        if rng.random() < 0.6:
            return rng.choice(letters.replace("z", "")) * rng.randint(3, 8)
        return letters_run(2, 3) * rng.randint(2, 3)

    def pseudo() -> str:  # pronounceable consonant-vowel strings, the hardest kind
        return "".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(rng.randint(2, 4)))

    makers: dict[str, Callable[[], str]] = {
        "random": lambda: letters_run(4, 12),
        "consonants": lambda: letters_run(3, 8, _CONSONANTS),
        "keyboard": lambda: walk() if rng.random() < 0.5 else walk_two_rows(),
        "repeated": repeated,
        "pseudo": pseudo,
        "two_tokens": lambda: letters_run(3, 7) + " " + (walk() if rng.random() < 0.3 else letters_run(3, 7)),
    }
    kinds: dict[str, list[str]] = {}
    for kind, make in makers.items():
        items: list[str] = []
        for _ in range(1000 * per_kind):
            if len(items) == per_kind:
                break
            text = make()
            if text not in seen and not (_grams(text) & banned):
                seen.add(text)
                items.append(text)
        kinds[kind] = items
    return kinds


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = L2, max_iter: int = 100) -> tuple[np.ndarray, float]:
    """(weights (D,), bias) of a class-balanced L2 logistic regression of y in {0, 1} on x (N, D).

    Newton's method in the row space of the centred x (at most N - 1 dimensions), where the L2 optimum
    lies, so D may exceed N (576-d LM states, 388 words)."""
    mean = x.mean(axis=0)
    u, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    keep = s > s[0] * 1e-6 if s.size and s[0] > 0 else np.zeros(s.shape, bool)
    a = np.c_[u[:, keep] * s[keep], np.ones(len(x))]  # (N, r + 1) coordinates and intercept
    sample_w = np.where(y == 1, 0.5 / max(y.sum(), 1), 0.5 / max((1 - y).sum(), 1))  # each class weighs 1/2
    reg = np.full(a.shape[1], l2)
    reg[-1] = 0.0
    theta = np.zeros(a.shape[1])
    for _ in range(max_iter):
        p = _sigmoid(a @ theta)
        grad = a.T @ (sample_w * (p - y)) + reg * theta
        hess = (a * (sample_w * p * (1 - p))[:, None]).T @ a + np.diag(reg + 1e-10)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.abs(step).max() < 1e-9:
            break
    weights = vt[keep].T @ theta[:-1]
    return weights, float(theta[-1] - mean @ weights)


def _all_zero(blocks: list[np.ndarray]) -> np.ndarray:
    return np.all([np.abs(b).max(axis=1) == 0 for b in blocks], axis=0)


@dataclass
class Coverage:
    """A fitted confidence: ``score(vectors)`` -> (N,) in [0, 1]. The standardisation is folded into
    ``weights`` (one (dim,) array per embedder key), so scoring is a dot product."""

    keys: tuple[str, ...]
    dims: tuple[int, ...]
    weights: dict[str, np.ndarray]
    bias: float
    n_words: int = 0
    n_nonwords: int = 0

    def score(self, vectors: Vectors) -> np.ndarray:
        """(N,) confidence of each row of ``vectors`` ({key: (N, dim)}, the keys this was fitted on)."""
        blocks = _blocks(vectors, self.keys, self.dims)
        logit = self.bias + sum(b @ self.weights[k] for k, b in zip(self.keys, blocks))
        return np.where(_all_zero(blocks), 0.0, _sigmoid(logit))


def _blocks(vectors: Vectors, keys: Sequence[str], dims: Sequence[int] | None = None) -> list[np.ndarray]:
    missing = [k for k in keys if k not in vectors]
    if missing:
        raise LightningEqError(f"Confidence needs the embeddings {', '.join(keys)}; got {', '.join(vectors) or 'none'}. "
                               "Embed the text with every embedder the model reads.")
    blocks = [np.asarray(vectors[k], dtype=np.float64) for k in keys]
    for i, (k, b) in enumerate(zip(keys, blocks)):
        if b.ndim != 2 or len(b) != len(blocks[0]) or (dims is not None and b.shape[1] != dims[i]):
            want = f"(N, {dims[i]})" if dims is not None else "(N, dim) with the same N for every key"
            raise LightningEqError(f"Embeddings {k!r} have shape {b.shape}; expected {want}. "
                                   "Embed with the embedder configuration the model was trained with.")
    return blocks


def fit_coverage(vectors: Vectors, words: Sequence[str], embed: Callable[[list[str]], Vectors] | None = None, *,
                 nonword_vectors: Vectors | None = None, l2: float = L2, per_kind: int = PER_KIND, seed: int = 0) -> Coverage:
    """Fit the confidence from the training vectors ({key: (N, dim)}, row i = ``words[i]``; records of the
    same word may repeat) and generated non-words, embedded by ``embed(texts) -> {key: (M, dim)}`` (or given
    as ``nonword_vectors``)."""
    if not vectors:
        raise LightningEqError("Confidence needs at least one embedding of the training words; this model reads none.")
    keys = tuple(vectors)
    blocks = _blocks(vectors, keys)
    if len(words) != len(blocks[0]):
        raise LightningEqError(f"Got {len(words)} words for {len(blocks[0])} training vectors; give one word per row.")
    first = {w: i for i, w in reversed(list(enumerate(words)))}
    rows = sorted(first.values())  # one row per word: repeated records would weigh frequent words more
    blocks = [b[rows] for b in blocks]
    if nonword_vectors is None:
        if embed is None:
            raise LightningEqError("fit_coverage needs `embed` (texts -> {key: vectors}) or `nonword_vectors`.")
        texts = [t for kind in generate_nonwords(seed, per_kind, exclude=list(first)).values() for t in kind]
        nonword_vectors = embed(texts)
    negatives = _blocks(nonword_vectors, keys, [b.shape[1] for b in blocks])
    known = ~_all_zero(blocks)
    if known.sum() < 2:
        raise LightningEqError(f"Confidence needs at least 2 training words with a non-zero embedding, got {known.sum()}.")
    mean = [b[known].mean(axis=0) for b in blocks]
    std = [b[known].std(axis=0) + 1e-6 for b in blocks]
    standardised = lambda bs, keep: np.hstack([(b[keep] - m) / s for b, m, s in zip(bs, mean, std)])
    pos, neg = standardised(blocks, known), standardised(negatives, ~_all_zero(negatives))
    dims = tuple(b.shape[1] for b in blocks)
    if len(neg) == 0:  # every non-word embedded as zeros: being known to the embedder is all there is to tell
        log.warning("No generated non-word has a non-zero embedding; confidence is 1 for every text the embedder knows.")
        return Coverage(keys, dims, {k: np.zeros(d) for k, d in zip(keys, dims)}, 20.0, len(pos), 0)
    w, b = fit_logistic(np.vstack([pos, neg]), np.r_[np.ones(len(pos)), np.zeros(len(neg))], l2)
    split = np.cumsum(dims)[:-1]
    weights = {k: wk / s for k, wk, s in zip(keys, np.split(w, split), std)}  # fold the standardisation in
    bias = b - sum(float(m @ weights[k]) for k, m in zip(keys, mean))
    return Coverage(keys, dims, weights, bias, len(pos), len(neg))


def combine_clauses(confidences: Sequence[float], weights: Sequence[float]) -> float:
    """One confidence for a description of several clauses: the mean of the clauses' confidences weighted
    by |weight| (the share of the mixed curve each clause drives, as ``describe.combine`` mixes them)."""
    c = np.asarray(confidences, dtype=float)
    w = np.abs(np.asarray(weights, dtype=float))
    if c.shape != w.shape or c.size == 0:
        raise LightningEqError(f"Expected one weight per clause confidence, got {c.size} confidences and {w.size} weights.")
    return float(c.mean() if w.sum() == 0 else (w * c).sum() / w.sum())
