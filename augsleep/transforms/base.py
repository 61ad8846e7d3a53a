"""Base class of the differentiable EEG transforms.

Every transform ``T(x; mu)`` is a stateless operation at a magnitude ``mu`` in
[0, 1] that the caller passes in, mapped linearly onto a physical range
``[0, max_value]`` (``mu = 0`` is the identity). A forward pass is split in two
steps so that tests and users can look at the random part on its own:

1. :meth:`DifferentiableTransform.sample_parameters` draws the per-example physical
   parameters (a shift in Hz, an angle in degrees, a relaxed Bernoulli gate...) as a
   differentiable function of ``mu`` and of noise drawn from a ``torch.Generator``;
2. :meth:`DifferentiableTransform.apply` applies them to the batch.

:meth:`DifferentiableTransform.at` fixes the magnitude, for the places that take a
transform as a callable ``X -> T(X)``.

Half-precision batches (float16, bfloat16) are transformed in their own dtype:
the parameters are drawn, and the FFTs, sample times and mask positions computed,
in float32 (:func:`~augsleep.transforms._sampling.compute_dtype`), and the result
is rounded to the batch's dtype. Batches of 0 windows give batches of 0 windows.
"""

from __future__ import annotations

import functools
from typing import ClassVar

import torch
from torch import Tensor, nn

from augsleep._validation import check_eeg_batch, check_finite_number
from augsleep.transforms._sampling import compute_dtype, relaxed_bernoulli


def clamp_straight_through(raw: Tensor) -> Tensor:
    """Clamp to [0, 1] in the forward pass; pass the gradient through unchanged.

    Parameters
    ----------
    raw : Tensor
        Unconstrained magnitudes (any shape).

    Returns
    -------
    clamped : Tensor
        Same shape, values in [0, 1], ``d clamped / d raw = 1`` everywhere.
    """
    return raw + (raw.clamp(0.0, 1.0) - raw).detach()


def check_magnitude(magnitude, owner: str = "magnitude") -> float:
    """Return a magnitude given as a number as a float, checked to lie in [0, 1].

    Parameters
    ----------
    magnitude : float
        Magnitude ``mu`` (a Python or numpy number, or a 0-d tensor).
    owner : str
        Name to start the error message with.

    Returns
    -------
    mu : float

    Raises
    ------
    ValueError
        If ``magnitude`` is not a finite number in [0, 1].
    """
    if isinstance(magnitude, Tensor):
        if magnitude.ndim != 0:
            raise ValueError(
                f"{owner}: magnitude must be a number or a 0-d tensor, got a tensor "
                f"of shape {tuple(magnitude.shape)}."
            )
        magnitude = magnitude.detach()
    try:
        value = float(magnitude)
    except (TypeError, ValueError):
        raise ValueError(
            f"{owner}: magnitude must be a number in [0, 1], got {magnitude!r}."
        ) from None
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise ValueError(f"{owner}: magnitude must lie in [0, 1], got {value}.")
    return value


