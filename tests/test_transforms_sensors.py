"""Tests of the differentiable sensor transforms (augsleep.transforms.sensors)."""

import math
import warnings

import numpy as np
import pytest
import torch

from augsleep.channels import standard_positions
from augsleep.transforms import TRANSFORMS, make_transform
from augsleep.transforms._spherical_spline import (
    RotationInterpolator,
    calc_g,
    legendre_table,
    make_interpolation_matrix,
    normalize_positions,
    rotation_matrix,
)
from augsleep.transforms.sensors import (
    ChannelsDropout,
    ChannelsShuffle,
    ChannelsSymmetry,
    SensorsRotation,
    SensorsXRotation,
    SensorsYRotation,
    SensorsZRotation,
    SignFlip,
)

NAMES = ["C3", "C4", "F3", "F4", "O1", "O2"]
POS = standard_positions(NAMES)
N_CH = len(NAMES)

BUILDERS = {
    "sign_flip": lambda **kw: SignFlip(**kw),
    "channels_symmetry": lambda **kw: ChannelsSymmetry(ch_names=NAMES, **kw),
    "channels_shuffle": lambda **kw: ChannelsShuffle(**kw),
    "channels_dropout": lambda **kw: ChannelsDropout(**kw),
    "sensors_rotation_x": lambda **kw: SensorsXRotation(positions=POS, **kw),
    "sensors_rotation_y": lambda **kw: SensorsYRotation(positions=POS, **kw),
    "sensors_rotation_z": lambda **kw: SensorsZRotation(positions=POS, **kw),
}
ALL = list(BUILDERS)
ROTATIONS = [n for n in ALL if n.startswith("sensors_rotation")]


def _batch(n_windows=8, n_times=64, dtype=torch.float32, seed=0, n_channels=N_CH):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n_windows, n_channels, n_times, generator=g, dtype=dtype)


def _gen(seed=1):
    return torch.Generator().manual_seed(seed)


def _mu(value, dtype=torch.float32, device="cpu"):
    """A 0-d magnitude tensor that collects its gradient."""
    return torch.tensor(value, dtype=dtype, device=device, requires_grad=True)


def _spread_part(name, params):
    # ChannelsShuffle stacks (gates, permutation keys); the gates carry mu.
    return params[..., 0] if name == "channels_shuffle" else params


# ------------------------------------------------------------------ generic ---


def test_registry_names():
    for name in ALL:
        assert name in TRANSFORMS
        assert TRANSFORMS[name].name == name
    assert TRANSFORMS["channels_shuffle"].straight_through
    assert not any(TRANSFORMS[n].straight_through for n in ALL if "shuffle" not in n)
    t = make_transform("sensors_rotation_y", positions=POS, ch_names=NAMES)
    assert isinstance(t, SensorsYRotation) and t.axis == "y"
    assert t.parameter_bounds(0.3) == pytest.approx((-9.0, 9.0))
    assert t.physical_value(0.3) == pytest.approx(9.0)
    np.testing.assert_array_equal(t.positions, POS)
    t = make_transform("channels_symmetry", ch_names=NAMES, positions=POS)
    assert isinstance(t, ChannelsSymmetry) and t.ch_names == NAMES
    # Only the probability-valued operations have no magnitude of their own.
    without = {n for n, cls in TRANSFORMS.items() if not cls.has_magnitude}
    assert without == {"time_reverse", "sign_flip", "channels_symmetry"}


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_mu_zero_is_identity(name, dtype):
    t = BUILDERS[name]().to(dtype)
    X = _batch(dtype=dtype)
    assert torch.equal(t(X, 0.0, _gen()), X)
    assert torch.equal(t(X, _mu(0.0, dtype), _gen()), X)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shape_dtype_kept(name, dtype):
    X = _batch(dtype=dtype)
    out = BUILDERS[name]()(X, 0.7, _gen())
    assert out.shape == X.shape and out.dtype == dtype and out.device == X.device
    assert torch.isfinite(out).all()
    assert not torch.equal(out, X)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cuda(name, dtype):
    t_cpu = BUILDERS[name]().to(dtype)
    t = BUILDERS[name]().to(device="cuda", dtype=dtype)
    X = _batch(dtype=dtype)
    mu = _mu(0.6, dtype, "cuda")
    # A CPU generator draws the same noise for both devices.
    out = t(X.cuda(), mu, _gen())
    assert out.device.type == "cuda" and out.dtype == dtype and out.shape == X.shape
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    torch.testing.assert_close(out.cpu(), t_cpu(X, 0.6, _gen()), rtol=tol, atol=tol)
    (out * torch.ones_like(out)).sum().backward()
    assert torch.isfinite(mu.grad)


