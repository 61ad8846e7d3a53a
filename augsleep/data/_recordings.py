"""Steps shared by the per-recording loaders: choosing recordings, cached loading."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from ._checks import check_ids
from ._stages import ANNOTATION_TO_STAGE, UNSCORABLE_ANNOTATIONS
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
        One entry per recording (e.g. its files); an entry's first item is its
        file, named in errors.
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
        If ``subjects`` or ``recordings`` are not integers, if a requested
        subject or night has no recording in ``path``, or if two kept entries
        are the same subject and night (e.g. a copy of a file).
    """
    subjects = check_ids(subjects, "subjects")
    recordings = check_ids(recordings, "recordings")
    for name, wanted, field in [
        ("Subject(s)", subjects, "subject"),
        ("Recording(s)", recordings, "recording"),
    ]:
        missing = (wanted or set()) - {d[field] for d in descriptions}
        if missing:
            raise ValueError(f"{name} {sorted(missing)} not found in {path}.")
    kept, seen = [], {}
    for entry, d in zip(entries, descriptions, strict=True):
        if (subjects is None or d["subject"] in subjects) and (
            recordings is None or d["recording"] in recordings
        ):
            key = (d["subject"], d["recording"])
            if key in seen:
                raise ValueError(
                    f"{seen[key][0]} and {entry[0]} are both subject {key[0]}, "
                    f"night {key[1]}; remove the duplicate (each night is loaded "
                    "once)."
                )
            seen[key] = entry
            kept.append(entry)
    return kept


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
    if report.unknown_labels:  # also on a cache hit
        warnings.warn(
            f"Hypnogram {hypnogram} of {psg} has unknown stage label(s) "
            f"{report.describe_unknown()}; their epochs were dropped (expected "
            f"one of {sorted(ANNOTATION_TO_STAGE)} or {list(UNSCORABLE_ANNOTATIONS)}"
            ").",
            UserWarning,
            stacklevel=3,
        )
    # A cache entry may come from identical files stored elsewhere: relabel it.
    windows.set_description(
        {**description, "source": str(psg), "hypnogram": str(hypnogram)},
        overwrite=True,
    )
    report.source = str(psg)
    return windows, report


__all__ = ["load_cached_recording", "select_entries"]
