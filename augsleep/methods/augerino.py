"""Augerino: AugNet's layers with Augerino's regulariser ``-||mu||``."""

from __future__ import annotations

from augsleep.estimator import AugNetClassifier
from augsleep.methods._docs import fill_doc


@fill_doc
class AugerinoClassifier(AugNetClassifier):
    """Learnable augmentation layers trained with Augerino's regulariser.

    The baseline of the AugNet paper (Benton et al., NeurIPS 2020, on AugNet's
    layers): the loss is ``CE - lambda ||mu||_2``, which rewards large magnitudes
    whether the layer uses the transforms or not (the failure that AugNet's
    ``-||w * mu||`` prevents). Equivalent to
    ``AugNetClassifier(regularizer="augerino")``; the ``"augerino"`` method of
    :data:`augsleep.methods.METHODS`.

    Parameters
    ----------
    augmentation : "sleep" | None | list of list of str | AugmentationModule
        Learnable layers, as in :class:`augsleep.AugNetClassifier`.
    lam : float | callable | dict
        Weight lambda of the regulariser (constant, function of the epoch, or
        ``{first_epoch: value}`` schedule).
    n_copies_train, n_copies_eval : int
        Augmented copies C averaged in training and by ``predict``.
    n_copies_valid : int | None
        Copies used to score the validation set; ``None`` uses ``n_copies_eval``.
    valid_every : int
        Score the validation set after every ``valid_every``-th epoch only (and
        after the last), as in :class:`augsleep.AugNetClassifier`.
    valid_subsample : int | float | None
        Score a fixed stratified subsample of the validation set (a number of
        windows or a fraction), as in :class:`augsleep.AugNetClassifier`.
    initial_magnitude : float
        Initial magnitude of every learnable transform, in [0, 1].
    temperature : float
        Softmax temperature of the layers' weights.
    n_sampled_transforms : int | None
        Terms of each layer's training sum (see
        :class:`augsleep.AugNetClassifier`); ``None`` sums all of them.
    %(shared_parameters)s

    Attributes
    ----------
    %(shared_attributes)s
    learned_augmentations_ : DataFrame
        Alias of ``augmentation_summary_``.
    """

    _parameter_constraints: dict = {
        k: v
        for k, v in AugNetClassifier._parameter_constraints.items()
        if k != "regularizer"
    }

    def __init__(
        self,
        augmentation="sleep",
        *,
        trunk="chambon",
        lam=10.0,
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
        # Not AugNetClassifier.__init__: it would set a regularizer parameter.
        super(AugNetClassifier, self).__init__(
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
        self.n_copies_train = n_copies_train
        self.n_copies_eval = n_copies_eval
        self.n_copies_valid = n_copies_valid
        self.valid_every = valid_every
        self.valid_subsample = valid_subsample
        self.initial_magnitude = initial_magnitude
        self.temperature = temperature
        self.n_sampled_transforms = n_sampled_transforms

    def _regularizer_kind(self) -> str:
        return "augerino"
