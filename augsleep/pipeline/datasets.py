"""The datasets a pipeline can name: how to list their subjects and load them.

``mass`` (MASS SS3 EDF files), ``sleep_edf`` (Sleep-EDF Expanded EDF files),
``npz`` (DeepSleepNet npz nights, e.g. ``sleep-edf-5s``) and ``synthetic_mass``
(MASS-shaped nights written by :func:`augsleep.data.write_mass` before the run,
then loaded like MASS). Workers load only the subjects of their fold, from the
path: nothing big goes through the scheduler.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from augsleep.data import (
    find_mass_files,
    find_sleep_edf_files,
    hypnogram_from_labels,
    load_mass,
    load_npz,
    load_sleep_edf,
    parse_sleep_edf_name,
    write_mass,
)

#: Loader arguments that the pipeline sets itself (not pipeline-file options).
_SET_BY_PIPELINE = {"path", "subjects", "progress", "cache_dir"}
#: Fields of ``dataset.synthetic`` and their defaults.
SYNTHETIC_DEFAULTS = {"n_subjects": 6, "n_epochs": 40, "seed": 0}
#: Smallest value of each ``dataset.synthetic`` field.
SYNTHETIC_MINIMA = {"n_subjects": 1, "n_epochs": 5, "seed": 0}


def _mass_subjects(path: Path) -> list[int]:
    return [subject for *_, subject in find_mass_files(path)]


def _sleep_edf_subjects(path: Path) -> list[int]:
    return [
        parse_sleep_edf_name(psg.name)["subject"]
        for psg, _ in find_sleep_edf_files(path)
    ]


def _npz_subjects(path: Path) -> list[int]:
    files = sorted(path.glob("*.npz")) if path.is_dir() else [path]
    if not files or not files[0].exists():
        raise FileNotFoundError(f"No .npz file in {path}.")
    return [parse_sleep_edf_name(f.name)["subject"] for f in files]


@dataclass(frozen=True)
class DatasetKind:
    """A loader of :mod:`augsleep.data` and how to list a folder's subjects."""

    loader: Any
    list_subjects: Any
    cacheable: bool
    options: frozenset = field(default_factory=frozenset)


def _options(loader) -> frozenset:
    names = set(inspect.signature(loader).parameters) - _SET_BY_PIPELINE
    return frozenset(names)


#: Dataset kinds by the name a pipeline file gives as ``dataset.loader``.
DATASETS: dict[str, DatasetKind] = {
    "mass": DatasetKind(load_mass, _mass_subjects, True, _options(load_mass)),
    "sleep_edf": DatasetKind(
        load_sleep_edf, _sleep_edf_subjects, True, _options(load_sleep_edf)
    ),
    "npz": DatasetKind(load_npz, _npz_subjects, False, _options(load_npz)),
    "synthetic_mass": DatasetKind(load_mass, _mass_subjects, True, _options(load_mass)),
}


def write_synthetic_mass(
    folder: str | Path, n_subjects: int, n_epochs: int, seed: int
) -> list[int]:
    """Write synthetic MASS SS3 nights, subjects 1 to ``n_subjects``.

    Each night has ``n_epochs`` (at least 5) scored 30-s epochs in runs of one
    stage, drawn from ``seed``; every stage occurs in every night. Nights
    already in ``folder`` are kept (files are written only when missing).

    Parameters
    ----------
    folder : str | Path
        Output folder.
    n_subjects, n_epochs, seed : int
        Nights, epochs per night, seed of the hypnograms and signals.

    Returns
    -------
    subjects : list of int
    """
    folder = Path(folder)
    subjects = list(range(1, n_subjects + 1))
    for subject in subjects:
        stem = folder / f"01-03-{subject:04d}"
        if Path(f"{stem} PSG.edf").exists() and Path(f"{stem} Base.edf").exists():
            continue
        rng = np.random.default_rng([seed, subject])
        # Every stage first, in runs short enough to fit in the night, so that
        # every night has all five (a validation night never has a stage that
        # the training nights lack); then runs of 2 to 5 epochs.
        longest = max(1, min(5, n_epochs // 5))
        labels: list[int] = []
        for stage in rng.permutation(5).tolist():
            labels += [stage] * int(rng.integers(1, longest + 1))
        while len(labels) < n_epochs:
            labels += [int(rng.integers(5))] * int(rng.integers(2, 6))
        write_mass(
            hypnogram_from_labels(labels[:n_epochs]),
            folder,
            subject,
            random_state=seed * 10_000 + subject,
        )
    return subjects


def load_subjects(spec: dict, subjects: list[int]):
    """Load the windows of some subjects of a pipeline's dataset.

    Parameters
    ----------
    spec : dict
        The dataset part of a task (``loader``, ``path``, ``options``,
        ``cache_dir``).
    subjects : list of int
        Subjects to load.

    Returns
    -------
    X : ndarray, shape (n_windows, n_channels, n_times)
    y : ndarray, shape (n_windows,)
    groups : ndarray, shape (n_windows,)
        Subject of each window.
    context : dict
        ``sfreq``, ``ch_names`` and ``positions`` (None without a montage)
        for the estimators.
    """
    from augsleep.channels import positions_from_info
    from augsleep.data import to_numpy

    kind = DATASETS[spec["loader"]]
    kwargs = dict(spec.get("options") or {})
    if kind.cacheable and spec.get("cache_dir"):
        kwargs["cache_dir"] = spec["cache_dir"]
    dataset = kind.loader(spec["path"], subjects=subjects, progress=False, **kwargs)
    X, y, groups = to_numpy(dataset)
    info = dataset.datasets[0].raw.info
    try:
        positions = positions_from_info(info)
    except ValueError:  # no montage (npz nights): no sensor transforms
        positions = None
    context = {
        "sfreq": float(info["sfreq"]),
        "ch_names": list(info.ch_names),
        "positions": positions,
    }
    return X, y, groups, context
