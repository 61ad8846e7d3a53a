"""Fast AutoAugment: policies searched by density matching, without retraining.

Fast AutoAugment (Lim et al. 2019) breaks AutoAugment's bilevel problem: a
model trained *without* augmentation should classify augmented data as well as
clean data when the augmentation keeps the data's distribution, so a policy is
scored by how well a frozen pretrained model classifies held-out data augmented
by it, and no child model is trained per trial. Here, as in the reference:

1. **pretrain** (``pretrain_s``): the training set is split into ``n_folds``
   folds; for every fold ``k`` a trunk is trained without augmentation on the
   other folds (``D_M``), early-stopped on the validation set;
2. **search** (``search_s``): on every fold, ``search_budget`` TPE trials (one
   Optuna study per fold, ``TPESampler`` seeded from ``random_state``) propose
   policies of the AutoAugment space; each is scored by the balanced accuracy
   of fold ``k``'s frozen model (evaluation mode) on fold ``k`` (``D_A``)
   augmented by the policy (``Policy`` in sample mode, one draw per window from
   a generator seeded per fold, the same for every trial of that fold);
3. the ``n_top`` best policies of every fold are merged: their sub-policies
   concatenated into one :class:`~augsleep.augment.Policy` with uniform
   sub-policy weights (one sub-policy drawn per window);
4. **retrain** (``retrain_s``): the trunk is trained from scratch on the whole
   training set with the merged policy (``TrainingOnly``), early-stopped on the
   validation set. Checkpoints follow the shared protocol of
   :mod:`augsleep.methods._search`: every ``checkpoint_every`` trials *per
   fold* (the folds' searches advance together, one trial each per round) and
   at the end, the policy merged so far is retrained; the final model is the
   best checkpoint's.
"""

from __future__ import annotations

import logging
import time
from numbers import Integral

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import (
    GroupKFold,
    KFold,
    StratifiedGroupKFold,
    StratifiedKFold,
)
from sklearn.utils._param_validation import Interval

from augsleep.methods._docs import fill_doc
from augsleep.methods._search import (
    PROPOSER_KEY,
    TRIAL_COLUMNS,
    PolicySearchClassifier,
    _Checkpoints,
    choices_to_params,
    derived_seed,
    params_to_choices,
    policy_parameter_names,
)
from augsleep.methods.autoaugment import _optuna_logging, _TPEProposer, open_study
from augsleep.methods.base import _derived_seeds, _FitData
from augsleep.training import make_generator, predict_batch_size, predict_log_proba

logger = logging.getLogger(__name__)

# Keys of the seeds of the pretrainings and of the held-out augmentation draws
# (apart from _search's trial, retraining and proposer keys 0, 1, 2).
_PRETRAIN_KEY, _DENSITY_KEY = 3, 4

#: Columns of ``folds_``.
FOLD_COLUMNS = (
    "fold",
    "n_train",
    "n_heldout",
    "valid_balanced_accuracy",
    "heldout_balanced_accuracy",
    "best_epoch",
    "n_epochs",
    "time_s",
)


def fold_indices(
    y_enc: np.ndarray, n_folds: int, seed: int, groups: np.ndarray | None = None
) -> list[tuple]:
    """Split training windows into ``n_folds`` (``D_M``, ``D_A``) pairs.

    Stratified by class when every class has at least ``n_folds`` windows
    (so that every ``D_A`` sees every stage), plain shuffled folds otherwise.
    With ``groups``, every group (e.g. subject) falls in one fold, so that
    ``D_M`` and ``D_A`` share no group (``StratifiedGroupKFold``, or
    ``GroupKFold`` when a class has fewer than ``n_folds`` windows).

    Parameters
    ----------
    y_enc : ndarray, shape (n_windows,)
        Encoded labels of the training windows.
    n_folds : int
        ``K``.
    seed : int
        Seed of the shuffling.
    groups : ndarray, shape (n_windows,) | None
        Group of every training window.

    Returns
    -------
    folds : list of (ndarray, ndarray)
        Per fold, the indices of ``D_M`` (the other folds) and of ``D_A`` (the
        fold itself).

    Raises
    ------
    ValueError
        If there are fewer groups than folds.
    """
    counts = np.bincount(y_enc)
    counts = counts[counts > 0]
    stratified = counts.min() >= n_folds
    if groups is not None:
        n_groups = len(np.unique(groups))
        if n_groups < n_folds:
            raise ValueError(
                f"n_folds={n_folds} folds by group need at least as many groups "
                f"among the training windows, got {n_groups}: lower n_folds, or "
                "fit without groups."
            )
        if stratified:
            splitter = StratifiedGroupKFold(n_folds, shuffle=True, random_state=seed)
        else:
            splitter = GroupKFold(n_folds, shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros(len(y_enc)), y_enc, groups))
    if stratified:
        splitter = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
    else:
        splitter = KFold(n_folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y_enc)), y_enc))


