"""Differentiable sensor transforms: sign flip, channel swaps/dropout, rotations.

These are the "Sensors" rows of the paper's Table A.4, relaxed so that the output
is differentiable with respect to the magnitude ``mu``:

* the transforms applied "with probability ``mu``" (sign flip, channels symmetry)
  use one relaxed Bernoulli gate per example;
* channels dropout uses one relaxed Bernoulli gate per example and channel;
* channels shuffle keeps braindecode's hard permutation in the forward pass and
  uses a straight-through estimator for the gradient;
* sensor rotations interpolate the signals onto rotated sensors with a batched,
  differentiable spherical spline (:mod:`augsleep.transforms._spherical_spline`).

Channel context comes from :func:`positions_from_info` (an ``mne.Info`` with a
montage) or :func:`standard_positions` (standard 10-20 positions looked up from
channel names such as ``"EEG C3-A2"``).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from augsleep.transforms._sampling import uniform
from augsleep.transforms._spherical_spline import (
    RotationInterpolator,
    normalize_positions,
)
from augsleep.transforms.base import (
    ChannelMixingTransform,
    DifferentiableTransform,
    ProbabilityTransform,
)

__all__ = [
    "ChannelsDropout",
    "ChannelsShuffle",
    "ChannelsSymmetry",
    "SensorsRotation",
    "SensorsXRotation",
    "SensorsYRotation",
    "SensorsZRotation",
    "SignFlip",
    "electrode_label",
    "homologous_permutation",
    "positions_from_info",
    "standard_positions",
]


# --------------------------------------------------------------------------- #
# Channel names and positions
# --------------------------------------------------------------------------- #

#: Channel-type prefixes found in EDF labels ("EEG C3-A2", "EOG ROC-A1"...).
_TYPE_PREFIX = re.compile(r"^\s*(?:EEG|EOG|EMG|ECG|EKG|MEG|SEEG)(?:[\s_:]+|$)", re.I)
#: 10-20/10-10/10-05 style label: letters, then a number or "z", optional "h".
_LABEL = re.compile(r"^([A-Za-z]+?)(\d+|[zZ])([hH]?)$")


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


def _mirror_label(label: str) -> str | None:
    """Homologous label on the other hemisphere (lower case), None for midline."""
    match = _LABEL.match(label)
    if match is None:
        return None
    prefix, number, suffix = match.groups()
    if number in ("z", "Z"):
        return None
    n = int(number)
    if n == 0:
        return None
    # 10-20 convention: odd numbers on the left, even on the right, n <-> n + 1.
    mirrored = n + 1 if n % 2 == 1 else n - 1
    return f"{prefix}{mirrored}{suffix}".lower()


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
    if ch_names is None:
        raise ValueError(
            "Channel names are required to swap homologous channels; got None."
        )
    if isinstance(ch_names, str):
        raise ValueError(f"ch_names must be a sequence of names, got {ch_names!r}.")
    ch_names = list(ch_names)
    if len(ch_names) < 2:
        raise ValueError(
            f"Swapping homologous channels needs at least 2 channels, got "
            f"{len(ch_names)} ({ch_names})."
        )
    labels = [electrode_label(name).lower() for name in ch_names]
    index: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        index.setdefault(label, []).append(i)
    permutation = list(range(len(ch_names)))
    found = False
    for i, label in enumerate(labels):
        mirror = _mirror_label(label)
        if mirror is None or mirror not in index:
            continue
        if len(index[label]) > 1 or len(index[mirror]) > 1:
            dup = label if len(index[label]) > 1 else mirror
            raise ValueError(
                "Ambiguous homologous pairs: electrode "
                f"{dup!r} appears on channels "
                f"{[ch_names[j] for j in index[dup]]}."
            )
        permutation[i] = index[mirror][0]
        found = True
    if not found:
        raise ValueError(
            "No left/right homologous pair (e.g. C3/C4, F3/F4, O1/O2) found among "
            f"the channels {ch_names} (parsed electrode labels "
            f"{[electrode_label(n) for n in ch_names]})."
        )
    return permutation


def _standard_montage_name() -> str:
    """MNE's standard 10-20 montage name: ``colin27_1020`` when it exists.

    MNE 1.13 deprecates ``standard_1020`` in favour of ``colin27_1020``; older
    versions only have the former.
    """
    import mne

    builtin = mne.channels.get_builtin_montages()
    return "colin27_1020" if "colin27_1020" in builtin else "standard_1020"


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
        Name of an MNE built-in montage. ``None`` uses ``"colin27_1020"`` when MNE
        has it (MNE >= 1.13, where ``"standard_1020"`` is deprecated) and
        ``"standard_1020"`` otherwise.

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
        montage = _standard_montage_name()
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


def _check_n_channels(transform, X: Tensor, expected: int, source: str) -> None:
    """Raise if ``X`` does not have the channel count the transform was built for."""
    if X.shape[1] != expected:
        raise ValueError(
            f"{type(transform).__name__} was built for {expected} channels (from "
            f"{source}) but received data with {X.shape[1]} channels."
        )


# --------------------------------------------------------------------------- #
# Gated transforms (relaxed Bernoulli)
# --------------------------------------------------------------------------- #


class SignFlip(ChannelMixingTransform, ProbabilityTransform):
    """Flip the sign of whole windows with probability ``mu``.

    Parameters
    ----------
    magnitude : float
        Initial magnitude ``mu`` in [0, 1]; the flip probability is
        ``mu * max_value``.
    max_value : float | None
        Probability at ``mu = 1`` (default 1).
    temperature : float
        Relaxed Bernoulli temperature (default 0.1).

    Notes
    -----
    A hard Bernoulli draw has no gradient with respect to its probability, so each
    window gets a relaxed Bernoulli (binary concrete) gate
    ``b = sigmoid((logit(p) + logit(u)) / T)``, ``u ~ U(0, 1)``, and the output is
    ``x + b (-x - x)``: ``x`` for ``b = 0``, ``-x`` for ``b = 1``. ``b`` is exactly 0
    when ``mu = 0``.
    """

    name = "sign_flip"

    def sample_parameters(
        self,
        X: Tensor,
        generator: torch.Generator | None = None,
        magnitude: Tensor | None = None,
    ):
        """Draw one gate per window.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch.
        generator : torch.Generator | None
            Source of the noise.
        magnitude : Tensor | None
            0-d magnitude to draw with; ``None`` reads :attr:`magnitude`.

        Returns
        -------
        gates : Tensor, shape (n_windows,)
            Relaxed Bernoulli gates in [0, 1] (1 = flipped).
        """
        return self._gates((X.shape[0],), X, generator, magnitude)

    def apply(self, X: Tensor, params: Tensor, out: Tensor | None = None) -> Tensor:
        """Blend ``X`` with ``-X`` by the gates.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch.
        params : Tensor, shape (n_windows,)
            Gates from :meth:`sample_parameters`.
        out : Tensor | None
            Where to write the result (see :meth:`DifferentiableTransform.apply`).

        Returns
        -------
        X_tr : Tensor, shape (n_windows, n_channels, n_times)
        """
        b = params.to(X.dtype)[:, None, None]
        # One pass: exactly X at b = 0 and -X at b = 1.
        return torch.mul(X, 1 - 2 * b, out=out)

    def channel_delta(self, X: Tensor, params: Tensor) -> Tensor:
        """``D = -2 b I``: see :class:`augsleep.transforms.base.ChannelMixingTransform`.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch.
        params : Tensor, shape (n_windows,)
            Gates from :meth:`sample_parameters`.

        Returns
        -------
        D : Tensor, shape (n_windows, n_channels, n_channels)
        """
        n_channels = X.shape[1]
        b = params.to(X.dtype)[:, None].expand(-1, n_channels)
        return torch.diag_embed(-2 * b)


class ChannelsSymmetry(ChannelMixingTransform, ProbabilityTransform):
    """Swap left/right homologous channels with probability ``mu``.

    Parameters
    ----------
    magnitude : float
        Initial magnitude ``mu`` in [0, 1]; the swap probability is
        ``mu * max_value``.
    ch_names : sequence of str, length n_channels
        Channel names, e.g. ``["C3", "C4"]`` or ``["EEG C3-A2", "EEG C4-A1"]``;
        the first electrode label of each is used (see :func:`electrode_label`).
    max_value : float | None
        Probability at ``mu = 1`` (default 1).
    temperature : float
        Relaxed Bernoulli temperature (default 0.1).

    Notes
    -----
    ``C3 <-> C4``, ``F3 <-> F4``, ``Fp1 <-> Fp2``, ``O1 <-> O2``... (odd numbers are
    left, ``n <-> n + 1``); midline ``z`` channels and channels whose homologue is
    absent stay in place. With a per-window relaxed Bernoulli gate ``b`` (see
    :class:`SignFlip`) the output is ``x + b (x_swapped - x)``.
    """

    name = "channels_symmetry"
    requires = ("ch_names",)

    def __init__(
        self,
        magnitude: float = 0.0,
        ch_names: Sequence[str] | None = None,
        max_value: float | None = None,
        temperature: float = 0.1,
    ):
        super().__init__(magnitude, max_value=max_value, temperature=temperature)
        if ch_names is None:
            raise ValueError(
                "ChannelsSymmetry requires ch_names (the channel names, e.g. "
                "['EEG C3-A2', 'EEG C4-A1']); got None."
            )
        self.ch_names = list(ch_names)
        perm = homologous_permutation(self.ch_names)
        self.register_buffer("permutation", torch.tensor(perm, dtype=torch.long))

    def sample_parameters(
        self,
        X: Tensor,
        generator: torch.Generator | None = None,
        magnitude: Tensor | None = None,
    ):
        """Draw one gate per window.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch.
        generator : torch.Generator | None
            Source of the noise.
        magnitude : Tensor | None
            0-d magnitude to draw with; ``None`` reads :attr:`magnitude`.

        Returns
        -------
        gates : Tensor, shape (n_windows,)
            Relaxed Bernoulli gates in [0, 1] (1 = swapped).
        """
        _check_n_channels(self, X, len(self.ch_names), "ch_names")
        return self._gates((X.shape[0],), X, generator, magnitude)

    def apply(self, X: Tensor, params: Tensor, out: Tensor | None = None) -> Tensor:
        """Blend ``X`` with its left/right-swapped version by the gates.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch.
        params : Tensor, shape (n_windows,)
            Gates from :meth:`sample_parameters`.
        out : Tensor | None
            Where to write the result (see :meth:`DifferentiableTransform.apply`).

        Returns
        -------
        X_tr : Tensor, shape (n_windows, n_channels, n_times)
        """
        _check_n_channels(self, X, len(self.ch_names), "ch_names")
        b = params.to(X.dtype)[:, None, None]
        swapped = X.index_select(1, self.permutation.to(X.device))
        # lerp = x + b (swapped - x), computed so that b = 0 and b = 1 are exact.
        return torch.lerp(X, swapped, b, out=out)

    def channel_delta(self, X: Tensor, params: Tensor) -> Tensor:
        """``D = b (P - I)``, ``P`` the swap: see ``ChannelMixingTransform``.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch.
        params : Tensor, shape (n_windows,)
            Gates from :meth:`sample_parameters`.

        Returns
        -------
        D : Tensor, shape (n_windows, n_channels, n_channels)
        """
        _check_n_channels(self, X, len(self.ch_names), "ch_names")
        eye = torch.eye(X.shape[1], dtype=X.dtype, device=X.device)
        # Row i of the swap picks channel permutation[i]: (P x)_i = x_perm[i].
        swap = eye.index_select(0, self.permutation.to(X.device))
        return params.to(X.dtype)[:, None, None] * (swap - eye)

    def extra_repr(self) -> str:  # noqa: D102
        return f"{super().extra_repr()}, n_channels={len(self.ch_names)}"


class ChannelsDropout(ChannelMixingTransform, ProbabilityTransform):
    """Zero each channel of each window with probability ``mu``.

    Parameters
    ----------
    magnitude : float
        Initial magnitude ``mu`` in [0, 1]; the drop probability is
        ``mu * max_value``.
    max_value : float | None
        Probability at ``mu = 1`` (default 1).
    temperature : float
        Relaxed Bernoulli temperature (default 0.1).

    Notes
    -----
    braindecode builds its mask as ``sigmoid(1000 (u - p))``, whose derivative in
    ``p`` vanishes almost everywhere. Here each (window, channel) gets a relaxed
    Bernoulli drop gate ``d`` (see :class:`SignFlip`) and the output is
    ``x (1 - d)``.
    """

    name = "channels_dropout"

    def sample_parameters(
        self,
        X: Tensor,
        generator: torch.Generator | None = None,
        magnitude: Tensor | None = None,
    ):
        """Draw one drop gate per window and channel.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch.
        generator : torch.Generator | None
            Source of the noise.
        magnitude : Tensor | None
            0-d magnitude to draw with; ``None`` reads :attr:`magnitude`.

        Returns
        -------
        gates : Tensor, shape (n_windows, n_channels)
            Relaxed Bernoulli gates in [0, 1] (1 = dropped).
        """
        return self._gates(tuple(X.shape[:2]), X, generator, magnitude)

    def apply(self, X: Tensor, params: Tensor, out: Tensor | None = None) -> Tensor:
        """Scale each channel by ``1 - gate``.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch.
        params : Tensor, shape (n_windows, n_channels)
            Drop gates from :meth:`sample_parameters`.
        out : Tensor | None
            Where to write the result (see :meth:`DifferentiableTransform.apply`).

        Returns
        -------
        X_tr : Tensor, shape (n_windows, n_channels, n_times)
        """
        _check_params_shape(self, params, tuple(X.shape[:2]))
        return torch.mul(X, (1 - params.to(X.dtype))[:, :, None], out=out)

    def channel_delta(self, X: Tensor, params: Tensor) -> Tensor:
        """``D = -diag(d)``: see ``ChannelMixingTransform``.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch.
        params : Tensor, shape (n_windows, n_channels)
            Drop gates from :meth:`sample_parameters`.

        Returns
        -------
        D : Tensor, shape (n_windows, n_channels, n_channels)
        """
        return torch.diag_embed(-params.to(X.dtype))


def _check_params_shape(transform, params: Tensor, expected: tuple[int, ...]):
    if tuple(params.shape) != expected:
        raise ValueError(
            f"{type(transform).__name__}: params must have shape {expected} for this "
            f"batch, got {tuple(params.shape)}."
        )


def _masked_permutation(selected: Tensor, keys: Tensor) -> Tensor:
    """Per-row permutation that shuffles the selected entries among themselves.

    Parameters
    ----------
    selected : Tensor of bool, shape (n_windows, n_channels)
        Channels taking part in the shuffle.
    keys : Tensor, shape (n_windows, n_channels)
        Random keys in [0, 1); the selected channels are reordered by them.

    Returns
    -------
    perm : Tensor of int64, shape (n_windows, n_channels)
        Output channel ``i`` takes input channel ``perm[:, i]``; unselected
        channels map to themselves.
    """
    n = selected.shape[1]
    ar = torch.arange(n, device=keys.device, dtype=keys.dtype).expand_as(keys)
    # Sorting puts the selected channels first, unselected ones after in index
    # order: by index for the slots, by random key for the sources.
    slots = torch.argsort(torch.where(selected, ar, n + ar), dim=1, stable=True)
    sources = torch.argsort(torch.where(selected, keys, n + ar), dim=1, stable=True)
    return torch.empty_like(slots).scatter(1, slots, sources)


class ChannelsShuffle(ProbabilityTransform):
    """Permute a random subset of channels (each selected with probability ``mu``).

    Parameters
    ----------
    magnitude : float
        Initial magnitude ``mu`` in [0, 1]; each channel of each window is
        selected with probability ``p = mu * max_value`` and the selected channels
        are randomly permuted among themselves (as braindecode's
        ``channels_shuffle``; a selected channel may stay in place).
    max_value : float | None
        Probability at ``mu = 1`` (default 1).
    temperature : float
        Temperature of the relaxed Bernoulli gates of the surrogate (default 0.1).

    Notes
    -----
    A permutation is not differentiable in ``p``, so the gradient is a
    straight-through estimate (:attr:`straight_through` is True). With
    ``g[b, i] = sigmoid((logit(p) + logit(u[b, i])) / T)`` the relaxed Bernoulli
    gate, channel ``i`` is selected when ``g[b, i] > 0.5`` (probability ``p``
    exactly) and the forward pass is the hard shuffle
    ``y[b, i] = x[b, perm_b(i)]``. The backward pass treats the output as the soft
    surrogate ``x[b, i] + g[b, i] (x[b, perm_b(i)] - x[b, i])`` with the data and
    the permutation held fixed, i.e. it returns::

        dy[b, i, t] / dmu := (x[b, perm_b(i), t] - x[b, i, t]) * dg[b, i] / dmu,
        dg / dmu = max_value * g (1 - g) / (T p (1 - p)),

    (``p`` clamped to ``[eps, 1 - eps]`` as in the gate), and the gradient with
    respect to ``x`` is the exact one of the permutation. Channels that were not
    selected, or that the permutation left in place, contribute no gradient.
    """

    name = "channels_shuffle"
    straight_through = True

    def sample_parameters(
        self,
        X: Tensor,
        generator: torch.Generator | None = None,
        magnitude: Tensor | None = None,
    ):
        """Draw selection gates and permutation keys.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch.
        generator : torch.Generator | None
            Source of the noise.
        magnitude : Tensor | None
            0-d magnitude to draw with; ``None`` reads :attr:`magnitude`.

        Returns
        -------
        params : Tensor, shape (n_windows, n_channels, 2)
            ``params[..., 0]``: relaxed Bernoulli selection gates in [0, 1]
            (selected when > 0.5, differentiable in ``mu``); ``params[..., 1]``:
            uniform keys in [0, 1) that order the selected channels.
        """
        shape = tuple(X.shape[:2])
        gates = self._gates(shape, X, generator, magnitude)
        keys = uniform(shape, X, generator)
        return torch.stack([gates, keys], dim=-1)

    def apply(self, X: Tensor, params: Tensor, out: Tensor | None = None) -> Tensor:
        """Shuffle the selected channels (straight-through gradient in ``mu``).

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch.
        params : Tensor, shape (n_windows, n_channels, 2)
            Output of :meth:`sample_parameters`.
        out : Tensor | None
            Where to write the result (see :meth:`DifferentiableTransform.apply`).

        Returns
        -------
        X_tr : Tensor, shape (n_windows, n_channels, n_times)
            An exact channel permutation of each window of ``X``.
        """
        _check_params_shape(self, params, (*X.shape[:2], 2))
        gates, keys = params[..., 0].to(X.dtype), params[..., 1]
        perm = _masked_permutation(gates.detach() > 0.5, keys.detach())
        index = perm[:, :, None].expand_as(X)
        if not (torch.is_grad_enabled() and gates.requires_grad):
            # No gradient to carry (e.g. at inference).
            return torch.gather(X, 1, index, out=out)
        shuffled = torch.gather(X, 1, index)
        # (g - g.detach()) is exactly 0, so the forward value is the hard shuffle
        # bit for bit; its gradient is dg/dmu times the detached displacement.
        surrogate = (gates - gates.detach())[:, :, None] * (shuffled - X).detach()
        return torch.add(shuffled, surrogate, out=out)


# --------------------------------------------------------------------------- #
# Sensor rotations
# --------------------------------------------------------------------------- #


class SensorsRotation(ChannelMixingTransform, DifferentiableTransform):
    """Rotate the sensors about an axis and interpolate the signals (spherical splines).

    Parameters
    ----------
    magnitude : float
        Initial magnitude ``mu`` in [0, 1]; each window is rotated by an angle
        drawn uniformly in ``[-mu * max_value, mu * max_value]`` degrees.
    positions : array-like, shape (n_channels, 3)
        Sensor positions in head coordinates (metres), e.g. from
        :func:`positions_from_info` or :func:`standard_positions`, in the order of
        the data's channels.
    axis : {"x", "y", "z"}
        Rotation axis of MNE's head frame (x to the right ear, y to the nasion,
        z up), through ``origin``.
    max_value : float | None
        Largest angle in degrees (default 30, Table A.4).
    origin : array-like, shape (3,)
        Centre of the sphere and of the rotation, in the coordinates of
        ``positions`` (default ``(0, 0, 0)``, the head-frame origin, as
        braindecode). For a fitted sphere pass
        ``mne.bem.fit_sphere_to_headshape(info, units="m")[1]``.
    alpha : float
        Ridge regularisation of the spline (default ``1e-5``, as MNE).
    stiffness : float
        Spline stiffness (default 4, as MNE).
    n_legendre_terms : int
        Legendre terms of the spline function (default 50, as MNE).

    Notes
    -----
    The positions are centred on ``origin`` and projected on the unit sphere.
    For each window the output at sensor ``i`` is the spherical-spline
    interpolation (Perrin et al., 1989) of the window's signals at the rotated
    position ``R(theta) p_i``, where ``R`` rotates by ``theta`` about ``axis``
    (right-hand rule). The angle is reparametrised as
    ``theta = mu * max_value * (2 u - 1)`` with ``u ~ U(0, 1)``, so the output is
    differentiable in ``mu`` through the interpolation matrices.

    The matrices are MNE's spline interpolation anchored at the identity,
    ``W(theta) = I + M(theta) - M(0)`` (see
    :class:`~augsleep.transforms._spherical_spline.RotationInterpolator`): MNE's
    ``M(0)`` is not exactly the identity because of the ridge ``alpha``, while
    ``W(0)`` is, so ``mu = 0`` and zero angles return the input exactly.
    ``W(theta) - I`` depends on the angle only, so it is tabulated at construction
    (float64, values and derivatives on a 0.2 degree grid over
    ``[-max_value, max_value]``) and each call evaluates it by cubic Hermite
    interpolation, batched over windows: a few operator calls whatever the number
    of Legendre terms, C1 in the angle, within ~5e-11 of the exact spline, exact
    at 0. The ``(n_windows, n_channels, n_channels)`` matrices are cast to the
    data's dtype and applied with one ``baddbmm`` (``X + (W - I) X``). Changing
    :attr:`max_value` after construction rebuilds the table at the next call;
    angles outside ``[-max_value, max_value]`` (plus one grid step of slack)
    passed to :meth:`apply` raise a ``ValueError``.
    """

    name = "sensors_rotation"
    unit = "degrees"
    default_max_value = 30.0
    requires = ("positions",)

    def __init__(
        self,
        magnitude: float = 0.0,
        positions=None,
        axis: str = "z",
        max_value: float | None = None,
        origin=(0.0, 0.0, 0.0),
        alpha: float = 1e-5,
        stiffness: float = 4.0,
        n_legendre_terms: int = 50,
    ):
        super().__init__(magnitude=magnitude, max_value=max_value)
        if axis not in ("x", "y", "z"):
            raise ValueError(f"axis must be 'x', 'y' or 'z', got {axis!r}.")
        if positions is None:
            raise ValueError(
                f"{type(self).__name__} requires positions, an array of shape "
                "(n_channels, 3) (see positions_from_info and standard_positions); "
                "got None."
            )
        unit_positions = normalize_positions(positions, origin)
        if unit_positions.shape[0] < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 channels to interpolate, "
                f"got positions for {unit_positions.shape[0]}."
            )
        self.axis = axis
        self.origin = tuple(float(v) for v in np.asarray(origin).reshape(-1))
        self.interpolator = RotationInterpolator(
            unit_positions,
            axis,
            alpha,
            stiffness,
            n_legendre_terms,
            max_angle=self._max_angle_rad(),
        )

    def _max_angle_rad(self) -> float:
        """``max_value`` in radians, the range of the interpolator's table."""
        return self.max_value * (math.pi / 180)

    @property
    def n_channels(self) -> int:
        """Number of sensors the transform was built for."""
        return self.interpolator.n_channels

    def sample_parameters(
        self,
        X: Tensor,
        generator: torch.Generator | None = None,
        magnitude: Tensor | None = None,
    ):
        """Draw one rotation angle per window.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch.
        generator : torch.Generator | None
            Source of the noise.
        magnitude : Tensor | None
            0-d magnitude to draw with; ``None`` reads :attr:`magnitude`.

        Returns
        -------
        angles : Tensor, shape (n_windows,)
            Angles in degrees, uniform in ``[-mu * max_value, mu * max_value]``.
        """
        _check_n_channels(self, X, self.n_channels, "positions")
        u = uniform((X.shape[0],), X, generator)
        return self.magnitude_like(X, magnitude) * self.max_value * (2 * u - 1)

    def parameter_bounds(self) -> tuple[float, float]:
        """Angles lie in ``[-mu * max_value, mu * max_value]`` degrees.

        Returns
        -------
        low, high : float
        """
        bound = self.physical_magnitude()
        return -bound, bound

    def apply(self, X: Tensor, params: Tensor, out: Tensor | None = None) -> Tensor:
        """Interpolate each window onto its rotated sensors.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch.
        params : Tensor, shape (n_windows,)
            Angles in degrees from :meth:`sample_parameters`.
        out : Tensor | None
            Where to write the result (see :meth:`DifferentiableTransform.apply`).

        Returns
        -------
        X_tr : Tensor, shape (n_windows, n_channels, n_times)
        """
        return self.interpolator(X, self._angles_rad(X, params), out=out)

    def channel_delta(self, X: Tensor, params: Tensor) -> Tensor:
        """``D = W(theta) - I``: see ``ChannelMixingTransform``.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch.
        params : Tensor, shape (n_windows,)
            Angles in degrees from :meth:`sample_parameters`.

        Returns
        -------
        D : Tensor, shape (n_windows, n_channels, n_channels)
        """
        return self.interpolator.delta(self._angles_rad(X, params)).to(X.dtype)

    def _angles_rad(self, X: Tensor, params: Tensor) -> Tensor:
        """Check ``X`` and the angles, then convert the angles to radians."""
        _check_n_channels(self, X, self.n_channels, "positions")
        _check_params_shape(self, params, (X.shape[0],))
        if self.interpolator.max_angle != self._max_angle_rad():
            # max_value was changed after construction: retabulate its range.
            self.interpolator.set_max_angle(self._max_angle_rad())
        return params * (math.pi / 180)

    def extra_repr(self) -> str:  # noqa: D102
        return (
            f"{super().extra_repr()}, axis={self.axis!r}, n_channels={self.n_channels}"
        )


