"""AugNet: augment C copies, forward them through a trunk, average the predictions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral

import torch
from torch import Tensor, nn

from augsleep._validation import check_eeg_batch
from augsleep.augment.layers import AugmentationModule, Identity
from augsleep.augment.training_only import TrainingOnly


def _check_n_copies(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
    return int(value)


class AugNet(nn.Module):
    """Augmentation module -> trunk -> average of the predictions of C copies.

    Parameters
    ----------
    trunk : nn.Module
        Network mapping (n_windows, n_channels, n_times) to logits
        (n_windows, n_classes), e.g. braindecode's ``SleepStagerChambon2018``.
    augmentation : AugmentationModule | Identity | TrainingOnly | None
        Learnable augmentation; :class:`~augsleep.augment.Identity` gives the
        trunk alone (no augmentation, one copy whatever C: copies of the identity
        are identical), trained and evaluated through the same code. ``None``
        means ``Identity()``. A :class:`~augsleep.augment.TrainingOnly` policy
        (the ADA methods) augments training batches and is the identity in
        evaluation.
    n_copies_train : int
        Number of augmented copies C in training mode (the paper uses 1).
    n_copies_eval : int
        Number of copies C in evaluation mode (the paper uses 20 on sleep data).
    max_windows_per_forward : int | None
        If set, in evaluation mode the trunk processes the ``C * n_windows``
        augmented windows in chunks of at most this many windows, which bounds
        its activation memory for large C. On a CPU, chunks of a few tens of
        windows are also faster than one large batch, as the trunk's activations
        then stay in the caches (benchmarks/README.md). The augmentation still
        runs once on all copies, with the same random draws, so the output does
        not depend on the chunk size (up to rounding). In training mode the trunk
        sees the whole batch: chunks would save no memory there (the backward
        pass keeps every activation) and would change batch-normalisation
        statistics.

    Notes
    -----
    The output is the **log of the averaged probabilities**,
    ``log(1/C sum_c softmax(f(g_c x)))``, computed stably with ``logsumexp``. The
    paper's averaged model is ``1/C sum_c f(g_c x)`` with ``f`` giving class
    probabilities: averaging probabilities gives the predictive distribution of the
    mixture over transformations (it sums to 1 and an overconfident copy cannot
    dominate), whereas averaging log-probabilities would be a geometric mean that
    must be renormalised. Returning log-probabilities lets the output go straight
    into ``nn.NLLLoss``; with one copy it equals ``log_softmax(f(g x))``, so the
    loss is the usual cross-entropy. ``softmax`` of the output gives back the
    averaged probabilities, so the output also serves as pre-softmax activations
    (e.g. for :func:`augsleep.invariance.invariance_score`).
    """

    def __init__(
        self,
        trunk: nn.Module,
        augmentation: AugmentationModule | Identity | TrainingOnly | None,
        n_copies_train: int = 1,
        n_copies_eval: int = 20,
        max_windows_per_forward: int | None = None,
    ):
        super().__init__()
        if augmentation is None:
            augmentation = Identity()
        if not isinstance(augmentation, AugmentationModule | Identity | TrainingOnly):
            kind = type(augmentation)
            raise TypeError(
                "augmentation must be an AugmentationModule, an "
                "augsleep.augment.Identity, a TrainingOnly policy or None (no "
                "augmentation), got "
                f"{kind.__module__}.{kind.__qualname__}."
            )
        self.trunk = trunk
        self.augmentation = augmentation
        self.n_copies_train = _check_n_copies(n_copies_train, "n_copies_train")
        self.n_copies_eval = _check_n_copies(n_copies_eval, "n_copies_eval")
        if max_windows_per_forward is not None:
            _check_n_copies(max_windows_per_forward, "max_windows_per_forward")
        self.max_windows_per_forward = max_windows_per_forward

    @property
    def uses_labels(self) -> bool:
        """Whether the augmentation needs the batch's labels in training.

        True for a class-wise policy (CADDA): the fit loop then passes ``y``.
        """
        return bool(getattr(self.augmentation, "uses_labels", False))

    def forward(
        self,
        X: Tensor,
        generator: torch.Generator | Sequence[torch.Generator] | None = None,
        n_copies: int | None = None,
        y: Tensor | None = None,
    ) -> Tensor:
        """Predict log-probabilities averaged over C augmented copies.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch of EEG windows (finite values).
        generator : torch.Generator | sequence of torch.Generator | None
            Source of every augmentation draw; ``None`` uses torch's global one.
            A sequence gives one generator per window: window ``i``'s copies are
            augmented on their own, with ``generator[i]`` alone, so that its
            prediction does not depend on the other windows of the batch
            (:func:`augsleep.training.predict_log_proba` seeds them per window).
            The trunk still runs on the whole batch of copies.
        n_copies : int | None
            Number of copies; defaults to ``n_copies_train`` in training mode and
            ``n_copies_eval`` in evaluation mode.
        y : Tensor, shape (n_windows,) | None
            Class indices, passed (repeated for the copies) to an augmentation
            that :attr:`uses_labels`; ignored otherwise.

        Returns
        -------
        log_proba : Tensor, shape (n_windows, n_classes)
            ``log`` of the probabilities averaged over the copies.
        """
        check_eeg_batch(X, name="X")
        if self.augmentation.is_identity:
            return torch.log_softmax(self._trunk_logits(X), dim=-1)
        if n_copies is None:
            n_copies = self.n_copies_train if self.training else self.n_copies_eval
        n_copies = _check_n_copies(n_copies, "n_copies")

        if generator is not None and not isinstance(generator, torch.Generator):
            return self._forward_per_window(X, list(generator), n_copies)
        # The layers never write to their input: one copy needs no repeat.
        copies = X if n_copies == 1 else X.repeat(n_copies, 1, 1)
        if self.uses_labels:
            y_copies = y if y is None or n_copies == 1 else y.repeat(n_copies)
            augmented = self.augmentation(copies, generator, y=y_copies)
        else:
            augmented = self.augmentation(copies, generator)
        # Copy c of window i is row c * n_windows + i.
        log_p = torch.log_softmax(self._trunk_logits(augmented), dim=-1)
        if n_copies == 1:  # training's default: the average is the one copy
            return log_p
        # The class count from the logits: -1 cannot be inferred for 0 windows.
        log_p = log_p.view(n_copies, len(X), log_p.shape[-1])
        return torch.logsumexp(log_p, dim=0) - math.log(n_copies)

    def _forward_per_window(
        self, X: Tensor, generators: list[torch.Generator], n_copies: int
    ) -> Tensor:
        """:meth:`forward` with each window's copies drawn from its own generator."""
        if len(generators) != len(X):
            raise ValueError(
                f"generator must be one generator per window: got {len(generators)} "
                f"generators for {len(X)} windows."
            )
        # Window-major: the copies of window i are rows i * C to i * C + C - 1, a
        # block that the augmentation draws from generators[i] alone.
        copies = X if n_copies == 1 else X.repeat_interleave(n_copies, dim=0)
        augmented = self.augmentation(copies, generators)
        log_p = torch.log_softmax(self._trunk_logits(augmented), dim=-1)
        log_p = log_p.view(len(X), n_copies, log_p.shape[-1])
        return torch.logsumexp(log_p, dim=1) - math.log(n_copies)

    def _trunk_logits(self, X: Tensor) -> Tensor:
        """Run the trunk on ``X``, in chunks of rows in evaluation mode."""
        chunk = self.max_windows_per_forward
        if self.training or chunk is None or len(X) <= chunk:
            return self.trunk(X)
        return torch.cat([self.trunk(part) for part in X.split(chunk)])

    @torch.no_grad()
    def clamp_magnitudes_(self) -> None:
        """Project the augmentation magnitudes onto [0, 1] (after optimiser steps)."""
        self.augmentation.clamp_magnitudes_()
