import pytest
import torch

from augsleep.augment import AugLayer, AugmentationModule, Identity
from augsleep.augment.regularizers import lambda_at, regularization
from augsleep.transforms import GaussianNoise, TimeReverse


def _module():
    layers = [
        AugLayer(
            [GaussianNoise(), TimeReverse()],
            initial_weights=[0.25, 0.75],
            initial_magnitudes=[0.2, 0.6],
        ),
        AugLayer([GaussianNoise()], initial_magnitudes=0.5),
    ]
    return AugmentationModule(layers)


def test_augnet_regularizer_is_minus_norm_of_weights_times_magnitudes():
    expected = -torch.tensor([0.25 * 0.2, 0.75 * 0.6, 1.0 * 0.5]).norm()
    torch.testing.assert_close(regularization(_module(), "augnet"), expected)


def test_augerino_regularizer_ignores_weights():
    expected = -torch.tensor([0.2, 0.6, 0.5]).norm()
    torch.testing.assert_close(regularization(_module(), "augerino"), expected)


def test_none_and_identity_give_zero():
    assert regularization(_module(), "none") == 0
    for kind in ("augnet", "augerino", "none"):
        assert regularization(Identity(), kind) == 0
    with pytest.raises(TypeError, match="Identity"):
        regularization(None, "augnet")


def test_augnet_gradient_pushes_the_largest_magnitude_weight_up():
    # The paper's selective property: dR/dw favours the larger magnitude.
    module = AugmentationModule(
        [AugLayer([GaussianNoise(), TimeReverse()], initial_magnitudes=[0.2, 0.6])]
    )
    regularization(module, "augnet").backward()
    grad = module.layers[0]._weights.grad
    assert grad[1] < 0 < grad[0]  # descending R raises w for mu = 0.6


def test_unknown_regularizer():
    with pytest.raises(ValueError, match="Unknown regularizer 'l1'"):
        regularization(_module(), "l1")


def test_lambda_schedules():
    assert lambda_at(0.2, 7) == 0.2
    assert lambda_at(lambda e: 1.0 / (e + 1), 3) == 0.25
    schedule = {0: 0.5, 40: 0.05}
    assert lambda_at(schedule, 39) == 0.5
    assert lambda_at(schedule, 40) == 0.05
    with pytest.raises(ValueError, match="must define epoch 0"):
        lambda_at({5: 1.0}, 6)
    with pytest.raises(ValueError, match="lambda must be a finite number >= 0"):
        lambda_at(-1.0, 0)
    for value in (float("nan"), float("inf")):  # from a callable or a schedule
        with pytest.raises(ValueError, match="lambda must be a finite number >= 0"):
            lambda_at(lambda e, v=value: v, 0)
        with pytest.raises(ValueError, match="lambda must be a finite number >= 0"):
            lambda_at({0: 1.0, 3: value}, 4)
