"""Detailed tests of the six time-frequency transforms (time.py and frequency.py)."""

import math

import numpy as np
import pytest
import torch

from augsleep.transforms.frequency import BandstopFilter, FrequencyShift, FTSurrogate
from augsleep.transforms.time import GaussianNoise, SmoothTimeMask, TimeReverse

SFREQ = 100.0
NAMES = [
    "time_reverse",
    "smooth_time_mask",
    "gaussian_noise",
    "ft_surrogate",
    "frequency_shift",
    "bandstop_filter",
]
#: Transforms whose parameters are (bounded value, position): the bounds only
#: describe column 0 (mask length, bandwidth).
TWO_COLUMNS = {"smooth_time_mask", "bandstop_filter"}
#: Transforms whose parameters are ``u * mu * max`` (linear in mu for fixed draws).
LINEAR_IN_MU = {"smooth_time_mask", "gaussian_noise", "ft_surrogate", "frequency_shift"}

requires_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device"
)


def make(name, **kwargs):
    classes = {
        "time_reverse": TimeReverse,
        "smooth_time_mask": SmoothTimeMask,
        "gaussian_noise": GaussianNoise,
        "ft_surrogate": FTSurrogate,
        "frequency_shift": FrequencyShift,
        "bandstop_filter": BandstopFilter,
    }
    cls = classes[name]
    if "sfreq" in cls.requires:
        kwargs.setdefault("sfreq", SFREQ)
    return cls(**kwargs)


def magnitude(value=0.5, dtype=torch.float32, device="cpu"):
    """A 0-d magnitude tensor that collects its gradient."""
    return torch.tensor(value, dtype=dtype, device=device, requires_grad=True)


def batch(n_windows=8, n_channels=2, n_times=256, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n_windows, n_channels, n_times, generator=g, dtype=dtype)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def bounded_part(name, params):
    return params[:, 0] if name in TWO_COLUMNS else params


def peak_frequency(x, sfreq=SFREQ):
    spectrum = torch.fft.rfft(x, dim=-1).abs()
    freqs = torch.fft.rfftfreq(x.shape[-1], d=1.0 / sfreq, dtype=x.dtype)
    return freqs[spectrum.argmax(dim=-1)]


# --------------------------------------------------------------------------
# Contract, per transform
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", NAMES)
def test_zero_magnitude_is_exact_identity(name, dtype):
    # All six are written so that the added perturbation is exactly 0 at mu = 0.
    X = batch(dtype=dtype)
    assert torch.equal(make(name)(X, 0.0, generator=gen()), X)
    assert torch.equal(make(name)(X, magnitude(0.0, dtype), generator=gen()), X)


