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
    unknown_labels : Counter
        Stage labels that are neither known nor unscorable (``Sleep stage 5``),
        by description: the number of 30-s epochs (windows) they covered, all
        dropped (and counted as ``"unknown stage label"`` in ``dropped``).
    unknown_seconds : Counter
        The seconds those labels covered, by description.
    """

    source: str
    n_windows: int = 0
    dropped: Counter = field(default_factory=Counter)
    ignored_annotations: Counter = field(default_factory=Counter)
    unknown_labels: Counter = field(default_factory=Counter)
    unknown_seconds: Counter = field(default_factory=Counter)

    def describe_unknown(self) -> str:
        """List the unknown labels with the windows and seconds they covered."""
        return _describe_unknown(self.unknown_labels, self.unknown_seconds)


def _describe_unknown(windows: Counter, seconds: Counter) -> str:
    return ", ".join(
        f"{k!r}: {n} window(s), {seconds[k]:g} s" for k, n in sorted(windows.items())
    )


def _counts(counter: Counter) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(counter.items()))


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
    - ``"unknown stage label"``: epochs of a stage label that is neither known
      nor unscorable (a typo such as ``Sleep stage 5``); each recording's
      ``unknown_labels`` says which, and the loaders warn.

    Annotations that are not stage labels (arousals, lights off) never give
    windows; they are counted in each recording's ``ignored_annotations``.

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

    def _total(self, name: str) -> Counter:
        total: Counter = Counter()
        for r in self.recordings:
            total.update(getattr(r, name))
        return total

    @property
    def dropped(self) -> Counter:
        """Total number of dropped epochs, by reason."""
        return self._total("dropped")

    @property
    def unknown_labels(self) -> Counter:
        """Total number of windows of each unknown stage label (all dropped)."""
        return self._total("unknown_labels")

    @property
    def ignored_annotations(self) -> Counter:
        """Total number of ignored non-stage annotations, by description."""
        return self._total("ignored_annotations")

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
        text = (
            f"LoadingReport({len(self.recordings)} recording(s), "
            f"{self.n_windows} window(s) kept; dropped: "
            f"{_counts(self.dropped) or 'none'}"
        )
        unknown = _describe_unknown(self.unknown_labels, self._total("unknown_seconds"))
        if unknown:
            text += f"; unknown stage labels: {unknown}"
        if self.ignored_annotations:
            text += f"; other annotations ignored: {_counts(self.ignored_annotations)}"
        return text + ")"
