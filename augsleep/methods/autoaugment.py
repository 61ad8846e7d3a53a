"""AutoAugment with a TPE searcher (the AugNet paper's sleep baseline).

AutoAugment (Cubuk et al. 2019) trains a child model per proposed policy and
learns, from the validation scores, where to propose next; the AugNet paper
(Appendix A.4) replaced its PPO controller by Optuna's TPE, as Fast AutoAugment
did. Here every trial asks Optuna for the ``3 K N`` values of a policy
(``suggest_categorical`` over the operations, ``suggest_float`` in [0, 1] for
the probability and the magnitude of each stage) and tells it the child's best
validation balanced accuracy. Trials, checkpoints and timing follow the shared
protocol of :mod:`augsleep.methods._search`.

With an Optuna ``storage`` (e.g. ``sqlite:///study.db``) a study outlives the
fit: a search interrupted half-way resumes from its finished trials (see
:class:`AutoAugmentClassifier`).
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime

from augsleep.methods._docs import fill_doc
from augsleep.methods._search import (
    PROPOSER_KEY,
    STAGE_FIELDS,
    PolicySearchClassifier,
    Proposer,
    derived_seed,
    nan_if_missing,
    params_to_choices,
    policy_parameter_names,
)

logger = logging.getLogger(__name__)

#: Child-training values stored with each Optuna trial (its user attributes).
USER_ATTRS = ("best_epoch", "n_epochs", "time_s")


@contextlib.contextmanager
def _optuna_logging(verbose):
    """Silence Optuna's per-trial INFO lines unless ``verbose`` (then restore)."""
    import optuna

    if verbose:
        yield
        return
    # Optuna's verbosity is process-wide: set it for the search, then put it back.
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(previous)


def _duration_s(start: datetime | None, end: datetime | None) -> float:
    if start is None or end is None:
        return float("nan")
    return (end - start).total_seconds()


class _TPEProposer(Proposer):
    """Ask an Optuna study (TPE) for policies; tell it the children's scores."""

    extra_columns = ("study_trial",)

    def __init__(self, study, names, n_subpolicies, n_stages, where):
        import optuna

        self.study = study
        self.names = list(names)
        self.shape = (n_subpolicies, n_stages)
        self.param_names = policy_parameter_names(n_subpolicies, n_stages)
        self._complete = study.get_trials(
            deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)
        )
        self._check_search_space(where)

    def _distributions(self) -> dict:
        from optuna.distributions import CategoricalDistribution, FloatDistribution

        out = {}
        for name in self.param_names:
            field = name.rsplit("_", 1)[1]
            out[name] = (
                CategoricalDistribution(self.names)
                if field == STAGE_FIELDS[0]
                else FloatDistribution(0.0, 1.0)
            )
        return out

    def _check_search_space(self, where: str) -> None:
        expected = self._distributions()
        for t in self._complete:
            if t.distributions != expected:
                raise ValueError(
                    f"Trial {t.number} of {where} searched another space (other "
                    "operations, sub-policies or stages) than this fit's "
                    f"{self.shape[0]} x {self.shape[1]} policies over "
                    f"{self.names}; pass another study_name."
                )

    def previous(self):
        records = []
        for trial, t in enumerate(sorted(self._complete, key=lambda t: t.number)):
            records.append(
                {
                    "trial": trial,
                    "valid_balanced_accuracy": float(t.value),
                    "best_epoch": nan_if_missing(t.user_attrs, "best_epoch"),
                    "n_epochs": nan_if_missing(t.user_attrs, "n_epochs"),
                    "time_s": t.user_attrs.get(
                        "time_s", _duration_s(t.datetime_start, t.datetime_complete)
                    ),
                    "resumed": True,
                    "study_trial": t.number,
                    **t.params,
                }
            )
        return records

    def ask(self, trial):
        handle = self.study.ask(self._distributions())
        choices = params_to_choices(handle.params, *self.shape)
        return handle, choices

    def tell(self, handle, record):
        for key in USER_ATTRS:
            handle.set_user_attr(key, record[key])
        self.study.tell(handle, record["valid_balanced_accuracy"])
        record["study_trial"] = handle.number

    def abandon(self, handle):
        import optuna

        try:
            self.study.tell(handle, state=optuna.trial.TrialState.FAIL)
        except Exception:  # noqa: BLE001 (the original error matters, not this one)
            logger.warning("Could not mark trial %d as failed.", handle.number)


