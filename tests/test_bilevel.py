"""DARTS-style hypergradients: finite-difference HVP, sign, untouched trunk."""

import pytest
import torch
from torch import nn

from augsleep.training.bilevel import (
    SameDraws,
    call_with,
    darts_hypergradient,
    finite_difference_hvp,
    trainable_parameters,
    unrolled_parameters,
)


class _Tiny(nn.Module):
    """A small non-linear net whose input is scaled by a hyperparameter."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(4, 6), nn.Tanh(), nn.BatchNorm1d(6), nn.Linear(6, 3)
        )

    def forward(self, X):
        return self.net(X)


def _setup(seed=0):
    torch.manual_seed(seed)
    model = _Tiny().double()
    X = torch.randn(16, 4, dtype=torch.float64)
    y = torch.arange(16) % 3
    X_val = torch.randn(12, 4, dtype=torch.float64)
    y_val = torch.arange(12) % 3
    # alpha: a per-feature gain and shift applied to the training inputs, standing
    # in for a policy's magnitudes (the loss depends on it non-linearly).
    alpha = [
        torch.tensor([0.9, 1.1, 0.8, 1.2], dtype=torch.float64, requires_grad=True),
        torch.tensor([0.1, -0.2, 0.3, 0.0], dtype=torch.float64, requires_grad=True),
    ]

    def train_loss(params):
        Xa = X * alpha[0] + alpha[1] ** 2
        return nn.functional.cross_entropy(call_with(model, params, Xa), y)

    def valid_loss(params):
        return nn.functional.cross_entropy(call_with(model, params, X_val), y_val)

    return model, alpha, train_loss, valid_loss


def test_finite_difference_hvp_matches_double_backward():
    model, alpha, train_loss, _ = _setup()
    theta = trainable_parameters(model)
    torch.manual_seed(1)
    vector = {n: torch.randn_like(t) for n, t in theta.items()}

    # Exact: grad_alpha of (grad_theta L . v), by double backward.
    theta_req = {n: t.clone().requires_grad_(True) for n, t in theta.items()}
    loss = train_loss(theta_req)
    g = torch.autograd.grad(loss, list(theta_req.values()), create_graph=True)
    dot = sum((gi * vector[n]).sum() for gi, n in zip(g, theta_req, strict=True))
    exact = torch.autograd.grad(dot, alpha)

    estimate = finite_difference_hvp(train_loss, theta, alpha, vector, r=1e-2)
    for e, x in zip(estimate, exact, strict=True):
        assert e.shape == x.shape
        rel = (e - x).norm() / x.norm()
        assert rel < 1e-3
    # The finite-difference error is second order: a 10 x larger step is worse.
    coarse = finite_difference_hvp(train_loss, theta, alpha, vector, r=1.0)
    rel_coarse = max(
        float((e - x).norm() / x.norm()) for e, x in zip(coarse, exact, strict=True)
    )
    rel_fine = max(
        float((e - x).norm() / x.norm()) for e, x in zip(estimate, exact, strict=True)
    )
    assert rel_fine < rel_coarse


def test_hypergradient_matches_the_unrolled_chain_rule():
    # The hypergradient of one unrolled step, computed by differentiating through
    # the step itself (create_graph), equals the finite-difference one.
    model, alpha, train_loss, valid_loss = _setup(seed=3)
    xi = 0.1
    theta = {
        n: t.clone().requires_grad_(True)
        for n, t in trainable_parameters(model).items()
    }
    g = torch.autograd.grad(train_loss(theta), list(theta.values()), create_graph=True)
    unrolled = {n: t - xi * gi for (n, t), gi in zip(theta.items(), g, strict=True)}
    exact = torch.autograd.grad(valid_loss(unrolled), alpha)

    result = darts_hypergradient(model, alpha, train_loss, valid_loss, xi, r=1e-2)
    for e, x in zip(result.grads, exact, strict=True):
        assert (e - x).norm() / x.norm() < 1e-3
    assert result.epsilon > 0 and result.valid_loss > 0 and result.train_loss > 0


def test_hypergradient_on_a_quadratic_has_the_analytic_value_and_sign():
    # L_train = 1/2 ||theta - alpha||^2, L_valid = 1/2 ||theta - c||^2:
    # theta' = theta - xi (theta - alpha), d L_valid(theta') / d alpha =
    # xi (theta' - c). Moving alpha against it moves theta' towards c.
    model = nn.Linear(3, 1, bias=False).double()
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[0.5, -1.0, 2.0]], dtype=torch.float64))
    c = torch.tensor([[2.0, 0.0, -1.0]], dtype=torch.float64)
    alpha = torch.tensor([[1.0, 1.0, 1.0]], dtype=torch.float64, requires_grad=True)
    xi = 0.3

    def train_loss(params):
        return 0.5 * ((params["weight"] - alpha) ** 2).sum()

    def valid_loss(params):
        return 0.5 * ((params["weight"] - c) ** 2).sum()

    result = darts_hypergradient(model, [alpha], train_loss, valid_loss, xi)
    theta = model.weight.detach()
    unrolled = theta - xi * (theta - alpha.detach())
    expected = xi * (unrolled - c)
    torch.testing.assert_close(result.grads[0], expected, rtol=1e-8, atol=1e-10)
    # Sign: where the unrolled weight lies below its target, the hypergradient is
    # negative (a descent step raises alpha, which raises theta').
    below = (unrolled < c).squeeze(0)
    assert (result.grads[0].squeeze(0)[below] < 0).all()
    assert (result.grads[0].squeeze(0)[~below] > 0).all()
    # One descent step on alpha lowers the unrolled validation loss.
    with torch.no_grad():
        alpha_new = alpha - 0.5 * result.grads[0]
    before = valid_loss({"weight": unrolled})
    after = valid_loss({"weight": theta - xi * (theta - alpha_new)})
    assert after < before


def test_the_trunk_is_left_untouched():
    model, alpha, train_loss, valid_loss = _setup()
    model.train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    darts_hypergradient(model, alpha, train_loss, valid_loss, xi=0.5)
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k  # weights and BatchNorm statistics
    assert all(p.grad is None for p in model.parameters())
    assert all(a.grad is None for a in alpha)  # the result holds the gradients


def test_unrolled_step_reads_momentum_and_weight_decay():
    theta = {"w": torch.tensor([1.0, -2.0])}
    grads = {"w": torch.tensor([0.5, 0.5])}
    buffers = {"w": torch.tensor([1.0, 0.0])}
    out = unrolled_parameters(
        theta, grads, 0.1, momentum_buffers=buffers, momentum=0.9, weight_decay=0.01
    )
    expected = theta["w"] - 0.1 * (0.9 * buffers["w"] + grads["w"] + 0.01 * theta["w"])
    torch.testing.assert_close(out["w"], expected)
    torch.testing.assert_close(theta["w"], torch.tensor([1.0, -2.0]))  # untouched
    plain = unrolled_parameters(theta, grads, 0.1)
    torch.testing.assert_close(plain["w"], theta["w"] - 0.1 * grads["w"])


def test_same_draws_replay_augmentation_and_dropout():
    gen = torch.Generator().manual_seed(0)
    dropout = nn.Dropout(0.5)
    draws = SameDraws(gen)
    first = (torch.rand(5, generator=gen), dropout(torch.ones(8)))
    draws.restore()
    second = (torch.rand(5, generator=gen), dropout(torch.ones(8)))
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    # Without restoring, the next draws differ.
    assert not torch.equal(torch.rand(5, generator=gen), first[0])


def test_zero_validation_gradient_gives_zero_hypergradient():
    model = nn.Linear(2, 1).double()
    alpha = torch.ones(2, dtype=torch.float64, requires_grad=True)

    def train_loss(params):
        return (params["weight"] * alpha).sum() ** 2

    def valid_loss(params):
        return params["weight"].sum() * 0.0

    result = darts_hypergradient(model, [alpha], train_loss, valid_loss, 0.1)
    assert torch.equal(result.grads[0], torch.zeros(2, dtype=torch.float64))
    assert result.epsilon != result.epsilon  # NaN


@pytest.mark.parametrize("r", [1e-2, 1e-3])
def test_stochastic_loss_with_replayed_draws_matches_exact(r):
    # With dropout in the trunk, the finite differences hold when every
    # evaluation replays the same draws.
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.3), nn.Linear(8, 2))
    model = model.double().train()
    X = torch.randn(10, 4, dtype=torch.float64)
    y = torch.arange(10) % 2
    alpha = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    draws = SameDraws(None)

    def train_loss(params):
        draws.restore()
        return nn.functional.cross_entropy(call_with(model, params, X * alpha), y)

    theta = trainable_parameters(model)
    vector = {n: torch.randn_like(t) for n, t in theta.items()}
    theta_req = {n: t.clone().requires_grad_(True) for n, t in theta.items()}
    g = torch.autograd.grad(
        train_loss(theta_req), list(theta_req.values()), create_graph=True
    )
    dot = sum((gi * vector[n]).sum() for gi, n in zip(g, theta_req, strict=True))
    (exact,) = torch.autograd.grad(dot, [alpha])
    (estimate,) = finite_difference_hvp(train_loss, theta, [alpha], vector, r=r)
    assert abs(float(estimate - exact)) / abs(float(exact)) < 1e-3
