"""Confidence (models/confidence.py) on synthetic vectors: no real model, no files, no subprocess."""

from __future__ import annotations

import ast
import hashlib
import pickle
from pathlib import Path

import numpy as np
import pytest

from lightning_eq.errors import LightningEqError
from lightning_eq.models import confidence
from lightning_eq.models.confidence import (
    HELD_OUT_PROBES, Coverage, combine_clauses, fit_coverage, fit_logistic, generate_nonwords,
)

DIM = 24


def _vector(text: str, centre: float) -> np.ndarray:
    """A deterministic vector per text around (centre, 0, ..., 0)."""
    rng = np.random.default_rng(int(hashlib.sha256(text.encode()).hexdigest()[:8], 16))
    v = rng.standard_normal(DIM)
    v[0] += centre
    return v.astype(np.float32)


def word_vectors(words, key="fake"):
    """Words live around +4 on the first axis."""
    return {key: np.stack([_vector(w, 4.0) for w in words])}


def embed_nonwords(texts, keys=("fake",)):
    """The embedder puts every non-word around -4 on the first axis."""
    return {k: np.stack([_vector(k + t, -4.0) for t in texts]) for k in keys}


WORDS = [f"word{i}" for i in range(120)]


@pytest.fixture(scope="module")
def coverage() -> Coverage:
    return fit_coverage(word_vectors(WORDS), WORDS, embed_nonwords, per_kind=20)


def test_generated_nonwords_are_deterministic_and_never_the_probes():
    kinds = generate_nonwords(seed=3, per_kind=25, exclude=["aaaa"])
    assert kinds == generate_nonwords(seed=3, per_kind=25, exclude=["aaaa"])
    assert kinds != generate_nonwords(seed=4, per_kind=25, exclude=["aaaa"])
    assert set(kinds) == {"random", "consonants", "keyboard", "repeated", "pseudo", "two_tokens"}
    texts = [t for kind in kinds.values() for t in kind]
    assert all(len(kind) == 25 for kind in kinds.values()) and len(set(texts)) == len(texts)
    assert "aaaa" not in texts
    probe_grams = {p[i : i + 4] for p in HELD_OUT_PROBES for i in range(len(p) - 3)}
    assert not [t for t in texts if any(t[i : i + 4] in probe_grams for i in range(len(t) - 3))]
    assert all(t == t.strip().lower() and t for t in texts)


def test_logistic_separates_more_dimensions_than_rows():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 200))
    y = (x[:, 0] > 0).astype(float)
    w, b = fit_logistic(x, y, l2=1e-3)
    assert w.shape == (200,)
    assert np.mean(((x @ w + b) > 0) == (y == 1)) == 1.0


def test_training_words_high_unseen_words_high_nonwords_low(coverage):
    new_words = [f"other{i}" for i in range(50)]
    fresh_nonwords = [t for kind in generate_nonwords(seed=99, per_kind=10).values() for t in kind]
    train = coverage.score(word_vectors(WORDS))
    held_out = coverage.score(word_vectors(new_words))
    nonwords = coverage.score(embed_nonwords(fresh_nonwords))
    assert train.shape == (len(WORDS),) and held_out.shape == (50,)
    for s in (train, held_out, nonwords):
        assert np.all((s >= 0) & (s <= 1))
    assert np.all(train >= 0.8)
    assert np.mean(held_out >= 0.8) >= 0.9
    assert np.all(nonwords <= 0.2)


def test_fit_embeds_generated_nonwords_not_training_words():
    seen = []

    def embed(texts):
        seen.extend(texts)
        return embed_nonwords(texts)

    words = ["bbbb", "warm"] + WORDS
    fit_coverage(word_vectors(words), words, embed, per_kind=20, seed=1)
    assert len(seen) == 6 * 20 and not set(seen) & set(words)


def test_all_zero_embedding_gets_zero(coverage):
    """GloVe embeds text with no known word as zeros: the model knows nothing of it."""
    zeros = {"fake": np.zeros((2, DIM), np.float32)}
    assert coverage.score(zeros).tolist() == [0.0, 0.0]


