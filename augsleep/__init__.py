"""augsleep: sleep staging with learnable differentiable augmentation layers (AugNet)."""

__version__ = "0.1.0"
