"""Subject-wise train/validation/test splits (the AugNet paper's protocol).

MASS SS3: 60 nights (one per subject), five folds; each fold tests on 12
subjects and splits the other 48 into 24 for training and 24 for validation.
With ``groups`` = subject ids, the same splitter keeps both nights of a
Sleep-EDF subject on the same side.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
from sklearn.model_selection import KFold, train_test_split

if TYPE_CHECKING:
    from braindecode.datasets import BaseConcatDataset


class SubjectSplit:
    """K-fold over subjects with a validation set drawn from the training subjects.

    Parameters
    ----------
    n_splits : int
        Number of folds; every subject is in exactly one test fold.
    valid_size : float | int
        Share (float in (0, 1)) or number (int) of the non-test subjects used
        for validation.
    random_state : int | None
        Seed of the subject shuffles.

    Examples
    --------
    >>> splitter = SubjectSplit(n_splits=5, valid_size=0.5, random_state=0)
    >>> for train, valid, test in splitter.split(X, y, groups):  # doctest: +SKIP
    ...     pass
    """

    def __init__(
        self,
        n_splits: int = 5,
        valid_size: float | int = 0.5,
        random_state: int | None = None,
    ):
        self.n_splits = n_splits
        self.valid_size = valid_size
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        """Return the number of folds."""
        return self.n_splits

    def split_subjects(self, subjects) -> Iterator[tuple[np.ndarray, ...]]:
        """Yield ``(train, valid, test)`` arrays of subject ids, one per fold.

        Parameters
        ----------
        subjects : array-like, shape (n_subjects,)
            Subject ids (duplicates are ignored).
        """
        subjects = np.unique(np.asarray(subjects))
        if len(subjects) < self.n_splits:
            raise ValueError(
                f"Cannot make {self.n_splits} folds out of {len(subjects)} subjects."
            )
        kfold = KFold(self.n_splits, shuffle=True, random_state=self.random_state)
        for fold, (rest, test) in enumerate(kfold.split(subjects)):
            seed = None if self.random_state is None else self.random_state + fold
            train, valid = train_test_split(
                subjects[rest], test_size=self.valid_size, random_state=seed
            )
            yield np.sort(train), np.sort(valid), np.sort(subjects[test])

    def split(self, X=None, y=None, groups=None) -> Iterator[tuple[np.ndarray, ...]]:
        """Yield ``(train, valid, test)`` window indices, one triple per fold.

        Parameters
        ----------
        X : array-like, shape (n_windows, ...)
            Ignored, for scikit-learn compatibility.
        y : array-like, shape (n_windows,)
            Ignored.
        groups : array-like, shape (n_windows,)
            Subject id of each window.
        """
        if groups is None:
            raise ValueError("SubjectSplit needs groups (the subject of each window).")
        groups = np.asarray(groups)
        for subject_sets in self.split_subjects(groups):
            yield tuple(np.flatnonzero(np.isin(groups, s)) for s in subject_sets)

    def split_dataset(
        self, dataset: BaseConcatDataset, by: str = "subject"
    ) -> Iterator[dict[str, BaseConcatDataset]]:
        """Yield ``{"train", "valid", "test"}`` sub-datasets of whole recordings.

        Parameters
        ----------
        dataset : braindecode.datasets.BaseConcatDataset
            Windows datasets with a ``by`` description field.
        by : str
            Description field holding the subject id.
        """
        subjects = dataset.description[by].to_numpy()
        for subject_sets in self.split_subjects(subjects):
            ids = [np.flatnonzero(np.isin(subjects, s)).tolist() for s in subject_sets]
            yield dataset.split(
                by=dict(zip(("train", "valid", "test"), ids, strict=True))
            )
