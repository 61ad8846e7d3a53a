"""Input checks and conversion shared by the estimators.

Windows come as arrays (n_windows, n_channels, n_times), 2-D arrays
(n_windows, n_times) read as single-channel windows, or ``mne.Epochs``; the
context (sampling rate, channel names, sensor positions) comes from the
estimator's parameters or the Epochs' ``info``.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_consistent_length,
    column_or_1d,
    validate_data,
)
from torch import Tensor

logger = logging.getLogger(__name__)


def is_epochs(X) -> bool:
    """Return whether ``X`` is an ``mne.Epochs`` (any ``BaseEpochs``)."""
    try:
        from mne import BaseEpochs
    except ImportError:  # pragma: no cover - mne is a dependency
        return False
    return isinstance(X, BaseEpochs)


def to_array(X):
    """Return ``(array, info)`` from an array-like or an ``mne.Epochs``.

    Parameters
    ----------
    X : array-like | mne.Epochs
        Windows.

    Returns
    -------
    X : array-like
        ``epochs.get_data(units="uV")`` for Epochs (microvolts: the unit of the
        arrays built by :mod:`augsleep.data`), else ``X`` unchanged.
    info : mne.Info | None
        The Epochs' info, ``None`` for arrays.
    """
    if is_epochs(X):
        return X.get_data(units="uV"), X.info
    return X, None


def check_windows(estimator, X, *, reset: bool):
    """Validate windows and return them as a 3-D array.

    At fit (``reset=True``) records ``n_features_in_`` (as scikit-learn counts
    features of n-d input: ``X.shape[1]``) and ``input_ndim_`` on the
    estimator; afterwards checks ``X`` against them and against the window shape
    ``(n_chans_in_, n_times_in_)`` seen at fit.

    Parameters
    ----------
    estimator : BaseEstimator
        The estimator being fitted or used.
    X : array-like, shape (n_windows, n_channels, n_times) or \
