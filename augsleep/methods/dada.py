"""DADA: sub-policies of operation pairs, sampled per batch, RELAX gradients.

DADA (Li et al., ECCV 2020) searches over every sub-policy of ``N`` operations
(``subpolicy_space``: by default every ordered tuple, ``Q^N`` sub-policies over
``Q`` candidates; ``"combinations"``, the reference's, every set of ``N``
distinct operations, ``C(Q, N)``), each with its own probabilities and
magnitudes, and learned logits over the
sub-policies. Every training batch gets one sub-policy and hard gates of its
stages, drawn as RELAX draws (Grathwohl et al. 2018):
:func:`augsleep.augment.relaxation.relax_categorical` of the sub-policy logits
and :func:`~augsleep.augment.relaxation.relax_bernoulli` of the stages'
probabilities. The magnitudes get their gradients through the differentiable
operations; the logits and probabilities get RELAX estimates, with a learned
control variate (:class:`~augsleep.augment.relaxation.RelaxControlVariate`,
one hidden layer of 100, as DADA's ``QFunc``). The policy is learned
bilevel, DARTS-style (:mod:`augsleep.methods._bilevel`): the unrolled step of
the trunk on the augmented batch, the validation loss of the unrolled trunk,
and the finite-difference Hessian-vector product (``r = 1e-2``) of the RELAX
estimates at ``theta +- eps v``; architect Adam, lr 5e-3, betas (0.5, 0.999).
The export keeps the ``n_subpolicies`` sub-policies of largest weight (the
paper's shared budget: 5), with uniform weights, retrained from scratch.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import torch
from sklearn.utils._param_validation import StrOptions
from torch import Tensor, nn

from augsleep.methods._bilevel import BilevelSearchClassifier
from augsleep.methods._docs import fill_doc
from augsleep.methods._search import PolicySearchClassifier
from augsleep.training.bilevel import call_with

#: Probabilities are read in [EPS, 1 - EPS] for their logits (as DADA).
EPS = 1e-6


#: Search spaces of :class:`DADAClassifier` (``subpolicy_space``).
SUBPOLICY_SPACES = ("product", "combinations")


def subpolicy_tuples(names, n_stages: int, space: str = "product") -> list[tuple]:
    """List the operation tuples DADA searches over, one per sub-policy.

    Parameters
    ----------
    names : sequence of str
        The ``Q`` candidate operations, in order.
    n_stages : int
        ``N``, operations per sub-policy.
    space : {"product", "combinations"}
        ``"product"``: every ordered tuple, repetitions included (``Q ** N``);
        ``"combinations"``: the reference's (VDIGPKU/DADA
        ``search_relax/primitives.py``), every set of ``N`` distinct
        operations in the order of ``names`` (``C(Q, N)``: 105 pairs of its 15
        operations).

    Returns
    -------
    tuples : list of tuple of str
        In ``itertools`` order.
    """
    names = list(names)
    if space == "product":
        return list(itertools.product(names, repeat=n_stages))
    if space != "combinations":
        raise ValueError(f"space must be one of {SUBPOLICY_SPACES}, got {space!r}.")
    if len(names) < n_stages:
        raise ValueError(
            f"DADA's 'combinations' search space needs at least n_stages={n_stages} "
            f"distinct operations, got {len(names)}: {names}."
        )
    return list(itertools.combinations(names, n_stages))


class _DADASearchPolicy(nn.Module):
    """The policy over every operation tuple and RELAX's control variate."""

    def __init__(
        self, operations, n_stages, cv_temperature, generator, space="product"
    ):
        super().__init__()
        from augsleep.augment import Policy
        from augsleep.augment.relaxation import RelaxControlVariate

        names = [op.name for op in operations]
        tuples = subpolicy_tuples(names, n_stages, space)
        self.policy = Policy.from_choices(
            operations, [[(name, 0.5, 0.5) for name in t] for t in tuples]
        )
        K = len(tuples)
        # Index of each stage's operation, shape (K, N).
        self.register_buffer(
            "stage_ops",
            torch.tensor([[names.index(n) for n in t] for t in tuples]),
            persistent=False,
        )
        self.control_variate = RelaxControlVariate(
            K * n_stages + K, 100, temperature=cv_temperature, generator=generator
        )
        self.cv_optimizer = None  # built on the search's device, at first use

    def parameters_learned(self) -> list[Tensor]:
        p = self.policy
        return [p._subpolicy_logits, p._probabilities, p._magnitudes]

    def draw(self, generator):
        """RELAX draws of the sub-policy (one) and of every stage's gate."""
        from augsleep.augment.relaxation import relax_bernoulli, relax_categorical

        p = self.policy
        probabilities = p.probabilities.gather(-1, self.stage_ops.unsqueeze(-1))
        probabilities = probabilities.squeeze(-1).clamp(EPS, 1 - EPS)  # (K, N)
        gates = relax_bernoulli(
            torch.log(probabilities) - torch.log1p(-probabilities), generator
        )
        sub = relax_categorical(p._subpolicy_logits / p.temperature, generator)
        return gates, sub

    def apply(self, X: Tensor, gates, sub, generator) -> Tensor:
        """Augment ``X`` with the drawn sub-policy and gates (hard values)."""
        p = self.policy
        K, N, Q = p._magnitudes.shape
        hard = torch.zeros(K, N, Q, device=X.device, dtype=gates.b.dtype)
        hard = hard.scatter(
            -1, self.stage_ops.unsqueeze(-1), gates.b.detach()[..., None]
        )
        weights = nn.functional.one_hot(sub.b.detach(), K).to(X.dtype)
        return p.apply_relaxed(X, weights.expand(len(X), K), hard[None], generator)

    @torch.no_grad()
    def clamp_magnitudes_(self) -> None:
        self.policy.clamp_magnitudes_()


