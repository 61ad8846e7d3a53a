"""Loading report: what each loader kept and what it dropped, and why."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pandas as pd


@dataclass
class RecordingReport:
    """What was loaded from one recording.

    Attributes
    ----------
    source : str
        File the windows come from (PSG file, or npz file).
    n_windows : int
        Number of windows kept.
    dropped : Counter
        Number of 30-s epochs (or windows) dropped, by reason.
    ignored_annotations : Counter
        Annotations that are not scored epochs (for example arousals), by
        description; they never produce windows.
    """

    source: str
    n_windows: int = 0
    dropped: Counter = field(default_factory=Counter)
    ignored_annotations: Counter = field(default_factory=Counter)


@dataclass
class LoadingReport:
    """Counts of kept windows and of documented drops, per recording.

    Drop reasons used by the loaders:

    - ``"Sleep stage ?"``, ``"Movement time"``: unscored epochs.
    - ``"wake outside crop"``: wake epochs more than ``crop_wake_mins`` before
      the first or after the last sleep epoch.
    - ``"past end of signal"``: scored epochs that end after the signal does.
    - ``"partial window"``: the remainder of an annotation whose duration is not
      a multiple of the window length (a final partial window).

    Attributes
    ----------
    recordings : list of RecordingReport
        One entry per loaded recording, in loading order.
    """

    recordings: list[RecordingReport] = field(default_factory=list)

    def add(self, recording: RecordingReport) -> None:
        """Append the report of one recording."""
        self.recordings.append(recording)

    def extend(self, other: LoadingReport) -> None:
        """Append every recording of another report."""
        self.recordings.extend(other.recordings)

    @property
    def n_windows(self) -> int:
        """Total number of windows kept."""
        return sum(r.n_windows for r in self.recordings)

    @property
    def dropped(self) -> Counter:
        """Total number of dropped epochs, by reason."""
        total: Counter = Counter()
        for r in self.recordings:
            total.update(r.dropped)
        return total

    def to_dataframe(self) -> pd.DataFrame:
        """One row per recording: source, n_windows and one column per drop reason.

        Returns
        -------
        df : DataFrame, shape (n_recordings, 2 + n_reasons)
            Counts, zero where a reason did not occur.
        """
        rows = [
            {"source": r.source, "n_windows": r.n_windows, **dict(r.dropped)}
            for r in self.recordings
        ]
        return pd.DataFrame(rows).fillna(0).astype({k: int for k in self.dropped})

    def __str__(self) -> str:
        drops = ", ".join(f"{k}: {v}" for k, v in sorted(self.dropped.items()))
        return (
            f"LoadingReport({len(self.recordings)} recording(s), "
            f"{self.n_windows} window(s) kept; dropped: {drops or 'none'})"
        )
