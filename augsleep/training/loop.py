"""Training and prediction loops shared by the demo and the estimator.

One epoch minimises ``NLL(AugNet(x), y) + lambda * R(w, mu)`` by mini-batches, then
projects the magnitudes back onto [0, 1] after every optimiser step.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from augsleep.augment.regularizers import regularization
from augsleep.models.augnet import AugNet


def make_generator(random_state, device: str | torch.device = "cpu") -> torch.Generator:
    """Make a ``torch.Generator`` seeded from an int, a ``RandomState`` or ``None``.

    Parameters
    ----------
    random_state : int | RandomState | None
        Seed; ``None`` draws a fresh seed from the OS.
    device : str | torch.device
        Device of the generator.

    Returns
    -------
    generator : torch.Generator
    """
    if isinstance(random_state, np.random.RandomState):
        seed = int(random_state.randint(np.iinfo(np.int32).max))
    else:
        seed = int(np.random.SeedSequence(random_state).generate_state(1)[0])
    return torch.Generator(device=device).manual_seed(seed)


def train_epoch(
    model: AugNet,
    X: Tensor,
    y: Tensor,
    optimizer: torch.optim.Optimizer,
    *,
    batch_size: int,
    generator: torch.Generator,
    regularizer: str = "augnet",
    lam: float = 0.0,
    class_weight: Tensor | None = None,
) -> dict[str, float]:
    """Run one epoch of mini-batch training.

    Parameters
    ----------
    model : AugNet
        Model to train (put in training mode).
    X : Tensor, shape (n_windows, n_channels, n_times)
        Training windows (on any device; batches move to the model's device).
    y : Tensor, shape (n_windows,)
        Class indices (int64).
    optimizer : torch.optim.Optimizer
        Optimiser over the model's parameters.
    batch_size : int
        Mini-batch size.
    generator : torch.Generator
        Source of the shuffling and of the augmentation draws.
    regularizer : {"augnet", "augerino", "none"}
        Invariance-promoting regulariser.
    lam : float
        Weight of the regulariser.
    class_weight : Tensor | None, shape (n_classes,)
        Weights of the classes in the loss (e.g. inverse class frequencies).

    Returns
    -------
    metrics : dict
        Mean ``loss``, cross-entropy ``ce`` and regulariser ``reg`` over batches.
    """
    device = next(model.parameters()).device
    model.train()
    order = torch.randperm(len(X), generator=generator, device=generator.device)
    # Summed on the device and read once per epoch: no host sync per batch.
    totals = torch.zeros(3, device=device)
    n_batches = 0
    for start in range(0, len(X), batch_size):
        idx = order[start : start + batch_size].to(X.device)
        X_b, y_b = X[idx].to(device), y[idx].to(device)
        log_proba = model(X_b, generator)
        ce = nn.functional.nll_loss(log_proba, y_b, weight=class_weight)
        reg = regularization(model.augmentation, regularizer).to(device)
        loss = ce + lam * reg
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        model.clamp_magnitudes_()
        totals += torch.stack([loss, ce, reg]).detach()
        n_batches += 1
    loss, ce, reg = (totals / max(n_batches, 1)).tolist()
    return {"loss": loss, "ce": ce, "reg": reg}


@torch.no_grad()
def predict_log_proba(
    model: AugNet,
    X: Tensor,
    *,
    batch_size: int = 256,
    n_copies: int | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Log-probabilities of a trained model in evaluation mode.

    Parameters
    ----------
    model : AugNet
        Trained model (put in evaluation mode).
    X : Tensor, shape (n_windows, n_channels, n_times)
        Windows to predict.
    batch_size : int
        Windows per forward pass (each is copied ``n_copies`` times).
    n_copies : int | None
        Number of augmented copies; ``None`` uses ``model.n_copies_eval``.
    generator : torch.Generator | None
        Source of the augmentation draws.

    Returns
    -------
    log_proba : Tensor, shape (n_windows, n_classes)
        On the CPU.
    """
    device = next(model.parameters()).device
    model.eval()
    out = [
        model(X[i : i + batch_size].to(device), generator, n_copies=n_copies).cpu()
        for i in range(0, len(X), batch_size)
    ]
    return torch.cat(out)