@fill_doc
class DADAClassifier(BilevelSearchClassifier):
    """Sleep-stage classifier trained with a policy found by DADA.

    The ``"dada"`` method of :data:`augsleep.methods.METHODS` (Li et al.
    2020): a search over every sub-policy of ``n_stages`` operations, one
    sub-policy and its gates drawn per training batch, RELAX gradients for the
    sub-policy logits and the probabilities, the magnitudes through the
    differentiable operations, DARTS-style bilevel steps; the
    ``n_subpolicies`` sub-policies of largest weight are exported and retrained
    from scratch (see :mod:`augsleep.methods.dada`).

    Parameters
    ----------
    search_budget : int
        Search epochs (one outer and one inner step per training batch).
    checkpoint_every : int
        Every this many search epochs (the paper's Fig. 6b: 2), and always at
        the end, the top sub-policies are exported and retrained from scratch,
        a row of ``search_history_``.
    n_subpolicies : int
        Sub-policies kept at export (the paper's shared budget: 5). The search
        itself is over every tuple of ``n_stages`` operations.
    n_stages : int
        Operations per sub-policy (DADA: 2, pairs).
    operations : sequence of str | None
        Candidate operations (names of :data:`augsleep.transforms.TRANSFORMS`);
        ``None``: all 13 of Table A.4 that the data allow.
    pretrain_epochs : int
        Warm start without augmentation (DADA has none: 0).
    policy_lr : float
        Adam learning rate of the policy and of the control variate (DADA's
        architect: 5e-3).
    policy_betas : tuple of float
        Their Adam ``(beta1, beta2)`` (DADA's architect: (0.5, 0.999)).
    unrolled_lr : float | None
        ``xi`` of the unrolled step; ``None`` uses ``lr``.
    fd_r : float
        ``r`` of the finite-difference Hessian-vector product (DADA: 1e-2).
    valid_batch_size : int | None
        Validation windows per outer step; ``None`` uses ``batch_size``.
    temperature : float
        Initial temperature of the control variate's relaxations (learned;
        DADA: 0.5).
    subpolicy_space : {"product", "combinations"}
        The sub-policies searched: ``"product"``, every ordered tuple of
        ``n_stages`` operations, repetitions included (``Q ** N``: 169 pairs
        of 13 operations); ``"combinations"``, the reference's, every set of
        ``n_stages`` distinct operations (``C(Q, N)``: 78 pairs of 13), which
        needs at least ``n_stages`` operations (:func:`subpolicy_tuples`).
    %(shared_parameters)s

    Attributes
    ----------
    policy_choices_ : list of list of (str, float, float)
        The exported policy: the ``n_subpolicies`` sub-policies of largest
        weight, best first, each ``(operation, probability, magnitude)`` per
        stage; retrained with uniform sub-policy weights.
    policy_ : Policy
        The final policy as a module (property).
    trials_ : DataFrame
        One row per search epoch, as :class:`ADDAClassifier`'s.
    policy_history_ : DataFrame
        Every sub-policy after every search epoch: ``epoch``, ``subpolicy``,
        ``subpolicy_weight`` (softmax of the logits), then per stage
        ``stage{s}_operation``, ``stage{s}_probability``,
        ``stage{s}_magnitude``.
    search_history_ : DataFrame
        One row per checkpoint, as :class:`ADDAClassifier`'s.
    %(shared_attributes)s

    Notes
    -----
    Departures from the reference (VDIGPKU/DADA ``search_relax``): the
    reference takes finite differences of the control variate's variance
    gradients too and steps them with the policy; here the control variate is
    trained on the mean of its variance losses at ``theta +- eps v`` with an
    Adam of its own (same settings), and the hypergradient keeps DARTS's
    factor ``xi`` (the reference drops it; Adam steps hardly depend on that
    scale). The search trunk is trained from the start (no warm start), as
    in the reference, unless ``pretrain_epochs`` asks for one. The reference
    searches the ``C(Q, N)`` sets of distinct operations
    (``subpolicy_space="combinations"``); the default here, every ordered
    tuple with repetitions (``Q ** N``), is kept so as not to change the
    results recorded with it (benchmarks/README.md). The reference's
    magnitudes get a straight-through gradient (the image's input gradient,
    summed); here they get the differentiable operations' own.

    In the finite-difference hypergradient the two RELAX estimates at
    ``theta +- eps v`` share their draws and their control variate, so the
    control variate's terms cancel: the policy's hypergradient is the
    score-function (REINFORCE) estimate ``(f(b; theta+) - f(b; theta-)) / (2
    eps) * d log p(b)``, one draw per outer step, as in the reference. On
    small data it needs hundreds of steps to move the policy (the bumps
    control: benchmarks/README.md, "Why Faster AutoAugment and DADA fail the
    toy controls").

    See Also
    --------
    ADDAClassifier : The relaxed 5 x 2 policy, autograd hypergradients.
    augsleep.augment.relaxation : The RELAX estimator.
    """

    _parameter_constraints: dict = {
        k: v
        for k, v in BilevelSearchClassifier._parameter_constraints.items()
        if k != "gate_temperature"
    } | {"subpolicy_space": [StrOptions(set(SUBPOLICY_SPACES))]}

    def __init__(
        self,
        search_budget=20,
        checkpoint_every=2,
        n_subpolicies=5,
        n_stages=2,
        operations=None,
        pretrain_epochs=0,
        policy_lr=5e-3,
        policy_betas=(0.5, 0.999),
        unrolled_lr=None,
        fd_r=1e-2,
        valid_batch_size=None,
        temperature=0.5,
        subpolicy_space="product",
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
        PolicySearchClassifier.__init__(
            self,
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
        self.subpolicy_space = subpolicy_space

    # ------------------------------------------------------------------ hooks
    def _make_search_policy(self, operations):
        # The control variate's initial weights: from torch's generator, seeded
        # by the caller (the search's seed).
        return _DADASearchPolicy(
            operations, self.n_stages, self.temperature, None, self.subpolicy_space
        )

    def _policy_parameters(self, policy):
        return policy.parameters_learned()

    def _augment(self, policy, X, y, generator):
        gates, sub = policy.draw(generator)
        return policy.apply(X, gates, sub, generator)

    def _train_gradient(self, search, X, y, draws):
        policy, trunk = search.policy, search.trunk
        params = policy.parameters_learned()
        cv = policy.control_variate
        cv_params = list(cv.parameters())
        if policy.cv_optimizer is None:
            policy.cv_optimizer = torch.optim.Adam(
                cv_params,
                lr=self.policy_lr,
                betas=tuple(float(b) for b in np.ravel(self.policy_betas)),
            )
            policy.cv_optimizer.zero_grad(set_to_none=True)
        from augsleep.augment.relaxation import relax_gradients

        def gradient(at):
            draws.restore()  # the draws of the unrolled step's loss
            gates, sub = policy.draw(search.generator)
            X_aug = policy.apply(X, gates, sub, search.generator)
            f_b = search._nll(call_with(trunk, at, X_aug), y)
            d_magnitudes = None
            if f_b.requires_grad:  # else no gated operation had a magnitude
                (d_magnitudes,) = torch.autograd.grad(
                    f_b, [params[2]], retain_graph=True, allow_unused=True
                )
            if d_magnitudes is None:
                d_magnitudes = torch.zeros_like(params[2])
            c_z = cv(cv.features([gates.z], [sub.z]))
            c_z_tilde = cv(cv.features([gates.z_tilde], [sub.z_tilde]))
            log_prob = gates.log_prob.sum() + sub.log_prob
            estimate = relax_gradients(f_b, log_prob, c_z, c_z_tilde, params[:2])
            # Half of the mean of the two evaluations' variance losses.
            (0.5 * estimate.variance_loss).backward(inputs=cv_params)
            return [*estimate.gradients, d_magnitudes.detach()]

        return gradient

    def _after_outer_step(self, policy):
        policy.clamp_magnitudes_()
        if policy.cv_optimizer is not None:
            policy.cv_optimizer.step()
            policy.cv_optimizer.zero_grad(set_to_none=True)

    def _export_choices(self, policy):
        weights = policy.policy.subpolicy_weights.detach().cpu().numpy()
        # Stable: ties keep the earlier sub-policy.
        top = np.argsort(-weights, kind="stable")[: self.n_subpolicies]
        choices = policy.policy.choices()
        return [choices[k] for k in top]

    def _policy_frame(self, policy):
        weights = policy.policy.subpolicy_weights.detach().cpu().numpy()
        rows = []
        for k, stages in enumerate(policy.policy.choices()):
            row = {"subpolicy": k, "subpolicy_weight": float(weights[k])}
            for s, (name, p, mu) in enumerate(stages):
                row[f"stage{s}_operation"] = name
                row[f"stage{s}_probability"] = p
                row[f"stage{s}_magnitude"] = mu
            rows.append(row)
        return pd.DataFrame(rows)
