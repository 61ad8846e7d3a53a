"""AugNet and the trunk networks it wraps."""

from augsleep.models.augnet import AugNet
from augsleep.models.trunks import MLP, SinusoidCNN, chambon_trunk

__all__ = ["MLP", "AugNet", "SinusoidCNN", "chambon_trunk"]
