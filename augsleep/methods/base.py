"""Base class of the sleep-staging methods: one fit chain, one loop, small hooks.

Every method (no augmentation, fixed augmentation, AugNet, Augerino, ...) is a
:class:`BaseSleepClassifier` that overrides a few hooks; its ``fit`` chains the
same private steps for all of them:

validate the input -> encode the labels -> resolve the context (sampling rate,
channel names, positions) -> split off the validation set -> scale -> build the
network (trunk, augmentation) -> :func:`augsleep.training.fit_loop` -> finalise
(history, summary of the augmentation, measured times).

Hooks (all optional):

- :meth:`~BaseSleepClassifier._build_augmentation`: ``None``, a learnable
  ``AugmentationModule`` (trained with the trunk inside
  :class:`augsleep.models.AugNet`) or a list of fixed braindecode transforms
  (applied to training batches).
- :meth:`~BaseSleepClassifier._regularizer` and
  :meth:`~BaseSleepClassifier._lambda_at`: the ``lambda * R(model)`` term of the
  loss.
- :meth:`~BaseSleepClassifier._extra_record`: extra history columns per epoch.
- :meth:`~BaseSleepClassifier._module_kwargs`,
  :meth:`~BaseSleepClassifier._eval_copies`,
  :meth:`~BaseSleepClassifier._valid_copies`: augmented copies averaged.
- :meth:`~BaseSleepClassifier._valid_every`,
  :meth:`~BaseSleepClassifier._valid_subsample`: how often, and on how many
  validation windows, early stopping scores the model (by default every epoch,
  on the whole validation set).
- :meth:`~BaseSleepClassifier._train`: the training phases; methods that search
  a policy before training override it and fill ``pretrain_s`` / ``search_s``.
"""

from __future__ import annotations

import copy
import logging
import math
import time
import warnings
from collections.abc import Mapping
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GroupShuffleSplit, train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    StrOptions,
)
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
)
from torch import Tensor, nn

from augsleep.methods._docs import fill_doc
from augsleep.methods._fixed import (
    FixedAugmentationTrunk,
    describe_transforms,
    reseed_transforms,
)
from augsleep.methods._input import (
    check_context,
    check_labels,
    check_windows,
    fit_standard_scaling,
    resolve_context,
    scale_windows,
)
from augsleep.training import (
    EarlyStopping,
    FitResult,
    RegularizedNLLLoss,
    fit_loop,
    make_generator,
    make_optimizer,
    predict_batch_size,
    predict_log_proba,
    resolve_device,
    trunk_chunk_size,
)

logger = logging.getLogger(__name__)

#: Keys of ``compute_time_`` (measured wall-clock seconds).
COMPUTE_TIME_KEYS = ("pretrain_s", "search_s", "retrain_s", "total_s")


class _Seeds(NamedTuple):
    init: int
    train: int
    split: int
    valid: int
    predict: int


def _derived_seeds(seeds: _Seeds, *key: int) -> _Seeds:
    """Draw the initialisation and training seeds of one more training of a fit.

    Each search trial and each retraining (keyed, e.g., by its index) gets its
    own initialisation, shuffling and augmentation draws; the validation split
    and draws stay the fit's, so that all are scored on the same windows.
    """
    state = np.random.SeedSequence([seeds.init, seeds.train, *key]).generate_state(2)
    return seeds._replace(init=int(state[0] % 2**31), train=int(state[1] % 2**31))


class _FitData(NamedTuple):
    X_train: Tensor
    y_train: Tensor
    y_train_enc: np.ndarray
    X_valid: Tensor | None
    y_valid: np.ndarray | None
    # Groups (e.g. subjects) of the training windows, when fit got groups:
    # the searches' internal splits (Fast AutoAugment's folds) respect them.
    groups_train: np.ndarray | None = None


