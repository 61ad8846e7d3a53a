"""Input checks shared across the package, with errors that name what is wrong."""

from __future__ import annotations

import torch
from torch import Tensor


def check_eeg_batch(X: Tensor, name: str = "X", check_finite: bool = True) -> Tensor:
    """Check that ``X`` is a finite floating batch of EEG windows.

    Parameters
    ----------
    X : Tensor, shape (n_windows, n_channels, n_times)
        Batch to check.
    name : str
        Name of the argument, used in error messages.
    check_finite : bool
        Whether to reject NaN and inf (costs one pass over the data).

    Returns
    -------
    X : Tensor
        The same tensor.
    """
    if not isinstance(X, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(X).__name__}.")
    if X.ndim != 3:
        raise ValueError(
            f"{name} must have shape (n_windows, n_channels, n_times), got "
            f"{X.ndim} dimension(s) with shape {tuple(X.shape)}."
        )
    if not X.is_floating_point():
        raise TypeError(f"{name} must be a floating tensor, got dtype {X.dtype}.")
    if check_finite and not bool(torch.isfinite(X).all()):
        n_bad = int((~torch.isfinite(X)).sum())
        raise ValueError(f"{name} contains {n_bad} NaN or infinite value(s).")
    return X
