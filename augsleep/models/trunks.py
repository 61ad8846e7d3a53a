"""Trunk networks: the sleep CNN of Chambon et al. (2018) and small sinusoid models."""

from __future__ import annotations

from torch import Tensor, nn


def chambon_trunk(
    n_chans: int, sfreq: float, n_times: int, n_classes: int = 5, **kwargs
) -> nn.Module:
    """Build braindecode's ``SleepStagerChambon2018`` sized for the data.

    Parameters
    ----------
    n_chans : int
        Number of EEG channels.
    sfreq : float
        Sampling frequency in Hz (sets the kernel and pooling sizes in samples).
    n_times : int
        Number of samples per window.
    n_classes : int
        Number of sleep stages.
    **kwargs
        Other parameters of ``SleepStagerChambon2018`` (e.g. ``drop_prob``).

    Returns
    -------
    trunk : nn.Module
        Maps (n_windows, n_chans, n_times) to logits (n_windows, n_classes).
    """
    # braindecode takes ~5 s to import: only pay for it when a trunk is built.
    from braindecode.models import SleepStagerChambon2018

    return SleepStagerChambon2018(
        n_chans=n_chans, sfreq=sfreq, n_times=n_times, n_outputs=n_classes, **kwargs
    )


class SinusoidCNN(nn.Module):
    """Small 1-D CNN of the paper's sinusoid experiment (Table A.2).

    ``n_layers`` blocks of convolution, batch norm and ReLU (the first with a wide
    kernel that spans a couple of periods of the slowest class), max pooling by
    2, an average over time and a linear read-out.

    Parameters
    ----------
    n_classes : int
        Number of classes.
    in_channels : int
        Number of input channels.
    n_filters : int
        Number of filters of every convolution.
    n_layers : int
        Number of convolutional blocks (>= 1).
    first_kernel_size : int
        Kernel size of the first convolution, in samples (100 = 1 s at 100 Hz,
        two periods of the 2 Hz class).
    """

    def __init__(
        self,
        n_classes: int = 4,
        in_channels: int = 1,
        n_filters: int = 2,
        n_layers: int = 2,
        first_kernel_size: int = 100,
    ):
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}.")

        def block(n_in, kernel):
            return [
                nn.Conv1d(n_in, n_filters, kernel, padding=kernel // 2),
                nn.BatchNorm1d(n_filters),
                nn.ReLU(),
            ]

        layers = block(in_channels, first_kernel_size)
        for _ in range(n_layers - 1):
            layers += block(n_filters, 3)
        self.features = nn.Sequential(*layers, nn.MaxPool1d(2))
        self.classifier = nn.Linear(n_filters, n_classes)

    def forward(self, X: Tensor) -> Tensor:
        """Map (n_windows, in_channels, n_times) to logits (n_windows, n_classes)."""
        return self.classifier(self.features(X).mean(dim=-1))


class MLP(nn.Module):
    """Multi-layer perceptron on flattened windows, for the capacity study.

    Parameters
    ----------
    n_inputs : int
        ``n_channels * n_times`` of the input windows.
    n_classes : int
        Number of classes.
    n_neurons : int
        Width of every hidden layer.
    n_layers : int
        Number of hidden layers (>= 1).
    """

    def __init__(
        self, n_inputs: int, n_classes: int = 4, n_neurons: int = 2, n_layers: int = 1
    ):
        super().__init__()
        if n_layers < 1 or n_neurons < 1:
            raise ValueError(
                f"n_layers and n_neurons must be >= 1, got {n_layers} and {n_neurons}."
            )
        layers: list[nn.Module] = [nn.Flatten()]
        width = n_inputs
        for _ in range(n_layers):
            layers += [nn.Linear(width, n_neurons), nn.ReLU()]
            width = n_neurons
        layers.append(nn.Linear(width, n_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, X: Tensor) -> Tensor:
        """Map (n_windows, n_channels, n_times) to logits (n_windows, n_classes)."""
        return self.net(X)
