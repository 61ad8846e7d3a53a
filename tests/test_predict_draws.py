"""Prediction draws seeded per window: a window's prediction ignores its batch.

At prediction, each window's augmented copies come from a generator seeded by
the estimator's prediction seed and the window's values
(:func:`augsleep.training.window_seeds`); training still draws whole batches
from the fit's one generator.
"""

import hashlib

import numpy as np
import pytest
import torch
from _toy import SFREQ, TinyTrunk, make_data

import augsleep.training.inference as inference
from augsleep import AugerinoClassifier, AugNetClassifier
from augsleep.augment import AugmentationModule, make_sleep_augmentation
from augsleep.channels import standard_positions
from augsleep.models import AugNet, chambon_trunk
from augsleep.training import predict_log_proba, window_generators, window_seeds

PARAMS = dict(
    augmentation=[["gaussian_noise", "frequency_shift", "time_reverse"]],
    trunk=TinyTrunk(),
    sfreq=SFREQ,
    max_epochs=2,
    n_copies_eval=5,
    initial_magnitude=0.5,
    validation_fraction=None,
    random_state=0,
    device="cpu",
)


@pytest.fixture(scope="module")
def data():
    return make_data(30)


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return AugNetClassifier(**PARAMS).fit(X, y)
    finally:
        torch.set_num_threads(n)


@pytest.mark.parametrize("cls", [AugNetClassifier, AugerinoClassifier])
def test_a_window_gets_the_same_prediction_alone_shuffled_and_in_any_batch(
    cls, data, monkeypatch
):
    X, y = data
    clf = cls(**PARAMS).fit(X, y)
    proba = clf.predict_proba(X)
    alone = np.concatenate([clf.predict_proba(X[i : i + 1]) for i in range(len(X))])
    order = np.random.RandomState(0).permutation(len(X))
    shuffled = np.empty_like(proba)
    shuffled[order] = clf.predict_proba(X[order])
    # Prediction batches of 4 windows (the last one of 2), and a subset.
    monkeypatch.setattr(inference, "PREDICT_BATCH_VALUES", 4 * 5 * X.shape[-1])
    assert clf._predict_batch_size(torch.from_numpy(X)) == 4
    batched = clf.predict_proba(X)
    subset = clf.predict_proba(X[7:20])
    np.testing.assert_array_equal(alone, proba)
    np.testing.assert_array_equal(shuffled, proba)
    np.testing.assert_array_equal(batched, proba)
    np.testing.assert_array_equal(subset, proba[7:20])


def test_different_seeds_give_different_augmented_predictions(fitted, data):
    X, y = data
    same = AugNetClassifier(**PARAMS).fit(X, y)
    other = AugNetClassifier(**{**PARAMS, "random_state": 1}).fit(X, y)
    np.testing.assert_array_equal(same.predict_proba(X), fitted.predict_proba(X))
    # Same weights, other prediction seed: only the draws differ.
    other.module_.load_state_dict(fitted.module_.state_dict())
    assert other._predict_seed != fitted._predict_seed
    assert not np.allclose(other.predict_proba(X), fitted.predict_proba(X))


def test_training_draws_whole_batches_from_one_generator(data, monkeypatch):
    # Training is unchanged: every training forward gets the fit's one batch
    # generator; only the evaluation forwards (validation, predict) get one
    # generator per window.
    X, y = data
    calls = []
    forward = AugNet.forward

    def spy(self, X, generator=None, n_copies=None):
        per_window = isinstance(generator, list)
        calls.append((self.training, per_window, len(X)))
        if per_window:
            assert len(generator) == len(X)
        return forward(self, X, generator, n_copies)

    monkeypatch.setattr(AugNet, "forward", spy)
    params = {**PARAMS, "validation_fraction": 0.3, "batch_size": 8}
    clf = AugNetClassifier(**params).fit(X, y)
    clf.predict(X)
    train = [c for c in calls if c[0]]
    evaluation = [c for c in calls if not c[0]]
    assert train and not any(per_window for _, per_window, _ in train)
    assert evaluation and all(per_window for _, per_window, _ in evaluation)


