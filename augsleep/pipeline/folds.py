"""Fold files: subject-wise train / validation / test splits stored as JSON.

A fold file (``data/folds/<name>.json``) lists, for every fold, the subjects of
the training, validation and test sets, so that two users on two machines
compare the same splits::

    {
      "dataset": "mass-ss3",
      "description": "5 folds of 24 / 24 / 12 nights ...",
      "subjects": [1, 2, ...],
      "folds": [{"train": [...], "valid": [...], "test": [...]}, ...]
    }

``subjects`` (optional) lists every subject the folds may use.
:func:`make_folds` writes such files with :class:`augsleep.data.SubjectSplit`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from augsleep.data import SubjectSplit

#: The three sets of a fold, in order.
PARTS = ("train", "valid", "test")


class FoldError(ValueError):
    """A fold file that cannot be used; the message names the file and field."""


@dataclass(frozen=True)
class Fold:
    """One subject-wise split.

    Parameters
    ----------
    index : int
        Position of the fold in its file.
    train, valid, test : tuple of int
        Subject ids of each set (disjoint).
    """

    index: int
    train: tuple[int, ...]
    valid: tuple[int, ...]
    test: tuple[int, ...]

    @property
    def subjects(self) -> tuple[int, ...]:
        """Every subject of the fold, sorted."""
        return tuple(sorted({*self.train, *self.valid, *self.test}))

    def to_dict(self) -> dict:
        """Return the fold as JSON-able lists."""
        return {"index": self.index, **{p: list(getattr(self, p)) for p in PARTS}}


def _subject_list(value, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise FoldError(f"{where}: must be a non-empty list of subject ids")
    bad = [v for v in value if not isinstance(v, int) or isinstance(v, bool)]
    if bad:
        raise FoldError(f"{where}: subject ids must be integers, got {bad[:3]!r}")
    if len(set(value)) != len(value):
        raise FoldError(f"{where}: lists a subject twice")
    return tuple(sorted(value))


def load_folds(path: str | Path, available: Iterable[int] | None = None) -> list[Fold]:
    """Read and check a fold file.

    Parameters
    ----------
    path : str | Path
        The JSON file.
    available : iterable of int | None
        Subjects present in the dataset; a fold naming any other one is an
        error. ``None`` skips that check.

    Returns
    -------
    folds : list of Fold

    Raises
    ------
    FoldError
        Naming the file and the field: unreadable or invalid JSON, a set that
        is empty or not a list of integers, sets that share a subject, a
        subject outside the file's ``subjects`` or the dataset.
    """
    path = Path(path)
    try:
        content = json.loads(path.read_text())
    except FileNotFoundError:
        raise FoldError(f"fold file not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise FoldError(f"{path}: cannot read the fold file: {err}") from None
    if not isinstance(content, dict) or not isinstance(content.get("folds"), list):
        raise FoldError(f"{path}: folds: expected an object with a 'folds' list")
    if not content["folds"]:
        raise FoldError(f"{path}: folds: the list is empty")
    declared = None
    if "subjects" in content:
        declared = set(_subject_list(content["subjects"], f"{path}: subjects"))
    available = None if available is None else set(available)
    folds = []
    for i, entry in enumerate(content["folds"]):
        where = f"{path}: folds[{i}]"
        if not isinstance(entry, dict) or set(entry) - {*PARTS, "name"}:
            raise FoldError(f"{where}: expected the keys {list(PARTS)}")
        sets = {}
        for part in PARTS:
            if part not in entry:
                raise FoldError(f"{where}.{part}: missing")
            sets[part] = _subject_list(entry[part], f"{where}.{part}")
        for a, b in (("train", "valid"), ("train", "test"), ("valid", "test")):
            shared = sorted(set(sets[a]) & set(sets[b]))
            if shared:
                raise FoldError(f"{where}: subjects {shared} are in {a} and {b}")
        for part, ids in sets.items():
            if declared is not None and set(ids) - declared:
                raise FoldError(
                    f"{where}.{part}: subjects {sorted(set(ids) - declared)} are "
                    "not in the file's 'subjects'"
                )
            if available is not None and set(ids) - available:
                raise FoldError(
                    f"{where}.{part}: subjects {sorted(set(ids) - available)} do "
                    f"not exist in the dataset (it has {_ranges(available)})"
                )
        folds.append(Fold(i, sets["train"], sets["valid"], sets["test"]))
    return folds


def _ranges(ids: set[int]) -> str:
    """Write ids compactly: ``1-42, 44-48``."""
    ids = sorted(ids)
    if not ids:
        return "no subject"
    parts, start, prev = [], ids[0], ids[0]
    for i in [*ids[1:], None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if i is not None:
            start = prev = i
    return "subjects " + ", ".join(parts)


def make_folds(
    subjects: Iterable[int],
    n_splits: int,
    valid_size: float | int,
    random_state: int,
) -> list[dict]:
    """Draw subject-wise folds with :class:`augsleep.data.SubjectSplit`.

    Parameters
    ----------
    subjects : iterable of int
        Subject ids.
    n_splits : int
        Number of folds (every subject is tested once).
    valid_size : float | int
        Share or number of the non-test subjects used for validation.
    random_state : int
        Seed of the shuffles.

    Returns
    -------
    folds : list of dict
        ``{"train", "valid", "test"}`` lists, for the ``folds`` field.
    """
    splitter = SubjectSplit(n_splits, valid_size, random_state)
    folds = []
    for train, valid, test in splitter.split_subjects(list(subjects)):
        folds.append(
            {"train": train.tolist(), "valid": valid.tolist(), "test": test.tolist()}
        )
    return folds
