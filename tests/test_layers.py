import numpy as np
import pytest
import torch

from augsleep.layers import (
    SENSOR_TRANSFORMS,
    SINUSOID_TRANSFORMS,
    TIME_FREQUENCY_TRANSFORMS,
    AugLayer,
    AugmentationModule,
    make_sleep_augmentation,
)
from augsleep.transforms import GaussianNoise, TimeReverse, make_transform


def _layer(**kwargs):
    return AugLayer(
        [make_transform(n, 0.5, sfreq=100.0) for n in SINUSOID_TRANSFORMS], **kwargs
    )


def test_weights_start_uniform_and_sum_to_one():
    layer = _layer(temperature=0.01)
    np.testing.assert_allclose(layer.weights.detach().numpy(), np.full(3, 1 / 3))


def test_initial_weights_are_respected():
    layer = AugLayer(
        [GaussianNoise(0.5), TimeReverse(0.5)],
        temperature=0.1,
        initial_weights=[0.8, 0.2],
    )
    np.testing.assert_allclose(layer.weights.detach().numpy(), [0.8, 0.2], rtol=1e-5)


def test_training_forward_is_the_weighted_sum(eeg_batch):
    layer = _layer().train()
    out = layer(eeg_batch, torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)
    expected = sum(
        w * t(eeg_batch, g)
        for w, t in zip(layer.weights, layer.transforms, strict=True)
    )
    torch.testing.assert_close(out, expected)


def test_training_forward_gives_gradients_to_every_weight_and_magnitude(eeg_batch):
    layer = _layer().train()
    out = layer(eeg_batch, torch.Generator().manual_seed(0))
    (out * torch.randn_like(out)).sum().backward()
    assert torch.all(layer._weights.grad != 0)
    for t in layer.transforms:
        assert t._magnitude.grad is not None and t._magnitude.grad != 0


def test_eval_draws_one_transform_per_example_with_probability_w(eeg_batch):
    # Identity-free transforms with recognisable outputs: a reversed copy or a
    # noisy copy. With weights (0.7, 0.3), about 70 % of examples are reversed.
    layer = AugLayer(
        [TimeReverse(1.0, temperature=1e-3), GaussianNoise(1.0)],
        temperature=1.0,
        initial_weights=[0.7, 0.3],
    ).eval()
    X = eeg_batch.repeat(200, 1, 1)
    out = layer(X, torch.Generator().manual_seed(0))
    reversed_ = torch.isclose(out, X.flip(-1), atol=1e-4).all(dim=(1, 2))
    noisy = (out - X).abs().amax(dim=(1, 2)) > 0
    assert torch.all(reversed_ | noisy)  # every example got one of the two
    frac = reversed_.float().mean().item()
    # Binomial(1600, 0.7): standard deviation 0.011, so 5 sigmas is 0.06.
    assert abs(frac - 0.7) < 0.06


def test_module_concatenates_layers_and_summarises(eeg_batch):
    module = AugmentationModule([_layer(), _layer()])
    assert module.weights.shape == (6,)
    assert module.magnitudes.shape == (6,)
    summary = module.summary()
    assert list(summary.columns) == [
        "layer",
        "transform",
        "weight",
        "magnitude",
        "physical_value",
        "unit",
    ]
    row = summary.query("layer == 1 and transform == 'frequency_shift'").iloc[0]
    assert row.unit == "Hz"
    assert row.physical_value == pytest.approx(0.5 * 5.0)
    out = module(eeg_batch, torch.Generator().manual_seed(0))
    assert out.shape == eeg_batch.shape


def test_clamp_projects_magnitudes_onto_unit_interval():
    module = AugmentationModule([_layer()])
    with torch.no_grad():
        module.layers[0].transforms[0]._magnitude.fill_(1.7)
        module.layers[0].transforms[1]._magnitude.fill_(-0.2)
    module.clamp_magnitudes_()
    mags = module.magnitudes.detach().numpy()
    assert mags.min() >= 0 and mags.max() <= 1
    np.testing.assert_allclose(mags[:2], [1.0, 0.0])


def test_sleep_preset_single_channel_has_two_time_frequency_layers():
    module = make_sleep_augmentation(sfreq=100.0, sensor_layer=False)
    assert len(module.layers) == 2
    assert module.layers[0].names == [
        "time_reverse",
        "gaussian_noise",
        "smooth_time_mask",
        "ft_surrogate",
        "frequency_shift",
        "bandstop_filter",
    ]


