"""The bilevel search shared by the DARTS-style ADA methods (ADDA, CADDA, DADA).

These methods solve the ADA bilevel problem directly: the policy ``alpha``
minimises the validation loss of a trunk trained on data augmented by it. As
in DARTS (Liu et al. 2019) and CADDA's Algorithm 1 (Rommel et al. 2022), they
alternate, batch after batch:

1. an **outer step** on the policy: the hypergradient of ``L_valid(theta')``,
   ``theta' = theta - xi grad_theta L_train(theta, alpha)`` one unrolled step
   of the trunk on the augmented training batch, through the finite-difference
   Hessian-vector product (:func:`augsleep.training.bilevel.darts_hypergradient`,
   ``r = 1e-2``), followed by an Adam step of the policy;
2. an **inner step** on the trunk: one Adam step on the training batch
   augmented by the updated policy.

The policy is relaxed during the search (differentiable in its weights,
probabilities and magnitudes: :class:`augsleep.augment.Policy` in a relaxed
mode), exported to a discrete policy of the same ``K x N`` budget at every
checkpoint, and retrained from scratch there with the shared protocol of
:mod:`augsleep.methods._search` (:class:`~augsleep.methods._search._Checkpoints`).
Before the search the trunk is warm-started without augmentation for
``pretrain_epochs`` epochs (``pretrain_s``), as in ADDA.
"""

from __future__ import annotations

import logging
import math
import time
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import balanced_accuracy_score
from sklearn.utils._param_validation import Interval, InvalidParameterError
from torch import Tensor, nn

from augsleep.methods._search import (
    TRIAL_COLUMNS,
    PolicySearchClassifier,
    _Checkpoints,
    choices_to_params,
    policy_parameter_names,
)
from augsleep.methods.base import _derived_seeds
from augsleep.training import (
    make_generator,
    make_optimizer,
    predict_batch_size,
    predict_log_proba,
)
from augsleep.training.bilevel import SameDraws, call_with, darts_hypergradient

logger = logging.getLogger(__name__)

# Keys of the seeds of the warm start and of the search (apart from _search's
# trial, retraining and proposer keys 0, 1, 2).
_PRETRAIN_KEY, _SEARCH_KEY = 3, 4

#: Columns of ``trials_`` after :data:`~augsleep.methods._search.TRIAL_COLUMNS`
#: (then the exported policy's values).
EPOCH_COLUMNS = ("train_loss", "valid_loss", "epsilon")


