"""Preset augmentation modules: the transforms of the paper's experiments.

Each preset is a tuple of transform names (see :data:`augsleep.transforms.TRANSFORMS`)
for one :class:`augsleep.augment.AugLayer`; :func:`make_sleep_augmentation`
stacks them into the module of the paper's sleep-staging experiment.
"""

from __future__ import annotations

from collections.abc import Sequence

from augsleep.augment.layers import AugmentationModule

#: Time-frequency layer of the paper's sleep experiment (Table A.4, without sensors).
TIME_FREQUENCY_TRANSFORMS = (
    "time_reverse",
    "gaussian_noise",
    "smooth_time_mask",
    "ft_surrogate",
    "frequency_shift",
    "bandstop_filter",
)
#: Sensor layer of the paper's sleep experiment.
SENSOR_TRANSFORMS = (
    "sign_flip",
    "channels_symmetry",
    "channels_shuffle",
    "channels_dropout",
    "sensors_rotation_x",
    "sensors_rotation_y",
    "sensors_rotation_z",
)
#: Layer of the sinusoid experiment (paper's Section 4.2).
SINUSOID_TRANSFORMS = ("frequency_shift", "ft_surrogate", "gaussian_noise")


def make_sleep_augmentation(
    sfreq: float,
    ch_names: Sequence[str] | None = None,
    positions=None,
    *,
    sensor_layer: bool = True,
    n_time_frequency_layers: int = 2,
    magnitude: float = 0.0,
    temperature: float = 1.0,
    transform_params: dict[str, dict] | None = None,
    n_sampled_transforms: int | None = None,
) -> AugmentationModule:
    """Build the paper's sleep-staging augmentation module.

    Two time-frequency layers (time reverse, Gaussian noise, smooth time mask,
    FT surrogate, frequency shift, bandstop filter) and one sensor layer (sign
    flip, channels symmetry, channels shuffle, channels dropout, rotations about
    x, y and z), with the ranges of the paper's Table A.4.

    Parameters
    ----------
    sfreq : float
        Sampling frequency in Hz.
    ch_names : sequence of str | None
        Channel names (for channels symmetry).
    positions : array-like, shape (n_channels, 3) | None
        Sensor positions (for the rotations).
    sensor_layer : bool
        Whether to add the sensor layer; it needs several channels, ``ch_names``
        and ``positions``.
    n_time_frequency_layers : int
        Number of time-frequency layers.
    magnitude : float
        Initial magnitude of every transform.
    temperature : float
        Softmax temperature of every layer.
    transform_params : dict | None
        Extra constructor parameters by transform name.
    n_sampled_transforms : int | None
        Terms of each layer's training sum (see :class:`augsleep.augment.AugLayer`);
        ``None`` (the paper) sums all of them.

    Returns
    -------
    module : AugmentationModule
    """
    layers = [list(TIME_FREQUENCY_TRANSFORMS)] * n_time_frequency_layers
    if sensor_layer:
        layers = layers + [list(SENSOR_TRANSFORMS)]
    return AugmentationModule.from_names(
        layers,
        sfreq=sfreq,
        ch_names=ch_names,
        positions=positions,
        magnitude=magnitude,
        temperature=temperature,
        transform_params=transform_params,
        n_sampled_transforms=n_sampled_transforms,
    )
