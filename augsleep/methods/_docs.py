"""Numpydoc shared by the estimators' docstrings (MNE-style ``%(name)s`` filling)."""

#: Numpydoc of the parameters every method shares; ``%(shared_parameters)s`` in a
#: class docstring is replaced by it (:func:`fill_doc`).
SHARED_PARAMETERS_DOC = """\
    trunk : "chambon" | callable | nn.Module
        ``"chambon"``: braindecode's ``SleepStagerChambon2018`` sized from the data
        (channels, sampling rate, window length). A callable is called as
        ``trunk(n_chans, sfreq, n_times, n_classes)`` and must return an
        ``nn.Module`` mapping (n_windows, n_chans, n_times) to logits. A module is
        copied at ``fit``.
    lr : float
        Adam learning rate (paper: 1e-3).
    betas : tuple of float
        Adam's ``(beta1, beta2)``. The default ``(0.0, 0.999)`` is the value stated
        in the AugNet paper's Appendix A.4 for every sleep model (the paper writes
        floats with a trailing dot, e.g. "1.", so "beta1 = 0." reads as 0, not a
        typo for 0.9): Adam without first-moment averaging. Pass ``(0.9, 0.999)``
        for PyTorch's default.
    weight_decay : float
        Weight decay of the trunk (augmentation parameters get none: it would
        pull the magnitudes to 0).
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
        ``n_windows / (n_classes * count)``; a dict maps labels to weights
        (labels left out weigh 1), and then also weights the per-class recalls
        of the validation balanced accuracy that early stopping and the searches
        maximise (``"balanced"`` and ``None`` validate with the plain balanced
        accuracy).
    scaling : "standard" | None
        ``"standard"`` z-scores every channel with the mean and standard
        deviation of the training windows (stored as ``scale_mean_``,
        ``scale_std_``) before the augmentation and the trunk, at fit and predict
        time. ``None`` feeds the data as given.
    sfreq : float | None
        Sampling frequency in Hz. Required with array input; read from
        ``info["sfreq"]`` with ``mne.Epochs`` (they must agree when both given).
    ch_names : list of str | None
        Channel names; read from ``mne.Epochs`` when None.
    positions : array-like, shape (n_channels, 3) | None
        Sensor positions in metres; read from the montage of ``mne.Epochs`` when
        None.
    device : "auto" | str | torch.device
        ``"auto"`` picks CUDA when available, else the CPU.
    random_state : int | RandomState | None
        Seeds every draw: weight initialisation, dropout, shuffling, augmentation
        draws (training, validation and prediction) and the validation split.
        With an int, two fits give identical predictions on the CPU.
    verbose : int
        ``> 0`` shows a tqdm progress bar over epochs."""

#: Numpydoc of the fitted attributes every method shares (``%(shared_attributes)s``).
SHARED_ATTRIBUTES_DOC = """\
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
        The trained network (augmentation module, or None, + trunk).
    history_ : DataFrame
        One row per epoch: ``epoch``, ``train_loss``, ``train_ce``, ``train_reg``,
        ``lam``, ``valid_balanced_accuracy`` (NaN without validation set), the
        measured seconds ``train_s``, ``valid_s``, ``dur_s``, and the method's own
        columns (e.g. weights and magnitudes of learnable transforms).
    augmentation_summary_ : DataFrame
        What the model learned or used: columns ``layer``, ``transform``,
        ``weight``, ``magnitude``, ``physical_value``, ``unit``; empty (same
        columns) without augmentation.
    compute_time_ : dict of str to float
        Measured wall-clock seconds of ``fit``: ``pretrain_s``, ``search_s``,
        ``retrain_s`` and ``total_s``. A method that trains once (AugNet learns
        its augmentation during that training) counts it, with its per-epoch
        validation, as ``retrain_s`` and has ``pretrain_s = search_s = 0``;
        ``total_s`` is the whole ``fit`` (input checks, split and scaling too).
        NaN in models loaded from files written before it was recorded.
    best_epoch_ : int
        Epoch whose weights were kept.
    best_valid_score_ : float
        Validation balanced accuracy of that epoch (its recalls weighted by a
        dict ``class_weight``; NaN without validation set).
    n_epochs_ : int
        Number of epochs run.
    interrupted_ : bool
        Whether a ``KeyboardInterrupt`` (Ctrl-C) stopped the training early:
        ``history_`` then holds the finished epochs and the model the weights of
        ``best_epoch_`` (see ``fit``). False in models loaded from files written
        before it was recorded."""


