"""ADDA: the bilevel DARTS-style search of a relaxed policy (Rommel et al.).

ADDA ("automatic differentiable data augmentation", the class-agnostic method
of Rommel, Moreau, Paillard & Gramfort, CADDA, ICLR 2022, arXiv 2106.13695) is
the baseline the AugNet paper compares with in its sleep experiment (Fig. 6b).
The policy is the shared ``K x N`` architecture (5 sub-policies of 2 stages);
during the search it is relaxed as in Faster AutoAugment:
:class:`augsleep.augment.Policy` in ``"relaxed"`` mode, where each chunk of a
training batch gets a uniformly drawn sub-policy and each stage returns the
softmax-weighted sum (``temperature``) of its operations, each gated by a
relaxed Bernoulli draw of its probability (``gate_temperature``) and applied at
its differentiable magnitude. The operation weights, probabilities and
magnitudes are learned by the alternating bilevel steps of
:mod:`augsleep.methods._bilevel` (DARTS's unrolled hypergradient with the
finite-difference Hessian-vector product, CADDA's Algorithm 1), after a warm
start of the trunk without augmentation. At every checkpoint the policy is
exported to a discrete policy of the same budget (the most weighted operation
of every stage, with its probability and magnitude) and retrained from scratch.
"""

from __future__ import annotations

from augsleep.methods._bilevel import BilevelSearchClassifier
from augsleep.methods._docs import fill_doc


@fill_doc
class ADDAClassifier(BilevelSearchClassifier):
    """Sleep-stage classifier trained with a policy found by ADDA.

    The ``"adda"`` method of :data:`augsleep.methods.METHODS`: a relaxed
    ``n_subpolicies x n_stages`` policy learned by DARTS-style bilevel
    optimisation on the validation set, after a warm start of the trunk without
    augmentation; exported every ``checkpoint_every`` search epochs and
    retrained from scratch (see :mod:`augsleep.methods.adda` and
    :mod:`augsleep.methods._bilevel`).

    Parameters
    ----------
    search_budget : int
        Search epochs: passes over the training set, each batch giving one
        outer (policy) and one inner (trunk) step.
    checkpoint_every : int
        Every this many search epochs (the paper's Fig. 6b: 2), and always at
        the end, the policy is exported and retrained from scratch (fresh
        seeds), a row of ``search_history_``.
    n_subpolicies : int
        ``K``, sub-policies (paper: 5).
    n_stages : int
        ``N``, stages per sub-policy (paper: 2).
    operations : sequence of str | None
        Candidate operations (names of :data:`augsleep.transforms.TRANSFORMS`);
        ``None``: all 13 of Table A.4 that the data allow. The AugNet paper
        left the bandstop filter out of the differentiable methods for want of
        a differentiable version; augsleep's is differentiable, so it is a
        candidate unless ``operations`` leaves it out.
    %(bilevel_parameters)s
    %(shared_parameters)s

    Attributes
    ----------
    policy_choices_ : list of list of (str, float, float)
        The final (exported, discrete) policy: ``(operation, probability,
        magnitude)`` per stage, per sub-policy.
    policy_ : Policy
        The final policy as a module (property).
    trials_ : DataFrame
        One row per search epoch: ``trial`` (the epoch), ``valid_balanced_accuracy``
        (of the search trunk on the validation set, without augmentation, at the
        end of the epoch), ``best_epoch`` and ``n_epochs`` (NaN), ``time_s``,
        ``resumed`` (False), the epoch's means of ``train_loss`` (the augmented
        training loss of the unrolled steps), ``valid_loss`` (``L_valid(theta')``)
        and ``epsilon`` (the finite-difference step), then the exported
        policy's ``3 K N`` values at the end of the epoch.
    policy_history_ : DataFrame
        The relaxed policy at the end of every search epoch: ``epoch``, then
        the columns of :meth:`augsleep.augment.Policy.to_frame` with
        ``all_operations=True`` (one row per sub-policy, stage and operation:
        its softmax ``weight``, ``probability`` and ``magnitude``).
    search_history_ : DataFrame
        One row per checkpoint, with the columns of the other searches:
        ``n_trials`` counts search epochs, ``pretrain_s`` is the warm start
        (the same in every row, part of every row's ``total_s``),
        ``best_trial`` the epoch whose exported policy was retrained and
        ``trial_valid_balanced_accuracy`` its search trunk's score.
    %(shared_attributes)s

    Notes
    -----
    The search needs a validation set (``X_val`` and ``y_val``, or ``groups``
    with ``validation_fraction``): the outer loss is the class-weighted
    cross-entropy of the unrolled trunk on validation batches (not augmented).
    The inner and unrolled steps use the class-weighted cross-entropy of the
    augmented training batch; the trunk's Adam (``lr``, ``betas``) is a fresh
    one after the warm start, and its moments are not used by the unrolled
    step (:mod:`augsleep.training.bilevel`). The three evaluations of the
    training loss in one hypergradient replay the same augmentation and
    dropout draws, so that the finite differences measure the trunk's change
    only. Sub-policies are drawn uniformly per chunk of 8 of a batch and their
    weights are not learned; the exported policy weighs them uniformly.

    Seeds: the warm start, the search (policy, shuffling, validation batches,
    augmentation and dropout draws) and every retraining are derived from
    ``random_state``. ``compute_time_`` has ``pretrain_s`` (the warm start),
    ``search_s`` (the search epochs and their exports) and ``retrain_s`` (every
    checkpoint's retraining, the final model's included). An interrupted
    (Ctrl-C) search leaves the estimator unfitted, as the other searches.

    See Also
    --------
    CADDAClassifier : The same search with class-wise policies.
    FastAutoAugmentClassifier : Density matching, no bilevel problem.
    augsleep.training.bilevel : The hypergradient.
    """

    def _make_search_policy(self, operations):
        from augsleep.augment import Policy

        return Policy(
            operations,
            self.n_subpolicies,
            self.n_stages,
            temperature=self.temperature,
            gate_temperature=self.gate_temperature,
            mode="relaxed",
        )

    def _policy_parameters(self, policy):
        # Sub-policies are drawn uniformly: their logits get no gradient.
        return [policy._op_logits, policy._probabilities, policy._magnitudes]
