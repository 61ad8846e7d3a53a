"""augsleep: sleep staging with learnable, differentiable augmentation (AugNet)."""

from augsleep.estimator import AugNetClassifier

__version__ = "0.1.0"
__all__ = ["AugNetClassifier"]
