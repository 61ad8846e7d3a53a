"""Tests of AugNetClassifier: scikit-learn contract, ecosystem, bad input, I/O."""

import copy
import logging
import pickle

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks
from torch import nn

from augsleep.augment import AugmentationModule
from augsleep.estimator import AugNetClassifier

SFREQ = 100.0


class _Tiny(nn.Module):
    def __init__(self, n_chans, n_times, n_classes):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(n_chans * n_times, 16),
            nn.ReLU(),
            nn.Linear(16, n_classes),
        )

    def forward(self, X):
        return self.net(X)


class TinyTrunk:
    """Trunk factory with a stable repr (pytest-xdist needs identical test ids)."""

    def __call__(self, n_chans, sfreq, n_times, n_classes):
        return _Tiny(n_chans, n_times, n_classes)

    def __repr__(self):
        return "TinyTrunk()"


def double(X):
    return 2.0 * X


def make_data(n_windows=48, n_chans=1, n_times=300, n_classes=3, seed=0):
    """Sines whose frequency gives the class, plus noise, in microvolt scale."""
    rng = np.random.RandomState(seed)
    y = np.arange(n_windows) % n_classes
    t = np.arange(n_times) / SFREQ
    freqs = 2.0 + 3.0 * y
    phase = rng.uniform(0, 2 * np.pi, size=(n_windows, 1, 1))
    X = np.sin(2 * np.pi * freqs[:, None, None] * t + phase)
    X = 30 * (X + 0.5 * rng.randn(n_windows, n_chans, n_times))
    return X.astype(np.float32), y


FAST = dict(
    trunk=TinyTrunk(),
    sfreq=SFREQ,
    max_epochs=8,
    batch_size=32,
    lr=1e-2,
    betas=(0.9, 0.999),
    validation_fraction=None,
    random_state=0,
    device="cpu",
)


@parametrize_with_checks(
    [
        AugNetClassifier(None, **FAST),
        AugNetClassifier([["gaussian_noise"]], lam=0.1, n_copies_eval=4, **FAST),
    ],
)
def test_sklearn_checks(estimator, check):
    # sklearn feeds 2-D arrays: read as single-channel windows (n_windows, n_times).
    # Every check passes with augmentation too: a window's augmented copies are
    # drawn from the prediction seed and the window itself, so subsets and
    # shuffled rows get the same predictions (test_predictions_per_window).
    check(estimator)


@pytest.fixture(scope="module")
def data():
    return make_data()


@pytest.fixture(scope="module")
def fitted(data):
    """Default estimator (Chambon trunk, sleep preset), 2 epochs."""
    X, y = data
    clf = AugNetClassifier(
        sfreq=SFREQ, max_epochs=2, n_copies_eval=4, random_state=0, device="cpu"
    )
    return clf.fit(X, y)


def test_fit_predict_attributes(fitted, data):
    X, y = data
    clf = fitted
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(1)])
    assert clf.score(X, y) == balanced_accuracy_score(y, clf.predict(X))
    assert (clf.n_chans_in_, clf.n_times_in_, clf.sfreq_) == (1, 300, SFREQ)
    assert type(clf.module_.trunk).__name__ == "SleepStagerChambon2018"
    # One channel: no sensor layer, two time-frequency layers.
    assert len(clf.module_.augmentation.layers) == 2
    hist = clf.history_
    assert len(hist) == clf.n_epochs_ == 2
    for col in ("train_loss", "valid_balanced_accuracy", "dur_s", "lam"):
        assert col in hist
    assert "weight/0/frequency_shift" in hist and "magnitude/1/ft_surrogate" in hist
    aug = clf.learned_augmentations_
    assert list(aug.columns) == [
        "layer",
        "transform",
        "weight",
        "magnitude",
        "physical_value",
        "unit",
    ]
    assert len(aug) == 12
    row = aug[aug["transform"] == "frequency_shift"].iloc[0]
    assert row.unit == "Hz"
    assert row.physical_value == pytest.approx(5.0 * row.magnitude)


def test_paper_defaults():
    clf = AugNetClassifier()
    assert clf.lam == 10
    assert (clf.n_copies_train, clf.n_copies_eval) == (1, 20)
    assert (clf.lr, clf.batch_size, clf.max_epochs, clf.patience) == (
        1e-3,
        16,
        300,
        30,
    )
    assert tuple(clf.betas) == (0.0, 0.999)
    assert clf.class_weight == "balanced"
    assert clf.augmentation == "sleep"


