"""Tests of the fit loop, early stopping, the optimiser rule and inference helpers."""

import numpy as np
import pytest
import torch
from torch import nn

from augsleep.augment import AugmentationModule, regularization
from augsleep.models import AugNet
from augsleep.training import (
    CPU_TRUNK_CHUNK_VALUES,
    PREDICT_BATCH_VALUES,
    EarlyStopping,
    RegularizedNLLLoss,
    fit_loop,
    make_generator,
    make_optimizer,
    predict_batch_size,
    trunk_chunk_size,
)


def _model(augment=True, seed=0):
    torch.manual_seed(seed)
    trunk = nn.Sequential(nn.Flatten(), nn.Linear(100, 3))
    augmentation = None
    if augment:
        augmentation = AugmentationModule.from_names(
            [["gaussian_noise", "time_reverse"]], sfreq=100.0, magnitude=0.5
        )
    return AugNet(trunk, augmentation)


@pytest.fixture
def toy():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(40, 1, 100, generator=g)
    y = torch.arange(40) % 3
    return X, y


def _fit(model, X, y, **kwargs):
    optimizer = make_optimizer(model, lr=1e-2)
    params = dict(max_epochs=3, batch_size=16, generator=make_generator(0))
    return fit_loop(model, X, y, optimizer, **{**params, **kwargs})


def test_history_records_and_times(toy):
    X, y = toy
    model = _model()
    result = _fit(
        model,
        X,
        y,
        lam=lambda epoch: 0.5 * epoch,
        loss=RegularizedNLLLoss(
            regularizer=lambda m: regularization(m.augmentation, "augnet")
        ),
        extra_record=lambda m: m.augmentation.state_record(),
    )
    assert result.n_epochs == 3 and result.best_epoch == 2
    assert np.isnan(result.best_score)
    frame = result.history_frame()
    assert list(frame.columns[:9]) == [
        "epoch",
        "train_loss",
        "train_ce",
        "train_reg",
        "lam",
        "valid_balanced_accuracy",
        "train_s",
        "valid_s",
        "dur_s",
    ]
    assert "weight/0/gaussian_noise" in frame and "magnitude/0/time_reverse" in frame
    assert frame.lam.tolist() == [0.0, 0.5, 1.0]
    assert frame.valid_balanced_accuracy.isna().all() and (frame.valid_s == 0).all()
    assert (frame.train_reg < 0).all()
    np.testing.assert_allclose(
        frame.train_loss, frame.train_ce + frame.lam * frame.train_reg, rtol=1e-5
    )
    assert (frame.dur_s >= frame.train_s).all()
    assert set(result.times) == {"train_s", "valid_s", "total_s"}
    assert result.times["total_s"] >= frame.dur_s.sum() >= result.times["train_s"]
    assert not model.training  # evaluation mode at the end


def test_same_generator_same_weights(toy):
    X, y = toy
    states = []
    for _ in range(2):
        model = _model()
        _fit(model, X, y, post_step=AugNet.clamp_magnitudes_)
        states.append(model.state_dict())
    for k in states[0]:
        torch.testing.assert_close(states[0][k], states[1][k], rtol=0, atol=0)


def test_post_step_runs_after_every_step(toy):
    X, y = toy
    model = _model()
    calls = []
    _fit(model, X, y, post_step=lambda m: calls.append(m.augmentation.magnitudes))
    assert len(calls) == 3 * 3  # 3 epochs of ceil(40 / 16) batches
    # AugNet's projection: the stored (unconstrained) magnitudes stay in [0, 1]
    # although a large lambda pushes them up at every step.
    model = _model()
    layer = model.augmentation.layers[0]
    with torch.no_grad():
        layer._magnitudes.fill_(0.999)
    reg = lambda m: regularization(m.augmentation, "augerino")  # noqa: E731
    _fit(
        model,
        X,
        y,
        loss=RegularizedNLLLoss(regularizer=reg),
        lam=100.0,
        post_step=AugNet.clamp_magnitudes_,
    )
    assert (layer._magnitudes.detach() == 1.0).all()


def test_pluggable_loss(toy):
    X, y = toy

    def doubled(model, log_proba, y, lam):
        ce = nn.functional.nll_loss(log_proba, y)
        return 2 * ce, ce, torch.zeros(())

    frame = _fit(_model(augment=False), X, y, loss=doubled).history_frame()
    np.testing.assert_allclose(frame.train_loss, 2 * frame.train_ce, rtol=1e-6)


def test_early_stopping_stops_and_restores_the_best_weights(toy):
    X, y = toy
    model = _model(augment=False)
    scores = iter([0.2, 0.6, 0.5, 0.6, 0.1, 0.9])
    snapshots = []
    result = _fit(
        model,
        X,
        y,
        max_epochs=6,
        valid_score=lambda m: next(scores),
        early_stopping=EarlyStopping(patience=2),
        on_epoch_end=lambda record: snapshots.append(
            {k: v.clone() for k, v in model.state_dict().items()}
        ),
    )
    # 0.6 at epoch 1 is not beaten (ties do not count) by epoch 3: stop there.
    assert result.n_epochs == 4 and result.best_epoch == 1
    assert result.best_score == 0.6
    assert result.history_frame().valid_balanced_accuracy.tolist() == [
        0.2,
        0.6,
        0.5,
        0.6,
    ]
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, snapshots[1][k], rtol=0, atol=0)
    assert result.times["valid_s"] >= 0