@pytest.mark.parametrize("name", ALL)
def test_gradient_finite_nonzero(name):
    t = BUILDERS[name]()
    X = _batch(n_windows=16)
    W = torch.randn(X.shape, generator=_gen(5))
    mu = _mu(0.5)
    (t(X, mu, _gen()) * W).sum().backward()
    grad = mu.grad
    assert grad is not None and torch.isfinite(grad) and grad != 0


@pytest.mark.parametrize("name", [n for n in ALL if n != "channels_shuffle"])
def test_gradient_matches_finite_difference(name):
    t = BUILDERS[name]().double()
    X = _batch(n_windows=6, dtype=torch.float64)
    W = torch.randn(X.shape, generator=_gen(5), dtype=torch.float64)

    def loss(mu):
        return (t(X, mu, _gen(3)) * W).sum()

    mu = _mu(0.5, torch.float64)
    loss(mu).backward()
    grad = mu.grad.item()
    eps = 1e-6
    with torch.no_grad():
        fd = (loss(0.5 + eps) - loss(0.5 - eps)).item() / (2 * eps)
    assert grad == pytest.approx(fd, rel=1e-5, abs=1e-8)
    assert abs(grad) > 1e-6


@pytest.mark.parametrize("name", ALL)
def test_parameters_in_bounds_and_spread_grows(name):
    X = _batch(n_windows=2000, n_times=4)
    stds = {}
    t = BUILDERS[name]()
    for mu in (0.1, 0.5):
        params = t.sample_parameters(X, mu, _gen()).detach()
        assert params.shape[0] == X.shape[0]
        low, high = t.parameter_bounds(mu)
        assert params.min() >= low and params.max() <= high
        stds[mu] = _spread_part(name, params).std().item()
    assert stds[0.5] > stds[0.1] * 1.2


@pytest.mark.parametrize("name", ALL)
def test_seeded_reproducible(name):
    t = BUILDERS[name]()
    X = _batch()
    assert torch.equal(t(X, 0.6, _gen(7)), t(X, 0.6, _gen(7)))
    assert not torch.equal(t(X, 0.6, _gen(7)), t(X, 0.6, _gen(8)))
    # A float magnitude and a tensor magnitude draw the same values.
    assert torch.equal(t(X, 0.6, _gen(7)), t(X, _mu(0.6), _gen(7)))


@pytest.mark.parametrize("name", ALL)
def test_apply_is_deterministic_given_params(name):
    t = BUILDERS[name]()
    X = _batch()
    params = t.sample_parameters(X, 0.6, _gen())
    assert torch.equal(t.apply(X, params), t.apply(X, params))


@pytest.mark.parametrize("name", ALL)
def test_backward_to_input_and_mu(name):
    # braindecode 1.8's sensors_rotation fails in backward on an in-place op.
    t = BUILDERS[name]()
    X = _batch().requires_grad_(True)
    mu = _mu(0.4)
    out = t(X, mu, _gen())
    (out**2).sum().backward()
    assert X.grad is not None and torch.isfinite(X.grad).all()
    assert torch.isfinite(mu.grad)


# ---------------------------------------------------------------- sign flip ---


def test_sign_flip_gate_one_negates():
    X = _batch()
    out = SignFlip().apply(X, torch.ones(X.shape[0]))
    assert torch.equal(out, -X)
    gates = torch.tensor([1.0, 0.0] * 4)
    out = SignFlip().apply(X, gates)
    assert torch.equal(out[1::2], X[1::2]) and torch.equal(out[::2], -X[::2])


def test_sign_flip_frequency_matches_probability():
    X = _batch(n_windows=4000, n_times=2)
    gates = SignFlip(temperature=0.01).sample_parameters(X, 0.3, _gen())
    assert (gates > 0.5).float().mean().item() == pytest.approx(0.3, abs=0.03)


# --------------------------------------------------------- channels symmetry ---


