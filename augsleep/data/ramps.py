"""Rising and falling ramps: a toy task whose label is the direction of time.

Time reverse maps one class onto the other without changing the data's
distribution, which makes it the negative control of the automatic data
augmentation searches: a faithful search gives time reverse a low probability
(tests/test_search_controls.py, tests/test_adda.py, benchmarks/bench_controls.py).
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state


def make_ramps(
    n_windows: int,
    n_times: int = 100,
    noise_std: float = 0.3,
    amplitude: float = 30.0,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw noisy ramps: class 0 rises from -1 to 1, class 1 falls.

    Parameters
    ----------
    n_windows : int
        Number of examples; classes alternate (0, 1, 0, ...).
    n_times : int
        Samples per window.
    noise_std : float
        Standard deviation of the white Gaussian noise added to the unit ramp.
    amplitude : float
        Scale of the ramp plus noise (default: the microvolt scale of EEG).
    random_state : int | RandomState | None
        Seed of the noise.

    Returns
    -------
    X : ndarray, shape (n_windows, 1, n_times)
        Signals, float32: ``amplitude * (+-ramp + noise_std * noise)``.
    y : ndarray, shape (n_windows,)
        Class indices (int64): 0 rising, 1 falling.
    """
    if n_windows < 1 or n_times < 2:
        raise ValueError(
            f"n_windows must be >= 1 and n_times >= 2, got {n_windows} and {n_times}."
        )
    if noise_std < 0:
        raise ValueError(f"noise_std must be >= 0, got {noise_std}.")
    rng = check_random_state(random_state)
    y = np.arange(n_windows, dtype=np.int64) % 2
    ramp = np.linspace(-1.0, 1.0, n_times)
    X = np.where(y[:, None] == 0, ramp, -ramp)[:, None, :]
    X = amplitude * (X + noise_std * rng.randn(n_windows, 1, n_times))
    return X.astype(np.float32), y
