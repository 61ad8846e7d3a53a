"""Sleep stage names and their integer labels, shared by every loader."""

from __future__ import annotations

#: Stage names in label order: label ``i`` is ``STAGE_NAMES[i]``.
STAGE_NAMES: tuple[str, ...] = ("W", "N1", "N2", "N3", "REM")

#: Stage name to integer label (0=W, 1=N1, 2=N2, 3=N3, 4=REM), as in the npz files.
STAGE_TO_INT: dict[str, int] = {name: i for i, name in enumerate(STAGE_NAMES)}

#: Hypnogram annotation to stage name: the R&K texts of Sleep-EDF and MASS
#: (stages 3 and 4 both become N3) and the AASM texts of the EDF+ standard (as in
#: the HMC database; ``N4``, R&K stage 4 written the AASM way by some exports).
ANNOTATION_TO_STAGE: dict[str, str] = {
    "Sleep stage W": "W",
    "Sleep stage 1": "N1",
    "Sleep stage 2": "N2",
    "Sleep stage 3": "N3",
    "Sleep stage 4": "N3",
    "Sleep stage R": "REM",
    "Sleep stage N1": "N1",
    "Sleep stage N2": "N2",
    "Sleep stage N3": "N3",
    "Sleep stage N4": "N3",
}

#: Scored epochs that are not a sleep stage: dropped and counted in the report.
UNSCORABLE_ANNOTATIONS: tuple[str, ...] = ("Sleep stage ?", "Movement time")

#: Annotations starting with this text (any case) are stage labels: when neither
#: known nor unscorable (``Sleep stage 5``, ``Sleep stage N``), their epochs are
#: dropped, counted as ``"unknown stage label"`` and warned about.
STAGE_PREFIX = "sleep stage"
