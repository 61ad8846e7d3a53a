import numpy as np
import pytest
import torch
from torch import nn

from augsleep.augment import AugmentationModule, Identity
from augsleep.models import MLP, AugNet, SinusoidCNN, chambon_trunk


def _augnet(n_copies_eval=20, **kwargs):
    torch.manual_seed(0)
    module = AugmentationModule.from_names(
        [["gaussian_noise", "time_reverse"]], sfreq=100.0, magnitude=0.5
    )
    return AugNet(
        MLP(2 * 300, n_classes=5, n_neurons=8),
        module,
        n_copies_eval=n_copies_eval,
        **kwargs,
    )


def test_output_is_log_of_averaged_probabilities(eeg_batch):
    model = _augnet().eval()
    log_p = model(eeg_batch, torch.Generator().manual_seed(0), n_copies=7)
    assert log_p.shape == (8, 5)
    torch.testing.assert_close(log_p.exp().sum(1), torch.ones(8))
    # Same draws, done by hand: augment 7 stacked copies, average the softmaxes.
    g = torch.Generator().manual_seed(0)
    aug = model.augmentation(eeg_batch.repeat(7, 1, 1), g)
    probs = torch.softmax(model.trunk(aug), -1).view(7, 8, 5).mean(0)
    torch.testing.assert_close(log_p, probs.log())


def test_training_uses_n_copies_train_and_eval_uses_n_copies_eval(eeg_batch):
    model = _augnet(n_copies_eval=5, n_copies_train=2)
    calls = []
    model.trunk.register_forward_hook(lambda m, i, o: calls.append(len(i[0])))
    model.train()(eeg_batch)
    model.eval()(eeg_batch)
    assert calls == [2 * 8, 5 * 8]


def test_chunked_inference_gives_the_same_output(eeg_batch):
    # The augmentation draws once for all copies; only the trunk runs in chunks,
    # which need not hold whole copies (7 rows: copies span two chunks).
    model = _augnet(max_windows_per_forward=7).eval()
    sizes = []
    model.trunk.register_forward_hook(lambda m, i, o: sizes.append(len(i[0])))
    chunked = model(eeg_batch, torch.Generator().manual_seed(0), n_copies=10)
    assert sizes == [7] * 11 + [3]
    model.max_windows_per_forward = None
    whole = model(eeg_batch, torch.Generator().manual_seed(0), n_copies=10)
    assert sizes[-1] == 80
    torch.testing.assert_close(chunked, whole)


def test_chunks_apply_in_evaluation_only_and_without_augmentation(eeg_batch):
    sizes = []
    for augmentation in (True, False):
        model = _augnet(n_copies_eval=2, max_windows_per_forward=5)
        if not augmentation:
            model.augmentation = Identity()
        model.trunk.register_forward_hook(lambda m, i, o: sizes.append(len(i[0])))
        model.train()(eeg_batch)
        model.eval()(eeg_batch)
    # Training: one pass over the batch; evaluation: chunks of at most 5 rows.
    assert sizes == [8, 5, 5, 5, 1, 8, 5, 3]


@pytest.mark.parametrize("augmentation", [None, Identity()], ids=["None", "Identity"])
def test_trunk_alone_without_augmentation(eeg_batch, augmentation):
    trunk = MLP(2 * 300, n_classes=5)
    model = AugNet(trunk, augmentation).eval()
    assert isinstance(model.augmentation, Identity)
    calls = []
    trunk.register_forward_hook(lambda m, i, o: calls.append(len(i[0])))
    # One pass over one copy, whatever the number of copies asked for.
    out = model(eeg_batch, n_copies=7)
    assert calls == [8]
    torch.testing.assert_close(out, torch.log_softmax(trunk(eeg_batch), -1))
    model.clamp_magnitudes_()  # nothing to clamp
    assert [n for n, _ in model.named_parameters() if not n.startswith("trunk.")] == []


def test_trunk_alone_state_dict_loads_into_a_trunk_alone_model(eeg_batch):
    # A saved trunk-alone model has the trunk's keys only (as with None before).
    torch.manual_seed(0)
    model = AugNet(MLP(2 * 300, n_classes=5), None)
    state = model.state_dict()
    assert all(k.startswith("trunk.") for k in state)
    torch.manual_seed(1)
    restored = AugNet(MLP(2 * 300, n_classes=5), Identity())
    restored.load_state_dict(state)
    torch.testing.assert_close(restored.eval()(eeg_batch), model.eval()(eeg_batch))


def test_one_copy_gives_the_usual_cross_entropy(eeg_batch):
    model = _augnet().train()
    y = torch.arange(8) % 5
    g1, g2 = (torch.Generator().manual_seed(4) for _ in range(2))
    nll = nn.functional.nll_loss(model(eeg_batch, g1), y)
    logits = model.trunk(model.augmentation(eeg_batch, g2))
    torch.testing.assert_close(nll, nn.functional.cross_entropy(logits, y))


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_bad_number_of_copies(bad):
    with pytest.raises(ValueError, match="n_copies_eval must be an integer >= 1"):
        _augnet(n_copies_eval=bad)


def test_bad_inputs(eeg_batch):
    model = _augnet()
    with pytest.raises(ValueError, match=r"shape \(n_windows, n_channels, n_times\)"):
        model(eeg_batch[0])
    bad = eeg_batch.clone()
    bad[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="X contains 1 NaN or infinite"):
        model(bad)
    with pytest.raises(ValueError, match="n_copies must be an integer >= 1"):
        model(eeg_batch, n_copies=0)
    with pytest.raises(TypeError, match=r"AugmentationModule.*torch\.nn\..*Identity"):
        AugNet(MLP(600), nn.Identity())


def test_chambon_trunk_is_sized_from_the_data():
    trunk = chambon_trunk(n_chans=6, sfreq=100.0, n_times=3000, n_classes=5)
    assert trunk(torch.randn(4, 6, 3000)).shape == (4, 5)
    single = chambon_trunk(n_chans=1, sfreq=100.0, n_times=500)
    assert single(torch.randn(3, 1, 500)).shape == (3, 5)


def test_sinusoid_cnn_and_mlp_shapes():
    assert SinusoidCNN()(torch.randn(5, 1, 1000)).shape == (5, 4)
    mlp = MLP(1000, n_classes=4, n_neurons=3, n_layers=3)
    assert mlp(torch.randn(5, 1, 1000)).shape == (5, 4)
    n_linear = sum(isinstance(m, nn.Linear) for m in mlp.modules())
    assert n_linear == 4
    with pytest.raises(ValueError, match="n_layers must be >= 1"):
        SinusoidCNN(n_layers=0)


def test_gradients_reach_trunk_weights_and_magnitudes(eeg_batch):
    model = _augnet().train()
    y = torch.arange(8) % 5
    nn.functional.nll_loss(model(eeg_batch), y).backward()
    grads = model.augmentation.layers[0]._magnitudes.grad
    assert grads is not None and torch.isfinite(grads).all() and len(grads) == 2
    assert any(np.abs(p.grad.numpy()).sum() > 0 for p in model.trunk.parameters())


@pytest.mark.parametrize("training", [True, False])
def test_zero_windows_give_zero_predictions(training):
    augmentation = AugmentationModule.from_names(
        [["gaussian_noise", "frequency_shift"]], sfreq=100.0, magnitude=0.5
    )
    trunk = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(2 * 100, 4))
    model = AugNet(trunk, augmentation, n_copies_eval=3).train(training)
    out = model(torch.zeros(0, 2, 100), torch.Generator().manual_seed(0))
    assert out.shape == (0, 4)
