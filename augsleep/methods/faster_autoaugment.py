"""Faster AutoAugment: a relaxed policy learned by adversarial density matching.

Faster AutoAugment (Hataya et al. 2020) makes the policy differentiable and
learns it so that augmented training data are indistinguishable from real
training data, while staying classifiable. Here, as in the reference
(moskomule/dda, ``faster_autoaugment/search.py``):

1. **search** (``search_s``): a critic, the trunk's feature extractor with two
   heads on its features (the trunk's own classification layer and a small MLP
   discriminator ``D``), and a :class:`~augsleep.augment.Policy` in
   ``"relaxed"`` mode (a uniform sub-policy per chunk of the batch; each stage
   the softmax-weighted sum, at temperature ``temperature``, of its operations
   gated by relaxed Bernoulli draws at their differentiable magnitudes) are
   trained against each other on the **training set only**, WGAN-GP style.
   Every step takes ``2 * batch_size`` windows: one half is "real", the other
   is augmented, and

   - the critic minimises ``cls_factor * CE(real) - D(real) + D(augmented) +
     gp_factor * GP`` (GP: the gradient penalty of Gulrajani et al. 2017 on
     random interpolations between real and augmented windows);
   - then the policy minimises ``cls_factor * CE(augmented) - D(augmented)``
     (the critic frozen): augmented data that look real and keep their label.

   Both with Adam (``search_lr``, ``search_betas``; reference: 1e-3,
   (0, 0.999)) for ``search_budget`` epochs (reference: 20).
2. **export**: every stage's most weighted operation with its probability and
   magnitude, the paper's shared ``K x N`` budget (5 x 2) as a sample-mode
   policy (:meth:`Policy.choices`).
3. **retrain** (``retrain_s``): every ``checkpoint_every`` search epochs
   (reference for Fig. 6b: 2) and at the end, the exported policy is retrained
   from scratch with the shared checkpoints of :mod:`augsleep.methods._search`;
   the final model is the best checkpoint's (validation balanced accuracy).
"""

from __future__ import annotations

import copy
import logging
import time
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from sklearn.utils._param_validation import Interval, InvalidParameterError
from torch import Tensor, nn
from torch.nn import functional as F

from augsleep.methods._docs import fill_doc
from augsleep.methods._search import PolicySearchClassifier, _Checkpoints
from augsleep.methods.base import _derived_seeds, _FitData
from augsleep.training import make_generator

logger = logging.getLogger(__name__)

# Key of the search's seeds (apart from _search's 0-2 and Fast AutoAugment's 3-4).
_SEARCH_KEY = 5

#: Columns of ``search_trace_`` (one row per search epoch).
TRACE_COLUMNS = (
    "epoch",
    "critic_loss",
    "policy_loss",
    "critic_gap",
    "real_ce",
    "augmented_ce",
    "gradient_penalty",
    "time_s",
)


def split_trunk(trunk: nn.Module, n_classes: int) -> tuple[nn.Module, nn.Linear]:
    """Split a trunk into its feature extractor and its classification layer.

    The classification layer is the trunk's last ``nn.Linear`` (in the order of
    ``named_modules``) with ``n_classes`` outputs; the feature extractor is a
    copy of the trunk where that layer is an ``nn.Identity``.

    Parameters
    ----------
    trunk : nn.Module
        Maps (n_windows, n_channels, n_times) to logits (n_windows, n_classes),
        e.g. braindecode's ``SleepStagerChambon2018`` (its ``final_layer``).
    n_classes : int
        Number of classes.

    Returns
    -------
    features : nn.Module
        Maps windows to features, shape (n_windows, n_features).
    head : nn.Linear
        The classification layer, ``n_features -> n_classes``.
    """
    features = copy.deepcopy(trunk)
    found = [
        name
        for name, m in features.named_modules()
        if isinstance(m, nn.Linear) and m.out_features == n_classes and name
    ]
    if not found:
        raise ValueError(
            f"The critic of Faster AutoAugment is the trunk's feature extractor: "
            f"the trunk ({type(trunk).__name__}) needs a last nn.Linear layer with "
            f"{n_classes} outputs (one per class) to split it at, found none."
        )
    *path, last = found[-1].split(".")
    parent = features.get_submodule(".".join(path)) if path else features
    head = getattr(parent, last)
    setattr(parent, last, nn.Identity())
    return features, head


