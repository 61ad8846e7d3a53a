"""Invariance-promoting regularisers ``R`` of the loss ``CE + lambda * R``.

Without a regulariser the magnitudes collapse to 0: the trunk fits the training
set best when its inputs are not transformed. ``R`` pushes them up:

- ``"augnet"``: ``R(w, mu) = -||w * mu||_2`` over all layers (the paper's Section
  3.4). Tying each weight to its magnitude stops a layer from cheating by giving
  all its weight to one transform with ``mu = 0``, and favours selecting the
  transform with the largest admissible magnitude.
- ``"augerino"``: ``R(mu) = -||mu||_2`` (Benton et al., 2020), the ablation.
- ``"none"``: ``R = 0``.

The regulariser of :class:`augsleep.augment.Identity` (no augmentation) is 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import torch
from torch import Tensor

from augsleep.augment.layers import AugmentationModule, Identity

REGULARIZERS = ("augnet", "augerino", "none")

#: A regularisation weight: a constant, a function of the epoch, or a piecewise
#: constant schedule ``{first_epoch: value}`` (e.g. ``{0: 0.5, 40: 0.05}``).
LambdaLike = float | Callable[[int], float] | Mapping[int, float]


def regularization(
    module: AugmentationModule | Identity, kind: str = "augnet"
) -> Tensor:
    """Compute the regulariser ``R`` of an augmentation module.

    Parameters
    ----------
    module : AugmentationModule | Identity
        Module whose weights and magnitudes are regularised (:class:`Identity`:
        no augmentation, ``R = 0``).
    kind : {"augnet", "augerino", "none"}
        Which regulariser.

    Returns
    -------
    R : Tensor, 0-d
        Value of the regulariser (non-positive), differentiable with respect to
        the weights and magnitudes.
    """
    if kind not in REGULARIZERS:
        raise ValueError(
            f"Unknown regularizer {kind!r}; expected one of {REGULARIZERS}."
        )
    if not isinstance(module, AugmentationModule | Identity):
        raise TypeError(
            "module must be an AugmentationModule or an augsleep.augment.Identity "
            f"(no augmentation), got {type(module).__name__}."
        )
    if module.is_identity or kind == "none":
        return torch.zeros(())
    if kind == "augnet":
        return -torch.linalg.vector_norm(module.weights * module.magnitudes)
    return -torch.linalg.vector_norm(module.magnitudes)


def lambda_at(lam: LambdaLike, epoch: int) -> float:
    """Value of a regularisation weight at a given epoch.

    Parameters
    ----------
    lam : float | callable | mapping
        Constant weight; function ``epoch -> weight``; or piecewise-constant
        schedule ``{first_epoch: weight}`` (the value of the largest key that is
        ``<= epoch`` applies).
    epoch : int
        Epoch index, starting at 0.

    Returns
    -------
    value : float
    """
    if isinstance(lam, Mapping):
        if not lam or min(lam) > 0:
            raise ValueError(
                f"A lambda schedule must define epoch 0, got keys {sorted(lam)}."
            )
        value = lam[max(k for k in lam if k <= epoch)]
    elif callable(lam):
        value = lam(epoch)
    else:
        value = lam
    value = float(value)
    if not math.isfinite(value) or value < 0:  # NaN fails both
        raise ValueError(
            f"lambda must be a finite number >= 0, got {value} at epoch {epoch}."
        )
    return value