def test_integer_betas_are_accepted(data):
    # torch's Adam rejects a mix of int and float betas; (0, 0.999) is how a user
    # would write the paper's value.
    X, y = data
    clf = AugNetClassifier(
        None, sfreq=SFREQ, betas=(0, 0.999), max_epochs=1, random_state=0
    )
    assert clf.fit(X, y).history_.shape[0] == 1


def test_string_labels_and_baseline(data):
    X, y = data
    labels = np.array(["W", "N1", "N2"])[y]
    clf = AugNetClassifier(
        None, sfreq=SFREQ, max_epochs=1, random_state=0, device="cpu"
    ).fit(X, labels)
    assert list(clf.classes_) == ["N1", "N2", "W"]
    assert set(clf.predict(X)) <= set(labels)
    assert clf.learned_augmentations_.empty
    assert clf.module_.augmentation.is_identity
    with pytest.raises(ValueError, match="no learnable augmentation"):
        clf.export_policy()


def test_deterministic(data):
    X, y = data
    params = dict(sfreq=SFREQ, max_epochs=2, n_copies_eval=3, device="cpu")
    p1 = AugNetClassifier(random_state=1, **params).fit(X, y).predict_proba(X)
    p2 = AugNetClassifier(random_state=1, **params).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(p1, p2)
    p3 = AugNetClassifier(random_state=2, **params).fit(X, y).predict_proba(X)
    assert not np.array_equal(p1, p3)


def test_early_stopping_restores_best(data):
    X, y = data
    X_val, y_val = make_data(24, seed=1)
    clf = AugNetClassifier(
        None,
        trunk=TinyTrunk(),
        sfreq=SFREQ,
        max_epochs=40,
        patience=2,
        lr=1e-2,
        random_state=0,
        device="cpu",
    ).fit(X, y, X_val=X_val, y_val=y_val)
    scores = clf.history_.valid_balanced_accuracy.to_numpy()
    assert clf.n_epochs_ < 40  # stopped early
    assert clf.n_epochs_ - 1 - clf.best_epoch_ == 2
    assert scores[clf.best_epoch_] == scores.max() == clf.best_valid_score_
    # Baseline predictions are deterministic: the kept weights give the best score.
    assert clf.score(X_val, y_val) == pytest.approx(clf.best_valid_score_)


def test_group_validation_split(data, caplog):
    X, y = data
    groups = np.repeat(np.arange(6), 8)
    clf = AugNetClassifier(
        None, trunk=TinyTrunk(), sfreq=SFREQ, max_epochs=2, random_state=0
    )
    # The split is logged by augsleep.methods.base: listen to the whole package.
    with caplog.at_level(logging.INFO, logger="augsleep"):
        clf.fit(X, y, groups=groups)
    assert "by window" not in caplog.text
    assert np.isfinite(clf.history_.valid_balanced_accuracy).all()
    with pytest.raises(ValueError, match="at least 2 distinct groups"):
        clf.fit(X, y, groups=np.zeros(len(y)))


def test_sensor_layer_logged(data, caplog):
    X, y = data
    with caplog.at_level(logging.INFO, logger="augsleep.estimator"):
        AugNetClassifier(
            trunk=TinyTrunk(), sfreq=SFREQ, max_epochs=1, validation_fraction=None
        ).fit(X, y)
    assert "without its sensor layer" in caplog.text and "single channel" in caplog.text


def test_mne_epochs_in_microvolts():
    mne = pytest.importorskip("mne")
    X, y = make_data(24, n_chans=2)
    info = mne.create_info(["C3", "C4"], SFREQ, "eeg")
    epochs = mne.EpochsArray(X * 1e-6, info, verbose=False)  # stored in volts
    epochs.set_montage("standard_1020", verbose=False)
    params = dict(
        trunk=TinyTrunk(),
        max_epochs=1,
        n_copies_eval=2,
        validation_fraction=None,
        random_state=0,
    )
    clf = AugNetClassifier(**params).fit(epochs, y)
    assert clf.sfreq_ == SFREQ and clf.ch_names_ == ["C3", "C4"]
    assert len(clf.module_.augmentation.layers) == 3  # sensor layer included
    # Same model as the microvolt array with the same context. The arrays are
    # the Epochs' own microvolts, not X: a window's augmentation draws are
    # seeded by its exact values, which the volt round trip rounds.
    X_uv = epochs.get_data(units="uV")
    ref = AugNetClassifier(
        sfreq=SFREQ, ch_names=["C3", "C4"], positions=clf.positions_, **params
    ).fit(X_uv, y)
    np.testing.assert_allclose(clf.scale_std_, ref.scale_std_)
    np.testing.assert_allclose(
        clf.predict_proba(epochs), ref.predict_proba(X_uv), rtol=1e-5, atol=1e-6
    )
    with pytest.raises(ValueError, match="differs from the Epochs"):
        AugNetClassifier(sfreq=50.0, **params).fit(epochs, y)


