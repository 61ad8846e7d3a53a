"""Steps shared by the per-recording loaders: choosing recordings, cached loading."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from .cache import cached


def select_entries(
    entries: Sequence,
    descriptions: Sequence[Mapping],
    path: str | Path,
    subjects: Iterable[int] | None = None,
    recordings: Iterable[int] | None = None,
) -> list:
    """Keep the entries whose description has a requested subject and night.

    Parameters
    ----------
    entries : sequence
        One entry per recording (e.g. its files).
    descriptions : sequence of mapping
        Per entry, at least ``subject`` and ``recording``.
    path : str | Path
        Folder the entries come from (for the error message).
    subjects, recordings : iterable of int | None
        Subjects and nights to keep; None keeps all.

    Returns
    -------
    entries : list
        The kept entries, in order.

    Raises
    ------
    ValueError
        If a requested subject has no recording in ``path``.
    """
    if subjects is not None:
        subjects = set(subjects)
        missing = subjects - {d["subject"] for d in descriptions}
        if missing:
            raise ValueError(f"Subject(s) {sorted(missing)} not found in {path}.")
    if recordings is not None:
        recordings = set(recordings)
    return [
        entry
        for entry, d in zip(entries, descriptions, strict=True)
        if (subjects is None or d["subject"] in subjects)
        and (recordings is None or d["recording"] in recordings)
    ]


def load_cached_recording(
    cache_dir: str | Path | None,
    psg: Path,
    hypnogram: Path,
    config: Mapping,
    description: Mapping,
    load: Callable,
) -> tuple:
    """Load one recording's windows through the cache, labelled with its files.

    Parameters
    ----------
    cache_dir : str | Path | None
        Cache folder; None disables caching.
    psg, hypnogram : Path
        The recording's signal and annotation files (the cache key hashes both).
    config : mapping
        Preprocessing configuration (part of the cache key).
    description : mapping
        Description fields of the recording.
    load : callable
        Computes ``(windows, report)`` on a cache miss.

    Returns
    -------
    windows : EEGWindowsDataset
    report : RecordingReport
    """
    windows, report = cached(cache_dir, [psg, hypnogram], config, load)
    # A cache entry may come from identical files stored elsewhere: relabel it.
    windows.set_description(
        {**description, "source": str(psg), "hypnogram": str(hypnogram)},
        overwrite=True,
    )
    report.source = str(psg)
    return windows, report


__all__ = ["load_cached_recording", "select_entries"]
