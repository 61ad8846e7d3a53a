"""Differentiable time-domain transforms: time reverse, smooth time mask, noise.

Every transform draws its randomness through :mod:`augsleep.transforms._sampling`
with the caller's ``torch.Generator`` and is exactly the identity at ``mu = 0``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from augsleep.transforms._sampling import compute_dtype, normal, uniform
from augsleep.transforms.base import (
    DifferentiableTransform,
    ProbabilityTransform,
    sample_times,
)


class TimeReverse(ProbabilityTransform):
    """Reverse the time axis of each window with probability ``mu * max_value``.

    Parameters
    ----------
    max_value : float | None
        Probability that ``mu = 1`` maps to, in (0, 1]. Defaults to 1.
    temperature : float
        Temperature (> 0) of the relaxed Bernoulli gates. Lower values give gates
        closer to hard 0/1 draws but steeper, noisier gradients; 0.1 keeps most
        gates within a few percent of 0 or 1 while leaving a usable gradient.

    Notes
    -----
    A hard Bernoulli draw has no gradient with respect to its probability, so each
    window gets a relaxed Bernoulli (binary-concrete) gate ``b`` in [0, 1]
    (:func:`augsleep.transforms._sampling.relaxed_bernoulli`) and the output is the
    convex combination ``x + b * (reverse(x) - x)``, computed with ``torch.lerp``
    (one fused pass, exactly ``x`` when ``b = 0`` and exactly ``reverse(x)`` when
    ``b = 1``). The gate is exactly 0 at ``mu = 0``, so the
    transform is then the identity. As for any binary-concrete gate with a
    temperature below 1, the gradient with respect to ``mu`` fades as the
    probability approaches 0 or 1.

    :meth:`sample_parameters` returns the gates, shape ``(n_windows,)``.
    """

    name = "time_reverse"
    has_magnitude = False

    def sample_parameters(
        self,
        X: Tensor,
        magnitude: Tensor | float,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Draw one relaxed Bernoulli gate per window.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch the gates are drawn for.
        magnitude : Tensor | float
            Magnitude ``mu`` in [0, 1] (0-d tensor with its gradient, or float).
        generator : torch.Generator | None
            Source of the uniform noise behind the gates.

        Returns
        -------
        gates : Tensor, shape (n_windows,)
            Gates in [0, 1]; 1 means "reversed".
        """
        return self._gates((X.shape[0],), X, magnitude, generator)

    def apply(self, X: Tensor, params: Tensor, out: Tensor | None = None) -> Tensor:
        """Blend each window with its time-reversed copy.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch to transform.
        params : Tensor, shape (n_windows,)
            Gates from :meth:`sample_parameters`.
        out : Tensor | None
            Where to write the result (see :meth:`DifferentiableTransform.apply`).

        Returns
        -------
        X_tr : Tensor, shape (n_windows, n_channels, n_times)
        """
        gates = params.to(X.dtype).view(-1, 1, 1)
        # braindecode's time_reverse is this flip; calling it would import
        # braindecode (~5 s) with the transforms package.
        X_reversed = torch.flip(X, dims=[-1])
        # lerp = X + b (X_reversed - X) in one fused pass, exact at b = 0 and b = 1.
        return torch.lerp(X, X_reversed, gates, out=out)


