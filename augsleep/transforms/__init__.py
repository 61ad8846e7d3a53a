"""Differentiable EEG transforms with learnable magnitudes.

Each transform maps a magnitude ``mu`` in [0, 1] linearly onto a physical range
(the paper's Table A.4 by default) and is differentiable with respect to ``mu``.
Build one by name with :func:`make_transform`; :data:`TRANSFORMS` lists them.
"""

from __future__ import annotations

from augsleep.transforms.base import DifferentiableTransform, ProbabilityTransform
from augsleep.transforms.frequency import BandstopFilter, FrequencyShift, FTSurrogate
from augsleep.transforms.sensors import (
    ChannelsDropout,
    ChannelsShuffle,
    ChannelsSymmetry,
    SensorsRotation,
    SensorsXRotation,
    SensorsYRotation,
    SensorsZRotation,
    SignFlip,
)
from augsleep.transforms.time import GaussianNoise, SmoothTimeMask, TimeReverse

#: Transform classes by registry name, in the paper's order (Table A.4).
TRANSFORMS: dict[str, type[DifferentiableTransform]] = {
    cls.name: cls
    for cls in (
        TimeReverse,
        SmoothTimeMask,
        GaussianNoise,
        FTSurrogate,
        FrequencyShift,
        BandstopFilter,
        SignFlip,
        ChannelsSymmetry,
        ChannelsShuffle,
        ChannelsDropout,
        SensorsXRotation,
        SensorsYRotation,
        SensorsZRotation,
    )
}


def make_transform(
    name: str,
    magnitude: float = 0.0,
    *,
    sfreq: float | None = None,
    ch_names: list[str] | None = None,
    positions=None,
    **kwargs,
) -> DifferentiableTransform:
    """Build a transform from its registry name.

    Parameters
    ----------
    name : str
        One of :data:`TRANSFORMS`' keys, e.g. ``"frequency_shift"``.
    magnitude : float
        Initial magnitude in [0, 1].
    sfreq : float | None
        Sampling frequency in Hz, for the transforms that need it.
    ch_names : list of str | None
        Channel names, for channels symmetry.
    positions : array-like, shape (n_channels, 3) | None
        3-D sensor positions, for the sensor rotations.
    **kwargs
        Other constructor parameters (e.g. ``max_value``).

    Returns
    -------
    transform : DifferentiableTransform
    """
    if name not in TRANSFORMS:
        raise ValueError(
            f"Unknown transform name {name!r}; expected one of {sorted(TRANSFORMS)}."
        )
    cls = TRANSFORMS[name]
    context = {"sfreq": sfreq, "ch_names": ch_names, "positions": positions}
    for key in cls.requires:
        kwargs[key] = context[key]
    return cls(magnitude=magnitude, **kwargs)


__all__ = [
    "TRANSFORMS",
    "BandstopFilter",
    "ChannelsDropout",
    "ChannelsShuffle",
    "ChannelsSymmetry",
    "DifferentiableTransform",
    "FTSurrogate",
    "FrequencyShift",
    "GaussianNoise",
    "ProbabilityTransform",
    "SensorsRotation",
    "SensorsXRotation",
    "SensorsYRotation",
    "SensorsZRotation",
    "SignFlip",
    "SmoothTimeMask",
    "TimeReverse",
    "make_transform",
]
