"""Loader for the DeepSleepNet ``.npz`` layout (DeepSleepNet, TinySleepNet, AttnSleep).

One file per night, named after the Sleep-EDF recording (``SC4ssnE0.npz``), with
``x`` (n_windows, n_times, n_channels), ``y`` (n_windows,), ``fs`` and
``ch_label``. The files also hold pickled EDF headers; they are never read
(``allow_pickle=False``).
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm.auto import tqdm

from ._checks import check_flag
from ._recordings import select_entries
from ._report import LoadingReport, RecordingReport
from ._stages import STAGE_NAMES
from .windows import concat_windows, windows_from_raw

if TYPE_CHECKING:
    from braindecode.datasets import BaseConcatDataset

#: Sleep-EDF file names: study (SC/ST), version digit, subject ``ss``, night ``n``.
SLEEP_EDF_NAME = re.compile(r"^(?P<study>S[CT])\d(?P<subject>\d\d)(?P<night>\d)")


def parse_sleep_edf_name(name: str) -> dict:
    """Read study, subject and night from a Sleep-EDF file name.

    Parameters
    ----------
    name : str
        File name such as ``SC4012E0-PSG.edf`` or ``SC4012E0.npz``.

    Returns
    -------
    info : dict
        ``study`` ("SC" or "ST"), ``subject`` (int; telemetry subjects are offset
        by 100 so that they never share an id with a cassette subject) and
        ``recording`` (int, the night, 1 or 2).
    """
    m = SLEEP_EDF_NAME.match(name)
    if m is None:
        raise ValueError(
            f"File name {name!r} does not follow the Sleep-EDF convention "
            "'SC4ssn...' or 'ST7ssn...' (ss = subject, n = night)."
        )
    offset = 100 if m["study"] == "ST" else 0
    return {
        "study": m["study"],
        "subject": offset + int(m["subject"]),
        "recording": int(m["night"]),
    }


# What a damaged npz raises: zip errors (truncated, bad CRC), EOFError (empty
# file), ValueError (pickled or object data), zlib.error (compressed data).
_READ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)


def _read_field(npz, key: str, path: Path) -> np.ndarray:
    try:
        return npz[key]
    except _READ_ERRORS as e:
        hint = (
            " (an object array: augsleep never unpickles)"
            if "allow_pickle" in str(e)
            else ""
        )
        raise ValueError(
            f"Could not read field {key!r} of npz file {path}{hint}: {e}"
        ) from e


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray, float, list[str]]:
    try:
        npz = np.load(path, allow_pickle=False)
    except _READ_ERRORS as e:
        raise ValueError(f"Could not read npz file {path}: {e}") from e
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ValueError(
            f"Could not read npz file {path}: it holds a single array (a .npy "
            "file?), not the fields 'x', 'y', 'fs' and 'ch_label'."
        )
    with npz:
        missing = [k for k in ("x", "y", "fs", "ch_label") if k not in npz.files]
        if missing:
            raise ValueError(
                f"npz file {path} lacks field(s) {missing}; found {npz.files}."
            )
        x, y, fs, ch_label = (
            _read_field(npz, k, path) for k in ("x", "y", "fs", "ch_label")
        )
    ch_label = np.atleast_1d(ch_label).astype(str).tolist()
    if x.ndim == 2:  # single-channel files sometimes drop the channel axis
        x = x[:, :, None]
    if x.ndim != 3:
        raise ValueError(
            f"Field 'x' of {path} must have shape (n_windows, n_times, "
            f"n_channels), got shape {x.shape}."
        )
    if x.dtype.kind not in "iuf":
        raise ValueError(f"Field 'x' of {path} must hold numbers, got dtype {x.dtype}.")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(
            f"Field 'x' of {path} holds no window: shape {x.shape} (expected "
            "(n_windows, n_times, n_channels), n_windows and n_times >= 1)."
        )
    if y.shape != (x.shape[0],):
        raise ValueError(
            f"Field 'y' of {path} must have shape ({x.shape[0]},) to match 'x' "
            f"of shape {x.shape}, got shape {y.shape}."
        )
    if y.dtype.kind not in "iuf":
        raise ValueError(
            f"Field 'y' of {path} must hold integer labels, got dtype {y.dtype}."
        )
    if y.dtype.kind == "f":  # accepted if integral: never truncated
        bad = np.unique(y[~np.isfinite(y) | (y != np.round(y))])
        if len(bad):
            raise ValueError(
                f"Field 'y' of {path} has non-integer label(s) {bad.tolist()[:5]}; "
                "expected integers 0..4."
            )
    if y.min() < 0 or y.max() >= len(STAGE_NAMES):
        bad = sorted(set(np.unique(y).tolist()) - set(range(len(STAGE_NAMES))))
        raise ValueError(
            f"Field 'y' of {path} has labels {bad} outside 0..4 "
            "(0=W, 1=N1, 2=N2, 3=N3, 4=REM)."
        )
    if fs.size != 1 or fs.dtype.kind not in "iuf" or not 0 < float(fs) < np.inf:
        raise ValueError(f"Field 'fs' of {path} must be one positive number: {fs}.")
    if len(ch_label) != x.shape[2]:
        raise ValueError(
            f"Field 'ch_label' of {path} names {len(ch_label)} channel(s) "
            f"{ch_label} but 'x' has {x.shape[2]}."
        )
    if not np.all(np.isfinite(x)):
        raise ValueError(f"Field 'x' of {path} contains NaN or infinite values.")
    return x, y.astype(np.int64), float(fs), ch_label


def load_npz(
    path: str | Path,
    subjects: Iterable[int] | None = None,
    recordings: Iterable[int] | None = None,
    standardize: bool = False,
    progress: bool = True,
) -> BaseConcatDataset:
    """Load a folder of DeepSleepNet-style ``.npz`` nights as windows.

    Windows are kept exactly as stored: one window per row of ``x`` with label
    ``y`` (0=W, 1=N1, 2=N2, 3=N3, 4=REM) and the window length of the files
    (``n_times / fs``, e.g. 5 s in ``sleep-edf-5s``).

    Parameters
    ----------
    path : str | Path
        Folder of ``SC4ssnE0.npz`` files (or a single file).
    subjects : iterable of int | None
        Subject ids to load (all when None).
    recordings : iterable of int | None
        Nights to load (1 and/or 2; all when None).
    standardize : bool
        Whether to standardise every window, channel by channel.
    progress : bool
        Whether to show a progress bar over files.

    Returns
    -------
    dataset : braindecode.datasets.BaseConcatDataset
        One ``EEGWindowsDataset`` per night, windows of shape
        (n_channels, n_times) in microvolts (as stored); description fields
        ``study``, ``subject``, ``recording`` and ``source`` (the file). Its
        ``loading_report`` attribute is a :class:`LoadingReport`.
    """
    import mne

    check_flag(standardize, "standardize")
    path = Path(path)
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(path.glob("*.npz"))
    else:
        raise FileNotFoundError(f"npz folder not found: {path}")
    if not files:
        raise FileNotFoundError(f"No .npz file in {path}.")
    entries = [(f, parse_sleep_edf_name(f.name)) for f in files]
    entries = select_entries(
        entries, [e for _, e in entries], path, subjects, recordings
    )
    report = LoadingReport()
    datasets = []
    for f, desc in tqdm(entries, desc="npz nights", disable=not progress):
        x, y, fs, ch_label = _read_npz(f)
        n_windows, n_times, n_channels = x.shape
        # Windows side by side make a continuous signal to cut them back from.
        data = x.transpose(2, 0, 1).reshape(n_channels, n_windows * n_times)
        info = mne.create_info(ch_label, fs, ch_types="eeg")
        raw = mne.io.RawArray(data.astype(np.float64), info, verbose="error")
        window_s = n_times / fs
        onsets = np.arange(n_windows) * window_s
        windows = windows_from_raw(
            raw,
            onsets,
            [STAGE_NAMES[i] for i in y],
            {**desc, "source": str(f)},
            window_s=window_s,
            standardize=standardize,
        )
        datasets.append(windows)
        report.add(RecordingReport(source=str(f), n_windows=n_windows))
    return concat_windows(datasets, report)
