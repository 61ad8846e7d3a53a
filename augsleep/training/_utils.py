"""Seeded torch generators and device resolution."""

from __future__ import annotations

import numpy as np
import torch


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


def resolve_device(device: str | torch.device) -> torch.device:
    """Turn ``"auto"`` into CUDA when available, else the CPU.

    Parameters
    ----------
    device : "auto" | str | torch.device
        Requested device.

    Returns
    -------
    device : torch.device
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