def test_clone_gridsearch_crossvalidate_pipeline(data):
    X, y = data
    clf = AugNetClassifier(
        [["gaussian_noise", "frequency_shift"]],
        n_copies_eval=2,
        **{**FAST, "max_epochs": 2},
    )
    cl = clone(clf)
    assert cl.get_params()["augmentation"] == clf.augmentation
    grid = GridSearchCV(
        clf, {"lam": [0.1, 10.0], "n_copies_eval": [1, 3]}, cv=2, n_jobs=1
    ).fit(X, y)
    assert set(grid.best_params_) == {"lam", "n_copies_eval"}
    groups = np.repeat(np.arange(4), 12)  # e.g. subjects
    res = cross_validate(clf, X, y, groups=groups, cv=GroupKFold(n_splits=2))
    assert res["test_score"].shape == (2,)
    pipe = make_pipeline(FunctionTransformer(double), clf).fit(X, y)
    assert pipe.predict(X).shape == (len(X),)
    assert 0 <= pipe.score(X, y) <= 1


def test_bad_input(data):
    X, y = data
    clf = AugNetClassifier(None, **{**FAST, "max_epochs": 1})
    with pytest.raises(NotFittedError):
        clf.predict(X)
    X_nan = X.copy()
    X_nan[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(X_nan, y)
    X_inf = X.copy()
    X_inf[1, 0, 5] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        clf.fit(X_inf, y)
    with pytest.raises(ValueError, match="dimensions"):
        clf.fit(X[..., None], y)
    with pytest.raises(ValueError, match="Expected 2D array"):
        clf.fit(X[:, 0, 0], y)
    with pytest.raises(ValueError, match="0 sample"):
        clf.fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="only one class"):
        clf.fit(X, np.zeros_like(y))
    with pytest.raises(ValueError, match="sfreq is required"):
        clone(clf).set_params(sfreq=None).fit(X, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clf.fit(X, y[:-1])
    with pytest.raises(ValueError, match="Unknown label type"):
        clf.fit(X, y + 0.5)

    clf.fit(X, y)
    X2 = np.concatenate([X, X], axis=1)
    with pytest.raises(ValueError, match="expecting 1 features"):
        clf.predict(X2)  # channels
    with pytest.raises(ValueError, match=r"\(1, 200\)"):
        clf.predict(X[..., :200])  # window length
    with pytest.raises(ValueError, match="dimensions"):
        clf.predict(X[:, 0])  # 2-D after a 3-D fit
    with pytest.raises(ValueError, match="NaN"):
        clf.predict(np.full_like(X, np.nan))
    with pytest.raises(ValueError, match="0 sample"):
        clf.predict(X[:0])
    with pytest.raises(ValueError, match="validation_fraction"):
        clone(clf).set_params(validation_fraction=2.0).fit(X, y)
    with pytest.raises(TypeError, match="augmentation must be"):
        clone(clf).set_params(augmentation=[3]).fit(X, y)


def test_pickle_joblib_save_load(fitted, data, tmp_path):
    X, _ = data
    proba = fitted.predict_proba(X)
    for restored in (
        pickle.loads(pickle.dumps(fitted)),
        joblib.load(joblib.dump(fitted, tmp_path / "m.joblib")[0]),
    ):
        np.testing.assert_array_equal(restored.predict_proba(X), proba)
    path = tmp_path / "model.pt"
    fitted.save(path)
    # Plain parameters: readable without unpickling code.
    torch.load(path, weights_only=True)
    loaded = AugNetClassifier.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), proba)
    assert loaded.get_params() == fitted.get_params()
    assert loaded.history_.equals(fitted.history_)
    assert loaded.learned_augmentations_.equals(fitted.learned_augmentations_)


