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


#: Default spacing of the angle grid of :class:`RotationInterpolator`, in radians
#: (0.2 degree, 303 nodes for +-30 degrees). Cubic Hermite interpolation errs by
#: ``O(step^4)``; measured max absolute error of ``W`` against the exact recurrence
#: over +-30 degrees: 1e-9 at 0.5 degree, 1e-10 at 0.25, 4e-11 at 0.2 (8e-12 for
#: six 10-20 sensors), 2.5e-12 at 0.1 (6, 19 and 64 sensors, x/y/z axes); see
#: ``tests/test_transforms_sensors.py``.
DEFAULT_TABLE_STEP = math.pi / 900


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
    max_angle : float
        Largest absolute angle, in radians, that the lookup table must cover
        (default ``pi``, every rotation). ``SensorsRotation`` passes its
        ``max_value`` converted to radians.
    table_step : float
        Target spacing of the angle grid, in radians (default 0.2 degree, see
        :data:`DEFAULT_TABLE_STEP`); the actual step divides ``max_angle`` evenly.

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
    the residual the spline does not fit in place. Rows of ``W`` sum to 1 (constant
    fields stay constant), and ``W = M`` up to the ridge when ``alpha -> 0``.

    **Exact evaluation** (:meth:`delta_exact`, the reference): the difference
    ``g(A0 + h) - g(A0)`` is computed by a ``K``-step recurrence that is exactly 0
    for ``h = 0``, and its derivative ``g'`` by a ``K``-term Legendre series in
    backward. Each step is a handful of operations on tiny
    ``(n_windows, n_channels, n_channels)`` tensors, so the cost is ~``10 K``
    operator calls per forward and backward, dominated by per-call overhead.

    **Lookup table** (:meth:`delta`, used by :meth:`forward`): ``W(theta) - I``
    depends only on the scalar angle (the positions, axis and spline are fixed),
    so it is tabulated once, in float64, with its exact derivative
    ``dW/dtheta = (g'(P R^T P^T) * (cos(theta) A1 + sin(theta) A2)) C^-1[:n, :n]``
    on the uniform grid ``theta_k = k * step``, ``|k| <= N + 1`` with
    ``N * step = max_angle`` (one extra cell on each side absorbs the rounding of
    angles at the edge of the range, e.g. ``max_value`` degrees converted to
    radians in float32). An angle in cell ``[theta_k, theta_k+1]`` at fraction
    ``u`` is evaluated by cubic Hermite interpolation::

        W - I = h00(u) V_k + h10(u) step D_k + h01(u) V_k+1 + h11(u) step D_k+1,

    with ``V``/``D`` the tabulated values/derivatives and ``h01(u) = u^2 (3 - 2u)``,
    ``h00 = 1 - h01``, ``h10 = u (1 - u)^2``, ``h11 = u^2 (u - 1)``. That is one
    gather and ~15 operator calls batched over windows whatever ``K``, and
    autograd differentiates the cubic (twice, too). Properties:

    * the interpolant is C1 in ``theta`` (values and derivatives match at the
      nodes), so the gradient with respect to the angle is continuous, and its
      error is ``O(step^4)`` in value and ``O(step^3)`` in derivative: at the
      default 0.2 degree step, below 1e-11 for six 10-20 sensors and 5e-11 for
      19 or 64 (absolute; entries of ``W - I`` are up to ~1 at 30 degrees), and
      below 1e-8 and 4e-8 for ``dW/dtheta`` (entries up to ~2.5);
    * at a node (``u = 0``) the Hermite basis is exactly ``(1, 0, 0, 0)``, so an
      angle that lands on the grid gets the tabulated value exactly; ``theta = 0``
      always lands on the node at 0, whose value is set to exactly 0, so ``W(0)``
      is exactly the identity (in any dtype);
    * every tabulated matrix has rows summing to 0 (up to rounding), hence so does
      any combination of them;
    * the table holds ``2 (2 N + 3) n^2`` numbers: 170 KB in float64 for six
      sensors over +-30 degrees at the default step, 20 MB for 64 sensors;
    * angles beyond the table (``|theta| > (N + 1) step``) or not finite raise a
      ``ValueError`` (never extrapolated). This check reads one boolean back from
      the device. :meth:`set_max_angle` rebuilds the table for another range.

    Everything that does not depend on the angle (``A0``, ``A1``, ``A2``, the
    Legendre polynomials at ``A0`` and ``C^-1[:n, :n]``) is computed once in float64
    and registered as buffers; the table is a non-persistent buffer (rebuilt at
    construction, not saved in state dicts), cast with the module like the others.
    """

    def __init__(
        self,
        unit_positions: np.ndarray,
        axis: str,
        alpha: float = 1e-5,
        stiffness: float = 4.0,
        n_legendre_terms: int = 50,
        max_angle: float = math.pi,
        table_step: float = DEFAULT_TABLE_STEP,
    ):
        super().__init__()
        if not alpha >= 0:
            raise ValueError(f"alpha must be non-negative, got {alpha}.")
        if int(n_legendre_terms) < 1:
            raise ValueError(
                f"n_legendre_terms must be at least 1, got {n_legendre_terms}."
            )
        if not 0 < table_step < math.inf:
            raise ValueError(f"table_step must be positive, got {table_step}.")
        self.axis = axis
        self.alpha = float(alpha)
        self.stiffness = float(stiffness)
        self.n_legendre_terms = int(n_legendre_terms)
        self.table_step = float(table_step)
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
        self.register_buffer("table", torch.empty(0), persistent=False)
        self.set_max_angle(max_angle)

    @property
    def n_channels(self) -> int:
        """Number of sensors."""
        return self.cos0.shape[0]

    @property
    def table_bound(self) -> float:
        """Largest absolute angle (radians) the table covers: ``max_angle + step``."""
        return (self._n_half + 1) * self._step

    def set_max_angle(self, max_angle: float) -> None:
        """(Re)build the lookup table for angles in ``[-max_angle, max_angle]``.

        Parameters
        ----------
        max_angle : float
            Largest absolute angle in radians (positive, finite).

        Notes
        -----
        The grid has ``N = ceil(max_angle / table_step)`` cells on each side of 0
        plus one cell of slack, i.e. ``2 N + 3`` nodes. Values and derivatives are
        computed in float64 from float64 copies of the buffers, then stored with
        the buffers' dtype and device. Costs ``2 N + 3`` exact evaluations, batched.
        """
        max_angle = float(max_angle)
        if not 0 < max_angle < math.inf:
            raise ValueError(f"max_angle must be positive and finite, got {max_angle}.")
        n_half = math.ceil(max_angle / self.table_step - 1e-9)
        step = max_angle / n_half
        nodes = torch.arange(-(n_half + 1), n_half + 2, dtype=torch.float64) * step
        values, derivatives = self._exact_values_and_derivatives(nodes)
        # The node at 0 is exactly 0 by construction (the recurrence gives 0 too).
        values[n_half + 1] = 0.0
        table = torch.stack([values, step * derivatives], dim=1)
        self.max_angle = max_angle
        self._n_half = n_half
        self._step = step
        self.table = table.to(device=self.cos0.device, dtype=self.cos0.dtype)

    def _exact_values_and_derivatives(self, angles_rad: Tensor):
        """Exact ``W(theta) - I`` and ``dW/dtheta`` in float64 (no autograd)."""
        with torch.no_grad():
            cos0, cos_sin, cos_vers, p0, weights = (
                t.detach().to(device="cpu", dtype=torch.float64)
                for t in (
                    self.cos0,
                    self.cos_sin,
                    self.cos_vers,
                    self.legendre0,
                    self.weights,
                )
            )
            theta = angles_rad.to(torch.float64)[:, None, None]
            sin, cos = torch.sin(theta), torch.cos(theta)
            h = sin * cos_sin + (2 * torch.sin(theta / 2) ** 2) * cos_vers
            dg = _g_difference_forward(h, cos0, p0, self._coefs)
            slope = legendre_series(cos0 + h, self._derivative_coefs)
            dh = cos * cos_sin + sin * cos_vers
            return dg @ weights, (slope * dh) @ weights

    def delta_exact(self, angles_rad: Tensor) -> Tensor:
        """``W(theta) - I`` by the exact Legendre recurrence (reference).

        Differentiable (twice) in ``angles_rad``, any angle; ~``10 K`` operator
        calls per forward and backward. :meth:`delta` is the fast table version.

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

    def delta(self, angles_rad: Tensor) -> Tensor:
        """``W(theta) - I`` for each angle, by cubic Hermite interpolation of the table.

        Parameters
        ----------
        angles_rad : Tensor, shape (n_windows,)
            Rotation angles in radians, ``|theta| <= table_bound``.

        Returns
        -------
        delta : Tensor, shape (n_windows, n_channels, n_channels)
            In the promoted dtype of ``angles_rad`` and the buffers (float64 unless
            the module was cast), on ``angles_rad``'s device. Exactly 0 for a zero
            angle; differentiable (twice) in ``angles_rad``.

        Raises
        ------
        ValueError
            If an angle is not finite or lies outside the table
            (``|theta| > table_bound``); angles are never extrapolated.
        """
        bound = self.table_bound
        if not torch.compiler.is_compiling() and not bool(
            (angles_rad.detach().abs() <= bound).all()
        ):
            bad = angles_rad.detach()
            bad = bad[~(bad.abs() <= bound)]
            raise ValueError(
                f"rotation angles must be finite and within +-{bound:.6g} rad (the "
                f"lookup table range, max_angle={self.max_angle:.6g} plus one step); "
                f"got {bad.tolist()[:5]}. Rebuild the table with set_max_angle."
            )
        dtype = torch.promote_types(angles_rad.dtype, self.table.dtype)
        table = self.table.to(device=angles_rad.device, dtype=dtype)
        n_cells = table.shape[0] - 1
        # Position on the grid: node j sits at (j - N - 1) * step, node N + 1 at 0.
        t = angles_rad.to(dtype) / self._step + (self._n_half + 1)
        index = t.detach().floor().clamp_(0, n_cells - 1).long()
        u = (t - index.to(dtype))[:, None]
        # (n_windows, 2 nodes, 2 [value, step * derivative], n, n) -> 4 rows.
        corners = table[torch.stack([index, index + 1], 1)].flatten(1, 2)
        h01 = u * u * (3 - 2 * u)
        one_minus_u = 1 - u
        basis = torch.cat(
            [1 - h01, u * one_minus_u * one_minus_u, h01, -u * u * one_minus_u], 1
        )
        n = table.shape[-1]
        return torch.bmm(basis[:, None, :], corners.flatten(2)).view(-1, n, n)

    def matrix(self, angles_rad: Tensor) -> Tensor:
        """Interpolation matrices ``W(theta)``, shape (n_windows, n, n)."""
        delta = self.delta(angles_rad)
        eye = torch.eye(self.n_channels, dtype=delta.dtype, device=delta.device)
        return eye + delta

    def forward(
        self, X: Tensor, angles_rad: Tensor, out: Tensor | None = None
    ) -> Tensor:
        """Interpolate ``X`` onto the sensors rotated by ``angles_rad``.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Signals at the original sensors.
        angles_rad : Tensor, shape (n_windows,)
            Rotation angle of each window, in radians (within :attr:`table_bound`).
        out : Tensor | None
            Tensor of ``X``'s shape to write the result into (no autograd), or
            ``None``. It must not overlap ``X``: each output channel reads all
            input channels.

        Returns
        -------
        X_rot : Tensor, shape (n_windows, n_channels, n_times)
            ``W(theta) X``, computed as ``X + (W - I) X`` so that a zero angle
            returns ``X`` exactly.
        """
        delta = self.delta(angles_rad).to(X.dtype)
        return torch.baddbmm(X, delta, X, out=out)  # X + delta @ X in one op
