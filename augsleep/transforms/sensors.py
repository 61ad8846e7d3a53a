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

Channel context (electrode labels, homologous pairs, positions) comes from
:mod:`augsleep.channels`: :func:`~augsleep.channels.positions_from_info` (an
``mne.Info`` with a montage) or :func:`~augsleep.channels.standard_positions`
(standard 10-20 positions looked up from channel names such as ``"EEG C3-A2"``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from augsleep._validation import check_count, check_finite_number
from augsleep.channels import homologous_permutation
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
]


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
    max_value : float | None
        Probability at ``mu = 1`` (default 1): the flip probability is
        ``mu * max_value``.
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
    has_magnitude = False

    def sample_parameters(
        self,
        X: Tensor,
        magnitude: Tensor | float,
        generator: torch.Generator | None = None,
    ):
        """Draw one gate per window.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch.
        magnitude : Tensor | float
            Magnitude ``mu`` in [0, 1] (0-d tensor with its gradient, or float).
        generator : torch.Generator | None
            Source of the noise.

        Returns
        -------
        gates : Tensor, shape (n_windows,)
            Relaxed Bernoulli gates in [0, 1] (1 = flipped).
        """
        return self._gates((X.shape[0],), X, magnitude, generator)

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
    max_value : float | None
        Probability at ``mu = 1`` (default 1): the swap probability is
        ``mu * max_value``.
    ch_names : sequence of str, length n_channels
        Channel names, e.g. ``["C3", "C4"]`` or ``["EEG C3-A2", "EEG C4-A1"]``;
        the first electrode label of each is used (see
        :func:`augsleep.channels.electrode_label`).
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
    has_magnitude = False
    requires = ("ch_names",)
    config_names = ("ch_names",)

    def __init__(
        self,
        max_value: float | None = None,
        *,
        ch_names: Sequence[str] | None = None,
        temperature: float = 0.1,
    ):
        if ch_names is None:
            raise ValueError(
                "ChannelsSymmetry requires ch_names (the channel names, e.g. "
                "['EEG C3-A2', 'EEG C4-A1']); got None."
            )
        super().__init__(max_value, temperature=temperature, ch_names=list(ch_names))
        perm = homologous_permutation(self.ch_names)
        self.register_buffer("permutation", torch.tensor(perm, dtype=torch.long))

    def sample_parameters(
        self,
        X: Tensor,
        magnitude: Tensor | float,
        generator: torch.Generator | None = None,
    ):
        """Draw one gate per window.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch.
        magnitude : Tensor | float
            Magnitude ``mu`` in [0, 1] (0-d tensor with its gradient, or float).
        generator : torch.Generator | None
            Source of the noise.

        Returns
        -------
        gates : Tensor, shape (n_windows,)
            Relaxed Bernoulli gates in [0, 1] (1 = swapped).
        """
        _check_n_channels(self, X, len(self.ch_names), "ch_names")
        return self._gates((X.shape[0],), X, magnitude, generator)

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
    max_value : float | None
        Probability at ``mu = 1`` (default 1): the drop probability is
        ``mu * max_value``.
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
        magnitude: Tensor | float,
        generator: torch.Generator | None = None,
    ):
        """Draw one drop gate per window and channel.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch.
        magnitude : Tensor | float
            Magnitude ``mu`` in [0, 1] (0-d tensor with its gradient, or float).
        generator : torch.Generator | None
            Source of the noise.

        Returns
        -------
        gates : Tensor, shape (n_windows, n_channels)
            Relaxed Bernoulli gates in [0, 1] (1 = dropped).
        """
        return self._gates(tuple(X.shape[:2]), X, magnitude, generator)

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
    max_value : float | None
        Probability at ``mu = 1`` (default 1): each channel of each window is
        selected with probability ``p = mu * max_value`` and the selected channels
        are randomly permuted among themselves (as braindecode's
        ``channels_shuffle``; a selected channel may stay in place).
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
        magnitude: Tensor | float,
        generator: torch.Generator | None = None,
    ):
        """Draw selection gates and permutation keys.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch.
        magnitude : Tensor | float
            Magnitude ``mu`` in [0, 1] (0-d tensor with its gradient, or float).
        generator : torch.Generator | None
            Source of the noise.

        Returns
        -------
        params : Tensor, shape (n_windows, n_channels, 2)
            ``params[..., 0]``: relaxed Bernoulli selection gates in [0, 1]
            (selected when > 0.5, differentiable in ``mu``); ``params[..., 1]``:
            uniform keys in [0, 1) that order the selected channels.
        """
        shape = tuple(X.shape[:2])
        gates = self._gates(shape, X, magnitude, generator)
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
        # Selected from the gates as drawn (float32 for half-precision data).
        gates, keys = params[..., 0], params[..., 1]
        perm = _masked_permutation(gates.detach() > 0.5, keys.detach())
        index = perm[:, :, None].expand_as(X)
        if not (torch.is_grad_enabled() and gates.requires_grad):
            # No gradient to carry (e.g. at inference).
            return torch.gather(X, 1, index, out=out)
        shuffled = torch.gather(X, 1, index)
        # (g - g.detach()) is exactly 0, so the forward value is the hard shuffle
        # bit for bit; its gradient is dg/dmu times the detached displacement.
        zero = (gates - gates.detach()).to(X.dtype)
        surrogate = zero[:, :, None] * (shuffled - X).detach()
        return torch.add(shuffled, surrogate, out=out)


