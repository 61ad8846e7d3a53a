"""Edge cases of all 13 transforms and of AugLayer (issue 15, nothing lost silently).

Half-precision batches (float16, bfloat16), batches of 0 windows, and non-finite
constructor parameters.
"""

import math

import pytest
import torch

from augsleep.augment import AugLayer, Policy, RandAugment
from augsleep.channels import standard_positions
from augsleep.transforms import TRANSFORMS, make_transform

SFREQ = 100.0
CH_NAMES = ["C3", "C4", "F3", "F4", "O1", "O2"]
POSITIONS = standard_positions(CH_NAMES)
ALL = list(TRANSFORMS)
PROBABILITY = [
    "time_reverse",
    "sign_flip",
    "channels_symmetry",
    "channels_shuffle",
    "channels_dropout",
]
ROTATIONS = ["sensors_rotation_x", "sensors_rotation_y", "sensors_rotation_z"]
HALF_DTYPES = [torch.float16, torch.bfloat16]
NON_FINITE = [math.inf, -math.inf, math.nan]


def build(name, **kwargs):
    return make_transform(
        name, sfreq=SFREQ, ch_names=CH_NAMES, positions=POSITIONS, **kwargs
    )


def batch(n_windows=4, n_times=128, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n_windows, len(CH_NAMES), n_times, generator=g)
    return X.to(dtype)


def gen(seed=1):
    return torch.Generator().manual_seed(seed)


def full_layer(mode):
    """A layer holding all 13 transforms (spectral and channel maps fused)."""
    layer = AugLayer([build(name) for name in ALL], initial_magnitudes=0.5)
    return layer.train(mode == "train")


def test_the_registry_has_the_13_transforms():
    assert len(ALL) == 13
    assert set(PROBABILITY) | set(ROTATIONS) <= set(ALL)


# ---------------------------------------------------------- half precision ---

#: Tolerance of a half-precision result against float32 on the same parameters
#: (signals of unit variance; bfloat16 keeps 8 bits of mantissa, float16 11).
HALF_TOLERANCE = {torch.float16: 1e-2, torch.bfloat16: 6e-2}


@pytest.mark.parametrize("dtype", HALF_DTYPES, ids=str)
@pytest.mark.parametrize("name", ALL)
def test_half_precision_batch_is_transformed_in_its_dtype(name, dtype):
    t = build(name)
    X = batch(dtype=dtype)
    X_tr = t(X, 0.5, gen())
    assert X_tr.dtype == dtype
    assert X_tr.shape == X.shape
    assert torch.isfinite(X_tr).all()
    # mu = 0 is still the identity, bit for bit.
    assert torch.equal(t(X, 0.0, gen()), X)
    # Same parameters in float32: the same transform, up to half rounding.
    params = t.sample_parameters(X, 0.5, gen())
    expected = t.apply(X.float(), params.float())
    tol = HALF_TOLERANCE[dtype]
    torch.testing.assert_close(t.apply(X, params).float(), expected, atol=tol, rtol=tol)
    # out= of the input's dtype is written.
    out = torch.empty_like(X)
    assert t.apply(X, params, out=out) is out
    assert torch.equal(out, t.apply(X, params))


@pytest.mark.parametrize("dtype", HALF_DTYPES, ids=str)
@pytest.mark.parametrize("mode", ["train", "eval", "eval-no-grad"])
def test_half_precision_batch_through_a_layer_keeps_its_dtype(mode, dtype):
    layer = full_layer("train" if mode == "train" else "eval")
    X = batch(n_windows=26, dtype=dtype)
    with torch.set_grad_enabled(mode != "eval-no-grad"):
        X_aug = layer(X, gen())
    assert X_aug.dtype == dtype
    assert X_aug.shape == X.shape
    assert torch.isfinite(X_aug).all()
    if mode == "train":
        X_aug.float().square().sum().backward()
        assert torch.isfinite(layer._magnitudes.grad).all()
        assert torch.isfinite(layer._weights.grad).all()
        assert layer._magnitudes.grad.abs().sum() > 0


