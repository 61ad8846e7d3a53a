"""CADDA: ADDA with class-wise policies (Rommel et al. 2022).

CADDA ("class-wise automatic differentiable data augmentation", arXiv
2106.13695) searches, as ADDA, a relaxed ``K x N`` policy by DARTS-style
bilevel optimisation (:mod:`augsleep.methods._bilevel`), but one per class: the
training windows of class ``c`` are augmented by policy ``c``, with its own
operation weights, probabilities and magnitudes
(:class:`augsleep.augment.ClassWisePolicy` of relaxed
:class:`~augsleep.augment.Policy` objects during the search). The search space
grows with the number of classes; the hypergradient sees every class's policy
through the windows of that class. Each class's policy is exported as ADDA's
(the most weighted operation of every stage, with its probability and
magnitude) and retrained from scratch as a class-conditional training-time
augmentation: the fit loop passes the labels of each training batch
(``AugNet.uses_labels``); predictions are made without augmentation, since
labels are then unknown.
"""

from __future__ import annotations

from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from augsleep.methods._bilevel import BilevelSearchClassifier
from augsleep.methods._docs import fill_doc
from augsleep.methods._search import STAGE_FIELDS


@fill_doc
class CADDAClassifier(BilevelSearchClassifier):
    """Sleep-stage classifier trained with class-wise policies found by CADDA.

    The ``"cadda"`` method of :data:`augsleep.methods.METHODS`: ADDA's bilevel
    search (:class:`ADDAClassifier`) with one relaxed ``n_subpolicies x
    n_stages`` policy per class, exported every ``checkpoint_every`` search
    epochs as class-wise discrete policies and retrained from scratch with
    them (training batches only, each window augmented by its class's policy;
    see :mod:`augsleep.methods.cadda`).

    Parameters
    ----------
    search_budget : int
        Search epochs (one outer and one inner step per training batch).
    checkpoint_every : int
        Every this many search epochs (the paper's Fig. 6b: 2), and always at
        the end, the class-wise policies are exported and retrained from
        scratch, a row of ``search_history_``.
    n_subpolicies : int
        ``K``, sub-policies of every class's policy (paper: 5).
    n_stages : int
        ``N``, stages per sub-policy (paper: 2).
    operations : sequence of str | None
        Candidate operations (names of :data:`augsleep.transforms.TRANSFORMS`);
        ``None``: all 13 of Table A.4 that the data allow.
    %(bilevel_parameters)s
    %(shared_parameters)s

    Attributes
    ----------
    policy_choices_ : list of list of list of (str, float, float)
        The final class-wise policies: for every class index (the order of
        ``classes_``), ``(operation, probability, magnitude)`` per stage, per
        sub-policy.
    policy_ : ClassWisePolicy
        The final policies as a module (property).
    trials_ : DataFrame
        One row per search epoch, as :class:`ADDAClassifier`'s, the exported
        policies' values named ``class{c}_sub{k}_stage{s}_{field}``.
    policy_history_ : DataFrame
        The relaxed policies after every search epoch: ``epoch``, ``class``,
        then the columns of :meth:`augsleep.augment.Policy.to_frame` with
        ``all_operations=True``.
    search_history_ : DataFrame
        One row per checkpoint, as :class:`ADDAClassifier`'s (``policy`` holds
        the class-wise policies as JSON).
    %(shared_attributes)s

    Notes
    -----
    Everything else is ADDA's: warm start (``pretrain_s``), validation loss
    of the unrolled trunk on clean validation batches, the same draws replayed
    in the finite differences, seeds derived from ``random_state``. The
    exported augmentation is training-time only; :meth:`export_policy`
    returns a :class:`~augsleep.augment.ClassConditionalTransform`, called
    with the batch's class indices. ``augmentation_summary_`` lists every
    class's policy, ``layer`` numbering the stages of all classes in turn
    (``class * n_stages + stage``).

    See Also
    --------
    ADDAClassifier : One policy for every class.
    augsleep.augment.ClassWisePolicy : The class-wise policies.
    """

    def _make_search_policy(self, operations):
        from augsleep.augment import ClassWisePolicy, Policy

        return ClassWisePolicy(
            [
                Policy(
                    operations,
                    self.n_subpolicies,
                    self.n_stages,
                    temperature=self.temperature,
                    gate_temperature=self.gate_temperature,
                    mode="relaxed",
                )
                for _ in self.classes_
            ]
        )

    def _policy_parameters(self, policy):
        # As ADDA: uniform sub-policies, their logits get no gradient.
        return [
            t
            for p in policy.policies
            for t in (p._op_logits, p._probabilities, p._magnitudes)
        ]

    def _augment(self, policy, X, y, generator):
        return policy(X, generator, y=y)

    def _choices_params(self, choices):
        params = {}
        for c, policy in enumerate(choices):
            for k, stages in enumerate(policy):
                for s, stage in enumerate(stages):
                    for field, value in zip(STAGE_FIELDS, stage, strict=True):
                        params[f"class{c}_sub{k}_stage{s}_{field}"] = value
        return params

    def _choices_columns(self):
        return [
            f"class{c}_sub{k}_stage{s}_{field}"
            for c in range(len(self.classes_))
            for k in range(self.n_subpolicies)
            for s in range(self.n_stages)
            for field in STAGE_FIELDS
        ]

    def _build_augmentation(self):
        from augsleep.augment import ClassWisePolicy, TrainingOnly

        if getattr(self, "policy_choices_", None) is None:
            return None  # the warm start
        return TrainingOnly(
            ClassWisePolicy.from_choices(self._operations(), self.policy_choices_)
        )

    def export_policy(self, units="standardized", random_state=None):
        """Export the final class-wise policies as braindecode transforms.

        Parameters
        ----------
        units : {"standardized", "input"}
            Units of the Gaussian-noise standard deviation: of the scaled data
            the model saw, or of the input data (e.g. microvolts).
        random_state : int | None
            Seed of the exported transforms' numpy generators.

        Returns
        -------
        transforms : list of ClassConditionalTransform
            One transform, called as ``X, y = transform(X, y)`` with class
            indices ``y`` (the order of ``classes_``): every class's policy
            exported by :func:`augsleep.augment.export_policy`.
        """
        from augsleep.augment import ClassConditionalTransform

        check_is_fitted(self)
        rng = check_random_state(random_state)
        transforms = {
            c: self._export(policy, units, int(rng.randint(2**31 - 1)))
            for c, policy in enumerate(self.policy_.policies)
        }
        return [ClassConditionalTransform(transforms)]
