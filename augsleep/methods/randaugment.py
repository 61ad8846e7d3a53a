"""RandAugment: ``N`` random operations at one magnitude ``M``, chosen on validation.

Cubuk et al. (2020) replace a learned policy by two numbers: every training batch
goes through ``N`` operations drawn uniformly from the candidates (the 13 of the
AugNet paper's Table A.4 that the data allow), all at magnitude ``M``
(:class:`augsleep.augment.RandAugment`). ``(N, M)`` is chosen by a grid search:
each grid point trains the trunk from scratch and is scored by its best
validation balanced accuracy; then the trunk is trained again, from a fresh
initialisation, with the best point. Both phases are timed: ``search_s`` (the
grid) and ``retrain_s`` (the final training) in ``compute_time_``.
"""

from __future__ import annotations

import itertools
import logging
import time
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, InvalidParameterError
from sklearn.utils.validation import check_is_fitted

from augsleep.methods._docs import fill_doc
from augsleep.methods.base import BaseSleepClassifier, _derived_seeds

logger = logging.getLogger(__name__)

#: Columns of ``search_history_``.
SEARCH_COLUMNS = (
    "trial",
    "n_ops",
    "magnitude",
    "valid_balanced_accuracy",
    "best_epoch",
    "n_epochs",
    "time_s",
)