class BilevelSearchClassifier(PolicySearchClassifier):
    """Base of the DARTS-style bilevel searches (not used directly).

    Subclasses define the relaxed policy (:meth:`_make_search_policy`), which
    of its parameters are learned (:meth:`_policy_parameters`), and how it is
    exported (:meth:`_export_choices`); the warm start, the alternating outer
    and inner steps, the timing and the checkpoints are here (see
    :mod:`augsleep.methods._bilevel`). Parameters and attributes are documented
    in the subclasses (:class:`augsleep.ADDAClassifier`).
    """

    _FITTED = (*PolicySearchClassifier._FITTED, "policy_history_")
    _parameter_constraints: dict = {
        **PolicySearchClassifier._parameter_constraints,
        "pretrain_epochs": [Interval(Integral, 0, None, closed="left")],
        "policy_lr": [Interval(Real, 0, None, closed="neither")],
        "policy_betas": ["array-like"],
        "unrolled_lr": [Interval(Real, 0, None, closed="left"), None],
        "fd_r": [Interval(Real, 0, None, closed="neither")],
        "valid_batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "gate_temperature": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        search_budget=20,
        checkpoint_every=2,
        n_subpolicies=5,
        n_stages=2,
        operations=None,
        pretrain_epochs=20,
        policy_lr=5e-4,
        policy_betas=(0.5, 0.999),
        unrolled_lr=None,
        fd_r=1e-2,
        valid_batch_size=None,
        temperature=0.05,
        gate_temperature=0.1,
        *,
        trunk="chambon",
        lr=1e-3,
        betas=(0.0, 0.999),
        weight_decay=0.0,
        batch_size=16,
        max_epochs=300,
        patience=30,
        validation_fraction=0.2,
        class_weight="balanced",
        scaling="standard",
        sfreq=None,
        ch_names=None,
        positions=None,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        super().__init__(
            search_budget=search_budget,
            checkpoint_every=checkpoint_every,
            n_subpolicies=n_subpolicies,
            n_stages=n_stages,
            operations=operations,
            trunk=trunk,
            lr=lr,
            betas=betas,
            weight_decay=weight_decay,
            batch_size=batch_size,
            max_epochs=max_epochs,
            patience=patience,
            validation_fraction=validation_fraction,
            class_weight=class_weight,
            scaling=scaling,
            sfreq=sfreq,
            ch_names=ch_names,
            positions=positions,
            device=device,
            random_state=random_state,
            verbose=verbose,
        )
        self.pretrain_epochs = pretrain_epochs
        self.policy_lr = policy_lr
        self.policy_betas = policy_betas
        self.unrolled_lr = unrolled_lr
        self.fd_r = fd_r
        self.valid_batch_size = valid_batch_size
        self.temperature = temperature
        self.gate_temperature = gate_temperature

    def _check_params(self) -> None:
        super()._check_params()
        betas = self.policy_betas
        betas = tuple(np.ravel(betas)) if np.ndim(betas) == 1 else ()
        if len(betas) != 2 or not all(
            isinstance(b, Real) and 0 <= b < 1 for b in betas
        ):
            raise InvalidParameterError(
                f"The 'policy_betas' parameter of {type(self).__name__} must be "
                f"two numbers in [0, 1) (Adam's beta1, beta2 of the policy). Got "
                f"{self.policy_betas!r} instead."
            )

    # ------------------------------------------------------------------ hooks
    def _make_search_policy(self, operations) -> nn.Module:
        """Build the relaxed policy the search learns (the method's part).

        Parameters
        ----------
        operations : list of DifferentiableTransform
            The candidate operations.

        Returns
        -------
        policy : nn.Module
            Differentiable in training mode in the parameters of
            :meth:`_policy_parameters`.
        """
        raise NotImplementedError

    def _policy_parameters(self, policy: nn.Module) -> list[Tensor]:
        """Return the parameters of ``policy`` that the outer steps learn."""
        return list(policy.parameters())

    def _augment(self, policy: nn.Module, X: Tensor, y: Tensor, generator) -> Tensor:
        """Augment a training batch with the relaxed policy (``y``: its labels)."""
        return policy(X, generator)

    def _train_gradient(self, search, X: Tensor, y: Tensor, draws: SameDraws):
        """Estimator of ``grad_alpha L_train(params)`` for the hypergradient.

        ``None`` (default): autograd through the relaxed policy. DADA returns
        its RELAX estimator.

        Parameters
        ----------
        search : _SearchState
            The search (trunk, policy, generator, loss).
        X, y : Tensor
            The training batch and its labels.
        draws : SameDraws
            To restore before each evaluation.

        Returns
        -------
        gradient : callable | None
            ``gradient(params) -> list of Tensor`` (one per parameter of
            :meth:`_policy_parameters`).
        """
        return None

    def _after_outer_step(self, policy: nn.Module) -> None:
        """Run after every policy step: project probabilities and magnitudes."""
        policy.clamp_magnitudes_()

    def _export_choices(self, policy: nn.Module):
        """Export the relaxed policy to the retrained (discrete) policy.

        Returns
        -------
        choices : list of list of (str, float, float)
            :meth:`augsleep.augment.Policy.from_choices` form.
        """
        return policy.choices()

    def _choices_params(self, choices) -> dict:
        """Return the exported policy's values, as ``trials_`` columns."""
        return choices_to_params(choices)

    def _policy_frame(self, policy: nn.Module) -> pd.DataFrame:
        """Describe the relaxed policy, every operation of every stage."""
        return policy.to_frame(all_operations=True)

    def _choices_columns(self) -> list[str]:
        return policy_parameter_names(self.n_subpolicies, self.n_stages)

    def _build_augmentation(self):
        # None for the warm start: the trunk alone, no augmentation at all.
        if getattr(self, "policy_choices_", None) is None:
            return None
        return super()._build_augmentation()

    # --------------------------------------------------------------- training
    def _train(self, data, seeds):
        if data.X_valid is None:
            raise ValueError(
                f"{type(self).__name__} learns its policy on a validation set: pass "
                "X_val and y_val, or groups with validation_fraction."
            )
        test = self._scaled_test_set()
        # Fails here, before any training, when the operations do not fit the data.
        operations = self._operations()
        budget, every = self.search_budget, self.checkpoint_every

        # 1. Warm start of the trunk without augmentation (counted in the time).
        start = time.perf_counter()
        self.policy_choices_ = None
        warm_seeds = _derived_seeds(seeds, _PRETRAIN_KEY)
        pretrain_s, module = 0.0, None
        if self.pretrain_epochs > 0:
            result = self._fit_module(data, warm_seeds, max_epochs=self.pretrain_epochs)
            if result.interrupted:
                raise KeyboardInterrupt  # Ctrl-C in the warm start stops the fit
            module = self.module_
            pretrain_s = time.perf_counter() - start

        # 2. Search, with a checkpoint every `checkpoint_every` epochs.
        checkpoints = _Checkpoints(self, data, seeds, test, pretrain_s=pretrain_s)
        if module is None:  # no warm start: a fresh trunk, part of the search
            with torch.random.fork_rng(devices=[]):
                module = self._build_module(len(self.classes_), warm_seeds.init)
            module = module.to(self.device_)
        search_seeds = _derived_seeds(seeds, _SEARCH_KEY)
        device = self.device_
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            # Dropout of the search trunk draws from torch's global generator.
            torch.manual_seed(search_seeds.train)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(search_seeds.init)
                policy = self._make_search_policy(operations)
            search = _SearchState(self, module, policy.to(device), data, search_seeds)
            records: list[dict] = []
            frames: list[pd.DataFrame] = []

            def checkpoint() -> None:
                record = records[-1]
                checkpoints.add(
                    search.choices,
                    n_trials=len(records),
                    best_trial=record["trial"],
                    trial_score=record["valid_balanced_accuracy"],
                )

            from tqdm.auto import tqdm

            # Long searches show progress (verbose > 0), as the fit loop does.
            epochs = tqdm(
                range(budget),
                disable=not self.verbose,
                desc=f"{type(self).__name__} search",
                unit="ep",
            )
            for epoch in epochs:
                epoch_start = time.perf_counter()
                losses = search.run_epoch()
                search.choices = self._export_choices(search.policy)
                frame = self._policy_frame(search.policy)
                frame.insert(0, "epoch", epoch)
                frames.append(frame)
                record = {
                    "trial": epoch,
                    "valid_balanced_accuracy": search.valid_score(),
                    "best_epoch": math.nan,
                    "n_epochs": math.nan,
                    "time_s": time.perf_counter() - epoch_start,
                    "resumed": False,
                    **losses,
                    **self._choices_params(search.choices),
                }
                records.append(record)
                logger.info(
                    "%s search epoch %d: validation loss %.4f, search trunk's "
                    "validation balanced accuracy %.4f.",
                    type(self).__name__,
                    epoch,
                    losses["valid_loss"],
                    record["valid_balanced_accuracy"],
                )
                epochs.set_postfix(valid_loss=f"{losses['valid_loss']:.3f}")
                if (epoch + 1) % every == 0 and epoch + 1 < budget:
                    checkpoint()
            epochs.close()
            checkpoint()  # always at the end
        phases = checkpoints.finish()
        self.trials_ = pd.DataFrame(
            records,
            columns=[*TRIAL_COLUMNS, *EPOCH_COLUMNS, *self._choices_columns()],
        )
        self.policy_history_ = pd.concat(frames, ignore_index=True)
        return phases


class _SearchState:
    """The trunk, the relaxed policy and their optimisers during a search."""

    def __init__(self, clf: BilevelSearchClassifier, module, policy, data, seeds):
        self.clf, self.module, self.policy = clf, module, policy
        self.trunk = module.trunk
        self.device = clf.device_
        self.choices = None
        self.X_train, self.y_train = data.X_train, data.y_train
        self.X_valid = data.X_valid
        self.y_valid_np = data.y_valid
        self.y_valid = torch.as_tensor(data.y_valid, dtype=torch.long)
        weight = clf._class_weights(data.y_train_enc)
        self.class_weight = None if weight is None else weight.to(self.device)
        self.generator = make_generator(seeds.train, self.device)
        self.params = clf._policy_parameters(policy)
        self.policy_optimizer = torch.optim.Adam(
            self.params,
            lr=clf.policy_lr,
            betas=tuple(float(b) for b in np.ravel(clf.policy_betas)),
        )
        # A fresh Adam for the trunk: the warm start passes on its weights only.
        self.trunk_optimizer = make_optimizer(
            self.trunk, lr=clf.lr, betas=clf.betas, weight_decay=clf.weight_decay
        )
        self.xi = clf.lr if clf.unrolled_lr is None else clf.unrolled_lr
        self.valid_batch = clf.valid_batch_size or clf.batch_size
        self._valid_order = torch.empty(0, dtype=torch.long)

    def _nll(self, logits: Tensor, y: Tensor) -> Tensor:
        return nn.functional.nll_loss(
            torch.log_softmax(logits, dim=-1), y, weight=self.class_weight
        )

    def _next_valid_batch(self) -> Tensor:
        """Return the next validation batch's indices (reshuffled once used up)."""
        if len(self._valid_order) < self.valid_batch:
            order = torch.randperm(
                len(self.X_valid), generator=self.generator, device=self.device
            ).cpu()
            self._valid_order = torch.cat([self._valid_order, order])
        idx = self._valid_order[: self.valid_batch]
        self._valid_order = self._valid_order[self.valid_batch :]
        return idx

    def step(self, X: Tensor, y: Tensor) -> tuple[float, float, float]:
        """Run one outer step on the policy, then one inner step on the trunk."""
        clf, policy, trunk = self.clf, self.policy, self.trunk
        generator = self.generator
        v_idx = self._next_valid_batch()
        X_v = self.X_valid[v_idx].to(self.device)
        y_v = self.y_valid[v_idx].to(self.device)
        policy.train()
        trunk.train()
        # The three evaluations of L_train make the same draws (augmentation and
        # dropout): the finite differences then see the trunk's change only.
        draws = SameDraws(generator, self.device)
        gradient = clf._train_gradient(self, X, y, draws)
        if gradient is None:
            # Autograd through the relaxed policy. The augmented batch depends on
            # the policy, not on the trunk: augmented once (its graph kept), each
            # evaluation's policy gradient is J^T grad_X L(theta), J the
            # augmentation's Jacobian: the values of augmenting again with the
            # same draws, at a third of the augmentation's cost.
            X_aug = clf._augment(policy, X, y, generator)
            X_fixed = X_aug.detach()
            # Taken after the augmentation: replays the trunk's dropout only.
            draws = SameDraws(generator, self.device)

            def train_loss(params):
                draws.restore()
                return self._nll(call_with(trunk, params, X_fixed), y)

            def gradient(params):
                draws.restore()
                X_req = X_fixed.clone().requires_grad_(True)
                loss = self._nll(call_with(trunk, params, X_req), y)
                (grad_X,) = torch.autograd.grad(loss, [X_req])
                grads = torch.autograd.grad(
                    X_aug,
                    self.params,
                    grad_outputs=grad_X,
                    retain_graph=True,
                    allow_unused=True,
                )
                return [
                    torch.zeros_like(p) if g is None else g
                    for p, g in zip(self.params, grads, strict=True)
                ]

        else:

            def train_loss(params):
                draws.restore()
                X_aug = clf._augment(policy, X, y, generator)
                return self._nll(call_with(trunk, params, X_aug), y)

        def valid_loss(params):
            return self._nll(call_with(trunk, params, X_v), y_v)

        result = darts_hypergradient(
            trunk,
            self.params,
            train_loss,
            valid_loss,
            self.xi,
            r=clf.fd_r,
            weight_decay=clf.weight_decay,
            train_gradient=gradient,
        )
        self.policy_optimizer.zero_grad(set_to_none=True)
        for p, g in zip(self.params, result.grads, strict=True):
            p.grad = g.detach()
        self.policy_optimizer.step()
        clf._after_outer_step(policy)

        # The inner step: the trunk on the batch augmented by the new policy.
        with torch.no_grad():
            X_aug = clf._augment(policy, X, y, generator)
        loss = self._nll(trunk(X_aug), y)
        self.trunk_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.trunk_optimizer.step()
        return result.train_loss, result.valid_loss, result.epsilon

    def run_epoch(self) -> dict[str, float]:
        """Alternate the steps over one shuffled pass of the training set."""
        batch = self.clf.batch_size
        order = torch.randperm(
            len(self.X_train), generator=self.generator, device=self.device
        ).cpu()
        values = []
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            values.append(
                self.step(
                    self.X_train[idx].to(self.device), self.y_train[idx].to(self.device)
                )
            )
        values = np.array(values, dtype=float)
        means = {}
        for name, column in zip(EPOCH_COLUMNS, values.T, strict=True):
            finite = column[np.isfinite(column)]
            # NaN epsilon: the validation gradient was 0 at every step.
            means[name] = float(finite.mean()) if len(finite) else math.nan
        return means

    def valid_score(self) -> float:
        """Score the search trunk on the validation set (balanced accuracy)."""
        X_v = self.X_valid
        log_proba = predict_log_proba(
            self.module, X_v, batch_size=predict_batch_size(1, *X_v.shape[1:])
        )
        self.module.train()
        return balanced_accuracy_score(self.y_valid_np, log_proba.argmax(1).numpy())
