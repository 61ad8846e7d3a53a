"""Export learned augmentation layers as braindecode transforms.

A learned :class:`augsleep.augment.AugmentationModule` is a stack of layers; at
inference each layer draws one transform ``q`` with probability ``w_q`` and applies
it at magnitude ``mu_q``. :func:`export_policy` turns every layer into a
:class:`TransformChoice` (a braindecode ``Transform`` that does the same draw)
over braindecode's own transforms, so that the learned invariances can be reused
in ordinary training, e.g. with braindecode's ``AugmentedDataLoader`` or as the
fixed ``augmentation`` of :class:`augsleep.AugNetClassifier`.

Mapping of each learned transform (physical value ``v = mu * max_value``) to
braindecode 1.8:

========================  ========================================================
learned transform          braindecode transform
========================  ========================================================
``time_reverse``           ``TimeReverse(probability=v)``
``sign_flip``              ``SignFlip(probability=v)``
``channels_symmetry``      ``ChannelsSymmetry(probability=v, ordered_ch_names)``
``channels_shuffle``       ``ChannelsShuffle(probability=1, p_shuffle=v)``
``channels_dropout``       ``ChannelsDropout(probability=1, p_drop=v)``
``gaussian_noise``         ``GaussianNoise(probability=1, std=v * noise_scale)``
``ft_surrogate``           ``FTSurrogate(probability=1, phase_noise_magnitude=v/2pi)``
``frequency_shift``        ``FrequencyShift(probability=1, max_delta_freq=v)``
``sensors_rotation_*``     ``SensorsRotation(probability=1, axis, max_degrees=v)``
``smooth_time_mask``       ``SmoothTimeMask(probability=1, mask_len_samples=v/2)``
``bandstop_filter``        ``BandstopFilter(probability=1, bandwidth=v/2)``
========================  ========================================================

Where braindecode draws its parameter within a range (frequency shift, FT
surrogate phases, rotation angles), the learned range maps onto it exactly; the
probability-valued transforms map their probability; the Gaussian noise keeps
its standard deviation (times ``noise_scale``, the data's scale). The learned
mask length and bandwidth are drawn uniformly in ``[0, v]`` per window, whereas
braindecode uses one fixed value: the export uses the mean ``v / 2``, which keeps
the average amount of signal removed. The bandstop filters also differ in kind
(an FFT-domain band removal here, MNE's FIR notch in braindecode).
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from braindecode.augmentation import (
    BandstopFilter,
    ChannelsDropout,
    ChannelsShuffle,
    ChannelsSymmetry,
    FrequencyShift,
    FTSurrogate,
    GaussianNoise,
    SensorsRotation,
    SignFlip,
    SmoothTimeMask,
    TimeReverse,
    Transform,
)
from sklearn.utils import check_random_state
from torch import nn

from augsleep.augment.layers import AugmentationModule, Identity
from augsleep.channels import electrode_label


class TransformChoice(Transform):
    """Apply to each example one transform drawn from a categorical distribution.

    The braindecode counterpart of a learned :class:`augsleep.augment.AugLayer` at
    inference: example ``i`` gets transform ``q ~ Categorical(weights)``.

    Parameters
    ----------
    transforms : list of braindecode Transform
        Candidate transforms.
    weights : array-like, shape (n_transforms,)
        Non-negative probabilities (normalised to sum to 1).
    random_state : int | RandomState | None
        Seed of the draws of ``q``.
    """

    def __init__(self, transforms, weights, random_state=None):
        super().__init__(probability=1.0, random_state=random_state)
        weights = np.asarray(weights, dtype=float)
        if len(transforms) == 0 or weights.shape != (len(transforms),):
            raise ValueError(
                f"Need one weight per transform, got {len(transforms)} transforms "
                f"and weights of shape {weights.shape}."
            )
        if (weights < 0).any() or weights.sum() <= 0:
            raise ValueError(f"weights must be non-negative, not all 0: {weights}.")
        self.transforms = nn.ModuleList(transforms)
        self.weights = weights / weights.sum()

    def forward(self, X, y=None):
        """Transform a batch.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times) or (n_channels, n_times)
            Batch (or a single example).
        y : Tensor | None
            Labels, returned unchanged.

        Returns
        -------
        X_tr : Tensor
            Transformed batch, same shape as ``X``.
        y : Tensor
            Only when ``y`` is given.
        """
        X = torch.as_tensor(X).float()
        batch = X if X.ndim == 3 else X[None]
        choice = self.rng.choice(len(self.transforms), size=len(batch), p=self.weights)
        out = batch.clone()
        for q, transform in enumerate(self.transforms):
            idx = torch.as_tensor(np.flatnonzero(choice == q), device=X.device)
            if len(idx):
                out[idx] = transform(batch[idx]).to(out.dtype)
        out = out.reshape_as(X)
        return out if y is None else (out, y)

    def extra_repr(self) -> str:  # noqa: D102
        return f"weights={np.round(self.weights, 3).tolist()}"


def _braindecode_transform(
    t, magnitude, *, sfreq, ch_names, positions, noise_scale, seed, probability=1.0
):
    """Braindecode transform equivalent to a learned transform (see module doc).

    ``magnitude`` is the learned ``mu`` of ``t``, a float in [0, 1];
    ``probability`` that of applying it at all (a policy stage's), which
    multiplies the probability-valued transforms' own.
    """
    v = t.physical_value(magnitude)
    rs = seed
    name = t.name
    p = float(probability)
    if name == "time_reverse":
        return TimeReverse(probability=p * min(v, 1.0), random_state=rs)
    if name == "sign_flip":
        return SignFlip(probability=p * min(v, 1.0), random_state=rs)
    if name == "channels_symmetry":
        return ChannelsSymmetry(
            probability=p * min(v, 1.0),
            ordered_ch_names=[electrode_label(c) for c in ch_names],
            random_state=rs,
        )
    if name == "channels_shuffle":
        return ChannelsShuffle(p, p_shuffle=min(v, 1.0), random_state=rs)
    if name == "channels_dropout":
        return ChannelsDropout(p, p_drop=min(v, 1.0), random_state=rs)
    if name == "gaussian_noise":
        return GaussianNoise(p, std=v * noise_scale, random_state=rs)
    if name == "ft_surrogate":
        return FTSurrogate(
            p,
            phase_noise_magnitude=min(v / (2 * math.pi), 1.0),
            channel_indep=bool(getattr(t, "channel_indep", False)),
            random_state=rs,
        )
    if name == "frequency_shift":
        return FrequencyShift(p, sfreq=sfreq, max_delta_freq=v, random_state=rs)
    if name.startswith("sensors_rotation"):
        matrix = torch.as_tensor(np.asarray(positions, dtype=float).T)
        return SensorsRotation(
            p,
            sensors_positions_matrix=matrix,
            axis=getattr(t, "axis", name[-1]),
            max_degrees=v,
            random_state=rs,
        )
    if name == "smooth_time_mask":
        return SmoothTimeMask(p, mask_len_samples=int(round(v / 2)), random_state=rs)
    if name == "bandstop_filter":
        import warnings

        with warnings.catch_warnings():
            # braindecode warns when max_freq falls back to Nyquist: intended.
            warnings.simplefilter("ignore", UserWarning)
            return BandstopFilter(
                p,
                sfreq=sfreq,
                bandwidth=v / 2,
                max_freq=getattr(t, "max_freq", None),
                random_state=rs,
            )
    raise ValueError(f"No braindecode equivalent for transform {name!r}.")


class TransformSequence(Transform):
    """Apply braindecode transforms one after the other (a sub-policy's stages).

    braindecode's ``Compose`` needs labels at every call; this one, like
    :class:`TransformChoice`, also takes the batch alone.

    Parameters
    ----------
    transforms : list of braindecode Transform
        Applied in order.
    """

    def __init__(self, transforms):
        super().__init__(probability=1.0)
        self.transforms = nn.ModuleList(transforms)

    def forward(self, X, y=None):
        """Transform a batch.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch.
        y : Tensor | None
            Labels, returned unchanged.

        Returns
        -------
        X_tr : Tensor
            Transformed batch.
        y : Tensor
            Only when ``y`` is given.
        """
        X = torch.as_tensor(X).float()
        for transform in self.transforms:
            X = transform(X).to(X.dtype)
        return X if y is None else (X, y)


def export_policy(
    augmentation,
    *,
    sfreq: float,
    ch_names=None,
    positions=None,
    noise_scale: float = 1.0,
    random_state=None,
) -> list[Transform]:
    """Convert learned or searched augmentation into braindecode transforms.

    Parameters
    ----------
    augmentation : AugmentationModule | Policy | RandAugment
        - learned layers (e.g. ``clf.module_.augmentation``): one
          :class:`TransformChoice` per layer, over its transforms with the
          layer's weights, each at its learned magnitude;
        - an ADA :class:`~augsleep.augment.Policy`: one :class:`TransformChoice`
          over the sub-policies (their weights), each a
          :class:`TransformSequence` of its stages; a stage is the
          :class:`TransformChoice` of its operations (one, in a discrete
          policy), each applied with the stage's probability at its magnitude;
        - :class:`~augsleep.augment.RandAugment`: ``n_ops`` uniform
          :class:`TransformChoice` over the operations at the global magnitude.
          braindecode draws them per window, RandAugment per batch: the same
          distribution for each window, not the same joint draws.
    sfreq : float
        Sampling frequency in Hz (frequency shift, bandstop filter).
    ch_names : list of str | None
        Channel names (channels symmetry).
    positions : array-like, shape (n_channels, 3) | None
        Sensor positions (rotations).
    noise_scale : float
        Factor applied to the Gaussian-noise standard deviation: 1 keeps the
        units the module was trained in; the data's standard deviation converts
        to input units.
    random_state : int | RandomState | None
        Seed of the numpy generators of the returned transforms.

    Returns
    -------
    transforms : list of braindecode Transform
        To apply in sequence (braindecode's ``AugmentedDataLoader`` composes a
        list of transforms).
    """
    from augsleep.augment.policy import Policy
    from augsleep.augment.randaugment import RandAugment

    if isinstance(augmentation, Identity):
        raise ValueError(
            "augmentation is the Identity (no augmentation): there is no learned "
            "policy to export."
        )
    rng = check_random_state(random_state)

    def convert(t, mu, probability=1.0):
        return _braindecode_transform(
            t,
            mu,
            sfreq=sfreq,
            ch_names=ch_names,
            positions=positions,
            noise_scale=noise_scale,
            seed=int(rng.randint(np.iinfo(np.int32).max)),
            probability=probability,
        )

    def choice(transforms, weights):
        seed = int(rng.randint(np.iinfo(np.int32).max))
        return TransformChoice(transforms, weights, random_state=seed)

    if isinstance(augmentation, AugmentationModule):
        return _export_layers(augmentation, convert, choice)
    if isinstance(augmentation, Policy):
        return _export_ada_policy(augmentation, convert, choice)
    if isinstance(augmentation, RandAugment):
        mu = augmentation.magnitude
        ops = [
            convert(op, mu if op.has_magnitude else 1.0)
            for op in augmentation.operations
        ]
        weights = np.full(len(ops), 1.0 / len(ops))
        # Each draw needs its own transforms: their generators advance apart.
        return [choice(copy.deepcopy(ops), weights) for _ in range(augmentation.n_ops)]
    raise TypeError(
        "augmentation must be an AugmentationModule, a Policy or RandAugment, got "
        f"{type(augmentation).__name__}."
    )


def _export_layers(augmentation: AugmentationModule, convert, choice):
    """Export learned layers: one TransformChoice per layer."""
    policy = []
    for layer in augmentation.layers:
        weights = layer.weights.detach().cpu().numpy().astype(float)
        magnitudes = layer.magnitudes.detach().cpu().tolist()
        transforms = [
            convert(t, mu) for t, mu in zip(layer.transforms, magnitudes, strict=True)
        ]
        policy.append(choice(transforms, weights))
    return policy


def _export_ada_policy(policy, convert, choice):
    """Export a policy: a choice of sub-policies, each a sequence of stages."""
    with torch.no_grad():
        op_weights = policy.op_weights.cpu().numpy().astype(float)
        probabilities = policy.probabilities.cpu().numpy()
        magnitudes = policy.magnitudes.cpu().numpy()
        sub_weights = policy.subpolicy_weights.cpu().numpy().astype(float)
    subpolicies = []
    for k in range(policy.n_subpolicies):
        stages = []
        for s in range(policy.n_stages):
            used = np.flatnonzero(op_weights[k, s] > 0)
            ops = []
            for q in used:
                op = policy.operations[q]
                mu = float(magnitudes[k, s, q]) if op.has_magnitude else 1.0
                ops.append(convert(op, mu, probability=float(probabilities[k, s, q])))
            stages.append(choice(ops, op_weights[k, s, used]))
        subpolicies.append(TransformSequence(stages))
    return [choice(subpolicies, sub_weights)]