def test_symmetry_gate_one_swaps_homologues():
    X = _batch()
    out = ChannelsSymmetry(ch_names=NAMES).apply(X, torch.ones(X.shape[0]))
    for a, b in [(0, 1), (2, 3), (4, 5)]:
        assert torch.equal(out[:, b], X[:, a])  # C3's data lands in C4's slot
        assert torch.equal(out[:, a], X[:, b])


def test_symmetry_edf_names_midline_stays():
    names = ["EEG Fpz-Cz", "EEG C3-A2", "EEG Cz-LER", "EEG C4-A1", "EOG ROC-A1"]
    X = _batch(n_channels=len(names))
    t = ChannelsSymmetry(ch_names=names)
    out = t.apply(X, torch.ones(X.shape[0]))
    assert torch.equal(out[:, [0, 2, 4]], X[:, [0, 2, 4]])
    assert torch.equal(out[:, 1], X[:, 3]) and torch.equal(out[:, 3], X[:, 1])


def test_symmetry_errors():
    with pytest.raises(ValueError, match="ch_names"):
        ChannelsSymmetry()
    with pytest.raises(ValueError, match="ch_names"):
        make_transform("channels_symmetry")
    with pytest.raises(ValueError, match="at least 2 channels"):
        ChannelsSymmetry(ch_names=["C3"])
    with pytest.raises(ValueError, match="No left/right homologous pair"):
        ChannelsSymmetry(ch_names=["EEG Fpz-Cz", "EEG Pz-Oz", "C3"])
    with pytest.raises(ValueError, match="Ambiguous"):
        ChannelsSymmetry(ch_names=["EEG C3-A2", "EEG C3-CLE", "EEG C4-A1"])
    t = ChannelsSymmetry(ch_names=NAMES)
    with pytest.raises(ValueError, match="6 channels.*received data with 5 channels"):
        t(_batch(n_channels=5), 0.5, _gen())


# ---------------------------------------------------------- channels shuffle ---


def _source_indices(X, out):
    """For each output channel, the input channel it equals (exact match)."""
    eq = (out[:, :, None, :] == X[:, None, :, :]).all(-1)  # (b, i, j)
    assert (eq.sum(-1) == 1).all(), "each output channel must copy one input channel"
    return eq.float().argmax(-1)


def test_shuffle_forward_is_exact_permutation():
    t = ChannelsShuffle()
    X = _batch(n_windows=64)
    params = t.sample_parameters(X, 0.5, _gen())
    out = t.apply(X, params)
    src = _source_indices(X, out)
    ar = torch.arange(N_CH)
    assert torch.equal(src.sort(-1).values, ar.expand_as(src))  # a permutation
    selected = params[..., 0] > 0.5
    assert torch.equal(src[~selected], ar.expand_as(src)[~selected])  # fixed
    assert torch.equal(selected.gather(1, src), selected)  # moves within selection
    assert (src != ar).any()
    # mu = 1: every channel selected; shuffles most windows.
    out1 = ChannelsShuffle()(X, 1.0, _gen())
    assert (_source_indices(X, out1) != ar).any(-1).float().mean() > 0.8


def test_shuffle_straight_through_gradient():
    T, mu, max_value = 0.1, 0.5, 0.8
    t = ChannelsShuffle(max_value=max_value, temperature=T)
    X = _batch(n_windows=32).requires_grad_(True)
    W = torch.randn(X.shape, generator=_gen(5))
    magnitude = _mu(mu)
    out = t(X, magnitude, _gen())
    (out * W).sum().backward()
    g = t.sample_parameters(X, mu, _gen())[..., 0].detach()
    p = mu * max_value
    dg_dmu = max_value * g * (1 - g) / (T * p * (1 - p))
    expected = (W * (out - X).detach() * dg_dmu[:, :, None]).sum()
    torch.testing.assert_close(magnitude.grad, expected, rtol=1e-4, atol=1e-4)
    # Gradient wrt X is the exact one of the permutation: dL/dX[src[i]] = W[i].
    src = _source_indices(X.detach(), out.detach())
    assert torch.equal(X.grad.gather(1, src[:, :, None].expand_as(X)), W)