def test_early_stopping_without_patience_keeps_the_best():
    stopper = EarlyStopping(patience=None)
    model = nn.Linear(2, 2)
    assert not any(stopper.step(s, e, model) for e, s in enumerate([0.5, 0.1, 0.2]))
    assert stopper.best_epoch == 0 and stopper.restore(model)
    stopper.reset()
    assert stopper.best_state is None and not stopper.restore(model)


def test_early_stopping_needs_a_score(toy):
    X, y = toy
    with pytest.raises(ValueError, match="valid_score"):
        _fit(_model(), X, y, early_stopping=EarlyStopping(3))


def test_regularized_nll_loss_with_class_weights(toy):
    _, y = toy
    log_proba = torch.log_softmax(torch.randn(len(y), 3), dim=1)
    weight = torch.tensor([1.0, 2.0, 0.5])
    model = _model()
    reg = lambda m: regularization(m.augmentation, "augerino")  # noqa: E731
    loss, ce, r = RegularizedNLLLoss(weight, reg)(model, log_proba, y, 0.3)
    torch.testing.assert_close(ce, nn.functional.nll_loss(log_proba, y, weight=weight))
    torch.testing.assert_close(r, regularization(model.augmentation, "augerino"))
    torch.testing.assert_close(loss, ce + 0.3 * r)
    loss, ce, r = RegularizedNLLLoss()(model, log_proba, y, 0.3)
    assert float(r) == 0 and torch.equal(loss, ce)


def test_make_optimizer_groups():
    model = _model()
    aug = {id(p) for p in model.augmentation.parameters()}
    optimizer = make_optimizer(model, lr=1e-3, betas=(0, 0.999), weight_decay=0.1)
    trunk_group, aug_group = optimizer.param_groups
    assert {id(p) for p in aug_group["params"]} == aug
    assert not aug & {id(p) for p in trunk_group["params"]}
    assert (trunk_group["weight_decay"], aug_group["weight_decay"]) == (0.1, 0.0)
    assert trunk_group["fused"] and trunk_group["betas"] == (0.0, 0.999)
    # The demo's paper settings: decay on the augmentation too, for-each Adam.
    optimizer = make_optimizer(
        model, lr=1e-2, weight_decay=1e-4, augmentation_weight_decay=1e-4, fused=False
    )
    assert [g["weight_decay"] for g in optimizer.param_groups] == [1e-4, 1e-4]
    assert not optimizer.param_groups[0]["fused"]
    # No augmentation: one group.
    assert len(make_optimizer(_model(augment=False), lr=1e-3).param_groups) == 1


def test_batch_sizes():
    assert predict_batch_size(1, 6, 3000) == PREDICT_BATCH_VALUES // 18000 == 233
    assert predict_batch_size(20, 6, 3000) == 11
    assert predict_batch_size(20, 64, 10**6) == 1
    assert trunk_chunk_size(6, 3000, torch.device("cpu")) == 29
    assert trunk_chunk_size(1, 10**7, "cpu") == 1 <= CPU_TRUNK_CHUNK_VALUES
    assert trunk_chunk_size(6, 3000, torch.device("cuda")) is None


def test_make_generator_seeds():
    a = torch.rand(3, generator=make_generator(0))
    assert torch.equal(a, torch.rand(3, generator=make_generator(0)))
    rs = np.random.RandomState(0)
    assert not torch.equal(
        torch.rand(3, generator=make_generator(rs)),
        torch.rand(3, generator=make_generator(rs)),
    )


def _scores_by_epoch(values):
    """valid_score returning ``values[epoch]``, the epoch read from the history."""
    epochs = []

    def valid_score(model):
        return values[epochs[-1] + 1 if epochs else 0]

    def on_epoch_end(record):
        epochs.append(record["epoch"])

    return valid_score, on_epoch_end


def test_valid_every_scores_every_kth_and_the_last_epoch(toy):
    X, y = toy
    calls = []

    def valid_score(model):
        calls.append(model.training)
        return 0.5

    result = _fit(_model(), X, y, max_epochs=7, valid_score=valid_score, valid_every=3)
    frame = result.history_frame()
    validated = frame.valid_balanced_accuracy.notna()
    # Epochs 2 and 5 (every third), and 6, the last of max_epochs.
    assert frame.epoch[validated].tolist() == [2, 5, 6] and len(calls) == 3
    assert (frame.valid_s[~validated] == 0).all()
    assert (frame.valid_s[validated] > 0).all()
    assert result.times["valid_s"] == pytest.approx(frame.valid_s.sum())
    # valid_every=1 (the default) scores every epoch.
    frame = _fit(_model(), X, y, valid_score=valid_score).history_frame()
    assert frame.valid_balanced_accuracy.notna().all()


