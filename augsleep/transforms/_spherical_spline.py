"""Differentiable spherical-spline interpolation for rotating EEG sensors.

Torch port of the spherical splines of Perrin et al. (1989) as implemented in
MNE-Python (``mne/channels/interpolation.py``: ``_calc_g`` and
``_make_interpolation_matrix``), rearranged so that a batch of rotation angles
gives a batch of interpolation matrices whose derivative with respect to the angle
is available to autograd.

For unit sensor positions ``p_1..p_n`` the spline interpolant of the values ``v``
is ``f(q) = sum_j c_j g(q . p_j) + c_0`` where ``(c, c_0)`` solve::

    [G + alpha I   1] [c  ]   [v]
    [1^T           0] [c_0] = [0],     G_ij = g(p_i . p_j),

``g(x) = sum_{k=1}^{K} (2k + 1) / (k^m (k + 1)^m 4 pi) P_k(x)`` (Legendre series,
stiffness ``m = 4``, ``K = 50`` terms). Writing ``C^-1`` for the inverse of that
bordered matrix, the values at new points ``q_i`` are ``M v`` with
``M = [G_qp, 1] C^-1[:, :n]`` (MNE's interpolation matrix). ``C^-1`` only depends on
the original positions, so it is computed once; only ``G_qp`` depends on the angle.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

#: Unit rotation axes.
_AXES = {"x": (1.0, 0.0, 0.0), "y": (0.0, 1.0, 0.0), "z": (0.0, 0.0, 1.0)}


def g_coefficients(stiffness: float = 4.0, n_legendre_terms: int = 50) -> list[float]:
    """Legendre coefficients ``[0, c_1, ..., c_K]`` of the spline function ``g``.

    Same values as MNE's ``_calc_g``: ``c_k = (2k + 1) / (k^m (k + 1)^m 4 pi)``.
    """
    return [0.0] + [
        (2 * k + 1) / (k**stiffness * (k + 1) ** stiffness * 4 * math.pi)
        for k in range(1, n_legendre_terms + 1)
    ]


def legendre_series(x: Tensor, coefficients: list[float]) -> Tensor:
    """Evaluate ``sum_k coefficients[k] P_k(x)`` elementwise (Clenshaw recursion).

    Same recursion as ``numpy.polynomial.legendre.legval``, written with
    out-of-place operations only so that autograd can differentiate through it
    (braindecode 1.8's port fails in backward on an in-place update).

    Parameters
    ----------
    x : Tensor, any shape
        Points, usually cosines of angles between unit vectors.
    coefficients : list of float
        Coefficients of the Legendre polynomials ``P_0, P_1, ...``.

    Returns
    -------
    values : Tensor, same shape as ``x``
    """
    c = coefficients
    if len(c) == 1:
        return torch.full_like(x, c[0])
    if len(c) == 2:
        return c[0] + c[1] * x
    nd = len(c)
    c0: Tensor | float = c[-2]
    c1: Tensor | float = c[-1]
    for i in range(3, len(c) + 1):
        tmp = c0
        nd -= 1
        c0 = c[-i] - c1 * ((nd - 1) / nd)
        c1 = tmp + c1 * x * ((2 * nd - 1) / nd)
    return c0 + c1 * x


def calc_g(
    cosang: Tensor, stiffness: float = 4.0, n_legendre_terms: int = 50
) -> Tensor:
    """Spherical-spline function ``g`` of the cosines ``cosang`` (MNE's ``_calc_g``).

    Parameters
    ----------
    cosang : Tensor, any shape
        Cosines of the angles between pairs of unit vectors.
    stiffness : float
        Spline stiffness ``m``.
    n_legendre_terms : int
        Number of Legendre terms ``K``.

    Returns
    -------
    G : Tensor, same shape as ``cosang``
    """
    return legendre_series(cosang, g_coefficients(stiffness, n_legendre_terms))


def normalize_positions(positions, origin=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Project sensor positions onto the unit sphere centred on ``origin``.

    Parameters
    ----------
    positions : array-like, shape (n_channels, 3)
        Sensor positions (head coordinates, metres).
    origin : array-like, shape (3,)
        Centre of the sphere, in the same coordinates.

    Returns
    -------
    unit_positions : ndarray of float64, shape (n_channels, 3)
    """
    if isinstance(positions, Tensor):
        positions = positions.detach().cpu().numpy()
    pos = np.array(positions, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != 3:
        raise ValueError(
            f"positions must have shape (n_channels, 3), got shape {pos.shape}."
        )
    if not np.isfinite(pos).all():
        bad = np.flatnonzero(~np.isfinite(pos).all(axis=1)).tolist()
        raise ValueError(f"positions of channel index(es) {bad} are not finite.")
    org = np.asarray(origin, dtype=np.float64).reshape(-1)
    if org.shape != (3,) or not np.isfinite(org).all():
        raise ValueError(f"origin must be 3 finite numbers, got {origin!r}.")
    pos = pos - org
    norms = np.linalg.norm(pos, axis=1)
    if (norms <= 0).any():
        bad = np.flatnonzero(norms <= 0).tolist()
        raise ValueError(
            f"positions of channel index(es) {bad} coincide with the origin "
            f"{org.tolist()}: they cannot be projected on the sphere."
        )
    return pos / norms[:, None]


def make_interpolation_matrix(
    pos_from: Tensor,
    pos_to: Tensor,
    alpha: float = 1e-5,
    stiffness: float = 4.0,
    n_legendre_terms: int = 50,
) -> Tensor:
    """Spherical-spline interpolation matrix, as MNE's ``_make_interpolation_matrix``.

    Reference implementation (one pair of position sets, differentiable in
    ``pos_to``); :class:`RotationInterpolator` is the batched version used by the
    transforms.

    Parameters
    ----------
    pos_from : Tensor, shape (n_from, 3)
        Positions with known values (normalised to the unit sphere here).
    pos_to : Tensor, shape (n_to, 3)
        Positions to interpolate at.
    alpha : float
        Ridge regularisation added to the diagonal of ``G``.
    stiffness : float
        Spline stiffness.
    n_legendre_terms : int
        Number of Legendre terms.

    Returns
    -------
    interpolation : Tensor, shape (n_to, n_from)
        Maps values at ``pos_from`` to values at ``pos_to``.
    """
    pos_from = pos_from / torch.linalg.norm(pos_from, dim=1, keepdim=True)
    pos_to = pos_to / torch.linalg.norm(pos_to, dim=1, keepdim=True)
    n_from = pos_from.shape[0]
    g_from = calc_g(pos_from @ pos_from.T, stiffness, n_legendre_terms)
    g_to_from = calc_g(pos_to @ pos_from.T, stiffness, n_legendre_terms)
    c_inv = _bordered_inverse(g_from, alpha)
    return g_to_from @ c_inv[:n_from, :n_from] + c_inv[n_from, :n_from]


def _bordered_inverse(g_from: Tensor, alpha: float) -> Tensor:
    """Pseudo-inverse of ``[[G + alpha I, 1], [1^T, 0]]`` (MNE uses ``pinv`` too)."""
    n = g_from.shape[0]
    ones = torch.ones(n, 1, dtype=g_from.dtype, device=g_from.device)
    zero = torch.zeros(1, 1, dtype=g_from.dtype, device=g_from.device)
    eye = torch.eye(n, dtype=g_from.dtype, device=g_from.device)
    c = torch.cat(
        [torch.cat([g_from + alpha * eye, ones], 1), torch.cat([ones.T, zero], 1)], 0
    )
    return torch.linalg.pinv(c)


def cross_product_matrix(axis: str) -> np.ndarray:
    """Matrix ``K`` with ``K v = e x v`` for the unit vector ``e`` along ``axis``.

    Rodrigues' formula gives the rotation by ``theta`` about ``e`` as
    ``R = I + sin(theta) K + (1 - cos(theta)) K^2`` (right-hand rule; the same
    matrices as braindecode's ``_make_rotation_matrix``).
    """
    if axis not in _AXES:
        raise ValueError(f"axis must be one of {sorted(_AXES)}, got {axis!r}.")
    ex, ey, ez = _AXES[axis]
    return np.array([[0.0, -ez, ey], [ez, 0.0, -ex], [-ey, ex, 0.0]])


def rotation_matrix(axis: str, angle_rad: float) -> np.ndarray:
    """Rotation matrix by ``angle_rad`` radians about ``axis`` (right-hand rule)."""
    k = cross_product_matrix(axis)
    return np.eye(3) + np.sin(angle_rad) * k + (1 - np.cos(angle_rad)) * (k @ k)


def legendre_table(x: Tensor, degree: int) -> Tensor:
    """Stack ``[P_0(x), ..., P_degree(x)]`` (upward three-term recurrence).

    Parameters
    ----------
    x : Tensor, any shape
        Points in [-1, 1].
    degree : int
        Highest degree.

    Returns
    -------
    table : Tensor, shape (degree + 1, *x.shape)
    """
    table = [torch.ones_like(x), x]
    for k in range(1, degree):
        table.append(((2 * k + 1) * x * table[k] - k * table[k - 1]) / (k + 1))
    return torch.stack(table[: degree + 1])


def _g_difference_forward(h: Tensor, cos0: Tensor, p0: Tensor, coefs) -> Tensor:
    """``g(cos0 + h) - g(cos0)`` by a recurrence on ``D_k = P_k(cos0 + h) - P_k(cos0)``.

    Subtracting the recurrences of ``P_k(a)`` and ``P_k(b)`` (``a = b + h``) gives
    ``D_{k+1} = ((2k + 1) (a D_k + h P_k(b)) - k D_{k-1}) / (k + 1)`` with
    ``D_0 = 0`` and ``D_1 = h``: every term carries a factor ``h``, so the result is
    exactly 0 when ``h`` is, and small differences are not lost to cancellation.
    """
    a = cos0 + h
    d_prev = torch.zeros_like(h)
    d = h
    out = coefs[1] * h
    for k in range(1, len(coefs) - 1):
        d_prev, d = d, ((2 * k + 1) * (a * d + h * p0[k]) - k * d_prev) / (k + 1)
        out = out + coefs[k + 1] * d
    return out


class _GDifference(torch.autograd.Function):
    """Autograd function for ``g(cos0 + h) - g(cos0)`` with a cheap backward.

    Differentiating the 50-step recurrence with autograd would keep ~5 tensors of
    shape (n_windows, n_channels, n_channels) per step; the derivative is simply
    ``g'(cos0 + h)``, a Legendre series evaluated in backward from the saved inputs
    (with differentiable operations, so double backward works too).
    """

    @staticmethod
    def forward(ctx, h, cos0, p0, coefs, derivative_coefs):
        ctx.save_for_backward(h, cos0)
        ctx.derivative_coefs = derivative_coefs
        return _g_difference_forward(h, cos0, p0, coefs)

    @staticmethod
    def backward(ctx, grad_out):
        h, cos0 = ctx.saved_tensors
        slope = legendre_series(cos0 + h, ctx.derivative_coefs)
        return grad_out * slope, None, None, None, None


class RotationInterpolator(torch.nn.Module):
    """Batched spherical-spline interpolation onto rotated sensors.

    Parameters
    ----------
    unit_positions : ndarray, shape (n_channels, 3)
        Sensor positions on the unit sphere (see :func:`normalize_positions`).
    axis : {"x", "y", "z"}
        Rotation axis (through the sphere's centre).
    alpha : float
        Ridge regularisation of the spline (MNE's default ``1e-5``).
    stiffness : float
        Spline stiffness ``m`` (MNE's default 4).
    n_legendre_terms : int
        Number of Legendre terms (MNE's default 50).

    Notes
    -----
    With ``P`` the unit positions (rows) and the rotation written with Rodrigues'
    formula ``R = I + s K + v K^2`` (``s = sin(theta)``, ``v = 1 - cos(theta)``), the
    cosines between the rotated sensors and the original ones are::

        P R^T P^T = A0 + s A1 + v A2,  A0 = P P^T,  A1 = P K^T P^T,  A2 = P K^2 P^T.

    The interpolation matrix from the original sensors to the rotated ones is MNE's
    ``M(theta) = [g(P R^T P^T), 1] C^-1[:, :n]``. Because of the ridge ``alpha``,
    ``M(0)`` is not the identity (it smooths: off by up to 0.05 for six 10-20
    sensors and 0.8 for sixty), so the transform uses the identity-anchored
    matrix::

        W(theta) = I + M(theta) - M(0) = I + (g(P R^T P^T) - g(A0)) C^-1[:n, :n],

    i.e. it moves the spline's smooth part of the field with the rotation and leaves
    the residual the spline does not fit in place. ``W(0)`` is exactly the identity
    (the difference ``g(A0 + h) - g(A0)`` is computed by a recurrence that is
    exactly 0 for ``h = 0``), rows of ``W`` sum to 1 (constant fields stay
    constant), and ``W = M`` up to the ridge when ``alpha -> 0``.

    Everything that does not depend on the angle (``A0``, ``A1``, ``A2``, the
    Legendre polynomials at ``A0`` and ``C^-1[:n, :n]``) is computed once in float64
    and registered as buffers.
    """

    def __init__(
        self,
        unit_positions: np.ndarray,
        axis: str,
        alpha: float = 1e-5,
        stiffness: float = 4.0,
        n_legendre_terms: int = 50,
    ):
        super().__init__()
        if not alpha >= 0:
            raise ValueError(f"alpha must be non-negative, got {alpha}.")
        if int(n_legendre_terms) < 1:
            raise ValueError(
                f"n_legendre_terms must be at least 1, got {n_legendre_terms}."
            )
        self.axis = axis
        self.alpha = float(alpha)
        self.stiffness = float(stiffness)
        self.n_legendre_terms = int(n_legendre_terms)
        self._coefs = g_coefficients(self.stiffness, self.n_legendre_terms)
        self._derivative_coefs = [
            float(c) for c in np.polynomial.legendre.legder(self._coefs)
        ]
        p = torch.as_tensor(unit_positions, dtype=torch.float64)
        k = torch.as_tensor(cross_product_matrix(axis), dtype=torch.float64)
        n = p.shape[0]
        cos0 = p @ p.T
        c_inv = _bordered_inverse(legendre_series(cos0, self._coefs), self.alpha)
        self.register_buffer("cos0", cos0)
        self.register_buffer("cos_sin", p @ k.T @ p.T)
        self.register_buffer("cos_vers", p @ (k @ k) @ p.T)
        self.register_buffer("legendre0", legendre_table(cos0, self.n_legendre_terms))
        self.register_buffer("weights", c_inv[:n, :n].contiguous())

    @property
    def n_channels(self) -> int:
        """Number of sensors."""
        return self.cos0.shape[0]

    def delta(self, angles_rad: Tensor) -> Tensor:
        """``W(theta) - I`` for each angle.

        Parameters
        ----------
        angles_rad : Tensor, shape (n_windows,)
            Rotation angles in radians.

        Returns
        -------
        delta : Tensor, shape (n_windows, n_channels, n_channels)
            In the promoted dtype of ``angles_rad`` and the buffers (float64 unless
            the module was cast), on ``angles_rad``'s device.
        """
        dtype = torch.promote_types(angles_rad.dtype, self.cos0.dtype)
        device = angles_rad.device
        theta = angles_rad.to(dtype)[:, None, None]
        cos0, cos_sin, cos_vers, p0, weights = (
            t.to(device=device, dtype=dtype)
            for t in (
                self.cos0,
                self.cos_sin,
                self.cos_vers,
                self.legendre0,
                self.weights,
            )
        )
        # 2 sin^2(theta / 2) rather than 1 - cos(theta): no cancellation near 0.
        h = torch.sin(theta) * cos_sin + (2 * torch.sin(theta / 2) ** 2) * cos_vers
        dg = _GDifference.apply(h, cos0, p0, self._coefs, self._derivative_coefs)
        return torch.matmul(dg, weights)

    def matrix(self, angles_rad: Tensor) -> Tensor:
        """Interpolation matrices ``W(theta)``, shape (n_windows, n, n)."""
        delta = self.delta(angles_rad)
        eye = torch.eye(self.n_channels, dtype=delta.dtype, device=delta.device)
        return eye + delta

    def forward(self, X: Tensor, angles_rad: Tensor) -> Tensor:
        """Interpolate ``X`` onto the sensors rotated by ``angles_rad``.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Signals at the original sensors.
        angles_rad : Tensor, shape (n_windows,)
            Rotation angle of each window, in radians.

        Returns
        -------
        X_rot : Tensor, shape (n_windows, n_channels, n_times)
            ``W(theta) X``, computed as ``X + (W - I) X`` so that a zero angle
            returns ``X`` exactly.
        """
        delta = self.delta(angles_rad).to(X.dtype)
        return X + torch.einsum("bij,bjt->bit", delta, X)