def test_shuffle_without_gradient_is_the_same_shuffle():
    # Without autograd (inference) the surrogate of the gradient is skipped;
    # the values must be those of the differentiable forward pass.
    t = ChannelsShuffle()
    X = _batch(n_windows=16)
    with_grad = t(X, _mu(0.5), _gen())
    with torch.no_grad():
        without = t(X, _mu(0.5), _gen())
    assert with_grad.requires_grad and not without.requires_grad
    assert torch.equal(with_grad.detach(), without)


# ---------------------------------------------------------- channels dropout ---


def test_dropout_mu_one_drops_nearly_all():
    X = _batch(n_windows=200)
    out = ChannelsDropout(temperature=0.01)(X, 1.0, _gen())
    dropped = out.abs().amax(-1) <= 1e-3 * X.abs().amax(-1)
    assert dropped.float().mean() > 0.97


def test_dropout_gate_semantics():
    X = _batch()
    params = torch.zeros(X.shape[:2])
    params[:, 2] = 1.0
    out = ChannelsDropout().apply(X, params)
    assert (out[:, 2] == 0).all()
    keep = [0, 1, 3, 4, 5]
    assert torch.equal(out[:, keep], X[:, keep])
    rate = ChannelsDropout(temperature=0.01).sample_parameters(
        _batch(n_windows=2000, n_times=2), 0.3, _gen()
    )
    assert (rate > 0.5).float().mean().item() == pytest.approx(0.3, abs=0.02)


# ------------------------------------------------------------- rotations ---


def test_rotation_zero_angle_exact_identity_and_mne_offset():
    t = SensorsZRotation(positions=POS)
    X = _batch()
    assert torch.equal(t.apply(X, torch.zeros(X.shape[0])), X)
    W = t.interpolator.matrix(torch.zeros(3, dtype=torch.float64))
    assert torch.equal(W, torch.eye(N_CH, dtype=torch.float64).expand(3, -1, -1))


@pytest.mark.parametrize("axis", ["x", "y", "z"])
def test_rotation_matches_mne_spline_anchored(axis):
    mne_interp = pytest.importorskip("mne.channels.interpolation")
    unit = normalize_positions(POS)
    angles = np.deg2rad([0.0, 3.0, -17.0, 30.0])
    W = SensorsRotation(positions=POS, axis=axis).interpolator.matrix(
        torch.tensor(angles)
    )
    M0 = mne_interp._make_interpolation_matrix(unit, unit)
    for w, a in zip(W, angles, strict=True):
        rotated = unit @ rotation_matrix(axis, a).T
        ref = np.eye(N_CH) + mne_interp._make_interpolation_matrix(unit, rotated) - M0
        np.testing.assert_allclose(w.numpy(), ref, atol=1e-9)
    # Rows sum to one: a constant field stays constant.
    torch.testing.assert_close(W.sum(-1), torch.ones(len(angles), N_CH).double())


def test_torch_reference_matrix_matches_mne():
    mne_interp = pytest.importorskip("mne.channels.interpolation")
    unit = normalize_positions(POS)
    rotated = unit @ rotation_matrix("x", 0.2).T
    ours = make_interpolation_matrix(torch.tensor(unit), torch.tensor(rotated))
    ref = mne_interp._make_interpolation_matrix(unit, rotated)
    np.testing.assert_allclose(ours.numpy(), ref, atol=1e-9)


@pytest.mark.parametrize("axis", ["z", "x", "y"])
def test_rotation_small_angle_moves_smooth_field(axis):
    # A dipole-like linear field f(q) = a . q sampled at the unit positions; the
    # output must be close to f at the rotated positions (the opposite rotation
    # gives a relative error near 2, the right one about 0.02 to 0.06).
    unit = torch.tensor(normalize_positions(POS))
    a = torch.tensor([1.0, 0.4, -0.3], dtype=torch.float64)
    t = SensorsRotation(positions=POS, axis=axis).double()
    time_course = torch.linspace(-1, 1, 16, dtype=torch.float64)
    X = ((unit @ a)[:, None] * time_course)[None].repeat(2, 1, 1)
    angle = 5.0
    out = t.apply(X, torch.tensor([angle, -angle], dtype=torch.float64))
    for k, sign in enumerate((1, -1)):
        rot = torch.tensor(rotation_matrix(axis, sign * math.radians(angle)))
        target = ((unit @ rot.T) @ a)[:, None] * time_course
        err = (out[k] - target).abs().max()
        moved = (X[k] - target).abs().max()
        assert err < 0.15 * moved, (err, moved)