def test_repeated_records_count_once():
    records = WORDS + WORDS[:30] * 3  # frequent words repeat, as records do
    a = fit_coverage(word_vectors(records), records, embed_nonwords, per_kind=10)
    b = fit_coverage(word_vectors(WORDS), WORDS, embed_nonwords, per_kind=10)
    probe = word_vectors(["x", "y"])
    assert np.allclose(a.score(probe), b.score(probe))


def test_several_embedders_are_scored_together():
    keys = ("a", "b")
    vectors = {k: word_vectors(WORDS, k)[k][:, : 8 + 8 * i] for i, k in enumerate(keys)}
    embed = lambda texts: {k: v[:, : 8 + 8 * i] for i, (k, v) in enumerate(embed_nonwords(texts, keys).items())}
    cov = fit_coverage(vectors, WORDS, embed, per_kind=15)
    assert cov.keys == keys and cov.dims == (8, 16)
    new = {k: word_vectors(["n1", "n2"], k)[k][:, : 8 + 8 * i] for i, k in enumerate(keys)}
    assert np.all(cov.score(new) >= 0.5)
    assert np.all(cov.score(embed(["qqq ppp", "bnbnbn"])) <= 0.2)
    with pytest.raises(LightningEqError, match="needs the embeddings a, b"):
        cov.score({"a": new["a"]})
    with pytest.raises(LightningEqError, match=r"expected \(N, 16\)"):
        cov.score({"a": new["a"], "b": new["a"]})


def test_pickle_round_trip_scores_the_same(coverage):
    probe = word_vectors(["p", "q", "r"])
    assert np.array_equal(pickle.loads(pickle.dumps(coverage)).score(probe), coverage.score(probe))
    assert len(pickle.dumps(coverage)) < 10_000


def test_bad_fit_inputs_say_what_to_do():
    with pytest.raises(LightningEqError, match="one word per row"):
        fit_coverage(word_vectors(WORDS), WORDS[:-1], embed_nonwords)
    with pytest.raises(LightningEqError, match="needs `embed`"):
        fit_coverage(word_vectors(WORDS), WORDS)
    with pytest.raises(LightningEqError, match="reads none"):
        fit_coverage({}, WORDS, embed_nonwords)
    with pytest.raises(LightningEqError, match="at least 2 training words"):
        fit_coverage({"fake": np.zeros((3, DIM))}, ["a", "b", "c"], embed_nonwords)


def test_nonwords_all_unknown_to_the_embedder_leave_known_texts_confident():
    cov = fit_coverage(word_vectors(WORDS), WORDS, lambda texts: {"fake": np.zeros((len(texts), DIM))}, per_kind=5)
    assert np.all(cov.score(word_vectors(["new"])) > 0.99)
    assert cov.score({"fake": np.zeros((1, DIM))}).tolist() == [0.0]


def test_clauses_combine_by_their_share_of_the_curve():
    assert combine_clauses([1.0, 0.0], [1.0, 1.0]) == pytest.approx(0.5)  # "warm and <no word>"
    assert combine_clauses([0.9, 0.3], [-1.0, 1.0]) == pytest.approx(0.6)  # "less boomy, more presence"
    assert combine_clauses([1.0, 0.0], [1.5, 0.5]) == pytest.approx(0.75)  # "very warm and slightly <no word>"
    assert combine_clauses([0.7], [2.0]) == pytest.approx(0.7)
    assert combine_clauses([0.2, 0.4], [0.0, 0.0]) == pytest.approx(0.3)
    with pytest.raises(LightningEqError, match="one weight per clause"):
        combine_clauses([1.0, 0.5], [1.0])


def test_module_needs_only_numpy_and_the_standard_library():
    """Inference imports it on every predict: no torch, sklearn or scipy (a cold start costs seconds)."""
    tree = ast.parse(Path(confidence.__file__).read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= {"__future__", "logging", "random", "string", "dataclasses", "typing", "numpy", "lightning_eq"}