(n_windows, n_times) | mne.Epochs
        Windows (finite values, at least one).
    reset : bool
        Whether this is the training data.

    Returns
    -------
    X : ndarray of float32 or float64, shape (n_windows, n_channels, n_times)
        2-D input gets a channel axis of length 1.
    info : mne.Info | None
        Info of Epochs input.
    """
    X, info = to_array(X)
    name = type(estimator).__name__
    ndim = getattr(X, "ndim", None)
    if not reset and ndim in (2, 3) and ndim != estimator.input_ndim_:
        # Before validate_data, whose feature-count message would mislead here.
        raise ValueError(
            f"X has {ndim} dimensions but {name} was fitted on "
            f"{estimator.input_ndim_}-dimensional input."
        )
    X = validate_data(
        estimator,
        X,
        reset=reset,
        allow_nd=True,
        dtype=[np.float32, np.float64],
        ensure_min_samples=1,
    )
    if X.ndim not in (2, 3):
        raise ValueError(
            "X must have shape (n_windows, n_channels, n_times) or "
            f"(n_windows, n_times), got {X.ndim} dimensions with shape {X.shape}."
        )
    if reset:
        estimator.input_ndim_ = X.ndim
    elif X.ndim != estimator.input_ndim_:
        raise ValueError(
            f"X has {X.ndim} dimensions but {name} was fitted on "
            f"{estimator.input_ndim_}-dimensional input."
        )
    X3 = X[:, None, :] if X.ndim == 2 else X
    window = (estimator.n_chans_in_, estimator.n_times_in_) if not reset else None
    if window is not None and X3.shape[1:] != window:
        raise ValueError(
            f"X has windows of shape (n_channels, n_times) = {X3.shape[1:]}, but "
            f"{name} was fitted on {window}."
        )
    return X3, info


def check_context(estimator, info, what: str = "X") -> None:
    """Check the context of ``mne.Epochs`` given after fit against fit's.

    Parameters
    ----------
    estimator : BaseEstimator
        Fitted estimator (``sfreq_``, ``ch_names_``).
    info : mne.Info | None
        Info of the Epochs; ``None`` (arrays) checks nothing.
    what : str
        Name of the argument in the messages (``"X"``, ``"X_val"``).

    Raises
    ------
    ValueError
        The sampling rate differs from ``sfreq_``, or the channel names (in
        order) from ``ch_names_`` when fit knew them.
    """
    if info is None:
        return
    name = type(estimator).__name__
    if not math.isclose(info["sfreq"], estimator.sfreq_):
        raise ValueError(
            f"{what} (mne.Epochs) has a sampling rate of {float(info['sfreq'])} Hz, "
            f"but {name} was fitted at {estimator.sfreq_} Hz: resample it "
            "(epochs.resample) to the fit's rate."
        )
    fit_names = estimator.ch_names_
    if fit_names is not None and list(info.ch_names) != list(fit_names):
        raise ValueError(
            f"{what} (mne.Epochs) has the channels {list(info.ch_names)}, but {name} "
            f"was fitted on {list(fit_names)} (same names in the same order "
            "expected: epochs.reorder_channels)."
        )


def check_labels(y, n_windows: int, estimator_name: str) -> np.ndarray:
    """Validate classification targets.

    Parameters
    ----------
    y : array-like, shape (n_windows,)
        Labels (integers or strings).
    n_windows : int
        Number of windows they label.
    estimator_name : str
        Name used in the error when ``y`` is None.

    Returns
    -------
    y : ndarray, shape (n_windows,)
    """
    if y is None:
        raise ValueError(
            f"requires y to be passed, but the target y is None "
            f"({estimator_name} is a classifier)."
        )
    y = column_or_1d(y, warn=True)
    check_consistent_length(np.empty(n_windows), y)
    check_classification_targets(y)
    return y


def resolve_context(
    *, sfreq, ch_names, positions, info, n_chans: int, estimator_name: str
) -> tuple[float, list[str] | None, np.ndarray | None]:
    """Get the sampling rate, channel names and positions (parameters or info).

    Parameters
    ----------
    sfreq : float | None
        Sampling rate parameter, in Hz.
    ch_names : list of str | None
        Channel names parameter.
    positions : array-like, shape (n_channels, 3) | None
        Sensor positions parameter, in metres.
    info : mne.Info | None
        Info of Epochs input: fills what the parameters leave at None (the
        sampling rates must agree when both are given).
    n_chans : int
        Number of channels of the data.
    estimator_name : str
        Name used in error messages.

    Returns
    -------
    sfreq : float
    ch_names : list of str | None
    positions : ndarray, shape (n_channels, 3) | None
    """
    if info is not None:
        if sfreq is not None and not math.isclose(sfreq, info["sfreq"]):
            raise ValueError(
                f"sfreq={sfreq} differs from the Epochs' sampling rate {info['sfreq']}."
            )
        sfreq = info["sfreq"]
    if sfreq is None:
        raise ValueError(
            "sfreq is required with array input: pass "
            f"{estimator_name}(sfreq=...) (in Hz), or fit on mne.Epochs."
        )
    if ch_names is None and info is not None:
        ch_names = list(info.ch_names)
    if ch_names is not None and len(ch_names) != n_chans:
        raise ValueError(
            f"ch_names has {len(ch_names)} names but X has {n_chans} channels."
        )
    if positions is None and info is not None:
        from augsleep.channels import positions_from_info

        try:
            positions = positions_from_info(info)
        except ValueError as err:
            logger.info("No sensor positions in the Epochs' info (%s).", err)
    if positions is not None:
        positions = np.asarray(positions, dtype=np.float64)
        if positions.shape != (n_chans, 3):
            raise ValueError(
                f"positions must have shape ({n_chans}, 3), got {positions.shape}."
            )
    return float(sfreq), None if ch_names is None else list(ch_names), positions


def fit_standard_scaling(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of training windows.

    Parameters
    ----------
    X : ndarray, shape (n_windows, n_channels, n_times)
        Training windows.

    Returns
    -------
    mean, std : ndarray of float64, shape (n_channels,)
        A constant channel gets a standard deviation of 1 (left unscaled).
    """
    mean = X.mean(axis=(0, 2), dtype=np.float64)
    std = X.std(axis=(0, 2), dtype=np.float64)
    return mean, np.where(std > 0, std, 1.0)


def scale_windows(X: np.ndarray, mean=None, std=None) -> Tensor:
    """Z-score windows per channel (when given statistics) as a float32 tensor.

    Parameters
    ----------
    X : ndarray, shape (n_windows, n_channels, n_times)
        Windows.
    mean, std : ndarray, shape (n_channels,) | None
        Statistics of :func:`fit_standard_scaling`; ``None`` leaves ``X`` as is.

    Returns
    -------
    X : Tensor of float32, shape (n_windows, n_channels, n_times)
        C-contiguous, writeable (no copy when ``X`` already is float32).
    """
    if mean is not None:
        X = (X - mean[:, None]) / std[:, None]
    return torch.from_numpy(np.require(X, dtype=np.float32, requirements="CW"))
