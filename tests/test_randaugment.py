"""RandAugmentClassifier: the grid search of (N, M), its timing, and TrainingOnly."""

import numpy as np
import pandas as pd
import pytest
import torch
from _toy import SFREQ, TINY, make_splits
from sklearn.utils._param_validation import InvalidParameterError

from augsleep import RandAugmentClassifier, load
from augsleep.augment import RandAugment, TrainingOnly, make_operations
from augsleep.methods.randaugment import SEARCH_COLUMNS
from augsleep.models import AugNet


@pytest.fixture(scope="module")
def data():
    return make_splits()[:4]


@pytest.fixture(scope="module")
def fitted(data):
    X, y, X_val, y_val = data
    clf = RandAugmentClassifier(n_ops_grid=(1, 2), magnitude_grid=(0.1, 0.9), **TINY)
    return clf.fit(X, y, X_val=X_val, y_val=y_val)


def test_every_grid_point_is_tried_and_the_best_is_kept(fitted):
    hist = fitted.search_history_
    assert list(hist.columns) == list(SEARCH_COLUMNS)
    assert list(zip(hist.n_ops, hist.magnitude, strict=True)) == [
        (1, 0.1),
        (1, 0.9),
        (2, 0.1),
        (2, 0.9),
    ]
    best = hist.iloc[int(np.argmax(hist.valid_balanced_accuracy))]
    assert (fitted.n_ops_, fitted.magnitude_) == (best.n_ops, best.magnitude)
    assert fitted.policy_.n_ops == fitted.n_ops_
    assert fitted.policy_.magnitude == fitted.magnitude_
    assert (hist.n_epochs <= 3).all() and (hist.time_s > 0).all()


def test_search_and_final_training_are_timed_apart(fitted):
    times = fitted.compute_time_
    assert times["pretrain_s"] == 0
    assert fitted.search_history_.time_s.sum() <= times["search_s"]
    assert fitted.history_.dur_s.sum() <= times["retrain_s"]
    assert times["search_s"] + times["retrain_s"] <= times["total_s"]


def test_summary_describes_the_chosen_policy(fitted):
    summary = fitted.augmentation_summary_
    names = [op.name for op in make_operations(n_chans=1, sfreq=SFREQ)]
    assert summary["transform"].tolist() == names
    q = len(names)
    np.testing.assert_allclose(summary.weight, 1 - (1 - 1 / q) ** fitted.n_ops_)
    noise = summary.set_index("transform").loc["gaussian_noise"]
    assert noise.magnitude == fitted.magnitude_


def test_search_budget_tries_a_seeded_subset(data):
    X, y, X_val, y_val = data
    grids = dict(n_ops_grid=(1, 2, 3), magnitude_grid=(0.2, 0.5))
    a = RandAugmentClassifier(search_budget=2, **grids, **TINY).fit(
        X, y, X_val=X_val, y_val=y_val
    )
    b = RandAugmentClassifier(search_budget=2, **grids, **TINY).fit(
        X, y, X_val=X_val, y_val=y_val
    )
    assert len(a.search_history_) == 2
    pd.testing.assert_frame_equal(
        a.search_history_.drop(columns="time_s"),
        b.search_history_.drop(columns="time_s"),
    )


def test_a_validation_set_is_required(data):
    X, y, _, _ = data
    clf = RandAugmentClassifier(validation_fraction=None, **TINY)
    with pytest.raises(ValueError, match="validation set"):
        clf.fit(X, y)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n_ops_grid": (0,)}, "'n_ops_grid' parameter .* must be integers >= 1"),
        ({"n_ops_grid": (1.5,)}, "'n_ops_grid' parameter .* must be integers >= 1"),
        ({"magnitude_grid": (1.2,)}, r"'magnitude_grid' parameter .* \[0, 1\]"),
        ({"operations": ("channels_shuffle",)}, "single channel"),
    ],
)
def test_bad_grids_and_operations_are_refused(data, params, match):
    X, y, X_val, y_val = data
    grid = "operations" not in params
    error = InvalidParameterError if grid else ValueError
    with pytest.raises(error, match=match):
        RandAugmentClassifier(**params, **TINY).fit(X, y, X_val=X_val, y_val=y_val)


def test_save_load_keeps_the_search(fitted, data, tmp_path):
    _, _, X_val, _ = data
    fitted.save(tmp_path / "ra.pt")
    loaded = load(tmp_path / "ra.pt", trusted=True)  # the toy trunk is pickled
    pd.testing.assert_frame_equal(loaded.search_history_, fitted.search_history_)
    assert (loaded.n_ops_, loaded.magnitude_) == (fitted.n_ops_, fitted.magnitude_)
    np.testing.assert_array_equal(
        loaded.predict_proba(X_val), fitted.predict_proba(X_val)
    )


def test_training_only_augments_in_training_mode_and_predicts_with_the_trunk():
    ops = make_operations(["gaussian_noise"], n_chans=1, sfreq=SFREQ)
    aug = TrainingOnly(RandAugment(ops, n_ops=1, magnitude=1.0))
    X = torch.randn(8, 1, 50, generator=torch.Generator().manual_seed(0))
    aug.train()
    assert not aug.is_identity
    assert not torch.equal(aug(X, torch.Generator().manual_seed(1)), X)
    aug.eval()
    assert aug.is_identity
    assert aug(X, torch.Generator().manual_seed(1)) is X
    # In evaluation AugNet runs the trunk once, whatever the number of copies.
    trunk = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(50, 3))
    model = AugNet(trunk, aug, n_copies_eval=20).eval()
    with torch.no_grad():
        expected = torch.log_softmax(trunk(X), dim=-1)
        torch.testing.assert_close(model(X), expected)