def test_save_custom_objects_needs_trust(data, tmp_path):
    X, y = data
    clf = AugNetClassifier(None, **{**FAST, "max_epochs": 1}).fit(X, y)
    path = tmp_path / "custom.pt"
    clf.save(path)
    with pytest.raises(ValueError, match="trusted=True"):
        AugNetClassifier.load(path)
    loaded = AugNetClassifier.load(path, trusted=True)
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))


def test_invariance_score(fitted, data):
    X, _ = data
    scores = fitted.invariance_score(X, "frequency_shift", 0.5, random_state=0)
    assert scores.shape == (len(X),) and np.isfinite(scores).all()
    again = fitted.invariance_score(X, "frequency_shift", 0.5, random_state=0)
    np.testing.assert_array_equal(scores, again)
    ident = fitted.invariance_score(X, lambda Xb: Xb, random_state=0)
    assert np.median(ident) > 0.5


def test_export_policy(fitted, data):
    from braindecode.augmentation import AugmentedDataLoader

    from augsleep.augment import TransformChoice

    X, y = data
    policy = fitted.export_policy(random_state=0)
    assert len(policy) == 2 and all(isinstance(p, TransformChoice) for p in policy)
    names = [type(t).__name__ for t in policy[0].transforms]
    assert names == [
        "TimeReverse",
        "GaussianNoise",
        "SmoothTimeMask",
        "FTSurrogate",
        "FrequencyShift",
        "BandstopFilter",
    ]
    aug = fitted.learned_augmentations_
    np.testing.assert_allclose(policy[0].weights, aug[aug.layer == 0].weight, 1e-5)
    shift = policy[0].transforms[4]
    mag = aug[(aug.layer == 0) & (aug["transform"] == "frequency_shift")].iloc[0]
    assert shift.max_delta_freq == pytest.approx(mag.physical_value)
    noise_in = fitted.export_policy(units="input")[0].transforms[1]
    assert noise_in.std == pytest.approx(
        policy[0].transforms[1].std * fitted.scale_std_.mean()
    )
    # Usable by braindecode's loader ...
    dataset = torch.utils.data.TensorDataset(torch.as_tensor(X), torch.as_tensor(y))
    loader = AugmentedDataLoader(dataset, transforms=policy, batch_size=16)
    xb, yb = next(iter(loader))
    assert xb.shape == (16, 1, 300) and torch.isfinite(xb).all()
    # ... and as the fixed augmentation of the estimator (reseeded, deterministic).
    params = dict(trunk=TinyTrunk(), sfreq=SFREQ, max_epochs=2, random_state=0)
    p1 = AugNetClassifier(policy, **params).fit(X, y).predict_proba(X)
    p2 = AugNetClassifier(policy, **params).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(p1, p2)


def test_custom_augmentation_module_and_class_weight(data):
    X, y = data
    module = AugmentationModule.from_names(
        [["time_reverse", "sign_flip"]], sfreq=SFREQ, magnitude=0.5
    )
    clf = AugNetClassifier(
        module,
        class_weight={0: 2.0, 1: 1.0, 2: 1.0},
        **{**FAST, "max_epochs": 1},
    ).fit(X, y)
    assert clf.module_.augmentation is not module  # copied, not trained in place
    assert float(module.layers[0].magnitudes[0].detach()) == 0.5
    with pytest.raises(ValueError, match="class_weight has labels"):
        clone(clf).set_params(class_weight={7: 1.0}).fit(X, y)
    w = clf._class_weights(np.array([0, 0, 0, 1, 2, 2]))
    assert w is not None
    balanced = clone(clf).set_params(class_weight="balanced")
    balanced.classes_ = clf.classes_
    np.testing.assert_allclose(
        balanced._class_weights(np.array([0, 0, 0, 1, 2, 2])), [2 / 3, 2, 1]
    )


def test_verbose_progress_bar(data, capsys):
    X, y = data
    AugNetClassifier(None, verbose=1, **{**FAST, "max_epochs": 2}).fit(X, y)
    assert "AugNet" in capsys.readouterr().err


