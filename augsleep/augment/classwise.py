"""Class-wise policies: each class augmented by a policy of its own (CADDA).

CADDA (Rommel et al. 2022) lets the augmentation depend on the label: the
windows of class ``c`` go through policy ``c``, with its own operation weights,
probabilities and magnitudes (changing the colour of a car keeps it a car,
changing that of an orange does not). :class:`ClassWisePolicy` holds one
:class:`~augsleep.augment.Policy` per class and augments a batch given its
labels; it is a training-time augmentation (labels are unknown at prediction,
where :class:`~augsleep.augment.TrainingOnly` passes windows unchanged).
:class:`ClassConditionalTransform` is its export: braindecode transforms per
class, applied to ``(X, y)`` batches as braindecode's ``AugmentedDataLoader``
calls them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from augsleep.augment.layers import SUMMARY_COLUMNS
from augsleep.augment.policy import Policy


def _check_labels(y, n: int, n_classes: int, owner: str) -> Tensor:
    if y is None:
        raise ValueError(
            f"{owner} is class-conditional: it needs the labels y of the batch "
            "(class indices), got None."
        )
    y = torch.as_tensor(y)
    if y.shape != (n,):
        raise ValueError(
            f"{owner}: y must have shape ({n},) (one label per window), got "
            f"{tuple(y.shape)}."
        )
    if y.dtype.is_floating_point or y.dtype == torch.bool:
        raise ValueError(
            f"{owner}: y must hold class indices (integers), got {y.dtype}."
        )
    if n and (int(y.min()) < 0 or int(y.max()) >= n_classes):
        raise ValueError(
            f"{owner}: y must hold class indices in [0, {n_classes - 1}], got values "
            f"in [{int(y.min())}, {int(y.max())}]."
        )
    return y


class ClassWisePolicy(nn.Module):
    """One policy per class; window ``i`` is augmented by policy ``y_i``.

    Parameters
    ----------
    policies : sequence of Policy
        Policy of class index ``c`` (0, 1, ..., the order of the estimator's
        ``classes_``), each with the same operations, ``K`` and ``N``.

    Notes
    -----
    :meth:`forward` runs every class's policy on that class's windows (in its
    mode: sampled, or relaxed in training mode during a search), drawing from
    the one generator class after class in index order. The class-wise
    policies' own parameters stay separate, so gradients of one class's
    windows reach only that class's policy.
    """

    #: The batch's labels are needed (:class:`~augsleep.augment.TrainingOnly`
    #: and :class:`~augsleep.models.AugNet` pass them in training).
    uses_labels = True

    def __init__(self, policies: Sequence[Policy]):
        super().__init__()
        policies = list(policies)
        if not policies:
            raise ValueError("policies must hold one Policy per class, got none.")
        for p in policies:
            if not isinstance(p, Policy):
                raise TypeError(
                    f"policies must be Policy objects, got {type(p).__name__}."
                )
        shapes = {(p.n_subpolicies, p.n_stages, tuple(p.names)) for p in policies}
        if len(shapes) != 1:
            raise ValueError(
                "Every class's policy must have the same sub-policies, stages and "
                f"operations, got {sorted(shapes)}."
            )
        self.policies = nn.ModuleList(policies)

    @classmethod
    def from_choices(cls, operations, choices, **kwargs) -> ClassWisePolicy:
        """Build discrete class-wise policies (:meth:`Policy.from_choices` each).

        Parameters
        ----------
        operations : sequence of DifferentiableTransform
            Candidate operations.
        choices : sequence of choices
            Per class index, the :meth:`Policy.from_choices` form of its policy.
        **kwargs
            Other parameters of :class:`~augsleep.augment.Policy`.

        Returns
        -------
        policy : ClassWisePolicy
        """
        return cls([Policy.from_choices(operations, c, **kwargs) for c in choices])

    @property
    def n_classes(self) -> int:
        """Number of classes (policies)."""
        return len(self.policies)

    @torch.no_grad()
    def clamp_magnitudes_(self) -> None:
        """Project every policy's probabilities and magnitudes onto [0, 1]."""
        for p in self.policies:
            p.clamp_magnitudes_()

    def forward(
        self, X: Tensor, generator: torch.Generator | None = None, y=None
    ) -> Tensor:
        """Augment each window with its class's policy.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch of EEG windows.
        generator : torch.Generator | None
            Source of every random draw.
        y : Tensor, shape (n_windows,)
            Class indices of the windows (required).

        Returns
        -------
        X_aug : Tensor, shape (n_windows, n_channels, n_times)
        """
        y = _check_labels(y, len(X), self.n_classes, type(self).__name__)
        y = y.to(X.device)
        out = X
        for c in torch.unique(y).tolist():
            rows = torch.nonzero(y == c).squeeze(1)
            out = out.index_copy(0, rows, self.policies[c](X[rows], generator))
        return out

    def choices(self) -> list:
        """Return every class's :meth:`Policy.choices`, by class index."""
        return [p.choices() for p in self.policies]

    def to_frame(self, all_operations: bool = False) -> pd.DataFrame:
        """Describe every class's policy (:meth:`Policy.to_frame`), with ``class``.

        Parameters
        ----------
        all_operations : bool
            See :meth:`Policy.to_frame`.

        Returns
        -------
        frame : DataFrame
            ``class`` (index), then the columns of
            :data:`augsleep.augment.POLICY_COLUMNS`.
        """
        frames = []
        for c, p in enumerate(self.policies):
            frame = p.to_frame(all_operations)
            frame.insert(0, "class", c)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def summary(self) -> pd.DataFrame:
        """Describe the policies in the columns of the estimators' summaries.

        Returns
        -------
        summary : DataFrame
            Columns of :data:`augsleep.augment.SUMMARY_COLUMNS`: every class's
            :meth:`Policy.summary`, class after class, with ``layer`` numbering
            the stages of all classes in turn (``class * n_stages + stage``) and
            ``weight`` the probability that a window *of that class* gets the
            operation at that stage.
        """
        frames = []
        for c, p in enumerate(self.policies):
            frame = p.summary()
            frame["layer"] = c * p.n_stages + frame["layer"]
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)[list(SUMMARY_COLUMNS)]

    def extra_repr(self) -> str:  # noqa: D102 (nn.Module's repr hook)
        return f"n_classes={self.n_classes}"


