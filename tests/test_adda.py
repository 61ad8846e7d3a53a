"""ADDA: warm start, bilevel search of a relaxed policy, export, retraining."""

import json

import numpy as np
import pytest
import torch
from _toy import TINY, fit_method, make_splits
from sklearn.utils._param_validation import InvalidParameterError

import augsleep.methods._bilevel as bilevel_module
from augsleep import ADDAClassifier
from augsleep.augment import Policy
from augsleep.data import make_ramps
from augsleep.methods._bilevel import EPOCH_COLUMNS
from augsleep.methods._search import CHECKPOINT_COLUMNS, TRIAL_COLUMNS

Cls = ADDAClassifier

TINY = {**TINY, "max_epochs": 2}
# 5 search epochs, a checkpoint every 2, small policies.
SMALL = dict(
    search_budget=5,
    checkpoint_every=2,
    n_subpolicies=2,
    pretrain_epochs=2,
    operations=("time_reverse", "gaussian_noise", "frequency_shift"),
)
TIMES = ["search_s", "step_search_s", "retrain_s", "total_s", "pretrain_s", "time_s"]


@pytest.fixture(scope="module")
def data():
    return make_splits()


def fit(data, test=False, **params):
    return fit_method(Cls, data, test, **{**TINY, **SMALL, **params})


def _no_times(frame):
    return frame.drop(columns=[c for c in TIMES if c in frame])


# ------------------------------------------------------------------ protocol
def test_warm_start_search_checkpoints_and_times(data, monkeypatch):
    X = data[0]
    calls = []
    fit_module = Cls._fit_module

    def recording(self, data_, seeds, max_epochs=None):
        calls.append((len(data_.X_train), self.policy_choices_, max_epochs))
        result = fit_module(self, data_, seeds, max_epochs)
        calls[-1] += (self.module_.augmentation.summary().empty, result.n_epochs)
        return result

    monkeypatch.setattr(Cls, "_fit_module", recording)
    clf = fit(data, test=True)
    monkeypatch.undo()
    # The warm start: pretrain_epochs epochs without augmentation.
    n, choices, max_epochs, identity, n_epochs = calls[0]
    assert (n, choices, max_epochs, identity) == (len(X), None, 2, True)
    assert n_epochs == 2
    # Then one retraining per checkpoint (epochs 2, 4 and the end, 5) with the
    # exported discrete policy, from scratch on every training window.
    hist = clf.search_history_
    assert list(hist.columns) == list(CHECKPOINT_COLUMNS)
    assert hist.n_trials.tolist() == [2, 4, 5]
    assert hist.best_trial.tolist() == [1, 3, 4]
    assert len(calls) == 1 + len(hist)
    for (n, choices, max_epochs, identity, _), row in zip(
        calls[1:], clf.search_history_.itertuples(), strict=True
    ):
        assert n == len(X) and max_epochs is None and not identity
        assert len(choices) == 2 and all(len(sub) == 2 for sub in choices)
        assert [list(map(list, sub)) for sub in choices] == json.loads(row.policy)
    # The final model is the best checkpoint's, with its policy.
    best = int(np.argmax(hist.valid_balanced_accuracy))
    assert clf.best_valid_score_ == hist.valid_balanced_accuracy[best]
    assert json.loads(hist.policy[best]) == [
        list(map(list, sub)) for sub in clf.policy_choices_
    ]
    assert isinstance(clf.policy_, Policy) and clf.policy_.mode == "sample"

    # Seconds: the warm start in every row and in the total.
    times = clf.compute_time_
    assert (hist.pretrain_s == times["pretrain_s"]).all() and times["pretrain_s"] > 0
    np.testing.assert_allclose(
        hist.total_s, hist.pretrain_s + hist.search_s + hist.retrain_s
    )
    np.testing.assert_allclose(hist.search_s, np.cumsum(hist.step_search_s))
    assert times["search_s"] == pytest.approx(hist.search_s.iloc[-1])
    assert times["retrain_s"] == pytest.approx(hist.retrain_s.sum())
    assert hist.test_balanced_accuracy.between(0, 1).all()


def test_trials_are_search_epochs_and_policy_history(data):
    clf = fit(data)
    trials = clf.trials_
    assert list(trials.columns[:9]) == [*TRIAL_COLUMNS, *EPOCH_COLUMNS]
    assert len(trials.columns) == 9 + 3 * 2 * 2
    assert trials.trial.tolist() == list(range(5))
    assert trials.best_epoch.isna().all() and not trials.resumed.any()
    assert (trials.time_s > 0).all() and (trials.epsilon > 0).all()
    assert trials.valid_balanced_accuracy.between(0, 1).all()
    # The relaxed policy, every operation of every stage, after every epoch.
    ph = clf.policy_history_
    assert len(ph) == 5 * 2 * 2 * 3
    assert ph.epoch.tolist() == np.repeat(np.arange(5), 12).tolist()
    sums = ph.groupby(["epoch", "subpolicy", "stage"]).weight.sum()
    np.testing.assert_allclose(sums, 1.0, rtol=1e-5)
    assert ph.probability.between(0, 1).all()
    # The policy was learned: weights and probabilities moved off their start.
    last = ph[ph.epoch == 4]
    assert not np.allclose(last.weight, 1 / 3) and not np.allclose(
        last.probability, 0.5
    )
    # The exported policy of each epoch: the most weighted operation of every
    # stage with its probability and magnitude.
    for epoch, frame in ph.groupby("epoch"):
        row = trials.iloc[epoch]
        for (k, s), stage in frame.groupby(["subpolicy", "stage"]):
            top = stage.iloc[int(np.argmax(stage.weight))]
            assert row[f"sub{k}_stage{s}_operation"] == top["transform"]
            assert row[f"sub{k}_stage{s}_probability"] == pytest.approx(top.probability)