#: Numpydoc of the parameters of the policy searches (``%(search_parameters)s``):
#: :mod:`augsleep.methods._search`.
SEARCH_PARAMETERS_DOC = """\
    search_budget : int
        Number of trials: policies proposed, each trained from scratch and
        scored by its best validation balanced accuracy.
    checkpoint_every : int
        Every this many trials, and always at the end of the search, the best
        policy so far is retrained from scratch (fresh seeds) and recorded as a
        row of ``search_history_`` (the paper's Fig. 6b stops every 5
        samplings).
    n_subpolicies : int
        ``K``, sub-policies per policy (paper: 5).
    n_stages : int
        ``N``, stages (operations) per sub-policy (paper: 2).
    operations : sequence of str | None
        Candidate operations (names of :data:`augsleep.transforms.TRANSFORMS`);
        ``None``: all 13 of Table A.4 that the data allow
        (:func:`augsleep.augment.make_operations`)."""

#: Numpydoc of the fitted attributes of the policy searches
#: (``%(search_attributes)s``).
SEARCH_ATTRIBUTES_DOC = """\
    policy_choices_ : list of list of (str, float, float)
        The final policy: ``(operation, probability, magnitude)`` per stage, per
        sub-policy (:meth:`augsleep.augment.Policy.from_choices` form).
    policy_ : Policy
        The final policy as a module (property).
    trials_ : DataFrame
        One row per trial, in order: ``trial`` (0, 1, ...),
        ``valid_balanced_accuracy`` (best over the child's epochs),
        ``best_epoch``, ``n_epochs``, ``time_s`` (measured seconds of the
        trial), ``resumed`` (run by an earlier fit), the method's own columns,
        then the policy's ``3 K N`` values ``sub{k}_stage{s}_operation``,
        ``sub{k}_stage{s}_probability``, ``sub{k}_stage{s}_magnitude``.
    search_history_ : DataFrame
        One row per checkpoint: ``step`` (0, 1, ...), ``n_trials`` (trials done
        so far), ``search_s`` (cumulative seconds of search),
        ``step_search_s`` (seconds of search since the previous checkpoint),
        ``pretrain_s`` (0 here), ``retrain_s`` (seconds of this checkpoint's
        retraining), ``total_s`` (``pretrain_s + search_s + retrain_s``: the
        cost of this point, as the x-axis of the paper's Fig. 6b),
        ``valid_balanced_accuracy`` of the retrained model,
        ``test_balanced_accuracy`` (only when ``fit`` got test data),
        ``best_trial`` and ``trial_valid_balanced_accuracy`` (the trial whose
        policy was retrained, and its search score) and ``policy`` (the
        policy's choices as a JSON string)."""


#: Numpydoc of the bilevel searches' own parameters (``%(bilevel_parameters)s``):
#: :mod:`augsleep.methods._bilevel`.
BILEVEL_PARAMETERS_DOC = """\
    pretrain_epochs : int
        Epochs of the warm start of the trunk without augmentation before the
        search (reference: 20), early-stopped on the validation set like every
        training; 0 starts the search from a fresh trunk (``pretrain_s = 0``).
        Counted as ``pretrain_s``.
    policy_lr : float
        Adam learning rate of the policy (the outer problem; ADDA's
        grid-searched value 5e-4).
    policy_betas : tuple of float
        Adam's ``(beta1, beta2)`` of the policy (DARTS's architect: (0.5,
        0.999)).
    unrolled_lr : float | None
        ``xi``, the step of the unrolled trunk update ``theta' = theta - xi
        grad L_train``; ``None`` uses ``lr`` (DARTS: the trunk's learning
        rate).
    fd_r : float
        ``r`` of the finite-difference Hessian-vector product, whose step is
        ``r / ||grad L_valid(theta')||`` (DARTS: 1e-2).
    valid_batch_size : int | None
        Validation windows per outer step (drawn without replacement, the
        validation set reshuffled once used up); ``None`` uses ``batch_size``.
    temperature : float
        Softmax temperature of the operation weights during the search
        (Faster AutoAugment: 0.05).
    gate_temperature : float
        Temperature of the relaxed Bernoulli gates of the probabilities during
        the search."""


def fill_doc(cls):
    """Fill the ``%(shared_*)s`` and ``%(search_*)s`` placeholders of a docstring.

    Parameters
    ----------
    cls : type
        Class whose ``__doc__`` holds the placeholders.

    Returns
    -------
    cls : type
        The same class.
    """
    if cls.__doc__:
        # The placeholders are indented like the entries: strip the block's first.
        for key, doc in (
            ("search_parameters", SEARCH_PARAMETERS_DOC),
            ("search_attributes", SEARCH_ATTRIBUTES_DOC),
            ("bilevel_parameters", BILEVEL_PARAMETERS_DOC),
            ("shared_parameters", SHARED_PARAMETERS_DOC),
            ("shared_attributes", SHARED_ATTRIBUTES_DOC),
        ):
            cls.__doc__ = cls.__doc__.replace(f"%({key})s", doc.lstrip())
    return cls
