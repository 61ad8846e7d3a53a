"""Gradient estimators for discrete choices (augsleep.augment.relaxation).

The unbiased estimators (REINFORCE, RELAX) are checked against the exact gradient
of a toy expectation enumerated over all its outcomes: the mean estimate must lie
within a few standard errors, computed from the draws themselves.
"""

import itertools
import math

import pytest
import torch

from augsleep.augment.relaxation import (
    RelaxControlVariate,
    gumbel_softmax,
    reinforce_gradients,
    relax_bernoulli,
    relax_categorical,
    relax_gradients,
    relaxed_bernoulli,
    straight_through,
    straight_through_bernoulli,
    straight_through_categorical,
)

N_SE = 4  # standard errors allowed for a mean estimate


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _within_se(samples, expected):
    """Every coordinate of the mean of ``samples`` within N_SE standard errors."""
    mean = samples.mean(0)
    se = samples.std(0) / math.sqrt(len(samples))
    assert (se > 0).all()
    assert ((mean - expected).abs() < N_SE * se).all(), (mean, expected, se)


def test_straight_through_has_the_hard_value_and_the_soft_gradient():
    soft = torch.tensor([0.2, 0.7, 0.9999], requires_grad=True)
    hard = torch.tensor([0.0, 1.0, 1.0])
    out = straight_through(hard, soft)
    assert torch.equal(out, hard)  # exactly, not up to rounding
    (out * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert torch.equal(soft.grad, torch.tensor([1.0, 2.0, 3.0]))


def test_straight_through_bernoulli_is_exact_for_a_linear_function():
    p = torch.tensor([0.1, 0.5, 0.8], requires_grad=True)
    b = straight_through_bernoulli(p, (20000, 3), _gen(0))
    assert set(b.unique().tolist()) <= {0.0, 1.0}
    frac = b.detach().mean(0)
    se = (p.detach() * (1 - p.detach()) / len(b)).sqrt()
    assert ((frac - p.detach()).abs() < N_SE * se).all()
    # f(b) = c . b: E f = c . p, gradient c, which every draw gives exactly.
    c = torch.tensor([1.0, -2.0, 0.5])
    (b @ c).mean().backward()
    torch.testing.assert_close(p.grad, c)


def test_straight_through_categorical_draws_softmax_and_takes_its_gradient():
    logits = torch.tensor([0.5, -1.0, 1.5, 0.0], requires_grad=True)
    one_hot = straight_through_categorical(logits.expand(20000, 4), _gen(1))
    assert torch.equal(one_hot.detach().sum(-1), torch.ones(20000))
    probs = torch.softmax(logits.detach(), -1)
    se = (probs * (1 - probs) / len(one_hot)).sqrt()
    assert ((one_hot.detach().mean(0) - probs).abs() < N_SE * se).all()
    v = torch.tensor([1.0, 2.0, -1.0, 0.5])
    (one_hot @ v).mean().backward()
    expected = torch.autograd.functional.jacobian(
        lambda t: torch.softmax(t, -1) @ v, logits.detach()
    )
    torch.testing.assert_close(logits.grad, expected)


def test_relaxed_bernoulli_rounds_to_a_bernoulli_draw():
    p = torch.tensor([0.0, 0.2, 0.6, 1.0], requires_grad=True)
    soft = relaxed_bernoulli(p, 0.5, (20000, 4), generator=_gen(2))
    assert ((soft >= 0) & (soft <= 1)).all()
    assert (soft[:, 0] == 0).all()  # a zero probability is exactly never
    # sigmoid((logit p + L) / t) > 1/2 iff L > -logit p: probability p.
    frac = (soft.detach() > 0.5).float().mean(0)
    se = (p.detach() * (1 - p.detach()) / len(soft)).sqrt().clamp_min(1e-4)
    assert ((frac - p.detach()).abs() < N_SE * se).all()
    hard = relaxed_bernoulli(p, 0.5, (20000, 4), hard=True, generator=_gen(2))
    assert torch.equal(hard.detach(), (soft.detach() > 0.5).float())
    g_soft = torch.autograd.grad(soft[:, 1:3].sum(), p)[0]
    g_hard = torch.autograd.grad(hard[:, 1:3].sum(), p)[0]
    torch.testing.assert_close(g_hard, g_soft)
    assert (g_soft[1:3] > 0).all()  # a larger p opens the gates


def test_gumbel_softmax_argmax_follows_the_softmax_and_skips_excluded_categories():
    logits = torch.tensor([0.3, -math.inf, 1.0, -0.5], requires_grad=True)
    draws = gumbel_softmax(logits.expand(20000, 4), 0.3, hard=True, generator=_gen(3))
    assert torch.equal(draws.detach().sum(-1), torch.ones(20000))
    assert (draws.detach()[:, 1] == 0).all()
    probs = torch.softmax(logits.detach(), -1)
    se = (probs * (1 - probs) / len(draws)).sqrt().clamp_min(1e-4)
    assert ((draws.detach().mean(0) - probs).abs() < N_SE * se).all()
    soft = gumbel_softmax(logits.expand(5, 4), 0.3, generator=_gen(4))
    torch.testing.assert_close(soft.sum(-1), torch.ones(5))
    (draws[:, 2].sum()).backward()
    assert torch.isfinite(logits.grad).all() and logits.grad[2] > 0


def test_same_generator_seed_gives_the_same_draws():
    p = torch.full((3,), 0.4)
    assert torch.equal(
        relaxed_bernoulli(p, 0.1, (10, 3), generator=_gen(5)),
        relaxed_bernoulli(p, 0.1, (10, 3), generator=_gen(5)),
    )
    a, b = (
        relax_categorical(torch.zeros(10, 3), _gen(6)),
        relax_categorical(torch.zeros(10, 3), _gen(6)),
    )
    assert torch.equal(a.z, b.z) and torch.equal(a.z_tilde, b.z_tilde)


def test_relax_conditional_draws_agree_with_the_hard_draw():
    logits = torch.randn(5000, 3, generator=_gen(7))
    draw = relax_bernoulli(logits, _gen(8))
    assert torch.equal(draw.b, (draw.z > 0).float())
    assert torch.equal(draw.b, (draw.z_tilde > 0).float())
    draw = relax_categorical(logits, _gen(9))
    assert torch.equal(draw.b, draw.z.argmax(-1))
    assert torch.equal(draw.b, draw.z_tilde.argmax(-1))
    torch.testing.assert_close(
        draw.log_prob, torch.log_softmax(logits, -1).gather(-1, draw.b[:, None])[:, 0]
    )


# -------------------------------------------------------------- toy problem
# f(b, c) over 3 Bernoulli variables b (logits theta_b) and one categorical c of
# 4 categories (logits theta_c), not separable (the b_0 * w[c] term).
TARGETS = torch.tensor([0.45, 0.3, 0.7])
VALUES = torch.tensor([0.4, -0.2, 1.0, 0.1])
COUPLING = torch.tensor([0.5, 0.0, -0.6, 0.3])
THETA_B = torch.tensor([0.3, -0.8, 1.2])
THETA_C = torch.tensor([0.2, -0.4, 0.9, 0.0])


def _f(b, c):
    """f at hard draws: b shape (M, 3) in {0, 1}, c shape (M,) indices."""
    return (b - TARGETS).pow(2).sum(-1) + VALUES[c] + b[:, 0] * COUPLING[c]


def _exact_gradient():
    theta_b = THETA_B.clone().requires_grad_()
    theta_c = THETA_C.clone().requires_grad_()
    pb, pc = torch.sigmoid(theta_b), torch.softmax(theta_c, -1)
    expectation = 0.0
    for bits in itertools.product([0.0, 1.0], repeat=3):
        b = torch.tensor(bits)
        prob_b = torch.prod(torch.where(b > 0, pb, 1 - pb))
        for c in range(4):
            value = _f(b[None], torch.tensor([c]))[0]
            expectation = expectation + prob_b * pc[c] * value
    return torch.autograd.grad(expectation, [theta_b, theta_c])


def _rows(n):
    """One copy of the parameters per draw, so each row's gradient is one draw's."""
    return (
        THETA_B.repeat(n, 1).requires_grad_(),
        THETA_C.repeat(n, 1).requires_grad_(),
    )


def _relax(cv, n, generator):
    theta_b, theta_c = _rows(n)
    db, dc = relax_bernoulli(theta_b, generator), relax_categorical(theta_c, generator)
    f_b = _f(db.b, dc.b)
    log_prob = db.log_prob.sum(-1) + dc.log_prob
    c_z = cv(cv.features([db.z], [dc.z], sample_dims=1))
    c_zt = cv(cv.features([db.z_tilde], [dc.z_tilde], sample_dims=1))
    return relax_gradients(f_b, log_prob, c_z, c_zt, [theta_b, theta_c])


def _reinforce(n, generator):
    theta_b, theta_c = _rows(n)
    db, dc = relax_bernoulli(theta_b, generator), relax_categorical(theta_c, generator)
    log_prob = db.log_prob.sum(-1) + dc.log_prob
    return reinforce_gradients(_f(db.b, dc.b), log_prob, [theta_b, theta_c])


def _train(cv, steps, generator):
    opt = torch.optim.Adam(cv.parameters(), lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        _relax(cv, 128, generator).variance_loss.backward(inputs=list(cv.parameters()))
        opt.step()


@pytest.fixture(scope="module")
def trained_cv():
    cv = RelaxControlVariate(7, hidden=32, generator=_gen(10))
    _train(cv, 60, _gen(11))
    return cv


def test_reinforce_is_unbiased_on_the_toy():
    exact = _exact_gradient()
    for estimate, want in zip(_reinforce(20000, _gen(12)), exact, strict=True):
        _within_se(estimate, want)


@pytest.mark.parametrize("trained", [False, True])
def test_relax_is_unbiased_on_the_toy(trained, trained_cv):
    # Unbiased for any control variate: an untrained one, and the trained one.
    cv = trained_cv if trained else RelaxControlVariate(7, 32, generator=_gen(13))
    exact = _exact_gradient()
    estimate = _relax(cv, 20000, _gen(14))
    for grad, want in zip(estimate.gradients, exact, strict=True):
        _within_se(grad, want)


def test_relax_with_a_trained_control_variate_has_less_variance_than_reinforce(
    trained_cv,
):
    relax = _relax(trained_cv, 20000, _gen(15)).gradients
    reinforce = _reinforce(20000, _gen(15))
    var_relax = sum(g.var(0).sum() for g in relax)
    var_reinforce = sum(g.var(0).sum() for g in reinforce)
    assert var_relax < var_reinforce, (var_relax, var_reinforce)


def test_training_lowers_the_variance_loss(trained_cv):
    untrained = RelaxControlVariate(7, hidden=32, generator=_gen(10))  # same start
    before = _relax(untrained, 20000, _gen(17)).variance_loss.item()
    after = _relax(trained_cv, 20000, _gen(17)).variance_loss.item()
    assert after < before


def test_control_variate_with_a_surrogate_learns_its_scale():
    def surrogate(features):
        b, c = features[..., :3], features[..., 3:]
        return (b - TARGETS).pow(2).sum(-1) + c @ VALUES + b[..., 0] * (c @ COUPLING)

    cv = RelaxControlVariate(7, 8, surrogate=surrogate, generator=_gen(19))
    exact = _exact_gradient()
    for grad, want in zip(_relax(cv, 20000, _gen(20)).gradients, exact, strict=True):
        _within_se(grad, want)
    est = _relax(cv, 64, _gen(21))
    est.variance_loss.backward(inputs=[cv.eta])
    assert cv.eta.grad is not None and torch.isfinite(cv.eta.grad)


def test_control_variate_names_a_wrong_number_of_features():
    cv = RelaxControlVariate(5)
    with pytest.raises(ValueError, match="built for 5 features, got 7"):
        cv.features([torch.zeros(3)], [torch.zeros(4)])
    with pytest.raises(ValueError, match="n_features must be an integer"):
        RelaxControlVariate(0)
