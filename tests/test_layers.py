import numpy as np
import pytest
import torch

from augsleep.augment import (
    SENSOR_TRANSFORMS,
    SINUSOID_TRANSFORMS,
    TIME_FREQUENCY_TRANSFORMS,
    AugLayer,
    AugmentationModule,
    Identity,
    make_sleep_augmentation,
)
from augsleep.channels import standard_positions
from augsleep.transforms import GaussianNoise, TimeReverse, make_transform


def _layer(**kwargs):
    kwargs.setdefault("initial_magnitudes", 0.5)
    return AugLayer(
        [make_transform(n, sfreq=100.0) for n in SINUSOID_TRANSFORMS], **kwargs
    )


def test_weights_start_uniform_and_sum_to_one():
    layer = _layer(temperature=0.01)
    np.testing.assert_allclose(layer.weights.detach().numpy(), np.full(3, 1 / 3))


def test_initial_weights_are_respected():
    layer = AugLayer(
        [GaussianNoise(), TimeReverse()],
        temperature=0.1,
        initial_weights=[0.8, 0.2],
        initial_magnitudes=[0.5, 0.25],
    )
    np.testing.assert_allclose(layer.weights.detach().numpy(), [0.8, 0.2], rtol=1e-5)
    assert layer._magnitudes.shape == (2,)
    np.testing.assert_array_equal(layer.magnitudes.detach().numpy(), [0.5, 0.25])


def test_training_forward_is_the_weighted_sum(eeg_batch):
    layer = _layer().train()
    out = layer(eeg_batch, torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)
    expected = sum(
        w * t(eeg_batch, mu, g)
        for w, mu, t in zip(
            layer.weights, layer.magnitudes, layer.transforms, strict=True
        )
    )
    torch.testing.assert_close(out, expected)


def test_training_forward_gives_gradients_to_every_weight_and_magnitude(eeg_batch):
    layer = _layer().train()
    out = layer(eeg_batch, torch.Generator().manual_seed(0))
    (out * torch.randn_like(out)).sum().backward()
    assert torch.all(layer._weights.grad != 0)
    assert torch.all(layer._magnitudes.grad != 0)


