"""The bumps toy task: the label is the bump's position, whatever its sign."""

import numpy as np
import pytest

from augsleep.data import BUMP_POSITIONS, make_bumps


def test_make_bumps_position_gives_the_class_and_sign_is_a_nuisance():
    X, y = make_bumps(6, n_times=101, noise_std=0.0, flip_probability=0.0)
    assert X.shape == (6, 1, 101) and X.dtype == np.float32
    np.testing.assert_array_equal(y, [0, 1, 0, 1, 0, 1])
    # The peak lies at each class's position; every bump is positive.
    peaks = X[:, 0].argmax(axis=-1) / 100
    np.testing.assert_allclose(peaks, np.asarray(BUMP_POSITIONS)[y])
    assert (X.max(axis=-1) > 0).all() and (X.min(axis=-1) >= 0).all()
    # Time reverse maps one class onto the other (a quarter <-> three quarters).
    np.testing.assert_allclose(X[y == 0][..., ::-1], X[y == 1], atol=1e-4)
    # flip_probability=1: the same bumps, negative.
    Xn, yn = make_bumps(6, n_times=101, noise_std=0.0, flip_probability=1.0)
    np.testing.assert_array_equal(yn, y)
    np.testing.assert_allclose(Xn, -X)


def test_make_bumps_draws_signs_with_the_given_probability_and_seed():
    X, _ = make_bumps(2000, noise_std=0.0, flip_probability=0.3, random_state=0)
    negative = X[:, 0].sum(axis=-1) < 0
    assert abs(negative.mean() - 0.3) < 0.03
    a, _ = make_bumps(8, random_state=4)
    b, _ = make_bumps(8, random_state=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, make_bumps(8, random_state=5)[0])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_windows": 0}, "n_windows"),
        ({"n_times": 1}, "n_times"),
        ({"positions": (0.5,)}, "positions"),
        ({"positions": (0.2, 1.5)}, r"positions must lie in \[0, 1\]"),
        ({"width": 0.0}, "width"),
        ({"flip_probability": 1.5}, "flip_probability"),
        ({"noise_std": -1.0}, "noise_std"),
    ],
)
def test_make_bumps_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_bumps(**{"n_windows": 4, **kwargs})
