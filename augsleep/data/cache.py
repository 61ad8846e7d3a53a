"""On-disk cache of preprocessed windows, one entry per recording.

An entry is keyed by the SHA-256 of the input files' content and of the
preprocessing configuration, so a changed file or setting always misses. It
stores the preprocessed signal as a float32 ``.npy`` array with its measurement
info as a FIF file (MNE's own format; together much faster to read back than a
FIF recording), the window indices as ``.npz`` and the description and report
as JSON. Nothing is pickled.

A cache folder that cannot be written is skipped with a warning (windows are then
computed every time), and an entry that cannot be read back is rebuilt with a
warning naming it. Processes may share a cache folder (the pipeline's workers
load the same recordings at once): entries are renamed into place atomically,
and a process that finds a readable entry already written by another keeps it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ._report import RecordingReport

if TYPE_CHECKING:
    from braindecode.datasets import EEGWindowsDataset

#: Bumped whenever the preprocessing code changes what it produces (3: AASM
#: stage labels, unknown labels in the report).
CACHE_VERSION = 3

_META_COLUMNS = (
    "i_window_in_trial",
    "i_trial_in_dataset",
    "i_start_in_trial",
    "i_stop_in_trial",
    "target",
)


_REPORT_COUNTS = (
    "dropped",
    "ignored_annotations",
    "unknown_labels",
    "unknown_seconds",
)


def file_digest(path: str | Path, chunk_size: int = 1 << 22) -> str:
    """SHA-256 of a file's content, as a hex string."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            h.update(chunk)
    return h.hexdigest()


