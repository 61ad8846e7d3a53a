"""Random draws shared by the transforms, all taken from a caller's generator."""

from __future__ import annotations

import torch
from torch import Tensor


def uniform(
    shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """Draw U(0, 1) noise of ``shape`` with ``like``'s dtype and device.

    The draw happens on the generator's device (so a CPU generator seeds CUDA
    runs too) and is then moved next to ``like``.
    """
    device = generator.device if generator is not None else like.device
    u = torch.rand(shape, generator=generator, device=device, dtype=like.dtype)
    return u.to(like.device)


def normal(
    shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """Draw N(0, 1) noise of ``shape`` with ``like``'s dtype and device."""
    device = generator.device if generator is not None else like.device
    z = torch.randn(shape, generator=generator, device=device, dtype=like.dtype)
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
        Tensor whose dtype and device the gates take.
    temperature : float
        Relaxation temperature (> 0).
    generator : torch.Generator | None
        Source of the uniform noise.

    Returns
    -------
    gates : Tensor, shape ``shape``
    """
    eps = torch.finfo(like.dtype).eps
    # logit(x, eps) clamps x to [eps, 1 - eps] first (same values and gradient
    # as a separate clamp, one op less).
    logit_p = torch.logit(probability.to(like.dtype), eps)
    u = uniform(shape, like, generator)
    gates = torch.sigmoid((torch.logit(u, eps) + logit_p) / temperature)
    return gates.masked_fill(probability <= 0, 0.0)
