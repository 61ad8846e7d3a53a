"""CADDA: class-wise policies, their export, the labels through the fit loop."""

import json

import numpy as np
import pytest
import torch
from _toy import SFREQ, TINY, make_splits

import augsleep.augment.classwise as classwise
from augsleep import CADDAClassifier, load
from augsleep.augment import (
    ClassConditionalTransform,
    ClassWisePolicy,
    Policy,
    TrainingOnly,
    make_operations,
)
from augsleep.models import AugNet

TINY = {**TINY, "max_epochs": 2}
SMALL = dict(
    search_budget=3,
    checkpoint_every=2,
    n_subpolicies=2,
    pretrain_epochs=1,
    operations=("time_reverse", "gaussian_noise", "frequency_shift"),
)


def _ops():
    return make_operations(["time_reverse", "gaussian_noise"], n_chans=1, sfreq=SFREQ)


def _reverse_for(classes, n_classes=3, **kwargs):
    """Class-wise policies: time reverse always for ``classes``, never otherwise."""
    return ClassWisePolicy.from_choices(
        _ops(),
        [
            [[("time_reverse", 1.0 if c in classes else 0.0, 1.0)]]
            for c in range(n_classes)
        ],
        **kwargs,
    )


# ------------------------------------------------------------------- modules
def test_each_window_gets_its_class_policy():
    policy = _reverse_for({1})
    X = torch.randn(6, 1, 50)
    y = torch.tensor([0, 1, 2, 1, 0, 2])
    out = policy(X, torch.Generator().manual_seed(0), y=y)
    reversed_ = y == 1
    torch.testing.assert_close(out[reversed_], X[reversed_].flip(-1))
    torch.testing.assert_close(out[~reversed_], X[~reversed_])
    with pytest.raises(ValueError, match="class-conditional"):
        policy(X)
    with pytest.raises(ValueError, match=r"class indices in \[0, 2\]"):
        policy(X, y=torch.tensor([0, 1, 2, 3, 0, 1]))
    with pytest.raises(ValueError, match="shape"):
        policy(X, y=torch.tensor([0, 1]))


def test_relaxed_class_policies_get_their_own_windows_gradients():
    policies = [
        Policy(_ops(), 1, 1, mode="relaxed", gate_temperature=0.5) for _ in range(3)
    ]
    policy = ClassWisePolicy(policies)
    X = torch.randn(8, 1, 50)
    y = torch.tensor([0, 0, 1, 1, 0, 1, 0, 0])  # no window of class 2
    policy(X, torch.Generator().manual_seed(0), y=y).square().sum().backward()
    for c in (0, 1):
        assert policies[c]._magnitudes.grad.abs().sum() > 0
    assert policies[2]._magnitudes.grad is None


def test_training_only_and_augnet_pass_the_labels():
    X = torch.randn(6, 1, 50)
    y = torch.tensor([0, 1, 2, 1, 0, 2])
    module = AugNet(torch.nn.Flatten(), TrainingOnly(_reverse_for({0, 2})))
    assert module.uses_labels
    out = module.augmentation(X, torch.Generator().manual_seed(0), y=y)
    torch.testing.assert_close(out[y != 1], X[y != 1].flip(-1))
    module.eval()  # at prediction: no labels, no augmentation
    torch.testing.assert_close(module.augmentation(X), X)
    assert not AugNet(torch.nn.Flatten(), None).uses_labels


def test_class_conditional_export():
    from braindecode.augmentation import TimeReverse

    transform = ClassConditionalTransform({1: [TimeReverse(1.0)], 2: []})
    X = torch.randn(4, 1, 50)
    y = torch.tensor([0, 1, 2, 1])
    out, y_out = transform(X, y)
    assert y_out is y
    torch.testing.assert_close(out[y == 1], X[y == 1].flip(-1))
    torch.testing.assert_close(out[y != 1], X[y != 1])
    out, _ = transform(X, y.numpy())  # numpy labels too
    torch.testing.assert_close(out[y == 1], X[y == 1].flip(-1))
    with pytest.raises(ValueError, match="class-conditional"):
        transform(X)


# --------------------------------------------------------------------- method
@pytest.fixture(scope="module")
def data():
    return make_splits()[:4]


def test_cadda_learns_one_policy_per_class(data, monkeypatch, tmp_path):
    X, y, X_val, y_val = data
    calls = []
    forward = classwise.ClassWisePolicy.forward

    def recording(self, X_, generator=None, y=None):
        calls.append(None if y is None else len(y) == len(X_))
        return forward(self, X_, generator, y=y)

    monkeypatch.setattr(classwise.ClassWisePolicy, "forward", recording)
    clf = CADDAClassifier(**TINY, **SMALL).fit(X, y, X_val=X_val, y_val=y_val)
    monkeypatch.undo()
    # The search's and the retrainings' batches all came with their labels.
    assert calls and all(calls)
    assert len(clf.policy_choices_) == 3  # one policy per class
    assert all(len(p) == 2 and len(p[0]) == 2 for p in clf.policy_choices_)
    assert isinstance(clf.policy_, ClassWisePolicy)
    assert clf.policy_.policies[0].mode == "sample"
    hist = clf.search_history_
    assert hist.n_trials.tolist() == [2, 3]
    best = int(np.argmax(hist.valid_balanced_accuracy))
    assert json.loads(hist.policy[best]) == json.loads(json.dumps(clf.policy_choices_))
    trials = clf.trials_
    assert len(trials.columns) == 9 + 3 * 2 * 2 * 3
    assert "class2_sub1_stage1_magnitude" in trials
    ph = clf.policy_history_
    assert list(ph.columns[:3]) == ["epoch", "class", "subpolicy"]
    assert len(ph) == 3 * 3 * 2 * 2 * 3
    # The class policies were learned apart.
    last = ph[ph.epoch == 2]
    by_class = [last[last["class"] == c].probability.to_numpy() for c in range(3)]
    assert not np.allclose(by_class[0], by_class[1])
    # Saved and loaded, the class-wise policy is rebuilt.
    clf.save(tmp_path / "cadda.pt")
    loaded = load(tmp_path / "cadda.pt", trusted=True)
    assert loaded.policy_choices_ == clf.policy_choices_
    np.testing.assert_array_equal(loaded.predict_proba(X_val), clf.predict_proba(X_val))


def _shapes(n_windows, seed, noise=3.0, n_times=100):
    """Rising ramps (0), falling ramps (1), tents (2): time reverse swaps the
    ramps' classes and keeps a tent a tent."""
    rng = np.random.RandomState(seed)
    y = np.arange(n_windows) % 3
    ramp = np.linspace(-1.0, 1.0, n_times)
    base = np.stack([ramp, -ramp, 1 - 2 * np.abs(ramp)])[y][:, None, :]
    X = 30 * (base + noise * rng.randn(n_windows, 1, n_times))
    return X.astype(np.float32), y


@pytest.mark.parametrize("seed", [0, 1])
def test_class_wise_control(seed):
    # Time reverse destroys the label of the ramps only: the class-wise search
    # leaves the tents a larger chance of being reversed (weight x probability)
    # than the ramps get on average. Seeds 0 to 5 all do (tents 0.08 to 0.44,
    # ramps 0.06 to 0.21).
    X, y = _shapes(96, seed=0)
    X_val, y_val = _shapes(48, seed=1)
    clf = CADDAClassifier(
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
    rev = ph[(ph["transform"] == "time_reverse") & (ph.epoch == 5)]
    chance = (rev.weight * rev.probability).to_numpy()
    assert chance[:2].mean() < chance[2]