def test_from_names_rejects_unknown_names_and_flat_lists():
    with pytest.raises(ValueError, match="Unknown transform name 'frequency_shfit'"):
        AugmentationModule.from_names([["frequency_shfit"]], sfreq=100.0)
    with pytest.raises(TypeError, match="list of lists"):
        AugmentationModule.from_names(["frequency_shift"], sfreq=100.0)


def test_magnitude_outside_unit_interval_is_rejected():
    with pytest.raises(ValueError, match=r"magnitude must lie in \[0, 1\], got 1.5"):
        AugmentationModule.from_names([["gaussian_noise"]], magnitude=1.5)


def test_bad_layer_arguments():
    with pytest.raises(ValueError, match="at least one transform"):
        AugLayer([])
    with pytest.raises(ValueError, match="temperature must be positive"):
        AugLayer([GaussianNoise()], temperature=0)
    with pytest.raises(ValueError, match="initial_weights must be 2 positive"):
        AugLayer([GaussianNoise(), TimeReverse()], initial_weights=[1.0])


def test_full_sleep_preset_trains_and_evaluates_on_six_channels():
    from augsleep.transforms.sensors import standard_positions

    channels = ["C3", "C4", "F3", "F4", "O1", "O2"]
    module = make_sleep_augmentation(
        sfreq=100.0,
        ch_names=channels,
        positions=standard_positions(channels),
        magnitude=0.3,
    )
    assert [len(layer.transforms) for layer in module.layers] == [6, 6, 7]
    X = torch.randn(4, 6, 300, generator=torch.Generator().manual_seed(0))
    out = module.train()(X, torch.Generator().manual_seed(1))
    (out * torch.randn_like(out)).sum().backward()
    for layer in module.layers:
        for t in layer.transforms:
            assert t._magnitude.grad is not None and torch.isfinite(t._magnitude.grad)
    with torch.no_grad():
        out_eval = module.eval()(X, torch.Generator().manual_seed(1))
    assert out_eval.shape == X.shape and torch.isfinite(out_eval).all()


