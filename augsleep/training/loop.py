"""The one fit loop of the package: epochs -> batches -> train steps.

:func:`fit_loop` runs the epochs (validation scoring, early stopping, history),
:func:`run_epoch` the mini-batches of one epoch, :func:`train_step` one
optimiser step. The loss is pluggable; the default,
:class:`RegularizedNLLLoss`, minimises ``NLL(model(x), y) + lambda * R(model)``
with ``R`` a callable given by the caller, so the loop knows nothing of AugNet.
The estimators of :mod:`augsleep.methods` and the demo train through it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from numbers import Integral

import pandas as pd
import torch
from torch import Tensor, nn

logger = logging.getLogger(__name__)

#: ``loss(model, log_proba, y, lam) -> (loss, ce, reg)``, three 0-d tensors.
Loss = Callable[[nn.Module, Tensor, Tensor, float], tuple[Tensor, Tensor, Tensor]]


class RegularizedNLLLoss:
    """``NLL(log_proba, y) + lam * regularizer(model)``.

    Parameters
    ----------
    class_weight : Tensor, shape (n_classes,) | None
        Weights of the classes in the negative log-likelihood, on the model's
        device (e.g. inverse class frequencies).
    regularizer : callable | None
        ``regularizer(model) -> Tensor`` (0-d), e.g. AugNet's ``-||w * mu||``
        (:func:`augsleep.augment.regularization` of
        ``model.augmentation``); ``None`` gives ``R = 0``.
    """

    def __init__(
        self,
        class_weight: Tensor | None = None,
        regularizer: Callable[[nn.Module], Tensor] | None = None,
    ):
        self.class_weight = class_weight
        self.regularizer = regularizer

    def __call__(
        self, model: nn.Module, log_proba: Tensor, y: Tensor, lam: float
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Compute the loss of a batch.

        Parameters
        ----------
        model : nn.Module
            The model (given to the regulariser).
        log_proba : Tensor, shape (n_windows, n_classes)
            Log-probabilities the model predicted.
        y : Tensor, shape (n_windows,)
            Class indices.
        lam : float
            Weight of the regulariser.

        Returns
        -------
        loss, ce, reg : Tensor, 0-d
            Total loss, negative log-likelihood and regulariser.
        """
        ce = nn.functional.nll_loss(log_proba, y, weight=self.class_weight)
        if self.regularizer is None:
            reg = torch.zeros((), device=ce.device)
        else:
            reg = self.regularizer(model).to(ce.device)
        return ce + lam * reg, ce, reg


class EarlyStopping:
    """Stop when the validation score has not improved for ``patience`` epochs.

    Keeps a copy of the weights of the best epoch, which :meth:`restore` loads back.

    Parameters
    ----------
    patience : int | None
        Epochs without a strict improvement after which to stop; ``None`` never
        stops (the best weights are still kept and restored). Counted in epochs
        (``epoch - best_epoch``), also when not every epoch is scored (see
        ``valid_every`` of :func:`fit_loop`).
    """

    def __init__(self, patience: int | None = None):
        self.patience = patience
        self.reset()

    def reset(self) -> None:
        """Forget the best score and weights (called at the start of a fit)."""
        self.best_score = -math.inf
        self.best_epoch = 0
        self.best_state: dict[str, Tensor] | None = None

    def step(self, score: float, epoch: int, model: nn.Module) -> bool:
        """Record an epoch's score; return whether to stop.

        Parameters
        ----------
        score : float
            Validation score of the epoch (higher is better).
        epoch : int
            Epoch index.
        model : nn.Module
            Model whose weights are kept when the score improves.

        Returns
        -------
        stop : bool
        """
        if score > self.best_score:
            # Copied before anything is recorded: an interrupt during the copy
            # leaves the previous best (score, epoch, weights) as it was.
            state = _copy_state(model)
            self.best_score, self.best_epoch, self.best_state = score, epoch, state
            return False
        return self.patience is not None and epoch - self.best_epoch >= self.patience

    def restore(self, model: nn.Module) -> bool:
        """Load the best weights into ``model``; return whether there were any.

        Parameters
        ----------
        model : nn.Module
            The model the weights were copied from.

        Returns
        -------
        restored : bool
        """
        if self.best_state is None:
            return False
        model.load_state_dict(self.best_state)
        return True