class SmoothTimeMask(DifferentiableTransform):
    """Smoothly zero a random stretch of up to ``mu * max_value`` samples.

    Parameters
    ----------
    max_value : float | None
        Mask length, in samples, that ``mu = 1`` maps to. Defaults to 200
        (Table A.4 of Rommel et al., 2022).

    Notes
    -----
    The mask is braindecode's ``smooth_time_mask``: for a mask starting at ``a``
    and lasting ``L`` samples, sample ``t`` of every channel is multiplied by
    ``sigmoid(-s (t - a)) + sigmoid(s (t - a - L))`` with ``s = 1000 / n_times``.
    The length enters through a sigmoid, not an index, so the output is
    differentiable with respect to ``L``. Per window, ``L = u1 * mu * max_value``
    and ``a = u2 * max(n_times - L, 0)`` with ``u1, u2 ~ U(0, 1)``
    (reparametrisation: the gradient with respect to ``mu`` flows through both).
    The start is continuous, as in braindecode's ``SmoothTimeMask``. The edges
    are about ``4 / s`` samples wide, so masks much shorter than that are shallow
    (they never reach 0).

    The mask is computed here as ``1 - (sigmoid(s (t - a)) - sigmoid(s (t - a - L)))``
    (the same function) rather than by calling braindecode, because braindecode
    casts the mask to float32 (losing float64 precision) and its two terms only
    sum to 1 up to rounding at ``L = 0``; this form is exactly 1 there, so
    ``mu = 0`` returns the input bit for bit.

    :meth:`sample_parameters` returns a tensor of shape ``(n_windows, 2)``:
    column 0 is the mask length ``L`` (the value :meth:`parameter_bounds`
    describes), column 1 the mask start ``a`` in samples, in ``[0, n_times]``.
    """

    name = "smooth_time_mask"
    unit = "samples"
    default_max_value = 200.0
    requires = ()
    straight_through = False

    def sample_parameters(
        self,
        X: Tensor,
        magnitude: Tensor | float,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Draw a mask length and start per window.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch the masks are drawn for.
        magnitude : Tensor | float
            Magnitude ``mu`` in [0, 1] (0-d tensor with its gradient, or float).
        generator : torch.Generator | None
            Source of the uniform noise.

        Returns
        -------
        params : Tensor, shape (n_windows, 2)
            Column 0: mask length in samples, in ``[0, mu * max_value]``;
            column 1: mask start in samples, in ``[0, n_times]``.
        """
        n_windows, _, n_times = X.shape
        mu = self.magnitude_like(X, magnitude)
        u = uniform((n_windows, 2), X, generator)
        length = u[:, 0] * (mu * self.max_value)
        # Keep the mask inside the window; a mask longer than it starts at 0.
        start = u[:, 1] * (n_times - length).clamp(min=0)
        return torch.stack([length, start], dim=1)

    def parameter_bounds(self, magnitude) -> tuple[float, float]:
        """Bounds of the mask length (column 0 of the parameters), in samples.

        Parameters
        ----------
        magnitude : float | Tensor
            Magnitude ``mu`` in [0, 1].

        Returns
        -------
        low, high : float
            ``0`` and ``mu * max_value``.
        """
        return 0.0, self.physical_value(magnitude)

    def apply(self, X: Tensor, params: Tensor, out: Tensor | None = None) -> Tensor:
        """Multiply each window by its smooth mask.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch to transform.
        params : Tensor, shape (n_windows, 2)
            Mask lengths and starts from :meth:`sample_parameters`.
        out : Tensor | None
            Where to write the result (see :meth:`DifferentiableTransform.apply`).

        Returns
        -------
        X_tr : Tensor, shape (n_windows, n_channels, n_times)
        """
        n_times = X.shape[-1]
        # Sample positions in float32 for half-precision data: float16 holds
        # the integers exactly up to 2048 only, bfloat16 up to 256.
        dtype = compute_dtype(X.dtype)
        params = params.to(dtype)
        length = params[:, 0].view(-1, 1, 1)
        start = params[:, 1].view(-1, 1, 1)
        since_start = sample_times(n_times, 1.0, dtype, X.device) - start
        # Edge steepness of braindecode's smooth_time_mask.
        s = 1000.0 / n_times
        # 1 - (sigmoid(s (t - a)) - sigmoid(s (t - a - L))), in fewer ops (the
        # same floats: IEEE subtraction is antisymmetric).
        mask = (
            torch.sigmoid(s * (since_start - length))
            - torch.sigmoid(s * since_start)
            + 1
        )
        return torch.mul(X, mask.to(X.dtype), out=out)


class GaussianNoise(DifferentiableTransform):
    """Add white Gaussian noise of standard deviation ``mu * max_value``.

    Parameters
    ----------
    max_value : float | None
        Noise standard deviation that ``mu = 1`` maps to, in units of the
        (standardised) signals. Defaults to 0.2 (Table A.4 of Rommel et al., 2022).

    Notes
    -----
    Reparametrised: ``x + mu * max_value * eps`` with ``eps ~ N(0, 1)`` drawn
    independently for every window, channel and time sample, so the gradient with
    respect to ``mu`` is ``max_value * eps`` (braindecode's ``gaussian_noise``
    draws from numpy and is not used). At ``mu = 0`` the noise is exactly 0.

    The "parameter" returned by :meth:`sample_parameters` is the noise itself,
    shape ``(n_windows, n_channels, n_times)``, with standard deviation
    ``mu * max_value``; it is unbounded, so :meth:`parameter_bounds` returns
    ``(-inf, inf)``.
    """

    name = "gaussian_noise"
    unit = "std"
    default_max_value = 0.2
    requires = ()
    straight_through = False

    def sample_parameters(
        self,
        X: Tensor,
        magnitude: Tensor | float,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Draw the additive noise.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch the noise is drawn for.
        magnitude : Tensor | float
            Magnitude ``mu`` in [0, 1] (0-d tensor with its gradient, or float).
        generator : torch.Generator | None
            Source of the standard normal noise.

        Returns
        -------
        noise : Tensor, shape (n_windows, n_channels, n_times)
            Noise of standard deviation ``mu * max_value``.
        """
        mu = self.magnitude_like(X, magnitude)
        return normal(tuple(X.shape), X, generator) * (mu * self.max_value)

    def parameter_bounds(self, magnitude) -> tuple[float, float]:
        """Gaussian noise is unbounded: ``(-inf, inf)``.

        Parameters
        ----------
        magnitude : float | Tensor
            Magnitude ``mu`` in [0, 1] (the bounds do not depend on it).

        Returns
        -------
        low, high : float
        """
        self._magnitude_value(magnitude)
        return -math.inf, math.inf

    def apply(self, X: Tensor, params: Tensor, out: Tensor | None = None) -> Tensor:
        """Add the noise.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch to transform.
        params : Tensor, shape (n_windows, n_channels, n_times)
            Noise from :meth:`sample_parameters`.
        out : Tensor | None
            Where to write the result (see :meth:`DifferentiableTransform.apply`).

        Returns
        -------
        X_tr : Tensor, shape (n_windows, n_channels, n_times)
        """
        return torch.add(X, params.to(X.dtype), out=out)
