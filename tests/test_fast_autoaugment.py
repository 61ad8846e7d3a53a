"""Fast AutoAugment: pretrained folds, density-matching TPE search, merged policy."""

import json

import numpy as np
import optuna
import pandas as pd
import pytest
import torch
from _toy import TINY, fit_method, make_splits

from augsleep import FastAutoAugmentClassifier, load
from augsleep.augment import Policy
from augsleep.data import make_ramps
from augsleep.methods._search import CHECKPOINT_COLUMNS, TRIAL_COLUMNS
from augsleep.methods.fast_autoaugment import FOLD_COLUMNS, merge_top_policies

Cls = FastAutoAugmentClassifier

# 2 folds, 4 trials per fold, the 2 best of each merged, a checkpoint every 2.
SMALL = dict(search_budget=4, checkpoint_every=2, n_folds=2, n_top=2)
TIMES = ["search_s", "step_search_s", "retrain_s", "total_s", "pretrain_s"]


@pytest.fixture(scope="module")
def data():
    return make_splits()


def fit(data, test=False, **params):
    return fit_method(
        FastAutoAugmentClassifier, data, test, **{**TINY, **SMALL, **params}
    )


@pytest.fixture(scope="module")
def fitted(data):
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # module scope: before the autouse fixture
    try:
        return fit(data, test=True)
    finally:
        torch.set_num_threads(n)


def _no_times(frame):
    return frame.drop(columns=[c for c in [*TIMES, "time_s"] if c in frame])


# -------------------------------------------------------------- the objective
def test_density_matching_identity_and_label_destroying_policies(monkeypatch):
    X, y = make_ramps(60, random_state=0)
    X_val, y_val = make_ramps(20, random_state=1)
    calls = []
    score = Cls._density_matching_score

    def recording(self, module, policy, X_da, y_da, seed):
        calls.append((module, X_da, y_da, seed, policy.choices()))
        return score(self, module, policy, X_da, y_da, seed)

    monkeypatch.setattr(Cls, "_density_matching_score", recording)
    clf = Cls(
        **{**TINY, "max_epochs": 15, "patience": 15},
        search_budget=2,
        checkpoint_every=2,
        n_folds=2,
        n_top=1,
        n_subpolicies=1,
        operations=("time_reverse", "gaussian_noise"),
    ).fit(X, y, X_val=X_val, y_val=y_val)
    monkeypatch.undo()
    ops = clf._operations()
    for k in range(2):
        module, X_da, y_da, seed, _ = calls[k]  # round 0: fold k's first trial
        assert len(X_da) == clf.folds_.n_heldout[k] == 30

        def objective(choices, module=module, X_da=X_da, y_da=y_da, seed=seed):
            policy = Policy.from_choices(ops, choices)
            return clf._density_matching_score(module, policy, X_da, y_da, seed)

        plain = clf.folds_.heldout_balanced_accuracy[k]
        assert plain >= 0.9  # the unaugmented model separates the ramps
        identity = [[("time_reverse", 0.0, 0.5), ("gaussian_noise", 0.0, 1.0)]]
        assert objective(identity) == plain
        reversing = [[("time_reverse", 1.0, 0.0), ("gaussian_noise", 0.0, 1.0)]]
        assert objective(reversing) <= 0.1 < plain - 0.5
    # A trial's recorded score is its policy's objective (same draws per fold).
    for (module, X_da, y_da, seed, choices), row in zip(
        calls, clf.trials_.itertuples(), strict=True
    ):
        policy = Policy.from_choices(ops, choices)
        assert row.valid_balanced_accuracy == clf._density_matching_score(
            module, policy, X_da, y_da, seed
        )
    assert [c[3] for c in calls[:2]] == [c[3] for c in calls[2:]]  # seed per fold
    assert calls[0][3] != calls[1][3]