def test_window_seeds_hash_the_seed_and_the_window():
    X = torch.randn(4, 2, 30, generator=torch.Generator().manual_seed(0))
    seeds = window_seeds(X, 7)
    # The documented hash, computed here independently of the implementation.
    for window, seed in zip(X, seeds, strict=True):
        h = hashlib.blake2b(digest_size=8, person=b"augsleep.window")
        h.update((7).to_bytes(8, "little"))
        h.update(np.array([2, 30], dtype="<i8").tobytes())
        h.update(window.numpy().astype("<f4").tobytes())
        assert seed == int.from_bytes(h.digest(), "little")
    # Position, batch and dtype do not matter; the seed and the values do.
    assert window_seeds(X[[2, 0]], 7) == [seeds[2], seeds[0]]
    assert window_seeds(X.double(), 7) == seeds
    assert window_seeds(X, 8) != seeds
    Y = X.clone()
    Y[1, 1, 29] = torch.nextafter(Y[1, 1, 29], torch.tensor(np.inf))
    assert window_seeds(Y, 7) == [seeds[0], window_seeds(Y, 7)[1], *seeds[2:]]
    assert window_seeds(Y, 7)[1] != seeds[1]
    assert len(set(seeds)) == 4
    # Negative seeds are taken modulo 2**64, as manual_seed would refuse them.
    assert window_seeds(X, -1) == window_seeds(X, 2**64 - 1)


def test_per_window_draws_equal_each_window_augmented_alone():
    # The batched per-window path (each transform applied once to the rows it
    # took in every window) gives exactly what each window gets on its own,
    # through the sleep preset's three layers (sensor layer included).
    channels = ["C3", "C4", "F3", "F4", "O1", "O2"]
    torch.manual_seed(0)
    augmentation = make_sleep_augmentation(
        SFREQ, channels, standard_positions(channels), magnitude=0.5
    ).eval()
    model = AugNet(chambon_trunk(6, SFREQ, 3000), augmentation, n_copies_eval=7)
    model.eval()
    X = torch.randn(5, 6, 3000, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        copies = augmentation(X.repeat_interleave(7, 0), window_generators(X, 3))
        alone = [
            augmentation(X[i : i + 1].repeat(7, 1, 1), g)
            for i, g in enumerate(window_generators(X, 3))
        ]
    torch.testing.assert_close(copies, torch.cat(alone), rtol=0, atol=0)
    log_p = predict_log_proba(model, X, seed=3, batch_size=2)
    log_p_alone = torch.cat([predict_log_proba(model, x[None], seed=3) for x in X])
    torch.testing.assert_close(log_p, log_p_alone)
    assert predict_log_proba(model, X, seed=4).sub(log_p).abs().max() > 1e-3


def test_per_window_blocks_in_training_mode_and_bad_counts():
    layer = AugmentationModule.from_names(
        [["gaussian_noise", "frequency_shift"]], sfreq=SFREQ, magnitude=0.5
    ).layers[0]
    X = torch.randn(6, 1, 100, generator=torch.Generator().manual_seed(0))
    gens = [torch.Generator().manual_seed(s) for s in (1, 2, 3)]
    blocks = layer(X, gens)
    gens = [torch.Generator().manual_seed(s) for s in (1, 2, 3)]
    alone = torch.cat([layer(X[2 * i : 2 * i + 2], g) for i, g in enumerate(gens)])
    torch.testing.assert_close(blocks, alone, rtol=0, atol=0)
    with pytest.raises(ValueError, match="divides the 6 rows"):
        layer(X, gens[:2] + gens[:2])
    with pytest.raises(ValueError, match="one generator per window"):
        model = AugNet(nn_flat(), AugmentationModule([layer])).eval()
        model(X, gens)


def nn_flat():
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(100, 3))


def test_generator_and_seed_are_exclusive(fitted, data):
    X_t = torch.from_numpy(data[0][:3])
    with pytest.raises(ValueError, match="not both"):
        predict_log_proba(
            fitted.module_, X_t, seed=0, generator=torch.Generator().manual_seed(0)
        )