@pytest.mark.parametrize("dtype", HALF_DTYPES, ids=str)
def test_half_precision_layer_at_zero_magnitude_is_the_identity(dtype):
    layer = AugLayer([build(name) for name in ALL], initial_magnitudes=0.0).train()
    X = batch(dtype=dtype)
    X_aug = layer(X, gen())
    assert X_aug.dtype == dtype
    # sum_q w_q x, with the weights rounded to the batch's dtype.
    tol = HALF_TOLERANCE[dtype]
    torch.testing.assert_close(X_aug, X, atol=tol, rtol=tol)


@pytest.mark.parametrize("dtype", HALF_DTYPES, ids=str)
@pytest.mark.parametrize("name", ["ft_surrogate", "frequency_shift", "bandstop_filter"])
def test_half_precision_spectral_transform_in_a_layer_matches_float32(name, dtype):
    # Two spectral transforms share the spectrum (and the filters one inverse
    # FFT), computed in float32 for a half-precision batch.
    other = "bandstop_filter" if name == "ft_surrogate" else "ft_surrogate"
    layer = AugLayer([build(name), build(other)], initial_magnitudes=0.5).train()
    X = batch(dtype=dtype)
    X_aug = layer(X, gen())
    assert X_aug.dtype == dtype
    g = gen()
    expected = 0
    for w, mu, t in zip(
        layer.weights.detach(), layer.magnitudes.detach(), layer.transforms, strict=True
    ):
        params = t.sample_parameters(X, mu.to(dtype), g)  # the layer's draws
        expected = expected + w * t.apply(X.float(), params.float())
    tol = 2 * HALF_TOLERANCE[dtype]
    torch.testing.assert_close(X_aug.float(), expected, atol=tol, rtol=tol)


# ------------------------------------------------------------ empty batches ---


@pytest.mark.parametrize(
    "dtype", [torch.float32, torch.float64, torch.float16], ids=str
)
@pytest.mark.parametrize("name", ALL)
def test_batch_of_zero_windows_gives_an_empty_batch(name, dtype):
    t = build(name)
    X = batch(n_windows=0, dtype=dtype)
    params = t.sample_parameters(X, 0.5, gen())
    assert params.shape[0] == 0
    X_tr = t.apply(X, params)
    assert X_tr.shape == (0, len(CH_NAMES), 128)
    assert X_tr.dtype == dtype
    out = torch.empty_like(X)
    assert t.apply(X, params, out=out) is out
    assert t(X, 0.5, gen()).shape == X.shape
    assert t(X, 0.0, gen()).shape == X.shape


@pytest.mark.parametrize("name", ["ft_surrogate", "frequency_shift", "bandstop_filter"])
def test_batch_of_zero_windows_keeps_the_gradient_path(name):
    t = build(name)
    X = batch(n_windows=0).requires_grad_()
    mu = torch.tensor(0.5, requires_grad=True)
    X_tr = t(X, mu, gen())
    X_tr.sum().backward()
    assert X.grad.shape == X.shape


@pytest.mark.parametrize("mode", ["train", "eval", "eval-no-grad"])
def test_batch_of_zero_windows_through_a_layer(mode):
    layer = full_layer("train" if mode == "train" else "eval")
    X = batch(n_windows=0)
    with torch.set_grad_enabled(mode != "eval-no-grad"):
        X_aug = layer(X, gen())
    assert X_aug.shape == X.shape
    assert X_aug.dtype == X.dtype
    if mode == "train":
        X_aug.sum().backward()  # a training step on an empty batch still runs


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("name", ALL)
def test_batch_of_zero_windows_through_a_one_transform_layer(name, mode):
    layer = AugLayer([build(name)], initial_magnitudes=0.5).train(mode == "train")
    X = batch(n_windows=0)
    assert layer(X, gen()).shape == X.shape


@pytest.mark.parametrize("n_windows", [0, 8])
@pytest.mark.parametrize("dtype", [torch.float32, *HALF_DTYPES], ids=str)
@pytest.mark.parametrize("kind", ["policy", "randaugment"])
def test_policies_take_empty_and_half_precision_batches(kind, dtype, n_windows):
    operations = [build(name) for name in ALL]
    if kind == "policy":
        augment = Policy(operations, probability=0.9)
    else:
        augment = RandAugment(operations, n_ops=len(ALL))
    X = batch(n_windows=n_windows, dtype=dtype)
    X_aug = augment(X, gen())
    assert X_aug.shape == X.shape
    assert X_aug.dtype == dtype
    assert torch.isfinite(X_aug).all()