def test_eval_draws_one_transform_per_example_with_probability_w(eeg_batch):
    # Identity-free transforms with recognisable outputs: a reversed copy or a
    # noisy copy. With weights (0.7, 0.3), about 70 % of examples are reversed.
    layer = AugLayer(
        [TimeReverse(temperature=1e-3), GaussianNoise()],
        temperature=1.0,
        initial_weights=[0.7, 0.3],
        initial_magnitudes=1.0,
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
        module.layers[0]._magnitudes[0] = 1.7
        module.layers[0]._magnitudes[1] = -0.2
    # Read through the straight-through clamp before the projection, too.
    np.testing.assert_allclose(module.magnitudes.detach().numpy()[:2], [1.0, 0.0])
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
    with pytest.raises(ValueError, match=r"magnitude must lie in \[0, 1\], got -0.1"):
        AugLayer([GaussianNoise(), TimeReverse()], initial_magnitudes=[0.5, -0.1])
    with pytest.raises(ValueError, match="one float or 2 floats"):
        AugLayer([GaussianNoise(), TimeReverse()], initial_magnitudes=[0.5])


def test_bad_layer_arguments():
    with pytest.raises(ValueError, match="at least one transform"):
        AugLayer([])
    with pytest.raises(ValueError, match="temperature must be positive"):
        AugLayer([GaussianNoise()], temperature=0)
    with pytest.raises(ValueError, match="initial_weights must be 2 positive"):
        AugLayer([GaussianNoise(), TimeReverse()], initial_weights=[1.0])
    with pytest.raises(TypeError, match="AugLayer instances"):
        AugmentationModule([GaussianNoise()])


def test_full_sleep_preset_trains_and_evaluates_on_six_channels():
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
        grad = layer._magnitudes.grad
        assert grad is not None and grad.shape == (len(layer.transforms),)
        assert torch.isfinite(grad).all()
    with torch.no_grad():
        out_eval = module.eval()(X, torch.Generator().manual_seed(1))
    assert out_eval.shape == X.shape and torch.isfinite(out_eval).all()


def test_eval_draws_are_unbiased_for_every_position_in_the_batch():
    # Systematic sampling must give each row transform q with probability w_q,
    # whatever its position: average over many calls, per row.
    layer = AugLayer(
        [TimeReverse(temperature=1e-3), GaussianNoise()],
        initial_weights=[0.25, 0.75],
        initial_magnitudes=1.0,
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


def gen_(seed):
    return torch.Generator().manual_seed(seed)


def _six_channel_preset(magnitude=0.4):
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
    params = [layer._weights, layer._magnitudes, X]

    fused = layer(X, torch.Generator().manual_seed(7))
    fused_grads = torch.autograd.grad((fused * probe).sum(), params)

    g = torch.Generator().manual_seed(7)
    plain = sum(
        w * t(X, mu, g)
        for w, mu, t in zip(
            layer.weights, layer.magnitudes, layer.transforms, strict=True
        )
    )
    plain_grads = torch.autograd.grad((plain * probe).sum(), params)

    torch.testing.assert_close(fused, plain, rtol=1e-10, atol=1e-10)
    for got, expected in zip(fused_grads, plain_grads, strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-8, atol=1e-10)


def test_passed_magnitude_gives_the_same_draws_and_gradient():
    # AugLayer clamps its magnitudes once and passes mu_q to sample_parameters:
    # the draws and the gradient with respect to _magnitudes[q] must be those of
    # a standalone magnitude tensor; a float magnitude gives the same draws.
    module = _six_channel_preset(magnitude=0.3)
    X = torch.randn(4, 6, 300, dtype=torch.float64)
    probe = None
    for layer in module.layers:
        for q, t in enumerate(layer.transforms):
            own = t.sample_parameters(X, layer.magnitudes[q], gen_(3))
            mu = layer.magnitudes[q].detach().clone().requires_grad_(True)
            passed = t.sample_parameters(X, mu, gen_(3))
            assert torch.equal(own, passed), t.name
            as_float = t.sample_parameters(X, float(mu.detach()), gen_(3))
            assert torch.equal(own, as_float), t.name
            probe = torch.randn(own.shape, dtype=own.dtype)
            (expected,) = torch.autograd.grad((own * probe).sum(), layer._magnitudes)
            (got,) = torch.autograd.grad((passed * probe).sum(), mu)
            assert expected[q] != 0, t.name  # the check is not vacuous
            assert (expected != 0).sum() == 1, t.name  # only mu_q's entry
            torch.testing.assert_close(got, expected[q], rtol=1e-12, atol=0)
            # A different magnitude changes the draws' scale, not their noise.
            half = t.sample_parameters(X, mu.detach() / 2, gen_(3))
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
        for t, mu in zip(layer.transforms, layer.magnitudes, strict=True):
            params = t.sample_parameters(X, mu, torch.Generator().manual_seed(3))
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
            for t, mu in zip(layer.transforms, layer.magnitudes, strict=True):
                params = t.sample_parameters(X, mu, torch.Generator().manual_seed(5))
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


def _old_layout(state_dict, layer_prefixes, n_transforms):
    """A state dict as the per-transform layout saved it.

    Before the transforms became stateless, transform q of a layer held its
    magnitude as ``<layer>.transforms.<q>._magnitude`` (0-d) and the layer had
    no ``_magnitudes``.
    """
    old = {}
    for key, value in state_dict.items():
        prefix = key.removesuffix("_magnitudes")
        if key.endswith("_magnitudes") and prefix in layer_prefixes:
            for q in range(n_transforms[prefix]):
                old[f"{prefix}transforms.{q}._magnitude"] = value[q].clone()
        else:
            old[key] = value
    return old


def test_old_layout_state_dict_loads_and_gives_the_same_outputs():
    from augsleep.models import MLP, AugNet

    torch.manual_seed(0)
    model = AugNet(MLP(6 * 300, n_classes=5), _six_channel_preset(0.3).float())
    with torch.no_grad():
        for layer in model.augmentation.layers:
            layer._magnitudes.uniform_(0.1, 0.9)  # distinct values per transform
    prefixes = {f"augmentation.layers.{i}." for i in range(3)}
    sizes = {
        f"augmentation.layers.{i}.": len(layer.transforms)
        for i, layer in enumerate(model.augmentation.layers)
    }
    old = _old_layout(model.state_dict(), prefixes, sizes)
    assert "augmentation.layers.2.transforms.6._magnitude" in old
    assert not any(k.endswith("_magnitudes") for k in old)

    torch.manual_seed(1)  # another trunk init and other magnitudes
    restored = AugNet(MLP(6 * 300, n_classes=5), _six_channel_preset(0.7).float())
    result = restored.load_state_dict(old)  # strict
    assert not result.missing_keys and not result.unexpected_keys
    assert "augmentation.layers.0.transforms.0._magnitude" in old  # not consumed
    for a, b in zip(
        model.augmentation.layers, restored.augmentation.layers, strict=True
    ):
        assert torch.equal(a._magnitudes, b._magnitudes)
    X = torch.randn(4, 6, 300, generator=gen_(0))
    for mode in ("train", "eval"):
        getattr(model, mode)()
        getattr(restored, mode)()
        with torch.no_grad():
            assert torch.equal(model(X, gen_(2)), restored(X, gen_(2))), mode


def test_old_layout_loads_into_copies_and_unpickled_layers():
    # The pre-hook is bound to its layer: a deep copy or an unpickled layer
    # (the estimator copies and pickles modules) loads into itself.
    import copy
    import pickle

    layer = AugLayer([GaussianNoise(), TimeReverse()], initial_magnitudes=[0.1, 0.2])
    old = {
        "_weights": torch.zeros(2),
        "transforms.0._magnitude": torch.tensor(0.7),
        "transforms.1._magnitude": torch.tensor(0.8),
    }
    for other in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        other.load_state_dict(old)
        torch.testing.assert_close(other._magnitudes.data, torch.tensor([0.7, 0.8]))
    torch.testing.assert_close(layer._magnitudes.data, torch.tensor([0.1, 0.2]))
    assert "magnitudes=[0.1, 0.2]" in repr(layer)


def test_partial_old_layout_is_reported_by_load_state_dict():
    layer = _layer()
    old = {
        "_weights": layer._weights.detach().clone(),
        "transforms.0._magnitude": torch.tensor(0.2),
    }
    with pytest.raises(RuntimeError, match="_magnitudes"):
        layer.load_state_dict(old)


def test_identity_is_an_augmentation_without_parameters(eeg_batch):
    identity = Identity()
    assert identity.is_identity and not AugmentationModule([_layer()]).is_identity
    assert list(identity.parameters()) == [] and identity.state_dict() == {}
    assert identity(eeg_batch, gen_(0)) is eeg_batch
    assert identity(eeg_batch) is eeg_batch
    assert identity.weights.shape == (0,) and identity.magnitudes.shape == (0,)
    identity.clamp_magnitudes_()  # a no-op
    summary = identity.summary()
    assert len(summary) == 0
    assert list(summary.columns) == list(AugmentationModule([_layer()]).summary())
    assert identity.state_record() == {}
    with pytest.raises(ValueError, match="shape"):
        identity(eeg_batch[0])


def test_layer_summary_matches_the_module_summary():
    layer = _layer(initial_magnitudes=[0.1, 0.2, 0.4])
    module = AugmentationModule([layer])
    assert layer.summary().equals(module.summary())
    row = layer.summary().set_index("transform").loc["frequency_shift"]
    assert row.magnitude == pytest.approx(0.1)
    assert row.physical_value == pytest.approx(0.1 * 5.0)


def test_export_names_load_lazily_and_identity_has_no_policy():
    import augsleep.augment
    from augsleep.augment import export

    assert augsleep.augment.export_policy is export.export_policy
    assert augsleep.augment.TransformChoice is export.TransformChoice
    with pytest.raises(AttributeError, match="no attribute 'export_polcy'"):
        augsleep.augment.export_polcy  # noqa: B018
    with pytest.raises(ValueError, match="no learned policy"):
        export.export_policy(Identity(), sfreq=100.0)


def _sampled_replay(layer, X, seed, n_sampled):
    """The sampled estimate written out: draws from w, then the drawn terms in order."""
    g = torch.Generator().manual_seed(seed)
    weights, magnitudes = layer.weights, layer.magnitudes
    draws = torch.multinomial(
        weights.detach(), n_sampled, replacement=True, generator=g
    )
    counts = torch.bincount(draws, minlength=len(layer.transforms)).tolist()
    chosen = [q for q, k in enumerate(counts) if k]
    return counts, sum(
        (counts[i] / n_sampled)
        * (weights[i] / weights[i].detach())
        * layer.transforms[i](X, magnitudes[i], g)
        for i in chosen
    )


@pytest.mark.parametrize("layer_index", [0, 2])
@pytest.mark.parametrize("n_sampled", [1, 3])
def test_sampled_training_sum_is_the_weighted_average_of_its_draws(
    layer_index, n_sampled
):
    # The estimate is (1 / n) sum_k (w_qk / sg(w_qk)) T_qk(x), through the same
    # fused passes as the full sum (spectral and channel-map transforms), in
    # value and in every gradient.
    layer = _six_channel_preset().layers[layer_index]
    with torch.no_grad():  # unequal weights: the draws follow them
        layer._weights.copy_(torch.linspace(-1.0, 1.0, len(layer.transforms)))
    layer.n_sampled_transforms = n_sampled
    X = torch.randn(5, 6, 301, dtype=torch.float64, requires_grad=True)
    probe = torch.randn(5, 6, 301, dtype=torch.float64)
    params = [layer._weights, layer._magnitudes, X]

    sampled = layer(X, torch.Generator().manual_seed(11))
    grads = torch.autograd.grad((sampled * probe).sum(), params)
    _, plain = _sampled_replay(layer, X, 11, n_sampled)
    plain_grads = torch.autograd.grad((plain * probe).sum(), params)

    torch.testing.assert_close(sampled, plain, rtol=1e-10, atol=1e-10)
    for got, expected in zip(grads, plain_grads, strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-8, atol=1e-10)


def test_sampled_coefficients_are_unbiased_in_value_and_gradient():
    # The output is linear in the terms' coefficients: the estimate and its
    # gradients are unbiased if the coefficients' values average to w and their
    # gradients (with respect to the raw weights) to w's.
    from augsleep.augment.layers import _sampled_terms

    layer = _six_channel_preset().layers[0]
    q, n_sampled, n_draws = len(layer.transforms), 2, 4000
    raw = torch.linspace(-1.0, 1.5, q, dtype=torch.float64, requires_grad=True)
    weights = torch.softmax(raw, dim=0)
    X = torch.zeros(1, 6, 8, dtype=torch.float64)
    probe = torch.randn(q, dtype=torch.float64)  # a direction for the gradient
    values = np.zeros((n_draws, q))
    grads = np.zeros((n_draws, q))
    g = torch.Generator().manual_seed(0)
    for i in range(n_draws):
        transforms, coefficients, _ = _sampled_terms(
            X, list(layer.transforms), weights, [None] * q, n_sampled, g
        )
        index = [list(layer.transforms).index(t) for t in transforms]
        values[i, index] = coefficients.detach().numpy()
        (grad,) = torch.autograd.grad(
            (coefficients * probe[index]).sum(), raw, retain_graph=True
        )
        grads[i] = grad.numpy()
        np.testing.assert_allclose(values[i].sum(), 1.0)  # a convex combination
    (expected_grad,) = torch.autograd.grad((weights * probe).sum(), raw)
    for got, expected in ((values, weights.detach()), (grads, expected_grad)):
        mean, stderr = got.mean(axis=0), got.std(axis=0) / np.sqrt(n_draws)
        np.testing.assert_array_less(
            np.abs(mean - expected.numpy()), 4 * stderr + 1e-12
        )


def test_sampled_training_sum_with_n_at_least_q_is_the_full_sum(eeg_batch):
    full = _layer().train()
    sampled = _layer(n_sampled_transforms=3).train()
    torch.testing.assert_close(
        sampled(eeg_batch, torch.Generator().manual_seed(2)),
        full(eeg_batch, torch.Generator().manual_seed(2)),
    )
    # Prediction draws one transform per window either way.
    full.eval(), sampled.eval()
    sampled.n_sampled_transforms = 1
    torch.testing.assert_close(
        sampled(eeg_batch, torch.Generator().manual_seed(2)),
        full(eeg_batch, torch.Generator().manual_seed(2)),
    )


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "2"])
def test_bad_n_sampled_transforms_is_refused(value):
    with pytest.raises(ValueError, match="n_sampled_transforms"):
        _layer(n_sampled_transforms=value)


def test_from_names_and_the_preset_pass_n_sampled_transforms():
    module = AugmentationModule.from_names(
        [["gaussian_noise", "time_reverse"]], n_sampled_transforms=1
    )
    assert module.layers[0].n_sampled_transforms == 1
    preset = make_sleep_augmentation(100.0, sensor_layer=False, n_sampled_transforms=2)
    assert [layer.n_sampled_transforms for layer in preset.layers] == [2, 2]
    assert "n_sampled_transforms=2" in repr(preset.layers[0])


def test_sampled_training_sum_per_block_generators():
    # One generator per block (the copies of AugNet's per-window predictions,
    # here in training mode): each block gets its own draws, as alone.
    layer = _six_channel_preset().layers[0].train()
    layer.n_sampled_transforms = 2
    X = torch.randn(6, 6, 64, dtype=torch.float64)
    seeds = [3, 4]
    both = layer(X, [torch.Generator().manual_seed(s) for s in seeds])
    alone = torch.cat(
        [
            layer(block, torch.Generator().manual_seed(s))
            for block, s in zip(X.split(3), seeds, strict=True)
        ]
    )
    torch.testing.assert_close(both, alone)