class _AxisRotation(SensorsRotation):
    """Base of the fixed-axis rotations (registry entries)."""

    _axis: str = "z"

    def __init__(
        self,
        magnitude: float = 0.0,
        positions=None,
        max_value: float | None = None,
        **kwargs,
    ):
        super().__init__(
            magnitude,
            positions=positions,
            axis=self._axis,
            max_value=max_value,
            **kwargs,
        )


class SensorsXRotation(_AxisRotation):
    """:class:`SensorsRotation` about the x axis (left-right), up to 30 degrees.

    Parameters
    ----------
    magnitude : float
        Initial magnitude ``mu`` in [0, 1].
    positions : array-like, shape (n_channels, 3)
        Sensor positions (head frame, metres).
    max_value : float | None
        Largest angle in degrees (default 30).
    **kwargs
        ``origin``, ``alpha``, ``stiffness``, ``n_legendre_terms`` (see
        :class:`SensorsRotation`).
    """

    name = "sensors_rotation_x"
    _axis = "x"


class SensorsYRotation(_AxisRotation):
    """:class:`SensorsRotation` about the y axis (back-front), up to 30 degrees.

    Parameters
    ----------
    magnitude : float
        Initial magnitude ``mu`` in [0, 1].
    positions : array-like, shape (n_channels, 3)
        Sensor positions (head frame, metres).
    max_value : float | None
        Largest angle in degrees (default 30).
    **kwargs
        ``origin``, ``alpha``, ``stiffness``, ``n_legendre_terms`` (see
        :class:`SensorsRotation`).
    """

    name = "sensors_rotation_y"
    _axis = "y"


class SensorsZRotation(_AxisRotation):
    """:class:`SensorsRotation` about the z axis (vertical), up to 30 degrees.

    Parameters
    ----------
    magnitude : float
        Initial magnitude ``mu`` in [0, 1].
    positions : array-like, shape (n_channels, 3)
        Sensor positions (head frame, metres).
    max_value : float | None
        Largest angle in degrees (default 30).
    **kwargs
        ``origin``, ``alpha``, ``stiffness``, ``n_legendre_terms`` (see
        :class:`SensorsRotation`).
    """

    name = "sensors_rotation_z"
    _axis = "z"
