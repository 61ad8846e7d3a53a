"""How invariant a model is to a transform (the paper's Eq. 4).

``Inv_T(f(x)) = (b - d(f(x), f(T x))) / b`` with ``d`` the cosine distance between
pre-softmax outputs and ``b`` the mean cosine distance between the outputs of
randomly paired inputs. 1 means ``T`` leaves the output unchanged; 0 means ``T``
moves it as far as swapping the input for another one. Outputs are centred over
classes first, so that logits and log-probabilities (which differ by a constant per
input) give the same score.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn

from augsleep.transforms import DifferentiableTransform


def _outputs(model: Callable[[Tensor], Tensor], X: Tensor, batch_size: int) -> Tensor:
    return torch.cat(
        [model(X[i : i + batch_size]) for i in range(0, len(X), batch_size)]
    )


def invariance_score(
    model: Callable[[Tensor], Tensor],
    X,
    transform: Callable[[Tensor], Tensor],
    random_state: int | None = None,
    batch_size: int = 256,
) -> np.ndarray:
    """Invariance of a model to a transform, for each input.

    Parameters
    ----------
    model : callable
        Maps a batch (n_windows, n_channels, n_times) to pre-softmax outputs
        (n_windows, n_classes); an ``nn.Module`` is put in eval mode for the call.
        For :class:`augsleep.models.AugNet`, the log-averaged probabilities it
        returns are pre-softmax outputs of the averaged model.
    X : array-like, shape (n_windows, n_channels, n_times)
        Inputs (at least 2).
    transform : callable
        Maps a batch to its transformed version: e.g. a transform at a fixed
        magnitude, ``DifferentiableTransform.at(mu)``, or a braindecode
        ``Transform``.
    random_state : int | None
        Seed of the pairing of inputs for the baseline distance ``b`` and of the
        transform's draws when it accepts a ``generator``.
    batch_size : int
        Number of windows per forward pass.

    Returns
    -------
    scores : ndarray, shape (n_windows,)
        ``(b - d(f(x), f(Tx))) / b`` for each input; report the median. NaN
        (or infinite) when ``b`` is 0: a model whose outputs are the same for
        every input (e.g. a collapsed trunk) has no scale to compare with.
    """
    if isinstance(transform, DifferentiableTransform):
        raise TypeError(
            f"{type(transform).__name__} needs a magnitude: pass "
            "transform.at(magnitude), the transform at a fixed magnitude."
        )
    X = torch.as_tensor(X)
    if X.ndim != 3 or len(X) < 2:
        raise ValueError(
            "X must have shape (n_windows, n_channels, n_times) with n_windows >= 2, "
            f"got shape {tuple(X.shape)}."
        )
    generator = torch.Generator().manual_seed(
        int(np.random.SeedSequence(random_state).generate_state(1)[0])
    )
    was_training = isinstance(model, nn.Module) and model.training
    if isinstance(model, nn.Module):
        model.eval()
    try:
        with torch.no_grad():
            try:
                X_tr = transform(X, generator=generator)
            except TypeError:
                X_tr = transform(X)
            out = _outputs(model, X, batch_size)
            out_tr = _outputs(model, X_tr.to(X.dtype), batch_size)
    finally:
        if was_training:
            model.train()
    # Pre-softmax outputs are defined up to an additive constant (logits and
    # log-probabilities give the same softmax); centring them over classes makes
    # the cosine distance independent of that constant.
    out = out - out.mean(dim=1, keepdim=True)
    out_tr = out_tr - out_tr.mean(dim=1, keepdim=True)
    d = 1 - torch.nn.functional.cosine_similarity(out, out_tr, dim=1)
    # Pair each input with a different one: neighbours in a random order.
    order = torch.randperm(len(X), generator=generator)
    cos = torch.nn.functional.cosine_similarity(out[order], out[order.roll(1)], dim=1)
    b = (1 - cos).mean()
    return ((b - d) / b).cpu().numpy()
