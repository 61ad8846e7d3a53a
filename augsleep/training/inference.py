"""Prediction in bounded batches, with random draws seeded per window.

Averaging C augmented copies multiplies the memory of a forward pass by C; the
batch sizes below keep it constant whatever C (benchmarks/README.md).

A window's augmented copies are drawn from a generator of its own, seeded by
:func:`window_seeds` from the estimator's prediction seed and the window's
values, so that a window gets the same prediction alone, in any order and in
any batch (scikit-learn's ``check_methods_subset_invariance`` and
``check_methods_sample_order_invariance``). Training is not concerned: it
augments whole batches from the fit's one generator.
"""

from __future__ import annotations

import hashlib

import numpy as np
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


#: Personalisation string of the per-window BLAKE2b hash (:func:`window_seeds`):
#: it keeps these seeds apart from any other use of the same hash.
_WINDOW_SEED_PERSON = b"augsleep.window"


def window_seeds(X: Tensor, seed: int) -> list[int]:
    """Seed of each window's augmentation draws, from a seed and the window.

    Parameters
    ----------
    X : Tensor, shape (n_windows, n_channels, n_times)
        Windows, as the model sees them (on any device).
    seed : int
        Prediction seed of the estimator (any integer; taken modulo 2**64).

    Returns
    -------
    seeds : list of int
        One 64-bit seed per window (``torch.Generator.manual_seed`` takes it).

    Notes
    -----
    The seed of a window is the 64-bit BLAKE2b digest (``hashlib``, personalised
    with ``b"augsleep.window"``) of ``seed`` as 8 little-endian bytes, the
    window's shape as little-endian 64-bit integers, and its values as
    little-endian float32. It depends on nothing else (not the batch, the
    window's position, the device or the platform's byte order), so that the
    same window gets the same draws alone or among others, on every machine;
    the hash mixes every bit of the window, so that windows that differ
    anywhere get unrelated draws, and estimators of different seeds too.
    Identical windows get identical draws, hence identical predictions, as
    from a deterministic model. float32 is what the estimators predict on;
    other dtypes are hashed as float32 (exact for half precision).
    """
    values = X.detach().to("cpu", torch.float32).contiguous().numpy()
    values = np.ascontiguousarray(values, dtype="<f4")
    prefix = (int(seed) % 2**64).to_bytes(8, "little") + np.asarray(
        values.shape[1:], dtype="<i8"
    ).tobytes()
    seeds = []
    for window in values:
        digest = hashlib.blake2b(prefix, digest_size=8, person=_WINDOW_SEED_PERSON)
        digest.update(memoryview(window).cast("B"))
        seeds.append(int.from_bytes(digest.digest(), "little"))
    return seeds


def window_generators(
    X: Tensor, seed: int, device: str | torch.device = "cpu"
) -> list[torch.Generator]:
    """One generator per window, seeded by :func:`window_seeds`.

    Parameters
    ----------
    X : Tensor, shape (n_windows, n_channels, n_times)
        Windows.
    seed : int
        Prediction seed.
    device : str | torch.device
        Device of the generators (that of the model).

    Returns
    -------
    generators : list of torch.Generator
    """
    return [
        torch.Generator(device=device).manual_seed(s) for s in window_seeds(X, seed)
    ]


@torch.no_grad()
def predict_log_proba(
    model: nn.Module,
    X: Tensor,
    *,
    batch_size: int = 256,
    n_copies: int | None = None,
    generator: torch.Generator | None = None,
    seed: int | None = None,
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
        Source of the augmentation draws of every batch, in turn: a window's
        draws then depend on the windows before it and beside it.
    seed : int | None
        Draw each window's copies from its own generator, seeded from ``seed``
        and the window (:func:`window_seeds`): a window's prediction is then
        the same alone, in any order and in any batch. The trunk still runs on
        whole batches. Exclusive with ``generator``.

    Returns
    -------
    log_proba : Tensor, shape (n_windows, n_classes)
        On the CPU.
    """
    if seed is not None and generator is not None:
        raise ValueError("Pass a generator or a seed, not both.")
    device = next(model.parameters()).device
    model.eval()
    # Without augmentation there is nothing to draw: no seed to derive.
    augmentation = getattr(model, "augmentation", None)
    per_window = seed is not None and not getattr(augmentation, "is_identity", True)
    out = []
    for i in range(0, len(X), batch_size):
        batch = X[i : i + batch_size]
        source = window_generators(batch, seed, device) if per_window else generator
        out.append(model(batch.to(device), source, n_copies=n_copies).cpu())
    return torch.cat(out)
