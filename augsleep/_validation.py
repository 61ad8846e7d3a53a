"""Input checks shared across the package, with errors that name what is wrong."""

from __future__ import annotations

import math
import numbers

import torch
from torch import Tensor


def check_eeg_batch(X: Tensor, name: str = "X", check_finite: bool = True) -> Tensor:
    """Check that ``X`` is a finite floating batch of EEG windows.

    Any floating dtype is accepted, float16 and bfloat16 included (the
    transforms compute in float32 for those and return the batch's dtype), and
    any number of windows, 0 included.

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


def check_finite_number(
    value, name: str, owner: str, *, allow_zero: bool = False
) -> float:
    """Return ``value`` as a float, checked to be a finite positive number.

    Parameters
    ----------
    value : float
        A Python or numpy number (not a bool, a string or an array).
    name : str
        Name of the parameter, used in error messages.
    owner : str
        Name of the object the parameter configures (e.g. ``"GaussianNoise"``),
        which starts the error message.
    allow_zero : bool
        Whether 0 is allowed (then the number must be non-negative).

    Returns
    -------
    value : float

    Raises
    ------
    ValueError
        If ``value`` is not a number, or is NaN, infinite, negative or (unless
        ``allow_zero``) zero.
    """
    number = None
    if not isinstance(value, bool | str | bytes):
        try:
            number = float(value)
        except (TypeError, ValueError, RuntimeError):
            number = None
    if number is None:
        raise ValueError(
            f"{owner}: {name} must be a number, got {value!r} ({type(value).__name__})."
        )
    if not (math.isfinite(number) and (number >= 0 if allow_zero else number > 0)):
        sign = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{owner}: {name} must be {sign} and finite, got {value!r}.")
    return number


def check_count(value, name: str, owner: str, minimum: int = 1) -> int:
    """Return ``value`` as an int, checked to be an integer >= ``minimum``.

    Parameters
    ----------
    value : int
        A Python or numpy integer, or a float with an integral value.
    name : str
        Name of the parameter, used in error messages.
    owner : str
        Name of the object the parameter configures, which starts the message.
    minimum : int
        Smallest allowed value.

    Returns
    -------
    value : int

    Raises
    ------
    ValueError
        If ``value`` is not an integer (a bool, a string, 2.5, inf...) or is
        below ``minimum``.
    """
    integral = isinstance(value, numbers.Integral) or (
        isinstance(value, numbers.Real) and math.isfinite(value) and value == int(value)
    )
    if isinstance(value, bool) or not integral or int(value) < minimum:
        raise ValueError(
            f"{owner}: {name} must be an integer >= {minimum}, got {value!r}."
        )
    return int(value)