@pytest.mark.parametrize("module_double", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", NAMES)
def test_shape_dtype_device_kept(name, dtype, module_double):
    X = batch(n_times=255, dtype=dtype)  # odd length exercises the FFT paths
    transform = make(name)
    if module_double:
        transform.double()
    out = transform(X, 0.5, generator=gen())
    assert out.shape == X.shape
    assert out.dtype == X.dtype
    assert out.device == X.device
    assert torch.isfinite(out).all()
    assert not torch.allclose(out, X)


@requires_cuda
@pytest.mark.parametrize("generator_device", ["cpu", "cuda"])
@pytest.mark.parametrize("name", NAMES)
def test_cuda_matches_cpu(name, generator_device):
    X = batch(dtype=torch.float64)
    W = batch(seed=1, dtype=torch.float64)
    transform = make(name).double()
    g = torch.Generator(device=generator_device).manual_seed(0)
    transform_cuda = make(name).double().cuda()
    mu = magnitude(0.5, torch.float64, "cuda")
    out_cuda = transform_cuda(X.cuda(), mu, generator=g)
    assert out_cuda.device.type == "cuda" and out_cuda.dtype == X.dtype
    (out_cuda * W.cuda()).sum().backward()
    assert torch.isfinite(mu.grad)
    if generator_device == "cpu":
        # Draws happen on the CPU generator, so the CUDA run sees the same noise.
        out_cpu = transform(X, 0.5, generator=gen())
        torch.testing.assert_close(out_cuda.cpu(), out_cpu, rtol=1e-9, atol=1e-9)


def _loss(transform, X, W, mu, seed=3):
    return (transform(X, mu, generator=gen(seed)) * W).sum()


@pytest.mark.parametrize("name", NAMES)
def test_gradient_wrt_magnitude_is_finite_and_nonzero(name):
    X, W = batch(), batch(seed=1)
    mu = magnitude(0.5)
    _loss(make(name), X, W, mu).backward()
    grad = mu.grad
    assert grad is not None and torch.isfinite(grad)
    assert abs(float(grad)) > 1e-3


@pytest.mark.parametrize("name", NAMES)
def test_gradient_matches_central_finite_difference(name):
    # float64, same draws for every evaluation (the generator is re-seeded), so
    # the loss is a deterministic function of mu. All transforms are smooth in mu
    # except the bandstop filter, which is piecewise linear with kinks only when
    # a band edge crosses a bin-cell boundary (probability ~1e-6 per edge for
    # h = 1e-6), so the central difference has truncation error O(h^2) and
    # rounding error ~ eps * |loss| / h ~ 1e-10 relative: rtol = 1e-5 is ample.
    X, W = batch(dtype=torch.float64), batch(seed=1, dtype=torch.float64)
    transform = make(name).double()
    mu = magnitude(0.5, torch.float64)
    _loss(transform, X, W, mu).backward()
    grad = float(mu.grad)

    h = 1e-6
    with torch.no_grad():
        plus = float(_loss(transform, X, W, 0.5 + h))
        minus = float(_loss(transform, X, W, 0.5 - h))
    finite_difference = (plus - minus) / (2 * h)
    assert grad == pytest.approx(finite_difference, rel=1e-5)
    assert abs(grad) > 1e-3


@pytest.mark.parametrize("name", NAMES)
def test_parameters_within_bounds_and_spread_grows(name):
    X = batch(n_windows=2000, n_channels=2, n_times=64)
    spreads = {}
    transform = make(name)
    for mu in (0.1, 0.5, 1.0):
        params = transform.sample_parameters(X, mu, gen(int(mu * 10)))
        assert params.shape[0] == X.shape[0]
        low, high = transform.parameter_bounds(mu)
        values = bounded_part(name, params)
        # float32 draws vs float64 bounds: allow one float32 rounding.
        tol = 1e-6 * max(1.0, abs(high)) if math.isfinite(high) else 0.0
        assert values.min() >= low - tol and values.max() <= high + tol
        spreads[mu] = float(values.detach().std())
    assert spreads[0.5] > spreads[0.1]
    if name != "time_reverse":  # gates at probability 1 are all 1: no spread
        assert spreads[1.0] > spreads[0.5]


@pytest.mark.parametrize("name", sorted(LINEAR_IN_MU | {"bandstop_filter"}))
def test_parameters_scale_linearly_with_magnitude(name):
    # Reparametrisation: for fixed draws the range parameter is proportional to mu.
    X = batch(n_windows=64, n_times=64, dtype=torch.float64)
    transform = make(name).double()
    small = bounded_part(name, transform.sample_parameters(X, 0.1, gen()))
    large = bounded_part(name, transform.sample_parameters(X, 0.5, gen()))
    torch.testing.assert_close(large, 5 * small)


@pytest.mark.parametrize("name", NAMES)
def test_seeding(name):
    X = batch()
    transform = make(name)
    first = transform(X, 0.5, generator=gen(0))
    assert torch.equal(first, transform(X, 0.5, generator=gen(0)))
    assert not torch.equal(first, transform(X, 0.5, generator=gen(1)))
    # A float magnitude and a tensor magnitude draw the same values.
    assert torch.equal(first, transform(X, magnitude(0.5), generator=gen(0)))


@pytest.mark.parametrize("name", NAMES)
def test_magnitude_out_of_range_rejected(name):
    X = batch()
    for bad in (1.5, -0.1, math.nan):
        with pytest.raises(ValueError, match=r"magnitude must lie in \[0, 1\]"):
            make(name)(X, bad, generator=gen())
        with pytest.raises(ValueError, match=r"magnitude must lie in \[0, 1\]"):
            make(name).at(bad)
    with pytest.raises(ValueError, match="0-d tensor"):
        make(name)(X, torch.tensor([0.5]), generator=gen())
    with pytest.raises(TypeError, match="magnitude"):
        make(name, magnitude=0.5)  # the magnitude is not configuration


@pytest.mark.parametrize("name", ["frequency_shift", "bandstop_filter"])
@pytest.mark.parametrize("sfreq", [None, 0, -100.0, math.nan, math.inf, "fast"])
def test_bad_sfreq_rejected(name, sfreq):
    with pytest.raises(ValueError, match="sfreq"):
        make(name, sfreq=sfreq)


# --------------------------------------------------------------------------
# Time reverse
# --------------------------------------------------------------------------


def test_time_reverse_gate_one_is_flip_and_zero_is_identity():
    X = batch()
    transform = TimeReverse()
    assert torch.equal(transform.apply(X, torch.ones(8)), X.flip(-1))
    assert torch.equal(transform.apply(X, torch.zeros(8)), X)
    half = transform.apply(X, torch.full((8,), 0.25))
    torch.testing.assert_close(half, 0.75 * X + 0.25 * X.flip(-1))


def test_time_reverse_probability_and_hardness():
    X = batch(n_windows=4000, n_channels=1, n_times=4)
    gates = TimeReverse().sample_parameters(X, 0.3, gen())
    assert float((gates > 0.5).float().mean()) == pytest.approx(0.3, abs=0.03)
    # At temperature 0.1 most gates are close to a hard 0/1 decision.
    assert float(((gates > 0.05) & (gates < 0.95)).float().mean()) < 0.2


def test_time_reverse_rejects_bad_arguments():
    with pytest.raises(ValueError, match="max_value"):
        TimeReverse(max_value=2.0)
    with pytest.raises(ValueError, match="temperature"):
        TimeReverse(temperature=0.0)
    assert not TimeReverse.has_magnitude


# --------------------------------------------------------------------------
# Smooth time mask
# --------------------------------------------------------------------------


def test_smooth_time_mask_zeroes_the_given_segment():
    n_times = 1000  # edge steepness s = 1000 / n_times = 1 per sample
    X = torch.ones(1, 2, n_times, dtype=torch.float64)
    out = SmoothTimeMask().apply(X, torch.tensor([[50.0, 100.0]]))[0, 0]
    masked = out < 0.5
    assert int(masked.sum()) in (49, 50, 51)
    assert masked[101:150].all()
    assert out[110:140].abs().max() < 1e-4
    assert (out[:80] > 1 - 1e-6).all() and (out[170:] > 1 - 1e-6).all()


def test_smooth_time_mask_matches_braindecode():
    from braindecode.augmentation.functional import smooth_time_mask

    X = batch(n_times=300)
    lengths = torch.linspace(0.0, 120.0, 8)
    starts = torch.linspace(0.0, 170.0, 8)
    ours = SmoothTimeMask().apply(X, torch.stack([lengths, starts], dim=1))
    theirs, _ = smooth_time_mask(X, None, starts, lengths.view(-1, 1, 1))
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


def test_smooth_time_mask_sampled_lengths_match_masked_samples():
    n_times = 2000
    X = torch.ones(64, 1, n_times, dtype=torch.float64)
    transform = SmoothTimeMask()
    params = transform.sample_parameters(X, 1.0, gen())
    out = transform.apply(X, params)
    masked = (out[:, 0] < 0.5).sum(dim=-1).double()
    # Masks shorter than a few edge widths (1 / s = 2 samples here) are shallow
    # and never reach 0.5, as in braindecode.
    long = params[:, 0] > 10
    assert long.sum() > 50
    torch.testing.assert_close(masked[long], params[long, 0], atol=1.0, rtol=0.0)
    assert (params[:, 1] >= 0).all() and (params[:, 1] + params[:, 0] <= n_times).all()


# --------------------------------------------------------------------------
# Gaussian noise
# --------------------------------------------------------------------------


def test_gaussian_noise_has_the_requested_std():
    X = batch(n_windows=64, n_channels=4, n_times=500)
    out = GaussianNoise()(X, 0.5, generator=gen())
    noise = out - X
    assert float(noise.std()) == pytest.approx(0.5 * 0.2, rel=0.02)
    assert abs(float(noise.mean())) < 3e-3
    assert GaussianNoise().parameter_bounds(0.5) == (-math.inf, math.inf)


# --------------------------------------------------------------------------
# FT surrogate
# --------------------------------------------------------------------------


@pytest.mark.parametrize("n_times", [256, 255])
@pytest.mark.parametrize("channel_indep", [False, True])
def test_ft_surrogate_keeps_amplitude_spectrum(channel_indep, n_times):
    X = batch(n_times=n_times, dtype=torch.float64)
    transform = FTSurrogate(channel_indep=channel_indep)
    params = transform.sample_parameters(X, 1.0, gen())
    assert params.shape == (8, 2 if channel_indep else 1, n_times // 2 + 1)
    out = transform.apply(X, params)
    spectrum_in, spectrum_out = torch.fft.rfft(X), torch.fft.rfft(out)
    torch.testing.assert_close(spectrum_out.abs(), spectrum_in.abs())
    torch.testing.assert_close(out.mean(-1), X.mean(-1))  # DC phase untouched
    assert not torch.allclose(out, X, atol=1e-2)
    # Shared phases keep the cross-channel phase differences.
    cross_in = spectrum_in[:, 0] * spectrum_in[:, 1].conj()
    cross_out = spectrum_out[:, 0] * spectrum_out[:, 1].conj()
    assert torch.allclose(cross_out, cross_in) is not channel_indep


def test_ft_surrogate_quarter_turn_turns_sine_into_cosine():
    t = torch.arange(500, dtype=torch.float64) / SFREQ
    X = torch.sin(2 * math.pi * 10 * t).view(1, 1, -1)
    phases = torch.full((1, 1, 251), math.pi / 2, dtype=torch.float64)
    out = FTSurrogate().apply(X, phases)
    torch.testing.assert_close(out[0, 0], torch.cos(2 * math.pi * 10 * t))


# --------------------------------------------------------------------------
# Frequency shift
# --------------------------------------------------------------------------


@pytest.mark.parametrize("shift", [2.0, -3.0, 0.5])
def test_frequency_shift_moves_the_spectral_peak(shift):
    t = torch.arange(1000, dtype=torch.float64) / SFREQ  # 0.1 Hz bins
    X = torch.sin(2 * math.pi * 10 * t).view(1, 1, -1)
    out = FrequencyShift(sfreq=SFREQ).apply(X, torch.tensor([shift]))
    assert float(peak_frequency(out)[0, 0]) == pytest.approx(10 + shift, abs=0.05)
    # Away from the window edges the output is a pure sine at the new frequency.
    expected = torch.sin(2 * math.pi * (10 + shift) * t)
    assert (out[0, 0, 100:-100] - expected[100:-100]).abs().max() < 0.05


def test_frequency_shift_sampled_per_example():
    t = torch.arange(1000, dtype=torch.float64) / SFREQ
    X = torch.sin(2 * math.pi * 20 * t).expand(16, 1, -1)
    transform = FrequencyShift(sfreq=SFREQ)
    delta = transform.sample_parameters(X, 1.0, gen())
    assert delta.std() > 1.0  # one shift per window, spread over [-5, 5] Hz
    out = transform.apply(X, delta)
    torch.testing.assert_close(
        peak_frequency(out)[:, 0], 20 + delta, atol=0.051, rtol=0
    )


def test_frequency_shift_is_single_sideband_modulation_of_scipy_analytic_signal():
    from scipy.signal import hilbert

    X = batch(n_times=301, dtype=torch.float64)  # odd length: no Nyquist bin
    delta = torch.linspace(-5.0, 5.0, len(X), dtype=torch.float64)
    ours = FrequencyShift(sfreq=SFREQ).apply(X, delta)
    t = np.arange(X.shape[-1]) / SFREQ
    analytic = hilbert(X.numpy(), axis=-1)
    expected = np.real(analytic * np.exp(2j * np.pi * delta.numpy()[:, None, None] * t))
    np.testing.assert_allclose(ours.numpy(), expected, rtol=0, atol=1e-12)


def test_frequency_shift_matches_braindecode_on_power_of_two_windows():
    # braindecode zero-pads to the next power of two; on such a length neither
    # pads, so the two implementations compute the same thing.
    from braindecode.augmentation.functional import frequency_shift

    X = batch(n_times=256)
    delta = torch.linspace(-5.0, 5.0, len(X))
    ours = FrequencyShift(sfreq=SFREQ).apply(X, delta)
    theirs, _ = frequency_shift(X, None, delta, SFREQ)
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4)


# --------------------------------------------------------------------------
# Bandstop filter
# --------------------------------------------------------------------------


def test_bandstop_removes_the_band_and_keeps_the_rest():
    n_times = 1000  # 0.1 Hz bins
    X = batch(n_windows=2, n_times=n_times, dtype=torch.float64)
    params = torch.tensor([[2.0, 20.03], [0.55, 7.0]], dtype=torch.float64)
    out = BandstopFilter(sfreq=SFREQ).apply(X, params)
    freqs = torch.fft.rfftfreq(n_times, d=1.0 / SFREQ, dtype=torch.float64)
    spectrum_in, spectrum_out = torch.fft.rfft(X), torch.fft.rfft(out)
    df = SFREQ / n_times
    for i, (bw, fc) in enumerate(params.tolist()):
        distance = (freqs - fc).abs()
        inside = distance <= bw / 2 - df / 2  # whole bin cell inside the band
        outside = distance >= bw / 2 + df / 2  # whole bin cell outside
        assert inside.sum() >= 4
        assert spectrum_out[i][:, inside].abs().max() < 1e-9
        torch.testing.assert_close(
            spectrum_out[i][:, outside], spectrum_in[i][:, outside]
        )
        # The edge bins are partly attenuated: total removed depth = bw / df bins.
        depth = 1 - (spectrum_out[i, 0] / spectrum_in[i, 0]).real
        assert float(depth.sum()) == pytest.approx(bw / df, rel=1e-9)


def test_bandstop_notches_a_sine_but_not_another():
    t = torch.arange(1000, dtype=torch.float64) / SFREQ
    X = (torch.sin(2 * math.pi * 10 * t) + torch.sin(2 * math.pi * 30 * t)).view(
        1, 1, -1
    )
    out = BandstopFilter(sfreq=SFREQ).apply(X, torch.tensor([[2.0, 10.4]]))
    torch.testing.assert_close(out[0, 0], torch.sin(2 * math.pi * 30 * t))


def test_bandstop_gradient_nonzero_for_narrow_bands():
    # Bands far narrower than a bin still get a gradient wrt their width.
    X = batch(n_windows=32, n_times=256, dtype=torch.float64)
    transform = BandstopFilter(sfreq=SFREQ)
    centres = torch.rand(32, generator=gen(), dtype=torch.float64) * 50
    bandwidth = torch.full((32,), 1e-3, dtype=torch.float64, requires_grad=True)
    out = transform.apply(X, torch.stack([bandwidth, centres], dim=1))
    (out * X).sum().backward()
    # d(sum out * X) / d bw = -(removed power rate) < 0 for every window.
    assert (bandwidth.grad < 0).all()


def test_bandstop_rejects_bad_max_freq():
    with pytest.raises(ValueError, match="max_freq"):
        BandstopFilter(sfreq=SFREQ, max_freq=60.0)
    params = BandstopFilter(sfreq=SFREQ, max_freq=10.0).sample_parameters(
        batch(n_windows=500), 0.5, gen()
    )
    assert (params[:, 1] >= 0).all() and (params[:, 1] <= 10.0).all()


@pytest.mark.parametrize("name", NAMES)
def test_trains_after_a_call_in_inference_mode(name):
    # Constants some transforms cache on their first call must not be inference
    # tensors: a prediction under torch.inference_mode() may come first.
    transform = make(name)
    X = batch(n_times=257)  # a length no other test caches first
    with torch.inference_mode():
        transform(X, 0.5, generator=gen())
    mu = magnitude(0.5)
    out = transform(X.clone().requires_grad_(True), mu, generator=gen())
    (out * batch(n_times=257, seed=1)).sum().backward()
    assert torch.isfinite(mu.grad)


@pytest.mark.parametrize("name", NAMES)
def test_at_fixes_the_magnitude(name):
    transform = make(name)
    fixed = transform.at(0.5)
    X = batch()
    assert fixed.transform is transform and fixed.magnitude == 0.5
    assert torch.equal(fixed(X, gen(4)), transform(X, 0.5, gen(4)))
    assert torch.equal(fixed(X, generator=gen(4)), transform(X, 0.5, gen(4)))
    assert (
        fixed.physical_value
        == transform.physical_value(0.5)
        == 0.5 * (transform.max_value)
    )
    assert list(fixed.parameters()) == []  # not learnable
