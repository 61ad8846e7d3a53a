"""The ramps toy task: the label is the direction of time."""

import numpy as np
import pytest

from augsleep.data import make_ramps


def test_make_ramps_time_reverse_maps_one_class_onto_the_other():
    X, y = make_ramps(6, n_times=50, noise_std=0.0)
    assert X.shape == (6, 1, 50) and X.dtype == np.float32
    np.testing.assert_array_equal(y, [0, 1, 0, 1, 0, 1])
    assert (np.diff(X[y == 0], axis=-1) > 0).all()
    np.testing.assert_allclose(X[y == 0][..., ::-1], X[y == 1], atol=1e-5)
    a, _ = make_ramps(4, noise_std=0.3, random_state=3)
    b, _ = make_ramps(4, noise_std=0.3, random_state=3)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="n_windows"):
        make_ramps(0)
    with pytest.raises(ValueError, match="noise_std"):
        make_ramps(4, noise_std=-1.0)
