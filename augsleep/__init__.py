"""augsleep: sleep staging with learnable, differentiable augmentation (AugNet)."""

from augsleep._environment import check_torch_pair

# Before anything imports braindecode: a torchaudio from another torch release
# fails there with an obscure 'undefined symbol'; this names the pin instead.
check_torch_pair()

# From augsleep.methods, not augsleep.estimator: the methods package must start
# first (augsleep.estimator subclasses augsleep.methods.base).
from augsleep.methods import (  # noqa: E402
    METHODS,
    ADDAClassifier,
    AugerinoClassifier,
    AugNetClassifier,
    AutoAugmentClassifier,
    BaseSleepClassifier,
    CADDAClassifier,
    DADAClassifier,
    FastAutoAugmentClassifier,
    FasterAutoAugmentClassifier,
    FixedAugmentationClassifier,
    NoAugmentationClassifier,
    RandAugmentClassifier,
    RandomSearchClassifier,
)
from augsleep.persistence import load  # noqa: E402

__version__ = "0.1.0"
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
    "load",
]
