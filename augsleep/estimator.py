"""scikit-learn estimator for sleep staging with AugNet.

:class:`AugNetClassifier` wraps :class:`augsleep.models.AugNet` (a trunk such as
``SleepStagerChambon2018`` preceded by learnable augmentation layers) behind the
usual ``fit`` / ``predict`` / ``predict_proba`` / ``score`` interface. The same class
trains the no-augmentation baseline (``augmentation=None``) and a fixed,
hand-picked augmentation (braindecode transforms applied to training batches),
through the same training loop (:func:`augsleep.training.train_epoch`).
"""

from __future__ import annotations

import copy
import logging
import math
import pickle
import time
from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GroupShuffleSplit, train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)
from torch import Tensor, nn

logger = logging.getLogger(__name__)

#: Values (windows x copies x channels x samples) augmented per forward pass at
#: prediction: a batch holds ``max(1, PREDICT_BATCH_VALUES // (n_copies *
#: n_channels * n_times))`` windows (233 of 6 x 3000 with one copy, 11 with 20),
#: so that memory does not grow with the number of copies: 16 MB per augmented
#: batch in float32, where 256 windows of 6 x 3000 with 20 copies took 1.3 GB.
PREDICT_BATCH_VALUES = 2**22
#: Values (windows x channels x samples) the trunk sees per forward pass at
#: prediction on a CPU: the augmented copies of a prediction batch go through
#: it in chunks of this size (29 windows of 6 x 3000, 1048 of 1 x 500),
#: whose activations stay in the caches; one large batch is up to 1.5x slower on
#: the reference 2-core machine (benchmarks/README.md). GPUs get the whole batch.
CPU_TRUNK_CHUNK_VALUES = 2**19
_FORMAT = "augsleep.AugNetClassifier"
_FORMAT_VERSION = 1


