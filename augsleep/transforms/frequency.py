"""Differentiable frequency-domain transforms: FT surrogate, shift, bandstop.

All three work in the Fourier domain with ``torch.fft`` (real FFTs along the time
axis), draw their randomness through :mod:`augsleep.transforms._sampling` with the
caller's ``torch.Generator``, and are written so that ``mu = 0`` returns the input
exactly (the perturbation they add is then exactly zero).
"""

from __future__ import annotations

import functools
import math

import torch
from torch import Tensor

from augsleep.transforms._sampling import uniform
from augsleep.transforms.base import (
    SpectralTransform,
    _rounded,
    _spectrum_in_compute_dtype,
    irfft_time,
    sample_times,
)

# The cached constants below are built with inference mode off: a tensor made
# under ``torch.inference_mode()`` (a user's prediction) cannot take part in a
# later training step, where autograd saves it for the backward pass.


@functools.lru_cache(maxsize=16)
def _rfft_frequencies(n_times: int, sfreq: float, dtype: torch.dtype, device) -> Tensor:
    """``rfftfreq(n_times, 1 / sfreq)``, cached (never written to)."""
    with torch.inference_mode(False):
        return torch.fft.rfftfreq(n_times, d=1.0 / sfreq, dtype=dtype, device=device)


@functools.lru_cache(maxsize=16)
def _phase_mask(n_times: int, dtype: torch.dtype, device) -> Tensor:
    """1 on the rfft bins whose phase may change, 0 at DC and (even) Nyquist."""
    with torch.inference_mode(False):
        mask = torch.ones(n_times // 2 + 1, dtype=dtype, device=device)
        mask[0] = 0
        if n_times % 2 == 0:
            mask[-1] = 0
    return mask


def _check_sfreq(sfreq, owner: str) -> float:
    """Return ``sfreq`` as a positive finite float, or raise a ValueError."""
    if sfreq is None:
        raise ValueError(
            f"{owner}: sfreq (sampling frequency in Hz) is required, got None."
        )
    try:
        value = float(sfreq)
    except (TypeError, ValueError):
        raise ValueError(
            f"{owner}: sfreq must be a positive number of Hz, got {sfreq!r}."
        ) from None
    if not (math.isfinite(value) and value > 0):
        raise ValueError(
            f"{owner}: sfreq must be a positive number of Hz, got {sfreq}."
        )
    return value


@functools.lru_cache(maxsize=16)
def _hilbert_rotation(n_times: int, dtype: torch.dtype, device) -> Tensor:
    """Multiplier of the rfft bins that gives the Hilbert transform.

    ``-i`` on the positive frequencies, 0 at DC and (even length) Nyquist.
    Cached (never written to): building it takes seven small ops, each call.
    """
    n_freqs = n_times // 2 + 1
    with torch.inference_mode(False):
        rotation = torch.full((n_freqs,), -1j, dtype=dtype, device=device)
        rotation[0] = 0
        if n_times % 2 == 0:
            rotation[-1] = 0
    return rotation


class FTSurrogate(SpectralTransform):
    """Add random phase noise in ``[0, mu * max_value]`` to every Fourier coefficient.

    Parameters
    ----------
    max_value : float | None
        Largest phase perturbation, in radians, that ``mu = 1`` maps to. Defaults
        to ``2 * pi`` (Table A.4 of Rommel et al., 2022).
    channel_indep : bool
        Whether to draw independent phases for each channel. ``False`` (the
        default, as in braindecode) shifts all channels of a window by the same
        phases, which keeps the cross-channel phase relations.

    Notes
    -----
    Fourier-transform surrogate (Schwabedal et al., 2018): ``X_tr = irfft(F
    exp(i phi))`` with ``F = rfft(x)``, which keeps the amplitude spectrum of every
    channel and randomises its phases. The phases are reparametrised,
    ``phi = u * mu * max_value`` with ``u ~ U(0, 1)``, so the output is
    differentiable with respect to ``mu``. Braindecode's ``ft_surrogate`` draws
    ``u`` from numpy, so it is rewritten here with ``torch.fft.rfft``.

    The phase of the DC bin, and of the Nyquist bin when ``n_times`` is even, is
    kept at 0: these coefficients are real for a real signal, and ``irfft`` would
    otherwise drop the imaginary part and change their amplitude (e.g. the mean).

    The output is computed as ``x + irfft(F (exp(i phi) - 1))`` with
    ``exp(i phi) - 1 = -2 sin(phi / 2)^2 + i sin(phi)`` (no cancellation for small
    phases): the added term is exactly zero when ``mu = 0``.

    :meth:`sample_parameters` returns the phases, shape
    ``(n_windows, n_channels if channel_indep else 1, n_times // 2 + 1)``.
    """

    name = "ft_surrogate"
    unit = "rad"
    default_max_value = 2 * math.pi
    requires = ()
    straight_through = False

    config_names = ("channel_indep",)

    def __init__(self, max_value: float | None = None, *, channel_indep: bool = False):
        super().__init__(max_value, channel_indep=bool(channel_indep))

    def sample_parameters(
        self,
        X: Tensor,
        magnitude: Tensor | float,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Draw phase perturbations for the positive-frequency bins.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch the phases are drawn for.
        magnitude : Tensor | float
            Magnitude ``mu`` in [0, 1] (0-d tensor with its gradient, or float).
        generator : torch.Generator | None
            Source of the uniform noise.

        Returns
        -------
        phases : Tensor, shape (n_windows, n_channels or 1, n_times // 2 + 1)
            Phases in radians, in ``[0, mu * max_value]``; 0 at DC and Nyquist.
        """
        n_windows, n_channels, n_times = X.shape
        n_freqs = n_times // 2 + 1
        mu = self.magnitude_like(X, magnitude)
        n_draws = n_channels if self.channel_indep else 1
        u = uniform((n_windows, n_draws, n_freqs), X, generator)
        # DC and (even length) Nyquist coefficients are real: leave their phase
        # (a cached 0/1 mask, fewer ops than writing the zeros into u).
        return u * (_phase_mask(n_times, u.dtype, u.device) * (mu * self.max_value))

    def parameter_bounds(self, magnitude) -> tuple[float, float]:
        """Phases lie in ``[0, mu * max_value]`` radians.

        Parameters
        ----------
        magnitude : float | Tensor
            Magnitude ``mu`` in [0, 1].

        Returns
        -------
        low, high : float
        """
        return 0.0, self.physical_value(magnitude)

    def spectral_multiplier(self, params: Tensor, n_times: int) -> Tensor:
        """Filter ``exp(i phi) - 1``: the output is ``x + irfft(F * M)``.

        Parameters
        ----------
        params : Tensor, shape (n_windows, n_channels or 1, n_times // 2 + 1)
            Phases from :meth:`sample_parameters`.
        n_times : int
            Length of the windows.

        Returns
        -------
        M : Tensor, shape (n_windows, n_channels or 1, n_times // 2 + 1)
            Complex.
        """
        return torch.complex(-2 * torch.sin(params / 2) ** 2, torch.sin(params))


class FrequencyShift(SpectralTransform):
    """Shift the spectrum of each window by ``delta`` in ``[-mu, mu] * max_value`` Hz.

    Parameters
    ----------
    max_value : float | None
        Largest shift, in Hz, that ``mu = 1`` maps to. Defaults to 5 Hz (Table A.4
        of Rommel et al., 2022).
    sfreq : float
        Sampling frequency of the signals, in Hz.

    Notes
    -----
    Single-sideband modulation as in braindecode's ``frequency_shift``: with
    ``a = x + i H(x)`` the analytic signal (``H`` the Hilbert transform,
    computed by FFT over the window, as ``scipy.signal.hilbert`` does), the output is
    ``Re(a exp(2 i pi delta t)) = x cos(2 pi delta t) - H(x) sin(2 pi delta t)``,
    which moves every positive frequency ``f`` to ``f + delta``. The shift is
    reparametrised per window, ``delta = (2 u - 1) * mu * max_value`` with
    ``u ~ U(0, 1)``, and the output is smooth in ``delta``.

    Braindecode's ``_frequency_shift`` is differentiable in ``delta`` but casts its
    output to float32; it is re-implemented here in ``X``'s dtype, using ``x``
    itself rather than the round-tripped real part of ``a`` so that ``delta = 0``
    returns the input exactly. Braindecode also zero-pads the window to the next
    power of two before its FFT; augsleep does not, so that the FFT of the window
    can be shared with the FT surrogate and the bandstop filter of the same
    layer (see :class:`augsleep.transforms.base.SpectralTransform`), and because
    it is faster (an FFT of 3000 points costs less than one of 4096, and nothing
    has to be padded or cropped). The Hilbert transform is not local and each
    version is circular over its own FFT length, so the outputs differ (most
    near the window's edges and for broadband signals); this one is exactly
    ``Re(scipy.signal.hilbert(x) * exp(2 i pi delta t))``.

    :meth:`sample_parameters` returns the shifts in Hz, shape ``(n_windows,)``.
    """

    name = "frequency_shift"
    unit = "Hz"
    default_max_value = 5.0
    requires = ("sfreq",)
    straight_through = False

    config_names = ("sfreq",)

    def __init__(self, max_value: float | None = None, *, sfreq: float | None = None):
        super().__init__(max_value, sfreq=_check_sfreq(sfreq, "FrequencyShift"))

    def sample_parameters(
        self,
        X: Tensor,
        magnitude: Tensor | float,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Draw one frequency shift per window.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch the shifts are drawn for.
        magnitude : Tensor | float
            Magnitude ``mu`` in [0, 1] (0-d tensor with its gradient, or float).
        generator : torch.Generator | None
            Source of the uniform noise.

        Returns
        -------
        delta : Tensor, shape (n_windows,)
            Shifts in Hz, in ``[-mu * max_value, mu * max_value]``.
        """
        mu = self.magnitude_like(X, magnitude)
        u = uniform((X.shape[0],), X, generator)
        return (2 * u - 1) * (mu * self.max_value)

    def parameter_bounds(self, magnitude) -> tuple[float, float]:
        """Shifts lie in ``[-mu * max_value, mu * max_value]`` Hz.

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

    is_filter = False

    def apply_spectrum(
        self, X: Tensor, spectrum: Tensor, params: Tensor, out: Tensor | None = None
    ) -> Tensor:
        """Shift the spectrum of each window by its own ``delta``.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch to transform.
        spectrum : Tensor, shape (n_windows, n_channels, n_times // 2 + 1)
            :func:`~augsleep.transforms.base.rfft_time` of ``X``.
        params : Tensor, shape (n_windows,)
            Shifts in Hz from :meth:`sample_parameters`.
        out : Tensor | None
            Where to write the result (see :meth:`DifferentiableTransform.apply`).

        Returns
        -------
        X_tr : Tensor, shape (n_windows, n_channels, n_times)
            In ``X``'s dtype (computed in float32 for a half-precision ``X``).
        """
        n_times = X.shape[-1]
        spectrum = _spectrum_in_compute_dtype(spectrum, X)
        dtype = spectrum.real.dtype
        # Only the imaginary part of the analytic signal is needed, i.e. the
        # Hilbert transform: a -90 degree phase on the positive frequencies (DC
        # and Nyquist, which are real, drop out), taken with one real inverse FFT
        # instead of the complex ifft of the whole analytic signal.
        hilbert = irfft_time(
            spectrum * _hilbert_rotation(n_times, spectrum.dtype, X.device), n_times
        )
        t = sample_times(n_times, self.sfreq, dtype, X.device)
        angle = torch.outer((2 * math.pi) * params.to(dtype), t)[:, None, :]
        shifted = torch.sub(
            X.to(dtype) * torch.cos(angle), hilbert * torch.sin(angle), out=out
        )
        return _rounded(shifted, X)

    def extra_repr(self) -> str:
        """Describe the range and the sampling frequency."""
        return f"{super().extra_repr()}, sfreq={self.sfreq:g}"


class BandstopFilter(SpectralTransform):
    """Remove a random frequency band of width up to ``mu * max_value`` Hz.

    Parameters
    ----------
    max_value : float | None
        Largest bandwidth, in Hz, that ``mu = 1`` maps to. Defaults to 2 Hz
        (Table A.4 of Rommel et al., 2022).
    sfreq : float
        Sampling frequency of the signals, in Hz.
    max_freq : float | None
        Highest centre frequency of the band, in Hz, in ``(0, sfreq / 2]``.
        Defaults to the Nyquist frequency ``sfreq / 2``.

    Notes
    -----
    Braindecode's ``bandstop_filter`` runs MNE's FIR notch filter in numpy and
    has no gradient, which is why the paper left it out of AugNet. This is a
    differentiable relaxation in the FFT domain. With ``F = rfft(x)`` over the
    window, bin spacing ``df = sfreq / n_times``, centre ``fc`` and bandwidth
    ``bw``, bin ``k`` (frequency ``f_k``) is seen as the cell
    ``[f_k - df / 2, f_k + df / 2]`` and is attenuated by the fraction of that
    cell the band ``[fc - bw / 2, fc + bw / 2]`` covers::

        depth_k = clamp(bw / 2 + df / 2 - |f_k - fc|, 0, min(bw, df)) / df

    and the output is ``x - irfft(F * depth)``. Hence

    - ``bw = 0`` gives ``depth = 0`` everywhere and returns ``x`` exactly;
    - bins whose cell lies inside the band are removed, bins whose cell lies
      outside it are untouched, and at most two edge bins per band are partly
      attenuated; for a band inside the spectrum the total depth is
      ``bw / df``: it removes ``bw`` Hz worth of spectrum wherever it falls
      on the bin grid;
    - the cells holding the band edges ``fc +- bw / 2`` have
      ``d depth / d bw = 1 / (2 df)`` (``1 / df`` for a band inside one cell), so
      the gradient with respect to ``bw`` is non-zero for every ``bw > 0``
      (almost surely over ``fc``), even for bands narrower than a bin. A plain
      trapezoid ``clamp((bw / 2 - |f - fc|) / df, 0, 1)`` also gives the identity
      at ``bw = 0`` but has zero gradient whenever no bin lies within ``bw / 2``
      of ``fc``, i.e. most of the time for ``bw`` below a bin or two.

    The output is piecewise linear in ``bw`` (kinks where an edge crosses a cell
    boundary). The filter is circular and zero phase over the window, like any
    FFT-domain filter. Per window ``bw = u1 * mu * max_value`` (reparametrised)
    and ``fc = u2 * max_freq`` with ``u1, u2 ~ U(0, 1)``; ``fc`` does not depend
    on ``mu``. A band reaching below 0 Hz or above Nyquist removes only its part
    inside the spectrum.

    :meth:`sample_parameters` returns a tensor of shape ``(n_windows, 2)``:
    column 0 is the bandwidth ``bw`` in Hz (the value :meth:`parameter_bounds`
    describes), column 1 the centre frequency ``fc`` in Hz, in
    ``[0, max_freq]``.
    """

    name = "bandstop_filter"
    unit = "Hz"
    default_max_value = 2.0
    requires = ("sfreq",)
    straight_through = False

    config_names = ("sfreq", "max_freq")

    def __init__(
        self,
        max_value: float | None = None,
        *,
        sfreq: float | None = None,
        max_freq: float | None = None,
    ):
        sfreq = _check_sfreq(sfreq, "BandstopFilter")
        nyquist = sfreq / 2
        if max_freq is None:
            max_freq = nyquist
        if not 0 < max_freq <= nyquist:  # also refuses NaN and inf
            raise ValueError(
                f"BandstopFilter: max_freq must lie in (0, sfreq / 2 = {nyquist:g}] "
                f"Hz, got {max_freq}."
            )
        super().__init__(max_value, sfreq=sfreq, max_freq=float(max_freq))

    def sample_parameters(
        self,
        X: Tensor,
        magnitude: Tensor | float,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Draw a bandwidth and a centre frequency per window.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch the bands are drawn for.
        magnitude : Tensor | float
            Magnitude ``mu`` in [0, 1] (0-d tensor with its gradient, or float).
        generator : torch.Generator | None
            Source of the uniform noise.

        Returns
        -------
        params : Tensor, shape (n_windows, 2)
            Column 0: bandwidth in Hz, in ``[0, mu * max_value]``; column 1:
            centre frequency in Hz, in ``[0, max_freq]``.
        """
        mu = self.magnitude_like(X, magnitude)
        u = uniform((X.shape[0], 2), X, generator)
        bandwidth = u[:, 0] * (mu * self.max_value)
        centre = u[:, 1] * self.max_freq
        return torch.stack([bandwidth, centre], dim=1)

    def parameter_bounds(self, magnitude) -> tuple[float, float]:
        """Bounds of the bandwidth (column 0 of the parameters), in Hz.

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

    def notch_depth(self, params: Tensor, n_times: int) -> Tensor:
        """Attenuation of each rfft bin, 0 (kept) to 1 (removed).

        Parameters
        ----------
        params : Tensor, shape (n_windows, 2)
            Bandwidths and centre frequencies from :meth:`sample_parameters`.
        n_times : int
            Length of the windows.

        Returns
        -------
        depth : Tensor, shape (n_windows, n_times // 2 + 1)
        """
        freqs = _rfft_frequencies(n_times, self.sfreq, params.dtype, params.device)
        bin_width = self.sfreq / n_times
        bandwidth = params[:, 0:1]
        distance = (freqs - params[:, 1:2]).abs()
        # Overlap of the band with each bin's cell, as a fraction of the cell.
        overlap = torch.relu(bandwidth / 2 + bin_width / 2 - distance)
        return torch.minimum(overlap, bandwidth.clamp(max=bin_width)) / bin_width

    def spectral_multiplier(self, params: Tensor, n_times: int) -> Tensor:
        """Filter ``-depth``: the output is ``x + irfft(F * M)``.

        Parameters
        ----------
        params : Tensor, shape (n_windows, 2)
            Bandwidths and centre frequencies from :meth:`sample_parameters`.
        n_times : int
            Length of the windows.

        Returns
        -------
        M : Tensor, shape (n_windows, 1, n_times // 2 + 1)
            Real, in [-1, 0].
        """
        return -self.notch_depth(params, n_times)[:, None, :]

    def extra_repr(self) -> str:
        """Describe the range, sampling frequency and highest centre."""
        return (
            f"{super().extra_repr()}, sfreq={self.sfreq:g}, max_freq={self.max_freq:g}"
        )