@fill_doc
class RandAugmentClassifier(BaseSleepClassifier):
    """Sleep-stage classifier trained with RandAugment, ``(N, M)`` by grid search.

    The ``"randaugment"`` method of :data:`augsleep.methods.METHODS`. The policy
    augments training batches only; prediction uses the trunk alone.

    Parameters
    ----------
    n_ops_grid : sequence of int
        Candidate numbers ``N`` of operations per batch.
    magnitude_grid : sequence of float
        Candidate magnitudes ``M`` in [0, 1] (each operation's range at ``M = 1``
        is the paper's Table A.4).
    operations : sequence of str | None
        Candidate operations (names of :data:`augsleep.transforms.TRANSFORMS`);
        ``None``: all 13 that the data allow (:func:`augsleep.augment.
        make_operations`: one channel leaves out the channel operations, missing
        names or positions leave out symmetry or rotations).
    search_budget : int | None
        Grid points to try: ``None`` tries all of them; an int tries that many,
        drawn without replacement from the grid with ``random_state``.
    %(shared_parameters)s

    Attributes
    ----------
    n_ops_, magnitude_ : int, float
        The chosen ``(N, M)``.
    policy_ : RandAugment
        The augmentation used in the final training.
    search_history_ : DataFrame
        One row per grid point tried, in order: ``trial``, ``n_ops``,
        ``magnitude``, ``valid_balanced_accuracy`` (best over its epochs),
        ``best_epoch``, ``n_epochs``, ``time_s``.
    %(shared_attributes)s

    Notes
    -----
    Choosing ``(N, M)`` needs a validation set: pass ``X_val`` and ``y_val``, or
    ``groups`` with ``validation_fraction``. Ties go to the first grid point
    tried. Every grid point and the final training use the same early stopping
    (``patience``, ``max_epochs``). A ``KeyboardInterrupt`` during the search
    leaves the estimator unfitted and is re-raised; during the final training it
    is handled as ``fit`` describes (the finished epochs and best weights kept).

    See Also
    --------
    augsleep.augment.RandAugment : The augmentation itself.
    augsleep.methods.base.BaseSleepClassifier : Input, scaling, metric.
    """

    _parameter_constraints: dict = {
        **BaseSleepClassifier._parameter_constraints,
        "n_ops_grid": ["array-like"],
        "magnitude_grid": ["array-like"],
        "operations": ["array-like", None],
        "search_budget": [Interval(Integral, 1, None, closed="left"), None],
    }
    _FITTED = (*BaseSleepClassifier._FITTED, "n_ops_", "magnitude_", "search_history_")

    def __init__(
        self,
        n_ops_grid=(1, 2),
        magnitude_grid=(0.25, 0.5, 0.75),
        operations=None,
        search_budget=None,
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
        self.n_ops_grid = n_ops_grid
        self.magnitude_grid = magnitude_grid
        self.operations = operations
        self.search_budget = search_budget

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        super()._check_params()
        n_ops = list(np.ravel(self.n_ops_grid))
        if not n_ops or not all(
            isinstance(n, Integral) and not isinstance(n, bool) and n >= 1
            for n in n_ops
        ):
            raise InvalidParameterError(
                "The 'n_ops_grid' parameter of RandAugmentClassifier must be "
                f"integers >= 1, got {self.n_ops_grid!r}."
            )
        mags = list(np.ravel(self.magnitude_grid))
        if not mags or not all(
            isinstance(m, Real) and np.isfinite(m) and 0 <= m <= 1 for m in mags
        ):
            raise InvalidParameterError(
                "The 'magnitude_grid' parameter of RandAugmentClassifier must be "
                f"numbers in [0, 1], got {self.magnitude_grid!r}."
            )

    def _grid(self) -> list[tuple[int, float]]:
        """List the grid points to try, in order (all, or ``search_budget`` drawn)."""
        grid = [
            (int(n), float(m))
            for n, m in itertools.product(
                np.ravel(self.n_ops_grid), np.ravel(self.magnitude_grid)
            )
        ]
        if self.search_budget is None or self.search_budget >= len(grid):
            return grid
        rng = check_random_state(self.random_state)
        order = rng.permutation(len(grid))[: self.search_budget]
        return [grid[i] for i in order]

    # ------------------------------------------------------------------- hooks
    def _build_augmentation(self):
        from augsleep.augment import RandAugment, TrainingOnly, make_operations

        operations = make_operations(
            None if self.operations is None else list(self.operations),
            n_chans=self.n_chans_in_,
            sfreq=self.sfreq_,
            ch_names=self.ch_names_,
            positions=self.positions_,
        )
        return TrainingOnly(RandAugment(operations, self.n_ops_, self.magnitude_))

    # --------------------------------------------------------------- training
    def _train(self, data, seeds) -> dict[str, float]:
        if data.X_valid is None:
            raise ValueError(
                f"{type(self).__name__} chooses (N, M) on a validation set: pass "
                "X_val and y_val, or groups with validation_fraction."
            )
        search_start = time.perf_counter()
        records = []
        for trial, (n_ops, magnitude) in enumerate(self._grid()):
            start = time.perf_counter()
            self.n_ops_, self.magnitude_ = n_ops, magnitude
            result = self._fit_module(data, _derived_seeds(seeds, trial))
            if result.interrupted:
                # Ctrl-C in the search: no final model was trained, nothing to keep.
                raise KeyboardInterrupt
            records.append(
                {
                    "trial": trial,
                    "n_ops": n_ops,
                    "magnitude": magnitude,
                    "valid_balanced_accuracy": result.best_score,
                    "best_epoch": result.best_epoch,
                    "n_epochs": result.n_epochs,
                    "time_s": time.perf_counter() - start,
                }
            )
            logger.info(
                "RandAugment trial %d: N=%d, M=%.3g, validation balanced accuracy "
                "%.4f.",
                trial,
                n_ops,
                magnitude,
                result.best_score,
            )
        self.search_history_ = pd.DataFrame(records, columns=list(SEARCH_COLUMNS))
        best = int(np.argmax(self.search_history_["valid_balanced_accuracy"]))
        self.n_ops_ = int(self.search_history_["n_ops"].iloc[best])
        self.magnitude_ = float(self.search_history_["magnitude"].iloc[best])
        search_s = time.perf_counter() - search_start

        retrain_start = time.perf_counter()
        self._finalise(self._fit_module(data, seeds))
        return {
            "pretrain_s": 0.0,
            "search_s": search_s,
            "retrain_s": time.perf_counter() - retrain_start,
        }

    # ------------------------------------------------------------- inspection
    @property
    def policy_(self):
        """The :class:`~augsleep.augment.RandAugment` of the final training."""
        check_is_fitted(self)
        return self.module_.augmentation.policy

    def export_policy(self, units="standardized", random_state=None):
        """Export the chosen RandAugment as braindecode transforms.

        See :func:`augsleep.augment.export_policy`.

        Parameters
        ----------
        units : {"standardized", "input"}
            Units of the Gaussian-noise standard deviation: of the scaled data
            the model saw, or of the input data (e.g. microvolts).
        random_state : int | None
            Seed of the exported transforms' numpy generators.

        Returns
        -------
        transforms : list of braindecode Transform
            ``n_ops_`` uniform choices over the operations, to apply in sequence.
        """
        check_is_fitted(self)
        return self._export(self.policy_, units, random_state)