class WGANCritic(nn.Module):
    """Critic of Faster AutoAugment: features, a classifier and a discriminator.

    Parameters
    ----------
    trunk : nn.Module
        Trunk network (copied), split by :func:`split_trunk`.
    n_classes : int
        Number of classes.

    Notes
    -----
    As in the reference, the discriminator is ``Linear(F, F) -> ReLU ->
    Linear(F, 1)`` on the ``F`` features, and the classifier is the trunk's
    own classification layer.
    """

    def __init__(self, trunk: nn.Module, n_classes: int):
        super().__init__()
        self.features, self.classifier = split_trunk(trunk, n_classes)
        width = self.classifier.in_features
        self.discriminator = nn.Sequential(
            nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 1)
        )

    def forward(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """Classify and score windows.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Windows.

        Returns
        -------
        logits : Tensor, shape (n_windows, n_classes)
        critic : Tensor, shape (n_windows,)
            ``D(X)``: higher for windows that look real.
        """
        h = self.features(X)
        return self.classifier(h), self.discriminator(h).squeeze(-1)


class DensityMatching:
    """The adversarial search of Faster AutoAugment (one critic, one policy).

    Parameters
    ----------
    critic : WGANCritic
        The critic, on the device of the data.
    policy : Policy
        The policy, in a relaxed mode, on the same device.
    critic_optimizer : torch.optim.Optimizer
        Optimiser of the critic's parameters.
    policy_optimizer : torch.optim.Optimizer | None
        Optimiser of the policy's parameters; ``None`` keeps the policy fixed
        (the critic alone is trained, e.g. to check that an identity policy
        cannot be told from real data).
    cls_factor : float
        Weight of the cross-entropy terms (reference: 0.1).
    gp_factor : float
        Weight of the gradient penalty (reference: 10).
    class_weight : Tensor | None
        Class weights of the cross-entropy, shape (n_classes,).
    """

    def __init__(
        self,
        critic,
        policy,
        critic_optimizer,
        policy_optimizer=None,
        *,
        cls_factor: float = 0.1,
        gp_factor: float = 10.0,
        class_weight: Tensor | None = None,
    ):
        self.critic, self.policy = critic, policy
        self.critic_optimizer = critic_optimizer
        self.policy_optimizer = policy_optimizer
        self.cls_factor, self.gp_factor = float(cls_factor), float(gp_factor)
        self.class_weight = class_weight

    def _ce(self, logits: Tensor, y: Tensor) -> Tensor:
        weight = self.class_weight
        if weight is not None:
            weight = weight.to(logits.device, logits.dtype)
        return F.cross_entropy(logits, y, weight=weight)

    def gradient_penalty(self, real: Tensor, fake: Tensor, generator) -> Tensor:
        """``mean((|| d D(x^) / d x^ || - 1) ** 2)`` on interpolations ``x^``.

        Parameters
        ----------
        real, fake : Tensor, shape (n_windows, n_channels, n_times)
            Real and augmented windows (the same number of each).
        generator : torch.Generator
            Source of the interpolation weights (one per window).

        Returns
        -------
        gp : Tensor, 0-d
        """
        grad = self.interpolation_gradient(real, fake, generator)
        # Per-window norm over channels and time (Gulrajani et al. 2017).
        return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()

    def interpolation_gradient(self, real: Tensor, fake: Tensor, generator) -> Tensor:
        """Gradient of the critic at random interpolations of ``real`` and ``fake``.

        Parameters
        ----------
        real, fake : Tensor, shape (n_windows, n_channels, n_times)
            Real and augmented windows (the same number of each).
        generator : torch.Generator
            Source of the interpolation weights (one per window).

        Returns
        -------
        grad : Tensor, shape (n_windows, n_channels, n_times)
            ``d D(x^) / d x^``, in the graph (the penalty is trained through it).
        """
        alpha = torch.rand(
            len(real), 1, 1, generator=generator, device=generator.device
        ).to(real.device, real.dtype)
        mixed = (alpha * real + (1 - alpha) * fake).detach().requires_grad_(True)
        _, d = self.critic(mixed)
        (grad,) = torch.autograd.grad(d.sum(), mixed, create_graph=True)
        return grad

    def step(self, X_real, y_real, X_aug, y_aug, generator) -> dict[str, Tensor]:
        """One critic step, then one policy step (if the policy is trained).

        Parameters
        ----------
        X_real, y_real : Tensor
            "Real" windows (n, n_channels, n_times) and their labels (n,).
        X_aug, y_aug : Tensor
            Windows to augment (the same number) and their labels.
        generator : torch.Generator
            Source of the policy's draws and of the penalty's interpolations.

        Returns
        -------
        values : dict of str to Tensor
            Detached 0-d ``critic_loss``, ``policy_loss`` (NaN with a fixed
            policy), ``critic_gap`` (mean ``D(real) - D(augmented)`` before the
            critic's step), ``real_ce``, ``augmented_ce``, ``gradient_penalty``.
        """
        critic, policy = self.critic, self.policy
        critic.requires_grad_(True)
        self.critic_optimizer.zero_grad(set_to_none=True)
        logits_r, d_real = critic(X_real)
        real_ce = self._ce(logits_r, y_real)
        with torch.no_grad():
            augmented = policy(X_aug, generator)
        _, d_aug = critic(augmented)
        gp = self.gradient_penalty(X_real, augmented, generator)
        critic_loss = (
            self.cls_factor * real_ce
            - d_real.mean()
            + d_aug.mean()
            + self.gp_factor * gp
        )
        critic_loss.backward()
        self.critic_optimizer.step()
        gap = (d_real.mean() - d_aug.mean()).detach()

        policy_loss = augmented_ce = torch.tensor(float("nan"))
        if self.policy_optimizer is not None:
            critic.requires_grad_(False)
            try:
                self.policy_optimizer.zero_grad(set_to_none=True)
                logits_a, d_aug = critic(policy(X_aug, generator))
                augmented_ce = self._ce(logits_a, y_aug)
                policy_loss = self.cls_factor * augmented_ce - d_aug.mean()
                policy_loss.backward()
                self.policy_optimizer.step()
                policy.clamp_magnitudes_()  # probabilities and magnitudes in [0, 1]
            finally:
                critic.requires_grad_(True)
        return {
            "critic_loss": critic_loss.detach(),
            "policy_loss": policy_loss.detach(),
            "critic_gap": gap,
            "real_ce": real_ce.detach(),
            "augmented_ce": augmented_ce.detach(),
            "gradient_penalty": gp.detach(),
        }

    def run_epoch(
        self, X: Tensor, y: Tensor, batch_size: int, generator: torch.Generator
    ) -> dict[str, float]:
        """One epoch of shuffled steps of ``2 * batch_size`` windows.

        Each step's windows are split in two halves of equal size, the first
        "real", the second augmented; a last incomplete step is dropped (as
        the reference's ``drop_last``) unless it is the only one.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Training windows (at least 2), on any device.
        y : Tensor, shape (n_windows,)
            Their class indices.
        batch_size : int
            Windows per half-step.
        generator : torch.Generator
            Source of the shuffling, then of every step's draws.

        Returns
        -------
        metrics : dict of str to float
            Means over the steps of :meth:`step`'s values.
        """
        if len(X) < 2:
            raise ValueError(
                "Faster AutoAugment's search needs at least 2 training windows "
                f"(one real, one augmented), got {len(X)}."
            )
        device = next(self.critic.parameters()).device
        self.critic.train()
        self.policy.train()
        order = torch.randperm(len(X), generator=generator, device=generator.device)
        order = order.to(X.device)
        size = min(2 * batch_size, len(X) - len(X) % 2)
        totals: dict[str, Tensor] = {}
        n_steps = 0
        for start in range(0, len(X) - size + 1, size):
            idx = order[start : start + size]
            half = size // 2
            Xb, yb = X[idx].to(device), y[idx].to(device)
            values = self.step(Xb[:half], yb[:half], Xb[half:], yb[half:], generator)
            for k, v in values.items():
                totals[k] = totals.get(k, 0.0) + v.to(device)
            n_steps += 1
        return {k: float(v) / n_steps for k, v in totals.items()}

    @torch.no_grad()
    def critic_values(
        self, X: Tensor, generator: torch.Generator, augment: bool, batch_size=256
    ) -> Tensor:
        """``D`` of windows, augmented by the policy (training mode) or not.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Windows.
        generator : torch.Generator
            Source of the policy's draws.
        augment : bool
            Whether to augment the windows first.
        batch_size : int
            Windows per forward pass.

        Returns
        -------
        d : Tensor, shape (n_windows,)
            On the CPU, critic in evaluation mode (no dropout).
        """
        device = next(self.critic.parameters()).device
        self.critic.eval()
        out = []
        try:
            for start in range(0, len(X), batch_size):
                xb = X[start : start + batch_size].to(device)
                if augment:
                    xb = self.policy(xb, generator)
                out.append(self.critic(xb)[1].cpu())
        finally:
            self.critic.train()
        return torch.cat(out)


@fill_doc
class FasterAutoAugmentClassifier(PolicySearchClassifier):
    """Sleep-stage classifier trained with a policy found by Faster AutoAugment.

    The ``"faster_autoaugment"`` method of :data:`augsleep.methods.METHODS`
    (Hataya et al. 2020): a relaxed policy and a WGAN-GP critic (the trunk's
    feature extractor with a classifier and a discriminator head) trained
    against each other on the training set, so that augmented windows look
    like real ones and keep their labels; the policy's most weighted operation
    per stage is exported and retrained from scratch (see
    :mod:`augsleep.methods.faster_autoaugment`).

    Parameters
    ----------
    search_budget : int
        Search epochs (reference: 20).
    checkpoint_every : int
        Every this many search epochs (the paper's Fig. 6b: 2), and always at
        the end, the policy exported so far is retrained from scratch (fresh
        seeds) and recorded as a row of ``search_history_``.
    n_subpolicies : int
        ``K``, sub-policies (paper's shared budget: 5).
    n_stages : int
        ``N``, stages per sub-policy (paper: 2).
    operations : sequence of str | None
        Candidate operations (names of :data:`augsleep.transforms.TRANSFORMS`);
        ``None``: all 13 of Table A.4 that the data allow
        (:func:`augsleep.augment.make_operations`).
    temperature : float
        Softmax temperature of the stages' operation weights (reference: 0.05).
    search_lr : float
        Adam learning rate of the critic and of the policy (reference: 1e-3).
    search_betas : tuple of float
        Adam's betas of the critic and of the policy (reference: (0, 0.999)).
    cls_factor : float
        Weight of the cross-entropy terms of both losses (reference: 0.1). An
        operation that destroys labels but not the data's distribution (time
        reverse on ramps whose label is the direction of time) is pushed down
        by the cross-entropy term alone; at 0.1 the critic's term, about 90
        times noisier on it, drowns that push, at 1.0 it does not
        (benchmarks/README.md, "Why Faster AutoAugment and DADA fail the toy
        controls").
    gp_factor : float
        Weight of the gradient penalty (reference: 10).
    n_chunks : int
        Chunks of each augmented half-batch, each with one uniformly drawn
        sub-policy (reference: 8).
    %(shared_parameters)s

    Attributes
    ----------
    policy_choices_ : list of list of (str, float, float)
        The final exported policy: ``(operation, probability, magnitude)`` per
        stage, per sub-policy.
    policy_ : Policy
        The final policy as a module (property).
    search_history_ : DataFrame
        One row per checkpoint, with the columns of the other searches:
        ``n_trials`` counts search epochs, ``pretrain_s`` is 0, ``best_trial``
        is the last search epoch of the exported policy, and
        ``trial_valid_balanced_accuracy`` is NaN (a search epoch has no
        validation score); ``policy`` is the exported policy as JSON.
    search_trace_ : DataFrame
        One row per search epoch: ``epoch``, the means over its steps of
        ``critic_loss``, ``policy_loss``, ``critic_gap`` (``D(real) -
        D(augmented)``, the critic's estimate of the Wasserstein distance
        between real and augmented windows), ``real_ce``, ``augmented_ce``,
        ``gradient_penalty``, and its measured ``time_s``.
    search_policy_ : DataFrame
        The relaxed policy at the start of the search (``n_epochs`` 0) and at
        every checkpoint (``n_epochs``: search epochs done), every operation
        of every stage: ``n_epochs`` then the columns of
        :meth:`augsleep.augment.Policy.to_frame` with ``all_operations=True``
        (what the export kept and what it left out).
    %(shared_attributes)s

    Notes
    -----
    The search uses the training windows only: the validation set (``X_val``,
    or the split of ``validation_fraction``; the search needs one) early-stops
    the retrainings and chooses the final model. Each search step takes
    ``2 * batch_size`` windows, half real and half augmented.

    The policy starts, as in the reference, with operation logits,
    probabilities and magnitudes drawn uniformly in [0, 1] (from
    ``random_state``). After every policy step probabilities and magnitudes are
    projected back onto [0, 1].

    Departures from the reference (moskomule/dda): the reference searches 10
    sub-policies on CIFAR-10 and applies them all; here the policy has the
    shared ``n_subpolicies x n_stages`` budget of the AugNet paper's
    comparison and is exported by keeping each stage's most weighted operation
    (the reference keeps the relaxed policy); the gradient penalty's norm is
    taken per window over channels and time (the reference's takes it over the
    image channels only); the cross-entropy uses ``class_weight`` as every
    training of the package.

    Seeds: the critic's initialisation, the policy's initial values, the
    shuffling, the policy's draws and the penalty's interpolations, and the
    retrainings derive from ``random_state``. ``compute_time_`` has
    ``search_s`` (the search epochs) and ``retrain_s`` (every checkpoint's
    retraining); ``pretrain_s`` is 0.

    See Also
    --------
    FastAutoAugmentClassifier : Density matching by a frozen model and TPE.
    augsleep.augment.Policy : The policy (``"relaxed"`` mode in the search).
    """

    _parameter_constraints: dict = {
        **PolicySearchClassifier._parameter_constraints,
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "search_lr": [Interval(Real, 0, None, closed="neither")],
        "search_betas": ["array-like"],
        "cls_factor": [Interval(Real, 0, None, closed="left")],
        "gp_factor": [Interval(Real, 0, None, closed="left")],
        "n_chunks": [Interval(Integral, 1, None, closed="left")],
    }
    _FITTED = (
        *(a for a in PolicySearchClassifier._FITTED if a != "trials_"),
        "search_trace_",
        "search_policy_",
    )

    def __init__(
        self,
        search_budget=20,
        checkpoint_every=2,
        n_subpolicies=5,
        n_stages=2,
        operations=None,
        temperature=0.05,
        search_lr=1e-3,
        search_betas=(0.0, 0.999),
        cls_factor=0.1,
        gp_factor=10.0,
        n_chunks=8,
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
        self.temperature = temperature
        self.search_lr = search_lr
        self.search_betas = search_betas
        self.cls_factor = cls_factor
        self.gp_factor = gp_factor
        self.n_chunks = n_chunks

    def _check_params(self) -> None:
        super()._check_params()
        betas = (
            tuple(np.ravel(self.search_betas))
            if np.ndim(self.search_betas) == 1
            else ()
        )
        if len(betas) != 2 or not all(
            isinstance(b, Real) and 0 <= b < 1 for b in betas
        ):
            raise InvalidParameterError(
                f"The 'search_betas' parameter of {type(self).__name__} must be "
                f"two numbers in [0, 1) (Adam's beta1, beta2). Got "
                f"{self.search_betas!r} instead."
            )

    # ---------------------------------------------------------------- search
    def _search_policy(self, operations, generator: torch.Generator):
        """Build the relaxed policy, initialised uniformly in [0, 1] (reference)."""
        from augsleep.augment import Policy

        shape = (self.n_subpolicies, self.n_stages, len(operations))
        policy = Policy(
            operations,
            self.n_subpolicies,
            self.n_stages,
            probability=torch.rand(shape, generator=generator).numpy(),
            magnitude=torch.rand(shape, generator=generator).numpy(),
            temperature=float(self.temperature),
            mode="relaxed",
            n_chunks=self.n_chunks,
        )
        with torch.no_grad():
            policy._op_logits.copy_(torch.rand(shape, generator=generator))
        return policy

    def _make_search(self, data: _FitData, seeds, operations) -> DensityMatching:
        """Build the critic, the policy and their optimisers from the seeds."""
        device = self.device_
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seeds.init)
            critic = WGANCritic(
                self._build_trunk(len(self.classes_)), len(self.classes_)
            )
        init = torch.Generator().manual_seed(seeds.init)
        policy = self._search_policy(operations, init)
        critic, policy = critic.to(device), policy.to(device)
        betas = tuple(float(b) for b in np.ravel(self.search_betas))
        lr = float(self.search_lr)
        return DensityMatching(
            critic,
            policy,
            torch.optim.Adam(critic.parameters(), lr=lr, betas=betas),
            torch.optim.Adam(policy.parameters(), lr=lr, betas=betas),
            cls_factor=self.cls_factor,
            gp_factor=self.gp_factor,
            class_weight=self._class_weights(data.y_train_enc),
        )

    def _train(self, data, seeds):
        from tqdm.auto import tqdm

        if data.X_valid is None:
            raise ValueError(
                f"{type(self).__name__} early-stops its retrainings and chooses "
                "its final model on a validation set: pass X_val and y_val, or "
                "groups with validation_fraction."
            )
        if len(data.X_train) < 2:
            raise ValueError(
                f"{type(self).__name__}'s search needs at least 2 training "
                f"windows (one real, one augmented), got {len(data.X_train)}."
            )
        test = self._scaled_test_set()
        # Fails here, before any training, when the operations do not fit the data.
        operations = self._operations()
        search_seeds = _derived_seeds(seeds, _SEARCH_KEY)
        checkpoints = _Checkpoints(self, data, seeds, test)
        device = self.device_
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            # Dropout draws from torch's global generator: seed it (inside fork_rng).
            torch.manual_seed(search_seeds.train)
            search = self._make_search(data, search_seeds, operations)
            generator = make_generator(search_seeds.train, device)
            trace = []
            snapshots = [self._snapshot(search.policy, 0)]
            epochs = tqdm(
                range(self.search_budget),
                disable=not self.verbose,
                desc=f"{type(self).__name__} search",
                unit="ep",
            )
            for epoch in epochs:
                start = time.perf_counter()
                metrics = search.run_epoch(
                    data.X_train, data.y_train, self.batch_size, generator
                )
                trace.append(
                    {"epoch": epoch, **metrics, "time_s": time.perf_counter() - start}
                )
                logger.info(
                    "%s search epoch %d: critic gap %.4f, policy loss %.4f.",
                    type(self).__name__,
                    epoch,
                    metrics["critic_gap"],
                    metrics["policy_loss"],
                )
                n_done = epoch + 1
                if n_done % self.checkpoint_every == 0 or n_done == self.search_budget:
                    snapshots.append(self._snapshot(search.policy, n_done))
                    # Retrainings seed themselves (fork_rng inside _fit_module).
                    checkpoints.add(
                        search.policy.choices(),
                        n_trials=n_done,
                        best_trial=epoch,
                        trial_score=np.nan,
                    )
        phases = checkpoints.finish()
        self.search_trace_ = pd.DataFrame(trace, columns=list(TRACE_COLUMNS))
        self.search_policy_ = pd.concat(snapshots, ignore_index=True)
        return phases

    @staticmethod
    def _snapshot(policy, n_epochs: int) -> pd.DataFrame:
        """List the relaxed policy's every operation after ``n_epochs`` epochs."""
        frame = policy.to_frame(all_operations=True)
        frame.insert(0, "n_epochs", n_epochs)
        return frame
