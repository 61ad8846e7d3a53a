"""One polysomnography recording (PSG EDF + hypnogram EDF+) to labelled windows.

Shared by the Sleep-EDF and MASS loaders: read the header checks, the hypnogram,
crop, pick, convert to microvolts, re-reference, filter, resample, window.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ._edf import read_edf_header
from ._report import RecordingReport
from ._stages import ANNOTATION_TO_STAGE, UNSCORABLE_ANNOTATIONS
from .windows import stage_epochs, windows_from_raw

if TYPE_CHECKING:
    from braindecode.datasets import EEGWindowsDataset

# Extra signal kept on each side of the windows so that filter edge effects
# stay outside them.
_PAD_S = 10.0


def check_channels(header: dict, channels: Sequence[str], psg: Path) -> None:
    """Raise if a channel is absent or if the channels differ in sampling rate."""
    labels = header["labels"]
    missing = [ch for ch in channels if ch not in labels]
    if missing:
        available = [lb for lb in labels if lb != "EDF Annotations"]
        raise ValueError(
            f"Channel(s) {missing} not found in {psg}; available channels: {available}."
        )
    rates = {ch: header["sfreqs"][labels.index(ch)] for ch in channels}
    if len(set(rates.values())) > 1:
        raise ValueError(
            f"Channels of {psg} have different sampling rates {rates}; "
            "pick channels recorded at the same rate."
        )


def read_hypnogram(path: Path):
    """Read the annotations of a hypnogram EDF+ file, naming it in errors."""
    import mne

    read_edf_header(path)  # existence, corruption and truncation checks
    try:
        return mne.read_annotations(path)
    except Exception as e:  # MNE raises many types on malformed files
        raise ValueError(f"Could not read hypnogram {path}: {e}") from e


def load_recording(
    psg: Path,
    hypnogram: Path,
    channels: Sequence[str],
    description: Mapping,
    *,
    rename: Mapping[str, str] | None = None,
    reference: str | None = None,
    montage: str | None = None,
    annotation_map: Mapping[str, str] = ANNOTATION_TO_STAGE,
    unscorable: Iterable[str] = UNSCORABLE_ANNOTATIONS,
    window_s: float = 30.0,
    crop_wake_mins: float | None = None,
    l_freq: float | None = None,
    h_freq: float | None = 30.0,
    sfreq: float | None = 100.0,
    standardize: bool = False,
) -> tuple[EEGWindowsDataset, RecordingReport]:
    """Load, preprocess and window one PSG recording.

    Parameters
    ----------
    psg, hypnogram : Path
        EDF file of the signals and EDF+ file of the stage annotations.
    channels : sequence of str
        EDF labels of the channels to keep, in output order.
    description : mapping
        Recording description (subject, recording, ...).
    rename : mapping of str to str | None
        New names for the kept channels.
    reference : str | None
        EDF label of a channel to subtract from every kept channel (then dropped).
    montage : str | None
        Name of an MNE built-in montage giving the channel positions (after
        renaming).
    annotation_map, unscorable, window_s, crop_wake_mins
        See :func:`augsleep.data.windows.stage_epochs`.
    l_freq, h_freq : float | None
        Band-pass edges in Hz (None: no high-pass / no low-pass).
    sfreq : float | None
        Output sampling rate in Hz (None: keep the recorded one).
    standardize : bool
        Whether to standardise every window, channel by channel.

    Returns
    -------
    windows : EEGWindowsDataset
        Windows of shape (n_channels, n_times), microvolts.
    report : RecordingReport
        What was kept and dropped.
    """
    import mne

    header = read_edf_header(psg)
    picks = list(channels) + ([reference] if reference else [])
    check_channels(header, picks, psg)
    annotations = read_hypnogram(hypnogram)
    signal_s = header["n_records"] * header["record_duration"]
    onsets, stages, report = stage_epochs(
        annotations,
        signal_s,
        source=str(hypnogram),
        window_s=window_s,
        annotation_map=annotation_map,
        unscorable=unscorable,
        crop_wake_mins=crop_wake_mins,
    )
    report.source = str(psg)
    if len(onsets) == 0:
        raise ValueError(
            f"No scored epoch of {hypnogram} lies inside the signal of {psg} "
            f"({signal_s:.0f} s); dropped: {dict(report.dropped)}."
        )
    try:
        raw = mne.io.read_raw_edf(psg, include=picks, preload=False, verbose="error")
    except Exception as e:  # MNE raises many types on malformed files
        raise ValueError(f"Could not read PSG {psg}: {e}") from e
    # Read only the scored part of the night (plus a margin for the filters).
    tmin = max(onsets[0] - _PAD_S, 0.0)
    tmax = min(onsets[-1] + window_s + _PAD_S, raw.times[-1])
    raw.crop(tmin, tmax).load_data(verbose="error")
    t_start = raw.first_samp / raw.info["sfreq"]
    raw.reorder_channels(picks)
    # MNE reads EDF physical units into volts; augsleep works in microvolts.
    raw.apply_function(lambda x: x * 1e6, channel_wise=False)
    if reference:
        raw.set_eeg_reference([reference], verbose="error")
        raw.drop_channels([reference])
    if rename:
        raw.rename_channels(dict(rename))
    if montage:
        raw.set_montage(montage, on_missing="warn", verbose="error")
    if l_freq is not None or h_freq is not None:
        raw.filter(l_freq, h_freq, picks="all", verbose="error")
    if sfreq is not None and sfreq != raw.info["sfreq"]:
        raw.resample(sfreq, verbose="error")
    windows = windows_from_raw(
        raw,
        onsets - t_start,
        stages,
        {**description, "source": str(psg), "hypnogram": str(hypnogram)},
        window_s=window_s,
        standardize=standardize,
    )
    return windows, report


def recording_config(**kwargs) -> dict:
    """JSON-friendly preprocessing configuration, for the cache key."""
    return {
        k: (list(v) if isinstance(v, tuple) else v)
        for k, v in kwargs.items()
        if not isinstance(v, np.ndarray)
    }
