"""Faster AutoAugment: WGAN-GP density matching of a relaxed policy, export, retrain."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from _toy import SFREQ, TINY, TinyTrunk, fit_method, make_data, make_splits

import augsleep.methods.faster_autoaugment as faa
from augsleep import FasterAutoAugmentClassifier
from augsleep.augment import Policy, make_operations
from augsleep.methods._search import CHECKPOINT_COLUMNS
from augsleep.methods.faster_autoaugment import (
    TRACE_COLUMNS,
    DensityMatching,
    WGANCritic,
    split_trunk,
)

SMALL = dict(search_budget=3, checkpoint_every=2, n_subpolicies=2)
OPS = ["gaussian_noise", "time_reverse", "frequency_shift"]


@pytest.fixture(scope="module")
def data():
    return make_splits()


def fit(data, test=False, **params):
    params = {**TINY, **SMALL, "operations": OPS, **params}
    return fit_method(FasterAutoAugmentClassifier, data, test, **params)


@pytest.fixture(scope="module")
def fitted(data):
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # module scope: before the autouse fixture
    try:
        return fit(data, test=True)
    finally:
        torch.set_num_threads(n)


# ------------------------------------------------------------------ the critic
def test_split_trunk_takes_the_last_class_layer_as_the_head():
    trunk = TinyTrunk()(1, SFREQ, 300, 3)
    features, head = split_trunk(trunk, 3)
    assert head is not trunk.net[-1] and head.out_features == 3  # a copy
    X = torch.randn(4, 1, 300)
    trunk.eval(), features.eval()
    torch.testing.assert_close(head(features(X)), trunk(X))
    with pytest.raises(ValueError, match=r"nn.Linear layer with 5 outputs"):
        split_trunk(trunk, 5)


def test_critic_has_a_classifier_and_a_discriminator():
    critic = WGANCritic(TinyTrunk()(1, SFREQ, 300, 3), 3)
    logits, d = critic(torch.randn(5, 1, 300))
    assert logits.shape == (5, 3) and d.shape == (5,)


def _density_matching(policy, seed=0):
    torch.manual_seed(seed)
    critic = WGANCritic(TinyTrunk()(1, SFREQ, 100, 3), 3)
    return DensityMatching(
        critic, policy, torch.optim.Adam(critic.parameters(), 1e-2, betas=(0.0, 0.999))
    )


def _gap_on_fresh_windows(search, seed):
    """Mean D(real) - D(augmented) on two fresh sets, and its standard error."""
    gen = torch.Generator().manual_seed(seed)
    Xa = torch.as_tensor(make_data(300, n_times=100, seed=seed + 1)[0]) / 30
    Xb = torch.as_tensor(make_data(300, n_times=100, seed=seed + 2)[0]) / 30
    d_real = search.critic_values(Xa, gen, augment=False)
    d_aug = search.critic_values(Xb, gen, augment=True)
    se = math.sqrt(d_real.var() / len(d_real) + d_aug.var() / len(d_aug))
    return float(d_real.mean() - d_aug.mean()), se


def _train_critic(search, epochs=15):
    X, y = make_data(96, n_times=100)
    X = torch.as_tensor(X) / 30
    gen = torch.Generator().manual_seed(1)
    return [
        search.run_epoch(X, torch.as_tensor(y), 16, gen)["critic_gap"]
        for _ in range(epochs)
    ]


def test_identity_policy_leaves_the_critic_no_gap():
    ops = make_operations(OPS, n_chans=1, sfreq=SFREQ)
    identity = Policy(ops, 2, 2, probability=0.0, mode="relaxed")
    search = _density_matching(identity)
    _train_critic(search)
    gap, se = _gap_on_fresh_windows(search, 10)
    # Real and "augmented" windows come from one distribution: no gap beyond
    # the sampling noise of two sets of 300 windows.
    assert abs(gap) < 4 * se, (gap, se)


def test_destructive_policy_opens_the_critic_gap():
    # The positive control of the check above: the same critic training tells
    # windows masked over most of their length from real ones.
    ops = make_operations(["smooth_time_mask"], n_chans=1, sfreq=SFREQ)
    mask = Policy.from_choices(ops, [[("smooth_time_mask", 1.0, 1.0)]], mode="relaxed")
    search = _density_matching(mask)
    gaps = _train_critic(search)
    gap, se = _gap_on_fresh_windows(search, 10)
    assert gap > 4 * se and gaps[-1] > 0, (gap, se)


def test_policy_step_moves_every_policy_parameter():
    ops = make_operations(OPS, n_chans=1, sfreq=SFREQ)
    policy = Policy(ops, 2, 2, mode="relaxed", temperature=0.05)
    search = _density_matching(policy)
    search.policy_optimizer = torch.optim.Adam(policy.parameters(), 1e-2)
    before = {n: p.detach().clone() for n, p in policy.named_parameters()}
    X, y = make_data(32, n_times=100)
    X, y = torch.as_tensor(X) / 30, torch.as_tensor(y)
    values = search.step(X[:16], y[:16], X[16:], y[16:], torch.Generator())
    assert all(math.isfinite(float(v)) for v in values.values())
    for name in ("_probabilities", "_magnitudes", "_op_logits"):
        assert not torch.equal(before[name], getattr(policy, name)), name
    # Uniform sub-policies: their logits are not learned.
    assert torch.equal(before["_subpolicy_logits"], policy._subpolicy_logits)
    assert (policy.probabilities >= 0).all() and (policy.probabilities <= 1).all()


# -------------------------------------------------------------- the classifier
def test_search_history_checkpoints_every_two_epochs_and_at_the_end(fitted):
    clf = fitted
    hist = clf.search_history_
    assert list(hist.columns) == list(CHECKPOINT_COLUMNS)
    assert hist.n_trials.tolist() == [2, 3]
    assert hist.best_trial.tolist() == [1, 2]
    assert hist.trial_valid_balanced_accuracy.isna().all()
    assert (hist.pretrain_s == 0).all()
    np.testing.assert_allclose(hist.total_s, hist.search_s + hist.retrain_s)
    np.testing.assert_allclose(hist.search_s, hist.step_search_s.cumsum())
    assert hist.test_balanced_accuracy.between(0, 1).all()
    best = int(hist.valid_balanced_accuracy.idxmax())
    assert json.loads(hist.policy[best]) == [
        [list(stage) for stage in sub] for sub in clf.policy_choices_
    ]
    times = clf.compute_time_
    assert times["search_s"] == pytest.approx(hist.search_s.iloc[-1])
    assert times["retrain_s"] == pytest.approx(hist.retrain_s.sum())


def test_search_trace_and_the_relaxed_policy_are_kept(fitted):
    trace = fitted.search_trace_
    assert list(trace.columns) == list(TRACE_COLUMNS) and len(trace) == 3
    assert np.isfinite(trace.drop(columns="epoch").to_numpy()).all()
    frames = fitted.search_policy_
    # The start, then each checkpoint (2 and 3 epochs).
    assert frames.n_epochs.unique().tolist() == [0, 2, 3]
    assert len(frames) == 3 * 2 * 2 * len(OPS)
    frame = frames[frames.n_epochs == 3]
    np.testing.assert_allclose(frame.groupby(["subpolicy", "stage"]).weight.sum(), 1)
    # The policy was learned: it moved from its start.
    start = frames[frames.n_epochs == 0]
    assert not np.allclose(start.probability, frame.probability)


def test_exported_policy_is_a_sample_mode_policy_of_the_top_operations(fitted):
    policy = fitted.policy_
    assert isinstance(policy, Policy) and policy.mode == "sample"
    assert (policy.n_subpolicies, policy.n_stages) == (2, 2)
    # The chosen checkpoint's relaxed policy, reduced to its top operations.
    hist = fitted.search_history_
    best = int(hist.valid_balanced_accuracy.idxmax())
    frames = fitted.search_policy_
    frame = frames[frames.n_epochs == hist.n_trials[best]]
    top = frame.loc[frame.groupby(["subpolicy", "stage"]).weight.idxmax()]
    names = [stage[0] for sub in fitted.policy_choices_ for stage in sub]
    assert top["transform"].tolist() == names
    np.testing.assert_allclose(
        top.probability, [stage[1] for sub in fitted.policy_choices_ for stage in sub]
    )


def test_seeded_fits_are_reproducible(data, fitted):
    again = fit(data, test=True)
    pd.testing.assert_frame_equal(
        again.search_trace_.drop(columns="time_s"),
        fitted.search_trace_.drop(columns="time_s"),
    )
    assert again.policy_choices_ == fitted.policy_choices_
    X_val = data[2]
    np.testing.assert_array_equal(
        again.predict_proba(X_val), fitted.predict_proba(X_val)
    )
    other = fit(data, random_state=1, search_budget=1, checkpoint_every=1)
    assert other.policy_choices_ != fitted.policy_choices_


def test_interrupted_search_leaves_the_estimator_unfitted(data, monkeypatch):
    run_epoch = DensityMatching.run_epoch
    calls = []

    def interrupted(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return run_epoch(self, *args, **kwargs)

    monkeypatch.setattr(faa.DensityMatching, "run_epoch", interrupted)
    clf = FasterAutoAugmentClassifier(**{**TINY, **SMALL, "operations": OPS})
    X, y, X_val, y_val, _, _ = data
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y, X_val=X_val, y_val=y_val)
    assert not hasattr(clf, "search_history_") and not hasattr(clf, "module_")


def test_search_needs_a_validation_set_and_good_betas(data):
    X, y = data[:2]
    clf = FasterAutoAugmentClassifier(**{**TINY, **SMALL, "validation_fraction": None})
    with pytest.raises(ValueError, match="validation set"):
        clf.fit(X, y)
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="search_betas"):
        fit(data, search_betas=(0.5, 1.5))