def test_prediction_batches_bound_the_augmented_values(fitted, data, monkeypatch):
    # Each forward pass at prediction (and of the invariance score) holds at most
    # PREDICT_BATCH_VALUES augmented values (windows x copies x channels x
    # samples), whatever C, and every window is predicted once.
    import augsleep.training.inference as inference

    X, _ = data
    n_values = X.shape[1] * X.shape[2]
    monkeypatch.setattr(inference, "PREDICT_BATCH_VALUES", 10 * n_values)
    seen = []
    forward = type(fitted.module_).forward

    def recording_forward(module, X_b, generator=None, n_copies=None):
        seen.append((len(X_b), n_copies))
        return forward(module, X_b, generator, n_copies)

    monkeypatch.setattr(type(fitted.module_), "forward", recording_forward)
    for copies, expected in ((1, 10), (4, 2), (20, 1)):
        seen.clear()
        fitted.set_params(n_copies_eval=copies)
        fitted.module_.n_copies_eval = copies
        try:
            proba = fitted.predict_proba(X)
            assert sum(n for n, _ in seen) == len(X)
            assert max(n for n, _ in seen) == expected, copies
            # The invariance score runs the model on X and on T(X), likewise.
            seen.clear()
            fitted.invariance_score(X, "frequency_shift", 0.5, random_state=0)
            assert sum(n for n, _ in seen) == 2 * len(X)
            assert max(n for n, _ in seen) == expected, copies
        finally:
            fitted.set_params(n_copies_eval=4)
            fitted.module_.n_copies_eval = 4
        assert proba.shape == (len(X), len(fitted.classes_))


def test_valid_every_in_the_estimator(data):
    X, y = data
    X_val, y_val = make_data(24, seed=1)
    params = dict(
        trunk=TinyTrunk(),
        sfreq=SFREQ,
        max_epochs=7,
        patience=None,
        lr=1e-2,
        n_copies_eval=3,
        random_state=0,
        device="cpu",
    )
    every = AugNetClassifier([["gaussian_noise"]], **params)
    every.fit(X, y, X_val=X_val, y_val=y_val)
    third = clone(every).set_params(valid_every=3).fit(X, y, X_val=X_val, y_val=y_val)
    scores = third.history_.valid_balanced_accuracy
    assert scores.notna().tolist() == [False, False, True, False, False, True, True]
    assert (third.history_.valid_s[scores.isna()] == 0).all()
    # Validation draws nothing from training's generators: the same trajectory,
    # and the validated epochs get the same scores as when every epoch is.
    np.testing.assert_array_equal(every.history_.train_loss, third.history_.train_loss)
    np.testing.assert_array_equal(
        scores.dropna(), every.history_.valid_balanced_accuracy[scores.notna()]
    )
    assert third.best_epoch_ in (2, 5, 6)
    assert third.best_valid_score_ == scores.max()
    assert AugNetClassifier().valid_every == 1  # the paper validates every epoch


def test_valid_every_early_stopping_restores_the_best(data):
    X, y = data
    X_val, y_val = make_data(24, seed=1)
    clf = AugNetClassifier(
        None,
        trunk=TinyTrunk(),
        sfreq=SFREQ,
        max_epochs=60,
        patience=3,
        valid_every=2,
        lr=1e-2,
        random_state=0,
        device="cpu",
    ).fit(X, y, X_val=X_val, y_val=y_val)
    scores = clf.history_.valid_balanced_accuracy.to_numpy()
    assert clf.n_epochs_ < 60  # stopped early
    # Stopped at the first validated epoch 3 or more epochs after the best one.
    last = clf.n_epochs_ - 1
    assert last % 2 == 1 and 3 <= last - clf.best_epoch_ < 5
    assert clf.best_epoch_ % 2 == 1
    assert scores[clf.best_epoch_] == np.nanmax(scores) == clf.best_valid_score_
    # The baseline predicts deterministically: the kept weights are the best's.
    assert clf.score(X_val, y_val) == pytest.approx(clf.best_valid_score_)


