import numpy as np
import pytest
import torch

from augsleep.layers import (
    SINUSOID_TRANSFORMS,
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
