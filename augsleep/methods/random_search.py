"""Random search: policies drawn uniformly, each trained from scratch.

The simplest discrete search, and the control of the others: every trial draws
a whole policy of ``K`` sub-policies of ``N`` stages uniformly (per stage: an
operation among the candidates, a probability in [0, 1], a magnitude in
[0, 1]), independently of the earlier scores. Trials, checkpoints and timing
follow the shared protocol of :mod:`augsleep.methods._search`.
"""

from __future__ import annotations

import numpy as np

from augsleep.methods._docs import fill_doc
from augsleep.methods._search import (
    PROPOSER_KEY,
    PolicySearchClassifier,
    Proposer,
    derived_seed,
)


class _UniformProposer(Proposer):
    """Draw every stage's operation, probability and magnitude uniformly."""

    def __init__(self, names, n_subpolicies: int, n_stages: int, seed: int):
        self.names = list(names)
        self.shape = (n_subpolicies, n_stages)
        self.rng = np.random.default_rng(seed)

    def ask(self, trial):
        n_subpolicies, n_stages = self.shape
        rng = self.rng
        choices = [
            [
                (
                    self.names[int(rng.integers(len(self.names)))],
                    float(rng.uniform(0.0, 1.0)),
                    float(rng.uniform(0.0, 1.0)),
                )
                for _ in range(n_stages)
            ]
            for _ in range(n_subpolicies)
        ]
        return None, choices


@fill_doc
class RandomSearchClassifier(PolicySearchClassifier):
    """Sleep-stage classifier trained with a policy found by random search.

    The ``"random_search"`` method of :data:`augsleep.methods.METHODS`. Each
    trial draws a policy uniformly, trains a child model from scratch with it
    (training batches only) and scores it by its best validation balanced
    accuracy; every ``checkpoint_every`` trials and at the end, the best policy
    so far is retrained from scratch, and the retrained model with the best
    validation score is kept.

    Parameters
    ----------
    %(search_parameters)s
    %(shared_parameters)s

    Attributes
    ----------
    %(search_attributes)s
    %(shared_attributes)s

    Notes
    -----
    The search needs a validation set: pass ``X_val`` and ``y_val``, or
    ``groups`` with ``validation_fraction``. Policies are drawn from a numpy
    generator seeded from ``random_state``: the same ``random_state`` proposes
    the same policies. Ties go to the first trial, and to the first checkpoint.
    The magnitude of an operation without one (time reverse, sign flip,
    channels symmetry) is drawn but unused: those apply fully when gated.

    ``compute_time_`` has ``pretrain_s = 0``, ``search_s`` (the trials) and
    ``retrain_s`` (every checkpoint's retraining, the final model's included).

    See Also
    --------
    AutoAugmentClassifier : The same trials proposed by TPE.
    augsleep.augment.Policy : The policies searched.
    """

    def _make_proposer(self, seeds, operation_names):
        return _UniformProposer(
            operation_names,
            self.n_subpolicies,
            self.n_stages,
            derived_seed(seeds, PROPOSER_KEY),
        )
