"""Shared fixtures: small EEG batches."""

from pathlib import Path

import pytest
import torch

#: Real Sleep-EDF data shipped beside the repository (absent in a user's clone).
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _one_thread():
    # pytest -n 2 on 2 cores: one torch thread per worker avoids oversubscription.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def eeg_batch():
    """A float32 batch of 8 windows, 2 channels, 3 s at 100 Hz."""
    g = torch.Generator().manual_seed(0)
    return torch.randn(8, 2, 300, generator=g)


def pytest_sessionstart(session):
    """Stop at once, naming the pin, when torch and torchaudio do not match."""
    try:
        # Importing augsleep already compares the versions (and raises).
        from augsleep._environment import check_torch_pair

        check_torch_pair(load=True)
    except ImportError as err:
        pytest.exit(f"Broken environment: {err}", returncode=3)
