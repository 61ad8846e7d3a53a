"""Noisy sinusoids with a known frequency-shift invariance (the paper's Section 4.2).

Class ``k`` is a sine wave whose frequency is drawn uniformly within
``freqs[k] +- delta_f``; the classes are ``2 * delta_f`` apart, so the labels are
invariant to frequency shifts of up to ``delta_f`` Hz: the invariance AugNet must
learn.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state

#: Base frequencies (Hz) of the four classes.
SINUSOID_FREQS = (2.0, 4.0, 6.0, 8.0)


def make_sinusoids(
    n_windows: int = 400,
    freqs: tuple[float, ...] = SINUSOID_FREQS,
    delta_f: float = 0.5,
    amplitude: float = 1.0,
    noise_std: float = 0.5,
    duration: float = 10.0,
    sfreq: float = 100.0,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw labelled noisy sinusoids.

    Parameters
    ----------
    n_windows : int
        Number of examples; classes are balanced (they differ by at most one).
    freqs : tuple of float
        Base frequency of each class, in Hz.
    delta_f : float
        Half-width (Hz) of the uniform frequency jitter around each base frequency.
    amplitude : float
        Amplitude of the sine waves.
    noise_std : float
        Standard deviation of the additive white Gaussian noise.
    duration : float
        Length of each example, in seconds.
    sfreq : float
        Sampling frequency, in Hz.
    random_state : int | RandomState | None
        Seed of every draw (labels, frequencies, phases, noise).

    Returns
    -------
    X : ndarray, shape (n_windows, 1, n_times)
        Signals, float32, ``n_times = round(duration * sfreq)``.
    y : ndarray, shape (n_windows,)
        Class indices (int64) into ``freqs``.
    """
    if n_windows < 1:
        raise ValueError(f"n_windows must be >= 1, got {n_windows}.")
    if delta_f < 0 or noise_std < 0:
        raise ValueError(
            f"delta_f and noise_std must be >= 0, got {delta_f} and {noise_std}."
        )
    rng = check_random_state(random_state)
    n_classes = len(freqs)
    n_times = int(round(duration * sfreq))
    y = rng.permutation(np.arange(n_windows) % n_classes).astype(np.int64)
    f = np.asarray(freqs, dtype=float)[y] + rng.uniform(-delta_f, delta_f, n_windows)
    phase = rng.uniform(0, 2 * np.pi, n_windows)
    t = np.arange(n_times) / sfreq
    X = amplitude * np.sin(2 * np.pi * f[:, None] * t[None, :] + phase[:, None])
    X += noise_std * rng.standard_normal(X.shape)
    return X[:, None, :].astype(np.float32), y
