"""The optimiser rule shared by the estimators and the demo."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def make_optimizer(
    model: nn.Module,
    *,
    lr: float,
    betas: Sequence[float] = (0.9, 0.999),
    weight_decay: float = 0.0,
    augmentation_weight_decay: float = 0.0,
    fused: bool | None = None,
) -> torch.optim.Adam:
    """Build Adam with one parameter group for the trunk, one for the augmentation.

    Parameters
    ----------
    model : nn.Module
        Model to optimise; its ``augmentation`` attribute (an ``nn.Module`` or
        ``None``, as in :class:`augsleep.models.AugNet`) holds the augmentation
        parameters, every other parameter belongs to the trunk.
    lr : float
        Learning rate.
    betas : sequence of float
        Adam's ``(beta1, beta2)`` (integers are accepted: torch's fused Adam
        rejects a mix of int and float).
    weight_decay : float
        Weight decay (L2 penalty, as in ``torch.optim.Adam``) of the trunk.
    augmentation_weight_decay : float
        Weight decay of the augmentation parameters. 0 by default: it would pull
        the magnitudes towards 0, the identity, against the regulariser. The
        paper's sinusoid code applied the trunk's decay to every parameter
        (:func:`augsleep.demo.train_sinusoid_model` passes it).
    fused : bool | None
        Use torch's fused kernel; ``None`` uses it on CPU and CUDA. It updates
        every parameter in one call: with the ~20 small tensors of AugNet, the
        per-parameter loop of the default implementation costs several times more
        per step on the CPU (benchmarks/README.md).

    Returns
    -------
    optimizer : torch.optim.Adam
        Parameter groups: the trunk first, then the augmentation (absent when
        the model has no augmentation parameters).
    """
    augmentation = getattr(model, "augmentation", None)
    aug_params = list(augmentation.parameters()) if augmentation is not None else []
    aug_ids = {id(p) for p in aug_params}
    trunk_params = [p for p in model.parameters() if id(p) not in aug_ids]
    groups = [{"params": trunk_params, "weight_decay": weight_decay}]
    if aug_params:
        groups.append({"params": aug_params, "weight_decay": augmentation_weight_decay})
    if fused is None:
        device = next(model.parameters()).device
        fused = device.type in ("cpu", "cuda")
    return torch.optim.Adam(
        groups,
        lr=lr,
        betas=tuple(float(b) for b in betas),
        fused=fused or None,
    )
