"""Gradient estimators for discrete choices: straight-through, Gumbel-softmax, RELAX.

The gradient-based ADA methods learn discrete choices: whether a stage applies its
operation (a Bernoulli gate of probability ``p``) and which sub-policy a batch
gets (a categorical draw over logits). A hard draw has no gradient with respect
to its parameters; the pieces here give one, each from a caller's
``torch.Generator``:

- :func:`straight_through` and the straight-through draws
  :func:`straight_through_bernoulli` and :func:`straight_through_categorical`
  (Bengio et al. 2013): the forward value is the hard draw, the backward pass
  the gradient of its mean (``p`` or ``softmax(logits)``). Biased for a
  non-linear function, exact for a linear one.
- :func:`relaxed_bernoulli` and :func:`gumbel_softmax` (Maddison et al. 2017,
  Jang et al. 2017): reparametrised relaxed draws, soft (values in (0, 1),
  differentiable) or hard (the draw rounded, with the relaxed draw's gradient
  through :func:`straight_through`). Biased, with a bias that vanishes with the
  temperature (and a variance that grows).
- RELAX (Grathwohl et al. 2018): an unbiased estimator of
  ``d/dtheta E_b[f(b)]`` for hard draws ``b``, whatever ``f`` (a network's
  loss, which is never evaluated on a relaxed draw), with a learned control
  variate ``c``:
  ``g = (f(b) - c(z~)) d log p(b)/dtheta + d c(z)/dtheta - d c(z~)/dtheta``,
  where ``z`` is the relaxed draw that gave ``b = H(z)`` and ``z~`` a relaxed
  draw conditioned on ``b`` (both reparametrised in ``theta``). The control
  variate is trained to minimise the estimator's variance, the mean of
  ``g ** 2`` (its mean does not depend on ``c``). Pieces:
  :func:`relax_bernoulli` and :func:`relax_categorical` (the draws ``b, z, z~``
  and ``log p(b)``), :class:`RelaxControlVariate` (``c``) and
  :func:`relax_gradients` (``g`` and the variance loss for ``c``);
  :func:`reinforce_gradients` is the plain score-function estimator, for
  comparison.

DADA (Li et al. 2020) uses RELAX for the sub-policy logits and the stage
probabilities: draw ``relax_categorical(subpolicy_logits)`` and
``relax_bernoulli(logit(probabilities))``, augment with the hard draws
(:meth:`augsleep.augment.Policy.apply_relaxed`), evaluate the loss ``f(b)``, then
``relax_gradients`` gives the gradients of the logits and probabilities.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch import Tensor, nn

from augsleep._validation import check_finite_number


def _uniform(shape, like: Tensor, generator: torch.Generator | None) -> Tensor:
    """U(0, 1) noise in ``like``'s dtype and device, drawn on the generator's."""
    device = generator.device if generator is not None else like.device
    u = torch.rand(shape, generator=generator, device=device, dtype=like.dtype)
    return u.to(like.device)


def _open_unit(u: Tensor) -> Tensor:
    """``u`` moved into the open interval (0, 1), so that its logs are finite."""
    tiny = torch.finfo(u.dtype).tiny
    return u.clamp(tiny, 1.0 - torch.finfo(u.dtype).eps)


def _logistic(shape, like: Tensor, generator) -> Tensor:
    """Logistic noise ``log u - log(1 - u)``."""
    u = _open_unit(_uniform(shape, like, generator))
    return torch.log(u) - torch.log1p(-u)


def _gumbel(shape, like: Tensor, generator) -> Tensor:
    """Gumbel noise ``-log(-log u)``."""
    u = _open_unit(_uniform(shape, like, generator))
    return -torch.log(-torch.log(u))


def _check_temperature(temperature: float, owner: str) -> float:
    return check_finite_number(temperature, "temperature", owner)


def _probability_logits(probability: Tensor) -> Tensor:
    """``logit(p)`` with ``p`` kept off 0 and 1 (finite logits)."""
    eps = torch.finfo(probability.dtype).eps
    return torch.logit(probability, eps)


# ------------------------------------------------------------ straight-through
def straight_through(hard: Tensor, soft: Tensor) -> Tensor:
    """Forward value of ``hard``, gradient of ``soft``.

    Parameters
    ----------
    hard : Tensor
        Value of the result (e.g. a 0/1 draw); its own gradient is ignored.
    soft : Tensor
        Tensor of the same shape whose gradient the result takes.

    Returns
    -------
    out : Tensor
        ``hard + (soft - soft.detach())``: exactly ``hard`` in value (the added
        term is an exact 0, so a 0 stays 0 and a 1 stays 1), with
        ``d out / d soft = 1``.
    """
    return hard.detach() + (soft - soft.detach())


def straight_through_bernoulli(
    probability: Tensor,
    shape: Sequence[int] | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Hard Bernoulli draws with the straight-through gradient ``d b / d p = 1``.

    Parameters
    ----------
    probability : Tensor
        Probabilities ``p`` in [0, 1].
    shape : sequence of int | None
        Shape of the draws (``probability`` broadcast to it); ``None`` is
        ``probability``'s shape.
    generator : torch.Generator | None
        Source of the uniform noise; ``None`` uses torch's global generator.

    Returns
    -------
    b : Tensor, shape ``shape``
        Values in {0, 1}; ``E[b] = p`` and the gradient is that of ``p``, so the
        estimate of ``d E[f(b)] / d p`` is exact for a linear ``f``.
    """
    shape = tuple(probability.shape if shape is None else shape)
    hard = (_uniform(shape, probability, generator) < probability).to(probability.dtype)
    return straight_through(hard, probability.expand(shape))


