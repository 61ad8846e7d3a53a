"""The operations an ADA policy chooses from: the 13 transforms of Table A.4.

The channel operations need what the data may lack: several channels (shuffle,
dropout, rotations, symmetry), channel names with left/right pairs (symmetry) and
sensor positions (rotations). :func:`make_operations` builds every operation the
data allow and says which it left out and why.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from augsleep.augment.presets import SENSOR_TRANSFORMS
from augsleep.transforms import TRANSFORMS, DifferentiableTransform, make_transform

logger = logging.getLogger(__name__)

#: The 13 operations of the paper's Table A.4, in its order.
OPERATIONS = tuple(TRANSFORMS)
#: Operations that mix or remove channels: meaningless on one channel. The
#: sensor layer's, but sign flip, which negates each channel on its own.
MULTICHANNEL_OPERATIONS = tuple(n for n in SENSOR_TRANSFORMS if n != "sign_flip")


def _why_not(name: str, n_chans: int, ch_names, positions) -> str | None:
    """Why an operation cannot be built for these data (None if it can)."""
    if name in MULTICHANNEL_OPERATIONS and n_chans < 2:
        return "the data have a single channel"
    if name == "channels_symmetry" and ch_names is None:
        return "no channel names"
    if name.startswith("sensors_rotation") and positions is None:
        return "no sensor positions"
    return None


def make_operations(
    names: Sequence[str] | None = None,
    *,
    n_chans: int,
    sfreq: float,
    ch_names: Sequence[str] | None = None,
    positions=None,
    transform_params: dict[str, dict] | None = None,
) -> list[DifferentiableTransform]:
    """Build the operations of a policy for the given data.

    Parameters
    ----------
    names : sequence of str | None
        Operation names (keys of :data:`augsleep.transforms.TRANSFORMS`).
        ``None`` takes all 13 of :data:`OPERATIONS` and leaves out, with a logged
        message, those the data cannot support; names given explicitly must all
        be buildable.
    n_chans : int
        Number of channels of the windows.
    sfreq : float
        Sampling frequency in Hz.
    ch_names : sequence of str | None
        Channel names (channels symmetry).
    positions : array-like, shape (n_chans, 3) | None
        Sensor positions (rotations).
    transform_params : dict | None
        Extra constructor parameters by operation name (e.g. ranges).

    Returns
    -------
    operations : list of DifferentiableTransform

    Raises
    ------
    ValueError
        For an unknown name, a name given explicitly that the data cannot
        support, or channels symmetry on channels without left/right pairs
        (the transform's own message).
    """
    transform_params = transform_params or {}
    explicit = names is not None
    names = list(OPERATIONS if names is None else names)
    unknown = sorted(set(names) - set(TRANSFORMS))
    if unknown:
        raise ValueError(
            f"Unknown operations {unknown}; expected names among {list(OPERATIONS)}."
        )
    if len(set(names)) != len(names):
        raise ValueError(f"Operation names must be unique, got {names}.")
    operations, left_out = [], []
    for name in names:
        reason = _why_not(name, n_chans, ch_names, positions)
        if reason is not None:
            if explicit:
                raise ValueError(f"Operation {name!r} cannot be used: {reason}.")
            left_out.append(f"{name} ({reason})")
            continue
        operations.append(
            make_transform(
                name,
                sfreq=sfreq,
                ch_names=None if ch_names is None else list(ch_names),
                positions=positions,
                **transform_params.get(name, {}),
            )
        )
    if left_out:
        logger.info("Operations left out for these data: %s.", ", ".join(left_out))
    return operations