# --------------------------------------------------------------------------- #
# Sensor rotations
# --------------------------------------------------------------------------- #


class SensorsRotation(ChannelMixingTransform, DifferentiableTransform):
    """Rotate the sensors about an axis and interpolate the signals (spherical splines).

    Parameters
    ----------
    max_value : float | None
        Largest angle in degrees (default 30, Table A.4): each window is rotated
        by an angle drawn uniformly in ``[-mu * max_value, mu * max_value]``.
    positions : array-like, shape (n_channels, 3)
        Sensor positions in head coordinates (metres), e.g. from
        :func:`augsleep.channels.positions_from_info` or
        :func:`augsleep.channels.standard_positions`, in the order of the data's
        channels.
    axis : {"x", "y", "z"}
        Rotation axis of MNE's head frame (x to the right ear, y to the nasion,
        z up), through ``origin``.
    origin : array-like, shape (3,)
        Centre of the sphere and of the rotation, in the coordinates of
        ``positions`` (default ``(0, 0, 0)``, the head-frame origin, as
        braindecode). For a fitted sphere pass
        ``mne.bem.fit_sphere_to_headshape(info, units="m")[1]``.
    alpha : float
        Ridge regularisation of the spline (default ``1e-5``, as MNE),
        non-negative and finite.
    stiffness : float
        Spline stiffness (default 4, as MNE), positive and finite.
    n_legendre_terms : int
        Legendre terms of the spline function (default 50, as MNE), at least 1.

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
    config_names = ("positions", "axis", "origin")

    def __init__(
        self,
        max_value: float | None = None,
        *,
        positions=None,
        axis: str = "z",
        origin=(0.0, 0.0, 0.0),
        alpha: float = 1e-5,
        stiffness: float = 4.0,
        n_legendre_terms: int = 50,
    ):
        owner = type(self).__name__
        if axis not in ("x", "y", "z"):
            raise ValueError(f"{owner}: axis must be 'x', 'y' or 'z', got {axis!r}.")
        if positions is None:
            raise ValueError(
                f"{owner} requires positions, an array of shape "
                "(n_channels, 3) (see positions_from_info and standard_positions); "
                "got None."
            )
        alpha = check_finite_number(alpha, "alpha", owner, allow_zero=True)
        stiffness = check_finite_number(stiffness, "stiffness", owner)
        n_legendre_terms = check_count(n_legendre_terms, "n_legendre_terms", owner)
        try:
            unit_positions = normalize_positions(positions, origin)
        except ValueError as err:
            raise ValueError(f"{owner}: {err}") from None
        if unit_positions.shape[0] < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 channels to interpolate, "
                f"got positions for {unit_positions.shape[0]}."
            )
        super().__init__(
            max_value,
            positions=np.array(positions, dtype=np.float64),
            axis=axis,
            origin=tuple(float(v) for v in np.asarray(origin).reshape(-1)),
        )
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
        magnitude: Tensor | float,
        generator: torch.Generator | None = None,
    ):
        """Draw one rotation angle per window.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch.
        magnitude : Tensor | float
            Magnitude ``mu`` in [0, 1] (0-d tensor with its gradient, or float).
        generator : torch.Generator | None
            Source of the noise.

        Returns
        -------
        angles : Tensor, shape (n_windows,)
            Angles in degrees, uniform in ``[-mu * max_value, mu * max_value]``.
        """
        _check_n_channels(self, X, self.n_channels, "positions")
        u = uniform((X.shape[0],), X, generator)
        return self.magnitude_like(X, magnitude) * self.max_value * (2 * u - 1)

    def parameter_bounds(self, magnitude) -> tuple[float, float]:
        """Angles lie in ``[-mu * max_value, mu * max_value]`` degrees.

        Parameters
        ----------
        magnitude : float | Tensor
            Magnitude ``mu`` in [0, 1].

        Returns
        -------
        low, high : float
        """
        bound = self.physical_value(magnitude)
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

    def __init__(self, max_value: float | None = None, *, positions=None, **kwargs):
        super().__init__(max_value, positions=positions, axis=self._axis, **kwargs)


class SensorsXRotation(_AxisRotation):
    """:class:`SensorsRotation` about the x axis (left-right), up to 30 degrees.

    Parameters
    ----------
    max_value : float | None
        Largest angle in degrees (default 30).
    positions : array-like, shape (n_channels, 3)
        Sensor positions (head frame, metres).
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
    max_value : float | None
        Largest angle in degrees (default 30).
    positions : array-like, shape (n_channels, 3)
        Sensor positions (head frame, metres).
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
    max_value : float | None
        Largest angle in degrees (default 30).
    positions : array-like, shape (n_channels, 3)
        Sensor positions (head frame, metres).
    **kwargs
        ``origin``, ``alpha``, ``stiffness``, ``n_legendre_terms`` (see
        :class:`SensorsRotation`).
    """

    name = "sensors_rotation_z"
    _axis = "z"
