"""Data loaders: EEG recordings to labelled windows (braindecode datasets).

Every loader returns a ``braindecode.datasets.BaseConcatDataset`` of windows,
one ``EEGWindowsDataset`` per recording, with ``subject`` and ``recording`` in
the description and a :class:`LoadingReport` as ``loading_report`` attribute.
Labels are integers 0=W, 1=N1, 2=N2, 3=N3, 4=REM (:data:`STAGE_NAMES`);
signals are in microvolts (unless standardised). :func:`to_numpy` gives
``X, y, groups`` for scikit-learn and :func:`to_epochs` an ``mne.Epochs``.

braindecode is imported only inside the functions that need it, so importing
this package stays fast.
"""

from ._report import LoadingReport, RecordingReport
from ._stages import ANNOTATION_TO_STAGE, STAGE_NAMES, STAGE_TO_INT
from .bumps import BUMP_POSITIONS, make_bumps
from .mass import MASS_CHANNELS, find_mass_files, load_mass
from .npz import load_npz, parse_sleep_edf_name
from .ramps import make_ramps
from .sinusoids import SINUSOID_FREQS, load_sinusoids, make_sinusoids
from .sleep_edf import SLEEP_EDF_CHANNELS, find_sleep_edf_files, load_sleep_edf
from .splits import SubjectSplit
from .synthetic import (
    crop_hypnogram,
    hypnogram_from_labels,
    simulate_psg,
    write_mass,
    write_sleep_edf,
)
from .windows import to_epochs, to_numpy, windows_from_raw

__all__ = [
    "ANNOTATION_TO_STAGE",
    "BUMP_POSITIONS",
    "MASS_CHANNELS",
    "SINUSOID_FREQS",
    "SLEEP_EDF_CHANNELS",
    "STAGE_NAMES",
    "STAGE_TO_INT",
    "LoadingReport",
    "RecordingReport",
    "SubjectSplit",
    "crop_hypnogram",
    "find_mass_files",
    "find_sleep_edf_files",
    "hypnogram_from_labels",
    "load_mass",
    "load_npz",
    "load_sinusoids",
    "load_sleep_edf",
    "make_bumps",
    "make_ramps",
    "make_sinusoids",
    "parse_sleep_edf_name",
    "simulate_psg",
    "to_epochs",
    "to_numpy",
    "windows_from_raw",
    "write_mass",
    "write_sleep_edf",
]
