"""Augmentation of training batches only: how ADA methods use their policies.

The automatic data augmentation methods (RandAugment, AutoAugment, Fast and
Faster AutoAugment, DADA, ADDA) augment training batches with the policy they
found and predict with the trunk alone. :class:`TrainingOnly` wraps such a policy
so that :class:`augsleep.models.AugNet` runs it in training mode and is the
identity in evaluation mode (one copy, no draw), through the same fit loop as
every other method.
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import Tensor, nn

from augsleep.augment.layers import Identity


class TrainingOnly(Identity):
    """Apply a policy to training batches; pass evaluation batches unchanged.

    Parameters
    ----------
    policy : nn.Module
        Called as ``policy(X, generator)`` on a batch (n_windows, n_channels,
        n_times), e.g. a :class:`~augsleep.augment.Policy` or
        :class:`~augsleep.augment.RandAugment`; its ``summary()`` describes it.

    Notes
    -----
    :attr:`is_identity` follows the mode: ``True`` in evaluation, so that AugNet
    predicts with the trunk alone on one copy. Otherwise it is an
    :class:`~augsleep.augment.Identity` to the fit loop: no layer weights or
    magnitudes, no regulariser, nothing to project, an empty history record;
    a method that learns its policy does so in its own search phase.

    The policy's parameters are frozen (``requires_grad_(False)``, in place):
    the fit loop's optimiser must not move the policy a search found. Left
    trainable, the differentiable operations would pass the training loss's
    gradient to the magnitudes, which then shrink towards 0 (the identity, the
    easiest training batches) while the model is retrained with "the found
    policy"; the probabilities, sampled as hard gates, would stay put.
    """

    def __init__(self, policy: nn.Module):
        super().__init__()
        if not callable(getattr(policy, "summary", None)):
            raise TypeError(
                "policy must be an nn.Module with a summary() method (a Policy or "
                f"RandAugment), got {type(policy).__name__}."
            )
        self.policy = policy.requires_grad_(False)

    @property
    def uses_labels(self) -> bool:
        """Whether the policy needs the batch's labels (class-wise policies)."""
        return bool(getattr(self.policy, "uses_labels", False))

    @property
    def is_identity(self) -> bool:
        """Whether the batch passes unchanged: in evaluation mode."""
        return not self.training

    def summary(self) -> pd.DataFrame:
        """Describe the policy in the columns of ``augsleep.augment.SUMMARY_COLUMNS``.

        Returns
        -------
        summary : DataFrame
            The policy's ``summary()``.
        """
        return self.policy.summary()

    def forward(
        self, X: Tensor, generator: torch.Generator | None = None, y=None
    ) -> Tensor:
        """Augment a training batch; return an evaluation batch unchanged.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch of EEG windows.
        generator : torch.Generator | None
            Source of the policy's random draws.
        y : Tensor, shape (n_windows,) | None
            Class indices of the windows, passed to a policy that
            :attr:`uses_labels` (a class-wise policy); ignored otherwise.

        Returns
        -------
        X_aug : Tensor, shape (n_windows, n_channels, n_times)
        """
        if not self.training:
            return X
        if self.uses_labels:
            return self.policy(X, generator, y=y)
        return self.policy(X, generator)