def test_valid_every_does_not_change_training(toy):
    X, y = toy
    frames = [
        _fit(
            _model(),
            X,
            y,
            max_epochs=4,
            valid_score=lambda m: 0.5,
            valid_every=k,
            post_step=AugNet.clamp_magnitudes_,
        ).history_frame()
        for k in (1, 3)
    ]
    np.testing.assert_array_equal(frames[0].train_loss, frames[1].train_loss)


def test_valid_every_patience_counts_epochs_and_restores_the_best(toy):
    X, y = toy
    # Scores by epoch; only the odd epochs are validated with valid_every=2.
    values = [0.0, 0.3, 0.0, 0.8, 0.0, 0.5, 0.0, 0.6, 0.0, 0.9, 0.0, 0.0]
    model = _model(augment=False)
    valid_score, track = _scores_by_epoch(values)
    snapshots = {}

    def on_epoch_end(record):
        track(record)
        snapshots[record["epoch"]] = {
            k: v.clone() for k, v in model.state_dict().items()
        }

    result = _fit(
        model,
        X,
        y,
        max_epochs=len(values),
        valid_score=valid_score,
        valid_every=2,
        early_stopping=EarlyStopping(patience=3),
        on_epoch_end=on_epoch_end,
    )
    # Best 0.8 at epoch 3; epoch 5 is 2 epochs later (< 3), epoch 7 is 4 (>= 3):
    # stop after epoch 7. Counted in validations, patience 3 would have run on to
    # epoch 9 and its 0.9.
    assert result.n_epochs == 8 and result.best_epoch == 3
    assert result.best_score == 0.8
    scores = result.history_frame().valid_balanced_accuracy
    assert scores.isna().tolist() == [True, False] * 4
    assert scores.dropna().tolist() == [0.3, 0.8, 0.5, 0.6]
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, snapshots[3][k], rtol=0, atol=0)


def test_valid_every_skipped_epochs_are_never_the_best(toy):
    X, y = toy
    # The best score of every epoch would be epoch 2's; it is not validated.
    values = [0.1, 0.2, 0.9, 0.3, 0.1, 0.0]
    valid_score, track = _scores_by_epoch(values)
    result = _fit(
        _model(augment=False),
        X,
        y,
        max_epochs=6,
        valid_score=valid_score,
        valid_every=2,
        early_stopping=EarlyStopping(patience=None),
        on_epoch_end=track,
    )
    assert result.n_epochs == 6 and (result.best_epoch, result.best_score) == (3, 0.3)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_valid_every_is_checked(toy, bad):
    X, y = toy
    with pytest.raises(ValueError, match="valid_every"):
        _fit(_model(), X, y, valid_every=bad)


def _interrupt_at_step(n_steps):
    """A post_step that raises KeyboardInterrupt (Ctrl-C) after ``n_steps`` steps."""
    count = iter(range(1, 10**6))

    def post_step(model):
        if next(count) == n_steps:
            raise KeyboardInterrupt

    return post_step


@pytest.mark.parametrize("validated", [True, False])
def test_interrupt_returns_the_finished_epochs_and_their_best_weights(toy, validated):
    # 40 windows in batches of 16: 3 steps per epoch; Ctrl-C after the second step
    # of epoch 3, when the weights are already those of a half-done epoch.
    X, y = toy
    model = _model(augment=False)
    snapshots = []
    scores = iter([0.2, 0.6, 0.5, 0.9, 0.9])
    kwargs = {}
    if validated:
        kwargs = dict(
            valid_score=lambda m: next(scores),
            early_stopping=EarlyStopping(patience=None),
        )
    result = _fit(
        model,
        X,
        y,
        max_epochs=6,
        post_step=_interrupt_at_step(3 * 3 + 2),
        on_epoch_end=lambda record: snapshots.append(
            {k: v.clone() for k, v in model.state_dict().items()}
        ),
        **kwargs,
    )
    assert result.interrupted
    assert result.n_epochs == 3 and len(snapshots) == 3
    assert result.history_frame().epoch.tolist() == [0, 1, 2]
    best = 1 if validated else 2  # the best validated, else the last finished
    assert result.best_epoch == best
    assert result.best_score == 0.6 if validated else np.isnan(result.best_score)
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, snapshots[best][k], rtol=0, atol=0)
    assert not model.training
    assert set(result.times) == {"train_s", "valid_s", "total_s"}


def test_interrupt_before_any_epoch_finished_is_raised(toy):
    X, y = toy
    with pytest.raises(KeyboardInterrupt):
        _fit(_model(augment=False), X, y, post_step=_interrupt_at_step(2))
    # A finished fit is not marked.
    assert not _fit(_model(augment=False), X, y).interrupted
