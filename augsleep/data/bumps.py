"""Bumps of either polarity: a toy task whose label is invariant to sign flips.

Class ``k`` is one Gaussian bump centred at ``positions[k]`` of the window, of
either sign, plus white noise: the label is where the event lies, whatever its
polarity (in EEG the sign of a deflection depends on the reference, the
invariance that sign flip augmentation encodes). With
``flip_probability=0`` every bump is positive: a training set that shows only
half of the nuisance's range, so that sign flip augmentation is what lets a
model classify the negative bumps of a test set drawn with
``flip_probability=0.5``. With the default positions (a quarter and three
quarters of the window), time reverse maps one class onto the other: it
destroys the label.
This is the positive control of the policy searches
(benchmarks/bench_controls.py, tests/test_search_controls.py).
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state

#: Centres of the two classes' bumps, as fractions of the window.
BUMP_POSITIONS = (0.25, 0.75)


def make_bumps(
    n_windows: int,
    n_times: int = 100,
    positions: tuple[float, ...] = BUMP_POSITIONS,
    width: float = 0.05,
    flip_probability: float = 0.5,
    noise_std: float = 0.5,
    amplitude: float = 30.0,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw noisy bumps whose position gives the class and whose sign is random.

    Parameters
    ----------
    n_windows : int
        Number of examples; classes alternate (0, 1, 0, ...).
    n_times : int
        Samples per window.
    positions : tuple of float
        Centre of each class's bump, as a fraction of the window in [0, 1].
    width : float
        Standard deviation of the Gaussian bump, as a fraction of the window
        (> 0).
    flip_probability : float
        Probability in [0, 1] that a window's bump is negative.
    noise_std : float
        Standard deviation of the white Gaussian noise added to the unit bump.
    amplitude : float
        Scale of the bump plus noise (default: the microvolt scale of EEG).
    random_state : int | RandomState | None
        Seed of the signs and the noise.

    Returns
    -------
    X : ndarray, shape (n_windows, 1, n_times)
        Signals, float32: ``amplitude * (+-bump + noise_std * noise)``.
    y : ndarray, shape (n_windows,)
        Class indices (int64) into ``positions``.
    """
    if n_windows < 1 or n_times < 2:
        raise ValueError(
            f"n_windows must be >= 1 and n_times >= 2, got {n_windows} and {n_times}."
        )
    positions = np.asarray(positions, dtype=float)
    if positions.ndim != 1 or len(positions) < 2:
        raise ValueError(f"positions must give 2 or more classes, got {positions}.")
    if not ((positions >= 0) & (positions <= 1)).all():
        raise ValueError(f"positions must lie in [0, 1], got {positions.tolist()}.")
    if not width > 0:
        raise ValueError(f"width must be > 0, got {width}.")
    if not 0 <= flip_probability <= 1:
        raise ValueError(
            f"flip_probability must lie in [0, 1], got {flip_probability}."
        )
    if noise_std < 0:
        raise ValueError(f"noise_std must be >= 0, got {noise_std}.")
    rng = check_random_state(random_state)
    y = np.arange(n_windows, dtype=np.int64) % len(positions)
    sign = np.where(rng.uniform(size=n_windows) < flip_probability, -1.0, 1.0)
    t = np.linspace(0.0, 1.0, n_times)
    bumps = np.exp(-0.5 * ((t[None, :] - positions[:, None]) / width) ** 2)
    X = (sign[:, None] * bumps[y])[:, None, :]
    X = amplitude * (X + noise_std * rng.randn(n_windows, 1, n_times))
    return X.astype(np.float32), y
