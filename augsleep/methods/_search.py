"""The search protocol shared by the ADA methods that try policies one at a time.

AutoAugment (TPE in place of its PPO controller, as in the AugNet paper) and
random search share one protocol, the one behind the paper's Fig. 6b (Fast and
Faster AutoAugment reuse its checkpoints, :class:`_Checkpoints`, with search
loops of their own: :mod:`augsleep.methods.fast_autoaugment`,
:mod:`augsleep.methods.faster_autoaugment`):

1. a proposer (:class:`Proposer`) suggests a policy of ``K`` sub-policies of
   ``N`` stages (operation, probability, magnitude);
2. a child model is trained from scratch with it (``TrainingOnly(policy)``:
   training batches only, child seeds of its own) and scored by its best
   validation balanced accuracy (early stopping as every training);
3. every ``checkpoint_every`` trials, and always at the end, the best policy so
   far is retrained from scratch with fresh seeds: a point of
   ``search_history_`` (seconds so far, validation and optional test score);
4. the final model is the retrained model of the checkpoint with the best
   validation score, kept as trained (no further training).

Test data given to ``fit`` are only scored at the checkpoints; nothing is chosen
on them. Every second is measured wall-clock with :func:`time.perf_counter`.
"""

from __future__ import annotations

import json
import logging
import math
import time
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from augsleep.methods._input import check_labels, check_windows
from augsleep.methods.base import (
    BaseSleepClassifier,
    _derived_seeds,
    _FitData,
    _Seeds,
)

logger = logging.getLogger(__name__)

#: First columns of ``trials_`` (then the proposer's own, then the policy's).
TRIAL_COLUMNS = (
    "trial",
    "valid_balanced_accuracy",
    "best_epoch",
    "n_epochs",
    "time_s",
    "resumed",
)
#: Columns of ``search_history_`` (``test_balanced_accuracy`` only with test data).
CHECKPOINT_COLUMNS = (
    "step",
    "n_trials",
    "search_s",
    "step_search_s",
    "pretrain_s",
    "retrain_s",
    "total_s",
    "valid_balanced_accuracy",
    "test_balanced_accuracy",
    "best_trial",
    "trial_valid_balanced_accuracy",
    "policy",
)
#: Stage values of a policy, in the order of the parameter names.
STAGE_FIELDS = ("operation", "probability", "magnitude")

# Keys that keep the seeds of trials, retrainings and proposers apart.
_TRIAL_KEY, _RETRAIN_KEY, PROPOSER_KEY = 0, 1, 2

Choices = list[list[tuple[str, float, float]]]


def policy_parameter_names(n_subpolicies: int, n_stages: int) -> list[str]:
    """Name the ``3 K N`` values of a policy (``trials_`` columns, Optuna params).

    Parameters
    ----------
    n_subpolicies, n_stages : int
        ``K`` and ``N``.

    Returns
    -------
    names : list of str
        ``sub{k}_stage{s}_{operation|probability|magnitude}``, sub-policy by
        sub-policy, stage by stage.
    """
    return [
        f"sub{k}_stage{s}_{field}"
        for k in range(n_subpolicies)
        for s in range(n_stages)
        for field in STAGE_FIELDS
    ]


def choices_to_params(choices: Choices) -> dict[str, Any]:
    """Flatten a policy's choices into its named values.

    Parameters
    ----------
    choices : list of list of (str, float, float)
        ``(operation, probability, magnitude)`` per stage, per sub-policy.

    Returns
    -------
    params : dict
        Values by the names of :func:`policy_parameter_names`.
    """
    params = {}
    for k, stages in enumerate(choices):
        for s, stage in enumerate(stages):
            for field, value in zip(STAGE_FIELDS, stage, strict=True):
                params[f"sub{k}_stage{s}_{field}"] = value
    return params


def params_to_choices(params, n_subpolicies: int, n_stages: int) -> Choices:
    """Inverse of :func:`choices_to_params`.

    Parameters
    ----------
    params : mapping
        Values by the names of :func:`policy_parameter_names` (extra keys are
        ignored).
    n_subpolicies, n_stages : int
        ``K`` and ``N``.

    Returns
    -------
    choices : list of list of (str, float, float)
    """
    return [
        [
            (
                str(params[f"sub{k}_stage{s}_operation"]),
                float(params[f"sub{k}_stage{s}_probability"]),
                float(params[f"sub{k}_stage{s}_magnitude"]),
            )
            for s in range(n_stages)
        ]
        for k in range(n_subpolicies)
    ]


