"""RandAugment (Cubuk et al. 2020): N random operations at one global magnitude.

RandAugment replaces a learned policy by two numbers: for every batch, ``N``
operations are drawn uniformly (with replacement, as in the original) from the
candidates and applied one after the other, all at the same magnitude ``M``.
``(N, M)`` are then chosen by a small grid search on validation data
(:class:`augsleep.methods.RandAugmentClassifier`).
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from augsleep._validation import check_eeg_batch
from augsleep.augment.layers import SUMMARY_COLUMNS
from augsleep.transforms import DifferentiableTransform


class RandAugment(nn.Module):
    """Apply ``n_ops`` operations drawn uniformly per batch, all at one magnitude.

    Parameters
    ----------
    operations : sequence of DifferentiableTransform
        Candidate operations (e.g. :func:`augsleep.augment.make_operations`).
    n_ops : int
        ``N``, operations applied to every batch (>= 1).
    magnitude : float
        ``M`` in [0, 1], the magnitude of every operation. Operations without a
        magnitude of their own (``has_magnitude`` False: time reverse, sign flip,
        channels symmetry) are applied fully, as in the original, where every
        drawn operation is applied.

    Notes
    -----
    The draws are per batch, not per window: the whole batch gets the same
    ``N`` operations (each with its own random parameters per window, e.g. one
    frequency shift per window). It has no learnable parameter.
    """

    def __init__(
        self,
        operations: Sequence[DifferentiableTransform],
        n_ops: int = 2,
        magnitude: float = 0.5,
    ):
        super().__init__()
        operations = list(operations)
        if not operations:
            raise ValueError("operations must contain at least one operation.")
        for op in operations:
            if not isinstance(op, DifferentiableTransform):
                raise TypeError(
                    "operations must be DifferentiableTransform instances, got "
                    f"{type(op).__name__}."
                )
        if isinstance(n_ops, bool) or not isinstance(n_ops, Integral) or n_ops < 1:
            raise ValueError(f"n_ops must be an integer >= 1, got {n_ops!r}.")
        if not isinstance(magnitude, Real) or not 0 <= magnitude <= 1:
            raise ValueError(f"magnitude must lie in [0, 1], got {magnitude!r}.")
        self.operations = nn.ModuleList(operations)
        self.n_ops = int(n_ops)
        self.magnitude = float(magnitude)

    @property
    def names(self) -> list[str]:
        """Registry names of the candidate operations."""
        return [op.name for op in self.operations]

    def forward(self, X: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Augment a batch with ``n_ops`` uniformly drawn operations.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch of EEG windows.
        generator : torch.Generator | None
            Source of every random draw; ``None`` uses torch's global generator.

        Returns
        -------
        X_aug : Tensor, shape (n_windows, n_channels, n_times)
        """
        check_eeg_batch(X, name="X", check_finite=False)
        device = generator.device if generator is not None else X.device
        drawn = torch.randint(
            len(self.operations), (self.n_ops,), generator=generator, device=device
        )
        for q in drawn.tolist():
            op = self.operations[q]
            X = op(X, self.magnitude if op.has_magnitude else 1.0, generator)
        return X

    def to_frame(self) -> pd.DataFrame:
        """Describe the candidates, one row each, with the chance of being applied.

        Returns
        -------
        frame : DataFrame
            Columns ``transform``, ``weight`` (probability that a given draw is
            this operation, ``1 / Q``), ``probability`` (that a batch gets it at
            least once, ``1 - (1 - 1/Q)^N``), ``magnitude``, ``physical_value``
            and ``unit`` (NaN and empty for operations without a magnitude).
        """
        q = len(self.operations)
        rows = []
        for op in self.operations:
            rows.append(
                {
                    "transform": op.name,
                    "weight": 1.0 / q,
                    "probability": 1.0 - (1.0 - 1.0 / q) ** self.n_ops,
                    "magnitude": self.magnitude if op.has_magnitude else np.nan,
                    "physical_value": (
                        op.physical_value(self.magnitude)
                        if op.has_magnitude
                        else np.nan
                    ),
                    "unit": op.unit if op.has_magnitude else "",
                }
            )
        return pd.DataFrame(rows)

    def summary(self) -> pd.DataFrame:
        """Describe RandAugment in the columns of the estimators' summaries.

        Returns
        -------
        summary : DataFrame
            Columns of :data:`augsleep.augment.SUMMARY_COLUMNS`, one row per
            operation (``layer`` 0): ``weight`` is the probability that a batch
            gets it at least once, then ``magnitude``, ``physical_value`` and
            ``unit``.
        """
        frame = self.to_frame()
        frame.insert(0, "layer", 0)
        frame["weight"] = frame.pop("probability")
        return frame[list(SUMMARY_COLUMNS)]

    def extra_repr(self) -> str:  # noqa: D102 (nn.Module's repr hook)
        return f"n_ops={self.n_ops}, magnitude={self.magnitude:g}"
