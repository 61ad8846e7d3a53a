"""Subject-wise splitter (paper protocol) and the sinusoid dataset interface."""

import numpy as np
import pytest

from augsleep.data import SubjectSplit, load_sinusoids, make_sinusoids, to_numpy


def test_paper_protocol_60_nights():
    subjects = np.arange(1, 61)
    folds = list(SubjectSplit(5, 0.5, random_state=0).split_subjects(subjects))
    assert len(folds) == 5
    tests = []
    for train, valid, test in folds:
        assert (len(train), len(valid), len(test)) == (24, 24, 12)
        assert not set(train) & set(valid) | set(train) & set(test)
        assert not set(valid) & set(test)
        tests.extend(test)
    assert sorted(tests) == list(subjects)  # every subject tested exactly once
    again = list(SubjectSplit(5, 0.5, random_state=0).split_subjects(subjects))
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(folds, again, strict=True))


def test_window_split_keeps_subject_nights_together():
    # Sleep-EDF-like: 10 subjects with two nights each, 7 windows per night.
    groups = np.repeat(np.arange(10), 14)
    splitter = SubjectSplit(n_splits=5, valid_size=2, random_state=3)
    assert splitter.get_n_splits() == 5
    for train, valid, test in splitter.split(groups=groups):
        assert len(train) + len(valid) + len(test) == len(groups)
        sets = [set(groups[i]) for i in (train, valid, test)]
        assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
        assert len(sets[1]) == 2 and len(sets[2]) == 2
    with pytest.raises(ValueError, match="needs groups"):
        next(splitter.split(np.zeros(3)))
    with pytest.raises(ValueError, match="Cannot make 5 folds out of 3"):
        next(splitter.split(groups=[0, 1, 2]))


def test_split_dataset_and_sinusoids():
    ds = load_sinusoids(200, n_recordings=10, random_state=0)
    X, y, groups = to_numpy(ds)
    X_ref, y_ref = make_sinusoids(200, random_state=0)
    assert X.shape == X_ref.shape == (200, 1, 1000)
    np.testing.assert_array_equal(X[:20], X_ref[0::10])
    np.testing.assert_array_equal(y[:20], y_ref[0::10])
    assert sorted(set(groups)) == list(range(10))
    for parts in SubjectSplit(5, 0.25, random_state=0).split_dataset(ds):
        sizes = [len(parts[k].datasets) for k in ("train", "valid", "test")]
        assert sizes == [6, 2, 2]
        subjects = [set(parts[k].description["subject"]) for k in parts]
        assert not (subjects[0] & subjects[2] or subjects[1] & subjects[2])
