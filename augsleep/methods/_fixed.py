"""Fixed (non-learnable) braindecode transforms in front of a trunk."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from torch import Tensor, nn

from augsleep.augment.layers import SUMMARY_COLUMNS as _COLUMNS

#: Columns of every estimator's ``augmentation_summary_`` (those of the layers').
SUMMARY_COLUMNS = list(_COLUMNS)

# braindecode class -> (augsleep name, strength attribute, factor, unit). The
# strength is reported in the units of augsleep's transforms of the same name.
_STRENGTHS = {
    "TimeReverse": ("time_reverse", None, 1.0, ""),
    "SignFlip": ("sign_flip", None, 1.0, ""),
    "ChannelsSymmetry": ("channels_symmetry", None, 1.0, ""),
    "FTSurrogate": ("ft_surrogate", "phase_noise_magnitude", 2 * math.pi, "rad"),
    "FrequencyShift": ("frequency_shift", "max_delta_freq", 1.0, "Hz"),
    "GaussianNoise": ("gaussian_noise", "std", 1.0, "std"),
    "SmoothTimeMask": ("smooth_time_mask", "mask_len_samples", 1.0, "samples"),
    "BandstopFilter": ("bandstop_filter", "bandwidth", 1.0, "Hz"),
    "ChannelsDropout": ("channels_dropout", "p_drop", 1.0, "probability"),
    "ChannelsShuffle": ("channels_shuffle", "p_shuffle", 1.0, "probability"),
    "SensorsRotation": ("sensors_rotation", "max_degrees", 1.0, "degrees"),
}


def is_braindecode_transform(obj) -> bool:
    """Return whether ``obj`` is a braindecode ``Transform``."""
    from braindecode.augmentation import Transform

    return isinstance(obj, Transform)


class FixedAugmentationTrunk(nn.Module):
    """Trunk preceded by fixed (non-learnable) transforms in training mode only.

    Braindecode's ``Transform`` draws from its own numpy generator, which
    :func:`reseed_transforms` reseeds from the estimator's ``random_state``.

    Parameters
    ----------
    trunk : nn.Module
        Network mapping (n_windows, n_channels, n_times) to logits.
    transforms : sequence of braindecode Transform
        Applied in order to training batches.
    """

    def __init__(self, trunk: nn.Module, transforms: Sequence[nn.Module]):
        super().__init__()
        self.trunk = trunk
        self.transforms = nn.ModuleList(transforms)

    def forward(self, X: Tensor) -> Tensor:
        """Transform ``X`` (training mode only), then run the trunk.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch.

        Returns
        -------
        logits : Tensor, shape (n_windows, n_classes)
        """
        if self.training:
            for transform in self.transforms:
                # Without y, braindecode transforms return X only.
                X = transform(X).to(X.dtype)
        return self.trunk(X)


def reseed_transforms(transforms: Sequence[nn.Module], seed: int) -> None:
    """Give every numpy generator (``rng``) of the transforms a seed drawn from seed.

    Parameters
    ----------
    transforms : sequence of nn.Module
        Transforms, searched recursively (e.g. the candidates of a
        :class:`augsleep.augment.TransformChoice`).
    seed : int
        Seed of the seeds.
    """
    rng = np.random.RandomState(seed)
    for sub in nn.ModuleList(transforms).modules():
        if hasattr(sub, "rng"):
            sub.rng = np.random.RandomState(rng.randint(np.iinfo(np.int32).max))


def _rows(transform, layer: int, weight: float) -> list[dict]:
    weight = weight * float(getattr(transform, "probability", 1.0))
    choices = getattr(transform, "transforms", None)
    if choices is not None and hasattr(transform, "weights"):
        # A TransformChoice: one row per candidate, weighted by its probability.
        return [
            row
            for candidate, w in zip(choices, transform.weights, strict=True)
            for row in _rows(candidate, layer, weight * float(w))
        ]
    kind = type(transform).__name__
    name, attribute, factor, unit = _STRENGTHS.get(kind, (kind, None, 1.0, ""))
    if kind == "SensorsRotation":
        name = f"sensors_rotation_{transform.axis}"
    value = math.nan
    if attribute is not None:
        value = factor * float(getattr(transform, attribute))
    return [
        {
            "layer": layer,
            "transform": name,
            "weight": weight,
            "magnitude": math.nan,
            "physical_value": value,
            "unit": unit,
        }
    ]


def describe_transforms(transforms: Sequence[nn.Module]) -> pd.DataFrame:
    """Summarise fixed transforms in the columns of :data:`SUMMARY_COLUMNS`.

    Parameters
    ----------
    transforms : sequence of braindecode Transform
        Transforms applied in order (``layer`` is the position).

    Returns
    -------
    summary : DataFrame
        One row per transform (per candidate of a ``TransformChoice``):
        ``weight`` is the probability that a window gets it, ``magnitude`` is NaN
        (nothing maps onto [0, 1]), ``physical_value`` its strength (NaN for
        transforms that have none, e.g. time reverse) in ``unit``.
    """
    rows = [row for i, t in enumerate(transforms) for row in _rows(t, i, 1.0)]
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
