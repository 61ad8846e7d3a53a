"""Argument checks of the loaders and writers, with errors naming the value."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence

import numpy as np


def check_int(value, name: str, low: int, high: int, why: str = "") -> int:
    """Return ``value`` as an int if it is an integer in ``low..high``, else raise."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or not low <= value <= high
    ):
        why = f" ({why})" if why else ""
        raise ValueError(
            f"{name} must be an integer in {low}..{high}{why}, got {value!r}."
        )
    return int(value)


def check_number(
    value, name: str, *, allow_none: bool = False, allow_zero: bool = False
) -> float | None:
    """Return ``value`` as a float if it is finite and positive (or None), else raise.

    Parameters
    ----------
    value : object
        Value to check.
    name : str
        Argument name, used in the error message.
    allow_none : bool
        Whether None is accepted (and returned).
    allow_zero : bool
        Whether zero is accepted.

    Returns
    -------
    value : float | None
        The value.
    """
    if value is None and allow_none:
        return None
    ok = (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (value >= 0 if allow_zero else value > 0)
    )
    if not ok:
        expected = f"a finite number {'>= 0' if allow_zero else '> 0'}"
        expected += " or None" if allow_none else ""
        raise ValueError(f"{name} must be {expected}, got {value!r}.")
    return float(value)


def check_ids(value, name: str) -> set[int] | None:
    """Return a set of ids from an iterable of int (or None), else raise."""
    if value is None:
        return None
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ValueError(
            f"{name} must be an iterable of int (e.g. [0, 1]) or None, got {value!r}."
        )
    ids = list(value)
    if not all(
        isinstance(i, numbers.Integral) and not isinstance(i, bool) for i in ids
    ):
        raise ValueError(f"{name} must hold integers, got {ids}.")
    return {int(i) for i in ids}


def check_channel_names(channels, name: str = "channels") -> list[str]:
    """Return ``channels`` as a list if it is a non-empty list of distinct names."""
    if isinstance(channels, str) or not isinstance(channels, Sequence):
        raise ValueError(
            f"{name} must be a list of channel names (e.g. ['EEG Fpz-Cz']), got "
            f"{channels!r}."
        )
    channels = list(channels)
    if not channels:
        raise ValueError(f"{name} must name at least one channel, got {channels}.")
    bad = [ch for ch in channels if not isinstance(ch, str) or not ch]
    if bad:
        raise ValueError(f"{name} must hold non-empty strings, got {bad}.")
    twice = sorted({ch for ch in channels if channels.count(ch) > 1})
    if twice:
        raise ValueError(f"{name} names some channels twice: {twice}.")
    return channels


def check_preprocessing(
    *,
    channels: Sequence[str],
    crop_wake_mins: float | None,
    l_freq: float | None,
    h_freq: float | None,
    sfreq: float | None,
    window_s: float,
    standardize: bool,
) -> None:
    """Check the preprocessing arguments shared by the PSG loaders.

    Raises
    ------
    ValueError
        Naming the first bad argument, its value and what was expected.
    """
    check_channel_names(channels)
    check_number(crop_wake_mins, "crop_wake_mins", allow_none=True, allow_zero=True)
    l_freq = check_number(l_freq, "l_freq", allow_none=True, allow_zero=True)
    h_freq = check_number(h_freq, "h_freq", allow_none=True)
    if l_freq is not None and h_freq is not None and l_freq >= h_freq:
        raise ValueError(f"l_freq ({l_freq}) must be below h_freq ({h_freq}).")
    sfreq = check_number(sfreq, "sfreq", allow_none=True)
    window_s = check_number(window_s, "window_s")
    if sfreq is not None and abs(window_s * sfreq - round(window_s * sfreq)) > 1e-6:
        raise ValueError(
            f"window_s * sfreq must be an integer, got {window_s} s at {sfreq} Hz."
        )
    check_flag(standardize, "standardize")


def check_flag(value, name: str) -> bool:
    """Return ``value`` if it is a bool (numpy's included), else raise."""
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be True or False, got {value!r}.")
    return bool(value)