def test_each_batch_is_one_hypergradient_then_one_trunk_step(data, monkeypatch):
    calls = []
    hypergradient = bilevel_module.darts_hypergradient

    def recording(module, params, train_loss, valid_loss, xi, **kwargs):
        state = {k: v.clone() for k, v in module.state_dict().items()}
        result = hypergradient(module, params, train_loss, valid_loss, xi, **kwargs)
        unchanged = all(
            torch.equal(v, state[k]) for k, v in module.state_dict().items()
        )
        calls.append((xi, kwargs["r"], len(params), unchanged))
        return result

    monkeypatch.setattr(bilevel_module, "darts_hypergradient", recording)
    fit(data, search_budget=2, checkpoint_every=2, unrolled_lr=0.05, fd_r=1e-3)
    n_batches = int(np.ceil(48 / 16))
    assert len(calls) == 2 * n_batches
    assert all(c == (0.05, 1e-3, 3, True) for c in calls)


def test_seeded_search_is_reproducible(data):
    a, b = fit(data), fit(data)
    assert _no_times(a.trials_).equals(_no_times(b.trials_))
    assert a.policy_history_.equals(b.policy_history_)
    assert _no_times(a.search_history_).equals(_no_times(b.search_history_))
    assert a.policy_choices_ == b.policy_choices_
    X_val = data[2]
    np.testing.assert_array_equal(a.predict_proba(X_val), b.predict_proba(X_val))
    c = fit(data, random_state=1)
    assert not a.policy_history_.equals(c.policy_history_)


def test_without_warm_start_and_bad_parameters(data):
    X, y, X_val, y_val, _, _ = data
    clf = fit(data, pretrain_epochs=0, search_budget=1)
    assert len(clf.search_history_) == 1
    with pytest.raises(InvalidParameterError, match="policy_betas"):
        Cls(**TINY, policy_betas=(0.5, 1.5)).fit(X, y, X_val=X_val, y_val=y_val)
    with pytest.raises(ValueError, match="validation set"):
        Cls(**{**TINY, **SMALL}, validation_fraction=None).fit(X, y)


# ----------------------------------------------------------- negative control
@pytest.mark.parametrize("seed", [0, 1])
def test_label_destroying_operation_loses_probability(seed):
    # The label is the direction of time: time reverse maps one class onto the
    # other. From a uniform start (weight 1/2, gate probability 1/2: a window is
    # reversed with probability 1/4), the bilevel search lowers the chance that
    # a window gets reversed (weight x probability, as in the policy's
    # summary). Noisy ramps, so that the validation loss does not vanish after
    # the warm start. Seeds 0 to 7 all end below 1/4 (0.10 to 0.22); the gate
    # probability alone fell in 7 of them.
    X, y = make_ramps(64, noise_std=3.0, random_state=0)
    X_val, y_val = make_ramps(32, noise_std=3.0, random_state=1)
    clf = Cls(
        **{**TINY, "random_state": seed},
        search_budget=6,
        checkpoint_every=6,
        n_subpolicies=1,
        n_stages=1,
        pretrain_epochs=1,
        policy_lr=5e-3,
        operations=("time_reverse", "gaussian_noise"),
    ).fit(X, y, X_val=X_val, y_val=y_val)
    ph = clf.policy_history_
    reverse = ph[(ph["transform"] == "time_reverse") & (ph.epoch == 5)].iloc[0]
    assert reverse.weight < 0.5
    assert reverse.weight * reverse.probability < 0.25


def test_ctrl_c_in_the_search_leaves_the_estimator_unfitted(data, monkeypatch):
    # Interrupted between two outer steps (not in a fit loop): the search stops
    # there and, as the other searches interrupted before their final training,
    # the estimator is left unfitted; a previous fit is cleared too.
    X, y, X_val, y_val, _, _ = data
    clf = fit(data, search_budget=1)
    hypergradient = bilevel_module.darts_hypergradient
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(None)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return hypergradient(*args, **kwargs)

    monkeypatch.setattr(bilevel_module, "darts_hypergradient", interrupted)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y, X_val=X_val, y_val=y_val)
    assert len(calls) == 3
    assert not hasattr(clf, "module_") and not hasattr(clf, "search_history_")


def test_one_augmentation_per_outer_step_is_re_augmenting_with_the_same_draws(
    data, monkeypatch
):
    # The search augments a batch once per outer step and takes the policy
    # gradients of the finite differences through that augmentation: the same
    # search as augmenting again, with the same draws, at every evaluation.
    from augsleep.training.bilevel import call_with

    fast = fit(data, search_budget=2)

    def re_augmenting(self, search, X, y, draws):
        def gradient(params):
            draws.restore()
            X_aug = self._augment(search.policy, X, y, search.generator)
            loss = search._nll(call_with(search.trunk, params, X_aug), y)
            grads = torch.autograd.grad(loss, search.params, allow_unused=True)
            return [
                torch.zeros_like(p) if g is None else g
                for p, g in zip(search.params, grads, strict=True)
            ]

        return gradient

    monkeypatch.setattr(Cls, "_train_gradient", re_augmenting)
    slow = fit(data, search_budget=2)
    numeric = ["weight", "probability", "magnitude"]
    np.testing.assert_allclose(
        fast.policy_history_[numeric].to_numpy(dtype=float),
        slow.policy_history_[numeric].to_numpy(dtype=float),
        rtol=1e-4,
        atol=1e-6,
    )
    np.testing.assert_allclose(
        fast.trials_[list(EPOCH_COLUMNS)], slow.trials_[list(EPOCH_COLUMNS)], rtol=1e-4
    )
