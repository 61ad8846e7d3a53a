"""Figures: learned augmentation weights and magnitudes across epochs."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # figures are written to files; no display is needed

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def plot_augmentation_history(histories: dict[str, list[dict]]):
    """Plot weights (top) and magnitudes (bottom) across epochs (paper's Fig. B.1).

    Parameters
    ----------
    histories : dict of str to list of dict
        Per run name, the per-epoch records with ``epoch`` and
        ``weight/<layer>/<transform>``, ``magnitude/<layer>/<transform>`` entries.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    n_runs = max(len(histories), 1)
    fig, axes = plt.subplots(
        2, n_runs, figsize=(4.2 * n_runs, 5.5), sharex=True, squeeze=False
    )
    for col, (name, history) in enumerate(histories.items()):
        frame = pd.DataFrame(history).set_index("epoch")
        for row, kind in enumerate(("weight", "magnitude")):
            ax = axes[row, col]
            for column in frame.columns:
                if column.startswith(f"{kind}/"):
                    layer, transform = column.split("/")[1:]
                    ax.plot(
                        frame.index, frame[column], label=f"{transform} (layer {layer})"
                    )
            ax.set_ylim(-0.03, 1.03)
            ax.set_ylabel(kind)
            ax.grid(alpha=0.3)
            if row == 0:
                ax.set_title(name)
            else:
                ax.set_xlabel("epoch")
        axes[0, col].legend(fontsize=8)
    fig.tight_layout()
    return fig