# ------------------------------------------- non-finite constructor values ---


@pytest.mark.parametrize("value", NON_FINITE, ids=str)
@pytest.mark.parametrize("name", ALL)
def test_non_finite_max_value_is_refused_naming_the_transform(name, value):
    cls_name = TRANSFORMS[name].__name__
    with pytest.raises(
        ValueError,
        match=rf"^{cls_name}: max_value must be positive and finite, got {value}",
    ):
        build(name, max_value=value)


@pytest.mark.parametrize("value", ["large", None, True, torch.ones(2)], ids=repr)
@pytest.mark.parametrize("name", ["gaussian_noise", "sign_flip", "sensors_rotation_z"])
def test_max_value_that_is_not_a_number_is_refused(name, value):
    cls_name = TRANSFORMS[name].__name__
    if value is None:  # None is the default (Table A.4)
        assert build(name, max_value=None).max_value > 0
        return
    with pytest.raises(ValueError, match=rf"^{cls_name}: max_value must be a number"):
        build(name, max_value=value)


@pytest.mark.parametrize("value", [*NON_FINITE, 0.0, -1.0, "cold"], ids=str)
@pytest.mark.parametrize("name", PROBABILITY)
def test_bad_gate_temperature_is_refused_naming_the_transform(name, value):
    cls_name = TRANSFORMS[name].__name__
    expected = "a number" if isinstance(value, str) else "positive and finite"
    with pytest.raises(
        ValueError, match=rf"^{cls_name}: temperature must be {expected}, got"
    ):
        build(name, temperature=value)


@pytest.mark.parametrize("value", [*NON_FINITE, -1.0], ids=str)
@pytest.mark.parametrize("parameter", ["alpha", "stiffness"])
@pytest.mark.parametrize("name", ROTATIONS)
def test_bad_spline_parameter_is_refused_naming_the_transform(name, parameter, value):
    cls_name = TRANSFORMS[name].__name__
    sign = "non-negative" if parameter == "alpha" else "positive"
    with pytest.raises(
        ValueError, match=rf"^{cls_name}: {parameter} must be {sign} and finite, got"
    ):
        build(name, **{parameter: value})


@pytest.mark.parametrize("value", [0, 2.5, math.inf, "50"], ids=str)
def test_bad_number_of_legendre_terms_is_refused(value):
    with pytest.raises(
        ValueError, match=r"^SensorsZRotation: n_legendre_terms must be an integer >= 1"
    ):
        build("sensors_rotation_z", n_legendre_terms=value)


def test_zero_spline_ridge_is_allowed():
    # alpha = 0 is an interpolating spline (no ridge): valid, as in MNE.
    t = build("sensors_rotation_z", alpha=0.0)
    assert torch.isfinite(t(batch(), 0.5, gen())).all()


@pytest.mark.parametrize("value", NON_FINITE, ids=str)
@pytest.mark.parametrize("name", ["frequency_shift", "bandstop_filter"])
def test_non_finite_sfreq_is_refused_naming_the_transform(name, value):
    cls_name = TRANSFORMS[name].__name__
    with pytest.raises(ValueError, match=rf"^{cls_name}: sfreq must be a positive"):
        TRANSFORMS[name](sfreq=value)


@pytest.mark.parametrize("value", NON_FINITE, ids=str)
def test_non_finite_max_freq_is_refused(value):
    with pytest.raises(ValueError, match=r"^BandstopFilter: max_freq must lie in"):
        build("bandstop_filter", max_freq=value)


@pytest.mark.parametrize("value", [*NON_FINITE, 0.0, "hot"], ids=str)
def test_bad_layer_temperature_is_refused(value):
    expected = "a number" if isinstance(value, str) else "positive and finite"
    with pytest.raises(ValueError, match=rf"^AugLayer: temperature must be {expected}"):
        AugLayer([build("gaussian_noise")], temperature=value)


@pytest.mark.parametrize("value", [*NON_FINITE, 0.0], ids=str)
def test_bad_policy_temperature_is_refused(value):
    with pytest.raises(
        ValueError, match=r"^Policy: temperature must be positive and finite"
    ):
        Policy([build("gaussian_noise")], temperature=value)
