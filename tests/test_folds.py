import numpy as np
import pytest

from lightning_eq.data.folds import (
    N_FOLDS, bilingual_fold_test_words, bilingual_validation_split, bilingual_word_folds, fold_test_words, hr_words,
    random_splits, validation_split, word_folds,
)
from lightning_eq.data.socialeq import load_records
from lightning_eq.errors import DataError


def test_every_hq_and_hr_word_is_tested_exactly_once(data, hq_words):
    folds = word_folds(data, hq_words)
    assert len(folds) == N_FOLDS
    tested = [data.records[i].descriptor for f in folds for i in f.test]
    tested_words = [w for f in folds for w in sorted({data.records[i].descriptor for i in f.test})]
    expected = set(hq_words) | set(hr_words(data, hq_words))
    assert sorted(tested_words) == sorted(expected)  # each word in exactly one fold
    assert len(tested_words) == len(set(tested_words))
    assert len(tested) == sum(d in expected for d in data.descriptors)
    assert len(hr_words(data, hq_words)) == 86


def test_no_test_word_has_records_in_training(data, hq_words):
    for fold in word_folds(data, hq_words):
        train_words = {data.records[i].descriptor for i in fold.train}
        test_words = {data.records[i].descriptor for i in fold.test}
        assert not train_words & test_words
        assert len(fold.train) + len(fold.test) == len(data)


def test_hq_and_hr_words_are_spread_over_folds(data, hq_words):
    per_fold = [{data.records[i].descriptor for i in f.test} for f in word_folds(data, hq_words)]
    assert [len(s & set(hq_words)) for s in per_fold] == [8, 8, 8, 8]


def test_folds_are_deterministic(data, hq_words):
    a, b = word_folds(data, hq_words), word_folds(data, hq_words)
    assert all(np.array_equal(x.test, y.test) for x, y in zip(a, b))


def test_validation_words_lie_inside_the_training_part(data, hq_words):
    folds = word_folds(data, hq_words)
    for k, fold in enumerate(folds):
        val = validation_split(data, hq_words, k)
        assert set(val.test) <= set(fold.train)
        assert set(val.train) <= set(fold.train)
        assert not {data.records[i].descriptor for i in val.test} & {data.records[i].descriptor for i in val.train}


def test_random_split_is_80_20_and_seeded(data):
    a, b = random_splits(data, (0, 1)), random_splits(data, (0,))
    assert abs(len(a[0].test) - 0.2 * len(data)) < 1
    assert np.array_equal(a[0].test, b[0].test)
    assert not np.array_equal(a[0].test, a[1].test)
    assert not set(a[0].train) & set(a[0].test)


@pytest.fixture(scope="module")
def both():
    return load_records(language="all")


def _words(data, index):
    return {data.records[i].descriptor for i in index}


def test_every_spanish_word_is_tested_exactly_once(both, hq_words):
    folds = bilingual_word_folds(both, hq_words)
    spanish = sorted({r.descriptor for r in both.records if r.lang == "Español"})
    tested = [both.records[i].descriptor for f in folds for i in f.test if both.records[i].lang == "Español"]
    assert sorted(tested) == spanish and len(spanish) == 289  # single-record words: one record each
    per_fold = [sum(both.records[i].lang == "Español" for i in f.test) for f in folds]
    assert max(per_fold) - min(per_fold) <= 1


def test_english_test_words_are_those_of_the_english_folds(data, both, hq_words):
    english = fold_test_words(data, hq_words)
    for k, fold in enumerate(bilingual_word_folds(both, hq_words)):
        tested = {both.records[i].descriptor for i in fold.test if both.records[i].lang == "English"}
        assert tested == set(english[k])
        assert len([i for i in fold.test if both.records[i].lang == "English"]) == len(word_folds(data, hq_words)[k].test)


def test_no_bilingual_test_word_has_records_in_training(both, hq_words):
    folds = bilingual_word_folds(both, hq_words)
    for fold, words in zip(folds, bilingual_fold_test_words(both, hq_words)):
        assert not _words(both, fold.train) & set(words)
        assert _words(both, fold.test) <= set(words)
        assert not set(fold.train) & set(fold.test)


def test_a_string_of_both_languages_is_one_word(both, hq_words):
    """`hot` is an English HR word and a Spanish word: both languages' records are tested in the same fold;
    `music` is tested in Spanish only, so its English record leaves training without being scored."""
    folds = bilingual_word_folds(both, hq_words)
    for word in ("hot", "cool", "music", "tropical"):
        homes = [k for k, words in enumerate(bilingual_fold_test_words(both, hq_words)) if word in words]
        assert len(homes) == 1
        fold = folds[homes[0]]
        rows = [i for i, r in enumerate(both.records) if r.descriptor == word]
        assert not set(rows) & set(fold.train)
    hot = [k for k, f in enumerate(folds) if "hot" in _words(both, f.test)][0]
    assert {both.records[i].lang for i in folds[hot].test if both.records[i].descriptor == "hot"} == {"English", "Español"}
    assert {both.records[i].lang for f in folds for i in f.test if both.records[i].descriptor == "music"} == {"Español"}


def test_bilingual_folds_are_deterministic_and_need_english(both, hq_words):
    a, b = bilingual_word_folds(both, hq_words), bilingual_word_folds(both, hq_words)
    assert all(np.array_equal(x.test, y.test) and np.array_equal(x.train, y.train) for x, y in zip(a, b))
    with pytest.raises(DataError, match="no English records"):
        bilingual_word_folds(load_records(language="es"), hq_words)


def test_bilingual_validation_words_lie_inside_the_training_part(both, hq_words):
    for k, fold in enumerate(bilingual_word_folds(both, hq_words)):
        val = bilingual_validation_split(both, hq_words, k)
        assert set(val.test) <= set(fold.train) and set(val.train) <= set(fold.train)
        assert not _words(both, val.test) & _words(both, val.train)
        assert any(both.records[i].lang == "Español" for i in val.test)
