"""Fixed, hand-picked augmentation: braindecode transforms on training batches."""

from __future__ import annotations

import copy

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from torch import nn

from augsleep.methods._docs import fill_doc
from augsleep.methods._fixed import is_braindecode_transform, reseed_transforms
from augsleep.methods.base import BaseSleepClassifier


def default_sleep_transforms(probability: float = 0.5, phase_noise: float = 0.5):
    """Build the default fixed augmentation for sleep EEG.

    braindecode's ``TimeReverse``, ``SignFlip`` and ``FTSurrogate``, each applied
    to a window with probability ``probability``. Sleep stages are told apart
    mostly by the power in frequency bands (delta waves, theta, alpha, spindles)
    and all three keep the amplitude spectrum of every channel: reversing time
    and flipping the sign change only phases, and the Fourier-transform
    surrogate perturbs the phases by construction. They need no sampling rate,
    channel names or sensor positions, so the default runs on any input (even a
    single channel given as a 2-D array).

    Parameters
    ----------
    probability : float
        Probability that each transform applies to a window; 0.5 leaves a
        quarter of the windows in a batch unreversed and unflipped (a moderate
        strength, not a replacement of the data).
    phase_noise : float
        ``phase_noise_magnitude`` of the FT surrogate, in [0, 1]: phases get
        uniform noise up to ``2 pi * phase_noise`` (pi by default, half of
        braindecode's maximum).

    Returns
    -------
    transforms : list of braindecode Transform
    """
    from braindecode.augmentation import FTSurrogate, SignFlip, TimeReverse

    return [
        TimeReverse(probability),
        SignFlip(probability),
        FTSurrogate(probability, phase_noise_magnitude=phase_noise),
    ]


@fill_doc
class FixedAugmentationClassifier(BaseSleepClassifier):
    """Sleep-stage classifier trained with a fixed, hand-picked augmentation.

    The transforms apply to training batches only; prediction uses the trunk
    alone. The ``"fixed"`` method of :data:`augsleep.methods.METHODS`;
    ``AugNetClassifier(transforms)`` trains the same model.

    Parameters
    ----------
    transforms : braindecode Transform | list of braindecode Transform | None
        Applied in order to every training batch (each decides per window, with
        its ``probability``, whether it applies). Their numpy generators are
        reseeded from ``random_state``. Transforms that change labels (e.g.
        ``Mixup``) are not supported. ``None``: :func:`default_sleep_transforms`,
        time reverse, sign flip and FT surrogate (phase noise up to pi), each with
        probability 0.5: all keep the channels' amplitude spectra, which carry
        most of what separates sleep stages, and need no sensor information.
        ``export_policy`` of an :class:`augsleep.AugNetClassifier` gives
        transforms to use here.
    %(shared_parameters)s

    Attributes
    ----------
    %(shared_attributes)s

    See Also
    --------
    augsleep.methods.base.BaseSleepClassifier : Input, scaling, metric.
    """

    _parameter_constraints: dict = {
        **BaseSleepClassifier._parameter_constraints,
        "transforms": [list, tuple, nn.Module, None],
    }

    def __init__(
        self,
        transforms=None,
        *,
        trunk="chambon",
        lr=1e-3,
        betas=(0.0, 0.999),
        weight_decay=0.0,
        batch_size=16,
        max_epochs=300,
        patience=30,
        validation_fraction=0.2,
        class_weight="balanced",
        scaling="standard",
        sfreq=None,
        ch_names=None,
        positions=None,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        super().__init__(
            trunk=trunk,
            lr=lr,
            betas=betas,
            weight_decay=weight_decay,
            batch_size=batch_size,
            max_epochs=max_epochs,
            patience=patience,
            validation_fraction=validation_fraction,
            class_weight=class_weight,
            scaling=scaling,
            sfreq=sfreq,
            ch_names=ch_names,
            positions=positions,
            device=device,
            random_state=random_state,
            verbose=verbose,
        )
        self.transforms = transforms

    def _build_augmentation(self):
        if self.transforms is None:
            return default_sleep_transforms()
        items = (
            list(self.transforms)
            if isinstance(self.transforms, list | tuple)
            else [self.transforms]
        )
        if not items or not all(is_braindecode_transform(t) for t in items):
            raise TypeError(
                "transforms must be a braindecode Transform or a non-empty list of "
                f"them, got {self.transforms!r}."
            )
        return copy.deepcopy(items)

    def export_policy(self, random_state=None):
        """Return copies of the transforms used in training.

        Parameters
        ----------
        random_state : int | RandomState | None
            Reseeds the copies' numpy generators; ``None`` keeps their state.

        Returns
        -------
        transforms : list of braindecode Transform
            To apply in sequence (e.g. as ``transforms`` of braindecode's
            ``AugmentedDataLoader``).
        """
        check_is_fitted(self)
        transforms = copy.deepcopy(list(self.module_.trunk.transforms))
        if random_state is not None:
            seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
            reseed_transforms(transforms, int(seed))
        return transforms
