"""Learnable augmentation: layers of weighted transforms, presets, regularisers.

- :class:`AugLayer` (``sum_q w_q T_q(x; mu_q)``, learning the weights ``w_q`` and
  magnitudes ``mu_q`` of stateless :mod:`augsleep.transforms`),
  :class:`AugmentationModule` (a stack of layers) and :class:`Identity` (no
  augmentation, as an object): :mod:`augsleep.augment.layers`;
- the paper's presets (:func:`make_sleep_augmentation`...):
  :mod:`augsleep.augment.presets`;
- the invariance-promoting regularisers (:func:`regularization`) and their
  schedules (:func:`lambda_at`): :mod:`augsleep.augment.regularizers`;
- ADA policies: :class:`Policy` (sub-policies of (operation, probability,
  magnitude) stages), :class:`RandAugment`, and :func:`make_operations` (the
  13 operations the data allow): :mod:`augsleep.augment.policy`,
  :mod:`augsleep.augment.randaugment`, :mod:`augsleep.augment.operations`;
- class-wise policies (CADDA: one policy per class, applied given the labels)
  and their export: :mod:`augsleep.augment.classwise`;
- gradient estimators for the policies' discrete choices (straight-through,
  Gumbel-softmax, RELAX): :mod:`augsleep.augment.relaxation`;
- :func:`export_policy`, the learned layers as braindecode transforms:
  :mod:`augsleep.augment.export`, imported on first use (it imports
  braindecode, which takes seconds).
"""

from __future__ import annotations

from augsleep.augment.classwise import ClassConditionalTransform, ClassWisePolicy
from augsleep.augment.layers import (
    SUMMARY_COLUMNS,
    AugLayer,
    AugmentationModule,
    Identity,
)
from augsleep.augment.operations import (
    MULTICHANNEL_OPERATIONS,
    OPERATIONS,
    make_operations,
)
from augsleep.augment.policy import POLICY_COLUMNS, Policy
from augsleep.augment.presets import (
    SENSOR_TRANSFORMS,
    SINUSOID_TRANSFORMS,
    TIME_FREQUENCY_TRANSFORMS,
    make_sleep_augmentation,
)
from augsleep.augment.randaugment import RandAugment
from augsleep.augment.regularizers import (
    REGULARIZERS,
    LambdaLike,
    lambda_at,
    regularization,
)
from augsleep.augment.training_only import TrainingOnly

#: Names served from :mod:`augsleep.augment.export` on first access.
_EXPORT = ("TransformChoice", "export_policy")


def __getattr__(name: str):
    """Import the braindecode export only when one of its names is used."""
    if name in _EXPORT:
        from augsleep.augment import export

        return getattr(export, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "MULTICHANNEL_OPERATIONS",
    "OPERATIONS",
    "POLICY_COLUMNS",
    "REGULARIZERS",
    "SENSOR_TRANSFORMS",
    "SINUSOID_TRANSFORMS",
    "SUMMARY_COLUMNS",
    "TIME_FREQUENCY_TRANSFORMS",
    "AugLayer",
    "AugmentationModule",
    "ClassConditionalTransform",
    "ClassWisePolicy",
    "Identity",
    "LambdaLike",
    "Policy",
    "RandAugment",
    "TrainingOnly",
    "TransformChoice",
    "export_policy",
    "lambda_at",
    "make_operations",
    "make_sleep_augmentation",
    "regularization",
]
