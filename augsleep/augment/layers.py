"""Augmentation layers: softmax-weighted mixtures of differentiable transforms.

An :class:`AugLayer` stands for ``sum_q w_q T_q(x; mu_q)`` (the paper's Eq. 2): it
holds the stateless transforms ``T_q`` and learns their weights ``w_q`` and
magnitudes ``mu_q``. An :class:`AugmentationModule` stacks layers, so that each
layer can pick a different invariance (invariance is stable under composition).
:class:`Identity` is the augmentation that leaves its input alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from augsleep._validation import check_eeg_batch, check_finite_number
from augsleep.transforms import DifferentiableTransform, make_transform
from augsleep.transforms._sampling import compute_dtype
from augsleep.transforms.base import (
    ChannelMixingTransform,
    SpectralTransform,
    check_magnitude,
    clamp_straight_through,
    irfft_time,
    rfft_time,
)

#: Columns of :meth:`AugmentationModule.summary` (and of :meth:`Identity.summary`).
SUMMARY_COLUMNS = (
    "layer",
    "transform",
    "weight",
    "magnitude",
    "physical_value",
    "unit",
)


class AugLayer(nn.Module):
    """Softmax-weighted mixture of differentiable transforms.

    Parameters
    ----------
    transforms : sequence of DifferentiableTransform
        The ``Q`` candidate transforms.
    temperature : float
        Softmax temperature: ``w = softmax(w_raw / temperature)``, positive and
        finite. Small values make the weights react faster to gradients (the paper
        used 0.01 on sinusoids).
    initial_weights : sequence of float | None
        Initial probabilities ``w`` (positive, summing to 1). ``None`` is uniform.
    initial_magnitudes : float | sequence of float
        Initial magnitudes ``mu`` in [0, 1]: one for all transforms, or one per
        transform.
    n_sampled_transforms : int | None
        In training mode, run only this many transforms per batch, drawn from the
        weights and importance-weighted (see the notes): an unbiased, cheaper and
        noisier estimate of the weighted sum and of its gradients. ``None``
        (default, the paper's Eq. 2) sums every transform. Evaluation is
        unchanged.

    Attributes
    ----------
    _weights : nn.Parameter, shape (n_transforms,)
        Unnormalised weights: ``w = softmax(_weights / temperature)``.
    _magnitudes : nn.Parameter, shape (n_transforms,)
        Unconstrained magnitudes, read through :attr:`magnitudes`.

    Notes
    -----
    The transforms are stateless: the layer owns the magnitudes and passes
    ``mu_q`` to ``T_q`` at every call. :attr:`magnitudes` clamps them to [0, 1]
    with a straight-through gradient (:func:`clamp_straight_through`): a value
    pushed past a bound by one optimiser step still receives the gradient that
    brings it back, instead of being stuck where ``clamp`` has zero gradient;
    training loops also project them back with :meth:`clamp_magnitudes_`. State
    dicts of the earlier layout, with one ``transforms.{q}._magnitude`` per
    transform, load into ``_magnitudes``.

    In training mode the layer returns the weighted sum ``sum_q w_q T_q(x; mu_q)``
    over the whole batch, so that every weight and magnitude receives a gradient at
    every step (the paper's Eq. 2). Transforms of the same kind share their passes
    over the data there (one FFT for the spectral transforms, one inverse FFT for
    the random filters, one matrix product for the channel maps; see
    :meth:`_weighted_sum`), which gives the same sum for less work. In evaluation
    mode each example instead draws one transform ``q ~ Categorical(w)`` and gets
    ``T_q(x; mu_q)``: a weighted sum of transformed signals is not itself a
    plausible signal, while draws from the mixture are, and the ``C`` copies that
    :class:`augsleep.models.AugNet` averages then estimate the expectation
    ``E_q[f(T_q x)]`` the layer stands for. The draws use systematic sampling: the
    number of examples of each transform is multinomial, and transform ``q`` takes
    the next ``n_q`` rows of the batch in a cyclic order that starts at a uniformly
    random row. Every example gets ``T_q`` with probability exactly ``w_q``; each
    transform runs on contiguous slices of the batch (no gather or scatter), so
    evaluation costs one transform pass per layer instead of ``Q``. As the C copies
    of a window sit ``n_windows`` rows apart, they are spread over the transforms in
    proportion to ``w`` (stratified), which lowers the variance of the average.

    With ``n_sampled_transforms = n < Q``, each training batch instead draws ``n``
    transforms ``q_1, ..., q_n`` from ``Categorical(w)`` (with replacement) and
    returns ``(1 / n) sum_k (w_{q_k} / sg(w_{q_k})) T_{q_k}(x; mu_{q_k})``, where
    ``sg`` stops the gradient. Its value is an average of ``n`` transformed
    batches (a convex combination, so no term is ever amplified), and both the
    value and its gradients with respect to every ``w_q`` and ``mu_q`` have the
    full sum's as expectation: ``q`` is drawn ``n w_q`` times on average, and each
    draw contributes ``T_q / w_q`` to the gradient of ``w_q``. A step then runs at
    most ``n`` of the ``Q`` transforms, which matters where the transforms, not
    the trunk, dominate a step (short windows, small trunks; benchmarks/README.md,
    "Fit cost"); its gradients are noisier. ``n >= Q`` gives the full sum.

    A half-precision batch (float16, bfloat16) comes out in its dtype; the
    weights, magnitudes, parameters and FFTs are float32 (see
    :mod:`augsleep.transforms.base`). A batch of 0 windows gives a batch of 0
    windows, in both modes.
    """

    def __init__(
        self,
        transforms: Sequence[DifferentiableTransform],
        temperature: float = 1.0,
        initial_weights: Sequence[float] | None = None,
        initial_magnitudes: float | Sequence[float] = 0.0,
        n_sampled_transforms: int | None = None,
    ):
        super().__init__()
        if len(transforms) == 0:
            raise ValueError("transforms must contain at least one transform.")
        for t in transforms:
            if not isinstance(t, DifferentiableTransform):
                raise TypeError(
                    "transforms must be DifferentiableTransform instances, got "
                    f"{type(t).__name__}."
                )
        self.temperature = check_finite_number(temperature, "temperature", "AugLayer")
        self.transforms = nn.ModuleList(transforms)
        if initial_weights is None:
            raw = torch.zeros(len(transforms))
        else:
            w = np.asarray(initial_weights, dtype=float)
            if w.shape != (len(transforms),) or (w <= 0).any():
                raise ValueError(
                    f"initial_weights must be {len(transforms)} positive numbers, "
                    f"got {initial_weights}."
                )
            raw = torch.as_tensor(np.log(w / w.sum()) * temperature, dtype=torch.float)
        self._weights = nn.Parameter(raw)
        self._magnitudes = nn.Parameter(
            torch.tensor(_initial_magnitudes(initial_magnitudes, len(transforms)))
        )
        self.n_sampled_transforms = check_n_sampled_transforms(n_sampled_transforms)
        self.register_load_state_dict_pre_hook(_load_per_transform_magnitudes)

    @property
    def weights(self) -> Tensor:
        """Probabilities ``w`` of the transforms, shape (n_transforms,)."""
        # The division is skipped at the default temperature: on small batches
        # every op of the training step counts (benchmarks/README.md).
        if self.temperature == 1.0:
            return torch.softmax(self._weights, dim=0)
        return torch.softmax(self._weights / self.temperature, dim=0)

    @property
    def magnitudes(self) -> Tensor:
        """Magnitudes ``mu`` in [0, 1], shape (n_transforms,), with gradients."""
        # One clamp for the whole layer, not one per transform.
        return clamp_straight_through(self._magnitudes)

    @property
    def names(self) -> list[str]:
        """Registry names of the transforms."""
        return [t.name for t in self.transforms]

    @torch.no_grad()
    def clamp_magnitudes_(self) -> None:
        """Project every magnitude back onto [0, 1] (after an optimiser step)."""
        self._magnitudes.clamp_(0.0, 1.0)

    def forward(
        self,
        X: Tensor,
        generator: torch.Generator | Sequence[torch.Generator] | None = None,
    ) -> Tensor:
        """Augment a batch.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch of EEG windows.
        generator : torch.Generator | sequence of torch.Generator | None
            Source of every random draw; ``None`` uses torch's global generator.
            A sequence of ``B`` generators splits the rows into ``B`` equal,
            consecutive blocks (``n_windows`` must be a multiple of ``B``):
            block ``b`` gets the draws that ``forward(X[block b],
            generator[b])`` would give it, whatever the other blocks, while
            each transform still runs once on all the rows it takes (see
            Notes).

        Returns
        -------
        X_aug : Tensor, shape (n_windows, n_channels, n_times)

        Notes
        -----
        With one generator per block (e.g. the C copies of one window, as
        :class:`augsleep.models.AugNet` does at prediction), evaluation mode
        draws each block's transforms and parameters from its own generator,
        block after block, then applies each transform to the rows of every
        block that took it in one call: the draws of a block do not depend on
        the others, and the cost of the transforms stays that of one batch.
        In training mode each block gets its weighted sum in turn.
        """
        check_eeg_batch(X, name="X", check_finite=False)
        # float32 for half-precision data, as the transforms' draws.
        dtype = compute_dtype(X.dtype)
        weights = self.weights.to(dtype)
        # One clamp for the whole layer, passed to each transform's draws.
        magnitudes = self.magnitudes.to(dtype).unbind()
        if generator is not None and not isinstance(generator, torch.Generator):
            return self._forward_blocks(X, weights, magnitudes, list(generator))
        if self.training:
            return self._training_sum(X, weights, magnitudes, generator)
        n = len(X)
        if n == 0:
            # No example to draw a transform for (multinomial refuses n = 0).
            return torch.empty_like(X)
        # Without autograd (prediction) each transform writes straight into its
        # rows of the output: no result to allocate and copy per slice, which on
        # a CPU costs about as much as the cheaper transforms themselves.
        direct = not torch.is_grad_enabled()
        out = torch.empty_like(X)
        for t, mu, rows in zip(
            self.transforms,
            magnitudes,
            self._draw_rows(n, weights, generator, X.device),
            strict=True,
        ):
            for a, b in rows:
                params = t.sample_parameters(X[a:b], mu, generator)
                if direct:
                    t.apply(X[a:b], params, out=out[a:b])
                else:
                    out[a:b] = t.apply(X[a:b], params)
        return out

    def _draw_rows(
        self, n: int, weights: Tensor, generator, device
    ) -> list[list[tuple[int, int]]]:
        """Draw which rows of a batch of ``n`` each transform takes.

        Systematic sampling (see the class Notes): the count of each transform
        is multinomial, and transform ``q`` takes the next ``counts[q]`` rows,
        cyclically, after a uniformly random start.

        Returns
        -------
        rows : list, one per transform, of (start, stop) row slices
            At most two slices per transform (the cyclic order wraps once).
        """
        device = generator.device if generator is not None else device
        draws = torch.multinomial(
            weights.detach().to(device), n, replacement=True, generator=generator
        )
        counts = torch.bincount(draws, minlength=len(self.transforms)).tolist()
        start = int(torch.randint(n, (1,), generator=generator, device=device))
        rows = []
        for count in counts:
            stop = start + count
            rows.append(
                [
                    (a, b)
                    for a, b in ((start, min(stop, n)), (0, max(stop - n, 0)))
                    if b > a
                ]
            )
            start = stop % n
        return rows

    def _forward_blocks(
        self,
        X: Tensor,
        weights: Tensor,
        magnitudes: Sequence[Tensor],
        generators: list[torch.Generator],
    ) -> Tensor:
        """Augment equal blocks of rows, each from its own generator.

        Each block's draws are those of :meth:`forward` on the block alone with
        its generator; in evaluation mode each transform then runs once, on the
        rows it took in every block.
        """
        n_blocks = len(generators)
        if n_blocks == 0 and len(X) == 0:
            return torch.empty_like(X)
        if n_blocks == 0 or len(X) % n_blocks:
            raise ValueError(
                f"generator must hold a number of generators that divides the "
                f"{len(X)} rows of X into equal blocks, got {n_blocks}."
            )
        size = len(X) // n_blocks
        blocks = X.split(size) if size else [X] * n_blocks
        if self.training:
            return torch.cat(
                [
                    self._training_sum(block, weights, magnitudes, gen)
                    for block, gen in zip(blocks, generators, strict=True)
                ]
            )
        if size == 0:
            return torch.empty_like(X)
        # Per transform: the rows it takes in every block, and their parameters,
        # drawn block after block (a block's draws are in forward's order).
        taken = [[] for _ in self.transforms]
        params = [[] for _ in self.transforms]
        for g, (block, gen) in enumerate(zip(blocks, generators, strict=True)):
            plan = self._draw_rows(size, weights, gen, X.device)
            for q, (t, mu, rows) in enumerate(
                zip(self.transforms, magnitudes, plan, strict=True)
            ):
                for a, b in rows:
                    # numpy ranges: a torch.arange per slice costs more.
                    taken[q].append(np.arange(g * size + a, g * size + b))
                    params[q].append(t.sample_parameters(block[a:b], mu, gen))
        out = torch.empty_like(X)
        for t, rows, p in zip(self.transforms, taken, params, strict=True):
            if rows:
                index = torch.from_numpy(np.concatenate(rows)).to(X.device)
                out.index_copy_(0, index, t.apply(X[index], torch.cat(p)))
        return out

    def _training_sum(
        self, X: Tensor, weights: Tensor, magnitudes: Sequence[Tensor], generator
    ) -> Tensor:
        """Return the training output: the weighted sum, or its sampled estimate."""
        transforms = list(self.transforms)
        n_sampled = self.n_sampled_transforms
        if n_sampled is not None and n_sampled < len(transforms):
            transforms, weights, magnitudes = _sampled_terms(
                X, transforms, weights, magnitudes, n_sampled, generator
            )
        return self._weighted_sum(X, transforms, weights, magnitudes, generator)

    @staticmethod
    def _weighted_sum(
        X: Tensor,
        transforms: Sequence[DifferentiableTransform],
        weights: Tensor,
        magnitudes: Sequence[Tensor],
        generator,
    ) -> Tensor:
        """``sum_q w_q T_q(X)`` over the whole batch (training mode).

        Linearity lets transforms of the same kind share their passes over the
        data when a layer holds two or more of them:

        - the spectral transforms share one ``F = rfft(X)``; the random filters
          among them, ``T_q(x) = x + irfft(F M_q)`` (FT surrogate, bandstop),
          also share one product and inverse FFT: ``sum_q w_q T_q(x) =
          (sum_q w_q) x + irfft(F sum_q w_q M_q)``, where the ``M_q`` are small
          (shared across channels);
        - the channel maps ``T_q(x) = x + D_q x`` (sign flip, channels
          symmetry, channels dropout, rotations) share one batched matrix
          product: ``sum_q w_q T_q(x) = (sum_q w_q) x + (sum_q w_q D_q) x``.

        The parameters are drawn in the order of the transforms either way, so
        the result equals, up to rounding, the plain sum of ``w_q T_q(X)`` with
        the same generator.
        """
        n_times = X.shape[-1]
        spectral = [isinstance(t, SpectralTransform) for t in transforms]
        fuse_filters = (
            sum(isinstance(t, SpectralTransform) and t.is_filter for t in transforms)
            > 1
        )
        fuse_maps = sum(isinstance(t, ChannelMixingTransform) for t in transforms) > 1
        spectrum = rfft_time(X) if sum(spectral) > 1 else None
        out = multiplier = filter_weight = delta = map_weight = None
        for w, mu, t, is_spectral in zip(
            weights, magnitudes, transforms, spectral, strict=True
        ):
            params = t.sample_parameters(X, mu, generator)
            if fuse_filters and is_spectral and t.is_filter:
                m = w * t.spectral_multiplier(params.to(w.dtype), n_times)
                multiplier = m if multiplier is None else multiplier + m
                filter_weight = w if filter_weight is None else filter_weight + w
                continue
            if fuse_maps and isinstance(t, ChannelMixingTransform):
                d = w * t.channel_delta(X, params)
                delta = d if delta is None else delta + d
                map_weight = w if map_weight is None else map_weight + w
                continue
            if spectrum is not None and is_spectral:
                X_q = t.apply_spectrum(X, spectrum, params)
            else:
                X_q = t.apply(X, params)
            # addcmul fuses the multiply and the add: one pass per transform.
            out = w * X_q if out is None else torch.addcmul(out, w, X_q)
        if multiplier is not None:
            X_f = irfft_time(spectrum * multiplier, n_times)
            # In float32 for half-precision data, rounded once to X's dtype.
            X_f = torch.addcmul(X_f, filter_weight, X.to(X_f.dtype)).to(X.dtype)
            out = X_f if out is None else out + X_f
        if delta is not None:
            X_m = torch.addcmul(torch.bmm(delta, X), map_weight, X)
            out = X_m if out is None else out + X_m
        return out

    def summary(self) -> pd.DataFrame:
        """Learned weights and magnitudes, one row per transform.

        Returns
        -------
        summary : DataFrame
            Columns :data:`SUMMARY_COLUMNS` (``layer`` is 0), as
            :meth:`AugmentationModule.summary`.
        """
        return pd.DataFrame(self._summary_rows(0), columns=list(SUMMARY_COLUMNS))

    def _summary_rows(self, index: int) -> list[dict]:
        """Rows of :meth:`AugmentationModule.summary` for this layer."""
        weights = self.weights.detach().cpu().tolist()
        magnitudes = self.magnitudes.detach().cpu().tolist()
        return [
            {
                "layer": index,
                "transform": t.name,
                "weight": w,
                "magnitude": mu,
                "physical_value": t.physical_value(mu),
                "unit": t.unit,
            }
            for t, w, mu in zip(self.transforms, weights, magnitudes, strict=True)
        ]

    def extra_repr(self) -> str:  # noqa: D102 (nn.Module's repr hook)
        magnitudes = ", ".join(f"{m:.3g}" for m in self.magnitudes.detach().tolist())
        extra = f"temperature={self.temperature:g}, magnitudes=[{magnitudes}]"
        if self.n_sampled_transforms is not None:
            extra += f", n_sampled_transforms={self.n_sampled_transforms}"
        return extra


def _sampled_terms(X, transforms, weights, magnitudes, n_sampled, generator):
    """Draw ``n_sampled`` terms from ``Categorical(w)``, importance-weighted.

    Returns the drawn transforms (each once, in the layer's order, as the full
    sum draws its parameters), their magnitudes, and the coefficients
    ``c_q = (k_q / n) w_q / sg(w_q)`` (``k_q`` draws of ``q``, ``sg``: no
    gradient): their values ``k_q / n`` sum to 1, their gradients are those of
    ``(k_q / n_sampled) / w_q`` times ``w_q``'s.
    """
    device = generator.device if generator is not None else X.device
    draws = torch.multinomial(
        weights.detach().to(device), n_sampled, replacement=True, generator=generator
    )
    counts = torch.bincount(draws, minlength=len(transforms)).tolist()
    chosen = [q for q, k in enumerate(counts) if k]
    drawn = weights[chosen]
    share = torch.tensor(
        [counts[q] / n_sampled for q in chosen], dtype=drawn.dtype, device=drawn.device
    )
    return (
        [transforms[q] for q in chosen],
        share * (drawn / drawn.detach()),
        [magnitudes[q] for q in chosen],
    )


def check_n_sampled_transforms(value) -> int | None:
    """``None`` or a positive integer (AugLayer's ``n_sampled_transforms``)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(
            f"n_sampled_transforms must be None or a positive integer, got {value!r}."
        )
    return int(value)


def _initial_magnitudes(value, n_transforms: int) -> list[float]:
    """One checked initial magnitude per transform, from a float or a sequence."""
    if isinstance(value, np.ndarray | Tensor):
        value = value.tolist()  # a 0-d array gives a float
    if isinstance(value, Sequence) and not isinstance(value, str):
        values = list(value)
        if len(values) != n_transforms:
            raise ValueError(
                f"initial_magnitudes must be one float or {n_transforms} floats "
                f"(one per transform), got {len(values)}."
            )
    else:
        values = [value] * n_transforms
    return [check_magnitude(v, "AugLayer initial_magnitudes") for v in values]


def _load_per_transform_magnitudes(
    module, state_dict, prefix, local_metadata, strict, missing, unexpected, errors
) -> None:
    """Map a state dict of the per-transform layout onto ``_magnitudes``.

    Before the transforms became stateless each held its own magnitude, saved
    as ``{prefix}transforms.{q}._magnitude`` (a 0-d tensor); the layer now holds
    them all in ``{prefix}_magnitudes``, shape (n_transforms,). ``state_dict`` is
    the copy that ``load_state_dict`` works on, so the caller's dict is left
    alone. A partial old layout is left as it is, for ``load_state_dict`` to
    report the missing and unexpected keys.
    """
    old = [f"{prefix}transforms.{q}._magnitude" for q in range(len(module.transforms))]
    if prefix + "_magnitudes" in state_dict or not all(k in state_dict for k in old):
        return
    state_dict[prefix + "_magnitudes"] = torch.stack(
        [state_dict.pop(k).reshape(()) for k in old]
    )


class Identity(nn.Module):
    """The augmentation that returns its input: "no augmentation" as an object.

    It has the interface of :class:`AugmentationModule` with no transform at
    all: no parameters, empty :attr:`weights` and :attr:`magnitudes`, an empty
    :meth:`summary`, a regulariser of 0 (:func:`augsleep.augment.regularization`).
    :class:`augsleep.models.AugNet` with ``Identity()`` runs its trunk once, on
    one copy: copies of an identity are identical.
    """

    #: Tells the identity from augmentations that transform their input.
    is_identity = True

    @property
    def weights(self) -> Tensor:
        """No weights: an empty tensor, shape (0,)."""
        return torch.zeros(0)

    @property
    def magnitudes(self) -> Tensor:
        """No magnitudes: an empty tensor, shape (0,)."""
        return torch.zeros(0)

    def clamp_magnitudes_(self) -> None:
        """Do nothing: there is no magnitude to project."""

    def summary(self) -> pd.DataFrame:
        """Return an empty summary.

        Returns
        -------
        summary : DataFrame
            No rows; the columns :data:`SUMMARY_COLUMNS` of
            :meth:`AugmentationModule.summary`.
        """
        return pd.DataFrame(columns=list(SUMMARY_COLUMNS))

    def state_record(self) -> dict[str, float]:
        """Return an empty record (no weight, no magnitude).

        Returns
        -------
        record : dict
            ``{}``.
        """
        return {}

    def forward(self, X: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Return the batch unchanged.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch of EEG windows.
        generator : torch.Generator | None
            Unused (no random draw), accepted as by :class:`AugmentationModule`.

        Returns
        -------
        X : Tensor, shape (n_windows, n_channels, n_times)
            ``X`` itself.
        """
        check_eeg_batch(X, name="X", check_finite=False)
        return X


class AugmentationModule(nn.Module):
    """Stack of augmentation layers applied one after the other.

    Parameters
    ----------
    layers : sequence of AugLayer
        The layers, in the order they are applied.
    """

    #: An augmentation module transforms its input (see :class:`Identity`).
    is_identity = False

    def __init__(self, layers: Sequence[AugLayer]):
        super().__init__()
        if len(layers) == 0:
            raise ValueError("layers must contain at least one AugLayer.")
        for layer in layers:
            if not isinstance(layer, AugLayer):
                raise TypeError(
                    f"layers must be AugLayer instances, got {type(layer).__name__}."
                )
        self.layers = nn.ModuleList(layers)

    @classmethod
    def from_names(
        cls,
        layers: Sequence[Sequence[str]],
        *,
        sfreq: float | None = None,
        ch_names: Sequence[str] | None = None,
        positions=None,
        magnitude: float = 0.0,
        temperature: float = 1.0,
        transform_params: dict[str, dict] | None = None,
        n_sampled_transforms: int | None = None,
    ) -> AugmentationModule:
        """Build a module from lists of transform names, one list per layer.

        Parameters
        ----------
        layers : sequence of sequence of str
            Registry names (see :data:`augsleep.transforms.TRANSFORMS`) per layer.
        sfreq : float | None
            Sampling frequency in Hz (frequency transforms need it).
        ch_names : sequence of str | None
            Channel names (channels symmetry needs them).
        positions : array-like, shape (n_channels, 3) | None
            Sensor positions (rotations need them).
        magnitude : float
            Initial magnitude of every transform, in [0, 1].
        temperature : float
            Softmax temperature of every layer.
        transform_params : dict | None
            Extra constructor parameters by transform name, e.g.
            ``{"frequency_shift": {"max_value": 2.0}}``.
        n_sampled_transforms : int | None
            Terms of each layer's training sum (see :class:`AugLayer`); ``None``
            sums all of them.

        Returns
        -------
        module : AugmentationModule
        """
        transform_params = transform_params or {}
        built = []
        for names in layers:
            if isinstance(names, str):
                raise TypeError(
                    "layers must be a list of lists of names, e.g. "
                    f"[[{names!r}]], got a string."
                )
            transforms = [
                make_transform(
                    name,
                    sfreq=sfreq,
                    ch_names=None if ch_names is None else list(ch_names),
                    positions=positions,
                    **transform_params.get(name, {}),
                )
                for name in names
            ]
            built.append(
                AugLayer(
                    transforms,
                    temperature=temperature,
                    initial_magnitudes=magnitude,
                    n_sampled_transforms=n_sampled_transforms,
                )
            )
        return cls(built)

    @property
    def weights(self) -> Tensor:
        """Weights of all layers, concatenated, shape (n_transforms_total,)."""
        return torch.cat([layer.weights for layer in self.layers])

    @property
    def magnitudes(self) -> Tensor:
        """Magnitudes of all layers, concatenated, shape (n_transforms_total,)."""
        return torch.cat([layer.magnitudes for layer in self.layers])

    @torch.no_grad()
    def clamp_magnitudes_(self) -> None:
        """Project every magnitude back onto [0, 1] (call after optimiser steps)."""
        for layer in self.layers:
            layer.clamp_magnitudes_()

    def summary(self) -> pd.DataFrame:
        """Learned weights and magnitudes, one row per transform.

        Returns
        -------
        summary : DataFrame
            Columns ``layer``, ``transform``, ``weight``, ``magnitude``,
            ``physical_value`` (``magnitude * max_value``) and ``unit``.
        """
        rows = []
        for i, layer in enumerate(self.layers):
            rows += layer._summary_rows(i)
        return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))

    def state_record(self) -> dict[str, float]:
        """Return the weights and magnitudes as a flat record (one history row).

        Returns
        -------
        record : dict
            ``{"weight/<layer>/<transform>": w, "magnitude/<layer>/<transform>": mu}``.
        """
        record = {}
        for row in self.summary().itertuples():
            record[f"weight/{row.layer}/{row.transform}"] = row.weight
            record[f"magnitude/{row.layer}/{row.transform}"] = row.magnitude
        return record

    def forward(
        self,
        X: Tensor,
        generator: torch.Generator | Sequence[torch.Generator] | None = None,
    ) -> Tensor:
        """Augment a batch through every layer.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch of EEG windows.
        generator : torch.Generator | sequence of torch.Generator | None
            Source of every random draw. A sequence gives one generator per
            block of equal, consecutive rows: each block is augmented as it
            would be alone with its generator (see :meth:`AugLayer.forward`).

        Returns
        -------
        X_aug : Tensor, shape (n_windows, n_channels, n_times)
        """
        check_eeg_batch(X, name="X", check_finite=False)
        if generator is not None and not isinstance(generator, torch.Generator):
            generator = list(generator)  # read once per layer
        for layer in self.layers:
            X = layer(X, generator)
        return X
