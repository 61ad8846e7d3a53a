"""Loader for MASS SS3 (Montreal Archive of Sleep Studies, subset 3).

A folder with ``01-03-00NN PSG.edf`` (signals) and ``01-03-00NN Base.edf``
(stage annotations ``Sleep stage W/1/2/3/4/R/?``, one per 30-s epoch, the first
one usually some seconds after the start of the PSG).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

from augsleep.channels import standard_montage

from ._checks import check_preprocessing
from ._edf import read_edf_header
from ._psg import load_recording, recording_config
from ._recordings import load_cached_recording, select_entries
from ._report import LoadingReport
from .windows import concat_windows

if TYPE_CHECKING:
    from braindecode.datasets import BaseConcatDataset

#: EEG electrodes used in the AugNet paper.
MASS_CHANNELS = ("C3", "C4", "F3", "F4", "O1", "O2")
_NAME = re.compile(r"^01-03-(?P<subject>\d{4}) PSG\.edf$")


def find_mass_files(path: str | Path) -> list[tuple[Path, Path, int]]:
    """Pair every ``01-03-00NN PSG.edf`` with its ``01-03-00NN Base.edf``.

    Parameters
    ----------
    path : str | Path
        MASS SS3 folder.

    Returns
    -------
    entries : list of (Path, Path, int)
        ``(psg, base, subject)`` sorted by subject.

    Raises
    ------
    FileNotFoundError
        If there is no PSG, or a PSG without Base file or the reverse (naming
        the file).
    ValueError
        If two PSG (or two Base) files belong to the same recording.
    """
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"MASS folder not found: {path}")
    psgs = _by_recording(path.glob("01-03-* PSG.edf"))
    bases = _by_recording(path.glob("01-03-* Base.edf"))
    if not psgs:
        raise FileNotFoundError(f"No MASS SS3 PSG file (01-03-00NN PSG.edf) in {path}.")
    orphans = sorted(set(bases) - set(psgs))
    if orphans:
        raise FileNotFoundError(
            f"Base file(s) {[bases[o].name for o in orphans]} in {path} have no "
            "PSG file."
        )
    entries = []
    for stem, psg in sorted(psgs.items()):
        if stem not in bases:
            raise FileNotFoundError(
                f"PSG {psg} has no annotation file {stem} Base.edf in {path}."
            )
        m = _NAME.match(psg.name)
        if m is None:
            raise ValueError(f"Unexpected MASS file name {psg.name!r}.")
        entries.append((psg, bases[stem], int(m["subject"])))
    return entries


def _by_recording(files: Iterable[Path]) -> dict[str, Path]:
    # Files by recording ('01-03-00NN'); a second file of one recording (a copy)
    # would otherwise replace the first without a word.
    by_stem: dict[str, Path] = {}
    for f in sorted(files):
        if f.name[:10] in by_stem:
            raise ValueError(
                f"{by_stem[f.name[:10]]} and {f} are both recording {f.name[:10]}; "
                "remove the duplicate."
            )
        by_stem[f.name[:10]] = f
    return by_stem


def resolve_mass_channel(name: str, labels: Sequence[str], psg: Path) -> str:
    """EDF label of an electrode: ``EEG C3-CLE`` or ``EEG C3-LER`` for ``C3``.

    Parameters
    ----------
    name : str
        Electrode (``C3``) or full EDF label.
    labels : sequence of str
        Labels in the file.
    psg : Path
        The file, named in errors.

    Returns
    -------
    label : str
        The matching label.
    """
    if name in labels:
        return name
    matches = [lb for lb in labels if re.fullmatch(rf"EEG {name}-(CLE|LER)", lb)]
    if len(matches) != 1:
        available = [lb for lb in labels if lb != "EDF Annotations"]
        what = "not found" if not matches else f"ambiguous ({matches})"
        raise ValueError(
            f"Channel {name!r} {what} in {psg}; expected 'EEG {name}-CLE' or "
            f"'EEG {name}-LER'; available channels: {available}."
        )
    return matches[0]


def load_mass(
    path: str | Path,
    subjects: Iterable[int] | None = None,
    channels: Sequence[str] = MASS_CHANNELS,
    reference: str | None = None,
    l_freq: float | None = None,
    h_freq: float | None = 30.0,
    sfreq: float | None = 100.0,
    window_s: float = 30.0,
    crop_wake_mins: float | None = None,
    standardize: bool = False,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> BaseConcatDataset:
    """Load MASS SS3 recordings as labelled 30-s windows.

    Stages W, N1, N2, N3 (with R&K 4), REM become labels 0-4; ``Sleep stage ?``
    epochs are dropped and counted in the loading report. Windows start at the
    annotation onsets, wherever they fall in the file. Channels are renamed to
    their electrode (``C3``, also when re-referenced) and carry the
    standard 10-20 positions, for the sensor transforms.

    Parameters
    ----------
    path : str | Path
        MASS SS3 folder (see :func:`find_mass_files`).
    subjects : iterable of int | None
        Subject ids ``NN`` to load; all if None.
    channels : sequence of str
        Electrodes (``C3``, matched to ``EEG C3-CLE`` or ``EEG C3-LER``) or
        full EDF labels, in output order.
    reference : str | None
        Electrode to re-reference to (``"A2"`` as in the AugNet paper); None
        keeps the recorded reference.
    l_freq, h_freq : float | None
        High-pass and low-pass edges in Hz (None: no filter on that side).
    sfreq : float | None
        Output sampling rate in Hz (None: as recorded, 256 Hz).
    window_s : float
        Window length, in seconds.
    crop_wake_mins : float | None
        Minutes of wake kept around sleep; None (default) keeps every epoch.
    standardize : bool
        Whether to standardise every window, channel by channel.
    cache_dir : str | Path | None
        Cache folder (None: no cache).
    progress : bool
        Whether to show a progress bar over recordings.

    Returns
    -------
    dataset : braindecode.datasets.BaseConcatDataset
        One ``EEGWindowsDataset`` per night, windows of shape
        (n_channels, window_s * sfreq) in microvolts; description fields
        ``study``, ``subject``, ``recording`` (always 1), ``source`` and
        ``hypnogram``. Its ``loading_report`` attribute is a
        :class:`LoadingReport`.
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
    if reference is not None and (not isinstance(reference, str) or not reference):
        raise ValueError(
            f"reference must be an electrode name or None, got {reference!r}."
        )
    entries = find_mass_files(path)
    entries = select_entries(
        entries, [{"subject": s, "recording": 1} for *_, s in entries], path, subjects
    )
    config = recording_config(
        loader="mass", channels=list(channels), reference=reference, **options
    )
    report = LoadingReport()
    datasets = []
    for psg, base, subject in tqdm(entries, desc="MASS SS3", disable=not progress):
        desc = {
            "study": "MASS-SS3",
            "subject": subject,
            "recording": 1,
            "reference": reference or "recorded",
        }

        def load(psg=psg, base=base, desc=desc):
            labels = read_edf_header(psg)["labels"]
            picks = [resolve_mass_channel(ch, labels, psg) for ch in channels]
            ref = resolve_mass_channel(reference, labels, psg) if reference else None
            rename = {lb: re.sub(r"^EEG (\w+)-(CLE|LER)$", r"\1", lb) for lb in picks}
            return load_recording(
                psg,
                base,
                picks,
                desc,
                rename=rename,
                reference=ref,
                # Positions from augsleep's one standard 10-20 montage.
                montage=standard_montage(),
                **options,
            )

        windows, rec_report = load_cached_recording(
            cache_dir, psg, base, config, desc, load
        )
        datasets.append(windows)
        report.add(rec_report)
    return concat_windows(datasets, report)
