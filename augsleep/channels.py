"""Channel metadata: electrode labels, homologous pairs and sensor positions.

One place for what augsleep knows about EEG channel names and where their
electrodes sit on the head, shared by the sensor transforms
(:mod:`augsleep.transforms.sensors`), the MASS loader (:mod:`augsleep.data.mass`),
the policy export (:mod:`augsleep.augment.export`) and the estimator:

- :func:`electrode_label` reads the electrode of an EDF channel name
  (``"EEG C3-A2"`` -> ``"C3"``);
- :func:`mirror_label`, :func:`homologous_pairs` and :func:`homologous_permutation`
  pair left and right homologous electrodes (``C3 <-> C4``);
- :data:`STANDARD_MONTAGE` (through :func:`standard_montage`) is the one MNE
  montage that standard 10-20 positions come from, and
  :func:`standard_positions` / :func:`positions_from_info` give positions.

MNE is imported only by the functions that need it (it takes seconds).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import numpy as np

__all__ = [
    "LEGACY_STANDARD_MONTAGE",
    "STANDARD_MONTAGE",
    "electrode_label",
    "homologous_pairs",
    "homologous_permutation",
    "mirror_label",
    "positions_from_info",
    "standard_montage",
    "standard_positions",
]

#: MNE built-in montage giving the standard 10-20 positions: the loaders set it on
#: the recordings and :func:`standard_positions` looks positions up in it. MNE 1.13
#: deprecates ``standard_1020`` in favour of this name (the same positions).
STANDARD_MONTAGE = "colin27_1020"
#: Its name in MNE releases before 1.13 (see :func:`standard_montage`).
LEGACY_STANDARD_MONTAGE = "standard_1020"

#: Channel-type prefixes found in EDF labels ("EEG C3-A2", "EOG ROC-A1"...).
_TYPE_PREFIX = re.compile(r"^\s*(?:EEG|EOG|EMG|ECG|EKG|MEG|SEEG)(?:[\s_:]+|$)", re.I)
#: 10-20/10-10/10-05 style label: letters, then a number or "z", optional "h".
_LABEL = re.compile(r"^([A-Za-z]+?)(\d+|[zZ])([hH]?)$")


# --------------------------------------------------------------------------- #
# Labels and homologous pairs
# --------------------------------------------------------------------------- #


def electrode_label(ch_name: str) -> str:
    """First electrode label of a channel name.

    Drops a channel-type prefix (``"EEG "``, ``"EOG "``...) and a reference
    (everything after the first ``-``, ``:`` or ``/``, or after whitespace):
    ``"EEG C3-CLE"``, ``"EEG C3-LER"``, ``"EEG C3-A2"``, ``"C3:M2"`` and ``"C3"`` all
    give ``"C3"``; ``"EEG Fpz-Cz"`` gives ``"Fpz"``.

    Parameters
    ----------
    ch_name : str
        Channel name.

    Returns
    -------
    label : str
        Electrode label, case preserved (may be ``""`` for an empty name).
    """
    name = _TYPE_PREFIX.sub("", str(ch_name))
    parts = [p for p in re.split(r"[-:/\s]+", name) if p]
    return parts[0] if parts else ""


def mirror_label(label: str) -> str | None:
    """Homologous electrode on the other hemisphere.

    10-20 convention: odd numbers on the left, even numbers on the right, and
    ``n <-> n + 1`` for odd ``n`` (``C3 <-> C4``, ``Fp1 <-> Fp2``,
    ``FFC1h <-> FFC2h``).

    Parameters
    ----------
    label : str
        Electrode label (see :func:`electrode_label`), any case.

    Returns
    -------
    mirror : str | None
        Label of the homologue, in lower case; ``None`` for midline (``z``)
        electrodes, number 0 and labels that are not of the 10-20 form.
    """
    match = _LABEL.match(label)
    if match is None:
        return None
    prefix, number, suffix = match.groups()
    if number in ("z", "Z"):
        return None
    n = int(number)
    if n == 0:
        return None
    mirrored = n + 1 if n % 2 == 1 else n - 1
    return f"{prefix}{mirrored}{suffix}".lower()


def homologous_pairs(ch_names: Sequence[str]) -> list[tuple[int, int]]:
    """Find the left/right homologous channels present (their indices).

    Parameters
    ----------
    ch_names : sequence of str, length n_channels
        Channel names (see :func:`electrode_label` for the accepted forms).

    Returns
    -------
    pairs : list of (int, int)
        ``(left, right)`` channel indices, e.g. ``(0, 1)`` for ``["C3", "C4"]``,
        in the order of the left channels; possibly empty.

    Raises
    ------
    ValueError
        If ``ch_names`` is not a sequence of names, or if a label that takes
        part in a pair appears on several channels.
    """
    if ch_names is None:
        raise ValueError(
            "Channel names are required to pair homologous channels; got None."
        )
    if isinstance(ch_names, str):
        raise ValueError(f"ch_names must be a sequence of names, got {ch_names!r}.")
    ch_names = list(ch_names)
    labels = [electrode_label(name).lower() for name in ch_names]
    index: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        index.setdefault(label, []).append(i)
    pairs = []
    for i, label in enumerate(labels):
        mirror = mirror_label(label)
        if mirror is None or mirror not in index:
            continue
        if len(index[label]) > 1 or len(index[mirror]) > 1:
            dup = label if len(index[label]) > 1 else mirror
            raise ValueError(
                "Ambiguous homologous pairs: electrode "
                f"{dup!r} appears on channels "
                f"{[ch_names[j] for j in index[dup]]}."
            )
        # Each pair is seen from both sides: keep it once, from the left (odd).
        if int(_LABEL.match(label).group(2)) % 2 == 1:
            pairs.append((i, index[mirror][0]))
    return pairs


def homologous_permutation(ch_names: Sequence[str]) -> list[int]:
    """Index permutation that swaps left/right homologous channels.

    Parameters
    ----------
    ch_names : sequence of str, length n_channels
        Channel names (see :func:`electrode_label` for the accepted forms).

    Returns
    -------
    permutation : list of int, length n_channels
        ``X[:, permutation]`` puts channel ``C4``'s data in ``C3``'s slot and vice
        versa; midline (``z``) channels and channels whose homologue is absent
        keep their place.

    Raises
    ------
    ValueError
        If there are fewer than two channels, if no homologous pair is found, or
        if a label that takes part in a pair appears on several channels.
    """
    pairs = homologous_pairs(ch_names)
    ch_names = list(ch_names)
    if len(ch_names) < 2:
        raise ValueError(
            f"Swapping homologous channels needs at least 2 channels, got "
            f"{len(ch_names)} ({ch_names})."
        )
    if not pairs:
        raise ValueError(
            "No left/right homologous pair (e.g. C3/C4, F3/F4, O1/O2) found among "
            f"the channels {ch_names} (parsed electrode labels "
            f"{[electrode_label(n) for n in ch_names]})."
        )
    permutation = list(range(len(ch_names)))
    for left, right in pairs:
        permutation[left], permutation[right] = right, left
    return permutation


# --------------------------------------------------------------------------- #
# Positions
# --------------------------------------------------------------------------- #


def standard_montage() -> str:
    """Name of the standard 10-20 montage in the installed MNE.

    Returns
    -------
    name : str
        :data:`STANDARD_MONTAGE` when MNE has it (MNE >= 1.13), otherwise
        :data:`LEGACY_STANDARD_MONTAGE`, its name in older releases.
    """
    import mne

    builtin = mne.channels.get_builtin_montages()
    return STANDARD_MONTAGE if STANDARD_MONTAGE in builtin else LEGACY_STANDARD_MONTAGE


@functools.lru_cache(maxsize=8)
def _montage_head_positions(montage: str) -> dict[str, tuple[float, float, float]]:
    """Head-frame positions of every electrode of a built-in montage, by label."""
    import mne

    mont = mne.channels.make_standard_montage(montage)
    info = mne.create_info(mont.ch_names, 100.0, "eeg")
    info.set_montage(mont)  # transforms to the head frame (fiducials)
    return {
        ch["ch_name"].lower(): tuple(float(v) for v in ch["loc"][:3])
        for ch in info["chs"]
    }


def standard_positions(
    ch_names: Sequence[str], montage: str | None = None
) -> np.ndarray:
    """Look up standard 10-20 positions (head frame, metres) of named channels.

    Parameters
    ----------
    ch_names : sequence of str, length n_channels
        Channel names; the first electrode label of each is looked up
        case-insensitively (``"EEG C3-A2"`` -> ``C3``, see :func:`electrode_label`).
    montage : str | None
        Name of an MNE built-in montage. ``None`` uses :func:`standard_montage`.

    Returns
    -------
    positions : ndarray of float64, shape (n_channels, 3)
        Positions in MNE's head coordinate frame (origin between the pre-auricular
        points, x to the right, y to the nasion, z up).

    Raises
    ------
    ValueError
        Naming the channels whose electrode is not in the montage.
    """
    if montage is None:
        montage = standard_montage()
    table = _montage_head_positions(montage)
    labels = [electrode_label(name) for name in ch_names]
    missing = [
        f"{name!r} (electrode {label!r})"
        for name, label in zip(ch_names, labels, strict=True)
        if label.lower() not in table
    ]
    if missing:
        raise ValueError(
            f"No position in montage {montage!r} for channel(s) {', '.join(missing)}."
        )
    return np.array([table[label.lower()] for label in labels], dtype=np.float64)


def positions_from_info(info, ch_names: Sequence[str] | None = None) -> np.ndarray:
    """Sensor positions (head frame, metres) stored in an ``mne.Info``.

    Parameters
    ----------
    info : mne.Info
        Measurement info with a montage (``raw.set_montage(...)``).
    ch_names : sequence of str | None
        Channels to read, in this order; ``None`` reads all of ``info``'s channels.

    Returns
    -------
    positions : ndarray of float64, shape (n_channels, 3)

    Raises
    ------
    ValueError
        Naming the channels that are not in ``info`` or have no position (a
        non-finite or all-zero location, which is what MNE stores without a
        montage).
    """
    import mne

    if not isinstance(info, mne.Info):
        raise TypeError(f"info must be an mne.Info, got {type(info).__name__}.")
    names = list(info.ch_names) if ch_names is None else list(ch_names)
    unknown = [name for name in names if name not in info.ch_names]
    if unknown:
        raise ValueError(f"Channel(s) {unknown} are not in info.")
    locs = np.array(
        [info["chs"][info.ch_names.index(name)]["loc"][:3] for name in names],
        dtype=np.float64,
    ).reshape(len(names), 3)
    bad = ~np.isfinite(locs).all(axis=1) | (locs == 0).all(axis=1)
    if bad.any():
        raise ValueError(
            "No sensor position for channel(s) "
            f"{[n for n, b in zip(names, bad, strict=True) if b]}; set a montage "
            "first (e.g. raw.set_montage(...)) or use standard_positions(ch_names)."
        )
    return locs