def predict_batch_size(n_copies: int, n_chans: int, n_times: int) -> int:
    """Windows per forward pass at prediction (see :data:`PREDICT_BATCH_VALUES`).

    Parameters
    ----------
    n_copies : int
        Augmented copies of each window (1 without augmentation).
    n_chans, n_times : int
        Shape of a window.

    Returns
    -------
    batch_size : int
        At least 1.
    """
    return max(1, PREDICT_BATCH_VALUES // (n_copies * n_chans * n_times))


def _resolve_device(device) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _is_epochs(X) -> bool:
    try:
        from mne import BaseEpochs
    except ImportError:  # pragma: no cover - mne is a dependency
        return False
    return isinstance(X, BaseEpochs)


def _is_braindecode_transform(obj) -> bool:
    from braindecode.augmentation import Transform

    return isinstance(obj, Transform)


class _FixedAugmentationTrunk(nn.Module):
    """Trunk preceded by fixed (non-learnable) transforms in training mode only.

    Braindecode's ``Transform`` draws from its own numpy generator, which
    :meth:`AugNetClassifier.fit` reseeds from ``random_state``.
    """

    def __init__(self, trunk: nn.Module, transforms: Sequence[nn.Module]):
        super().__init__()
        self.trunk = trunk
        self.transforms = nn.ModuleList(transforms)

    def forward(self, X: Tensor) -> Tensor:
        if self.training:
            for transform in self.transforms:
                # Without y, braindecode transforms return X only.
                X = transform(X).to(X.dtype)
        return self.trunk(X)


class AugNetClassifier(ClassifierMixin, BaseEstimator):
    """Sleep-stage classifier with learnable augmentation layers (AugNet).

    Defaults follow the sleep experiment of Rommel, Moreau & Gramfort (NeurIPS
    2022, Section 5.2 and Appendix A.4).

    Parameters
    ----------
    augmentation : "sleep" | None | list of list of str | AugmentationModule | \
braindecode Transform | list of braindecode Transform
        - ``"sleep"``: the paper's preset
          (:func:`augsleep.augment.make_sleep_augmentation`): two time-frequency
          layers and a sensor layer. The sensor layer is left
          out (with a logged message) with a single channel, or without channel
          names and sensor positions.
        - ``None``: no augmentation, the trunk alone (the baseline), trained by
          the same loop.
        - a list of lists of transform names (one list per layer), e.g.
          ``[["frequency_shift", "ft_surrogate"]]``: learnable layers.
        - an :class:`augsleep.augment.AugmentationModule`: used as given (copied
          at ``fit``).
        - a braindecode ``Transform`` or a list of them (applied in order): a
          **fixed** augmentation applied to training batches only; prediction
          uses the trunk alone. Their numpy generators are reseeded from
          ``random_state``. Transforms that change labels (e.g. ``Mixup``) are
          not supported.
    trunk : "chambon" | callable | nn.Module
        ``"chambon"``: braindecode's ``SleepStagerChambon2018`` sized from the data
        (channels, sampling rate, window length). A callable is called as
        ``trunk(n_chans, sfreq, n_times, n_classes)`` and must return an
        ``nn.Module`` mapping (n_windows, n_chans, n_times) to logits. A module is
        copied at ``fit``.
    lam : float | callable | dict
        Weight lambda of the invariance regulariser (constant, function of the
        epoch, or ``{first_epoch: value}`` schedule). The paper uses 10 on sleep.
    regularizer : {"augnet", "augerino", "none"}
        Invariance-promoting regulariser (:mod:`augsleep.augment.regularizers`).
    n_copies_train : int
        Augmented copies C averaged in training (paper: 1).
    n_copies_eval : int
        Augmented copies C averaged by ``predict`` / ``predict_proba`` (paper: 20).
    n_copies_valid : int | None
        Copies used to score the validation set at every epoch; ``None`` uses
        ``n_copies_eval``. Lower it to make validation cheaper.
    lr : float
        Adam learning rate (paper: 1e-3).
    betas : tuple of float
        Adam's ``(beta1, beta2)``. The default ``(0.0, 0.999)`` is the value stated
        in the paper's Appendix A.4 for every sleep model (the paper writes floats
        with a trailing dot, e.g. "1.", so "beta1 = 0." reads as 0, not a typo
        for 0.9): Adam without first-moment averaging. Pass ``(0.9, 0.999)`` for
        PyTorch's default.
    weight_decay : float
        Weight decay of the trunk (the augmentation parameters get none, as in
        the paper).
    batch_size : int
        Training mini-batch size (paper: 16).
    max_epochs : int
        Maximum number of epochs (paper: 300).
    patience : int | None
        Early stopping: stop after this many epochs without an improvement of the
        validation balanced accuracy, then restore the best weights (paper: 30).
        ``None`` trains ``max_epochs`` epochs and still restores the best weights
        when there is a validation set.
    validation_fraction : float | None
        Fraction split off the training data as validation set when ``fit`` gets
        no ``X_val``: by group (``GroupShuffleSplit``) when ``groups`` are passed,
        else by window (stratified when possible; windows of one night then fall
        on both sides, which makes early stopping optimistic: pass ``groups``).
        ``None`` disables the split (no early stopping, last weights kept).
    class_weight : "balanced" | dict | None
        Weights of the classes in the cross-entropy. ``"balanced"`` (paper) uses
        inverse class frequencies of the training set,
        ``n_windows / (n_classes * count)``; a dict maps labels to weights.
    scaling : "standard" | None
        ``"standard"`` z-scores every channel with the mean and standard
        deviation of the training windows (stored as ``scale_mean_``,
        ``scale_std_``) before the augmentation and the trunk, at fit and predict
        time; this is the unit in which the Gaussian noise range (0-0.2 std) is
        meant. ``None`` feeds the data as given.
    sfreq : float | None
        Sampling frequency in Hz. Required with array input; read from
        ``info["sfreq"]`` with ``mne.Epochs`` (they must agree when both given).
    ch_names : list of str | None
        Channel names (channels symmetry); read from ``mne.Epochs`` when None.
    positions : array-like, shape (n_channels, 3) | None
        Sensor positions in metres (sensor rotations); read from the montage of
        ``mne.Epochs`` when None.
    initial_magnitude : float
        Initial magnitude of every learnable transform, in [0, 1]. Not 0 by
        default: the AugNet regulariser ``-||w * mu||`` has zero gradient when all
        magnitudes are 0, so they would only leave 0 through noise.
    temperature : float
        Softmax temperature of the layers' weights.
    device : "auto" | str | torch.device
        ``"auto"`` picks CUDA when available, else the CPU.
    random_state : int | RandomState | None
        Seeds every draw: weight initialisation, dropout, shuffling, augmentation
        draws (training, validation and prediction) and the validation split.
        With an int, two fits give identical predictions on the CPU.
    verbose : int
        ``> 0`` shows a tqdm progress bar over epochs.

    Attributes
    ----------
    classes_ : ndarray, shape (n_classes,)
        Class labels (any labels: integers or strings such as ``"W"``, ``"N1"``).
    n_features_in_ : int
        ``X.shape[1]`` at fit, as scikit-learn counts features of n-d input: the
        number of channels for 3-D input, of samples for 2-D input.
    n_chans_in_, n_times_in_ : int
        Channels and samples per window seen at fit.
    sfreq_ : float
        Sampling frequency used.
    ch_names_ : list of str | None
    positions_ : ndarray, shape (n_channels, 3) | None
    module_ : AugNet
        The trained network (augmentation module + trunk).
    history_ : DataFrame
        One row per epoch: ``epoch``, ``train_loss``, ``train_ce``, ``train_reg``,
        ``lam``, ``valid_balanced_accuracy`` (NaN without validation set),
        ``dur_s``, and one ``weight/<layer>/<transform>`` and
        ``magnitude/<layer>/<transform>`` column per learnable transform.
    learned_augmentations_ : DataFrame
        Columns ``layer``, ``transform``, ``weight``, ``magnitude``,
        ``physical_value``, ``unit`` (empty without learnable augmentation).
    best_epoch_ : int
        Epoch whose weights were kept.
    n_epochs_ : int
        Number of epochs run.

    Notes
    -----
    Input ``X`` is an array (n_windows, n_channels, n_times), or an
    ``mne.Epochs``, converted with ``epochs.get_data(units="uV")``: microvolts,
    the unit of the arrays made by :mod:`augsleep.data`. A 2-D array
    (n_windows, n_times) is read as single-channel windows (which is also what
    lets scikit-learn's generic estimator checks run).

    :meth:`score` returns the **balanced accuracy** (mean per-class recall), not
    the accuracy: it is the metric of the sleep-staging literature, because
    stages are very imbalanced (N2 is often half of the night, N1 a few percent)
    and a plain accuracy rewards ignoring the rare stages.

    Prediction averages the probabilities of ``n_copies_eval`` randomly augmented
    copies; the draws are seeded by ``random_state``, so repeated calls on the
    same X give the same result, but a window's prediction can change slightly
    with the batch it is predicted in (different draws). Windows are predicted in
    batches of about four million augmented values
    (:data:`PREDICT_BATCH_VALUES`: 233 windows of 6 x 3000 with one copy, 11 with
    20), so that memory does not grow with ``n_copies_eval``. On a CPU the trunk
    processes the augmented copies in chunks of about half a million values
    (:data:`CPU_TRUNK_CHUNK_VALUES`), which is faster than one large batch and
    does not change the result.

    Training uses torch's fused Adam on CPU and CUDA: AugNet adds about 20 small
    parameter tensors, which the default per-parameter loop updates several
    times more slowly.
    """

    def __init__(
        self,
        augmentation="sleep",
        *,
        trunk="chambon",
        lam=10.0,
        regularizer="augnet",
        n_copies_train=1,
        n_copies_eval=20,
        n_copies_valid=None,
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
        initial_magnitude=0.05,
        temperature=1.0,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.augmentation = augmentation
        self.trunk = trunk
        self.lam = lam
        self.regularizer = regularizer
        self.n_copies_train = n_copies_train
        self.n_copies_eval = n_copies_eval
        self.n_copies_valid = n_copies_valid
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
        self.initial_magnitude = initial_magnitude
        self.temperature = temperature
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ tags
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    # ---------------------------------------------------------------- checks
    def _check_params(self) -> None:
        def positive_int(name, allow_none=False):
            value = getattr(self, name)
            if allow_none and value is None:
                return
            if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")

        for name in ("n_copies_train", "n_copies_eval", "batch_size", "max_epochs"):
            positive_int(name)
        positive_int("n_copies_valid", allow_none=True)
        positive_int("patience", allow_none=True)
        if not (isinstance(self.lr, Real) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}.")
        betas = tuple(self.betas) if isinstance(self.betas, Sequence) else None
        if betas is None or len(betas) != 2 or not all(0 <= b < 1 for b in betas):
            raise ValueError(
                f"betas must be two numbers in [0, 1), got {self.betas!r}."
            )
        vf = self.validation_fraction
        if vf is not None and not (isinstance(vf, Real) and 0 < vf < 1):
            raise ValueError(
                f"validation_fraction must be in (0, 1) or None, got {vf!r}."
            )
        if not (
            self.class_weight is None
            or self.class_weight == "balanced"
            or isinstance(self.class_weight, Mapping)
        ):
            raise ValueError(
                "class_weight must be 'balanced', a dict or None, got "
                f"{self.class_weight!r}."
            )
        if self.scaling not in ("standard", None):
            raise ValueError(
                f"scaling must be 'standard' or None, got {self.scaling!r}."
            )
        if not (isinstance(self.trunk, nn.Module) or callable(self.trunk)) and (
            self.trunk != "chambon"
        ):
            raise ValueError(
                "trunk must be 'chambon', a callable or an nn.Module, got "
                f"{self.trunk!r}."
            )

    def _to_array(self, X):
        """Return (array, info) from an array-like or an mne.Epochs."""
        if _is_epochs(X):
            # Microvolts: the unit of the arrays built by augsleep.data.
            return X.get_data(units="uV"), X.info
        return X, None

    def _validate_X(self, X, reset: bool) -> np.ndarray:
        X, info = self._to_array(X)
        ndim = getattr(X, "ndim", None)
        if not reset and ndim in (2, 3) and ndim != self.input_ndim_:
            # Before validate_data, whose feature-count message would mislead here.
            raise ValueError(
                f"X has {ndim} dimensions but {type(self).__name__} was fitted on "
                f"{self.input_ndim_}-dimensional input."
            )
        X = validate_data(
            self,
            X,
            reset=reset,
            allow_nd=True,
            dtype=[np.float32, np.float64],
            ensure_min_samples=1,
        )
        if X.ndim not in (2, 3):
            raise ValueError(
                "X must have shape (n_windows, n_channels, n_times) or "
                f"(n_windows, n_times), got {X.ndim} dimensions with shape "
                f"{X.shape}."
            )
        if reset:
            self.input_ndim_ = X.ndim
            self._info = info
        elif X.ndim != self.input_ndim_:
            raise ValueError(
                f"X has {X.ndim} dimensions but {type(self).__name__} was fitted on "
                f"{self.input_ndim_}-dimensional input."
            )
        X3 = X[:, None, :] if X.ndim == 2 else X
        if not reset and X3.shape[1:] != (self.n_chans_in_, self.n_times_in_):
            raise ValueError(
                f"X has windows of shape (n_channels, n_times) = {X3.shape[1:]}, but "
                f"{type(self).__name__} was fitted on "
                f"{(self.n_chans_in_, self.n_times_in_)}."
            )
        return X3

    def _scale(self, X: np.ndarray) -> Tensor:
        if self.scaling == "standard":
            X = (X - self.scale_mean_[:, None]) / self.scale_std_[:, None]
        return torch.from_numpy(np.require(X, dtype=np.float32, requirements="CW"))

    # ------------------------------------------------------------- building
    def _context(self, n_chans: int):
        """Get the sampling rate, channel names and positions (params or info)."""
        info = self._info
        sfreq = self.sfreq
        if info is not None:
            if sfreq is not None and not math.isclose(sfreq, info["sfreq"]):
                raise ValueError(
                    f"sfreq={sfreq} differs from the Epochs' sampling rate "
                    f"{info['sfreq']}."
                )
            sfreq = info["sfreq"]
        if sfreq is None:
            raise ValueError(
                "sfreq is required with array input: pass "
                f"{type(self).__name__}(sfreq=...) (in Hz), or fit on mne.Epochs."
            )
        ch_names = self.ch_names
        if ch_names is None and info is not None:
            ch_names = list(info.ch_names)
        if ch_names is not None and len(ch_names) != n_chans:
            raise ValueError(
                f"ch_names has {len(ch_names)} names but X has {n_chans} channels."
            )
        positions = self.positions
        if positions is None and info is not None:
            from augsleep.channels import positions_from_info

            try:
                positions = positions_from_info(info)
            except ValueError as err:
                logger.info("No sensor positions in the Epochs' info (%s).", err)
        if positions is not None:
            positions = np.asarray(positions, dtype=np.float64)
            if positions.shape != (n_chans, 3):
                raise ValueError(
                    f"positions must have shape ({n_chans}, 3), got {positions.shape}."
                )
        return float(sfreq), None if ch_names is None else list(ch_names), positions

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

    def _build_augmentation(self):
        """Return (learnable AugmentationModule | None, fixed transform | None)."""
        from augsleep.augment import AugmentationModule, make_sleep_augmentation

        aug = self.augmentation
        if aug is None:
            return None, None
        if isinstance(aug, AugmentationModule):
            return copy.deepcopy(aug), None
        if isinstance(aug, str):
            if aug != "sleep":
                raise ValueError(
                    f"augmentation must be 'sleep', None, a list of lists of "
                    f"transform names, an AugmentationModule or braindecode "
                    f"transforms; got {aug!r}."
                )
            sensor_layer = (
                self.n_chans_in_ > 1
                and self.positions_ is not None
                and self.ch_names_ is not None
            )
            if not sensor_layer:
                reason = (
                    "a single channel"
                    if self.n_chans_in_ == 1
                    else "no channel names and sensor positions"
                )
                logger.info(
                    "Sleep augmentation without its sensor layer: the data have %s.",
                    reason,
                )
            module = make_sleep_augmentation(
                self.sfreq_,
                ch_names=self.ch_names_,
                positions=self.positions_,
                sensor_layer=sensor_layer,
                magnitude=self.initial_magnitude,
                temperature=self.temperature,
            )
            return module, None
        items = list(aug) if isinstance(aug, Sequence) else [aug]
        if items and all(_is_braindecode_transform(t) for t in items):
            return None, copy.deepcopy(items)
        if items and all(
            isinstance(layer, Sequence) and not isinstance(layer, str)
            for layer in items
        ):
            module = AugmentationModule.from_names(
                items,
                sfreq=self.sfreq_,
                ch_names=self.ch_names_,
                positions=self.positions_,
                magnitude=self.initial_magnitude,
                temperature=self.temperature,
            )
            return module, None
        raise TypeError(
            "augmentation must be 'sleep', None, a list of lists of transform names, "
            "an AugmentationModule or braindecode Transform(s); got "
            f"{type(aug).__name__}."
        )

    def _build_module(self, n_classes: int, seed: int):
        from augsleep.models.augnet import AugNet

        # Initialise from random_state without touching torch's global generator.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            trunk = self._build_trunk(n_classes)
            learnable, fixed = self._build_augmentation()
        if fixed is not None:
            rng = np.random.RandomState(seed)
            for sub in nn.ModuleList(fixed).modules():
                if hasattr(sub, "rng"):
                    sub.rng = np.random.RandomState(rng.randint(np.iinfo(np.int32).max))
            trunk = _FixedAugmentationTrunk(trunk, fixed)
        return AugNet(
            trunk,
            learnable,
            n_copies_train=self.n_copies_train,
            n_copies_eval=self.n_copies_eval,
            max_windows_per_forward=(
                max(1, CPU_TRUNK_CHUNK_VALUES // (self.n_chans_in_ * self.n_times_in_))
                if torch.device(self.device_).type == "cpu"
                else None
            ),
        )

    def _class_weights(self, y_enc: np.ndarray) -> Tensor | None:
        n_classes = len(self.classes_)
        if self.class_weight is None:
            return None
        if self.class_weight == "balanced":
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
        self : AugNetClassifier
            The fitted estimator.
        """
        self._check_params()
        X3 = self._validate_X(X, reset=True)
        if y is None:
            raise ValueError(
                f"requires y to be passed, but the target y is None "
                f"({type(self).__name__} is a classifier)."
            )
        y = column_or_1d(y, warn=True)
        check_consistent_length(X3, y)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                "This estimator needs samples of at least 2 classes in the data, but "
                f"the data contains only one class: {self.classes_[0]!r}."
            )
        y_enc = encoder.transform(y)
        self.n_chans_in_, self.n_times_in_ = X3.shape[1:]
        self.sfreq_, self.ch_names_, self.positions_ = self._context(self.n_chans_in_)
        self._info = None  # only needed for the context above
        if (X_val is None) != (y_val is None):
            raise ValueError("Pass both X_val and y_val, or neither.")

        rng = check_random_state(self.random_state)
        seed_init, seed_train, seed_split, seed_valid, self._predict_seed = (
            int(s) for s in rng.randint(np.iinfo(np.int32).max, size=5)
        )
        if X_val is not None:
            train_idx, valid_idx = np.arange(len(X3)), None
            X_val3 = self._validate_X(X_val, reset=False)
            y_val = column_or_1d(y_val, warn=True)
            check_consistent_length(X_val3, y_val)
            unknown = set(np.unique(y_val).tolist()) - set(self.classes_.tolist())
            if unknown:
                raise ValueError(f"y_val has labels {sorted(unknown)} not seen in y.")
            y_val_enc = encoder.transform(y_val)
        else:
            train_idx, valid_idx = self._split(len(X3), y_enc, groups, seed_split)
        X_tr = X3[train_idx]
        if self.scaling == "standard":
            self.scale_mean_ = X_tr.mean(axis=(0, 2), dtype=np.float64)
            std = X_tr.std(axis=(0, 2), dtype=np.float64)
            self.scale_std_ = np.where(std > 0, std, 1.0)
        X_tr_t = self._scale(X_tr)
        y_tr_t = torch.as_tensor(y_enc[train_idx], dtype=torch.long)
        if X_val is not None:
            X_va_t, y_va = self._scale(X_val3), y_val_enc
        elif valid_idx is not None:
            X_va_t, y_va = self._scale(X3[valid_idx]), y_enc[valid_idx]
        else:
            X_va_t, y_va = None, None

        device = _resolve_device(self.device)
        self.device_ = device
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            # Dropout draws from torch's global generator: seed it (inside fork_rng,
            # so the caller's generator is left as it was).
            torch.manual_seed(seed_train)
            self.module_ = self._build_module(len(self.classes_), seed_init).to(device)
            self._train(
                X_tr_t, y_tr_t, X_va_t, y_va, y_enc[train_idx], seed_train, seed_valid
            )
        return self

    def _make_optimizer(self):
        aug_params = (
            list(self.module_.augmentation.parameters())
            if not self.module_.augmentation.is_identity
            else []
        )
        aug_ids = {id(p) for p in aug_params}
        trunk_params = [p for p in self.module_.parameters() if id(p) not in aug_ids]
        groups = [{"params": trunk_params, "weight_decay": self.weight_decay}]
        if aug_params:
            # No weight decay on the augmentation: it would pull magnitudes to 0.
            groups.append({"params": aug_params, "weight_decay": 0.0})
        # The fused kernel updates every parameter in one call: with the ~20 small
        # tensors of AugNet, the per-parameter loop of the default implementation
        # costs several times more per step on the CPU (benchmarks/README.md).
        fused = torch.device(self.device_).type in ("cpu", "cuda")
        return torch.optim.Adam(
            groups,
            lr=self.lr,
            betas=tuple(float(b) for b in self.betas),
            fused=fused or None,
        )

    def _aug_record(self) -> dict:
        if self.module_.augmentation.is_identity:
            return {}
        return self.module_.augmentation.state_record()

    def _train(self, X_tr, y_tr, X_va, y_va, y_tr_enc, seed_train, seed_valid):
        from tqdm.auto import tqdm

        from augsleep.augment import lambda_at
        from augsleep.training import make_generator, train_epoch

        device = self.device_
        class_weight = self._class_weights(y_tr_enc)
        if class_weight is not None:
            class_weight = class_weight.to(device)
        optimizer = self._make_optimizer()
        generator = make_generator(seed_train, device)
        n_copies_valid = self.n_copies_valid or self.n_copies_eval
        best_score, best_epoch, best_state = -np.inf, 0, None
        history = []
        epochs = tqdm(
            range(self.max_epochs), disable=not self.verbose, desc="AugNet", unit="ep"
        )
        for epoch in epochs:
            start = time.perf_counter()
            lam = lambda_at(self.lam, epoch)
            metrics = train_epoch(
                self.module_,
                X_tr,
                y_tr,
                optimizer,
                batch_size=self.batch_size,
                generator=generator,
                regularizer=self.regularizer,
                lam=lam,
                class_weight=class_weight,
            )
            score = np.nan
            if X_va is not None:
                # Same draws at every epoch: scores differ only through the model.
                y_pred = self._predict_encoded(
                    X_va, seed_valid, n_copies=n_copies_valid
                )
                score = balanced_accuracy_score(y_va, y_pred)
            record = {
                "epoch": epoch,
                "train_loss": metrics["loss"],
                "train_ce": metrics["ce"],
                "train_reg": metrics["reg"],
                "lam": lam,
                "valid_balanced_accuracy": score,
                "dur_s": time.perf_counter() - start,
                **self._aug_record(),
            }
            history.append(record)
            epochs.set_postfix(loss=f"{metrics['loss']:.3f}", valid_bacc=f"{score:.3f}")
            if X_va is None:
                continue
            if score > best_score:
                best_score, best_epoch = score, epoch
                best_state = {
                    k: v.detach().clone() for k, v in self.module_.state_dict().items()
                }
            elif self.patience is not None and epoch - best_epoch >= self.patience:
                logger.info(
                    "Early stopping at epoch %d (best epoch %d).", epoch, best_epoch
                )
                break
        if best_state is not None:
            self.module_.load_state_dict(best_state)
        else:
            best_epoch = len(history) - 1
        self.module_.eval()
        self.best_epoch_ = best_epoch
        self.best_valid_score_ = float(best_score) if X_va is not None else np.nan
        self.n_epochs_ = len(history)
        self.history_ = pd.DataFrame(history)
        self.learned_augmentations_ = self._summary()

    def _summary(self) -> pd.DataFrame:
        if self.module_.augmentation.is_identity:
            return pd.DataFrame(
                columns=[
                    "layer",
                    "transform",
                    "weight",
                    "magnitude",
                    "physical_value",
                    "unit",
                ]
            )
        return self.module_.augmentation.summary()

    # -------------------------------------------------------------- predict
    def _predict_log_proba_tensor(self, X_t: Tensor, seed: int, n_copies=None):
        from augsleep.training import make_generator, predict_log_proba

        generator = make_generator(seed, self.device_)
        return predict_log_proba(
            self.module_,
            X_t,
            batch_size=self._predict_batch_size(X_t, n_copies),
            n_copies=n_copies,
            generator=generator,
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
        return self._scale(self._validate_X(X, reset=False))

    def predict_proba(self, X):
        """Class probabilities averaged over ``n_copies_eval`` augmented copies.

        Parameters
        ----------
        X : array-like, shape (n_windows, n_channels, n_times) or \
(n_windows, n_times) | mne.Epochs
            Windows, with the channels and length seen at fit.

        Returns
        -------
        proba : ndarray of float64, shape (n_windows, n_classes)
            Columns ordered as :attr:`classes_`.
        """
        X_t = self._prepare(X)
        # The current n_copies_eval, so that set_params after fit takes effect.
        log_proba = self._predict_log_proba_tensor(
            X_t, self._predict_seed, n_copies=self.n_copies_eval
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
            transform at a fixed magnitude (``DifferentiableTransform.at(mu)``)
            or a braindecode ``Transform``.
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
        from augsleep.training import make_generator

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

    def export_policy(self, units="standardized", random_state=None):
        """Export the learned augmentations as braindecode transforms.

        See :func:`augsleep.augment.export_policy`.

        Parameters
        ----------
        units : {"standardized", "input"}
            Units of the Gaussian-noise standard deviation: of the scaled data
            the model saw (to retrain an ``AugNetClassifier`` with the exported
            policy), or of the input data (e.g. microvolts, for braindecode's
            ``EEGClassifier`` on unscaled windows).
        random_state : int | None
            Seed of the exported transforms' numpy generators.

        Returns
        -------
        transforms : list of braindecode Transform
            One per layer, to apply in sequence (e.g. as ``transforms`` of
            braindecode's ``AugmentedDataLoader``).
        """
        from augsleep.augment.export import export_policy

        check_is_fitted(self)
        if self.module_.augmentation.is_identity:
            raise ValueError(
                "This model has no learnable augmentation (augmentation is None or "
                "fixed); there is no learned policy to export."
            )
        if units not in ("standardized", "input"):
            raise ValueError(f"units must be 'standardized' or 'input', got {units!r}.")
        scale = 1.0
        if units == "input" and self.scaling == "standard":
            scale = float(np.mean(self.scale_std_))
        return export_policy(
            self.module_.augmentation,
            sfreq=self.sfreq_,
            ch_names=self.ch_names_,
            positions=self.positions_,
            noise_scale=scale,
            random_state=random_state,
        )

    # ------------------------------------------------------ persistence
    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_info", None)  # mne.Info: not needed after fit
        module = state.get("module_")
        if module is not None and next(module.parameters()).device.type != "cpu":
            # Pickles open on machines without the GPU the model was trained on.
            state["module_"] = copy.deepcopy(module).cpu()
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._info = None
        if "module_" in state:
            self.device_ = _resolve_device(self.device)
            self.module_.to(self.device_)

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
    )

    def save(self, path) -> None:
        """Save the fitted model to a file (``torch.save``).

        Only tensors, numbers, strings and containers are written when the
        parameters are plain values (default trunk, augmentation ``"sleep"``,
        ``None`` or names), so :meth:`load` can read the file with
        ``torch.load(weights_only=True)``, which runs no pickled code. A custom
        trunk, module or braindecode transforms are pickled with the file.

        Parameters
        ----------
        path : str | Path
            Destination file (e.g. ``"model.pt"``).
        """
        check_is_fitted(self)
        fitted = {}
        for name in self._FITTED:
            if not hasattr(self, name):
                continue
            value = getattr(self, name)
            if isinstance(value, np.ndarray):
                value = torch.from_numpy(value) if value.dtype.kind == "f" else value
            fitted[name] = value
        fitted["classes_"] = self.classes_.tolist()
        params = {
            # Arrays as lists: torch.load(weights_only=True) reads no numpy arrays.
            k: v.tolist() if isinstance(v, np.ndarray) else v
            for k, v in self.get_params(deep=False).items()
        }
        payload = {
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "params": params,
            "fitted": fitted,
            "history": self.history_.to_dict(orient="list"),
            "state_dict": {k: v.cpu() for k, v in self.module_.state_dict().items()},
        }
        torch.save(payload, Path(path))

    @classmethod
    def load(cls, path, trusted=False, device=None):
        """Load a model written by :meth:`save`.

        Parameters
        ----------
        path : str | Path
            File written by :meth:`save`.
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
        estimator : AugNetClassifier
            Fitted estimator.
        """
        path = Path(path)
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as err:
            if not trusted:
                raise ValueError(
                    f"{path} contains pickled Python objects (a custom trunk or "
                    "augmentation), which can execute code when loaded. Pass "
                    "trusted=True only if you trust where the file comes from."
                ) from err
            payload = torch.load(path, map_location="cpu", weights_only=False)
        if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
            raise ValueError(f"{path} was not written by {cls.__name__}.save.")
        params = dict(payload["params"])
        if device is not None:
            params["device"] = device
        est = cls(**params)
        for name, value in payload["fitted"].items():
            if isinstance(value, Tensor):
                value = value.numpy()
            setattr(est, name, value)
        est.classes_ = np.asarray(est.classes_)
        if est.positions_ is not None:
            est.positions_ = np.asarray(est.positions_, dtype=np.float64)
        est._info = None
        est.history_ = pd.DataFrame(payload["history"])
        est.device_ = _resolve_device(est.device)
        module = est._build_module(len(est.classes_), seed=0)
        module.load_state_dict(payload["state_dict"])
        est.module_ = module.to(est.device_).eval()
        est.learned_augmentations_ = est._summary()
        return est
