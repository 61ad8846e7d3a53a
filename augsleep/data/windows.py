"""Scored epochs -> braindecode windows -> numpy arrays or ``mne.Epochs``.

Every loader goes through the same two steps: :func:`stage_epochs` turns a
hypnogram (``mne.Annotations``) into one onset and one stage per window, counting
every epoch it drops; :func:`windows_from_raw` cuts those windows out of a
preprocessed ``mne.io.Raw`` with braindecode. :func:`to_numpy` and
:func:`to_epochs` convert the result for scikit-learn and MNE.

Signals are in microvolts throughout, although the MNE objects that carry them
label the channels as volts; :func:`to_epochs` can rescale to volts for MNE's
plotting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ._report import RecordingReport
from ._stages import (
    ANNOTATION_TO_STAGE,
    STAGE_NAMES,
    STAGE_PREFIX,
    STAGE_TO_INT,
    UNSCORABLE_ANNOTATIONS,
)

if TYPE_CHECKING:
    import mne
    from braindecode.datasets import BaseConcatDataset, EEGWindowsDataset

# Slack (s) when comparing annotation times: EDF+ stores them as decimal text.
_TOL = 1e-3


def stage_epochs(
    annotations: mne.Annotations,
    signal_duration: float,
    *,
    source: str,
    window_s: float = 30.0,
    annotation_map: Mapping[str, str] = ANNOTATION_TO_STAGE,
    unscorable: Iterable[str] = UNSCORABLE_ANNOTATIONS,
    crop_wake_mins: float | None = None,
    onset_offset: float = 0.0,
) -> tuple[np.ndarray, list[str], RecordingReport]:
    """Split stage annotations into windows and count every epoch dropped.

    An annotation lasting several windows (Sleep-EDF scores runs of identical
    epochs as one annotation) gives one window per ``window_s``; a remainder
    shorter than ``window_s`` is dropped as a ``"partial window"``.

    Parameters
    ----------
    annotations : mne.Annotations
        Hypnogram; onsets in seconds from the start of the signal (plus
        ``onset_offset``).
    signal_duration : float
        Length of the signal, in seconds; epochs ending after it are dropped as
        ``"past end of signal"``.
    source : str
        Hypnogram file, named in errors and in the report.
    window_s : float
        Window length, in seconds.
    annotation_map : mapping of str to str
        Annotation description to stage name (a key of ``STAGE_TO_INT``).
    unscorable : iterable of str
        Descriptions of scored epochs without a stage; dropped and counted under
        their description.
        Other descriptions starting with ``Sleep stage`` (any case) are unknown
        stage labels: dropped, counted as ``"unknown stage label"`` and listed in
        the report's ``unknown_labels``; the remaining ones (events such as
        arousals) are counted in ``ignored_annotations``.
    crop_wake_mins : float | None
        Keep only this many minutes of wake before the first and after the last
        sleep epoch (dropped wake is counted as ``"wake outside crop"``); None
        keeps everything.
    onset_offset : float
        Seconds added to every onset (e.g. the hypnogram starting after the PSG).

    Returns
    -------
    onsets : ndarray, shape (n_windows,)
        Window onsets in seconds from the start of the signal, increasing.
    stages : list of str, length n_windows
        Stage name of each window.
    report : RecordingReport
        Drop counts (``n_windows`` filled in) with ``source`` set.

    Raises
    ------
    ValueError
        If there is no stage annotation at all, or if stage epochs overlap.
    """
    report = RecordingReport(source=str(source))
    unscorable = set(unscorable)
    onsets, stages = [], []
    n_stage_annotations = 0
    for onset, duration, desc in zip(
        annotations.onset, annotations.duration, annotations.description, strict=True
    ):
        desc = desc.strip()
        n_full = int(np.floor((duration + _TOL) / window_s))
        partial = bool(duration - n_full * window_s > _TOL)
        if desc in unscorable:
            report.dropped[desc] += n_full + partial
            continue
        if desc not in annotation_map:
            if desc.casefold().startswith(STAGE_PREFIX):  # a typo, another scheme
                report.dropped["unknown stage label"] += n_full + partial
                report.unknown_labels[desc] += n_full + partial
                report.unknown_seconds[desc] += float(duration)
            else:  # an event (arousal, lights off), not a scored epoch
                report.ignored_annotations[desc] += 1
            continue
        n_stage_annotations += 1
        report.dropped["partial window"] += partial
        starts = onset + onset_offset + window_s * np.arange(n_full)
        before = starts < -_TOL
        past = starts + window_s > signal_duration + _TOL
        report.dropped["before start of signal"] += int(before.sum())
        report.dropped["past end of signal"] += int(past.sum())
        keep = starts[~before & ~past]
        onsets.extend(keep)
        stages.extend([annotation_map[desc]] * len(keep))
    if n_stage_annotations == 0:
        found = sorted(set(annotations.description))
        raise ValueError(
            f"Hypnogram {source} has no sleep stage annotations (expected some "
            f"of {sorted(annotation_map)}); found: {found or 'no annotations'}."
        )
    onsets = np.asarray(onsets, dtype=float)
    stages = list(stages)
    order = np.argsort(onsets, kind="stable")
    onsets, stages = onsets[order], [stages[i] for i in order]
    gaps = np.diff(onsets)
    if np.any(gaps < window_s - _TOL):
        i = int(np.argmax(gaps < window_s - _TOL))
        raise ValueError(
            f"Hypnogram {source} has overlapping stage epochs at "
            f"{onsets[i]:.2f} s and {onsets[i + 1]:.2f} s."
        )
    if crop_wake_mins is not None:
        sleep = np.array([s != "W" for s in stages])
        if sleep.any():
            first = onsets[sleep].min() - 60 * crop_wake_mins
            last = onsets[sleep].max() + window_s + 60 * crop_wake_mins
            keep = (onsets >= first - _TOL) & (onsets + window_s <= last + _TOL)
            report.dropped["wake outside crop"] += int((~keep).sum())
            onsets, stages = (
                onsets[keep],
                [s for s, k in zip(stages, keep, strict=True) if k],
            )
    report.dropped = +report.dropped  # forget zero counts
    report.n_windows = len(onsets)
    return onsets, stages, report


def _standardize_segments(data: np.ndarray, starts: np.ndarray, n_times: int):
    # Windows never overlap (checked by stage_epochs), so standardising their
    # segments of the continuous signal in place standardises each window.
    for s in starts:
        seg = data[:, s : s + n_times]
        std = seg.std(axis=1, keepdims=True)
        seg -= seg.mean(axis=1, keepdims=True)
        seg /= np.where(std > 0, std, 1.0)
    return data


def windows_from_raw(
    raw: mne.io.BaseRaw,
    onsets: np.ndarray,
    stages: Sequence[str],
    description: Mapping,
    *,
    window_s: float = 30.0,
    mapping: Mapping[str, int] = STAGE_TO_INT,
    standardize: bool = False,
) -> EEGWindowsDataset:
    """Cut labelled windows out of a preprocessed recording with braindecode.

    Parameters
    ----------
    raw : mne.io.Raw
        Preprocessed, preloaded signal (microvolts); its annotations are
        replaced by one annotation per window.
    onsets : ndarray, shape (n_windows,)
        Window onsets in seconds from the first sample of ``raw``.
    stages : sequence of str, length n_windows
        Label name of each window, a key of ``mapping``.
    description : mapping
        Recording description (``subject``, ``recording``, ...), stored by
        braindecode and repeated for every window in ``get_metadata()``.
    window_s : float
        Window length, in seconds; ``window_s * sfreq`` must be an integer.
    mapping : mapping of str to int
        Label name to integer target.
    standardize : bool
        Whether to standardise every window, channel by channel, to zero mean
        and unit variance (the output is then unitless).

    Returns
    -------
    windows : braindecode.datasets.EEGWindowsDataset
        ``len(windows) == len(onsets)``; item ``i`` is ``(X, y, crop_inds)``
        with ``X`` of shape (n_channels, n_times).
    """
    import mne
    from braindecode.datasets import BaseConcatDataset, RawDataset
    from braindecode.preprocessing import create_windows_from_events

    sfreq = raw.info["sfreq"]
    n_times = int(round(window_s * sfreq))
    if abs(n_times - window_s * sfreq) > 1e-6:
        raise ValueError(
            f"window_s * sfreq must be an integer, got {window_s} s at {sfreq} Hz."
        )
    if len(onsets) != len(stages):
        raise ValueError(
            f"onsets and stages differ in length: {len(onsets)} != {len(stages)}."
        )
    unknown = sorted(set(stages) - set(mapping))
    if unknown:
        raise ValueError(f"Labels {unknown} are not in the mapping {dict(mapping)}.")
    onsets = np.asarray(onsets, dtype=float)
    starts = np.round(onsets * sfreq).astype(int)
    if len(starts) and (starts.min() < 0 or starts.max() + n_times > raw.n_times):
        raise ValueError(
            f"Windows of {description.get('source', 'the recording')} run outside "
            f"the signal ({raw.n_times} samples at {sfreq} Hz)."
        )
    if standardize:
        raw.apply_function(
            _standardize_segments, starts=starts, n_times=n_times, channel_wise=False
        )
    duration = n_times / sfreq
    if int(duration * sfreq) < n_times:  # braindecode truncates duration * sfreq
        duration = np.nextafter(duration, np.inf)
    raw.set_annotations(
        mne.Annotations(
            onset=starts / sfreq,
            duration=np.full(len(starts), duration),
            description=list(stages),
            orig_time=None,
        )
    )
    present = {k: v for k, v in mapping.items() if k in set(stages)}
    concat = BaseConcatDataset([RawDataset(raw, description=dict(description))])
    windows = create_windows_from_events(
        concat,
        window_size_samples=n_times,
        window_stride_samples=n_times,
        mapping=present,
        preload=True,
        on_last_window="drop",
    ).datasets[0]
    if len(windows) != len(onsets):  # braindecode must not drop anything
        raise RuntimeError(
            f"braindecode made {len(windows)} windows out of {len(onsets)} epochs."
        )
    return windows


def concat_windows(datasets: Sequence, report=None) -> BaseConcatDataset:
    """Concatenate windows datasets, attaching the loading report.

    Parameters
    ----------
    datasets : sequence of EEGWindowsDataset
        One per recording.
    report : LoadingReport | None
        Stored as the ``loading_report`` attribute of the result.

    Returns
    -------
    dataset : braindecode.datasets.BaseConcatDataset
        The concatenation.
    """
    from braindecode.datasets import BaseConcatDataset

    if len(datasets) == 0:
        raise ValueError("No recording was loaded.")
    dataset = BaseConcatDataset(list(datasets))
    dataset.loading_report = report
    return dataset


def _window_array(ds) -> np.ndarray:
    from braindecode.datasets import EEGWindowsDataset

    if isinstance(ds, EEGWindowsDataset) and ds.transform is None:
        data = ds.raw.get_data()
        starts, stops = ds.crop_inds[:, 1], ds.crop_inds[:, 2]
        n_times = int(stops[0] - starts[0]) if len(starts) else 0
        if np.any(stops - starts != n_times):
            raise ValueError("Windows of one recording must have the same length.")
        idx = starts[:, None] + np.arange(n_times)[None, :]
        return data[:, idx].transpose(1, 0, 2).astype(np.float32)
    return np.stack([ds[i][0] for i in range(len(ds))]).astype(np.float32)


def to_numpy(
    dataset: BaseConcatDataset, groups: str = "subject"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stack all windows into arrays for scikit-learn.

    Parameters
    ----------
    dataset : braindecode.datasets.BaseConcatDataset
        Windows datasets (as returned by the loaders).
    groups : str
        Description field giving the group of each window (subject ids by
        default, for subject-wise splitting).

    Returns
    -------
    X : ndarray, shape (n_windows, n_channels, n_times)
        Windows, float32, microvolts (unless loaded with ``standardize=True``).
    y : ndarray, shape (n_windows,)
        Integer labels (0=W, 1=N1, 2=N2, 3=N3, 4=REM for sleep data), int64.
    groups : ndarray, shape (n_windows,)
        Value of the ``groups`` description field for each window.

    Raises
    ------
    ValueError
        If two recordings differ in channels, sampling rate or window shape
        (naming both and the differing values).
    """
    Xs, ys, gs = [], [], []
    first = None
    for ds in dataset.datasets:
        if groups not in ds.description:
            raise KeyError(
                f"Description field {groups!r} not found; available: "
                f"{list(ds.description.index)}."
            )
        X = _window_array(ds)
        # Same array shapes are not enough: 100 Hz x 30 s and 200 Hz x 15 s
        # windows, or as many other channels, must never be stacked together.
        layout = _layout(ds, X)
        first = first or (ds, layout)
        differ = [
            f"{k} {v} vs {layout[k]}" for k, v in first[1].items() if v != layout[k]
        ]
        if differ:
            raise ValueError(
                f"Recordings {_name(first[0])} and {_name(ds)} differ: "
                f"{'; '.join(differ)}. Load them with the same channels, sampling "
                "rate and window length."
            )
        Xs.append(X)
        ys.append(np.asarray(ds.y if hasattr(ds, "y") else [], dtype=np.int64))
        gs.append(np.full(len(X), ds.description[groups]))
    return np.concatenate(Xs), np.concatenate(ys), np.concatenate(gs)