class ClassConditionalTransform(nn.Module):
    """Exported class-wise policy: braindecode transforms chosen by the label.

    Parameters
    ----------
    transforms : mapping of int to list of braindecode Transform
        For every class index, the transforms applied in sequence to that
        class's windows (e.g. :func:`augsleep.augment.export_policy` of its
        policy).

    Notes
    -----
    Called as braindecode's ``AugmentedDataLoader`` calls its transforms,
    ``X, y = transform(X, y)`` with integer class indices ``y`` (the order of
    the estimator's ``classes_``); windows of a class without transforms pass
    unchanged. A training-time augmentation: without labels it refuses to
    guess.
    """

    uses_labels = True

    def __init__(self, transforms: Mapping[int, Sequence[nn.Module]]):
        super().__init__()
        self.classes = sorted(int(c) for c in transforms)
        self.transforms = nn.ModuleDict(
            {str(c): nn.ModuleList(transforms[c]) for c in self.classes}
        )

    def forward(self, X: Tensor, y=None):
        """Augment every window with its class's transforms.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch.
        y : Tensor | ndarray, shape (n_windows,)
            Class indices (required).

        Returns
        -------
        X_aug : Tensor, shape (n_windows, n_channels, n_times)
        y : Tensor
            The labels, unchanged (braindecode's convention).
        """
        n_classes = max(self.classes) + 1 if self.classes else 0
        y_t = _check_labels(
            y if not isinstance(y, np.ndarray) else torch.from_numpy(y),
            len(X),
            n_classes,
            type(self).__name__,
        )
        out = X.clone()
        for c in torch.unique(y_t).tolist():
            if str(c) not in self.transforms:
                continue
            rows = torch.nonzero(y_t == c).squeeze(1).to(X.device)
            X_c = X[rows]
            for transform in self.transforms[str(c)]:
                X_c = transform(X_c).to(X.dtype)
            out[rows] = X_c
        return out, y
