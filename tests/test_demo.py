import json

import pytest
import torch

from augsleep.cli import main
from augsleep.data.sinusoids import make_sinusoids
from augsleep.demo import train_sinusoid_model
from augsleep.training import make_optimizer


@pytest.fixture(scope="module")
def sinusoids():
    X, y = make_sinusoids(400, random_state=0)
    return torch.as_tensor(X), torch.as_tensor(y)


@pytest.mark.slow
def test_augnet_selects_frequency_shift_with_the_true_range(sinusoids):
    # The paper's Section 4.2 claim: the layer selects frequency shift and learns
    # a maximum shift near 0.5 Hz, the invariance built into the data.
    model, history = train_sinusoid_model(*sinusoids, random_state=0)
    learned = model.augmentation.summary().set_index("transform")
    assert learned.loc["frequency_shift", "weight"] > 0.9
    assert 0.25 < learned.loc["frequency_shift", "physical_value"] < 0.75
    assert len(history) == 50


def test_without_regularizer_magnitudes_do_not_grow(sinusoids):
    X, y = sinusoids
    model, _ = train_sinusoid_model(
        X[:128], y[:128], regularizer="none", n_epochs=5, random_state=0
    )
    assert model.augmentation.magnitudes.max() < 0.01


def test_training_leaves_torch_global_generator_alone(sinusoids):
    X, y = sinusoids
    state = torch.get_rng_state()
    model, history = train_sinusoid_model(X[:64], y[:64], n_epochs=2, random_state=0)
    assert torch.equal(torch.get_rng_state(), state)
    assert len(history) == 2 and not model.training
    assert {"epoch", "train_loss", "train_ce", "train_reg", "lam", "dur_s"} <= set(
        history[0]
    )
    assert "magnitude/0/frequency_shift" in history[0]
    again, _ = train_sinusoid_model(X[:64], y[:64], n_epochs=2, random_state=0)
    for k, v in model.state_dict().items():
        assert torch.equal(v, again.state_dict()[k])


def test_paper_optimiser_decays_the_augmentation_too(sinusoids, monkeypatch):
    import augsleep.demo as demo

    groups = []

    def spy(model, **kwargs):
        optimizer = make_optimizer(model, **kwargs)
        groups.extend(
            (g["weight_decay"], bool(g["fused"])) for g in optimizer.param_groups
        )
        return optimizer

    monkeypatch.setattr(demo, "make_optimizer", spy)
    X, y = sinusoids
    train_sinusoid_model(X[:32], y[:32], n_epochs=1)
    # Trunk and augmentation groups, both decayed; for-each Adam, as the paper's
    # numbers were made with.
    assert groups == [(1e-4, False), (1e-4, False)]


def test_trunk_layers_and_step_callback(sinusoids):
    from functools import partial

    from augsleep.models import MLP

    X, y = sinusoids
    weights = []
    model, history = train_sinusoid_model(
        X[:64],
        y[:64],
        trunk=partial(MLP, X.shape[-1], n_neurons=3, n_layers=2),
        layers=[["frequency_shift"], ["gaussian_noise", "ft_surrogate"]],
        initial_magnitude=0.05,
        n_epochs=2,
        random_state=0,
        on_step=lambda m: weights.append(m.augmentation.layers[1].weights.tolist()),
    )
    assert isinstance(model.trunk, MLP) and model.trunk.net[1].out_features == 3
    assert model.augmentation.summary()["transform"].tolist() == [
        "frequency_shift",
        "gaussian_noise",
        "ft_surrogate",
    ]
    # Two steps per epoch (64 windows, batches of 32); the callback sees the
    # magnitudes after their projection onto [0, 1].
    assert len(weights) == 4 and len(history) == 2
    assert "magnitude/1/ft_surrogate" in history[-1]
    # The trunk factory is seeded like the default trunk: same seed, same model.
    again, _ = train_sinusoid_model(
        X[:64],
        y[:64],
        trunk=partial(MLP, X.shape[-1], n_neurons=3, n_layers=2),
        layers=[["frequency_shift"], ["gaussian_noise", "ft_surrogate"]],
        initial_magnitude=0.05,
        n_epochs=2,
        random_state=0,
    )
    for k, v in model.state_dict().items():
        assert torch.equal(v, again.state_dict()[k])


def test_training_augmentation_is_frozen_and_training_only(sinusoids):
    from augsleep.augment import Policy, TrainingOnly
    from augsleep.transforms import FrequencyShift

    def oracle():
        shift = FrequencyShift(max_value=0.5, sfreq=100.0)
        return TrainingOnly(
            Policy.from_choices([shift], [[("frequency_shift", 0.5, 1.0)]])
        )

    X, y = sinusoids
    model, history = train_sinusoid_model(
        X[:64], y[:64], augment=False, training_augmentation=oracle, n_epochs=2
    )
    policy = model.augmentation.policy
    assert not any(p.requires_grad for p in policy.parameters())
    assert policy.to_frame()["magnitude"].tolist() == [1.0]
    # Evaluation is the trunk alone: augmented predictions equal the trunk's.
    with torch.no_grad():
        expected = torch.log_softmax(model.trunk(X[:8]), dim=-1)
        assert torch.allclose(model(X[:8]), expected)
    # Training batches are augmented: the shifted batch differs from the input.
    model.train()
    augmented = model.augmentation(X[:64], torch.Generator().manual_seed(0))
    assert not torch.equal(augmented, X[:64])
    with pytest.raises(ValueError, match="augment=False"):
        train_sinusoid_model(X[:32], y[:32], training_augmentation=oracle)


def test_cli_demo_writes_results_and_figure(tmp_path, capsys):
    assert (
        main(["demo", "--out", str(tmp_path), "--epochs", "1", "--no-ablations"]) == 0
    )
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["runs"]) == {"augnet", "baseline"}
    augnet = results["runs"]["augnet"]
    assert {r["transform"] for r in augnet["learned"]} == {
        "frequency_shift",
        "ft_surrogate",
        "gaussian_noise",
    }
    assert 0 <= augnet["test_accuracy"] <= 1
    assert len(augnet["history"]) == 1
    assert (tmp_path / "augmentation_history.png").stat().st_size > 1000
    out = capsys.readouterr().out
    assert "Learned augmentations (augnet" in out and "test accuracy" in out


def test_cli_rejects_bad_arguments(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--copies", "0"]) == 2
    assert "argument --copies: must be an integer >= 1" in capsys.readouterr().err


def test_history_figure_has_one_column_per_run_titled_by_run():
    from augsleep.plotting import plot_augmentation_history

    record = {
        "epoch": 0,
        "weight/0/frequency_shift": 1.0,
        "magnitude/0/frequency_shift": 0.3,
    }
    fig = plot_augmentation_history({"augnet": [record], "augerino": [record]})
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:2] == ["augnet", "augerino"]
    assert fig.axes[0].get_legend().get_texts()[0].get_text() == (
        "frequency_shift (layer 0)"
    )