def test_eval_draws_are_unbiased_for_every_position_in_the_batch():
    # Systematic sampling must give each row transform q with probability w_q,
    # whatever its position: average over many calls, per row.
    layer = AugLayer(
        [TimeReverse(1.0, temperature=1e-3), GaussianNoise(1.0)],
        initial_weights=[0.25, 0.75],
    ).eval()
    X = torch.randn(10, 1, 50, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(1)
    hits = torch.zeros(10)
    n_calls = 2000
    for _ in range(n_calls):
        out = layer(X, g)
        hits += torch.isclose(out, X.flip(-1), atol=1e-5).all(dim=(1, 2)).float()
    # Binomial(2000, 0.25) per row: standard deviation 0.0097, 5 sigmas 0.05.
    np.testing.assert_allclose(hits / n_calls, 0.25, atol=0.05)


def _six_channel_preset(magnitude=0.4):
    from augsleep.transforms.sensors import standard_positions

    channels = ["C3", "C4", "F3", "F4", "O1", "O2"]
    module = make_sleep_augmentation(
        sfreq=100.0,
        ch_names=channels,
        positions=standard_positions(channels),
        magnitude=magnitude,
    )
    # Unequal weights, so that a wrong weight in a fused sum shows.
    for layer in module.layers:
        n = len(layer.transforms)
        layer._weights.data = torch.linspace(-1.0, 1.0, n)
    return module.double().train()


@pytest.mark.parametrize("layer_index", [0, 2])
def test_fused_training_sum_equals_the_plain_weighted_sum(layer_index):
    # AugLayer shares one rFFT between the spectral transforms, one inverse FFT
    # between the random filters and one matrix product between the channel
    # maps. The value and every gradient must be those of sum_q w_q T_q(x).
    layer = _six_channel_preset().layers[layer_index]
    X = torch.randn(5, 6, 301, dtype=torch.float64, requires_grad=True)
    probe = torch.randn(5, 6, 301, dtype=torch.float64)
    params = [layer._weights, *(t._magnitude for t in layer.transforms), X]

    fused = layer(X, torch.Generator().manual_seed(7))
    fused_grads = torch.autograd.grad((fused * probe).sum(), params)

    g = torch.Generator().manual_seed(7)
    plain = sum(
        w * t(X, g) for w, t in zip(layer.weights, layer.transforms, strict=True)
    )
    plain_grads = torch.autograd.grad((plain * probe).sum(), params)

    torch.testing.assert_close(fused, plain, rtol=1e-10, atol=1e-10)
    for got, expected in zip(fused_grads, plain_grads, strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-8, atol=1e-10)


def test_passed_magnitude_gives_the_same_draws_and_gradient():
    # AugLayer clamps its magnitudes once and passes them to sample_parameters;
    # the draws and the gradient must be those of the transform's own magnitude.
    module = _six_channel_preset(magnitude=0.3)
    X = torch.randn(4, 6, 300, dtype=torch.float64)
    probe = None
    for layer in module.layers:
        for t in layer.transforms:
            own = t.sample_parameters(X, torch.Generator().manual_seed(3))
            mu = t.magnitude.detach().clone().requires_grad_(True)
            passed = t.sample_parameters(
                X, torch.Generator().manual_seed(3), magnitude=mu
            )
            assert torch.equal(own, passed), t.name
            probe = torch.randn(own.shape, dtype=own.dtype)
            (expected,) = torch.autograd.grad((own * probe).sum(), t._magnitude)
            (got,) = torch.autograd.grad((passed * probe).sum(), mu)
            assert expected != 0, t.name  # the check is not vacuous
            torch.testing.assert_close(got, expected, rtol=1e-12, atol=0)
            # A different magnitude changes the draws' scale, not their noise.
            half = t.sample_parameters(
                X, torch.Generator().manual_seed(3), magnitude=mu.detach() / 2
            )
            assert not torch.equal(half, own), t.name
    assert probe is not None


def test_channel_maps_and_spectral_filters_match_their_transforms():
    # The matrix D of x + D x and the filter M of x + irfft(rfft(x) M) that the
    # fused sum uses must reproduce each transform's own apply().
    from augsleep.transforms.base import ChannelMixingTransform, SpectralTransform

    module = _six_channel_preset(magnitude=0.8)
    X = torch.randn(4, 6, 300, dtype=torch.float64)
    checked = set()
    for layer in module.layers:
        for t in layer.transforms:
            params = t.sample_parameters(X, torch.Generator().manual_seed(3))
            expected = t.apply(X, params)
            if isinstance(t, ChannelMixingTransform):
                got = X + t.channel_delta(X, params) @ X
            elif isinstance(t, SpectralTransform) and t.is_filter:
                M = t.spectral_multiplier(params, X.shape[-1])
                got = X + torch.fft.irfft(torch.fft.rfft(X) * M, n=X.shape[-1])
            else:
                continue
            assert not torch.allclose(expected, X)  # the check is not vacuous
            torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)
            checked.add(t.name)
    assert checked == {
        "ft_surrogate",
        "bandstop_filter",
        "sign_flip",
        "channels_symmetry",
        "channels_dropout",
        "sensors_rotation_x",
        "sensors_rotation_y",
        "sensors_rotation_z",
    }


def test_apply_writes_into_out_the_same_values():
    # Every transform's apply(..., out=) must give apply()'s values, in `out`
    # itself (the evaluation path writes each transform's rows in place).
    module = _six_channel_preset(magnitude=0.7)
    X = torch.randn(4, 6, 300, dtype=torch.float64)
    names = set()
    with torch.no_grad():
        for layer in module.layers:
            for t in layer.transforms:
                params = t.sample_parameters(X, torch.Generator().manual_seed(5))
                expected = t.apply(X, params)
                buffer = torch.full((6, 6, 300), torch.nan, dtype=X.dtype)
                got = t.apply(X, params, out=buffer[1:5])
                assert got.data_ptr() == buffer[1:5].data_ptr(), t.name
                assert not torch.equal(expected, X), t.name  # not vacuous
                assert torch.equal(buffer[1:5], expected), t.name
                # Rows outside the slice are left alone.
                assert buffer[[0, 5]].isnan().all(), t.name
                names.add(t.name)
    assert names == set(TIME_FREQUENCY_TRANSFORMS) | set(SENSOR_TRANSFORMS)


def test_eval_without_autograd_equals_eval_with_autograd():
    # Without autograd the evaluation path writes into its output through out=;
    # with autograd it assigns each transform's result. Same draws, same values.
    module = _six_channel_preset(magnitude=0.7).eval()
    X = torch.randn(20, 6, 300, dtype=torch.float64)
    with torch.no_grad():
        direct = module(X, torch.Generator().manual_seed(11))
    assigned = module(X, torch.Generator().manual_seed(11))
    assert assigned.requires_grad  # the magnitudes reach it: the other path ran
    assert not torch.equal(direct, X)
    assert torch.equal(direct, assigned.detach())
