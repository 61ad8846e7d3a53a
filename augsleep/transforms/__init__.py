"""Differentiable EEG transforms, stateless operations at a given magnitude.

Each transform maps a magnitude ``mu`` in [0, 1], passed at every call
(``transform(X, mu, generator)``), linearly onto a physical range (the paper's
Table A.4 by default) and is differentiable with respect to ``mu``; the magnitudes
that are learned live in :class:`augsleep.augment.AugLayer`. Build one by name
with :func:`make_transform`; :data:`TRANSFORMS` lists them; ``transform.at(mu)``
fixes the magnitude (:class:`FixedMagnitude`).
"""

from __future__ import annotations

from augsleep.transforms.base import (
    DifferentiableTransform,
    FixedMagnitude,
    ProbabilityTransform,
)
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
        Called with a magnitude, ``transform(X, mu, generator)``; use
        ``make_transform(...).at(mu)`` for a callable ``X -> T(X; mu)``.
    """
    if name not in TRANSFORMS:
        raise ValueError(
            f"Unknown transform name {name!r}; expected one of {sorted(TRANSFORMS)}."
        )
    cls = TRANSFORMS[name]
    context = {"sfreq": sfreq, "ch_names": ch_names, "positions": positions}
    for key in cls.requires:
        kwargs[key] = context[key]
    return cls(**kwargs)


__all__ = [
    "TRANSFORMS",
    "BandstopFilter",
    "ChannelsDropout",
    "ChannelsShuffle",
    "ChannelsSymmetry",
    "DifferentiableTransform",
    "FTSurrogate",
    "FixedMagnitude",
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