def _layout(ds, X: np.ndarray) -> dict:
    raw = getattr(ds, "raw", None)
    return {
        "channels": list(raw.ch_names) if raw is not None else None,
        "sampling rate": f"{raw.info['sfreq']} Hz" if raw is not None else None,
        "window shape": X.shape[1:],
    }


def _name(ds) -> str:
    return str(ds.description.get("source", dict(ds.description)))


def to_epochs(
    dataset: BaseConcatDataset,
    units: str = "uV",
    stage_names: Sequence[str] = STAGE_NAMES,
) -> mne.EpochsArray:
    """Convert windows to ``mne.Epochs``, one epoch per window.

    Parameters
    ----------
    dataset : braindecode.datasets.BaseConcatDataset
        Windows datasets with the same channels and sampling rate.
    units : {"uV", "V"}
        ``"uV"`` keeps the data in microvolts, as everywhere in augsleep (MNE
        will call them volts); ``"V"`` divides by 1e6 for MNE's SI convention,
        which its plotting functions expect.
    stage_names : sequence of str
        Name of each integer label, used as ``event_id`` keys.

    Returns
    -------
    epochs : mne.EpochsArray
        Data of shape (n_windows, n_channels, n_times); ``metadata`` holds one
        row per window with the recording description and ``target``.
    """
    import mne
    import pandas as pd

    if units not in ("uV", "V"):
        raise ValueError(f"units must be 'uV' or 'V', got {units!r}.")
    # to_numpy refuses recordings that differ in channels or sampling rate.
    X, y, _ = to_numpy(dataset, groups=dataset.datasets[0].description.index[0])
    info = dataset.datasets[0].raw.info
    info = mne.create_info(info.ch_names, info["sfreq"], ch_types="eeg")
    montage = dataset.datasets[0].raw.get_montage()
    if montage is not None:
        info.set_montage(montage)
    events = np.column_stack([np.arange(len(y)) * X.shape[-1], np.zeros_like(y), y])
    labels = np.unique(y)
    names = [stage_names[i] if i < len(stage_names) else str(i) for i in labels]
    meta = pd.concat(
        [
            pd.DataFrame([dict(ds.description)] * len(ds)).assign(
                target=np.asarray(ds.y)
            )
            for ds in dataset.datasets
        ],
        ignore_index=True,
    )
    scale = 1e-6 if units == "V" else 1.0
    return mne.EpochsArray(
        X.astype(np.float64) * scale,
        info,
        events=events,
        event_id=dict(zip(names, labels.tolist(), strict=True)),
        metadata=meta,
        verbose="error",
    )
