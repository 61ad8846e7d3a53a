"""Training and prediction shared by the estimators and the demo.

- :func:`fit_loop` (-> :func:`run_epoch` -> :func:`train_step`): the one fit loop,
  with a pluggable loss (:class:`RegularizedNLLLoss` by default), a post-step
  hook, validation scoring, :class:`EarlyStopping` and a per-epoch history.
- :func:`make_optimizer`: Adam with the trunk and the augmentation in separate
  parameter groups.
- :func:`predict_log_proba` and the prediction batch sizes
  (:func:`predict_batch_size`, :data:`PREDICT_BATCH_VALUES`,
  :data:`CPU_TRUNK_CHUNK_VALUES`), with each window's augmentation draws seeded
  from the prediction seed and the window (:func:`window_seeds`).
- :func:`make_generator`: every random draw comes from a seeded generator.
"""

from augsleep.training._utils import make_generator, resolve_device
from augsleep.training.inference import (
    CPU_TRUNK_CHUNK_VALUES,
    PREDICT_BATCH_VALUES,
    predict_batch_size,
    predict_log_proba,
    trunk_chunk_size,
    window_generators,
    window_seeds,
)
from augsleep.training.loop import (
    EarlyStopping,
    FitResult,
    RegularizedNLLLoss,
    fit_loop,
    run_epoch,
    train_step,
)
from augsleep.training.optim import make_optimizer

__all__ = [
    "CPU_TRUNK_CHUNK_VALUES",
    "PREDICT_BATCH_VALUES",
    "EarlyStopping",
    "FitResult",
    "RegularizedNLLLoss",
    "fit_loop",
    "make_generator",
    "make_optimizer",
    "predict_batch_size",
    "predict_log_proba",
    "resolve_device",
    "run_epoch",
    "train_step",
    "trunk_chunk_size",
    "window_generators",
    "window_seeds",
]
