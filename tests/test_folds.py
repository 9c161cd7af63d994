import numpy as np

from lightning_eq.data.folds import N_FOLDS, hr_words, random_splits, validation_split, word_folds


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
