"""One JSON record per finished task, written atomically.

A record is written to a temporary file in the same folder, flushed to disk,
then renamed over its final name (:func:`os.replace`, atomic on POSIX and
Windows), so a run killed at any moment (SIGKILL included) leaves either the
whole record or none: a rerun skips the tasks whose record exists. Records are
plain JSON (never pickles): NaN and infinities become ``null``.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: ``format`` field of every record.
RECORD_FORMAT = "augsleep-pipeline-record"
#: Version of the record layout.
RECORD_VERSION = 1


def to_jsonable(value: Any) -> Any:
    """Convert numpy, pandas and path values into JSON types (NaN -> None).

    Parameters
    ----------
    value : object
        Scalars, arrays, DataFrames (to a list of row dicts), Series, mappings,
        sequences, paths.

    Returns
    -------
    converted : object
        Made of dict, list, str, int, float, bool and None only.
    """
    if isinstance(value, pd.DataFrame):
        return [to_jsonable(row) for row in value.to_dict(orient="records")]
    if isinstance(value, pd.Series):
        return to_jsonable(value.to_dict())
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)


def write_record(folder: str | Path, name: str, record: dict) -> Path:
    """Write ``record`` as ``folder/name`` atomically.

    Parameters
    ----------
    folder : str | Path
        The records folder (created if needed).
    name : str
        File name (``<task_id>-<hash>.json``).
    record : dict
        JSON-able content (converted with :func:`to_jsonable`).

    Returns
    -------
    path : Path
        The record file.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(to_jsonable(record), indent=1, allow_nan=False)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    try:
        # mkstemp makes the file private (0600); a record is as readable as
        # any file the user writes.
        os.chmod(tmp, 0o644)
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, folder / name)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
    return folder / name


def read_record(path: str | Path) -> dict:
    """Read one record; a file that is not a record raises naming it."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a readable record: {err}") from None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        raise ValueError(f"{path}: not an augsleep pipeline record")
    if record.get("format_version") != RECORD_VERSION:
        raise ValueError(
            f"{path}: record format version {record.get('format_version')!r}, "
            f"this augsleep reads {RECORD_VERSION}"
        )
    return record


def read_records(folder: str | Path, names: list[str] | None = None) -> list[dict]:
    """Read the records of a folder (or the given names that exist), sorted.

    Parameters
    ----------
    folder : str | Path
        The records folder.
    names : list of str | None
        Record file names to read (those missing are skipped); None reads
        every ``*.json`` of the folder.

    Returns
    -------
    records : list of dict
    """
    folder = Path(folder)
    if names is None:
        paths = sorted(folder.glob("*.json"))
    else:
        paths = [folder / n for n in sorted(names) if (folder / n).exists()]
    return [read_record(p) for p in paths]
