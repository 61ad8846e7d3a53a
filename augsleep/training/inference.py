"""Prediction in bounded batches.

Averaging C augmented copies multiplies the memory of a forward pass by C; the
batch sizes below keep it constant whatever C (benchmarks/README.md).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

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


def trunk_chunk_size(n_chans: int, n_times: int, device: torch.device) -> int | None:
    """Windows per trunk pass at prediction (see :data:`CPU_TRUNK_CHUNK_VALUES`).

    Parameters
    ----------
    n_chans, n_times : int
        Shape of a window.
    device : torch.device
        Device of the model.

    Returns
    -------
    chunk : int | None
        At least 1 on a CPU; ``None`` (no chunks) on other devices.
        Pass it as ``AugNet(max_windows_per_forward=...)``.
    """
    if torch.device(device).type != "cpu":
        return None
    return max(1, CPU_TRUNK_CHUNK_VALUES // (n_chans * n_times))


@torch.no_grad()
def predict_log_proba(
    model: nn.Module,
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
        Trained model (put in evaluation mode), called as
        ``model(X, generator, n_copies=n_copies)``.
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
