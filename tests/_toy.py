"""Toy data and a tiny trunk shared by the tests of the methods and the loop."""

import numpy as np
from torch import nn

from augsleep.data import make_bumps

SFREQ = 100.0


class _Tiny(nn.Module):
    def __init__(self, n_chans, n_times, n_classes):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(n_chans * n_times, 16),
            nn.ReLU(),
            nn.Dropout(0.2),
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

    def __eq__(self, other):
        # Stateless: copies (clone, pickle) are equal, so get_params compare.
        return isinstance(other, TinyTrunk)

    def __hash__(self):
        return hash(TinyTrunk)


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


#: Shared parameters of the method tests: the tiny trunk, a fast optimiser, 3
#: epochs with patience 2, seeded, on the CPU (each file adapts its copy).
TINY = dict(
    trunk=TinyTrunk(),
    sfreq=SFREQ,
    max_epochs=3,
    patience=2,
    lr=1e-2,
    betas=(0.9, 0.999),
    random_state=0,
    device="cpu",
)


def control_params(seed=0, max_epochs=15, patience=5):
    """Parameters every method shares in the toy controls (tests, bench_controls.py).

    The tiny trunk (a new one per call), a fast optimiser, up to ``max_epochs``
    epochs with ``patience``, seeded, on the CPU.
    """
    return dict(
        trunk=TinyTrunk(),
        sfreq=SFREQ,
        max_epochs=max_epochs,
        patience=patience,
        lr=1e-2,
        betas=(0.9, 0.999),
        random_state=seed,
        device="cpu",
    )


def make_splits():
    """Training (48), validation (24) and test (24) windows of :func:`make_data`.

    Returns ``(X, y, X_val, y_val, X_test, y_test)``.
    """
    X, y = make_data()
    X_val, y_val = make_data(24, seed=1)
    X_test, y_test = make_data(24, seed=2)
    return X, y, X_val, y_val, X_test, y_test


def fit_method(cls, splits, test=False, **params):
    """Fit ``cls(**params)`` on :func:`make_splits`'s data (test data if asked)."""
    X, y, X_val, y_val, X_test, y_test = splits
    extra = dict(X_test=X_test, y_test=y_test) if test else {}
    return cls(**params).fit(X, y, X_val=X_val, y_val=y_val, **extra)


#: Operations of the ramps control (benchmarks/bench_controls.py and the tests):
#: time reverse destroys the label of augsleep.data.make_ramps.
RAMP_OPERATIONS = (
    "time_reverse",
    "gaussian_noise",
    "smooth_time_mask",
    "frequency_shift",
)


#: Operations of the bumps control (benchmarks/bench_controls.py and the tests):
#: sign flip is the invariance that helps on augsleep.data.make_bumps, time
#: reverse destroys the label. Sign flip comes last so that a gradient search
#: whose weights barely move exports (per stage, the first of tied operations)
#: anything but it.
BUMP_OPERATIONS = (
    "time_reverse",
    "gaussian_noise",
    "smooth_time_mask",
    "sign_flip",
)


def make_bumps_control(seed=0, n_train=20, n_valid=80, n_test=400, train_flip=0.0):
    """Training, validation and test sets of the bumps positive control.

    The training windows' bumps are all positive (negative with probability
    ``train_flip``), the validation and test windows' negative with probability
    1/2: without sign flip a model sees half of the sign's range (about chance
    on the test set), with it nearly all of it (benchmarks/README.md, "Positive
    control").

    Returns
    -------
    sets : tuple of 3 (X, y) pairs
        ``X : ndarray, shape (n, 1, 100)``, ``y : ndarray, shape (n,)`` of the
        training, validation and test windows.
    """
    return tuple(
        make_bumps(n, flip_probability=flip, random_state=seed + offset)
        for n, flip, offset in (
            (n_train, train_flip, 0),
            (n_valid, 0.5, 100),
            (n_test, 0.5, 200),
        )
    )


def gets_operation(choices, operation):
    """P(a window gets ``operation`` at least once) under a policy's draws.

    ``choices`` is a discrete policy (``policy_choices_``: per sub-policy, its
    ``(operation, probability, magnitude)`` stages), its sub-policies drawn
    uniformly.
    """
    per_sub = []
    for sub in choices:
        p_none = 1.0
        for op, prob, _ in sub:
            if op == operation:
                p_none *= 1.0 - prob
        per_sub.append(1.0 - p_none)
    return float(np.mean(per_sub))


def prior(operation, n_ops, n_stages):
    """:func:`gets_operation` for a policy drawn uniformly (E[prob] = 1/2)."""
    return 1.0 - (1.0 - 0.5 / n_ops) ** n_stages


def relaxed_gets_operation(frame, operation):
    """:func:`gets_operation` of a relaxed policy (gradient searches).

    ``frame`` has the columns of :meth:`augsleep.augment.Policy.to_frame` with
    ``all_operations=True`` (and ``class`` for class-wise policies): per stage
    a window gets ``operation`` with its weight times its probability;
    sub-policies (and classes) are averaged uniformly. From a uniform start
    (weights ``1 / n_ops``, probabilities 1/2) this is :func:`prior`.
    """
    keys = [k for k in ("class", "subpolicy") if k in frame.columns]
    per_sub = []
    for _, sub in frame.groupby(keys):
        rows = sub[sub["transform"] == operation]
        per_sub.append(1.0 - np.prod(1.0 - rows["weight"] * rows["probability"]))
    return float(np.mean(per_sub))