def derived_seed(seeds: _Seeds, *key: int) -> int:
    """One seed drawn from the fit's seeds and a key (e.g. a proposer's)."""
    state = np.random.SeedSequence([seeds.init, seeds.train, *key]).generate_state(1)
    return int(state[0] % 2**31)


class Proposer:
    """Where the policies of a search come from (the part a method defines).

    Subclasses implement :meth:`ask`; a proposer that learns from the scores
    (TPE) uses :meth:`tell`, one that stores its trials (an Optuna storage)
    returns them from :meth:`previous` so that they are not run again.
    """

    #: Columns the proposer adds to ``trials_`` (after :data:`TRIAL_COLUMNS`).
    extra_columns: tuple[str, ...] = ()

    def previous(self) -> list[dict]:
        """Return trials finished before this fit, as ``trials_`` records."""
        return []

    def ask(self, trial: int) -> tuple[Any, Choices]:
        """Propose the policy of a trial.

        Parameters
        ----------
        trial : int
            Index of the trial in the search (0, 1, ...).

        Returns
        -------
        handle : object
            Passed back to :meth:`tell` or :meth:`abandon`.
        choices : list of list of (str, float, float)
            The policy (:meth:`augsleep.augment.Policy.from_choices` form).
        """
        raise NotImplementedError

    def tell(self, handle, record: dict) -> None:
        """Report a finished trial (its ``trials_`` record; may add columns)."""

    def abandon(self, handle) -> None:
        """Report a trial that raised (e.g. interrupted) before it finished."""


class _Checkpoints:
    """Checkpoints of a search: retrain a policy, record a row, keep the best.

    Shared by every search: the trial-by-trial protocol of
    :class:`PolicySearchClassifier`, Fast AutoAugment's density matching and
    Faster AutoAugment's search epochs.
    Seconds of search are counted from the creation of this object (or the
    previous checkpoint) to each checkpoint; ``pretrain_s`` is a constant
    offset of every row (measured before the search).

    Parameters
    ----------
    clf : PolicySearchClassifier
        The estimator being fitted (its ``_fit_module`` retrains).
    data : _FitData
        The whole training set and the validation set.
    seeds : _Seeds
        The fit's seeds (each checkpoint's retraining derives its own).
    test : tuple of (Tensor, ndarray) | None
        Scaled test windows and labels, only scored.
    pretrain_s : float
        Seconds of pretraining before the search (0 without one).
    """

    def __init__(self, clf, data, seeds, test, pretrain_s: float = 0.0):
        self.clf, self.data, self.seeds, self.test = clf, data, seeds, test
        self.pretrain_s = float(pretrain_s)
        #: Cumulative seconds of search (a resumed search adds its earlier trials').
        self.search_s = 0.0
        self.fit_search_s = self.fit_retrain_s = 0.0
        self.rows: list[dict] = []
        self.best = None  # (score, module, FitResult, choices) of the best one
        #: Step of the best checkpoint (None before the first).
        self.best_step: int | None = None
        self._segment_start = time.perf_counter()

    def add(self, choices: Choices, *, n_trials, best_trial, trial_score) -> dict:
        """Retrain ``choices`` from scratch and record a ``search_history_`` row.

        Parameters
        ----------
        choices : list of list of (str, float, float)
            The policy to retrain.
        n_trials : int
            Trials done so far.
        best_trial : int
            The trial the policy comes from (its best one, for a merged policy).
        trial_score : float
            That trial's search score.

        Returns
        -------
        row : dict
            The recorded row.
        """
        clf = self.clf
        step_search_s = time.perf_counter() - self._segment_start
        self.search_s += step_search_s
        self.fit_search_s += step_search_s
        step = len(self.rows)
        clf.policy_choices_ = choices
        start = time.perf_counter()
        result = clf._fit_module(
            self.data, _derived_seeds(self.seeds, _RETRAIN_KEY, step)
        )
        if result.interrupted:
            raise KeyboardInterrupt  # as in the trials: the search stops
        retrain_s = time.perf_counter() - start
        self.fit_retrain_s += retrain_s
        row = {
            "step": step,
            "n_trials": n_trials,
            "search_s": self.search_s,
            "step_search_s": step_search_s,
            "pretrain_s": self.pretrain_s,
            "retrain_s": retrain_s,
            "total_s": self.pretrain_s + self.search_s + retrain_s,
            "valid_balanced_accuracy": result.best_score,
            "best_trial": best_trial,
            "trial_valid_balanced_accuracy": trial_score,
            "policy": json.dumps(choices),
        }
        if self.test is not None:
            row["test_balanced_accuracy"] = clf._test_score(self.test, self.seeds)
        self.rows.append(row)
        logger.info(
            "%s checkpoint %d after %d trials: retrained trial %d's policy, "
            "validation balanced accuracy %.4f.",
            type(clf).__name__,
            step,
            n_trials,
            best_trial,
            result.best_score,
        )
        # Ties keep the earlier checkpoint, as the trials do.
        if self.best is None or result.best_score > self.best[0]:
            self.best = (result.best_score, clf.module_, result, choices)
            self.best_step = step
        self._segment_start = time.perf_counter()
        return row

    def finish(self) -> dict[str, float]:
        """Keep the best checkpoint's model; set ``search_history_``.

        Returns
        -------
        phases : dict
            ``pretrain_s``, ``search_s`` and ``retrain_s`` of this fit.
        """
        clf = self.clf
        _, clf.module_, result, clf.policy_choices_ = self.best
        clf._finalise(result)
        columns = [
            c
            for c in CHECKPOINT_COLUMNS
            if c != "test_balanced_accuracy" or self.test is not None
        ]
        clf.search_history_ = pd.DataFrame(self.rows, columns=columns)
        return {
            "pretrain_s": self.pretrain_s,
            "search_s": self.fit_search_s,
            "retrain_s": self.fit_retrain_s,
        }