@dataclass
class FitResult:
    """What :func:`fit_loop` returns.

    Attributes
    ----------
    history : list of dict
        One record per epoch (see :func:`fit_loop`).
    best_epoch : int
        Epoch whose weights the model holds at the end (the last one without
        early stopping).
    best_score : float
        Validation score of that epoch (NaN without validation).
    times : dict of str to float
        Measured wall-clock seconds: ``train_s`` (all epochs' training),
        ``valid_s`` (all validation scoring), ``total_s`` (the whole loop).
    interrupted : bool
        Whether a ``KeyboardInterrupt`` (Ctrl-C) stopped the loop during epoch
        ``n_epochs``: ``history`` holds the epochs finished before it and the
        model the weights of ``best_epoch``.
    """

    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_score: float = math.nan
    times: dict[str, float] = field(default_factory=dict)
    interrupted: bool = False

    @property
    def n_epochs(self) -> int:
        """Number of epochs run."""
        return len(self.history)

    def history_frame(self) -> pd.DataFrame:
        """Return the history as a DataFrame, one row per epoch."""
        return pd.DataFrame(self.history)


def _copy_state(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def train_step(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    optimizer: torch.optim.Optimizer,
    *,
    generator: torch.Generator,
    loss: Loss,
    lam: float = 0.0,
    post_step: Callable[[nn.Module], None] | None = None,
) -> Tensor:
    """Run one optimiser step on a batch.

    Parameters
    ----------
    model : nn.Module
        Model in training mode, called as ``model(X, generator)`` and returning
        log-probabilities (e.g. :class:`augsleep.models.AugNet`); as
        ``model(X, generator, y=y)`` when its ``uses_labels`` is True (a
        class-wise augmentation).
    X : Tensor, shape (batch_size, n_channels, n_times)
        Batch, on the model's device.
    y : Tensor, shape (batch_size,)
        Class indices, on the model's device.
    optimizer : torch.optim.Optimizer
        Optimiser over the model's parameters.
    generator : torch.Generator
        Source of the model's random draws (augmentation).
    loss : callable
        ``loss(model, log_proba, y, lam) -> (loss, ce, reg)``.
    lam : float
        Weight of the regulariser.
    post_step : callable | None
        Called as ``post_step(model)`` after the optimiser step, e.g. to project
        AugNet's magnitudes back onto [0, 1].

    Returns
    -------
    values : Tensor, shape (3,)
        Detached ``(loss, ce, reg)``, left on the device (no host sync).
    """
    if getattr(model, "uses_labels", False):
        # A class-wise augmentation (CADDA) looks at the labels in training.
        log_proba = model(X, generator, y=y)
    else:
        log_proba = model(X, generator)
    total, ce, reg = loss(model, log_proba, y, lam)
    optimizer.zero_grad(set_to_none=True)
    total.backward()
    optimizer.step()
    if post_step is not None:
        post_step(model)
    return torch.stack([total, ce, reg]).detach()


def run_epoch(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    optimizer: torch.optim.Optimizer,
    *,
    batch_size: int,
    generator: torch.Generator,
    loss: Loss,
    lam: float = 0.0,
    post_step: Callable[[nn.Module], None] | None = None,
) -> dict[str, float]:
    """Train one epoch of shuffled mini-batches.

    Parameters
    ----------
    model : nn.Module
        Model to train (put in training mode).
    X : Tensor, shape (n_windows, n_channels, n_times)
        Training windows (on any device; batches move to the model's device).
    y : Tensor, shape (n_windows,)
        Class indices (int64).
    optimizer : torch.optim.Optimizer
        Optimiser over the model's parameters.
    batch_size : int
        Mini-batch size (the last batch may be smaller).
    generator : torch.Generator
        Source of the shuffling, then of the model's draws, batch after batch.
    loss : callable
        See :func:`train_step`.
    lam : float
        Weight of the regulariser in this epoch.
    post_step : callable | None
        See :func:`train_step`.

    Returns
    -------
    metrics : dict
        Means over batches: ``train_loss``, ``train_ce``, ``train_reg``.
    """
    device = next(model.parameters()).device
    model.train()
    order = torch.randperm(len(X), generator=generator, device=generator.device)
    # Summed on the device and read once per epoch: no host sync per batch.
    totals = torch.zeros(3, device=device)
    n_batches = 0
    for start in range(0, len(X), batch_size):
        idx = order[start : start + batch_size].to(X.device)
        totals += train_step(
            model,
            X[idx].to(device),
            y[idx].to(device),
            optimizer,
            generator=generator,
            loss=loss,
            lam=lam,
            post_step=post_step,
        )
        n_batches += 1
    loss_, ce, reg = (totals / max(n_batches, 1)).tolist()
    return {"train_loss": loss_, "train_ce": ce, "train_reg": reg}


def fit_loop(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    optimizer: torch.optim.Optimizer,
    *,
    max_epochs: int,
    batch_size: int,
    generator: torch.Generator,
    loss: Loss | None = None,
    lam: float | Callable[[int], float] = 0.0,
    post_step: Callable[[nn.Module], None] | None = None,
    valid_score: Callable[[nn.Module], float] | None = None,
    early_stopping: EarlyStopping | None = None,
    valid_every: int = 1,
    extra_record: Callable[[nn.Module], Mapping[str, float]] | None = None,
    on_epoch_end: Callable[[dict], None] | None = None,
    verbose: int = 0,
    desc: str = "fit",
) -> FitResult:
    """Train a model for up to ``max_epochs`` epochs.

    Every epoch: :func:`run_epoch`; then, on the epochs that are validated (all
    of them by default, see ``valid_every``), ``valid_score(model)`` when given
    and ``early_stopping.step``. At the end the best weights are restored (when
    there is early stopping) and the model is put in evaluation mode.

    A ``KeyboardInterrupt`` (Ctrl-C) stops the loop cleanly: the epoch it
    interrupts is dropped, the history keeps the finished ones, the model gets
    the weights of the best validated epoch (without early stopping, those of
    the last finished epoch, not the half-trained ones) and the result has
    ``interrupted=True``. An interrupt before any epoch finished is re-raised.

    Parameters
    ----------
    model : nn.Module
        Model called as ``model(X, generator)``, returning log-probabilities.
    X : Tensor, shape (n_windows, n_channels, n_times)
        Training windows.
    y : Tensor, shape (n_windows,)
        Class indices (int64).
    optimizer : torch.optim.Optimizer
        Optimiser over the model's parameters (:func:`make_optimizer`).
    max_epochs : int
        Maximum number of epochs.
    batch_size : int
        Mini-batch size.
    generator : torch.Generator
        Source of the shuffling and of the model's draws in training.
    loss : callable | None
        ``loss(model, log_proba, y, lam) -> (loss, ce, reg)``; ``None`` is the
        plain negative log-likelihood, :class:`RegularizedNLLLoss` ``()``.
    lam : float | callable
        Weight of the regulariser, or a function ``epoch -> weight``.
    post_step : callable | None
        Called as ``post_step(model)`` after every optimiser step.
    valid_score : callable | None
        ``valid_score(model) -> float`` (higher is better, e.g. the balanced
        accuracy on a validation set), called after every epoch; it may leave the
        model in evaluation mode.
    early_stopping : EarlyStopping | None
        Stops on ``valid_score`` and restores the best weights; requires
        ``valid_score``.
    valid_every : int
        Validate after every ``valid_every``-th epoch (epochs ``valid_every - 1``,
        ``2 * valid_every - 1``, ... counted from 0) and after the last epoch of
        ``max_epochs``; the other epochs are not scored (NaN in the history) and
        cannot be the best. ``1`` (default) validates every epoch, as in the
        AugNet paper. Early stopping's ``patience`` stays a number of **epochs**:
        the loop stops at the first validated epoch that is ``patience`` or more
        epochs after the best one, i.e. up to ``valid_every - 1`` epochs later
        than validating every epoch would (the best score being the same).
    extra_record : callable | None
        ``extra_record(model) -> dict`` merged into every epoch's record (e.g. the
        augmentation's weights and magnitudes).
    on_epoch_end : callable | None
        Called with every epoch's record (e.g. to advance a progress bar).
    verbose : int
        ``> 0`` shows a tqdm progress bar over epochs.
    desc : str
        Label of the progress bar.

    Returns
    -------
    result : FitResult
        ``history``: per epoch ``epoch``, ``train_loss``, ``train_ce``,
        ``train_reg``, ``lam``, ``valid_balanced_accuracy`` (NaN without
        ``valid_score`` and on the epochs not validated), measured seconds
        ``train_s``, ``valid_s`` (0 when not validated), ``dur_s`` (the whole
        epoch), then the ``extra_record`` entries. Also ``best_epoch``,
        ``best_score``, the total ``times`` per phase and ``interrupted``.
    """
    from tqdm.auto import tqdm

    if early_stopping is not None and valid_score is None:
        raise ValueError("early_stopping needs a valid_score to stop on.")
    if (
        isinstance(valid_every, bool)
        or not isinstance(valid_every, Integral)
        or valid_every < 1
    ):
        raise ValueError(f"valid_every must be an int >= 1, got {valid_every!r}.")
    if loss is None:
        loss = RegularizedNLLLoss()
    if early_stopping is not None:
        early_stopping.reset()
    start_fit = time.perf_counter()
    history: list[dict] = []
    train_total = valid_total = 0.0
    # Without a best validated copy, an interrupt falls back on the weights of
    # the last finished epoch, copied at the end of each.
    last_state: dict[str, Tensor] | None = None
    interrupted = False
    epochs = tqdm(range(max_epochs), disable=not verbose, desc=desc, unit="ep")
    try:
        for epoch in epochs:
            start = time.perf_counter()
            lam_epoch = float(lam(epoch)) if callable(lam) else float(lam)
            metrics = run_epoch(
                model,
                X,
                y,
                optimizer,
                batch_size=batch_size,
                generator=generator,
                loss=loss,
                lam=lam_epoch,
                post_step=post_step,
            )
            train_s = time.perf_counter() - start
            score, valid_s = math.nan, 0.0
            validated = valid_score is not None and (
                (epoch + 1) % valid_every == 0 or epoch == max_epochs - 1
            )
            if validated:
                score = float(valid_score(model))
                valid_s = time.perf_counter() - start - train_s
            record = {
                "epoch": epoch,
                **metrics,
                "lam": lam_epoch,
                "valid_balanced_accuracy": score,
                "train_s": train_s,
                "valid_s": valid_s,
                "dur_s": math.nan,  # set below, once the epoch's work is done
                **(extra_record(model) if extra_record is not None else {}),
            }
            state_now = None
            if early_stopping is None or early_stopping.best_state is None:
                state_now = _copy_state(model)  # the fallback of an interrupt
            stop = (
                validated
                and early_stopping is not None
                and early_stopping.step(score, epoch, model)
            )
            # Nothing that can take long from here to the end of the epoch: an
            # interrupt finds the history, the copies and the best consistent.
            history.append(record)
            if state_now is not None:
                last_state = state_now
            record["dur_s"] = time.perf_counter() - start
            train_total += train_s
            valid_total += valid_s
            if on_epoch_end is not None:
                on_epoch_end(record)
            epochs.set_postfix(
                loss=f"{metrics['train_loss']:.3f}", valid_bacc=f"{score:.3f}"
            )
            if stop:
                logger.info(
                    "Early stopping at epoch %d (best epoch %d).",
                    epoch,
                    early_stopping.best_epoch,
                )
                break
    except KeyboardInterrupt:
        if not history:
            raise
        interrupted = True
        logger.info("Interrupted during epoch %d.", len(history))
    finally:
        epochs.close()
    result = FitResult(
        history=history, best_epoch=len(history) - 1, interrupted=interrupted
    )
    if early_stopping is not None and early_stopping.restore(model):
        result.best_epoch = early_stopping.best_epoch
        result.best_score = float(early_stopping.best_score)
    elif interrupted and last_state is not None:
        model.load_state_dict(last_state)  # not the half-trained weights
    model.eval()
    result.times = {
        "train_s": train_total,
        "valid_s": valid_total,
        "total_s": time.perf_counter() - start_fit,
    }
    return result
