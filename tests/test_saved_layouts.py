"""Files saved by AugNetClassifier.save before the transforms became stateless.

Each transform used to hold its magnitude, saved as
``augmentation.layers.{i}.transforms.{q}._magnitude``; the layers now hold them
as ``augmentation.layers.{i}._magnitudes``. A trunk-alone model (augmentation
``None``, now :class:`augsleep.augment.Identity`) saved the trunk's keys only.
"""

import re

import numpy as np
import pytest
import torch

from augsleep.estimator import AugNetClassifier

SFREQ = 100.0


def _data(n_windows=24, n_times=300, seed=0):
    rng = np.random.RandomState(seed)
    y = np.arange(n_windows) % 3
    t = np.arange(n_times) / SFREQ
    X = np.sin(2 * np.pi * (2.0 + 3.0 * y)[:, None, None] * t)
    X = 30 * (X + 0.5 * rng.randn(n_windows, 1, n_times))
    return X.astype(np.float32), y


def _fit(augmentation):
    X, y = _data()
    clf = AugNetClassifier(
        augmentation,
        sfreq=SFREQ,
        max_epochs=1,
        n_copies_eval=3,
        validation_fraction=None,
        random_state=0,
        device="cpu",
    )
    return clf.fit(X, y), X


def _to_old_layout(state_dict):
    """Rename ``<layer>._magnitudes`` to one ``_magnitude`` per transform."""
    old = {}
    for key, value in state_dict.items():
        match = re.fullmatch(r"(augmentation\.layers\.\d+\.)_magnitudes", key)
        if match is None:
            old[key] = value
            continue
        for q, mu in enumerate(value):
            old[f"{match[1]}transforms.{q}._magnitude"] = mu.clone()
    return old


def test_old_layout_file_loads_with_the_same_predictions(tmp_path):
    clf, X = _fit("sleep")
    path = tmp_path / "new.pt"
    clf.save(path)
    payload = torch.load(path, weights_only=True)
    payload["state_dict"] = _to_old_layout(payload["state_dict"])
    del payload["sha256"]  # files of the old layout predate the checksum
    assert "augmentation.layers.1.transforms.5._magnitude" in payload["state_dict"]
    assert not any(k.endswith("_magnitudes") for k in payload["state_dict"])
    old_path = tmp_path / "old.pt"
    torch.save(payload, old_path)

    loaded = AugNetClassifier.load(old_path)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.learned_augmentations_.equals(clf.learned_augmentations_)


def test_trunk_alone_file_loads(tmp_path):
    clf, X = _fit(None)
    assert clf.module_.augmentation.is_identity
    assert clf.learned_augmentations_.empty
    path = tmp_path / "baseline.pt"
    clf.save(path)
    state = torch.load(path, weights_only=True)["state_dict"]
    assert state and all(k.startswith("trunk.") for k in state)
    loaded = AugNetClassifier.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    with pytest.raises(ValueError, match="no learnable augmentation"):
        loaded.export_policy()