class DifferentiableTransform(nn.Module):
    """A differentiable EEG augmentation, applied at a magnitude passed to it.

    The transform holds its configuration only (the physical range
    :attr:`max_value`, a sampling frequency, channel names...): it has no
    learnable parameter. The magnitude ``mu`` in [0, 1] is an argument of
    :meth:`sample_parameters` and :meth:`forward`, so that whoever learns it (an
    :class:`augsleep.augment.AugLayer`, a policy of (operation, probability,
    magnitude)...) owns it, and one transform can serve several magnitudes.

    Parameters
    ----------
    max_value : float | None
        Physical value that ``mu = 1`` maps to (in :attr:`unit`); ``None`` uses
        :attr:`default_max_value` (the paper's Table A.4).
    **config
        Other configuration of the subclass, among :attr:`config_names` (e.g.
        ``sfreq``), stored as plain attributes of the same names.

    Raises
    ------
    ValueError
        If ``max_value`` is not a positive finite number.

    Notes
    -----
    A magnitude is either a float in [0, 1], checked, or a 0-d tensor that
    carries its gradient and is used as given: a learner keeps it in [0, 1]
    itself (:class:`augsleep.augment.AugLayer` reads its magnitudes through
    :func:`clamp_straight_through`), without the host synchronisation a check
    on a tensor would cost at every call. ``mu = 0`` is the identity.
    """

    #: Name in :data:`augsleep.transforms.TRANSFORMS` (e.g. ``"frequency_shift"``).
    name: ClassVar[str] = ""
    #: Unit of :attr:`max_value` and of :meth:`physical_value`.
    unit: ClassVar[str] = ""
    #: Default physical range (the paper's Table A.4).
    default_max_value: ClassVar[float] = 1.0
    #: Context the constructor needs, among ``"sfreq"``, ``"ch_names"`` and
    #: ``"positions"``; :func:`augsleep.transforms.make_transform` passes them.
    requires: ClassVar[tuple[str, ...]] = ()
    #: Configuration keywords the constructor stores as attributes.
    config_names: ClassVar[tuple[str, ...]] = ()
    #: True when the gradient with respect to ``mu`` is a straight-through
    #: estimate (biased by design), not the derivative of the forward pass.
    straight_through: ClassVar[bool] = False
    #: False for the operations whose only parameter is the probability of
    #: applying them (time reverse, sign flip, channels symmetry): their
    #: "magnitude" is that probability, so a policy that gates operations
    #: itself calls them at magnitude 1.
    has_magnitude: ClassVar[bool] = True

    def __init__(self, max_value: float | None = None, **config):
        super().__init__()
        unknown = sorted(set(config) - set(self.config_names))
        if unknown:
            raise TypeError(
                f"{type(self).__name__}: unexpected configuration {unknown}; "
                f"expected among {list(self.config_names)}."
            )
        if max_value is None:
            max_value = self.default_max_value
        owner = type(self).__name__
        self.max_value = check_finite_number(max_value, "max_value", owner)
        for key, value in config.items():
            setattr(self, key, value)

    def _magnitude_value(self, magnitude) -> float:
        """``magnitude`` as a float (checked when it is a number)."""
        if isinstance(magnitude, Tensor):
            return float(magnitude.detach())
        return check_magnitude(magnitude, type(self).__name__)

    def physical_value(self, magnitude) -> float:
        """Physical value of a magnitude, ``mu * max_value`` (in :attr:`unit`).

        Parameters
        ----------
        magnitude : float | Tensor
            Magnitude ``mu`` in [0, 1] (a float or a 0-d tensor).

        Returns
        -------
        value : float
        """
        return self._magnitude_value(magnitude) * self.max_value

    def magnitude_like(self, X: Tensor, magnitude) -> Tensor:
        """``mu`` on ``X``'s device, with its gradient, in the dtype of the draws.

        That dtype is ``X``'s, or float32 for a half-precision ``X``
        (:func:`~augsleep.transforms._sampling.compute_dtype`).

        Parameters
        ----------
        X : Tensor
            Tensor whose dtype and device ``mu`` takes.
        magnitude : float | Tensor
            Magnitude in [0, 1]: a float (checked) or a 0-d tensor (used as
            given, gradient included).

        Returns
        -------
        mu : Tensor, 0-d
        """
        if isinstance(magnitude, Tensor):
            if magnitude.ndim != 0:
                raise ValueError(
                    f"{type(self).__name__}: magnitude must be a 0-d tensor, got "
                    f"shape {tuple(magnitude.shape)}."
                )
            return magnitude.to(dtype=compute_dtype(X.dtype), device=X.device)
        value = check_magnitude(magnitude, type(self).__name__)
        return torch.tensor(value, dtype=compute_dtype(X.dtype), device=X.device)

    def sample_parameters(
        self,
        X: Tensor,
        magnitude: Tensor | float,
        generator: torch.Generator | None = None,
    ):
        """Draw the physical parameters of the transform for each example.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch the parameters are drawn for.
        magnitude : Tensor | float
            Magnitude ``mu`` in [0, 1]: a 0-d tensor, carrying its gradient, or a
            float.
        generator : torch.Generator | None
            Source of every random draw; ``None`` uses torch's global generator.

        Returns
        -------
        params : Tensor
            Physical parameters, differentiable with respect to ``mu``. Their
            first dimension is ``n_windows``; their dtype is ``X``'s, or float32
            for a half-precision ``X``.
        """
        raise NotImplementedError

    def parameter_bounds(self, magnitude) -> tuple[float, float]:
        """Bounds that every value drawn by :meth:`sample_parameters` respects.

        Parameters
        ----------
        magnitude : float | Tensor
            Magnitude ``mu`` in [0, 1].

        Returns
        -------
        low, high : float
            Bounds at that magnitude (e.g. ``(-mu * 5, mu * 5)`` Hz for a
            frequency shift, ``(0, 1)`` for relaxed Bernoulli gates).
        """
        raise NotImplementedError

    def apply(self, X: Tensor, params: Tensor, out: Tensor | None = None) -> Tensor:
        """Apply the transform with given parameters.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch to transform.
        params : Tensor
            Output of :meth:`sample_parameters` for ``X``.
        out : Tensor | None
            Tensor of ``X``'s shape to write the result into (e.g. a slice of a
            larger batch), as torch's ``out=`` arguments: it saves allocating
            and copying the result, and like them it does not support autograd.
            It must not overlap ``X``. ``None`` allocates the result.

        Returns
        -------
        X_tr : Tensor, shape (n_windows, n_channels, n_times)
            Transformed batch, same dtype and device as ``X`` (``out`` if given).
        """
        raise NotImplementedError

    def forward(
        self,
        X: Tensor,
        magnitude: Tensor | float,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Transform a batch: draw parameters at ``magnitude``, then apply them.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch of EEG windows.
        magnitude : Tensor | float
            Magnitude ``mu`` in [0, 1] (see :meth:`sample_parameters`).
        generator : torch.Generator | None
            Source of every random draw; ``None`` uses torch's global generator.

        Returns
        -------
        X_tr : Tensor, shape (n_windows, n_channels, n_times)
            Transformed batch.
        """
        check_eeg_batch(X, name="X", check_finite=False)
        return self.apply(X, self.sample_parameters(X, magnitude, generator))

    def at(self, magnitude: float) -> FixedMagnitude:
        """Fix the magnitude: a module ``X -> T(X; mu)`` holding this transform.

        Parameters
        ----------
        magnitude : float
            Magnitude ``mu`` in [0, 1].

        Returns
        -------
        module : FixedMagnitude
            Callable as ``module(X, generator=None)``, e.g. for
            :func:`augsleep.invariance.invariance_score`.
        """
        return FixedMagnitude(self, magnitude)

    def extra_repr(self) -> str:  # noqa: D102 (nn.Module's repr hook)
        return f"max_value={self.max_value:g} {self.unit}".rstrip()


class FixedMagnitude(nn.Module):
    """A transform at a fixed magnitude: ``module(X, generator) = T(X; mu)``.

    Parameters
    ----------
    transform : DifferentiableTransform
        The transform.
    magnitude : float
        Magnitude ``mu`` in [0, 1], not learnable.
    """

    def __init__(self, transform: DifferentiableTransform, magnitude: float):
        super().__init__()
        if not isinstance(transform, DifferentiableTransform):
            raise TypeError(
                "transform must be a DifferentiableTransform, got "
                f"{type(transform).__name__}."
            )
        self.transform = transform
        self.magnitude = check_magnitude(magnitude, type(transform).__name__)

    @property
    def physical_value(self) -> float:
        """``magnitude * max_value``, in the transform's unit."""
        return self.transform.physical_value(self.magnitude)

    def forward(self, X: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Transform a batch at the fixed magnitude.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch of EEG windows.
        generator : torch.Generator | None
            Source of every random draw; ``None`` uses torch's global generator.

        Returns
        -------
        X_tr : Tensor, shape (n_windows, n_channels, n_times)
        """
        return self.transform(X, self.magnitude, generator)

    def extra_repr(self) -> str:  # noqa: D102 (nn.Module's repr hook)
        return f"magnitude={self.magnitude:g}"


@functools.lru_cache(maxsize=16)
def sample_times(n_times: int, sfreq: float, dtype: torch.dtype, device) -> Tensor:
    """Sample times ``arange(n_times) / sfreq``, cached (never written to).

    With ``sfreq=1.0``, the sample positions ``0, 1, ..., n_times - 1`` exactly.
    Built with inference mode off: a tensor made under ``torch.inference_mode()``
    (a user's prediction) cannot take part in a later training step.
    """
    with torch.inference_mode(False):
        return torch.arange(n_times, dtype=dtype, device=device) / sfreq


def rfft_time(X: Tensor) -> Tensor:
    """Real FFT of a batch along time, in :func:`compute_dtype` of its dtype.

    ``torch.fft.rfft(X, dim=-1)``, except that a half-precision ``X`` is
    transformed in float32 (torch's CPU FFT has no half precision, its CUDA FFT
    only for powers of two) and that an empty ``X`` (0 windows, channels or
    samples), which the FFT libraries refuse, gives an empty spectrum.

    Parameters
    ----------
    X : Tensor, shape (..., n_times)
        Real signals.

    Returns
    -------
    spectrum : Tensor, shape (..., n_times // 2 + 1)
        Complex64 for float32 and half-precision ``X``, complex128 for float64.
    """
    X = X.to(compute_dtype(X.dtype))
    if X.numel() == 0:
        shape = (*X.shape[:-1], X.shape[-1] // 2 + 1)
        return X.new_zeros(shape, dtype=torch.promote_types(X.dtype, torch.complex64))
    return torch.fft.rfft(X, dim=-1)


def irfft_time(spectrum: Tensor, n_times: int) -> Tensor:
    """Inverse of :func:`rfft_time`: ``torch.fft.irfft(spectrum, n=n_times, dim=-1)``.

    An empty ``spectrum`` gives an empty result instead of an FFT library error.

    Parameters
    ----------
    spectrum : Tensor, shape (..., n_times // 2 + 1)
        Complex (or real) spectrum.
    n_times : int
        Length of the signals.

    Returns
    -------
    X : Tensor, shape (..., n_times)
        Real, float32 for a complex64 spectrum, float64 for complex128.
    """
    if spectrum.numel() == 0:
        dtype = spectrum.real.dtype if spectrum.is_complex() else spectrum.dtype
        return spectrum.new_zeros((*spectrum.shape[:-1], n_times), dtype=dtype)
    return torch.fft.irfft(spectrum, n=n_times, dim=-1)


class SpectralTransform(DifferentiableTransform):
    """Base of the transforms computed from the window's real FFT.

    ``apply(X, params)`` is ``apply_spectrum(X, rfft(X), params)`` with the FFT
    taken over the whole window (``n_times`` points). An
    :class:`augsleep.augment.AugLayer` holding several spectral transforms computes
    ``rfft(X)`` once and passes it to each of them (in training mode every
    transform sees the whole batch), which saves one forward FFT and one FFT in
    the backward pass per extra transform.

    Subclasses implement either :meth:`spectral_multiplier`, when the transform
    is a random filter ``T(x) = x + irfft(F * M)`` with ``F = rfft(x)`` (then
    :attr:`is_filter` is True, and a layer sums the ``w_q M_q`` of several such
    transforms, which are small when shared across channels, and applies them
    with a single multiplication and inverse FFT), or :meth:`apply_spectrum`
    itself.

    The FFTs of a half-precision batch are computed in float32 (see
    :func:`rfft_time`); the result is rounded once to the batch's dtype.
    """

    #: Whether ``T(x) = x + irfft(rfft(x) * spectral_multiplier(params, n_times))``.
    is_filter: ClassVar[bool] = True

    def spectral_multiplier(self, params: Tensor, n_times: int) -> Tensor:
        """Filter ``M`` such that ``T(x) = x + irfft(rfft(x) * M)``.

        Parameters
        ----------
        params : Tensor
            Output of :meth:`sample_parameters`, in the dtype of the spectrum's
            real part (float32 for half-precision data).
        n_times : int
            Length of the windows (the spectrum alone does not tell odd from even).

        Returns
        -------
        M : Tensor, shape (n_windows, n_channels or 1, n_times // 2 + 1)
            Real or complex, exactly zero at ``mu = 0``.
        """
        raise NotImplementedError

    def apply_spectrum(
        self, X: Tensor, spectrum: Tensor, params: Tensor, out: Tensor | None = None
    ) -> Tensor:
        """Apply the transform given the batch's spectrum.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch to transform.
        spectrum : Tensor, shape (n_windows, n_channels, n_times // 2 + 1)
            ``rfft_time(X)``: ``torch.fft.rfft(X, dim=-1)``, computed in float32
            for a half-precision ``X``.
        params : Tensor
            Output of :meth:`sample_parameters` for ``X``.
        out : Tensor | None
            Where to write the result (see :meth:`DifferentiableTransform.apply`).

        Returns
        -------
        X_tr : Tensor, shape (n_windows, n_channels, n_times)
            In ``X``'s dtype.
        """
        n_times = X.shape[-1]
        spectrum = _spectrum_in_compute_dtype(spectrum, X)
        dtype = spectrum.real.dtype
        multiplier = self.spectral_multiplier(params.to(dtype), n_times)
        filtered = irfft_time(spectrum * multiplier, n_times)
        return _rounded(torch.add(X.to(dtype), filtered, out=out), X)

    def apply(self, X: Tensor, params: Tensor, out: Tensor | None = None) -> Tensor:
        """Apply the transform with given parameters.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch to transform.
        params : Tensor
            Output of :meth:`sample_parameters` for ``X``.
        out : Tensor | None
            Where to write the result (see :meth:`DifferentiableTransform.apply`).

        Returns
        -------
        X_tr : Tensor, shape (n_windows, n_channels, n_times)
        """
        return self.apply_spectrum(X, rfft_time(X), params, out=out)


def _spectrum_in_compute_dtype(spectrum: Tensor, X: Tensor) -> Tensor:
    """``spectrum`` as the complex dtype :func:`rfft_time` gives for ``X``."""
    expected = torch.promote_types(compute_dtype(X.dtype), torch.complex64)
    return spectrum if spectrum.dtype == expected else spectrum.to(expected)


def _rounded(result: Tensor, X: Tensor) -> Tensor:
    """Round a result computed in float32 for a half-precision ``X`` to its dtype.

    A no-op for full-precision data, and for a result written into ``out=``
    (which already has ``X``'s dtype).
    """
    return result.to(X.dtype)


class ChannelMixingTransform:
    """Mixin of the transforms that are a per-window linear map of the channels.

    ``T(x) = x + D x`` with ``D`` of shape (n_windows, n_channels, n_channels):
    sign flip, channels symmetry, channels dropout and the sensor rotations. A
    layer holding several of them sums ``w_q (I + D_q)`` (small matrices) and
    applies them with a single batched matrix product, instead of one pass over
    the data per transform, in the forward and in the backward pass.
    """

    def channel_delta(self, X: Tensor, params: Tensor) -> Tensor:
        """Matrix ``D`` such that ``T(x) = x + D x``, per window.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch (for its shape, dtype and device).
        params : Tensor
            Output of :meth:`sample_parameters` for ``X``.

        Returns
        -------
        D : Tensor, shape (n_windows, n_channels, n_channels)
            In ``X``'s dtype; exactly zero at ``mu = 0``.
        """
        raise NotImplementedError


class ProbabilityTransform(DifferentiableTransform):
    """Base of the transforms applied with probability ``p = mu * max_value``.

    Each example (or channel) gets a relaxed Bernoulli gate in [0, 1] drawn with
    :func:`augsleep.transforms._sampling.relaxed_bernoulli`: a hard Bernoulli draw
    has no gradient with respect to its probability. Gates are exactly 0 at
    ``mu = 0``, so the transform is then the identity.

    Parameters
    ----------
    max_value : float | None
        Probability that ``mu = 1`` maps to (at most 1; default 1).
    temperature : float
        Temperature of the relaxed Bernoulli gates (default 0.1), positive and
        finite. Lower is closer to hard 0/1 gates but has larger-variance
        gradients: with ``T = 0.1`` about 85 % of the gates drawn at ``p = 0.5``
        lie within 0.05 of 0 or 1.
    **config
        Configuration of the subclass (see :class:`DifferentiableTransform`).
    """

    unit = "probability"
    default_max_value = 1.0

    def __init__(
        self, max_value: float | None = None, *, temperature: float = 0.1, **config
    ):
        super().__init__(max_value, **config)
        if self.max_value > 1.0:
            raise ValueError(
                f"{type(self).__name__}: max_value is a probability and must be at "
                f"most 1, got {self.max_value}."
            )
        self.temperature = check_finite_number(
            temperature, "temperature", type(self).__name__
        )

    def parameter_bounds(self, magnitude) -> tuple[float, float]:
        """Gates lie in [0, 1].

        Parameters
        ----------
        magnitude : float | Tensor
            Magnitude ``mu`` in [0, 1] (the bounds do not depend on it).

        Returns
        -------
        low, high : float
        """
        self._magnitude_value(magnitude)
        return 0.0, 1.0

    def _gates(self, shape, X: Tensor, magnitude, generator) -> Tensor:
        probability = self.magnitude_like(X, magnitude) * self.max_value
        return relaxed_bernoulli(probability, shape, X, self.temperature, generator)

    def extra_repr(self) -> str:  # noqa: D102 (nn.Module's repr hook)
        return f"{super().extra_repr()}, temperature={self.temperature:g}"
