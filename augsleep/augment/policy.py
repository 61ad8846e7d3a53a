"""Augmentation policies of the automatic data augmentation (ADA) methods.

A policy (Cubuk et al. 2019, AutoAugment) is ``K`` sub-policies of ``N`` stages.
Each window draws one sub-policy, then goes through its stages in order; stage
``(k, s)`` applies one operation ``T_q`` with probability ``p`` at magnitude
``mu``. The paper's sleep experiment shares one architecture between AutoAugment,
Fast AutoAugment, Faster AutoAugment, DADA and ADDA: 5 sub-policies of 2 stages over
the 13 operations of Table A.4.

:class:`Policy` stores, for every stage, a distribution over the ``Q`` operations
and a probability and magnitude per operation, shape (K, N, Q), plus weights over
the sub-policies, shape (K,). A discrete policy (AutoAugment, Fast AutoAugment)
puts all of a stage's weight on one operation (:meth:`Policy.from_choices`); the
gradient-based methods learn the weights. All of them are sampled the same way
(``mode="sample"``), so a policy found by any method is applied by the same code.

The gradient-based searches train a policy in a relaxed mode (``"relaxed"``:
Faster AutoAugment; ``"gumbel"``: DADA), where a training-mode policy is
differentiable in all its parameters (see :class:`Policy`); in evaluation mode
(``policy.eval()``) a relaxed policy samples as ``"sample"`` does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from augsleep._validation import check_eeg_batch, check_finite_number
from augsleep.augment.layers import SUMMARY_COLUMNS
from augsleep.augment.relaxation import gumbel_softmax, relaxed_bernoulli
from augsleep.transforms import DifferentiableTransform
from augsleep.transforms._sampling import compute_dtype
from augsleep.transforms.base import clamp_straight_through

#: Columns of :meth:`Policy.to_frame`.
POLICY_COLUMNS = (
    "subpolicy",
    "stage",
    "transform",
    "weight",
    "probability",
    "magnitude",
    "physical_value",
    "unit",
)
#: How a policy augments a batch: ``"sample"`` draws a sub-policy, an operation
#: and a hard Bernoulli gate per window (every method applies its policy so);
#: ``"relaxed"`` (Faster AutoAugment) and ``"gumbel"`` (DADA) are differentiable
#: in training mode and sample in evaluation mode (see :class:`Policy`).
MODES = ("sample", "relaxed", "gumbel")


def _check_unit_interval(values: Tensor, name: str) -> None:
    if not torch.isfinite(values).all() or (values < 0).any() or (values > 1).any():
        raise ValueError(f"{name} must lie in [0, 1], got {values.tolist()}.")


class Policy(nn.Module):
    """``K`` sub-policies of ``N`` stages over ``Q`` differentiable operations.

    Parameters
    ----------
    operations : sequence of DifferentiableTransform
        The ``Q`` candidate operations (e.g. from
        :func:`augsleep.augment.make_operations`), each used at the magnitude its
        stage gives it.
    n_subpolicies : int
        ``K`` (paper: 5).
    n_stages : int
        ``N``, operations per sub-policy (paper: 2).
    probability : float | array-like, shape (K, N, Q)
        Initial probability of applying each operation at each stage.
    magnitude : float | array-like, shape (K, N, Q)
        Initial magnitude of each operation at each stage, in [0, 1].
    op_weights : array-like, shape (K, N, Q) | None
        Initial probabilities of the operations at each stage (non-negative,
        each (k, s) row summing to a positive number; zeros exclude an
        operation). ``None`` is uniform.
    subpolicy_weights : array-like, shape (K,) | None
        Initial probabilities of the sub-policies; ``None`` is uniform.
    temperature : float
        Softmax temperature of the operation and sub-policy weights, positive and
        finite (Faster AutoAugment: 0.05).
    mode : {"sample", "relaxed", "gumbel"}
        How :meth:`forward` augments (see :data:`MODES` and the notes).
    gate_temperature : float
        Temperature of the relaxed Bernoulli gates of the relaxed modes,
        positive and finite (Faster AutoAugment's operations: 0.1).
    n_chunks : int
        Number of chunks of the batch that each get one sub-policy in the
        relaxed modes (Faster AutoAugment's search: 8; DADA draws one
        sub-policy per batch: 1).

    Notes
    -----
    Weights are stored as logits (``log w * temperature``, ``-inf`` for a zero
    weight) and probabilities and magnitudes as unconstrained values read through
    a straight-through clamp onto [0, 1], as in :class:`augsleep.augment.AugLayer`:
    a method that learns them (Faster AutoAugment, DADA, ADDA) gets gradients,
    one that does not simply never steps them.

    In ``"sample"`` mode each window ``i`` draws a sub-policy
    ``k_i ~ Categorical(subpolicy_weights)``; then, stage after stage, an
    operation ``q ~ Categorical(op_weights[k_i, s])`` and a hard gate
    ``b ~ Bernoulli(probability[k_i, s, q])``; gated windows get
    ``T_q(x; magnitude[k_i, s, q])``, the others pass unchanged. Operations
    without a magnitude of their own (time reverse, sign flip, channels symmetry:
    ``has_magnitude`` is False) are applied fully (``mu = 1``) when gated: their
    stage's probability is all there is to them. Windows that share a
    sub-policy and an operation are transformed together, so a stage costs at
    most ``K`` transform calls, whatever the batch size.

    The relaxed modes are differentiable in training mode (``policy.train()``,
    the default of a module) and sample as ``"sample"`` in evaluation mode
    (``policy.eval()``). In training mode the batch is cut into ``n_chunks``
    consecutive chunks and each chunk gets one sub-policy ``k``:

    - ``"relaxed"`` (Faster AutoAugment, Hataya et al. 2020): ``k`` uniform,
      whatever the sub-policy weights (which then get no gradient);
    - ``"gumbel"`` (DADA, Li et al. 2020): a hard Gumbel-softmax draw of the
      sub-policy logits (at ``temperature``), one-hot in value with the
      straight-through gradient of the relaxed draw: the chunk's output is
      ``w_k * S_k(x)`` with ``w_k = 1`` in value, so the logits get the gradient
      of the selected sub-policy's output (as GDAS and DADA's Gumbel variant;
      the other sub-policies are not computed).

    A stage then returns the softmax-weighted sum of its operations, each gated
    by a relaxed Bernoulli draw ``g_q`` of its probability (binary concrete at
    ``gate_temperature``, one per window and operation) and applied at its
    magnitude: ``x + sum_q w_q g_q (T_q(x; mu_q) - x)``. Probabilities,
    magnitudes and operation weights get gradients (and, in ``"gumbel"`` mode,
    the sub-policy logits); a zero probability gives exactly 0 gates, and
    operations of zero weight are not computed. :meth:`apply_relaxed` does
    the same for sub-policy weights and gates given by the caller (e.g. the
    hard draws of RELAX, :mod:`augsleep.augment.relaxation`). Every draw
    (sub-policies, Gumbel noise, gates, the operations' own parameters) comes
    from the generator given to :meth:`forward`.
    """

    def __init__(
        self,
        operations: Sequence[DifferentiableTransform],
        n_subpolicies: int = 5,
        n_stages: int = 2,
        *,
        probability=0.5,
        magnitude=0.5,
        op_weights=None,
        subpolicy_weights=None,
        temperature: float = 1.0,
        mode: str = "sample",
        gate_temperature: float = 0.1,
        n_chunks: int = 8,
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
        for name, value in (
            ("n_subpolicies", n_subpolicies),
            ("n_stages", n_stages),
            ("n_chunks", n_chunks),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
        temperature = check_finite_number(temperature, "temperature", "Policy")
        gate_temperature = check_finite_number(
            gate_temperature, "gate_temperature", "Policy"
        )
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
        self.operations = nn.ModuleList(operations)
        self.temperature = float(temperature)
        self.mode = mode
        self.gate_temperature = float(gate_temperature)
        self.n_chunks = n_chunks
        shape = (n_subpolicies, n_stages, len(operations))
        self._probabilities = nn.Parameter(
            self._unit_tensor(probability, shape, "probability")
        )
        self._magnitudes = nn.Parameter(
            self._unit_tensor(magnitude, shape, "magnitude")
        )
        self._op_logits = nn.Parameter(self._logits(op_weights, shape, "op_weights"))
        self._subpolicy_logits = nn.Parameter(
            self._logits(subpolicy_weights, shape[:1], "subpolicy_weights")
        )

    # ----------------------------------------------------------- building
    @staticmethod
    def _unit_tensor(value, shape, name) -> Tensor:
        t = torch.as_tensor(np.asarray(value, dtype=float), dtype=torch.float32)
        try:
            t = t.expand(shape).clone()
        except RuntimeError as err:
            raise ValueError(
                f"{name} must be a number or an array of shape {shape}, got shape "
                f"{tuple(t.shape)}."
            ) from err
        _check_unit_interval(t, name)
        return t

    def _logits(self, weights, shape, name) -> Tensor:
        if weights is None:
            return torch.zeros(shape)
        w = np.asarray(weights, dtype=float)
        if w.shape != shape:
            raise ValueError(f"{name} must have shape {shape}, got {w.shape}.")
        if not np.isfinite(w).all() or (w < 0).any():
            raise ValueError(f"{name} must be finite and non-negative.")
        total = w.sum(axis=-1, keepdims=True)
        if (total <= 0).any():
            raise ValueError(f"Every row of {name} needs a positive weight.")
        with np.errstate(divide="ignore"):
            logits = np.log(w / total) * self.temperature
        return torch.as_tensor(logits, dtype=torch.float32)

    @classmethod
    def from_choices(
        cls,
        operations: Sequence[DifferentiableTransform],
        choices: Sequence[Sequence[tuple[str, float, float]]],
        **kwargs,
    ) -> Policy:
        """Build a discrete policy: one operation per stage.

        Parameters
        ----------
        operations : sequence of DifferentiableTransform
            Candidate operations; each name in ``choices`` must be one of theirs.
        choices : sequence of sequence of (str, float, float)
            One list per sub-policy, one ``(operation name, probability,
            magnitude)`` per stage, e.g. ``[[("frequency_shift", 0.5, 0.2),
            ("time_reverse", 0.3, 0.0)], ...]``. Every sub-policy has the same
            number of stages.
        **kwargs
            Other parameters of :class:`Policy` (``temperature``, ``mode``,
            ``gate_temperature``, ``n_chunks``).

        Returns
        -------
        policy : Policy
        """
        operations = list(operations)
        names = [op.name for op in operations]
        if len(set(names)) != len(names):
            raise ValueError(f"Operation names must be unique, got {names}.")
        choices = [list(sub) for sub in choices]
        if not choices or not choices[0]:
            raise ValueError("choices needs at least one sub-policy of one stage.")
        n_stages = len(choices[0])
        if any(len(sub) != n_stages for sub in choices):
            raise ValueError(
                "Every sub-policy must have the same number of stages, got "
                f"{[len(sub) for sub in choices]}."
            )
        shape = (len(choices), n_stages, len(operations))
        weights = np.zeros(shape)
        probability = np.zeros(shape)
        magnitude = np.zeros(shape)
        for k, sub in enumerate(choices):
            for s, stage in enumerate(sub):
                try:
                    name, p, mu = stage
                except (TypeError, ValueError) as err:
                    raise ValueError(
                        f"Stage {s} of sub-policy {k} must be (name, probability, "
                        f"magnitude), got {stage!r}."
                    ) from err
                if name not in names:
                    raise ValueError(
                        f"Sub-policy {k}, stage {s}: unknown operation {name!r}; "
                        f"expected one of {names}."
                    )
                q = names.index(name)
                weights[k, s, q] = 1.0
                probability[k, s, q] = p
                magnitude[k, s, q] = mu
        return cls(
            operations,
            len(choices),
            n_stages,
            probability=probability,
            magnitude=magnitude,
            op_weights=weights,
            **kwargs,
        )

    # ------------------------------------------------------------- values
    @property
    def n_subpolicies(self) -> int:
        """Number of sub-policies ``K``."""
        return self._magnitudes.shape[0]

    @property
    def n_stages(self) -> int:
        """Number of stages ``N`` per sub-policy."""
        return self._magnitudes.shape[1]

    @property
    def names(self) -> list[str]:
        """Registry names of the ``Q`` operations."""
        return [op.name for op in self.operations]

    @property
    def probabilities(self) -> Tensor:
        """Probabilities in [0, 1], shape (K, N, Q)."""
        return clamp_straight_through(self._probabilities)

    @property
    def magnitudes(self) -> Tensor:
        """Magnitudes in [0, 1], shape (K, N, Q)."""
        return clamp_straight_through(self._magnitudes)

    @property
    def op_weights(self) -> Tensor:
        """Probabilities of the operations at each stage, shape (K, N, Q)."""
        return torch.softmax(self._op_logits / self.temperature, dim=-1)

    @property
    def subpolicy_weights(self) -> Tensor:
        """Probabilities of the sub-policies, shape (K,)."""
        return torch.softmax(self._subpolicy_logits / self.temperature, dim=-1)

    @torch.no_grad()
    def clamp_magnitudes_(self) -> None:
        """Project probabilities and magnitudes back onto [0, 1] (after a step)."""
        self._probabilities.clamp_(0.0, 1.0)
        self._magnitudes.clamp_(0.0, 1.0)

    # ------------------------------------------------------------ forward
    def forward(self, X: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Augment a batch with the policy.

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
        if self.mode == "sample" or not self.training or len(X) == 0:
            return self._sample(X, generator)
        weights = self._chunk_subpolicies(len(X), X, generator)
        shape = (len(X), *self._magnitudes.shape)
        gates = relaxed_bernoulli(
            self.probabilities.to(weights.dtype),
            self.gate_temperature,
            shape,
            generator=generator,
        )
        return self.apply_relaxed(X, weights, gates, generator)

    def _chunk_subpolicies(
        self, n: int, X: Tensor, generator: torch.Generator | None
    ) -> Tensor:
        """One-hot sub-policy weights per window, one draw per chunk, shape (n, K)."""
        dtype = compute_dtype(X.dtype)
        device = generator.device if generator is not None else X.device
        n_chunks = min(self.n_chunks, n)
        # Chunk of each window: n_chunks consecutive runs of (almost) equal size.
        chunk = (torch.arange(n, device=X.device) * n_chunks) // n
        if self.mode == "relaxed":
            index = torch.randint(
                self.n_subpolicies, (n_chunks,), generator=generator, device=device
            ).to(X.device)
            weights = nn.functional.one_hot(index, self.n_subpolicies).to(dtype)
        else:
            logits = self._subpolicy_logits.to(device, dtype).expand(n_chunks, -1)
            weights = gumbel_softmax(
                logits, self.temperature, hard=True, generator=generator
            ).to(X.device)
        return weights[chunk]

    def apply_relaxed(
        self,
        X: Tensor,
        subpolicy_weights: Tensor,
        gates: Tensor,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Augment with given sub-policy weights and gates (relaxed modes' step).

        Window ``i`` becomes ``sum_k a_ik S_k(x_i)``, where sub-policy ``S_k``
        runs its stages in order and stage ``s`` maps ``x`` to
        ``x + sum_q w_ksq g_iksq (T_q(x; mu_ksq) - x)`` (operation weights
        ``w``, gates ``g``, magnitudes ``mu``; operations without a magnitude
        at ``mu = 1``). Only the sub-policies with a non-zero weight for a
        window, and the operations with a non-zero weight and gate, are
        computed, so exact zeros cost nothing and change nothing.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Batch of EEG windows.
        subpolicy_weights : Tensor, shape (n_windows, K)
            Weights ``a`` of the sub-policies per window (e.g. one-hot rows,
            hard draws with a straight-through gradient). Rows should sum to 1.
        gates : Tensor, shape (n_windows, K, N, Q), or broadcastable to it
            Gates ``g`` in [0, 1] (relaxed or hard draws), e.g. shape
            (1, K, N, Q) for one draw per batch.
        generator : torch.Generator | None
            Source of the operations' own draws.

        Returns
        -------
        X_aug : Tensor, shape (n_windows, n_channels, n_times)
            Differentiable in the magnitudes, the operation weights, and the
            sub-policy weights and gates given.
        """
        check_eeg_batch(X, name="X", check_finite=False)
        n = len(X)
        K, N, Q = self._magnitudes.shape
        if tuple(subpolicy_weights.shape) != (n, K):
            raise ValueError(
                f"subpolicy_weights must have shape {(n, K)} (n_windows, "
                f"n_subpolicies), got {tuple(subpolicy_weights.shape)}."
            )
        try:
            gates = gates.expand(n, K, N, Q)
        except RuntimeError as err:
            raise ValueError(
                f"gates must have a shape broadcastable to {(n, K, N, Q)} "
                f"(n_windows, n_subpolicies, n_stages, n_operations), got "
                f"{tuple(gates.shape)}."
            ) from err
        if n == 0:
            return X
        dtype = compute_dtype(X.dtype)
        op_weights = self.op_weights.to(X.device, dtype)
        magnitudes = self.magnitudes.to(X.device, dtype)
        gates = gates.to(X.device, dtype)
        subpolicy_weights = subpolicy_weights.to(X.device, dtype)
        # Which terms are exact zeros, read once (one device sync, not one per op).
        used_ops = (op_weights.detach() != 0).tolist()
        active = subpolicy_weights.detach() != 0
        out = None
        for k in range(K):
            rows = torch.nonzero(active[:, k]).squeeze(1)
            if len(rows) == 0:
                continue
            X_k = X[rows]
            gates_k = gates[rows, k]
            live = (gates_k.detach() != 0).any(0).tolist()
            for s in range(N):
                delta = None
                for q in range(Q):
                    if not (used_ops[k][s][q] and live[s][q]):
                        continue
                    op = self.operations[q]
                    mu = (
                        magnitudes[k, s, q]
                        if op.has_magnitude
                        else magnitudes.new_ones(())
                    )
                    gate = gates_k[:, s, q].view(-1, 1, 1) * op_weights[k, s, q]
                    term = gate * (op(X_k, mu, generator) - X_k)
                    delta = term if delta is None else delta + term
                if delta is not None:
                    X_k = (X_k + delta).to(X.dtype)
            X_k = subpolicy_weights[rows, k].view(-1, 1, 1) * X_k
            if out is None:
                out = X.new_zeros(X.shape, dtype=X_k.dtype)
            out = out.index_add(0, rows, X_k)
        return out.to(X.dtype)

    def _sample(self, X: Tensor, generator: torch.Generator | None) -> Tensor:
        """``"sample"`` mode (see the class notes)."""
        n = len(X)
        if n == 0:
            return X  # no window to draw for (multinomial refuses n = 0)
        device = generator.device if generator is not None else X.device
        subpolicy = torch.multinomial(
            self.subpolicy_weights.detach().to(device), n, True, generator=generator
        )
        op_weights = self.op_weights.detach().to(device)
        probabilities = self.probabilities.detach().to(device)
        # float32 for half-precision data, as the transforms' draws.
        magnitudes = self.magnitudes.to(compute_dtype(X.dtype))
        for s in range(self.n_stages):
            ops = torch.multinomial(
                op_weights[subpolicy, s], 1, True, generator=generator
            ).squeeze(1)
            gated = (
                torch.rand(n, generator=generator, device=device)
                < probabilities[subpolicy, s, ops]
            )
            # One transform call per (sub-policy, operation) pair that was drawn.
            pairs = torch.unique(subpolicy[gated] * len(self.operations) + ops[gated])
            if len(pairs) == 0:
                continue
            out = X.clone()
            for pair in pairs.tolist():
                k, q = divmod(pair, len(self.operations))
                rows = torch.nonzero(gated & (subpolicy == k) & (ops == q)).squeeze(1)
                rows = rows.to(X.device)
                op = self.operations[q]
                mu = (
                    magnitudes[k, s, q] if op.has_magnitude else magnitudes.new_ones(())
                )
                out[rows] = op(X[rows], mu, generator)
            X = out
        return X

    # --------------------------------------------------------- inspection
    def to_frame(self, all_operations: bool = False) -> pd.DataFrame:
        """Describe the policy as a table, one row per stage.

        Parameters
        ----------
        all_operations : bool
            ``False`` lists the most probable operation of each stage (the only
            one in a discrete policy); ``True`` lists every operation of every
            stage with its weight.

        Returns
        -------
        frame : DataFrame
            Columns :data:`POLICY_COLUMNS`: ``subpolicy``, ``stage``,
            ``transform``, ``weight`` (the operation's probability within its
            stage), ``probability``, ``magnitude``, ``physical_value``
            (``magnitude * max_value``; NaN for operations without a magnitude)
            and ``unit``.
        """
        with torch.no_grad():
            weights = self.op_weights.cpu().numpy()
            probabilities = self.probabilities.cpu().numpy()
            magnitudes = self.magnitudes.cpu().numpy()
        rows = []
        for k in range(self.n_subpolicies):
            for s in range(self.n_stages):
                qs = (
                    range(len(self.operations))
                    if all_operations
                    else [int(np.argmax(weights[k, s]))]
                )
                for q in qs:
                    op = self.operations[q]
                    mu = float(magnitudes[k, s, q])
                    rows.append(
                        {
                            "subpolicy": k,
                            "stage": s,
                            "transform": op.name,
                            "weight": float(weights[k, s, q]),
                            "probability": float(probabilities[k, s, q]),
                            "magnitude": mu if op.has_magnitude else np.nan,
                            "physical_value": (
                                op.physical_value(mu) if op.has_magnitude else np.nan
                            ),
                            "unit": op.unit if op.has_magnitude else "",
                        }
                    )
        return pd.DataFrame(rows, columns=list(POLICY_COLUMNS))

    def summary(self) -> pd.DataFrame:
        """Describe the policy in the columns of the estimators' summaries.

        Returns
        -------
        summary : DataFrame
            Columns of :data:`augsleep.augment.SUMMARY_COLUMNS`, one row per
            (sub-policy, stage, operation) that can be drawn: ``layer`` is the
            stage, ``weight`` the probability that a window gets that operation
            from that sub-policy at that stage (sub-policy weight x operation
            weight x probability), then ``magnitude``, ``physical_value``
            (NaN for operations without a magnitude) and ``unit``.
        """
        frame = self.to_frame(all_operations=True)
        sub_weights = self.subpolicy_weights.detach().cpu().numpy()
        frame = frame[frame["weight"] > 0].copy()
        frame["weight"] = (
            sub_weights[frame["subpolicy"].to_numpy()]
            * frame["weight"]
            * frame["probability"]
        )
        frame = frame.rename(columns={"stage": "layer"})
        return frame[list(SUMMARY_COLUMNS)].reset_index(drop=True)

    def choices(self) -> list[list[tuple[str, float, float]]]:
        """Return the most probable operation of every stage (`from_choices` form).

        Returns
        -------
        choices : list of list of (str, float, float)
            ``(operation name, probability, magnitude)`` per stage, per
            sub-policy.
        """
        with torch.no_grad():
            best = self.op_weights.argmax(dim=-1).tolist()
            probabilities = self.probabilities.tolist()
            magnitudes = self.magnitudes.tolist()
        return [
            [
                (self.operations[q].name, probabilities[k][s][q], magnitudes[k][s][q])
                for s, q in enumerate(stages)
            ]
            for k, stages in enumerate(best)
        ]

    def extra_repr(self) -> str:  # noqa: D102 (nn.Module's repr hook)
        return (
            f"n_subpolicies={self.n_subpolicies}, n_stages={self.n_stages}, "
            f"mode={self.mode!r}"
            + (
                ""
                if self.mode == "sample"
                else f", gate_temperature={self.gate_temperature:g}, "
                f"n_chunks={self.n_chunks}"
            )
        )
