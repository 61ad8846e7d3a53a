"""Sleep-staging methods with one API (:class:`BaseSleepClassifier`).

:data:`METHODS` maps a method's name to its estimator class. Every class takes
the shared parameters of :class:`BaseSleepClassifier` (trunk, optimiser, early
stopping, scaling, context, seed) plus its own, and has the same ``fit`` /
``predict`` / ``score``, ``history_``, ``augmentation_summary_`` and
``compute_time_``. Adding a method is one module: a subclass that overrides the
hooks of :mod:`augsleep.methods.base`, registered below.
"""

from augsleep.methods.base import BaseSleepClassifier
from augsleep.methods.fixed import FixedAugmentationClassifier
from augsleep.methods.none import NoAugmentationClassifier
from augsleep.methods.randaugment import RandAugmentClassifier
from augsleep.methods.random_search import RandomSearchClassifier

# isort: split
# After base, which augsleep.estimator subclasses: augsleep/__init__.py imports
# this package first, so the order holds whatever a user imports.
from augsleep.estimator import AugNetClassifier
from augsleep.methods.adda import ADDAClassifier
from augsleep.methods.augerino import AugerinoClassifier
from augsleep.methods.autoaugment import AutoAugmentClassifier
from augsleep.methods.cadda import CADDAClassifier
from augsleep.methods.dada import DADAClassifier
from augsleep.methods.fast_autoaugment import FastAutoAugmentClassifier
from augsleep.methods.faster_autoaugment import FasterAutoAugmentClassifier

#: Estimator class of each method, by name.
METHODS: dict[str, type[BaseSleepClassifier]] = {
    "none": NoAugmentationClassifier,
    "fixed": FixedAugmentationClassifier,
    "augnet": AugNetClassifier,
    "augerino": AugerinoClassifier,
    "randaugment": RandAugmentClassifier,
    "random_search": RandomSearchClassifier,
    "autoaugment": AutoAugmentClassifier,
    "fast_autoaugment": FastAutoAugmentClassifier,
    "faster_autoaugment": FasterAutoAugmentClassifier,
    "adda": ADDAClassifier,
    "cadda": CADDAClassifier,
    "dada": DADAClassifier,
}

__all__ = [
    "METHODS",
    "ADDAClassifier",
    "AugNetClassifier",
    "AugerinoClassifier",
    "AutoAugmentClassifier",
    "BaseSleepClassifier",
    "CADDAClassifier",
    "DADAClassifier",
    "FastAutoAugmentClassifier",
    "FasterAutoAugmentClassifier",
    "FixedAugmentationClassifier",
    "NoAugmentationClassifier",
    "RandAugmentClassifier",
    "RandomSearchClassifier",
]
