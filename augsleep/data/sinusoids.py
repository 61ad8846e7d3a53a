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


def load_sinusoids(
    n_windows: int = 400,
    n_recordings: int = 1,
    random_state: int | np.random.RandomState | None = None,
    **kwargs,
):
    """Noisy sinusoids as a braindecode windows dataset, like the other loaders.

    Parameters
    ----------
    n_windows : int
        Total number of windows, drawn by :func:`make_sinusoids`.
    n_recordings : int
        Number of pseudo-recordings (subjects ``0 .. n_recordings - 1``), so that
        subject-wise splitters apply; windows are dealt out in turn.
    random_state : int | RandomState | None
        Seed of every draw.
    **kwargs
        Other arguments of :func:`make_sinusoids` (``freqs``, ``delta_f``,
        ``duration``, ``sfreq``, ...).

    Returns
    -------
    dataset : braindecode.datasets.BaseConcatDataset
        ``n_recordings`` ``EEGWindowsDataset``; windows of shape
        (1, duration * sfreq), targets = class index; description fields
        ``study`` ("sinusoids"), ``subject``, ``recording``. The
        ``loading_report`` attribute is a ``LoadingReport``.
    """
    import mne

    from ._report import LoadingReport, RecordingReport
    from .windows import concat_windows, windows_from_raw

    if not 1 <= n_recordings <= n_windows:
        raise ValueError(
            f"n_recordings must be in [1, n_windows={n_windows}], got {n_recordings}."
        )
    X, y = make_sinusoids(n_windows, random_state=random_state, **kwargs)
    freqs = kwargs.get("freqs", SINUSOID_FREQS)
    sfreq = kwargs.get("sfreq", 100.0)
    names = [f"{f:g} Hz" for f in freqs]
    mapping = {name: k for k, name in enumerate(names)}
    report = LoadingReport()
    datasets = []
    for rec in range(n_recordings):
        Xr, yr = X[rec::n_recordings], y[rec::n_recordings]
        n_times = Xr.shape[-1]
        data = Xr.transpose(1, 0, 2).reshape(1, -1).astype(np.float64)
        raw = mne.io.RawArray(
            data, mne.create_info(["sinusoid"], sfreq, "eeg"), verbose="error"
        )
        source = f"sinusoids (recording {rec})"
        datasets.append(
            windows_from_raw(
                raw,
                np.arange(len(yr)) * n_times / sfreq,
                [names[k] for k in yr],
                {"study": "sinusoids", "subject": rec, "recording": 1},
                window_s=n_times / sfreq,
                mapping=mapping,
            )
        )
        report.add(RecordingReport(source=source, n_windows=len(yr)))
    return concat_windows(datasets, report)
