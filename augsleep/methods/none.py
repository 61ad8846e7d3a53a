"""The no-augmentation baseline: the trunk alone, trained by the same loop."""

from __future__ import annotations

from augsleep.methods._docs import fill_doc
from augsleep.methods.base import BaseSleepClassifier


@fill_doc
class NoAugmentationClassifier(BaseSleepClassifier):
    """Sleep-stage classifier without augmentation (the baseline).

    The trunk alone, trained with the same loop, optimiser, early stopping and
    scaling as the augmented methods, so that differences come from the
    augmentation only. The ``"none"`` method of :data:`augsleep.methods.METHODS`;
    ``AugNetClassifier(None)`` trains the same model.

    Parameters
    ----------
    %(shared_parameters)s

    Attributes
    ----------
    %(shared_attributes)s

    See Also
    --------
    augsleep.methods.base.BaseSleepClassifier : Input, scaling, metric.
    """