# ------------------------------------------------------------------- protocol
def test_folds_pretrain_without_augmentation_then_retrain_on_all(data, monkeypatch):
    X = data[0]
    calls = []
    fit_module = Cls._fit_module

    def recording(self, data_, seeds):
        calls.append((len(data_.X_train), self.policy_choices_, seeds))
        result = fit_module(self, data_, seeds)
        calls[-1] += (self.module_.augmentation.summary().empty,)
        return result

    monkeypatch.setattr(Cls, "_fit_module", recording)
    clf = fit(data, max_epochs=1)
    # Two pretrainings on D_M (the other fold: half the windows), no policy.
    assert [c[0] for c in calls[:2]] == [24, 24]
    assert all(c[1] is None and c[3] for c in calls[:2])
    assert calls[0][2] != calls[1][2]  # seeds of their own
    # Then one retraining per checkpoint, on every window, with a merged policy.
    assert len(calls) == 2 + len(clf.search_history_)
    for (n, choices, _, identity), row in zip(
        calls[2:], clf.search_history_.itertuples(), strict=True
    ):
        assert n == len(X) and not identity
        assert [list(map(list, sub)) for sub in choices] == json.loads(row.policy)


def test_trials_folds_and_merged_policy(fitted, data):
    X = data[0]
    clf = fitted
    trials = clf.trials_
    assert list(trials.columns[:9]) == [
        *TRIAL_COLUMNS,
        "fold",
        "study_trial",
        "selected",
    ]
    assert len(trials.columns) == 9 + 30
    assert trials.trial.tolist() == list(range(8))
    # Round by round: one trial per fold, each fold's study numbering its own.
    assert trials.fold.tolist() == [0, 1] * 4
    assert trials.study_trial.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert trials.best_epoch.isna().all() and trials.n_epochs.isna().all()
    assert not trials.resumed.any() and (trials.time_s > 0).all()

    folds = clf.folds_
    assert list(folds.columns) == list(FOLD_COLUMNS)
    assert folds.fold.tolist() == [0, 1]
    assert (folds.n_train + folds.n_heldout == len(X)).all()
    assert folds.n_heldout.sum() == len(X)  # every window held out once

    # Merged: the 2 best policies of each of the 2 folds, 5 sub-policies each.
    assert len(clf.policy_choices_) == 2 * 2 * 5
    assert clf.policy_.n_subpolicies == 20
    torch.testing.assert_close(clf.policy_.subpolicy_weights, torch.full((20,), 0.05))
    assert trials.selected.sum() == 4
    # selected: the policies merged at the best checkpoint, from its trials.
    hist = clf.search_history_
    best = hist.iloc[int(np.argmax(hist.valid_balanced_accuracy))]
    done = trials.iloc[: best.n_trials]
    for fold in (0, 1):
        mine = done[done.fold == fold]
        top = mine.sort_values(
            "valid_balanced_accuracy", ascending=False, kind="stable"
        )
        assert set(top.trial.iloc[:2]) == set(mine.trial[mine.selected])


def test_fewer_trials_than_n_top_merge_them_all(data):
    clf = fit(data, search_budget=2, n_top=10, n_subpolicies=2, max_epochs=1)
    assert len(clf.policy_choices_) == 2 * 2 * 2  # folds x trials x sub-policies
    assert clf.trials_.selected.all()


def test_checkpoints_retrain_the_policy_merged_so_far(fitted):
    clf = fitted
    hist, trials = clf.search_history_, clf.trials_
    assert list(hist.columns) == list(CHECKPOINT_COLUMNS)
    assert hist.n_trials.tolist() == [4, 8]  # every 2 trials per fold, 2 folds
    records = trials.to_dict("records")
    for row in hist.itertuples():
        done = records[: row.n_trials]
        choices, selected = merge_top_policies(done, 2, 2, 5, 2)
        assert json.loads(row.policy) == [[list(st) for st in sub] for sub in choices]
        best = trials.iloc[selected].valid_balanced_accuracy
        assert row.trial_valid_balanced_accuracy == best.max()
        assert row.best_trial in selected


def test_final_model_is_the_best_checkpoint(fitted, data):
    _, _, X_val, y_val, X_test, y_test = data
    clf = fitted
    hist = clf.search_history_
    best = int(np.argmax(hist.valid_balanced_accuracy))
    assert clf.best_valid_score_ == hist.valid_balanced_accuracy.max()
    assert clf.score(X_val, y_val) == pytest.approx(clf.best_valid_score_)
    assert [list(map(list, sub)) for sub in clf.policy_choices_] == json.loads(
        hist.policy.iloc[best]
    )
    assert clf.score(X_test, y_test) == pytest.approx(
        hist.test_balanced_accuracy.iloc[best]
    )
    assert len(clf.augmentation_summary_) == 20 * 2  # one operation per stage


