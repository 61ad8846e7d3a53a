import numpy as np
import pytest
import torch
from torch import nn

from augsleep.invariance import invariance_score
from augsleep.transforms import GaussianNoise, TimeReverse


class _Energy(nn.Module):
    """Outputs that depend on the signal's energy per channel only."""

    def forward(self, X):
        e = (X**2).mean(-1)
        return torch.cat([e, -e, e.sqrt()], dim=1)


def test_model_invariant_by_construction_scores_one():
    X = torch.randn(32, 2, 100, generator=torch.Generator().manual_seed(0))
    X = X * torch.linspace(0.5, 3, 32)[:, None, None]
    # Time reversal keeps the energy: the score is exactly 1.
    scores = invariance_score(_Energy(), X, TimeReverse(temperature=1e-3).at(1.0))
    np.testing.assert_allclose(scores, 1.0, atol=1e-5)


def test_non_invariant_model_scores_lower():
    X = torch.randn(32, 2, 100, generator=torch.Generator().manual_seed(0))
    X = X * torch.linspace(0.5, 3, 32)[:, None, None]
    noise = GaussianNoise(max_value=3.0).at(1.0)
    scores = invariance_score(_Energy(), X, noise, random_state=0)
    assert scores.shape == (32,)
    assert np.median(scores) < 0.9


def test_score_is_reproducible_and_needs_two_inputs():
    X = torch.randn(16, 2, 100)
    noise = GaussianNoise().at(1.0)
    a = invariance_score(_Energy(), X, noise, random_state=3)
    b = invariance_score(_Energy(), X, noise, random_state=3)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="n_windows >= 2"):
        invariance_score(_Energy(), X[:1], noise)


def test_logits_and_log_probabilities_give_the_same_score():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(200, 5))
    X = torch.randn(20, 2, 100)
    noise = GaussianNoise().at(1.0)
    logits = invariance_score(net, X, noise, random_state=1)
    log_proba = invariance_score(
        lambda x: torch.log_softmax(net(x), -1), X, noise, random_state=1
    )
    np.testing.assert_allclose(logits, log_proba, rtol=1e-4, atol=1e-5)


def test_a_transform_needs_a_magnitude():
    X = torch.randn(8, 2, 100)
    with pytest.raises(TypeError, match=r"transform\.at\(magnitude\)"):
        invariance_score(_Energy(), X, GaussianNoise())
