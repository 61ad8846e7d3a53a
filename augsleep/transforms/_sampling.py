"""Random draws shared by the transforms, all taken from a caller's generator."""

from __future__ import annotations

import torch
from torch import Tensor

#: Dtypes that the transforms store data in but do not compute in.
HALF_DTYPES = (torch.float16, torch.bfloat16)


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """Dtype the transforms draw their parameters and compute in, for data of ``dtype``.

    float32 for float16 and bfloat16 batches, ``dtype`` itself otherwise. Half
    precision holds the data, but not the parameters: a float16 sample index is
    off by up to 1 above 2048 (bfloat16: above 256), a bfloat16 magnitude keeps
    3 significant digits, and torch's CPU FFT has no half precision at all.

    Parameters
    ----------
    dtype : torch.dtype
        Floating dtype of the data.

    Returns
    -------
    dtype : torch.dtype
    """
    return torch.float32 if dtype in HALF_DTYPES else dtype


def uniform(
    shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """Draw U(0, 1) noise of ``shape`` on ``like``'s device.

    In :func:`compute_dtype` of ``like``'s dtype (float32 for half-precision
    data). The draw happens on the generator's device (so a CPU generator seeds
    CUDA runs too) and is then moved next to ``like``.
    """
    device = generator.device if generator is not None else like.device
    dtype = compute_dtype(like.dtype)
    u = torch.rand(shape, generator=generator, device=device, dtype=dtype)
    return u.to(like.device)


def normal(
    shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """Draw N(0, 1) noise of ``shape`` on ``like``'s device (see :func:`uniform`)."""
    device = generator.device if generator is not None else like.device
    dtype = compute_dtype(like.dtype)
    z = torch.randn(shape, generator=generator, device=device, dtype=dtype)
    return z.to(like.device)


def relaxed_bernoulli(
    probability: Tensor,
    shape: tuple[int, ...],
    like: Tensor,
    temperature: float,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Draw binary-concrete (Gumbel-sigmoid) gates in [0, 1] of mean ~ ``probability``.

    ``sigmoid((logit(p) + logit(u)) / temperature)`` with ``u ~ U(0, 1)`` is the
    reparametrised relaxed Bernoulli (Maddison et al., 2017): it tends to a hard
    Bernoulli(p) draw as the temperature goes to 0 and is differentiable in ``p``.
    The gate is exactly 0 when ``p == 0`` so that ``mu = 0`` stays the identity.

    Parameters
    ----------
    probability : Tensor, 0-d
        Probability ``p`` in [0, 1].
    shape : tuple of int
        Shape of the gates.
    like : Tensor
        Tensor whose device the gates take, and whose dtype (through
        :func:`compute_dtype`).
    temperature : float
        Relaxation temperature (> 0).
    generator : torch.Generator | None
        Source of the uniform noise.

    Returns
    -------
    gates : Tensor, shape ``shape``
    """
    dtype = compute_dtype(like.dtype)
    eps = torch.finfo(dtype).eps
    # logit(x, eps) clamps x to [eps, 1 - eps] first (same values and gradient
    # as a separate clamp, one op less).
    logit_p = torch.logit(probability.to(dtype), eps)
    u = uniform(shape, like, generator)
    gates = torch.sigmoid((torch.logit(u, eps) + logit_p) / temperature)
    return gates.masked_fill(probability <= 0, 0.0)