def straight_through_categorical(
    logits: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """One-hot categorical draws with the gradient of ``softmax(logits)``.

    Parameters
    ----------
    logits : Tensor, shape (..., n_categories)
        Unnormalised log-probabilities; one draw per row.
    generator : torch.Generator | None
        Source of the noise.

    Returns
    -------
    one_hot : Tensor, shape (..., n_categories)
        Exactly one-hot in value (the Gumbel-max draw, so category ``j`` comes
        with probability ``softmax(logits)_j``), with the gradient of
        ``softmax(logits)``.
    """
    index = (logits.detach() + _gumbel(logits.shape, logits, generator)).argmax(-1)
    hard = nn.functional.one_hot(index, logits.shape[-1]).to(logits.dtype)
    return straight_through(hard, torch.softmax(logits, dim=-1))


# ------------------------------------------------------------ Gumbel-softmax
def relaxed_bernoulli(
    probability: Tensor,
    temperature: float,
    shape: Sequence[int] | None = None,
    *,
    hard: bool = False,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Relaxed Bernoulli (binary concrete, Gumbel-sigmoid) draws.

    ``sigmoid((logit(p) + L) / temperature)`` with logistic noise ``L``: a hard
    Bernoulli(p) draw when the temperature goes to 0, differentiable in ``p``.

    Parameters
    ----------
    probability : Tensor
        Probabilities ``p`` in [0, 1]. A draw is exactly 0 where ``p == 0``
        (so a zero probability is exactly "never").
    temperature : float
        Relaxation temperature, positive and finite.
    shape : sequence of int | None
        Shape of the draws (``probability`` broadcast to it); ``None`` is
        ``probability``'s shape.
    hard : bool
        ``True`` rounds the draws to 0 or 1 (``z > 1/2``, which happens with
        probability exactly ``p``) with the soft draw's gradient
        (straight-through Gumbel).
    generator : torch.Generator | None
        Source of the noise.

    Returns
    -------
    gates : Tensor, shape ``shape``
    """
    temperature = _check_temperature(temperature, "relaxed_bernoulli")
    shape = tuple(probability.shape if shape is None else shape)
    noise = _logistic(shape, probability, generator)
    soft = torch.sigmoid((_probability_logits(probability) + noise) / temperature)
    soft = soft.masked_fill(probability <= 0, 0.0)
    if not hard:
        return soft
    return straight_through((soft > 0.5).to(soft.dtype), soft)


def gumbel_softmax(
    logits: Tensor,
    temperature: float,
    *,
    hard: bool = False,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Relaxed categorical (concrete, Gumbel-softmax) draws, one per row.

    ``softmax((logits + G) / temperature)`` with Gumbel noise ``G``
    (``torch.nn.functional.gumbel_softmax`` draws from the global generator
    only, hence this one).

    Parameters
    ----------
    logits : Tensor, shape (..., n_categories)
        Unnormalised log-probabilities (``-inf`` excludes a category).
    temperature : float
        Relaxation temperature, positive and finite.
    hard : bool
        ``True`` returns the one-hot ``argmax`` (category ``j`` with probability
        exactly ``softmax(logits)_j``) with the soft draw's gradient.
    generator : torch.Generator | None
        Source of the noise.

    Returns
    -------
    weights : Tensor, shape (..., n_categories)
        Rows on the simplex.
    """
    temperature = _check_temperature(temperature, "gumbel_softmax")
    z = logits + _gumbel(logits.shape, logits, generator)
    soft = torch.softmax(z / temperature, dim=-1)
    if not hard:
        return soft
    index = z.detach().argmax(-1)
    one_hot = nn.functional.one_hot(index, logits.shape[-1]).to(soft.dtype)
    return straight_through(one_hot, soft)


# ---------------------------------------------------------------------- RELAX
class RelaxDraw(NamedTuple):
    """A hard draw with the relaxed draws RELAX needs (see :func:`relax_bernoulli`).

    Attributes
    ----------
    b : Tensor
        The hard draw: 0/1 values (Bernoulli, the logits' shape) or category
        indices (categorical, the logits' shape without its last dimension).
    z : Tensor
        Relaxed draw with ``b = H(z)``, reparametrised in the logits (the
        logits' shape).
    z_tilde : Tensor
        Relaxed draw from ``p(z | b)``, reparametrised in the logits.
    log_prob : Tensor
        ``log p(b)``, differentiable in the logits, the shape of ``b``.
    """

    b: Tensor
    z: Tensor
    z_tilde: Tensor
    log_prob: Tensor


def relax_bernoulli(
    logits: Tensor, generator: torch.Generator | None = None
) -> RelaxDraw:
    """Draw Bernoulli variables of ``sigmoid(logits)`` for RELAX.

    ``z = logits + L`` (logistic noise ``L = logit(u)``), ``b = [z > 0]``, and
    ``z~ = logits + logit(v')`` with ``v' = 1 - p + v p`` if ``b = 1``,
    ``v' = v (1 - p)`` if ``b = 0`` (``v ~ U(0, 1)``, ``p = sigmoid(logits)``),
    a draw of ``z`` given ``b`` (Grathwohl et al. 2018, Appendix B).

    Parameters
    ----------
    logits : Tensor
        Logits of the probabilities, e.g. ``logit(p)`` of a stage's
        probabilities (any shape).
    generator : torch.Generator | None
        Source of ``u`` then ``v``.

    Returns
    -------
    draw : RelaxDraw
        ``b`` of the logits' shape, in {0, 1} (float).
    """
    z = logits + _logistic(logits.shape, logits, generator)
    b = (z.detach() > 0).to(logits.dtype)
    v = _open_unit(_uniform(logits.shape, logits, generator))
    p = torch.sigmoid(logits)
    v_prime = _open_unit(torch.where(b > 0, 1.0 - p + v * p, v * (1.0 - p)))
    z_tilde = logits + torch.log(v_prime) - torch.log1p(-v_prime)
    log_prob = -nn.functional.binary_cross_entropy_with_logits(
        logits, b, reduction="none"
    )
    return RelaxDraw(b, z, z_tilde, log_prob)


def relax_categorical(
    logits: Tensor, generator: torch.Generator | None = None
) -> RelaxDraw:
    """Draw categorical variables of ``softmax(logits)`` for RELAX, one per row.

    ``z = log p + G`` (Gumbel noise), ``b = argmax z``, and ``z~`` given ``b``:
    ``z~_b = -log(-log v_b)``, ``z~_j = -log(-log(v_j) / p_j - log v_b)``
    otherwise (``v ~ U(0, 1)``; Grathwohl et al. 2018, Appendix B).

    Parameters
    ----------
    logits : Tensor, shape (..., n_categories)
        Unnormalised log-probabilities, finite.
    generator : torch.Generator | None
        Source of the Gumbel noise then ``v``.

    Returns
    -------
    draw : RelaxDraw
        ``b`` of shape (...), int64 indices; ``z`` and ``z_tilde`` of the
        logits' shape.
    """
    log_p = torch.log_softmax(logits, dim=-1)
    z = log_p + _gumbel(logits.shape, logits, generator)
    b = z.detach().argmax(-1)
    v = _open_unit(_uniform(logits.shape, logits, generator))
    log_v = torch.log(v)
    log_v_b = log_v.gather(-1, b.unsqueeze(-1))
    others = -torch.log(-log_v / log_p.exp() - log_v_b)
    z_tilde = others.scatter(-1, b.unsqueeze(-1), -torch.log(-log_v_b))
    log_prob = log_p.gather(-1, b.unsqueeze(-1)).squeeze(-1)
    return RelaxDraw(b, z, z_tilde, log_prob)


class RelaxControlVariate(nn.Module):
    """Learned control variate ``c(z)`` of RELAX.

    ``c(z) = MLP(2 r(z) - 1) + eta * surrogate(r(z))``, where ``r`` relaxes the
    draws at a learned temperature (``sigmoid(z / t)`` for Bernoulli draws,
    ``softmax(z / t)`` for categorical ones) and concatenates them into
    ``n_features`` features. The MLP (one hidden tanh layer, as in DADA's) and,
    optionally, a scaled ``surrogate`` (the function of interest evaluated on
    relaxed values, as REBAR does, when it can be) are trained by minimising the
    variance loss of :func:`relax_gradients`.

    Parameters
    ----------
    n_features : int
        Number of relaxed values per draw: the number of Bernoulli variables
        plus the number of categories of each categorical variable.
    hidden : int
        Width of the hidden layer (DADA: 100).
    temperature : float
        Initial relaxation temperature (learned, as a log).
    surrogate : callable | None
        ``surrogate(features) -> Tensor of shape (...)``: the function of
        interest evaluated on the relaxed features, added with a learned scale
        ``eta`` (initially 1). ``None`` uses the MLP alone.
    generator : torch.Generator | None
        Source of the MLP's initial weights (``None``: torch's global
        generator).
    """

    def __init__(
        self,
        n_features: int,
        hidden: int = 100,
        *,
        temperature: float = 0.5,
        surrogate: Callable[[Tensor], Tensor] | None = None,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        for name, value in (("n_features", n_features), ("hidden", hidden)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
        temperature = _check_temperature(temperature, "RelaxControlVariate")
        self.n_features = n_features
        self.hidden = nn.Linear(n_features, hidden)
        self.out = nn.Linear(hidden, 1)
        for layer in (self.hidden, self.out):
            # PyTorch's default initialisation, from the caller's generator.
            bound = 1.0 / layer.in_features**0.5
            with torch.no_grad():
                layer.weight.uniform_(-bound, bound, generator=generator)
                layer.bias.uniform_(-bound, bound, generator=generator)
        self.log_temperature = nn.Parameter(torch.tensor(float(temperature)).log())
        self.surrogate = surrogate
        self.eta = nn.Parameter(torch.tensor(1.0)) if surrogate is not None else None

    @property
    def temperature(self) -> Tensor:
        """Relaxation temperature, 0-d."""
        return self.log_temperature.exp()

    def features(
        self,
        bernoulli: Sequence[Tensor] = (),
        categorical: Sequence[Tensor] = (),
        sample_dims: int = 0,
    ) -> Tensor:
        """Relax and concatenate draws ``z`` (or ``z~``) into features.

        Parameters
        ----------
        bernoulli : sequence of Tensor
            ``z`` of Bernoulli draws (:func:`relax_bernoulli`).
        categorical : sequence of Tensor
            ``z`` of categorical draws (:func:`relax_categorical`), categories
            last.
        sample_dims : int
            Number of leading dimensions that index independent draws (0 for
            one draw); the others are flattened into features.

        Returns
        -------
        features : Tensor, shape (*sample_shape, n_features)
        """
        t = self.temperature
        parts = [torch.sigmoid(z / t) for z in bernoulli]
        parts += [torch.softmax(z / t, dim=-1) for z in categorical]
        if not parts:
            raise ValueError("features needs at least one relaxed draw.")
        lead = parts[0].shape[:sample_dims]
        flat = [p.reshape(*lead, -1) for p in parts]
        features = torch.cat(flat, dim=-1)
        if features.shape[-1] != self.n_features:
            raise ValueError(
                f"RelaxControlVariate was built for {self.n_features} features, "
                f"got {features.shape[-1]} (draws of shapes "
                f"{[tuple(p.shape) for p in parts]}, sample_dims={sample_dims})."
            )
        return features

    def forward(self, features: Tensor) -> Tensor:
        """Evaluate ``c`` on relaxed features.

        Parameters
        ----------
        features : Tensor, shape (..., n_features)
            Output of :meth:`features`.

        Returns
        -------
        c : Tensor, shape (...)
        """
        c = self.out(torch.tanh(self.hidden(2.0 * features - 1.0))).squeeze(-1)
        if self.surrogate is not None:
            c = c + self.eta * self.surrogate(features)
        return c


class RelaxEstimate(NamedTuple):
    """Output of :func:`relax_gradients`.

    Attributes
    ----------
    gradients : list of Tensor
        Estimates of ``d E[f(b)] / d param``, one per parameter, detached.
    variance_loss : Tensor, 0-d
        Mean over draws of the summed squared estimates, differentiable in the
        control variate's parameters: ``variance_loss.backward(inputs=...)`` on
        them, then a step of their optimiser, lowers the estimator's variance.
    """

    gradients: list[Tensor]
    variance_loss: Tensor


def _per_draw(weight: Tensor, gradient: Tensor) -> Tensor:
    """``weight`` (one per draw) broadcast against a parameter's gradient."""
    return weight.reshape(weight.shape + (1,) * (gradient.dim() - weight.dim()))


def relax_gradients(
    f_b: Tensor,
    log_prob: Tensor,
    c_z: Tensor,
    c_z_tilde: Tensor,
    params: Sequence[Tensor],
) -> RelaxEstimate:
    """RELAX estimate of the gradient of ``E_b[f(b)]`` (Grathwohl et al. 2018).

    ``g = (f(b) - c(z~)) d log p(b) + d c(z) - d c(z~)`` (derivatives with
    respect to each parameter). Unbiased for any control variate ``c``.

    Parameters
    ----------
    f_b : Tensor
        ``f`` at the hard draws (e.g. a loss): a scalar for one draw, or shape
        (n_draws,) for independent draws. Used as a number (detached).
    log_prob : Tensor
        ``log p(b)`` summed over the draw's variables, shape of ``f_b``.
    c_z, c_z_tilde : Tensor
        Control variate at the relaxed draws ``z`` and ``z~``, shape of ``f_b``.
    params : sequence of Tensor
        Parameters the draws depend on (e.g. a policy's sub-policy logits and
        probabilities). With several draws, each draw must come from its own
        row of every parameter (parameters of shape (n_draws, ...), e.g. one
        ``expand``-ed leaf), so that each row's gradient is one draw's estimate.

    Returns
    -------
    estimate : RelaxEstimate
    """
    params = list(params)
    weight = f_b.detach() - c_z_tilde
    d_log_prob = torch.autograd.grad(
        log_prob.sum(), params, retain_graph=True, allow_unused=True
    )
    d_c_z = torch.autograd.grad(
        c_z.sum(), params, create_graph=True, retain_graph=True, allow_unused=True
    )
    d_c_z_tilde = torch.autograd.grad(
        c_z_tilde.sum(), params, create_graph=True, retain_graph=True, allow_unused=True
    )
    gradients = []
    for p, dl, dz, dzt in zip(params, d_log_prob, d_c_z, d_c_z_tilde, strict=True):
        g = torch.zeros_like(p)
        if dl is not None:
            g = g + _per_draw(weight, dl) * dl
        if dz is not None:
            g = g + dz
        if dzt is not None:
            g = g - dzt
        gradients.append(g)
    n_draws = max(f_b.numel(), 1)
    variance_loss = sum(g.pow(2).sum() for g in gradients) / n_draws
    return RelaxEstimate([g.detach() for g in gradients], variance_loss)


def reinforce_gradients(
    f_b: Tensor, log_prob: Tensor, params: Sequence[Tensor], baseline: float = 0.0
) -> list[Tensor]:
    """Score-function (REINFORCE) estimate ``(f(b) - baseline) d log p(b)``.

    Parameters
    ----------
    f_b, log_prob : Tensor
        As in :func:`relax_gradients`.
    params : sequence of Tensor
        As in :func:`relax_gradients`.
    baseline : float
        Constant subtracted from ``f(b)`` (0: plain REINFORCE).

    Returns
    -------
    gradients : list of Tensor
        One detached estimate per parameter.
    """
    weight = f_b.detach() - baseline
    grads = torch.autograd.grad(
        log_prob.sum(), list(params), retain_graph=True, allow_unused=True
    )
    return [
        torch.zeros_like(p) if g is None else _per_draw(weight, g) * g
        for p, g in zip(params, grads, strict=True)
    ]