def test_rotation_float32_matches_float64():
    X = _batch(dtype=torch.float64)
    t = SensorsYRotation(positions=POS)
    angles = torch.tensor([0.0, 1e-3, 0.5, -3.0, 12.0, 27.0, -30.0, 8.0])
    out32 = t.apply(X.float(), angles)
    out64 = t.double().apply(X, angles.double())
    torch.testing.assert_close(out32.double(), out64, rtol=1e-5, atol=1e-5)


def test_rotation_interpolator_gradcheck():
    interp = RotationInterpolator(normalize_positions(POS), "x")
    angles = torch.tensor([0.0, 0.2, -0.5], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(interp.matrix, (angles,), fast_mode=True)
    assert torch.autograd.gradgradcheck(interp.matrix, (angles,), fast_mode=True)


def test_g_difference_recurrence_matches_direct():
    unit = torch.tensor(normalize_positions(POS))
    cos0 = unit @ unit.T
    table = legendre_table(cos0, 50)
    x = torch.tensor([0.3, -0.7])
    ref = torch.stack([torch.special.legendre_polynomial_p(x, k) for k in range(6)])
    torch.testing.assert_close(legendre_table(x, 5), ref)
    assert table.shape == (51, N_CH, N_CH)
    interp = RotationInterpolator(unit.numpy(), "z")
    theta = torch.tensor([0.4], dtype=torch.float64)
    rot = torch.tensor(rotation_matrix("z", 0.4))
    direct = calc_g((unit @ rot.T) @ unit.T) - calc_g(cos0)
    torch.testing.assert_close(
        interp.delta_exact(theta)[0], direct @ interp.weights, rtol=1e-9, atol=1e-12
    )


POS_19 = standard_positions(
    "Fp1 Fp2 F7 F3 Fz F4 F8 T7 C3 Cz C4 T8 P7 P3 Pz P4 P8 O1 O2".split()
)


def _per_angle_derivative(fn, angles):
    """``d fn(angles)[b] / d angles[b]`` (forward mode), shape (n_windows, n, n)."""
    with warnings.catch_warnings():
        # torch's forward-AD decompositions call the deprecated torch.jit.script.
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.func.jvp(fn, (angles,), (torch.ones_like(angles),))[1]


@pytest.mark.parametrize("axis", ["x", "y", "z"])
@pytest.mark.parametrize("positions", [POS, POS_19], ids=["6ch", "19ch"])
def test_rotation_table_matches_exact_recurrence(axis, positions):
    # The cubic Hermite table (default 0.2 degree grid) against the exact
    # recurrence, over random angles of the +-30 degree range: measured max errors
    # ~8e-12 (6 sensors) and ~4e-11 (19) for W, 7e-9 and 3e-8 for dW/dtheta.
    t = SensorsRotation(positions=positions, axis=axis)
    interp = t.interpolator
    max_angle = math.radians(t.max_value)
    theta = (
        torch.rand(500, generator=_gen(2), dtype=torch.float64) * 2 - 1
    ) * max_angle
    theta = torch.cat([theta, torch.tensor([max_angle, -max_angle, 1e-9, -1e-9])])
    exact = interp.delta_exact(theta)
    torch.testing.assert_close(interp.delta(theta), exact, rtol=0, atol=1e-10)
    # dW/dtheta: the closed form used to build the table matches autograd through
    # the exact recurrence, and the interpolant's derivative matches the closed form.
    _, slope_exact = interp._exact_values_and_derivatives(theta)
    weights = torch.randn(exact[:5].shape, generator=_gen(4), dtype=torch.float64)
    angles = theta[:5].clone().requires_grad_(True)
    (grad,) = torch.autograd.grad((interp.delta_exact(angles) * weights).sum(), angles)
    torch.testing.assert_close(
        grad, (slope_exact[:5] * weights).sum((1, 2)), rtol=1e-10, atol=1e-12
    )
    slope = _per_angle_derivative(interp.delta, theta)
    torch.testing.assert_close(slope, slope_exact, rtol=0, atol=1e-7)
    # Rows sum to one (rows of W - I to zero) everywhere, not only at the nodes.
    torch.testing.assert_close(
        interp.delta(theta).sum(-1),
        torch.zeros(len(theta), positions.shape[0]).double(),
        rtol=0,
        atol=1e-12,
    )


def test_rotation_table_nodes_exact_and_c1():
    interp = SensorsZRotation(positions=POS).interpolator
    step = interp._step
    assert step <= math.radians(0.2) + 1e-15
    # At a node the Hermite basis is (1, 0, 0, 0): an angle that lands on a grid
    # position (theta / step integer) gets the tabulated value exactly, the others
    # within rounding; the node at 0 is exactly 0 (W(0) = I).
    k = torch.arange(-interp._n_half - 1, interp._n_half + 2, dtype=torch.float64)
    nodes = k * step
    on_grid = nodes / step == k
    assert on_grid.float().mean() > 0.5
    assert torch.equal(interp.delta(nodes[on_grid]), interp.table[on_grid, 0])
    torch.testing.assert_close(
        interp.delta(nodes), interp.table[:, 0], rtol=0, atol=1e-15
    )
    assert torch.equal(
        interp.table[interp._n_half + 1, 0], torch.zeros(N_CH, N_CH).double()
    )
    assert torch.equal(
        interp.delta(torch.zeros(4)), torch.zeros(4, N_CH, N_CH).double()
    )
    # C1: the derivative just left and right of a node agrees (continuous gradient).
    node = nodes[interp._n_half + 7].item()
    around = torch.tensor([node - 1e-12, node, node + 1e-12], dtype=torch.float64)
    slope = _per_angle_derivative(interp.delta, around)
    torch.testing.assert_close(slope[0], slope[1], rtol=0, atol=1e-8)
    torch.testing.assert_close(slope[2], slope[1], rtol=0, atol=1e-8)
    # The tabulated derivative is the exact one.
    exact = interp._exact_values_and_derivatives(around[1:2])[1][0]
    torch.testing.assert_close(slope[1], exact, rtol=0, atol=1e-10)


def test_rotation_table_range():
    t = SensorsZRotation(positions=POS, max_value=20.0)
    interp = t.interpolator
    assert interp.max_angle == pytest.approx(math.radians(20.0))
    X = _batch(n_windows=3)
    # The edge of the range in float32 (rounding may overshoot it) is covered.
    edge = torch.tensor([20.0, -20.0, 0.0])
    assert torch.isfinite(t.apply(X, edge)).all()
    # Beyond the table (max_angle + one grid step): a clear error, never
    # extrapolation; non-finite angles too.
    for bad in (21.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="lookup table range"):
            t.apply(X, torch.tensor([0.0, bad, 1.0]))
    with pytest.raises(ValueError, match="lookup table range"):
        interp.matrix(torch.tensor([interp.table_bound * 1.001], dtype=torch.float64))
    # Changing max_value after construction rebuilds the table at the next call.
    t.max_value = 40.0
    angles = torch.tensor([35.0, -39.0, 40.0], dtype=torch.float64)
    out = t.double().apply(X.double(), angles)
    assert interp.max_angle == pytest.approx(math.radians(40.0))
    delta = interp.delta_exact(angles * (math.pi / 180))
    ref = X.double() + torch.einsum("bij,bjt->bit", delta, X.double())
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-9)
    # Sampled angles always fit the table.
    t.max_value = 10.0
    assert torch.isfinite(t(_batch(n_windows=64), 1.0, _gen())).all()
    assert interp.max_angle == pytest.approx(math.radians(10.0))


def test_rotation_errors():
    with pytest.raises(ValueError, match="requires positions"):
        SensorsZRotation()
    with pytest.raises(ValueError, match="requires positions"):
        make_transform("sensors_rotation_x", ch_names=NAMES)
    with pytest.raises(ValueError, match="at least 2 channels"):
        SensorsZRotation(positions=POS[:1])
    with pytest.raises(ValueError, match=r"shape \(n_channels, 3\)"):
        SensorsZRotation(positions=POS[:, :2])
    with pytest.raises(ValueError, match="axis"):
        SensorsRotation(positions=POS, axis="w")
    t = SensorsXRotation(positions=POS)
    with pytest.raises(ValueError, match="6 channels.*received data with 7 channels"):
        t(_batch(n_channels=7), 0.5, _gen())