def test_seconds_add_up(fitted):
    clf = fitted
    hist, times = clf.search_history_, clf.compute_time_
    assert times["pretrain_s"] > 0
    assert (hist.pretrain_s == times["pretrain_s"]).all()
    assert times["pretrain_s"] >= clf.folds_.time_s.sum()
    np.testing.assert_allclose(
        hist.total_s, hist.pretrain_s + hist.search_s + hist.retrain_s
    )
    np.testing.assert_allclose(hist.search_s, hist.step_search_s.cumsum())
    assert times["search_s"] == pytest.approx(hist.search_s.iloc[-1])
    assert times["retrain_s"] == pytest.approx(hist.retrain_s.sum())
    assert clf.trials_.time_s.sum() <= times["search_s"]
    assert (
        times["pretrain_s"] + times["search_s"] + times["retrain_s"] <= times["total_s"]
    )


def test_seeded_search_is_reproducible(fitted, data, monkeypatch):
    seeds = []
    tpe = optuna.samplers.TPESampler

    def recording(*args, seed=None, **kwargs):
        seeds.append(seed)
        return tpe(*args, seed=seed, **kwargs)

    monkeypatch.setattr(optuna.samplers, "TPESampler", recording)
    again = fit(data, test=True)
    pd.testing.assert_frame_equal(_no_times(fitted.trials_), _no_times(again.trials_))
    pd.testing.assert_frame_equal(
        _no_times(fitted.search_history_), _no_times(again.search_history_)
    )
    pd.testing.assert_frame_equal(
        fitted.folds_.drop(columns="time_s"), again.folds_.drop(columns="time_s")
    )
    assert fitted.policy_choices_ == again.policy_choices_
    other = fit(data, random_state=1)
    params = [c for c in fitted.trials_ if c.startswith("sub")]
    assert not fitted.trials_[params].equals(other.trials_[params])
    # One seeded TPE per fold, seeds from random_state.
    assert len(seeds) == 4 and all(isinstance(s, int) for s in seeds)
    assert seeds[0] != seeds[1] and seeds[:2] != seeds[2:]


def test_test_data_choose_nothing(fitted, data):
    without = fit(data)
    assert "test_balanced_accuracy" not in without.search_history_
    pd.testing.assert_frame_equal(_no_times(without.trials_), _no_times(fitted.trials_))
    assert without.policy_choices_ == fitted.policy_choices_


def test_bad_settings_fail_before_training(data, monkeypatch):
    X, y, X_val, y_val, *_ = data
    with pytest.raises(ValueError, match="validation set"):
        FastAutoAugmentClassifier(**{**TINY, "validation_fraction": None}).fit(X, y)
    with pytest.raises(ValueError, match="at least as many training windows"):
        FastAutoAugmentClassifier(**TINY, n_folds=3).fit(
            X[:2], y[:2], X_val=X_val[:2], y_val=y_val[:2]
        )

    def no_training(*args, **kwargs):
        raise AssertionError("trained before the operations were checked")

    monkeypatch.setattr(Cls, "_fit_module", no_training)
    with pytest.raises(ValueError, match="single channel"):
        fit(data, operations=("channels_shuffle",))


def test_save_load_keeps_the_search(fitted, data, tmp_path):
    X_val = data[2]
    fitted.save(tmp_path / "fast.pt")
    loaded = load(tmp_path / "fast.pt", trusted=True)  # the toy trunk is pickled
    assert type(loaded) is FastAutoAugmentClassifier
    for name in ("search_history_", "trials_", "folds_"):
        pd.testing.assert_frame_equal(getattr(loaded, name), getattr(fitted, name))
    assert [list(map(tuple, sub)) for sub in loaded.policy_choices_] == (
        fitted.policy_choices_
    )
    np.testing.assert_array_equal(
        loaded.predict_proba(X_val), fitted.predict_proba(X_val)
    )
    assert loaded.compute_time_ == fitted.compute_time_