def test_valid_subsample_drawn_once_stratified(data, monkeypatch):
    import augsleep.methods.base as base

    X, y = data
    X_val, y_val = make_data(30, seed=1)
    scored = []

    def recording(y_true, y_pred, **kwargs):
        scored.append(np.asarray(y_true).copy())
        return balanced_accuracy_score(y_true, y_pred, **kwargs)

    monkeypatch.setattr(base, "balanced_accuracy_score", recording)
    params = dict(
        trunk=TinyTrunk(),
        sfreq=SFREQ,
        max_epochs=3,
        patience=None,
        n_copies_eval=2,
        random_state=0,
        device="cpu",
    )
    for subsample, n_expected in ((9, 9), (0.5, 15), (100, 30), (None, 30)):
        scored.clear()
        clf = AugNetClassifier(
            [["gaussian_noise"]], valid_subsample=subsample, **params
        ).fit(X, y, X_val=X_val, y_val=y_val)
        assert len(scored) == 3 and all(len(s) == n_expected for s in scored)
        # The same windows at every epoch, every class in the same proportion.
        assert all(np.array_equal(s, scored[0]) for s in scored)
        assert np.bincount(scored[0]).tolist() == [n_expected // 3] * 3
        assert clf.best_valid_score_ == clf.history_.valid_balanced_accuracy.max()

    # Which windows: drawn from random_state (same seed, same windows).
    picked = []
    original = base.BaseSleepClassifier._valid_subset

    def spy(self, y_valid, seed):
        picked.append(original(self, y_valid, seed))
        return picked[-1]

    monkeypatch.setattr(base.BaseSleepClassifier, "_valid_subset", spy)
    for random_state in (0, 0, 1):
        AugNetClassifier([["gaussian_noise"]], valid_subsample=6, **params).set_params(
            random_state=random_state, max_epochs=1
        ).fit(X, y, X_val=X_val, y_val=y_val)
    assert len(picked[0]) == 6 and np.array_equal(picked[0], picked[1])
    assert not np.array_equal(picked[0], picked[2])


@pytest.mark.parametrize(
    "name, value",
    [
        ("valid_every", 0),
        ("valid_every", 1.5),
        ("valid_subsample", 0),
        ("valid_subsample", 0.0),
        ("valid_subsample", 1.0),
        ("valid_subsample", -3),
        ("valid_subsample", "half"),
    ],
)
def test_validation_schedule_parameters_are_checked(data, name, value):
    X, y = data
    clf = AugNetClassifier(None, **{**FAST, "max_epochs": 1}).set_params(
        **{name: value}
    )
    with pytest.raises(ValueError, match=f"'{name}' parameter"):
        clf.fit(X, y)


@pytest.mark.parametrize(
    "params, name",
    [
        ({"sfreq": 0}, "sfreq"),
        ({"sfreq": -100.0}, "sfreq"),
        ({"sfreq": float("nan")}, "sfreq"),
        ({"lam": float("nan")}, "lam"),
        ({"lam": float("inf")}, "lam"),
        ({"lam": {0: float("nan")}}, "lam"),
        ({"lam": {0: 1.0, 5: float("inf")}}, "lam"),
        ({"lam": {0: -1.0}}, "lam"),
        ({"lam": {0: "10"}}, "lam"),
        ({"lam": {0: 1.0, "5": 2.0}}, "lam"),
        ({"lam": {0: 1.0, -3: 2.0}}, "lam"),
        ({"lam": {2: 1.0}}, "lam"),
        ({"lam": {}}, "lam"),
        ({"weight_decay": -1e-4}, "weight_decay"),
        ({"n_copies_eval": 2.5}, "n_copies_eval"),
        ({"betas": (float("nan"), 0.999)}, "betas"),
        ({"betas": (0.9,)}, "betas"),
    ],
)
def test_bad_parameters_are_refused_at_fit(data, params, name):
    # scikit-learn's parameter-constraints style: InvalidParameterError (a
    # ValueError) naming the parameter, before anything is trained.
    from sklearn.utils._param_validation import InvalidParameterError

    X, y = data
    clf = AugNetClassifier([["gaussian_noise"]], **{**FAST, "max_epochs": 1})
    clf.set_params(**params)
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
        clf.fit(X, y)
    assert not hasattr(clf, "module_")


def test_lambda_callable_returning_nan_is_refused(data):
    X, y = data
    params = {**FAST, "max_epochs": 1}
    clf = AugNetClassifier([["gaussian_noise"]], lam=lambda e: float("nan"), **params)
    with pytest.raises(ValueError, match="lambda must be a finite number >= 0"):
        clf.fit(X, y)


def test_epochs_context_is_checked_against_fit():
    # predict (and X_val) on mne.Epochs: the sampling rate and the channel names
    # must be those seen at fit, and the error names both values.
    mne = pytest.importorskip("mne")
    X, y = make_data(24, n_chans=2)

    def epochs(names=("C3", "C4"), sfreq=SFREQ, data=X):
        info = mne.create_info(list(names), sfreq, "eeg")
        return mne.EpochsArray(data * 1e-6, info, verbose=False)

    params = dict(
        trunk=TinyTrunk(), max_epochs=1, validation_fraction=None, random_state=0
    )
    clf = AugNetClassifier(None, **params).fit(epochs(), y)
    clf.predict(epochs())  # the same context
    with pytest.raises(ValueError, match=r"200\.0 Hz.*fitted.*100\.0 Hz"):
        clf.predict(epochs(sfreq=200.0))
    with pytest.raises(ValueError, match=r"\['C4', 'C3'\].*fitted.*\['C3', 'C4'\]"):
        clf.predict(epochs(names=("C4", "C3")))
    with pytest.raises(ValueError, match=r"\['Fz', 'Cz'\].*\['C3', 'C4'\]"):
        clf.predict_proba(epochs(names=("Fz", "Cz")))
    with pytest.raises(ValueError, match="X_val.*200.0 Hz"):
        AugNetClassifier(None, **params).fit(
            epochs(), y, X_val=epochs(sfreq=200.0), y_val=y
        )
    with pytest.raises(ValueError, match=r"X_val.*\['Fz', 'Cz'\]"):
        AugNetClassifier(None, **params).fit(
            epochs(), y, X_val=epochs(names=("Fz", "Cz")), y_val=y
        )
    # Fitted on arrays at 100 Hz without names: only the sampling rate is known.
    arrays = AugNetClassifier(None, sfreq=SFREQ, **params).fit(X, y)
    arrays.predict(epochs(names=("Fz", "Cz")))
    with pytest.raises(ValueError, match=r"50\.0 Hz.*100\.0 Hz"):
        arrays.predict(epochs(sfreq=50.0))


def _ctrl_c_at_step(monkeypatch, n_steps, snapshots=None):
    """Make the fit loop's optimiser steps raise KeyboardInterrupt at step ``n_steps``.

    With ``snapshots``, the weights at the end of every epoch's training are
    appended to it (they are the weights validated for that epoch).
    """
    from augsleep.training import loop

    train_step, run_epoch = loop.train_step, loop.run_epoch
    count = iter(range(10**6))

    def interrupting_step(*args, **kwargs):
        if next(count) == n_steps:
            raise KeyboardInterrupt
        return train_step(*args, **kwargs)

    def snapshotting_epoch(model, *args, **kwargs):
        metrics = run_epoch(model, *args, **kwargs)
        if snapshots is not None:
            snapshots.append(copy.deepcopy(model.state_dict()))
        return metrics

    monkeypatch.setattr(loop, "train_step", interrupting_step)
    monkeypatch.setattr(loop, "run_epoch", snapshotting_epoch)


def _fitted_names(clf):
    return sorted(
        k
        for k in vars(clf)
        if (k.endswith("_") and not k.startswith("__")) or k == "_predict_seed"
    )


def test_interrupted_fit_keeps_the_finished_epochs_and_the_best_weights(
    data, monkeypatch, tmp_path
):
    X, y = data
    X_val, y_val = make_data(24, seed=1)
    clf = AugNetClassifier(None, **{**FAST, "max_epochs": 20, "patience": None})
    clf.fit(X, y, X_val=X_val, y_val=y_val)  # a previous, complete fit
    assert len(clf.history_) == 20 and not clf.interrupted_
    # 48 windows in batches of 32: 2 steps per epoch. Ctrl-C after the first step
    # of epoch 3: the weights are then those of a half-done epoch.
    snapshots = []
    _ctrl_c_at_step(monkeypatch, 3 * 2 + 1, snapshots)
    with pytest.warns(UserWarning, match="interrupted.*during epoch 3") as record:
        clf.fit(X, y, X_val=X_val, y_val=y_val)
    monkeypatch.undo()
    scores = clf.history_.valid_balanced_accuracy.to_numpy()
    best = int(np.argmax(scores))
    message = str(record[0].message)
    assert f"weights of epoch {best}" in message and "best validation" in message
    assert clf.interrupted_ and clf.n_epochs_ == len(clf.history_) == 3
    assert clf.history_.epoch.tolist() == [0, 1, 2]
    assert clf.best_epoch_ == best and clf.best_valid_score_ == scores[best]
    assert set(clf.compute_time_) == {"pretrain_s", "search_s", "retrain_s", "total_s"}
    # The model holds the best epoch's weights and predicts as they do.
    state = clf.module_.state_dict()
    for k, v in snapshots[best].items():
        torch.testing.assert_close(state[k], v, rtol=0, atol=0)
    reference = copy.deepcopy(clf)
    reference.module_.load_state_dict(snapshots[best])
    np.testing.assert_array_equal(clf.predict_proba(X), reference.predict_proba(X))
    assert clf.score(X_val, y_val) == pytest.approx(clf.best_valid_score_)
    # What is saved is that model, marked as interrupted.
    clf.save(tmp_path / "m.pt")
    loaded = AugNetClassifier.load(tmp_path / "m.pt", trusted=True)
    assert loaded.interrupted_ and loaded.best_epoch_ == best
    pd_testing = pytest.importorskip("pandas.testing")
    pd_testing.assert_frame_equal(loaded.history_, clf.history_)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    # A complete refit clears the mark.
    assert not clf.fit(X, y, X_val=X_val, y_val=y_val).interrupted_


def test_interrupted_fit_without_validation_keeps_the_last_finished_epoch(
    data, monkeypatch
):
    X, y = data
    snapshots = []
    _ctrl_c_at_step(monkeypatch, 3 * 2 + 1, snapshots)
    clf = AugNetClassifier(None, **{**FAST, "max_epochs": 20})
    with pytest.warns(UserWarning, match="weights of epoch 2.*last finished"):
        clf.fit(X, y)
    assert clf.interrupted_ and clf.n_epochs_ == 3 and clf.best_epoch_ == 2
    for k, v in clf.module_.state_dict().items():
        torch.testing.assert_close(v, snapshots[2][k], rtol=0, atol=0)


def test_interrupt_before_any_epoch_leaves_the_estimator_unfitted(data, monkeypatch):
    X, y = data
    clf = AugNetClassifier(None, **FAST).fit(X, y)
    fitted = _fitted_names(clf)
    assert "history_" in fitted and "module_" in fitted
    _ctrl_c_at_step(monkeypatch, 1)  # in epoch 0
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    assert _fitted_names(clf) == []
    with pytest.raises(NotFittedError):
        clf.predict(X)
    with pytest.raises(NotFittedError):
        clf.save("never-written.pt")


def test_failed_refit_leaves_no_mixture_of_two_fits(data):
    X, y = data
    clf = AugNetClassifier([["gaussian_noise"]], **FAST).fit(X, y)

    def failing(epoch):
        if epoch == 2:
            raise RuntimeError("schedule broke")
        return 0.1

    with pytest.raises(RuntimeError, match="schedule broke"):
        clf.set_params(lam=failing).fit(X, y)
    assert _fitted_names(clf) == []
    with pytest.raises(NotFittedError):
        clf.predict(X)


def test_n_sampled_transforms_sets_every_layer_and_trains(data):
    X, y = data
    given = AugmentationModule.from_names([["gaussian_noise", "time_reverse"]] * 2)
    clf = AugNetClassifier(
        given, **{**FAST, "max_epochs": 2}, n_sampled_transforms=1
    ).fit(X, y)
    layers = clf.module_.augmentation.layers
    assert [layer.n_sampled_transforms for layer in layers] == [1, 1]
    # The user's module is copied, not changed.
    assert [layer.n_sampled_transforms for layer in given.layers] == [None, None]
    assert np.isfinite(clf.history_["train_loss"]).all()
    named = AugNetClassifier(
        [["gaussian_noise", "time_reverse"]],
        **{**FAST, "max_epochs": 1},
        n_sampled_transforms=1,
    ).fit(X, y)
    assert named.module_.augmentation.layers[0].n_sampled_transforms == 1


@pytest.mark.parametrize("value", [0, -2, 1.5])
def test_bad_n_sampled_transforms_is_refused_at_fit(data, value):
    from sklearn.utils._param_validation import InvalidParameterError

    X, y = data
    clf = AugNetClassifier(**FAST, n_sampled_transforms=value)
    with pytest.raises(InvalidParameterError, match="n_sampled_transforms"):
        clf.fit(X, y)


def test_n_sampled_transforms_without_learnable_layers_is_refused(data):
    X, y = data
    with pytest.raises(ValueError, match="n_sampled_transforms.*None"):
        AugNetClassifier(None, **FAST, n_sampled_transforms=2).fit(X, y)