@fill_doc
class BaseSleepClassifier(ClassifierMixin, BaseEstimator):
    """Base class of the sleep-staging methods (not used directly).

    ``fit`` takes arrays (n_windows, n_channels, n_times) or ``mne.Epochs``,
    trains a trunk (and the method's augmentation) with
    :func:`augsleep.training.fit_loop`, with early stopping on the validation
    balanced accuracy. Subclasses override the hooks listed in
    :mod:`augsleep.methods.base`.

    Parameters
    ----------
    %(shared_parameters)s

    Attributes
    ----------
    %(shared_attributes)s

    Notes
    -----
    Input ``X`` is an array (n_windows, n_channels, n_times), or an
    ``mne.Epochs``, converted with ``epochs.get_data(units="uV")``: microvolts,
    the unit of the arrays made by :mod:`augsleep.data`. A 2-D array
    (n_windows, n_times) is read as single-channel windows (which is also what
    lets scikit-learn's generic estimator checks run). After ``fit``, Epochs
    given to ``predict`` (or as ``X_val``) must have the sampling rate and the
    channel names (in order) seen at fit; a mismatch is refused, naming both.

    :meth:`score` returns the **balanced accuracy** (mean per-class recall), not
    the accuracy: it is the metric of the sleep-staging literature, because
    stages are very imbalanced (N2 is often half of the night, N1 a few percent)
    and a plain accuracy rewards ignoring the rare stages.

    Training uses torch's fused Adam on CPU and CUDA
    (:func:`augsleep.training.make_optimizer`).
    """

    _parameter_constraints: dict = {
        "trunk": [StrOptions({"chambon"}), callable],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "betas": ["array-like"],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "patience": [Interval(Integral, 1, None, closed="left"), None],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "class_weight": [StrOptions({"balanced"}), Mapping, None],
        "scaling": [StrOptions({"standard"}), None],
        "sfreq": [Interval(Real, 0, None, closed="neither"), None],
        "ch_names": ["array-like", None],
        "positions": ["array-like", None],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    #: Fitted attributes written by :func:`augsleep.persistence.save`.
    _FITTED = (
        "classes_",
        "n_features_in_",
        "input_ndim_",
        "n_chans_in_",
        "n_times_in_",
        "sfreq_",
        "ch_names_",
        "positions_",
        "best_epoch_",
        "best_valid_score_",
        "n_epochs_",
        "_predict_seed",
        "scale_mean_",
        "scale_std_",
        "compute_time_",
        "interrupted_",
    )

    def __init__(
        self,
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
        self.trunk = trunk
        self.lr = lr
        self.betas = betas
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.class_weight = class_weight
        self.scaling = scaling
        self.sfreq = sfreq
        self.ch_names = ch_names
        self.positions = positions
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    # ------------------------------------------------------------------ hooks
    def _build_augmentation(self):
        """Build the augmentation (called once the context is known).

        Returns
        -------
        augmentation : None | AugmentationModule | list of braindecode Transform
            ``None``: the trunk alone. An ``AugmentationModule``: learnable, in
            front of the trunk inside AugNet, trained with it. A list: fixed
            transforms applied in order to training batches only (reseeded from
            ``random_state``).
        """
        return None

    def _regularizer(self):
        """Return the regulariser ``R(model)`` of the loss, or None (``R = 0``)."""
        return None

    def _lambda_at(self, epoch: int) -> float:
        """Weight of the regulariser at an epoch."""
        return 0.0

    def _extra_record(self, module: nn.Module) -> dict:
        """Extra history columns of an epoch (e.g. learned weights, magnitudes)."""
        return {}

    def _module_kwargs(self) -> dict:
        """Extra keyword arguments of :class:`augsleep.models.AugNet`."""
        return {}

    def _eval_copies(self) -> int | None:
        """Augmented copies averaged by ``predict`` (``None``: the module's)."""
        return None

    def _valid_copies(self) -> int | None:
        """Augmented copies averaged to score the validation set."""
        return self._eval_copies()

    def _valid_every(self) -> int:
        """Validate every this many epochs (``valid_every`` of ``fit_loop``)."""
        return 1

    def _valid_subsample(self) -> int | float | None:
        """Return how many validation windows to score: a count, a fraction, or None."""
        return None

    # ------------------------------------------------------------------ fit
    def fit(self, X, y, groups=None, X_val=None, y_val=None):
        """Train the network.

        Parameters
        ----------
        X : array-like, shape (n_windows, n_channels, n_times) or \
(n_windows, n_times) | mne.Epochs
            Training windows (2-D arrays are single-channel windows).
        y : array-like, shape (n_windows,)
            Labels (integers or strings).
        groups : array-like, shape (n_windows,) | None
            Group (e.g. subject) of every window: the validation set is then split
            off by group.
        X_val, y_val : array-like | mne.Epochs | None
            Explicit validation set for early stopping (overrides the split).

        Returns
        -------
        self : BaseSleepClassifier
            The fitted estimator.

        Notes
        -----
        ``fit`` first removes every fitted attribute of a previous fit, and
        removes them again if it fails, so that an estimator is never left with
        a mixture of two fits.

        A ``KeyboardInterrupt`` (Ctrl-C) during training stops it cleanly, as in
        skorch and Keras: ``history_`` keeps the epochs finished before it, the
        model gets the weights of the best validated epoch (without a
        validation set, of the last finished epoch), the fit's bookkeeping is
        completed, ``interrupted_`` is True and a ``UserWarning`` says at which
        epoch and which weights were kept; ``fit`` returns normally. An
        interrupt before any epoch finished (or outside the training epochs)
        leaves the estimator unfitted and is re-raised.
        """
        self._clear_fitted()
        try:
            return self._fit(X, y, groups, X_val, y_val)
        except BaseException:
            # Failed or interrupted before anything usable: unfitted, not half-fitted.
            self._clear_fitted()
            raise

    def _clear_fitted(self) -> None:
        """Remove the fitted attributes (those ending with ``_``, and the seed)."""
        for name in list(vars(self)):
            if (name.endswith("_") and not name.startswith("__")) or name in (
                "_predict_seed",
            ):
                delattr(self, name)

    def _fit(self, X, y, groups, X_val, y_val):
        start = time.perf_counter()
        self._validate_params()
        self._check_params()
        X3, y_enc, info = self._validate_training_data(X, y)
        self._resolve_context(info)
        if (X_val is None) != (y_val is None):
            raise ValueError("Pass both X_val and y_val, or neither.")
        seeds = self._draw_seeds()
        data = self._prepare_data(X3, y_enc, groups, X_val, y_val, seeds)
        self.device_ = resolve_device(self.device)
        phases = self._train(data, seeds)
        self.compute_time_ = {**phases, "total_s": time.perf_counter() - start}
        return self

    def _check_params(self) -> None:
        """Check what the parameter constraints cannot express."""
        betas = tuple(np.ravel(self.betas)) if np.ndim(self.betas) == 1 else ()
        if len(betas) != 2 or not all(
            isinstance(b, Real) and 0 <= b < 1 for b in betas
        ):
            raise InvalidParameterError(
                f"The 'betas' parameter of {type(self).__name__} must be two "
                f"numbers in [0, 1) (Adam's beta1, beta2). Got {self.betas!r} "
                "instead."
            )

    def _validate_training_data(self, X, y):
        """Validate ``X`` and ``y``; set the classes and the window shape."""
        X3, info = check_windows(self, X, reset=True)
        y = check_labels(y, len(X3), type(self).__name__)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                "This estimator needs samples of at least 2 classes in the data, but "
                f"the data contains only one class: {self.classes_[0]!r}."
            )
        self.n_chans_in_, self.n_times_in_ = X3.shape[1:]
        return X3, encoder.transform(y), info

    def _resolve_context(self, info) -> None:
        self.sfreq_, self.ch_names_, self.positions_ = resolve_context(
            sfreq=self.sfreq,
            ch_names=self.ch_names,
            positions=self.positions,
            info=info,
            n_chans=self.n_chans_in_,
            estimator_name=type(self).__name__,
        )

    def _draw_seeds(self) -> _Seeds:
        rng = check_random_state(self.random_state)
        seeds = _Seeds(*(int(s) for s in rng.randint(np.iinfo(np.int32).max, size=5)))
        self._predict_seed = seeds.predict
        return seeds

    def _prepare_data(self, X3, y_enc, groups, X_val, y_val, seeds) -> _FitData:
        """Split off the validation set, fit the scaling, scale."""
        if X_val is not None:
            train_idx, valid_idx = np.arange(len(X3)), None
            X_val3, val_info = check_windows(self, X_val, reset=False)
            check_context(self, val_info, "X_val")
            y_val = column_or_1d(y_val, warn=True)
            check_consistent_length(X_val3, y_val)
            unknown = set(np.unique(y_val).tolist()) - set(self.classes_.tolist())
            if unknown:
                raise ValueError(f"y_val has labels {sorted(unknown)} not seen in y.")
            # classes_ is sorted: the index of a known label is its code.
            y_val_enc = np.searchsorted(self.classes_, y_val)
        else:
            train_idx, valid_idx = self._split(len(X3), y_enc, groups, seeds.split)
        X_tr = X3[train_idx]
        if self.scaling == "standard":
            self.scale_mean_, self.scale_std_ = fit_standard_scaling(X_tr)
        X_va, y_va = None, None
        if X_val is not None:
            X_va, y_va = self._scale(X_val3), y_val_enc
        elif valid_idx is not None:
            X_va, y_va = self._scale(X3[valid_idx]), y_enc[valid_idx]
        groups_train = None
        if groups is not None:
            groups = column_or_1d(groups)
            check_consistent_length(X3, groups)
            groups_train = groups[train_idx]
        return _FitData(
            X_train=self._scale(X_tr),
            y_train=torch.as_tensor(y_enc[train_idx], dtype=torch.long),
            y_train_enc=y_enc[train_idx],
            X_valid=X_va,
            y_valid=y_va,
            groups_train=groups_train,
        )

    def _split(self, n: int, y_enc, groups, seed: int):
        """Split off validation windows; return (train, valid or None) indices."""
        idx = np.arange(n)
        if self.validation_fraction is None:
            return idx, None
        if groups is not None:
            groups = column_or_1d(groups)
            check_consistent_length(idx, groups)
            if len(np.unique(groups)) < 2:
                raise ValueError(
                    "groups must contain at least 2 distinct groups to split off a "
                    "validation set; pass X_val and y_val or validation_fraction=None."
                )
            splitter = GroupShuffleSplit(
                n_splits=1, test_size=self.validation_fraction, random_state=seed
            )
            train, valid = next(splitter.split(idx, y_enc, groups))
            return train, valid
        if n < 4:
            logger.info("Too few windows (%d) to split off a validation set.", n)
            return idx, None
        logger.info(
            "Validation set split off by window (no groups given): windows of the "
            "same recording may fall in both sets."
        )
        n_classes = len(self.classes_)
        counts = np.bincount(y_enc, minlength=n_classes)
        n_valid = math.ceil(self.validation_fraction * n)
        stratify = y_enc if counts.min() >= 2 and n_valid >= n_classes else None
        if n - n_valid < n_classes:
            stratify = None
        return train_test_split(
            idx,
            test_size=self.validation_fraction,
            random_state=seed,
            stratify=stratify,
        )

    def _scale(self, X: np.ndarray) -> Tensor:
        if self.scaling == "standard":
            return scale_windows(X, self.scale_mean_, self.scale_std_)
        return scale_windows(X)

    def _train(self, data: _FitData, seeds: _Seeds) -> dict[str, float]:
        """Run the training phases; return their measured seconds.

        One training here (``retrain_s``); methods that pre-train or search a
        policy first override this and fill ``pretrain_s`` and ``search_s``.
        """
        start = time.perf_counter()
        result = self._fit_module(data, seeds)
        self._finalise(result)
        retrain_s = time.perf_counter() - start
        return {"pretrain_s": 0.0, "search_s": 0.0, "retrain_s": retrain_s}

    def _fit_module(
        self, data: _FitData, seeds: _Seeds, max_epochs: int | None = None
    ) -> FitResult:
        """Build ``module_`` and train it with :func:`augsleep.training.fit_loop`.

        ``max_epochs`` overrides the parameter of the same name (e.g. ADDA's
        warm start, a fixed number of epochs).
        """
        device = self.device_
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            # Dropout draws from torch's global generator: seed it (inside fork_rng,
            # so the caller's generator is left as it was).
            torch.manual_seed(seeds.train)
            self.module_ = self._build_module(len(self.classes_), seeds.init).to(device)
            return self._run_fit_loop(data, seeds, max_epochs)

    def _run_fit_loop(
        self, data: _FitData, seeds: _Seeds, max_epochs: int | None = None
    ) -> FitResult:
        class_weight = self._class_weights(data.y_train_enc)
        if class_weight is not None:
            class_weight = class_weight.to(self.device_)
        optimizer = self._make_optimizer()
        generator = make_generator(seeds.train, self.device_)
        valid_score, early_stopping = None, None
        if data.X_valid is not None:
            X_valid, y_valid = data.X_valid, data.y_valid
            # Drawn once per fit: every epoch scores the same windows.
            keep = self._valid_subset(y_valid, seeds.valid)
            if keep is not None:
                X_valid, y_valid = X_valid[torch.as_tensor(keep)], y_valid[keep]

            def valid_score(module):
                # Same draws at every epoch: scores differ only through the model.
                y_pred = self._predict_encoded(
                    X_valid, seeds.valid, self._valid_copies()
                )
                return self._valid_balanced_accuracy(y_valid, y_pred)

            early_stopping = EarlyStopping(self.patience)
        return fit_loop(
            self.module_,
            data.X_train,
            data.y_train,
            optimizer,
            max_epochs=self.max_epochs if max_epochs is None else max_epochs,
            batch_size=self.batch_size,
            generator=generator,
            loss=RegularizedNLLLoss(class_weight, self._regularizer()),
            lam=self._lambda_at,
            post_step=_clamp_magnitudes,
            valid_score=valid_score,
            early_stopping=early_stopping,
            valid_every=self._valid_every(),
            extra_record=self._extra_record,
            verbose=self.verbose,
            desc=type(self).__name__,
        )

    def _valid_balanced_accuracy(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        """Score validation predictions: balanced accuracy, recalls class-weighted.

        The balanced accuracy is the mean of the per-class recalls; with a dict
        ``class_weight`` each class's recall is weighted by its weight (classes
        absent from the dict weigh 1), so that early stopping and the searches
        select by the importance the loss gives the classes, as scikit-learn's
        ``HistGradientBoostingClassifier`` weights its early-stopping score by
        its class weights.
        ``"balanced"`` and ``None`` give the plain balanced accuracy (the
        paper's), as does a dict of equal weights.

        Parameters
        ----------
        y_true, y_pred : ndarray of int, shape (n_windows,)
            Encoded labels (indices into :attr:`classes_`) and predictions.

        Returns
        -------
        score : float
            In [0, 1]; classes absent from ``y_true`` are left out.
        """
        if not isinstance(self.class_weight, Mapping):
            return balanced_accuracy_score(y_true, y_pred)
        weights = self._class_weights(np.asarray(y_true)).numpy().astype(float)
        present, counts = np.unique(y_true, return_counts=True)
        total = weights[present].sum()
        if total <= 0:  # every class present weighs 0: no preference
            return balanced_accuracy_score(y_true, y_pred)
        # Accuracy with window weights w_c / n_c: the w-weighted mean recall.
        per_window = (weights / total)[y_true] / counts[
            np.searchsorted(present, y_true)
        ]
        return float(np.sum(per_window * (np.asarray(y_pred) == y_true)))

    def _valid_subset(self, y_valid: np.ndarray, seed: int) -> np.ndarray | None:
        """Return the validation windows early stopping scores (None: all of them).

        With a subsample (:meth:`_valid_subsample`), its windows are drawn with
        ``seed``, stratified by class when every class present has at least two
        windows (so that the balanced accuracy sees every stage), and sorted.
        """
        subsample, n = self._valid_subsample(), len(y_valid)
        if subsample is None:
            return None
        if isinstance(subsample, Integral):
            n_keep = int(subsample)
        else:
            n_keep = max(1, round(float(subsample) * n))
        if n_keep >= n:
            return None
        counts = np.unique(y_valid, return_counts=True)[1]
        stratify = y_valid
        if counts.min() < 2 or min(n_keep, n - n_keep) < len(counts):
            stratify = None
        keep, _ = train_test_split(
            np.arange(n), train_size=n_keep, random_state=seed, stratify=stratify
        )
        return np.sort(keep)

    def _finalise(self, result: FitResult) -> None:
        self.best_epoch_ = result.best_epoch
        self.best_valid_score_ = result.best_score
        self.n_epochs_ = result.n_epochs
        self.history_ = result.history_frame()
        self.augmentation_summary_ = self._summary()
        self.interrupted_ = bool(result.interrupted)
        if result.interrupted:
            if math.isnan(result.best_score):
                kept = "the last finished epoch; there is no validation set"
            else:
                kept = f"the best validation balanced accuracy, {result.best_score:.4f}"
            warnings.warn(
                f"{type(self).__name__}.fit was interrupted (KeyboardInterrupt) "
                f"during epoch {result.n_epochs}: history_ keeps the "
                f"{result.n_epochs} finished epochs and the model the weights of "
                f"epoch {result.best_epoch} ({kept}); interrupted_ is True.",
                UserWarning,
                stacklevel=5,  # the caller of fit
            )

    def _make_optimizer(self) -> torch.optim.Adam:
        return make_optimizer(
            self.module_, lr=self.lr, betas=self.betas, weight_decay=self.weight_decay
        )

    def _export(self, augmentation, units: str, random_state):
        """Export what this fit learned or used (``augment.export_policy``).

        Parameters
        ----------
        augmentation : AugmentationModule | Policy | RandAugment
            What the model learned or used.
        units : {"standardized", "input"}
            Units of the exported Gaussian-noise level (:meth:`_noise_scale`).
        random_state : int | None
            Seed of the exported transforms' numpy generators.

        Returns
        -------
        transforms : list of braindecode Transform
        """
        from augsleep.augment import export_policy

        return export_policy(
            augmentation,
            sfreq=self.sfreq_,
            ch_names=self.ch_names_,
            positions=self.positions_,
            noise_scale=self._noise_scale(units),
            random_state=random_state,
        )

    def _noise_scale(self, units: str) -> float:
        """Factor from the model's units to ``units`` for exported noise levels.

        Parameters
        ----------
        units : {"standardized", "input"}
            ``"standardized"``: the scaled data the model saw (factor 1);
            ``"input"``: the data given to ``fit`` (the mean channel standard
            deviation under ``scaling="standard"``).

        Returns
        -------
        scale : float
        """
        if units not in ("standardized", "input"):
            raise ValueError(f"units must be 'standardized' or 'input', got {units!r}.")
        if units == "input" and self.scaling == "standard":
            return float(np.mean(self.scale_std_))
        return 1.0

    def _class_weights(self, y_enc: np.ndarray) -> Tensor | None:
        n_classes = len(self.classes_)
        if self.class_weight is None:
            return None
        if isinstance(self.class_weight, str):  # "balanced"
            counts = np.bincount(y_enc, minlength=n_classes).astype(float)
            # A class missing from the training split gets weight 0 (never seen).
            w = np.divide(
                len(y_enc),
                n_classes * counts,
                out=np.zeros(n_classes),
                where=counts > 0,
            )
        else:
            unknown = set(self.class_weight) - set(self.classes_.tolist())
            if unknown:
                raise ValueError(
                    f"class_weight has labels {sorted(map(str, unknown))} that are "
                    f"not in the classes {self.classes_.tolist()}."
                )
            w = np.array([float(self.class_weight.get(c, 1.0)) for c in self.classes_])
        return torch.as_tensor(w, dtype=torch.float32)

    # ------------------------------------------------------------- building
    def _build_trunk(self, n_classes: int) -> nn.Module:
        if isinstance(self.trunk, nn.Module):
            return copy.deepcopy(self.trunk)
        if callable(self.trunk):
            return self.trunk(
                self.n_chans_in_, self.sfreq_, self.n_times_in_, n_classes
            )
        from augsleep.models.trunks import chambon_trunk

        return chambon_trunk(
            self.n_chans_in_, self.sfreq_, self.n_times_in_, n_classes=n_classes
        )

    def _build_module(self, n_classes: int, seed: int) -> nn.Module:
        from augsleep.models.augnet import AugNet

        # Initialise from random_state without touching torch's global generator.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            trunk = self._build_trunk(n_classes)
            augmentation = self._build_augmentation()
        if isinstance(augmentation, list):
            reseed_transforms(augmentation, seed)
            trunk = FixedAugmentationTrunk(trunk, augmentation)
            augmentation = None
        return AugNet(
            trunk,
            augmentation,
            **self._module_kwargs(),
            max_windows_per_forward=trunk_chunk_size(
                self.n_chans_in_, self.n_times_in_, self.device_
            ),
        )

    def _summary(self) -> pd.DataFrame:
        # Learned layers, a training-only policy, or (empty) the identity.
        summary = self.module_.augmentation.summary()
        if summary.empty and isinstance(self.module_.trunk, FixedAugmentationTrunk):
            return describe_transforms(self.module_.trunk.transforms)
        return summary

    # -------------------------------------------------------------- predict
    def _predict_log_proba_tensor(self, X_t: Tensor, seed: int, n_copies=None):
        # Each window's draws come from the seed and the window itself: its
        # prediction does not depend on the batch it is predicted in.
        return predict_log_proba(
            self.module_,
            X_t,
            batch_size=self._predict_batch_size(X_t, n_copies),
            n_copies=n_copies,
            seed=seed,
        )

    def _predict_batch_size(self, X_t: Tensor, n_copies=None) -> int:
        """Windows per forward pass in evaluation mode (PREDICT_BATCH_VALUES)."""
        copies = 1
        if not self.module_.augmentation.is_identity:
            copies = n_copies or self.module_.n_copies_eval
        return predict_batch_size(copies, *X_t.shape[1:])

    def _predict_encoded(self, X_t: Tensor, seed: int, n_copies=None) -> np.ndarray:
        log_proba = self._predict_log_proba_tensor(X_t, seed, n_copies)
        self.module_.train()  # back to training mode (called between epochs)
        return log_proba.argmax(dim=1).numpy()

    def _prepare(self, X) -> Tensor:
        check_is_fitted(self)
        X3, info = check_windows(self, X, reset=False)
        check_context(self, info)
        return self._scale(X3)

    def predict_proba(self, X):
        """Class probabilities (averaged over the augmented copies, if any).

        Parameters
        ----------
        X : array-like, shape (n_windows, n_channels, n_times) or \
(n_windows, n_times) | mne.Epochs
            Windows, with the channels and length seen at fit.

        Returns
        -------
        proba : ndarray of float64, shape (n_windows, n_classes)
            Columns ordered as :attr:`classes_`.

        Notes
        -----
        With an augmentation at prediction (AugNet, Augerino), each window's
        copies are drawn from a generator seeded by the fit's prediction seed
        (from ``random_state``) and the window's scaled float32 values
        (:func:`augsleep.training.window_seeds`): a window gets the same
        probabilities alone, in any order and in any batch, and the same draws
        on every machine. Its draws change with any change of its values, even in the
        last bit: then the Monte-Carlo average is over other copies.
        """
        X_t = self._prepare(X)
        log_proba = self._predict_log_proba_tensor(
            X_t, self._predict_seed, n_copies=self._eval_copies()
        )
        proba = np.exp(log_proba.double().numpy())
        return proba / proba.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like, shape (n_windows, n_channels, n_times) or \
(n_windows, n_times) | mne.Epochs
            Windows.

        Returns
        -------
        log_proba : ndarray, shape (n_windows, n_classes)
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """Predict sleep stages.

        Parameters
        ----------
        X : array-like, shape (n_windows, n_channels, n_times) or \
(n_windows, n_times) | mne.Epochs
            Windows.

        Returns
        -------
        y_pred : ndarray, shape (n_windows,)
            Labels from :attr:`classes_`.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X, y, sample_weight=None):
        """Balanced accuracy (mean recall over classes) of the predictions.

        Balanced accuracy rather than accuracy: it is the sleep-staging field's
        metric, and sleep stages are very imbalanced (accuracy rewards a model
        that ignores N1).

        Parameters
        ----------
        X : array-like, shape (n_windows, n_channels, n_times) | mne.Epochs
            Windows.
        y : array-like, shape (n_windows,)
            True labels.
        sample_weight : array-like, shape (n_windows,) | None
            Weights of the windows.

        Returns
        -------
        score : float
        """
        return balanced_accuracy_score(y, self.predict(X), sample_weight=sample_weight)

    # ----------------------------------------------------------- inspection
    def invariance_score(self, X, transform, magnitude=1.0, random_state=None):
        """Compute the paper's invariance of the (averaged) model to a transform.

        Parameters
        ----------
        X : array-like, shape (n_windows, n_channels, n_times) | mne.Epochs
            Windows (at least 2), in the units given to ``fit``; they are scaled
            like the training data, and the transform applies to scaled windows.
        transform : str | callable
            A transform name of :data:`augsleep.transforms.TRANSFORMS` (built for
            this data at ``magnitude``), or a callable on batches such as a
            :class:`~augsleep.transforms.DifferentiableTransform` or a braindecode
            ``Transform``.
        magnitude : float
            Magnitude in [0, 1] when ``transform`` is a name.
        random_state : int | None
            Seed of the transform's draws, of the pairing of inputs, and of the
            model's augmentation draws.

        Returns
        -------
        scores : ndarray, shape (n_windows,)
            1 means fully invariant, 0 as sensitive as to swapping inputs (see
            :func:`augsleep.invariance.invariance_score`); report the median.
        """
        from augsleep.invariance import invariance_score

        X_t = self._prepare(X)
        if isinstance(transform, str):
            from augsleep.transforms import make_transform

            transform = make_transform(
                transform,
                sfreq=self.sfreq_,
                ch_names=self.ch_names_,
                positions=self.positions_,
            ).at(magnitude)
        if not callable(transform):
            raise TypeError(
                "transform must be a name or a callable, got "
                f"{type(transform).__name__}."
            )
        module, device = self.module_, self.device_
        generator = make_generator(random_state, device)
        module.eval()

        def model(xb: Tensor) -> Tensor:
            return module(xb.to(device), generator).cpu()

        return invariance_score(
            model,
            X_t,
            transform,
            random_state=random_state,
            batch_size=self._predict_batch_size(X_t),
        )

    def export_policy(self, *args, **kwargs):
        """Export the augmentation as braindecode transforms.

        Methods that augment override this; here there is nothing to export.

        Raises
        ------
        ValueError
            Always: this method trains without augmentation.
        """
        check_is_fitted(self)
        raise ValueError(
            f"{type(self).__name__} trains without augmentation; there is no "
            "policy to export."
        )

    # ------------------------------------------------------ persistence
    def __getstate__(self):
        state = self.__dict__.copy()
        module = state.get("module_")
        if module is not None and next(module.parameters()).device.type != "cpu":
            # Pickles open on machines without the GPU the model was trained on.
            state["module_"] = copy.deepcopy(module).cpu()
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "module_" in state:
            self.device_ = resolve_device(self.device)
            self.module_.to(self.device_)

    def save(self, path) -> None:
        """Save the fitted model to a file (see :func:`augsleep.persistence.save`).

        Only tensors, numbers, strings and containers are written when the
        parameters are plain values (default trunk, augmentation given by names
        or presets), so :meth:`load` can read the file with
        ``torch.load(weights_only=True)``, which runs no pickled code. A custom
        trunk, module or braindecode transforms are pickled with the file.

        Parameters
        ----------
        path : str | Path
            Destination file (e.g. ``"model.pt"``).
        """
        from augsleep.persistence import save

        save(self, path)

    @classmethod
    def load(cls, path, trusted=False, device=None):
        """Load a model written by :meth:`save` (see :func:`augsleep.persistence.load`).

        Parameters
        ----------
        path : str | Path
            File written by :meth:`save` of this class.
        trusted : bool
            Files with custom trunks or augmentations contain pickled Python
            objects, which can run arbitrary code when loaded: they are refused
            unless ``trusted=True``. Plain files load with
            ``torch.load(weights_only=True)`` either way.
        device : str | None
            Device to put the model on; ``None`` uses the saved ``device``
            parameter (``"auto"``: CUDA when present).

        Returns
        -------
        estimator : BaseSleepClassifier
            Fitted estimator of this class.
        """
        from augsleep.persistence import load

        return load(path, cls=cls, trusted=trusted, device=device)


def _clamp_magnitudes(module: nn.Module) -> None:
    # AugNet projects its magnitudes back onto [0, 1] after every optimiser step.
    module.clamp_magnitudes_()
