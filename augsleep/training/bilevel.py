r"""DARTS-style hypergradients of a validation loss with respect to hyperparameters.

The bilevel problem of the gradient-based augmentation searches (DADA, ADDA,
CADDA) is

.. math::

    \min_\alpha L_{valid}(\theta^*(\alpha)), \quad
    \theta^*(\alpha) \in \arg\min_\theta L_{train}(\theta, \alpha),

with ``alpha`` the policy's parameters, which enter only the training loss
(through the augmentation of the training batch). DARTS (Liu et al. 2019)
approximates ``theta*`` by one *unrolled* step of the trunk,

.. math::

    \theta' = \theta - \xi \nabla_\theta L_{train}(\theta, \alpha),

so that, by the chain rule,

.. math::

    \nabla_\alpha L_{valid}(\theta') = \nabla_\alpha L_{valid}(\theta', \alpha)
    - \xi \nabla^2_{\alpha, \theta} L_{train}(\theta, \alpha) \, v, \quad
    v = \nabla_{\theta'} L_{valid}(\theta'),

and the mixed Hessian-vector product is estimated by central finite
differences, ``(grad_alpha L_train(theta + eps v) - grad_alpha L_train(theta -
eps v)) / (2 eps)`` with ``eps = r / ||v||`` (DARTS: ``r = 1e-2``): two more
gradients instead of a second-order backward pass.

Everything here is *functional*: the trunk is evaluated with
:func:`torch.func.functional_call` on detached copies of its parameters (and
of its buffers, so that batch-normalisation statistics are not updated
either), so a hypergradient leaves the trunk's weights, buffers and optimiser
state exactly as they were. The caller then steps the hyperparameters with
their own optimiser, and the trunk with its own (DARTS alternates the two).

On the optimiser state: DARTS's virtual step reads the SGD momentum buffer of
the network's optimiser (``theta' = theta - xi (m + g + wd theta)``, the buffer
``m`` scaled by the momentum) without advancing it. :func:`unrolled_parameters`
takes such buffers when the trunk is trained by SGD with momentum; for Adam
(the sleep models' optimiser) the virtual step is the plain gradient step of
the bilevel methods' algorithm (CADDA's Algorithm 1), and Adam's moments are
neither read nor advanced: only the trunk's real step advances them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.func import functional_call

#: ``loss(params) -> Tensor`` (0-d): a loss of the trunk evaluated at ``params``
#: (names of the trunk's parameters -> tensors), e.g. through :func:`call_with`.
LossFn = Callable[[Mapping[str, Tensor]], Tensor]


def trainable_parameters(module: nn.Module) -> dict[str, Tensor]:
    """Detached copies of the parameters that require a gradient, by name.

    Parameters
    ----------
    module : nn.Module
        The trunk.

    Returns
    -------
    params : dict of str to Tensor
        ``name -> parameter.detach().clone()`` (not requiring a gradient).
    """
    return {
        name: p.detach().clone()
        for name, p in module.named_parameters()
        if p.requires_grad
    }


def call_with(module: nn.Module, params: Mapping[str, Tensor], *args) -> Tensor:
    """Call ``module(*args)`` with ``params`` in place of its parameters.

    Buffers are passed as clones, so that a forward pass in training mode (e.g.
    batch normalisation's running statistics) leaves the module's own buffers
    as they were.

    Parameters
    ----------
    module : nn.Module
        The trunk.
    params : mapping of str to Tensor
        Tensors by parameter name (those missing are the module's own).
    *args
        Inputs of ``module.forward``.

    Returns
    -------
    output : Tensor
    """
    buffers = {name: b.clone() for name, b in module.named_buffers()}
    return functional_call(module, {**buffers, **params}, args, strict=False)


def _with_grad(params: Mapping[str, Tensor]) -> dict[str, Tensor]:
    return {name: t.detach().requires_grad_(True) for name, t in params.items()}


def _grads(loss: Tensor, inputs: Sequence[Tensor]) -> list[Tensor]:
    """Gradients of ``loss`` w.r.t. ``inputs`` (zeros for those it ignores)."""
    grads = torch.autograd.grad(loss, list(inputs), allow_unused=True)
    return [
        torch.zeros_like(x) if g is None else g
        for g, x in zip(grads, inputs, strict=True)
    ]


def _norm(tensors: Sequence[Tensor]) -> Tensor:
    return torch.linalg.vector_norm(torch.stack([t.norm() for t in tensors]))


def unrolled_parameters(
    params: Mapping[str, Tensor],
    grads: Mapping[str, Tensor],
    xi: float,
    *,
    momentum_buffers: Mapping[str, Tensor] | None = None,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
) -> dict[str, Tensor]:
    """DARTS's virtual step ``theta' = theta - xi (momentum m + g + wd theta)``.

    Parameters
    ----------
    params : mapping of str to Tensor
        The trunk's parameters ``theta``.
    grads : mapping of str to Tensor
        ``grad_theta L_train(theta, alpha)``, same keys.
    xi : float
        Step size of the virtual step (DARTS: the trunk's learning rate).
    momentum_buffers : mapping of str to Tensor | None
        SGD momentum buffers of the trunk's optimiser (missing ones count as 0);
        ``None`` (e.g. an Adam-trained trunk): no momentum term.
    momentum : float
        SGD momentum the buffers are scaled by.
    weight_decay : float
        L2 weight decay of the trunk's optimiser (added to the gradient).

    Returns
    -------
    unrolled : dict of str to Tensor
        ``theta'``, detached, same keys. Neither ``params`` nor the buffers are
        modified.
    """
    unrolled = {}
    for name, theta in params.items():
        step = grads[name].detach() + weight_decay * theta.detach()
        if momentum_buffers is not None and name in momentum_buffers:
            step = step + momentum * momentum_buffers[name].detach()
        unrolled[name] = theta.detach() - xi * step
    return unrolled


def finite_difference_hvp(
    loss: LossFn,
    params: Mapping[str, Tensor],
    hyperparameters: Sequence[Tensor],
    vector: Mapping[str, Tensor],
    r: float = 1e-2,
    gradient: Callable[[Mapping[str, Tensor]], list[Tensor]] | None = None,
) -> list[Tensor]:
    """Estimate ``grad^2_{alpha, theta} L(theta, alpha) v`` by central differences.

    ``(grad_alpha L(theta + eps v) - grad_alpha L(theta - eps v)) / (2 eps)``
    with ``eps = r / ||v||`` (DARTS): the derivative of
    ``grad_alpha L`` along ``v``, exact up to ``O(eps^2)``.

    Parameters
    ----------
    loss : callable
        ``loss(params) -> Tensor`` (0-d), differentiable in ``hyperparameters``.
        Called twice; a stochastic loss must make the same random draws at
        each call (see :class:`SameDraws`), or the difference is noise.
    params : mapping of str to Tensor
        ``theta``, by parameter name.
    hyperparameters : sequence of Tensor
        ``alpha``, tensors that require a gradient.
    vector : mapping of str to Tensor
        ``v``, same keys and shapes as ``params``.
    r : float
        Step of the finite difference relative to ``||v||``.
    gradient : callable | None
        ``gradient(params) -> list of Tensor``, an estimate of
        ``grad_alpha L(params)`` to use instead of autograd of ``loss`` (e.g.
        DADA's RELAX estimates for its discrete choices); ``loss`` is then
        not called.

    Returns
    -------
    hvp : list of Tensor
        One tensor per hyperparameter, its shape; zeros when ``v = 0``.
    """
    norm = _norm(list(vector.values()))
    if not torch.isfinite(norm) or norm == 0:
        return [torch.zeros_like(a) for a in hyperparameters]
    eps = r / norm
    plus = {n: params[n].detach() + eps * vector[n] for n in params}
    minus = {n: params[n].detach() - eps * vector[n] for n in params}
    if gradient is None:

        def gradient(at):
            return _grads(loss(at), hyperparameters)

    g_plus, g_minus = gradient(plus), gradient(minus)
    return [(gp - gm) / (2 * eps) for gp, gm in zip(g_plus, g_minus, strict=True)]


@dataclass
class Hypergradient:
    """What :func:`darts_hypergradient` returns.

    Attributes
    ----------
    grads : list of Tensor
        ``grad_alpha L_valid(theta')``, one per hyperparameter.
    train_loss : float
        ``L_train(theta, alpha)`` of the unrolled step.
    valid_loss : float
        ``L_valid(theta')``.
    epsilon : float
        Finite-difference step ``r / ||v||`` (NaN when ``v = 0``).
    """

    grads: list[Tensor]
    train_loss: float
    valid_loss: float
    epsilon: float


def darts_hypergradient(
    module: nn.Module,
    hyperparameters: Sequence[Tensor],
    train_loss: LossFn,
    valid_loss: LossFn,
    xi: float,
    *,
    r: float = 1e-2,
    momentum_buffers: Mapping[str, Tensor] | None = None,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    train_gradient: Callable[[Mapping[str, Tensor]], list[Tensor]] | None = None,
) -> Hypergradient:
    """Hypergradient of DARTS's unrolled bilevel approximation.

    1. ``g = grad_theta L_train(theta, alpha)``;
       ``theta' = theta - xi g`` (:func:`unrolled_parameters`);
    2. ``v = grad_theta' L_valid(theta')`` and the direct term
       ``grad_alpha L_valid(theta', alpha)`` (zero when, as in augmentation
       searches, the validation loss does not see the policy);
    3. ``grad_alpha = direct - xi * hvp``, ``hvp`` by
       :func:`finite_difference_hvp` at ``theta`` along ``v``.

    Parameters
    ----------
    module : nn.Module
        The trunk; only its parameter names and shapes are used (the losses
        evaluate it functionally). Its weights, buffers and gradients are left
        untouched.
    hyperparameters : sequence of Tensor
        ``alpha`` (e.g. a policy's parameters), requiring a gradient. Their
        ``.grad`` is not written: the result holds the gradients.
    train_loss, valid_loss : callable
        ``loss(params) -> Tensor`` (0-d), evaluating the trunk at ``params``
        (e.g. with :func:`call_with`). ``train_loss`` is called three times
        and must make the same random draws each time (:class:`SameDraws`).
    xi : float
        Step size of the virtual step.
    r : float
        Finite-difference step relative to ``||v||`` (DARTS: 1e-2).
    momentum_buffers, momentum, weight_decay
        The trunk optimiser's state, see :func:`unrolled_parameters`.
    train_gradient : callable | None
        ``train_gradient(params) -> list of Tensor``: an estimate of
        ``grad_alpha L_train(params)`` for the finite differences, in place of
        autograd (see :func:`finite_difference_hvp`).

    Returns
    -------
    result : Hypergradient
    """
    hyperparameters = list(hyperparameters)
    theta = trainable_parameters(module)
    theta_req = _with_grad(theta)
    loss_train = train_loss(theta_req)
    names = list(theta_req)
    g = _grads(loss_train, [theta_req[n] for n in names])
    unrolled = unrolled_parameters(
        theta,
        dict(zip(names, g, strict=True)),
        xi,
        momentum_buffers=momentum_buffers,
        momentum=momentum,
        weight_decay=weight_decay,
    )
    unrolled_req = _with_grad(unrolled)
    loss_valid = valid_loss(unrolled_req)
    grads = _grads(loss_valid, [unrolled_req[n] for n in names] + hyperparameters)
    vector = dict(zip(names, grads[: len(names)], strict=True))
    direct = grads[len(names) :]
    norm = _norm(list(vector.values()))
    epsilon = float(r / norm) if norm > 0 else float("nan")
    hvp = finite_difference_hvp(
        train_loss, theta, hyperparameters, vector, r=r, gradient=train_gradient
    )
    return Hypergradient(
        grads=[d - xi * h for d, h in zip(direct, hvp, strict=True)],
        train_loss=float(loss_train.detach()),
        valid_loss=float(loss_valid.detach()),
        epsilon=epsilon,
    )


class SameDraws:
    """Replay the same random draws at every evaluation of a stochastic loss.

    The finite differences of :func:`finite_difference_hvp` compare two
    evaluations of the training loss; with fresh augmentation draws and dropout
    masks at each, their difference would be dominated by the draws. This
    records the state of a generator (the augmentation's) and of torch's global
    generators (dropout) when created, and :meth:`restore` puts them back
    before each evaluation. After the last evaluation the generators are where
    it left them, so that what follows (the trunk's own step) draws anew.

    Parameters
    ----------
    generator : torch.Generator | None
        Generator of the augmentation draws.
    device : torch.device | None
        Device whose global CUDA generator dropout draws from (CPU: none).
    """

    def __init__(self, generator: torch.Generator | None, device=None):
        self.generator = generator
        self.cuda = device is not None and torch.device(device).type == "cuda"
        self.device = torch.device(device) if self.cuda else None
        self._states = self._get()

    def _get(self):
        states = [torch.get_rng_state()]
        if self.generator is not None:
            states.append(self.generator.get_state())
        if self.cuda:
            states.append(torch.cuda.get_rng_state(self.device))
        return states

    def _set(self, states) -> None:
        torch.set_rng_state(states[0])
        i = 1
        if self.generator is not None:
            self.generator.set_state(states[i])
            i += 1
        if self.cuda:
            torch.cuda.set_rng_state(states[i], self.device)

    def restore(self) -> None:
        """Put every generator back to its state at creation."""
        self._set(self._states)
