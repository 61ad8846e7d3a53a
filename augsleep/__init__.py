"""augsleep: sleep staging with learnable, differentiable augmentation (AugNet)."""

from augsleep._environment import check_torch_pair

# Before anything imports braindecode: a torchaudio from another torch release
# fails there with an obscure 'undefined symbol'; this names the pin instead.
check_torch_pair()

from augsleep.estimator import AugNetClassifier  # noqa: E402

__version__ = "0.1.0"
__all__ = ["AugNetClassifier"]