class PolicySearchClassifier(BaseSleepClassifier):
    """Base of the methods that search a policy trial by trial (not used directly).

    Subclasses define :meth:`_make_proposer`; the search loop, the checkpoints,
    the timing and the choice of the final model are here (see
    :mod:`augsleep.methods._search`). Parameters and attributes are
    documented in the subclasses (:class:`augsleep.RandomSearchClassifier`,
    :class:`augsleep.AutoAugmentClassifier`).
    """

    _parameter_constraints: dict = {
        **BaseSleepClassifier._parameter_constraints,
        "search_budget": [Interval(Integral, 1, None, closed="left")],
        "checkpoint_every": [Interval(Integral, 1, None, closed="left")],
        "n_subpolicies": [Interval(Integral, 1, None, closed="left")],
        "n_stages": [Interval(Integral, 1, None, closed="left")],
        "operations": ["array-like", None],
    }
    _FITTED = (
        *BaseSleepClassifier._FITTED,
        "policy_choices_",
        "trials_",
        "search_history_",
    )

    def __init__(
        self,
        search_budget=20,
        checkpoint_every=5,
        n_subpolicies=5,
        n_stages=2,
        operations=None,
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
        self.search_budget = search_budget
        self.checkpoint_every = checkpoint_every
        self.n_subpolicies = n_subpolicies
        self.n_stages = n_stages
        self.operations = operations

    # -------------------------------------------------------------------- fit
    def fit(self, X, y, groups=None, X_val=None, y_val=None, X_test=None, y_test=None):
        """Search a policy, retrain it at every checkpoint, keep the best model.

        Parameters
        ----------
        X : array-like, shape (n_windows, n_channels, n_times) or \
(n_windows, n_times) | mne.Epochs
            Training windows.
        y : array-like, shape (n_windows,)
            Labels.
        groups : array-like, shape (n_windows,) | None
            Group (e.g. subject) of every window, to split off the validation
            set by group.
        X_val, y_val : array-like | mne.Epochs | None
            Explicit validation set. The search needs one (this or the split):
            it scores the trials, the checkpoints, and chooses the final model.
        X_test, y_test : array-like | mne.Epochs | None
            Test set, only scored: the balanced accuracy of every checkpoint's
            retrained model goes to ``search_history_.test_balanced_accuracy``
            (the y-axis of the paper's Fig. 6b). It chooses nothing: trials,
            checkpoints and the final model are the same with or without it.

        Returns
        -------
        self : PolicySearchClassifier
            The fitted estimator.
        """
        if (X_test is None) != (y_test is None):
            raise ValueError("Pass both X_test and y_test, or neither.")
        # The fit chain's hooks take no test set: lend it to _train for this call.
        self._test_set = (X_test, y_test)
        try:
            return super().fit(X, y, groups=groups, X_val=X_val, y_val=y_val)
        finally:
            del self._test_set

    # ------------------------------------------------------------------ hooks
    def _make_proposer(self, seeds: _Seeds, operation_names: list[str]) -> Proposer:
        """Build the proposer of this fit's policies (the method's part).

        Parameters
        ----------
        seeds : _Seeds
            The fit's seeds (derive the proposer's with :func:`derived_seed`).
        operation_names : list of str
            Names of the candidate operations.

        Returns
        -------
        proposer : Proposer
        """
        raise NotImplementedError

    def _operations(self):
        from augsleep.augment import make_operations

        return make_operations(
            None if self.operations is None else list(self.operations),
            n_chans=self.n_chans_in_,
            sfreq=self.sfreq_,
            ch_names=self.ch_names_,
            positions=self.positions_,
        )

    def _build_augmentation(self):
        from augsleep.augment import Policy, TrainingOnly

        # policy_choices_ is the trial's or checkpoint's policy during the search,
        # the final one after fit (and when a saved model is rebuilt).
        policy = Policy.from_choices(self._operations(), self.policy_choices_)
        return TrainingOnly(policy)

    # --------------------------------------------------------------- training
    def _scaled_test_set(self):
        """Validate and scale the test set lent by ``fit`` (None without one)."""
        X_test, y_test = getattr(self, "_test_set", (None, None))
        if X_test is None:
            return None
        X3, _ = check_windows(self, X_test, reset=False)
        y_test = check_labels(y_test, len(X3), type(self).__name__)
        return self._scale(X3), y_test

    def _test_score(self, test, seeds: _Seeds) -> float:
        X_t, y_test = test
        y_pred = self._predict_encoded(X_t, seeds.predict, self._eval_copies())
        return balanced_accuracy_score(y_test, self.classes_[y_pred])

    def _train(self, data: _FitData, seeds: _Seeds) -> dict[str, float]:
        if data.X_valid is None:
            raise ValueError(
                f"{type(self).__name__} scores its trials on a validation set: pass "
                "X_val and y_val, or groups with validation_fraction."
            )
        test = self._scaled_test_set()
        # Fails here, before any training, when the operations do not fit the data.
        names = [op.name for op in self._operations()]
        K, N = self.n_subpolicies, self.n_stages
        param_names = policy_parameter_names(K, N)
        budget, every = self.search_budget, self.checkpoint_every

        checkpoints = _Checkpoints(self, data, seeds, test)
        proposer = self._make_proposer(seeds, names)
        records = proposer.previous()[:budget]
        # Trials of an earlier fit cost what they cost then (their recorded time).
        checkpoints.search_s = float(np.nansum([r["time_s"] for r in records]))

        def checkpoint() -> None:
            scores = [r["valid_balanced_accuracy"] for r in records]
            chosen = int(np.argmax(scores))  # ties: the first trial
            checkpoints.add(
                params_to_choices(records[chosen], K, N),
                n_trials=len(records),
                best_trial=records[chosen]["trial"],
                trial_score=scores[chosen],
            )

        while len(records) < budget:
            trial = len(records)
            start = time.perf_counter()
            handle, choices = proposer.ask(trial)
            try:
                self.policy_choices_ = choices
                result = self._fit_module(
                    data, _derived_seeds(seeds, _TRIAL_KEY, trial)
                )
                if result.interrupted:
                    # The loop stopped at Ctrl-C and kept what it had: a search
                    # stops there too (a stored study keeps its finished trials).
                    raise KeyboardInterrupt
            except BaseException:
                # Interrupted or failed: the proposer records it as unfinished.
                proposer.abandon(handle)
                raise
            record = {
                "trial": trial,
                "valid_balanced_accuracy": result.best_score,
                "best_epoch": result.best_epoch,
                "n_epochs": result.n_epochs,
                "time_s": time.perf_counter() - start,
                "resumed": False,
                **choices_to_params(choices),
            }
            proposer.tell(handle, record)
            records.append(record)
            logger.info(
                "%s trial %d: validation balanced accuracy %.4f.",
                type(self).__name__,
                trial,
                result.best_score,
            )
            if len(records) % every == 0 and len(records) < budget:
                checkpoint()
        checkpoint()  # always at the end (also when every trial was resumed)

        self.trials_ = pd.DataFrame(
            records,
            columns=[*TRIAL_COLUMNS, *proposer.extra_columns, *param_names],
        )
        return checkpoints.finish()

    # ------------------------------------------------------------- inspection
    @property
    def policy_(self):
        """The final :class:`~augsleep.augment.Policy` (training batches only)."""
        check_is_fitted(self)
        return self.module_.augmentation.policy

    def export_policy(self, units="standardized", random_state=None):
        """Export the final policy as braindecode transforms.

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
            One choice over the sub-policies, each the sequence of its stages.
        """
        check_is_fitted(self)
        return self._export(self.policy_, units, random_state)


def nan_if_missing(mapping, key) -> float:
    """``mapping[key]`` as a float, NaN when absent (trials of other programs)."""
    value = mapping.get(key)
    return math.nan if value is None else float(value)