@fill_doc
class AutoAugmentClassifier(PolicySearchClassifier):
    """Sleep-stage classifier trained with a policy found by AutoAugment (TPE).

    The ``"autoaugment"`` method of :data:`augsleep.methods.METHODS`: the
    paper's AutoAugment, with Optuna's ``TPESampler`` in place of the PPO
    controller. Each trial asks TPE for a policy, trains a child model from
    scratch with it (training batches only) and tells TPE its best validation
    balanced accuracy; every ``checkpoint_every`` trials and at the end, the
    best policy so far is retrained from scratch, and the retrained model with
    the best validation score is kept.

    Parameters
    ----------
    %(search_parameters)s
    storage : str | None
        Optuna storage URL (e.g. ``"sqlite:///study.db"``) where the study is
        kept, so that an interrupted search resumes (see Notes); ``None``: an
        in-memory study, gone after ``fit``.
    study_name : str | None
        Name of the study in ``storage`` (required with a storage: the name is
        what a second fit resumes).
    %(shared_parameters)s

    Attributes
    ----------
    %(search_attributes)s
    %(shared_attributes)s

    Notes
    -----
    The search needs a validation set: pass ``X_val`` and ``y_val``, or
    ``groups`` with ``validation_fraction``. TPE is seeded from
    ``random_state``: with an in-memory study, the same ``random_state``
    proposes the same policies. Ties go to the first trial, and to the first
    checkpoint. The magnitude of an operation without one (time reverse, sign
    flip, channels symmetry) is suggested but unused. ``trials_`` has one
    column more, ``study_trial``: the trial's number in the Optuna study (the
    values are its params, the child's epochs and seconds its user attributes).

    **Resuming.** When the study ``study_name`` in ``storage`` already exists,
    its trials in state COMPLETE, in the order of their numbers, are the
    search's first trials (``resumed=True`` in ``trials_``, with the seconds
    they took then) and count toward ``search_budget``: only the remaining
    ``search_budget - n_complete`` are run (none if the study already has
    ``search_budget``; beyond it, the first ``search_budget`` are used). Trials
    that failed or were interrupted (state FAIL: an interrupted fit marks its
    current trial so; RUNNING: a killed process) count for nothing and are not
    run again. Checkpoints come every ``checkpoint_every`` trials of the whole
    count reached in this fit, and at the end; the earlier fit's retrained
    models are not in the study, so a resumed fit always retrains at least
    once, and ``search_history_.search_s`` includes the resumed trials'
    seconds while ``compute_time_`` counts this fit's only. The finished
    trials must come from the same search space (operations, ``K``, ``N``),
    which is checked; the data, trunk and training parameters must be the same
    too, which is up to you. TPE is reseeded on resuming (from
    ``random_state`` and the number of finished trials), so a resumed search
    proposes what an uninterrupted one would not necessarily have.

    The study itself is not kept on the estimator (it would tie the pickle to
    the storage's connection): ``optuna.load_study(study_name=...,
    storage=...)`` opens it; ``trials_`` lists its trials.

    ``compute_time_`` has ``pretrain_s = 0``, ``search_s`` (the trials, and
    creating or loading the study) and ``retrain_s`` (every checkpoint's
    retraining, the final model's included).

    See Also
    --------
    RandomSearchClassifier : The same trials drawn uniformly.
    augsleep.augment.Policy : The policies searched.
    """

    _parameter_constraints: dict = {
        **PolicySearchClassifier._parameter_constraints,
        "storage": [str, None],
        "study_name": [str, None],
    }

    def __init__(
        self,
        search_budget=20,
        checkpoint_every=5,
        n_subpolicies=5,
        n_stages=2,
        operations=None,
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
        self.storage = storage
        self.study_name = study_name

    def _check_params(self) -> None:
        super()._check_params()
        if self.storage is not None and self.study_name is None:
            raise ValueError(
                "A storage needs a study_name: it is the name a later fit resumes "
                "(an unnamed study could not be found again)."
            )

    def _train(self, data, seeds):
        with _optuna_logging(self.verbose):
            return super()._train(data, seeds)

    def _make_proposer(self, seeds, operation_names):
        study, where = open_study(
            self.storage,
            self.study_name,
            lambda n_complete: derived_seed(seeds, PROPOSER_KEY, n_complete),
        )
        return _TPEProposer(
            study, operation_names, self.n_subpolicies, self.n_stages, where
        )


def open_study(storage, study_name, sampler_seed):
    """Create or load a TPE study to maximise, seeded for its finished trials.

    Parameters
    ----------
    storage : str | None
        Optuna storage URL; ``None``: in memory.
    study_name : str | None
        Name of the study in ``storage``; an existing study is loaded.
    sampler_seed : callable
        ``sampler_seed(n_complete)`` gives the TPE seed from the number of
        trials the study has already finished (0 for a new study): a resumed
        search gets a seed of its own, since the same seed would make TPE's
        first (random) proposals repeat those of the finished trials.

    Returns
    -------
    study : optuna.Study
    where : str
        The study, named for error messages.
    """
    import optuna

    storage_obj = optuna.storages.get_storage(storage)
    n_complete = 0
    if study_name is not None:
        try:
            study_id = storage_obj.get_study_id_from_name(study_name)
        except KeyError:  # a new study
            pass
        else:
            n_complete = len(
                storage_obj.get_all_trials(
                    study_id,
                    deepcopy=False,
                    states=(optuna.trial.TrialState.COMPLETE,),
                )
            )
    # Seeded at creation: no unseeded default sampler is ever built.
    sampler = optuna.samplers.TPESampler(seed=sampler_seed(n_complete))
    study = optuna.create_study(
        storage=storage_obj,
        sampler=sampler,
        study_name=study_name,
        direction="maximize",
        load_if_exists=True,
    )
    where = (
        "an in-memory study"
        if storage is None
        else f"study {study_name!r} in {storage}"
    )
    return study, where
