"""Known training words: a word's few records shrunk toward what the model predicts for it unseen (λ chosen by the
training words, leave one record out), stored with the model and answered by predict; and the language of a
description, which its intensity and opposite words count for ("un poco más brillante" is Spanish)."""

from __future__ import annotations

import numpy as np
import pytest

from lightning_eq.config import Config, merge
from lightning_eq.curves import unit_to_z
from lightning_eq.data.table import Table
from lightning_eq.data.table import language_code
from lightning_eq.language import identify
from lightning_eq.models.baselines import MeanBaseline
from lightning_eq.models.store import StoredModel, load_model, save_model
from lightning_eq.predict import Predictor
from lightning_eq.search.objective import choose_word_prior, cross_validate, shrunk_word_curves

GRID = Config().word_prior_records


def synthetic(spread: float, noise: float, words: int = 400, seed: int = 0) -> tuple[Table, np.ndarray]:
    """Words whose true curve is the model's prediction m plus N(0, spread²) per band, each rated 2-6 times with
    N(0, noise²) rater noise: the best shrinkage is λ = noise² / spread² records (the posterior mean)."""
    rng = np.random.default_rng(seed)
    names, curves, oof = [], [], []
    for w in range(words):
        m = rng.uniform(0.3, 0.7, 40)
        true = m + rng.normal(0, spread, 40)
        for _ in range(rng.integers(2, 7)):
            names.append(f"w{w}")
            curves.append(true + rng.normal(0, noise, 40))
            oof.append(m)
    n = len(names)
    return Table(tuple(names), ("en",) * n, np.array(curves), np.ones(n), tuple(range(n)), tuple(range(n))), np.array(oof)


@pytest.mark.parametrize("spread, noise, expected", [(0.03, 0.06, 4.0), (0.06, 0.06, 1.0), (0.0, 0.06, 256.0),
                                                     (0.06, 0.0, 0.0)])
def test_the_prior_is_the_rater_noise_over_the_spread_of_words(spread, noise, expected):
    table, oof = synthetic(spread, noise)
    prior, mae = choose_word_prior(oof, table, GRID)
    assert prior == expected
    assert mae <= choose_word_prior(oof, table, [0.0])[1]  # never worse than trusting the records alone


def test_without_a_word_of_two_records_the_model_is_trusted():
    table, oof = synthetic(0.03, 0.06, words=20)
    first = np.unique(table.words, return_index=True)[1]
    prior, mae = choose_word_prior(oof[first], table.take(first), GRID)
    assert prior == max(GRID) and np.isnan(mae)


def test_a_stored_curve_lies_between_the_words_records_and_the_models_unseen_prediction(table, vectors):
    result = cross_validate("ridge", merge(Config(), {"baseline.embedder": "glove"}), table, vectors)
    prior = result.resolved["word_prior_records"][0]
    assert prior in GRID and result.value == cross_validate("ridge", merge(Config(), {"baseline.embedder": "glove",
                                                             "word_prior_records": [0.0]}), table, vectors).value
    curves = shrunk_word_curves(result.oof, table, prior)
    assert set(curves) == set(table.words)
    for word, curve in curves.items():
        rows = [i for i, w in enumerate(table.words) if w == word]
        mean, m = table.curves_unit[rows].mean(axis=0), result.oof[rows].mean(axis=0)
        low, high = np.minimum(mean, m), np.maximum(mean, m)
        assert np.all(curve >= low - 1e-12) and np.all(curve <= high + 1e-12)
        keep = len(rows) / (len(rows) + prior)  # the share of the way from m to the records' mean
        np.testing.assert_allclose(curve, m + keep * (mean - m))


def _route(data_all, languages: set[str], known: dict | None = None) -> StoredModel:
    rows = [i for i, r in enumerate(data_all.records) if language_code(r.lang) in languages]
    table = Table.from_records(data_all.records, rows)
    model = MeanBaseline()
    model.fit({}, table.curves_unit, list(table.words))
    return StoredModel("mean", Config(), model, words=tuple(table.vocabulary), known=known)


@pytest.fixture(scope="module")
def router(data_all):
    """English route and multilingual route with the real training vocabularies (mean models: no embedder)."""
    return Predictor({"en": _route(data_all, {"en"}), "multi": _route(data_all, {"en", "es"})})


@pytest.mark.parametrize("text, language", [
    ("un poco más brillante", "es"), ("menos brillante", "es"), ("no tan brillante", "es"), ("muy cálido", "es"),
    ("muy brillante", "es"), ("very warm", "en"), ("a bit more bright", "en"), ("warm", "en")])
def test_intensity_and_opposite_words_count_for_the_language(router, text, language):
    """Regression: "brillante" has one English record, so "un poco más brillante" went to the English model."""
    assert router.language(text) == language
    assert identify(text) == language
    expected = router.routes["en"] if language == "en" else router.routes["multi"]
    assert router.route_for(router.language(text)) is expected
    assert router.predict([text])[0].language == language


def test_an_english_modifier_on_an_english_training_word_stays_english_and_identify_calls_it_mixed(router):
    """"less brillante": every phrase is an English training word and no word is Spanish-only, so the route is
    English; the identifier alone, which reads "brillante" as Spanish, calls it mixed."""
    assert router.language("less brillante") == "en"
    assert identify("less brillante") is None


def test_predict_answers_a_known_word_with_its_stored_curve_and_any_other_phrase_with_the_model(tmp_path, data_all):
    stored_unit = np.linspace(0.4, 0.6, 40)
    route = _route(data_all, {"en"}, known={"brillante": stored_unit})
    save_model(route, tmp_path)
    predictor = Predictor({"en": load_model(tmp_path, "mean")})
    known, other = predictor.predict(["Brillante", "glorbish"])
    np.testing.assert_allclose(known.curve_z, unit_to_z(stored_unit))
    np.testing.assert_allclose(other.curve_z, unit_to_z(route.model.mean_unit))
    less = predictor.predict(["less brillante"])[0]
    np.testing.assert_allclose(less.curve_z, -(unit_to_z(stored_unit) - unit_to_z(stored_unit).mean()) /
                               unit_to_z(stored_unit).std(), atol=1e-9)  # the stored shape turned upside down