def merge_top_policies(records: list[dict], n_folds, n_top, n_subpolicies, n_stages):
    """Merge the ``n_top`` best policies of every fold into one.

    Parameters
    ----------
    records : list of dict
        ``trials_`` records with ``fold``, ``trial`` and
        ``valid_balanced_accuracy`` (the density-matching score).
    n_folds, n_top, n_subpolicies, n_stages : int
        ``K`` folds, ``N`` top policies per fold, and the policies' shape.

    Returns
    -------
    choices : list of list of (str, float, float)
        The sub-policies of the selected policies, fold by fold, best first
        within a fold (ties: the earlier trial):
        ``n_folds * min(n_top, trials per fold) * n_subpolicies`` of them.
    selected : list of int
        The ``trial`` of every selected policy, in the same order.
    """
    choices, selected = [], []
    for fold in range(n_folds):
        mine = [r for r in records if r["fold"] == fold]
        # Stable sort: ties keep the earlier trial first.
        mine = sorted(mine, key=lambda r: -r["valid_balanced_accuracy"])[:n_top]
        for r in mine:
            choices.extend(params_to_choices(r, n_subpolicies, n_stages))
            selected.append(r["trial"])
    return choices, selected


@fill_doc
class FastAutoAugmentClassifier(PolicySearchClassifier):
    """Sleep-stage classifier trained with a policy found by Fast AutoAugment.

    The ``"fast_autoaugment"`` method of :data:`augsleep.methods.METHODS` (Lim
    et al. 2019): ``n_folds`` trunks pretrained without augmentation, one per
    fold; on every fold, TPE searches policies scored by density matching (the
    frozen model's balanced accuracy on the fold's held-out windows augmented
    by the policy: no training per trial); the ``n_top`` best policies of every
    fold are merged into one, and the trunk is retrained from scratch with it
    on the whole training set (see :mod:`augsleep.methods.fast_autoaugment`).

    Parameters
    ----------
    search_budget : int
        TPE trials **per fold** (the reference runs 200): policies proposed and
        scored by density matching.
    checkpoint_every : int
        Every this many trials per fold (the folds advance together), and
        always at the end of the search, the policy merged from the trials so
        far is retrained from scratch (fresh seeds) and recorded as a row of
        ``search_history_``.
    n_subpolicies : int
        ``K``, sub-policies per searched policy (paper: 5).
    n_stages : int
        ``N``, stages (operations) per sub-policy (paper: 2).
    operations : sequence of str | None
        Candidate operations (names of :data:`augsleep.transforms.TRANSFORMS`);
        ``None``: all 13 of Table A.4 that the data allow
        (:func:`augsleep.augment.make_operations`).
    n_folds : int
        Folds of the training set, at least 2 (reference: 5): as many
        pretrained models and searches.
    n_top : int
        Best policies kept per fold and merged (reference: 10).
    storage : str | None
        Optuna storage URL (e.g. ``"sqlite:///study.db"``) where the folds'
        studies are kept, so that an interrupted search resumes (see Notes);
        ``None``: in-memory studies, gone after ``fit``.
    study_name : str | None
        Prefix of the studies' names in ``storage``: fold ``k``'s study is
        ``f"{study_name}-fold{k}"`` (required with a storage).
    %(shared_parameters)s

    Attributes
    ----------
    policy_choices_ : list of list of (str, float, float)
        The final (merged) policy: ``(operation, probability, magnitude)`` per
        stage, per sub-policy.
    policy_ : Policy
        The final policy as a module (property).
    trials_ : DataFrame
        One row per trial, in the order they ran (round by round, fold by
        fold): ``trial`` (0, 1, ... over all folds),
        ``valid_balanced_accuracy`` (the density-matching score: balanced
        accuracy of the fold's frozen model on its held-out windows augmented
        by the policy), ``best_epoch`` and ``n_epochs`` (NaN: nothing is
        trained), ``time_s``, ``resumed`` (True for the trials of an earlier
        fit found in ``storage``), ``fold``, ``study_trial``
        (the trial's number in its fold's study), ``selected`` (among the
        policies merged into the final one), then the policy's ``3 K N``
        values.
    search_history_ : DataFrame
        One row per checkpoint, with the columns of the other searches:
        ``n_trials`` counts the trials of all folds, ``pretrain_s`` the
        pretraining of all folds (the same in every row; it is part of every
        row's ``total_s``), ``best_trial`` and
        ``trial_valid_balanced_accuracy`` are the best merged trial and its
        score, ``policy`` the merged policy as JSON.
    folds_ : DataFrame
        One row per fold's pretraining: ``fold``, ``n_train`` (``D_M``),
        ``n_heldout`` (``D_A``), ``valid_balanced_accuracy`` (on the
        validation set, best epoch), ``heldout_balanced_accuracy`` (on ``D_A``
        without augmentation: what the identity policy scores),
        ``best_epoch``, ``n_epochs``, ``time_s``.
    %(shared_attributes)s

    Notes
    -----
    The search needs a validation set: pass ``X_val`` and ``y_val``, or
    ``groups`` with ``validation_fraction``; it early-stops the pretrainings
    and the retrainings (the reference pretrains for a fixed number of epochs
    without one). The folds split the training windows by window (stratified
    when every class has ``n_folds`` windows); with ``groups`` passed to
    ``fit``, by group (every group's windows in one fold, so that ``D_M`` and
    ``D_A`` share no subject; at least ``n_folds`` groups among the training
    windows), else ``D_M`` and ``D_A`` may share recordings. The reference
    splits each fold 60/40 with ``StratifiedShuffleSplit``; here ``D_A`` is
    one of ``K`` disjoint folds and ``D_M`` the others, so every training
    window is held out once.

    Departures from the reference (kakaobrain/fast-autoaugment), besides the
    folds: the score is the balanced accuracy of one augmented draw per
    window, where the reference counts a window correct when any of
    ``n_subpolicies`` augmented draws is (the paper's text scores "accuracy"
    on the augmented data); the merged sub-policies are not deduplicated (TPE
    proposes continuous values, duplicates do not arise in practice); the
    reference's Ray/HyperOpt TPE is Optuna's ``TPESampler``.

    **Resuming.** With a ``storage``, each fold's study outlives the fit, as
    :class:`AutoAugmentClassifier`'s does: a fit whose studies already exist
    pretrains the fold models again (they are not stored; the same
    ``random_state``, data and parameters give the same models, on which the
    stored scores were measured), takes each study's COMPLETE trials, in the
    order of their numbers, as its fold's first trials (``resumed=True``,
    with the seconds they took then; counted toward ``search_budget``, the
    first ``search_budget`` when there are more) and runs only the remaining
    ones. Trials that failed or were interrupted (FAIL: an interrupted fit
    marks its current trial so; RUNNING: a killed process) count for nothing.
    Checkpoints come at the rounds where this fit ran a trial, and at the end
    (the earlier fit's retrained models are not stored); ``search_s`` in
    ``search_history_`` includes the resumed trials' seconds,
    ``compute_time_`` this fit's only. Each fold's TPE is reseeded on
    resuming (from ``random_state``, the fold and its number of finished
    trials). The stored trials must come from the same search space, which
    is checked; the same data and parameters are up to you.

    Seeds: the folds, the pretrainings, every fold's TPE and augmentation
    draws, and the retrainings are derived from ``random_state``: the same
    ``random_state`` gives the same trials and merged policy. ``compute_time_``
    has ``pretrain_s`` (every fold's pretraining and its held-out score),
    ``search_s`` (the studies and the trials) and ``retrain_s`` (every
    checkpoint's retraining, the final model's included). The pretrained models
    are not kept (only ``folds_``).

    See Also
    --------
    AutoAugmentClassifier : TPE trials each trained from scratch.
    augsleep.augment.Policy : The policies searched.
    """

    _parameter_constraints: dict = {
        **PolicySearchClassifier._parameter_constraints,
        "n_folds": [Interval(Integral, 2, None, closed="left")],
        "n_top": [Interval(Integral, 1, None, closed="left")],
        "storage": [str, None],
        "study_name": [str, None],
    }
    _FITTED = (*PolicySearchClassifier._FITTED, "folds_")

    def __init__(
        self,
        search_budget=20,
        checkpoint_every=5,
        n_subpolicies=5,
        n_stages=2,
        operations=None,
        n_folds=5,
        n_top=10,
        storage=None,
        study_name=None,
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
            search_budget=search_budget,
            checkpoint_every=checkpoint_every,
            n_subpolicies=n_subpolicies,
            n_stages=n_stages,
            operations=operations,
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
        self.n_folds = n_folds
        self.n_top = n_top
        self.storage = storage
        self.study_name = study_name

    def _check_params(self) -> None:
        super()._check_params()
        if self.storage is not None and self.study_name is None:
            raise ValueError(
                "A storage needs a study_name: it names the folds' studies that "
                "a later fit resumes (unnamed studies could not be found again)."
            )

    # ------------------------------------------------------------------ hooks
    def _build_augmentation(self):
        # None while pretraining: the trunk alone, no augmentation at all.
        if getattr(self, "policy_choices_", None) is None:
            return None
        return super()._build_augmentation()

    # ---------------------------------------------------------- density match
    def _density_matching_score(self, module, policy, X, y, seed: int) -> float:
        """Score a policy: balanced accuracy of a frozen model on augmented data.

        Parameters
        ----------
        module : AugNet
            A pretrained model without augmentation (put in evaluation mode).
        policy : Policy
            The policy (sample mode) applied to ``X``.
        X : Tensor, shape (n_windows, n_channels, n_times)
            Held-out windows (``D_A``), scaled.
        y : ndarray, shape (n_windows,)
            Their encoded labels.
        seed : int
            Seed of the policy's draws (the same for every trial of a fold, so
            that the trials differ only through their policies).

        Returns
        -------
        score : float
            Balanced accuracy of the predictions on the augmented windows.
        """
        device = self.device_
        generator = make_generator(seed, device)
        policy = policy.to(device)
        batch = predict_batch_size(1, *X.shape[1:])
        with torch.no_grad():
            augmented = torch.cat(
                [
                    policy(X[i : i + batch].to(device), generator).cpu()
                    for i in range(0, len(X), batch)
                ]
            )
            log_proba = predict_log_proba(module, augmented, batch_size=batch)
        return balanced_accuracy_score(y, log_proba.argmax(dim=1).numpy())

    def _make_fold_proposer(self, seeds, names, fold: int) -> _TPEProposer:
        """Fold ``fold``'s TPE study: in memory, or created or loaded in storage."""

        def sampler_seed(n_complete: int) -> int:
            # A new study's seed is the fold's; a resumed one also takes its
            # number of finished trials (fresh proposals, as AutoAugment).
            key = (fold,) if n_complete == 0 else (fold, n_complete)
            return derived_seed(seeds, PROPOSER_KEY, *key)

        name = None if self.study_name is None else f"{self.study_name}-fold{fold}"
        study, where = open_study(self.storage, name, sampler_seed)
        return _TPEProposer(study, names, self.n_subpolicies, self.n_stages, where)

    # --------------------------------------------------------------- training
    def _train(self, data, seeds):
        with _optuna_logging(self.verbose):
            return self._search(data, seeds)

    def _search(self, data, seeds):
        from augsleep.augment import Policy

        if data.X_valid is None:
            raise ValueError(
                f"{type(self).__name__} early-stops its pretrainings and "
                "retrainings on a validation set: pass X_val and y_val, or groups "
                "with validation_fraction."
            )
        n_folds, budget, every = self.n_folds, self.search_budget, self.checkpoint_every
        if len(data.y_train_enc) < n_folds:
            raise ValueError(
                f"n_folds={n_folds} folds need at least as many training windows, "
                f"got {len(data.y_train_enc)}."
            )
        test = self._scaled_test_set()
        # Fails here, before any training, when the operations do not fit the data.
        operations = self._operations()
        names = [op.name for op in operations]
        K, N = self.n_subpolicies, self.n_stages

        # 1. Pretraining: one trunk per fold on D_M, without augmentation.
        start = time.perf_counter()
        folds = fold_indices(
            data.y_train_enc, n_folds, seeds.split, groups=data.groups_train
        )
        models, fold_rows = [], []
        for k, (dm, da) in enumerate(folds):
            fold_start = time.perf_counter()
            dm_t = torch.as_tensor(dm)
            fold_data = _FitData(
                X_train=data.X_train[dm_t],
                y_train=data.y_train[dm_t],
                y_train_enc=data.y_train_enc[dm],
                X_valid=data.X_valid,
                y_valid=data.y_valid,
            )
            self.policy_choices_ = None
            pretrain_seeds = _derived_seeds(seeds, _PRETRAIN_KEY, k)
            result = self._fit_module(fold_data, pretrain_seeds)
            if result.interrupted:
                raise KeyboardInterrupt  # Ctrl-C in pretraining stops the fit
            module = self.module_
            X_da = data.X_train[torch.as_tensor(da)]
            y_da = data.y_train_enc[da]
            log_proba = predict_log_proba(
                module, X_da, batch_size=predict_batch_size(1, *X_da.shape[1:])
            )
            heldout = balanced_accuracy_score(y_da, log_proba.argmax(dim=1).numpy())
            models.append((module, X_da, y_da))
            fold_rows.append(
                {
                    "fold": k,
                    "n_train": len(dm),
                    "n_heldout": len(da),
                    "valid_balanced_accuracy": result.best_score,
                    "heldout_balanced_accuracy": heldout,
                    "best_epoch": result.best_epoch,
                    "n_epochs": result.n_epochs,
                    "time_s": time.perf_counter() - fold_start,
                }
            )
            logger.info(
                "%s fold %d pretrained: held-out balanced accuracy %.4f.",
                type(self).__name__,
                k,
                heldout,
            )
        pretrain_s = time.perf_counter() - start

        # 2. Search: one seeded TPE study per fold, the folds advancing together.

        checkpoints = _Checkpoints(self, data, seeds, test, pretrain_s=pretrain_s)
        proposers = [self._make_fold_proposer(seeds, names, k) for k in range(n_folds)]
        # The finished trials of stored studies (an earlier, interrupted fit).
        resumed = [p.previous()[:budget] for p in proposers]
        checkpoints.search_s = float(
            np.nansum([r["time_s"] for fold in resumed for r in fold])
        )
        draw_seeds = [derived_seed(seeds, _DENSITY_KEY, k) for k in range(n_folds)]
        records: list[dict] = []

        def checkpoint() -> None:
            choices, selected = merge_top_policies(records, n_folds, self.n_top, K, N)
            merged = set(selected)
            best = max(
                (r for r in records if r["trial"] in merged),
                key=lambda r: r["valid_balanced_accuracy"],
            )
            checkpoints.add(
                choices,
                n_trials=len(records),
                best_trial=best["trial"],
                trial_score=best["valid_balanced_accuracy"],
            )
            selections.append(selected)

        selections: list[list[int]] = []  # the merged trials, per checkpoint
        for fold_trial in range(budget):
            ran = False  # whether this round ran a trial (not all resumed)
            for k, (module, X_da, y_da) in enumerate(models):
                if fold_trial < len(resumed[k]):
                    records.append(
                        {**resumed[k][fold_trial], "trial": len(records), "fold": k}
                    )
                    continue
                ran = True
                trial_start = time.perf_counter()
                handle, choices = proposers[k].ask(fold_trial)
                try:
                    policy = Policy.from_choices(operations, choices)
                    score = self._density_matching_score(
                        module, policy, X_da, y_da, draw_seeds[k]
                    )
                except BaseException:
                    # Interrupted or failed: a stored study marks it as FAIL.
                    proposers[k].abandon(handle)
                    raise
                record = {
                    "trial": len(records),
                    "valid_balanced_accuracy": score,
                    "best_epoch": np.nan,
                    "n_epochs": np.nan,
                    "time_s": time.perf_counter() - trial_start,
                    "resumed": False,
                    "fold": k,
                    **choices_to_params(choices),
                }
                proposers[k].tell(handle, record)
                records.append(record)
            if ran and (fold_trial + 1) % every == 0 and fold_trial + 1 < budget:
                checkpoint()
        checkpoint()  # always at the end
        phases = checkpoints.finish()
        # The final policy is the best checkpoint's: mark the trials merged in it.
        chosen = set(selections[checkpoints.best_step])
        for r in records:
            r["selected"] = r["trial"] in chosen
        self.trials_ = pd.DataFrame(
            records,
            columns=[
                *TRIAL_COLUMNS,
                "fold",
                "study_trial",
                "selected",
                *policy_parameter_names(K, N),
            ],
        )
        self.folds_ = pd.DataFrame(fold_rows, columns=list(FOLD_COLUMNS))
        return phases
