"""The shared policy-search protocol: random search and AutoAugment (TPE)."""

import json

import numpy as np
import optuna
import pandas as pd
import pytest
import torch
from _toy import SFREQ, TINY, fit_method, make_splits

from augsleep import AutoAugmentClassifier, RandomSearchClassifier, load
from augsleep.augment import make_operations
from augsleep.methods._search import (
    CHECKPOINT_COLUMNS,
    TRIAL_COLUMNS,
    choices_to_params,
    params_to_choices,
    policy_parameter_names,
)

SEARCHES = [RandomSearchClassifier, AutoAugmentClassifier]
# Seconds differ between runs; everything else of a seeded search must not.
TIMES = ["search_s", "step_search_s", "retrain_s", "total_s"]


@pytest.fixture(scope="module")
def data():
    return make_splits()


def fit(cls, data, test=False, **params):
    params = {**TINY, "search_budget": 4, "checkpoint_every": 2, **params}
    return fit_method(cls, data, test, **params)


@pytest.fixture(scope="module")
def fitted(data):
    """Both searches, 4 trials with a checkpoint every 2, scored on test data."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # module scope: before the autouse fixture
    try:
        return {cls: fit(cls, data, test=True) for cls in SEARCHES}
    finally:
        torch.set_num_threads(n)


def _no_times(frame):
    return frame.drop(columns=[c for c in [*TIMES, "time_s"] if c in frame])


# ------------------------------------------------------------------- protocol
def test_policy_parameters_round_trip():
    names = policy_parameter_names(5, 2)
    assert len(names) == 30 and names[:3] == [
        "sub0_stage0_operation",
        "sub0_stage0_probability",
        "sub0_stage0_magnitude",
    ]
    choices = [[("time_reverse", 0.5, 0.1), ("gaussian_noise", 0.2, 0.9)]]
    params = choices_to_params(choices)
    assert list(params) == policy_parameter_names(1, 2)
    assert params_to_choices(params, 1, 2) == choices


@pytest.mark.parametrize("cls", SEARCHES)
def test_trials_and_checkpoints_are_recorded(cls, fitted):
    clf = fitted[cls]
    trials = clf.trials_
    extra = ["study_trial"] if cls is AutoAugmentClassifier else []
    assert list(trials.columns) == [
        *TRIAL_COLUMNS,
        *extra,
        *policy_parameter_names(5, 2),
    ]
    assert trials.trial.tolist() == [0, 1, 2, 3]
    assert not trials.resumed.any()
    assert (trials.n_epochs <= 3).all() and (trials.time_s > 0).all()
    names = {op.name for op in make_operations(n_chans=1, sfreq=SFREQ)}
    for k in range(5):
        for s in range(2):
            assert set(trials[f"sub{k}_stage{s}_operation"]) <= names
            for field in ("probability", "magnitude"):
                values = trials[f"sub{k}_stage{s}_{field}"]
                assert ((values >= 0) & (values <= 1)).all()

    hist = clf.search_history_
    assert list(hist.columns) == list(CHECKPOINT_COLUMNS)
    assert hist.step.tolist() == [0, 1]
    assert hist.n_trials.tolist() == [2, 4]
    for row in hist.itertuples():
        # Each checkpoint retrains the best trial among those done so far.
        done = trials.valid_balanced_accuracy[: row.n_trials]
        assert row.best_trial == int(np.argmax(done))
        assert row.trial_valid_balanced_accuracy == done.max()
        chosen = trials.iloc[row.best_trial]
        expected = [[list(st) for st in sub] for sub in params_to_choices(chosen, 5, 2)]
        assert json.loads(row.policy) == expected
    assert clf.policy_.n_subpolicies == 5 and clf.policy_.n_stages == 2


@pytest.mark.parametrize(
    ("budget", "every", "expected"),
    [(7, 3, [3, 6, 7]), (6, 3, [3, 6]), (2, 5, [2]), (3, 1, [1, 2, 3])],
)
def test_checkpoints_every_few_trials_and_at_the_end(data, budget, every, expected):
    clf = fit(
        RandomSearchClassifier,
        data,
        search_budget=budget,
        checkpoint_every=every,
        n_subpolicies=2,
        max_epochs=1,
    )
    assert clf.search_history_.n_trials.tolist() == expected
    assert len(clf.trials_) == budget


@pytest.mark.parametrize("cls", SEARCHES)
def test_seconds_add_up(cls, fitted):
    clf = fitted[cls]
    hist, times = clf.search_history_, clf.compute_time_
    assert (hist.step_search_s > 0).all() and (hist.retrain_s > 0).all()
    np.testing.assert_allclose(hist.search_s, hist.step_search_s.cumsum())
    assert hist.search_s.is_monotonic_increasing
    assert (hist.pretrain_s == 0).all() and times["pretrain_s"] == 0
    np.testing.assert_allclose(
        hist.total_s, hist.pretrain_s + hist.search_s + hist.retrain_s
    )
    assert (hist.total_s >= hist.search_s + hist.retrain_s).all()
    # compute_time_: the search's segments, every checkpoint's retraining.
    assert times["search_s"] == pytest.approx(hist.search_s.iloc[-1])
    assert times["retrain_s"] == pytest.approx(hist.retrain_s.sum())
    assert clf.trials_.time_s.sum() <= times["search_s"]
    assert clf.history_.dur_s.sum() <= times["retrain_s"]
    assert times["search_s"] + times["retrain_s"] <= times["total_s"]


@pytest.mark.parametrize("cls", SEARCHES)
def test_final_model_is_the_best_checkpoint(cls, fitted, data):
    _, _, X_val, y_val, X_test, y_test = data
    clf = fitted[cls]
    hist = clf.search_history_
    best = int(np.argmax(hist.valid_balanced_accuracy))
    assert clf.best_valid_score_ == hist.valid_balanced_accuracy.max()
    # Kept as retrained (best epoch restored), not trained again.
    assert clf.score(X_val, y_val) == pytest.approx(clf.best_valid_score_)
    assert clf.history_.valid_balanced_accuracy.max() == clf.best_valid_score_
    assert [list(map(list, sub)) for sub in clf.policy_choices_] == json.loads(
        hist.policy.iloc[best]
    )
    assert clf.score(X_test, y_test) == pytest.approx(
        hist.test_balanced_accuracy.iloc[best]
    )
    summary = clf.augmentation_summary_
    assert len(summary) == 10  # one operation per stage, 5 x 2


@pytest.mark.parametrize("cls", SEARCHES)
def test_test_data_are_scored_and_choose_nothing(cls, fitted, data):
    _, _, X_val, _, X_test, _ = data
    with_test = fitted[cls]
    without = fit(cls, data)
    assert "test_balanced_accuracy" not in without.search_history_
    hist = with_test.search_history_
    assert np.isfinite(hist.test_balanced_accuracy).all()
    pd.testing.assert_frame_equal(
        _no_times(without.trials_), _no_times(with_test.trials_)
    )
    pd.testing.assert_frame_equal(
        _no_times(without.search_history_),
        _no_times(hist.drop(columns="test_balanced_accuracy")),
    )
    assert without.policy_choices_ == with_test.policy_choices_
    np.testing.assert_array_equal(
        without.predict_proba(X_val), with_test.predict_proba(X_val)
    )
    X, y, X_val, y_val, _, _ = data
    with pytest.raises(ValueError, match="both X_test and y_test"):
        cls(**TINY).fit(X, y, X_val=X_val, y_val=y_val, X_test=X_test)


@pytest.mark.parametrize("cls", SEARCHES)
def test_seeded_search_is_reproducible(cls, fitted, data):
    a = fitted[cls]
    b = fit(cls, data, test=True)
    pd.testing.assert_frame_equal(_no_times(a.trials_), _no_times(b.trials_))
    pd.testing.assert_frame_equal(
        _no_times(a.search_history_), _no_times(b.search_history_)
    )
    assert a.policy_choices_ == b.policy_choices_
    other = fit(cls, data, random_state=1)
    params = policy_parameter_names(5, 2)
    assert not a.trials_[params].equals(other.trials_[params])


@pytest.mark.parametrize("cls", SEARCHES)
def test_a_validation_set_is_required(cls, data):
    X, y, *_ = data
    with pytest.raises(ValueError, match="validation set"):
        cls(**{**TINY, "validation_fraction": None}).fit(X, y)


@pytest.mark.parametrize("cls", SEARCHES)
def test_operations_are_checked_before_any_training(cls, data, monkeypatch):
    X, y, X_val, y_val, *_ = data

    def no_training(*args, **kwargs):
        raise AssertionError("trained before the operations were checked")

    monkeypatch.setattr(cls, "_fit_module", no_training)
    with pytest.raises(ValueError, match="single channel"):
        cls(operations=("channels_shuffle",), **TINY).fit(
            X, y, X_val=X_val, y_val=y_val
        )


def test_operations_restrict_the_search(data):
    clf = fit(RandomSearchClassifier, data, operations=("gaussian_noise", "sign_flip"))
    ops = clf.trials_.filter(like="_operation")
    assert set(np.unique(ops.to_numpy())) == {"gaussian_noise", "sign_flip"}
    assert set(clf.augmentation_summary_["transform"]) <= {
        "gaussian_noise",
        "sign_flip",
    }


@pytest.mark.parametrize("cls", SEARCHES)
def test_save_load_keeps_the_search(cls, fitted, data, tmp_path):
    _, _, X_val, *_ = data
    clf = fitted[cls]
    clf.save(tmp_path / "search.pt")
    loaded = load(tmp_path / "search.pt", trusted=True)  # the toy trunk is pickled
    assert type(loaded) is cls
    pd.testing.assert_frame_equal(loaded.search_history_, clf.search_history_)
    pd.testing.assert_frame_equal(loaded.trials_, clf.trials_)
    assert [list(map(tuple, sub)) for sub in loaded.policy_choices_] == (
        clf.policy_choices_
    )
    np.testing.assert_array_equal(loaded.predict_proba(X_val), clf.predict_proba(X_val))
    assert loaded.augmentation_summary_.equals(clf.augmentation_summary_)


# ---------------------------------------------------------------- AutoAugment
def test_autoaugment_trials_are_the_studys_suggestions(data, tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    clf = fit(AutoAugmentClassifier, data, storage=storage, study_name="s")
    study = optuna.load_study(study_name="s", storage=storage)
    assert [t.number for t in study.trials] == clf.trials_.study_trial.tolist()
    for t, (_, row) in zip(study.trials, clf.trials_.iterrows(), strict=True):
        assert t.value == row.valid_balanced_accuracy
        assert all(row[name] == value for name, value in t.params.items())
        assert t.user_attrs["n_epochs"] == row.n_epochs
        assert t.user_attrs["time_s"] == row.time_s


def test_autoaugment_resumes_an_interrupted_search(data, tmp_path, monkeypatch):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    params = dict(storage=storage, study_name="resume", search_budget=4)
    params["checkpoint_every"] = 10  # only the end checkpoint
    calls = []
    fit_module = AutoAugmentClassifier._fit_module

    class Interrupted(Exception):
        pass

    def counting(self, data_, seeds):
        calls.append(seeds)
        if interrupt_at is not None and len(calls) == interrupt_at:
            raise Interrupted
        return fit_module(self, data_, seeds)

    monkeypatch.setattr(AutoAugmentClassifier, "_fit_module", counting)
    interrupt_at = 3  # the third trial is interrupted
    with pytest.raises(Interrupted):
        fit(AutoAugmentClassifier, data, **params)
    study = optuna.load_study(study_name="resume", storage=storage)
    states = [t.state for t in study.trials]
    assert states == [optuna.trial.TrialState.COMPLETE] * 2 + [
        optuna.trial.TrialState.FAIL
    ]

    calls.clear()
    interrupt_at = None
    clf = fit(AutoAugmentClassifier, data, **params)
    # The two finished trials are not run again: 2 trials + 1 retraining.
    assert len(calls) == 3
    trials = clf.trials_
    assert trials.trial.tolist() == [0, 1, 2, 3]
    assert trials.resumed.tolist() == [True, True, False, False]
    assert trials.study_trial.tolist() == [0, 1, 3, 4]  # the failed 2 is skipped
    hist = clf.search_history_
    assert hist.n_trials.tolist() == [4]
    # The resumed trials' recorded seconds count in the search's cumulative time.
    assert hist.search_s.iloc[0] >= trials.time_s.sum()
    assert clf.compute_time_["search_s"] < hist.search_s.iloc[0]

    # A finished study: no trial runs, only the end checkpoint's retraining.
    calls.clear()
    again = fit(AutoAugmentClassifier, data, **params)
    assert len(calls) == 1
    assert again.trials_.resumed.all()
    pd.testing.assert_frame_equal(
        again.trials_.drop(columns="resumed"), trials.drop(columns="resumed")
    )
    assert again.policy_choices_ == clf.policy_choices_
    # A smaller budget takes the first finished trials.
    calls.clear()
    first = fit(AutoAugmentClassifier, data, **{**params, "search_budget": 2})
    assert len(calls) == 1 and first.trials_.study_trial.tolist() == [0, 1]


def test_autoaugment_refuses_a_study_of_another_search_space(data, tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    params = dict(storage=storage, study_name="s", search_budget=1)
    fit(AutoAugmentClassifier, data, max_epochs=1, **params)
    with pytest.raises(ValueError, match="another space"):
        fit(AutoAugmentClassifier, data, n_stages=1, **params)
    with pytest.raises(ValueError, match="another space"):
        fit(AutoAugmentClassifier, data, operations=("gaussian_noise",), **params)


def test_autoaugment_storage_needs_a_study_name(data, tmp_path):
    with pytest.raises(ValueError, match="needs a study_name"):
        fit(AutoAugmentClassifier, data, storage=f"sqlite:///{tmp_path / 'x.db'}")


def test_autoaugment_is_quiet_unless_verbose(data, capfd):
    level = optuna.logging.get_verbosity()
    fit(AutoAugmentClassifier, data, search_budget=1, max_epochs=1)
    err = capfd.readouterr().err
    assert "Trial" not in err and "study created" not in err
    assert optuna.logging.get_verbosity() == level  # put back after the search


def test_autoaugment_proposes_with_a_seeded_tpe(data, tmp_path, monkeypatch):
    seeds = []
    tpe = optuna.samplers.TPESampler

    def recording(*args, seed=None, **kwargs):
        seeds.append(seed)
        return tpe(*args, seed=seed, **kwargs)

    monkeypatch.setattr(optuna.samplers, "TPESampler", recording)
    params = dict(search_budget=1, max_epochs=1)
    fit(AutoAugmentClassifier, data, **params)
    fit(AutoAugmentClassifier, data, **params)
    fit(AutoAugmentClassifier, data, random_state=1, **params)
    assert all(isinstance(s, int) for s in seeds)
    assert seeds[0] == seeds[1] != seeds[2]  # from random_state
    # Resuming reseeds TPE (from the count of finished trials): its first random
    # proposals do not repeat those already in the study.
    storage = dict(storage=f"sqlite:///{tmp_path / 's.db'}", study_name="s")
    seeds.clear()
    fit(AutoAugmentClassifier, data, **params, **storage)
    fit(AutoAugmentClassifier, data, **{**params, "search_budget": 2}, **storage)
    assert seeds[0] != seeds[1]