def cache_key(files: Sequence[str | Path], config: Mapping) -> str:
    """Key of a cache entry: hash of the files' content and of the configuration.

    Parameters
    ----------
    files : sequence of path
        Input files; their content (not their name or date) enters the key.
    config : mapping
        JSON-serialisable preprocessing configuration.

    Returns
    -------
    key : str
        Hex digest.
    """
    payload = {
        "version": CACHE_VERSION,
        "config": config,
        "files": [file_digest(f) for f in files],
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _to_json(value):
    return value.item() if isinstance(value, np.generic) else value


def save_entry(
    cache_dir: str | Path, key: str, windows: EEGWindowsDataset, report: RecordingReport
) -> None:
    """Write one recording's windows and report under ``cache_dir/key``.

    The entry is written to a temporary folder and renamed, so a crash never
    leaves a half-written entry that would later be served.
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=cache_dir, prefix=".tmp-"))
    try:
        import mne

        raw = windows.raw
        np.save(tmp / "data.npy", raw.get_data().astype(np.float32))
        mne.io.write_info(tmp / "info.fif", raw.info)
        meta = windows.metadata
        np.savez(tmp / "metadata.npz", **{c: meta[c].to_numpy() for c in _META_COLUMNS})
        info = {
            "first_samp": int(raw.first_samp),
            "description": {k: _to_json(v) for k, v in windows.description.items()},
            "report": {
                "source": report.source,
                "n_windows": int(report.n_windows),
                **{
                    name: {k: _to_json(v) for k, v in getattr(report, name).items()}
                    for name in _REPORT_COUNTS
                },
            },
        }
        (tmp / "info.json").write_text(json.dumps(info, indent=1))
        _install(tmp, cache_dir / key)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def _install(tmp: Path, target: Path) -> None:
    """Rename the finished entry ``tmp`` to ``target``, safely among processes.

    Pipeline workers load the same recordings at the same time, so another
    process may write ``target`` between our miss and this rename. Its entry is
    the same as ours (the key hashes the inputs and the configuration), so a
    readable entry in place is kept and ours dropped; only an unreadable one (a
    corrupt entry being rebuilt) is removed. Never removing a readable entry
    also means no process can pull an entry from under another one reading it.
    """
    for _ in range(3):  # each retry follows another writer's success or damage
        try:
            # Atomic; fails while ``target`` is a non-empty folder or a file.
            os.replace(tmp, target)
            return
        except OSError:
            if not target.exists():  # it went away in between: rename again
                continue
        try:
            if load_entry(target.parent, target.name) is not None:
                return  # another process's entry: the same content
        except ValueError:
            pass
        if target.is_dir():  # corrupt: rebuilt from ours
            shutil.rmtree(target, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
    os.replace(tmp, target)  # the error, if any, is the one to report


def load_entry(
    cache_dir: str | Path, key: str
) -> tuple[EEGWindowsDataset, RecordingReport] | None:
    """Read an entry written by :func:`save_entry`; None if there is none.

    Raises
    ------
    ValueError
        If the entry exists but cannot be read back, or is inconsistent.
    """
    folder = Path(cache_dir) / key
    if not folder.exists():
        return None
    try:
        return _read_entry(folder)
    # Any damage (truncated or edited files, a missing file) raises something
    # different from numpy, JSON, MNE or pandas: all of it means "corrupt".
    except Exception as e:
        raise ValueError(f"{type(e).__name__}: {e}") from e


def _read_entry(folder: Path) -> tuple[EEGWindowsDataset, RecordingReport]:
    import mne
    import pandas as pd
    from braindecode.datasets import EEGWindowsDataset

    info = json.loads((folder / "info.json").read_text())
    # float32 on disk; windows are served as float32 anyway, so nothing changes.
    data = np.load(folder / "data.npy", allow_pickle=False).astype(np.float64)
    raw = mne.io.RawArray(
        data,
        mne.io.read_info(folder / "info.fif", verbose="error"),
        first_samp=info["first_samp"],
        verbose="error",
    )
    with np.load(folder / "metadata.npz", allow_pickle=False) as npz:
        metadata = pd.DataFrame({c: npz[c] for c in _META_COLUMNS})
    r = info["report"]
    n_stop = int(metadata["i_stop_in_trial"].max()) if len(metadata) else 0
    if len(metadata) != r["n_windows"] or n_stop > data.shape[1]:
        raise ValueError(
            f"{len(metadata)} window(s) ending at sample {n_stop} for a report of "
            f"{r['n_windows']} and a signal of {data.shape[1]} samples"
        )
    windows = EEGWindowsDataset(raw, metadata, description=info["description"])
    report = RecordingReport(
        source=r["source"],
        n_windows=r["n_windows"],
        **{name: Counter(r[name]) for name in _REPORT_COUNTS},
    )
    return windows, report


def _writable(cache_dir: Path) -> bool:
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=cache_dir).close()
    except OSError as e:
        warnings.warn(
            f"cache_dir {cache_dir} is not writable ({e}); loading without the cache.",
            UserWarning,
            stacklevel=5,
        )
        return False
    return True


def cached(
    cache_dir: str | Path | None,
    files: Sequence[str | Path],
    config: Mapping,
    load: Callable[[], tuple[EEGWindowsDataset, RecordingReport]],
) -> tuple[EEGWindowsDataset, RecordingReport]:
    """Return ``load()``, from the cache when an entry matches.

    Parameters
    ----------
    cache_dir : path | None
        Cache folder; None disables caching (``load`` is always called).
    files : sequence of path
        Input files of the recording.
    config : mapping
        Preprocessing configuration (JSON-serialisable).
    load : callable
        Computes ``(windows, report)`` on a miss.

    Returns
    -------
    windows : EEGWindowsDataset
        The recording's windows.
    report : RecordingReport
        What was kept and dropped.

    Warns
    -----
    UserWarning
        If ``cache_dir`` cannot be written (then nothing is cached), or if the
        matching entry is corrupt (then it is rebuilt).
    """
    if cache_dir is None:
        return load()
    cache_dir = Path(cache_dir)
    key = cache_key(files, config)
    try:
        hit = load_entry(cache_dir, key)
    except ValueError as e:
        warnings.warn(
            f"Cache entry {cache_dir / key} is corrupt ({e}); rebuilding it.",
            UserWarning,
            stacklevel=4,
        )
        hit = None
    if hit is not None:
        return hit
    # Check before computing: a read-only cache must not cost the whole load.
    if not _writable(cache_dir):
        return load()
    windows, report = load()
    save_entry(cache_dir, key, windows, report)
    return windows, report