def test_resumes_an_interrupted_search_from_its_storage(data, tmp_path, monkeypatch):
    # 2 folds x 3 trials, interrupted (Ctrl-C) in fold 0's second trial: a fit
    # on the same storage takes the 2 finished trials, pretrains the same fold
    # models again and runs the 4 other trials (TPE reseeded).
    storage = f"sqlite:///{tmp_path / 'faa.db'}"
    params = dict(search_budget=3, checkpoint_every=1, storage=storage)
    params["study_name"] = "faa"
    reference = fit(data, **{**params, "storage": None, "study_name": None})
    score = Cls._density_matching_score
    calls = []

    def counting(self, *args):
        calls.append(args)
        if interrupt_at is not None and len(calls) == interrupt_at:
            raise KeyboardInterrupt
        return score(self, *args)

    monkeypatch.setattr(Cls, "_density_matching_score", counting)
    interrupt_at = 3  # round 0: folds 0 and 1; round 1: fold 0
    with pytest.raises(KeyboardInterrupt):
        fit(data, **params)
    states = {
        k: [
            t.state
            for t in optuna.load_study(
                study_name=f"faa-fold{k}", storage=storage
            ).trials
        ]
        for k in (0, 1)
    }
    complete, failed = optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL
    assert states == {0: [complete, failed], 1: [complete]}

    calls.clear()
    interrupt_at = None
    clf = fit(data, **params)
    assert len(calls) == 4  # 6 trials, 2 of them resumed
    trials = clf.trials_
    assert trials.resumed.tolist() == [True, True] + [False] * 4
    assert trials.fold.tolist() == [0, 1] * 3
    assert trials.trial.tolist() == list(range(6))
    assert trials.study_trial.tolist() == [0, 0, 2, 1, 3, 2]  # fold 0's 1 failed
    # The resumed scores were measured on the same pretrained models.
    cols = ["valid_balanced_accuracy", *[c for c in trials if c.startswith("sub")]]
    pd.testing.assert_frame_equal(
        trials[cols].iloc[:2], reference.trials_[cols].iloc[:2]
    )
    pd.testing.assert_frame_equal(
        clf.folds_.drop(columns="time_s"), reference.folds_.drop(columns="time_s")
    )
    # Checkpoints at the rounds this fit ran (1 and 2), the resumed round not.
    assert clf.search_history_.n_trials.tolist() == [4, 6]
    assert clf.search_history_.search_s.iloc[-1] > clf.compute_time_["search_s"]

    # Finished studies: nothing is searched again, only the end checkpoint.
    calls.clear()
    again = fit(data, **params)
    assert not calls and again.trials_.resumed.all()
    # The end checkpoint merges the same trials (clf may have kept round 1's).
    assert again.search_history_.n_trials.tolist() == [6]
    assert again.search_history_.policy.iloc[0] == clf.search_history_.policy.iloc[-1]


def test_storage_needs_a_study_name(data, tmp_path):
    with pytest.raises(ValueError, match="needs a study_name"):
        fit(data, storage=f"sqlite:///{tmp_path / 'x.db'}")


def test_folds_by_group():
    from augsleep.methods.fast_autoaugment import fold_indices

    y = np.arange(40) % 2
    groups = np.repeat(np.arange(8), 5)
    for labels in (y, np.r_[np.zeros(38, int), 1, 1]):  # stratified, or not
        folds = fold_indices(labels, 4, seed=0, groups=groups)
        held_out = np.concatenate([da for _, da in folds])
        assert sorted(held_out) == list(range(40))  # every window held out once
        for dm, da in folds:
            assert not set(groups[dm]) & set(groups[da])
    with pytest.raises(ValueError, match="at least as many groups.*got 3"):
        fold_indices(y, 4, seed=0, groups=groups % 3)


def test_fit_with_groups_splits_the_folds_by_group(data, monkeypatch):
    # The validation split (by group) and the folds (by group) of the rest.
    import augsleep.methods.fast_autoaugment as faa

    X, y = data[:2]
    groups = np.repeat(np.arange(8), 6)
    seen = []
    fold_indices = faa.fold_indices

    def spy(y_enc, n_folds, seed, groups=None):
        seen.append(groups)
        return fold_indices(y_enc, n_folds, seed, groups=groups)

    monkeypatch.setattr(faa, "fold_indices", spy)
    clf = FastAutoAugmentClassifier(
        **{**TINY, **SMALL, "search_budget": 1, "validation_fraction": 0.25}
    )
    clf.fit(X, y, groups=groups)
    (train_groups,) = seen
    assert len(np.unique(train_groups)) == 6  # 2 of the 8 groups validate
    assert clf.folds_.n_heldout.sum() == len(train_groups) == 36
