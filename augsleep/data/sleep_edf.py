"""Loader for Sleep-EDF Expanded (Sleep Physionet) in its original layout.

A folder with ``SC4ssNE0-PSG.edf`` + ``SC4ssNx-Hypnogram.edf`` (sleep cassette)
and/or ``ST7ssNJ0-PSG.edf`` + ``ST7ssNxx-Hypnogram.edf`` (sleep telemetry).
Where the network is available, ``mne.datasets.sleep_physionet.age.fetch_data``
downloads the cassette files into that layout.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

from ._checks import check_preprocessing
from ._psg import load_recording, recording_config
from ._recordings import load_cached_recording, select_entries
from ._report import LoadingReport
from .npz import parse_sleep_edf_name
from .windows import concat_windows

if TYPE_CHECKING:
    from braindecode.datasets import BaseConcatDataset

SLEEP_EDF_CHANNELS = ("EEG Fpz-Cz", "EEG Pz-Oz")


def find_sleep_edf_files(path: str | Path) -> list[tuple[Path, Path]]:
    """Pair every PSG file of a Sleep-EDF folder with its hypnogram.

    The hypnogram of ``SC4ssNE0-PSG.edf`` is ``SC4ssN*-Hypnogram.edf`` (the
    scorer letters differ between files).

    Parameters
    ----------
    path : str | Path
        Folder in the original Sleep-EDF layout.

    Returns
    -------
    pairs : list of (Path, Path)
        ``(psg, hypnogram)``, sorted by PSG name.

    Raises
    ------
    FileNotFoundError
        If the folder has no PSG file, a PSG has no hypnogram or a hypnogram
        has no PSG (naming the file).
    """
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"Sleep-EDF folder not found: {path}")
    psgs = sorted(path.glob("S[CT]*-PSG.edf"))
    hyps = sorted(path.glob("S[CT]*-Hypnogram.edf"))
    if not psgs:
        raise FileNotFoundError(
            f"No Sleep-EDF PSG file (SC4ssNE0-PSG.edf) in {path}"
            + (f"; found hypnograms {[h.name for h in hyps]}." if hyps else ".")
        )
    by_stem = {}
    for h in hyps:
        by_stem.setdefault(h.name[:6], []).append(h)
    pairs = []
    for psg in psgs:
        matches = by_stem.pop(psg.name[:6], [])
        if len(matches) != 1:
            raise FileNotFoundError(
                f"PSG {psg} needs exactly one hypnogram {psg.name[:6]}*-Hypnogram"
                f".edf in {path}; found {[m.name for m in matches] or 'none'}."
            )
        pairs.append((psg, matches[0]))
    if by_stem:
        orphans = sorted(h.name for hs in by_stem.values() for h in hs)
        raise FileNotFoundError(
            f"Hypnogram(s) {orphans} in {path} have no PSG file "
            "(expected e.g. SC4ssNE0-PSG.edf)."
        )
    return pairs


def load_sleep_edf(
    path: str | Path,
    subjects: Iterable[int] | None = None,
    recordings: Iterable[int] | None = None,
    channels: Sequence[str] = SLEEP_EDF_CHANNELS,
    crop_wake_mins: float | None = 30.0,
    l_freq: float | None = None,
    h_freq: float | None = 30.0,
    sfreq: float | None = 100.0,
    window_s: float = 30.0,
    standardize: bool = False,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> BaseConcatDataset:
    """Load Sleep-EDF recordings as labelled 30-s windows.

    Stages W, N1, N2, N3 (R&K 3 and 4 merged) and REM become labels 0-4;
    ``Sleep stage ?`` and ``Movement time`` epochs are dropped and counted in
    the loading report, as are the other documented drops (see
    :class:`LoadingReport`). Windows start at the annotation onsets (one per
    30 s of each annotation).

    Parameters
    ----------
    path : str | Path
        Folder in the original layout (see :func:`find_sleep_edf_files`).
    subjects : iterable of int | None
        Subject ids to load (telemetry subjects are ``100 + ss``); all if None.
    recordings : iterable of int | None
        Nights to load (1 and/or 2); all if None.
    channels : sequence of str
        EDF channel labels, in output order; they must share a sampling rate.
    crop_wake_mins : float | None
        Minutes of wake kept before the first and after the last sleep epoch;
        None keeps the whole night.
    l_freq, h_freq : float | None
        High-pass and low-pass edges in Hz (None: no filter on that side).
    sfreq : float | None
        Output sampling rate in Hz (None: as recorded, 100 Hz for the EEG).
    window_s : float
        Window length, in seconds.
    standardize : bool
        Whether to standardise every window, channel by channel (the signals
        are then unitless instead of microvolts).
    cache_dir : str | Path | None
        Folder caching the preprocessed windows (see :mod:`augsleep.data.cache`);
        None disables the cache.
    progress : bool
        Whether to show a progress bar over recordings.

    Returns
    -------
    dataset : braindecode.datasets.BaseConcatDataset
        One ``EEGWindowsDataset`` per night; windows of shape
        (n_channels, window_s * sfreq) in microvolts; description fields
        ``study``, ``subject``, ``recording`` (night), ``source`` (PSG file) and
        ``hypnogram``. Its ``loading_report`` attribute is a
        :class:`LoadingReport`.

    Raises
    ------
    ValueError
        If an argument is out of range (naming it and its value), and for the
        file problems listed by :func:`find_sleep_edf_files` and
        :class:`LoadingReport`.

    Warns
    -----
    UserWarning
        If a hypnogram has unknown stage labels (see :class:`LoadingReport`).
    """
    options = dict(
        crop_wake_mins=crop_wake_mins,
        l_freq=l_freq,
        h_freq=h_freq,
        sfreq=sfreq,
        window_s=window_s,
        standardize=standardize,
    )
    check_preprocessing(channels=channels, **options)
    options["channels"] = list(channels)
    pairs = find_sleep_edf_files(path)
    entries = [(p, h, parse_sleep_edf_name(p.name)) for p, h in pairs]
    entries = select_entries(
        entries, [e[2] for e in entries], path, subjects, recordings
    )
    config = recording_config(loader="sleep_edf", **options)
    report = LoadingReport()
    datasets = []
    for psg, hyp, desc in tqdm(entries, desc="Sleep-EDF", disable=not progress):

        def load(psg=psg, hyp=hyp, desc=desc):
            return load_recording(psg, hyp, description=desc, **options)

        windows, rec_report = load_cached_recording(
            cache_dir, psg, hyp, config, desc, load
        )
        datasets.append(windows)
        report.add(rec_report)
    return concat_windows(datasets, report)
