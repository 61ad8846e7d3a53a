"""scikit-learn estimator for sleep staging with AugNet.

:class:`AugNetClassifier` wraps :class:`augsleep.models.AugNet` (a trunk such as
``SleepStagerChambon2018`` preceded by learnable augmentation layers) behind the
usual ``fit`` / ``predict`` / ``predict_proba`` / ``score`` interface of
:class:`augsleep.methods.base.BaseSleepClassifier`, which holds the fit chain,
prediction and persistence shared by every method. This module holds what is
AugNet's own: the augmentation it builds, its regulariser, and the export of the
learned policy. The same class also trains the no-augmentation baseline
(``augmentation=None``) and a fixed, hand-picked augmentation (braindecode
transforms), as :class:`augsleep.NoAugmentationClassifier` and
:class:`augsleep.FixedAugmentationClassifier` do.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Mapping, Sequence
from functools import partial
from numbers import Integral, Real

import pandas as pd
from sklearn.utils._param_validation import Interval, RealNotInt, StrOptions
from sklearn.utils.validation import check_is_fitted
from torch import Tensor, nn

from augsleep.methods._docs import fill_doc
from augsleep.methods._fixed import FixedAugmentationTrunk, is_braindecode_transform
from augsleep.methods.base import BaseSleepClassifier

logger = logging.getLogger(__name__)

#: AugNetClassifier's parameters of how often and on what early stopping scores.

# Pickles of fitted models from before augsleep.methods refer to it here.
_FixedAugmentationTrunk = FixedAugmentationTrunk


def _augmentation_regularization(model: nn.Module, kind: str) -> Tensor:
    from augsleep.augment import regularization

    return regularization(model.augmentation, kind)


def _check_lambda_schedule(lam: Mapping, estimator_name: str) -> None:
    """Refuse a ``{first_epoch: weight}`` schedule that is not one (at ``fit``)."""
    from sklearn.utils._param_validation import InvalidParameterError

    def fail(what: str):
        raise InvalidParameterError(
            f"The 'lam' parameter of {estimator_name} must be a schedule "
            "{first_epoch: weight} with integer epochs >= 0 including 0 and finite "
            f"weights >= 0; {what} in {lam!r}."
        )

    keys = list(lam)
    bad_keys = [
        k for k in keys if isinstance(k, bool) or not isinstance(k, Integral) or k < 0
    ]
    if bad_keys:
        fail(f"got the epochs {bad_keys!r}")
    if 0 not in lam:
        fail("epoch 0 is missing")
    for k, v in lam.items():
        if (
            isinstance(v, bool)
            or not isinstance(v, Real)
            or not math.isfinite(v)
            or v < 0
        ):
            fail(f"got {v!r} at epoch {k}")


@fill_doc
class AugNetClassifier(BaseSleepClassifier):
    """Sleep-stage classifier with learnable augmentation layers (AugNet).

    Defaults follow the sleep experiment of Rommel, Moreau & Gramfort (NeurIPS
    2022, Section 5.2 and Appendix A.4). The ``"augnet"`` method of
    :data:`augsleep.methods.METHODS`.

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
    lam : float | callable | dict
        Weight lambda of the invariance regulariser (constant, function of the
        epoch, or ``{first_epoch: value}`` schedule). The paper uses 10 on sleep.
    regularizer : {"augnet", "augerino", "none"}
        Invariance-promoting regulariser (:mod:`augsleep.regularizers`).
    n_copies_train : int
        Augmented copies C averaged in training (paper: 1).
    n_copies_eval : int
        Augmented copies C averaged by ``predict`` / ``predict_proba`` (paper: 20).
    n_copies_valid : int | None
        Copies used to score the validation set at every validated epoch;
        ``None`` (default) uses ``n_copies_eval``, as the paper does. Lower it to
        make validation cheaper: validation at ``C`` copies costs about ``C``
        predictions of the validation set, which at ``C = 20`` was a quarter
        (1 x 500 windows) to two thirds (6 x 3000) of AugNet's fit time; ``4``
        kept the same epochs in most measured fits at a fifth of the cost
        (benchmarks/README.md, "Fit cost").
    valid_every : int
        Score the validation set after every ``valid_every``-th epoch only (and
        after the last of ``max_epochs``); the other epochs have NaN as
        ``valid_balanced_accuracy`` in ``history_`` and cannot be the best epoch.
        ``1`` (default, the paper) validates every epoch. ``patience`` still
        counts epochs: training stops at the first validated epoch at least
        ``patience`` epochs after the best one (see
        :func:`augsleep.training.fit_loop`).
    valid_subsample : int | float | None
        Score early stopping on a subsample of the validation set: that many
        windows (int), or that fraction of them (float in (0, 1)). The windows
        are drawn once per fit from ``random_state`` (the same windows at every
        epoch), stratified by stage when every stage has at least two windows.
        ``None`` (default, the paper) scores them all. ``best_valid_score_`` is
        then the subsample's balanced accuracy.
    initial_magnitude : float
        Initial magnitude of every learnable transform, in [0, 1]. Not 0 by
        default: the AugNet regulariser ``-||w * mu||`` has zero gradient when all
        magnitudes are 0, so they would only leave 0 through noise.
    temperature : float
        Softmax temperature of the layers' weights.
    n_sampled_transforms : int | None
        Train each layer on this many of its transforms per batch, drawn from
        its weights and importance-weighted, so that the layer's output and
        gradients are unbiased estimates of the full sum (see
        :class:`augsleep.augment.AugLayer`): cheaper steps where the transforms
        dominate them (short windows), noisier gradients. ``None`` (default, the
        paper) sums every transform. Prediction is unchanged. Only for learnable
        layers (the preset, names or an AugmentationModule, whose layers it sets).
    %(shared_parameters)s

    Attributes
    ----------
    %(shared_attributes)s
    learned_augmentations_ : DataFrame
        Alias of ``augmentation_summary_``: per learnable transform its
        ``weight``, ``magnitude`` and ``physical_value`` in ``unit``; with fixed
        braindecode transforms, the transforms used (see
        :class:`augsleep.FixedAugmentationClassifier`).

    Notes
    -----
    See :class:`augsleep.methods.base.BaseSleepClassifier` for the input, the
    scaling and why :meth:`score` is the balanced accuracy. Standard scaling
    is the unit in which the Gaussian noise range (0-0.2 std) is meant.

    Prediction averages the probabilities of ``n_copies_eval`` randomly augmented
    copies; the draws are seeded by ``random_state``, so repeated calls on the
    same X give the same result, but a window's prediction can change slightly
    with the batch it is predicted in (different draws). Windows are predicted in
    batches of about four million augmented values
    (:data:`augsleep.training.PREDICT_BATCH_VALUES`: 233 windows of 6 x 3000 with
    one copy, 11 with 20), so that memory does not grow with ``n_copies_eval``.
    On a CPU the trunk processes the augmented copies in chunks of about half a
    million values (:data:`augsleep.training.CPU_TRUNK_CHUNK_VALUES`), which is
    faster than one large batch and does not change the result.

    Training uses torch's fused Adam on CPU and CUDA: AugNet adds about 20 small
    parameter tensors, which the default per-parameter loop updates several
    times more slowly.
    """

    _parameter_constraints: dict = {
        **BaseSleepClassifier._parameter_constraints,
        # Names, presets, modules and transforms: checked when built at fit.
        "augmentation": "no_validation",
        "lam": [Interval(Real, 0, None, closed="left"), callable, Mapping],
        "regularizer": [StrOptions({"augnet", "augerino", "none"})],
        "n_copies_train": [Interval(Integral, 1, None, closed="left")],
        "n_copies_eval": [Interval(Integral, 1, None, closed="left")],
        "n_copies_valid": [Interval(Integral, 1, None, closed="left"), None],
        "valid_every": [Interval(Integral, 1, None, closed="left")],
        "valid_subsample": [
            Interval(Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="neither"),
            None,
        ],
        "initial_magnitude": [Interval(Real, 0, 1, closed="both")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "n_sampled_transforms": [Interval(Integral, 1, None, closed="left"), None],
    }

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
        valid_every=1,
        valid_subsample=None,
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
        n_sampled_transforms=None,
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
        self.augmentation = augmentation
        self.lam = lam
        self.regularizer = regularizer
        self.n_copies_train = n_copies_train
        self.n_copies_eval = n_copies_eval
        self.n_copies_valid = n_copies_valid
        self.valid_every = valid_every
        self.valid_subsample = valid_subsample
        self.initial_magnitude = initial_magnitude
        self.temperature = temperature
        self.n_sampled_transforms = n_sampled_transforms

    @property
    def learned_augmentations_(self) -> pd.DataFrame:
        """Alias of ``augmentation_summary_`` (the name before the methods API)."""
        return self.augmentation_summary_

    def _check_params(self) -> None:
        super()._check_params()
        if isinstance(self.lam, Mapping):
            _check_lambda_schedule(self.lam, type(self).__name__)

    # ------------------------------------------------------------------ hooks
    def _regularizer_kind(self) -> str:
        return self.regularizer

    def _regularizer(self):
        return partial(_augmentation_regularization, kind=self._regularizer_kind())

    def _lambda_at(self, epoch: int) -> float:
        from augsleep.augment import lambda_at

        return lambda_at(self.lam, epoch)

    def _extra_record(self, module: nn.Module) -> dict:
        if module.augmentation.is_identity:
            return {}
        return module.augmentation.state_record()

    def _module_kwargs(self) -> dict:
        return {
            "n_copies_train": self.n_copies_train,
            "n_copies_eval": self.n_copies_eval,
        }

    def _eval_copies(self) -> int:
        # The current value, so that set_params after fit takes effect.
        return self.n_copies_eval

    def _valid_copies(self) -> int:
        return self.n_copies_valid or self.n_copies_eval

    # A subclass whose __init__ does not take these keeps the paper's validation.
    def _valid_every(self) -> int:
        return self.valid_every

    def _valid_subsample(self):
        return self.valid_subsample

    def _build_augmentation(self):
        from augsleep.augment import AugmentationModule

        aug = self.augmentation
        if self.n_sampled_transforms is not None and (
            aug is None or _is_braindecode(aug)
        ):
            kind = "None" if aug is None else "fixed braindecode transforms"
            raise ValueError(
                "n_sampled_transforms applies to learnable augmentation layers; "
                f"augmentation is {kind}. Leave n_sampled_transforms=None."
            )
        if aug is None:
            return None
        if isinstance(aug, AugmentationModule):
            module = copy.deepcopy(aug)
            if self.n_sampled_transforms is not None:
                for layer in module.layers:
                    layer.n_sampled_transforms = self.n_sampled_transforms
            return module
        if isinstance(aug, str):
            if aug != "sleep":
                raise ValueError(
                    f"augmentation must be 'sleep', None, a list of lists of "
                    f"transform names, an AugmentationModule or braindecode "
                    f"transforms; got {aug!r}."
                )
            return self._sleep_preset()
        if _is_braindecode(aug):
            return copy.deepcopy(list(aug) if isinstance(aug, Sequence) else [aug])
        items = list(aug) if isinstance(aug, Sequence) else [aug]
        if items and all(
            isinstance(layer, Sequence) and not isinstance(layer, str)
            for layer in items
        ):
            return AugmentationModule.from_names(
                items,
                sfreq=self.sfreq_,
                ch_names=self.ch_names_,
                positions=self.positions_,
                magnitude=self.initial_magnitude,
                temperature=self.temperature,
                n_sampled_transforms=self.n_sampled_transforms,
            )
        raise TypeError(
            "augmentation must be 'sleep', None, a list of lists of transform names, "
            "an AugmentationModule or braindecode Transform(s); got "
            f"{type(aug).__name__}."
        )

    def _sleep_preset(self):
        from augsleep.augment import make_sleep_augmentation

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
        return make_sleep_augmentation(
            self.sfreq_,
            ch_names=self.ch_names_,
            positions=self.positions_,
            sensor_layer=sensor_layer,
            magnitude=self.initial_magnitude,
            temperature=self.temperature,
            n_sampled_transforms=self.n_sampled_transforms,
        )

    # ----------------------------------------------------------- inspection
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
        check_is_fitted(self)
        if self.module_.augmentation.is_identity:
            raise ValueError(
                "This model has no learnable augmentation (augmentation is None or "
                "fixed); there is no learned policy to export."
            )
        return self._export(self.module_.augmentation, units, random_state)


def _is_braindecode(augmentation) -> bool:
    """Whether ``augmentation`` is one braindecode transform or a list of them."""
    if isinstance(augmentation, str):
        return False
    items = list(augmentation) if isinstance(augmentation, Sequence) else [augmentation]
    return bool(items) and all(is_braindecode_transform(t) for t in items)
