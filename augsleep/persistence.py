"""Save fitted estimators to files and load them back.

A file is one dict written by ``torch.save`` (format version 1, the format of
the first ``AugNetClassifier.save``):

- ``"format"``: ``"augsleep.<class name>"``, e.g. ``"augsleep.AugNetClassifier"``;
- ``"version"``: 1;
- ``"params"``: ``get_params(deep=False)``, arrays as lists;
- ``"fitted"``: the fitted attributes (floating arrays as tensors, ``classes_``
  as a list, DataFrames such as ``search_history_`` as
  ``{"__dataframe__": dict of lists}``);
- ``"history"``: ``history_`` as a dict of lists;
- ``"state_dict"``: the network's weights, on the CPU;
- ``"sha256"``: SHA-256 of every tensor of the file (:func:`payload_checksum`),
  checked by :func:`load`: bytes changed on disk (zeroed, flipped) are refused
  instead of silently changing the predictions.

Entries added since (``compute_time_`` and ``interrupted_`` in ``"fitted"``,
history columns, ``"sha256"``) are optional when loading, so files written by
earlier versions still load (without a checksum, the check is skipped). They do
not change the format version: older readers ignore them. Every error of
:func:`load` starts with the file's path.
"""

from __future__ import annotations

import errno
import hashlib
import math
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from augsleep.methods.base import COMPUTE_TIME_KEYS

FORMAT_VERSION = 1
#: Key under which a fitted DataFrame (e.g. ``search_history_``) is written.
_FRAME = "__dataframe__"


#: Entries a file must have (besides ``"format"`` and ``"version"``).
_REQUIRED = ("params", "fitted", "history", "state_dict")


def payload_checksum(payload: dict) -> str:
    """SHA-256 of the tensors of a payload, as written under ``"sha256"``.

    Covers the tensors of ``"state_dict"`` and ``"fitted"`` (e.g. the scaling
    statistics): every tensor's entry, key, dtype, shape and bytes, entries and
    keys in sorted order, so the digest depends on the values only.

    Parameters
    ----------
    payload : dict
        Payload of :func:`save` (or one read back by :func:`load`).

    Returns
    -------
    digest : str
        64 hexadecimal digits.
    """
    digest = hashlib.sha256()
    for entry in ("fitted", "state_dict"):
        tensors = {
            k: v for k, v in payload[entry].items() if isinstance(v, torch.Tensor)
        }
        for key in sorted(tensors):
            t = tensors[key].detach().cpu().contiguous()
            header = f"{entry}/{key}:{t.dtype}:{tuple(t.shape)};"
            digest.update(header.encode())
            digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def format_name(cls: type) -> str:
    """Return the ``"format"`` entry of files written by an estimator class."""
    return f"augsleep.{cls.__name__}"


def save(estimator, path) -> None:
    """Save a fitted estimator to a file.

    Only tensors, numbers, strings and containers are written when the
    parameters are plain values (default trunk, augmentation given by names or
    presets), so :func:`load` can read the file with
    ``torch.load(weights_only=True)``, which runs no pickled code. A custom
    trunk, module or braindecode transforms are pickled with the file.

    Parameters
    ----------
    estimator : BaseSleepClassifier
        Fitted estimator (e.g. :class:`augsleep.AugNetClassifier`).
    path : str | Path
        Destination file (e.g. ``"model.pt"``).
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    fitted = {}
    for name in estimator._FITTED:
        if not hasattr(estimator, name):
            continue
        value = getattr(estimator, name)
        if isinstance(value, np.ndarray):
            value = torch.from_numpy(value) if value.dtype.kind == "f" else value
        elif isinstance(value, pd.DataFrame):
            # Plain lists: torch.load(weights_only=True) reads no DataFrame.
            value = {_FRAME: value.to_dict(orient="list")}
        fitted[name] = value
    fitted["classes_"] = estimator.classes_.tolist()
    params = {
        # Arrays as lists: torch.load(weights_only=True) reads no numpy arrays.
        k: v.tolist() if isinstance(v, np.ndarray) else v
        for k, v in estimator.get_params(deep=False).items()
    }
    payload = {
        "format": format_name(type(estimator)),
        "version": FORMAT_VERSION,
        "params": params,
        "fitted": fitted,
        "history": estimator.history_.to_dict(orient="list"),
        "state_dict": {k: v.cpu() for k, v in estimator.module_.state_dict().items()},
    }
    payload["sha256"] = payload_checksum(payload)
    torch.save(payload, Path(path))


def _unreadable(path: Path, err: Exception) -> ValueError:
    return ValueError(
        f"{path}: not a readable model file (empty, truncated or corrupted, or "
        f"not written by save): {type(err).__name__}: {err}"
    )


def _read(path: Path, trusted: bool):
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "No such model file", str(path))
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: not a readable model file (empty, 0 bytes).")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if not trusted:
            raise ValueError(
                f"{path}: contains pickled Python objects (a custom trunk or "
                "augmentation), which can execute code when loaded, or is not a "
                "model file. Pass trusted=True only if you trust where the file "
                "comes from."
            ) from err
    except (OSError, EOFError, RuntimeError, KeyError, ValueError) as err:
        # torch's errors for broken files: EOFError (empty), OSError [Errno 22]
        # (truncated), RuntimeError (not a zip), KeyError (not a pickle).
        if isinstance(err, (FileNotFoundError, IsADirectoryError, PermissionError)):
            raise
        raise _unreadable(path, err) from err
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except (pickle.UnpicklingError, OSError, EOFError, RuntimeError, KeyError) as err:
        if isinstance(err, (FileNotFoundError, IsADirectoryError, PermissionError)):
            raise
        raise _unreadable(path, err) from err


def _check_payload(path: Path, payload: dict) -> None:
    """Check the version, the entries and the checksum of a payload."""
    version = payload.get("version")
    if (
        isinstance(version, bool)
        or not isinstance(version, int)
        or not 1 <= version <= FORMAT_VERSION
    ):
        raise ValueError(
            f"{path}: format version {version!r}; this augsleep reads versions "
            f"1 to {FORMAT_VERSION}."
        )
    for key in _REQUIRED:
        if not isinstance(payload.get(key), dict):
            raise ValueError(
                f"{path}: no {key!r} entry (a dict) in the file; it is incomplete "
                "or was not written by save."
            )
    if "sha256" not in payload:  # written before the checksum: nothing to check
        return
    expected = payload["sha256"]
    if not isinstance(expected, str):
        raise ValueError(
            f"{path}: the 'sha256' entry must be a string of 64 hexadecimal "
            f"digits, got {type(expected).__name__}."
        )
    actual = payload_checksum(payload)
    if actual != expected:
        raise ValueError(
            f"{path}: the weights do not match their checksum (SHA-256 "
            f"{actual}, expected {expected}): the file was changed or damaged "
            "after it was saved."
        )


def _class_of(fmt) -> type | None:
    from augsleep.methods import METHODS

    return {format_name(c): c for c in METHODS.values()}.get(fmt)


def load(path, *, cls: type | None = None, trusted: bool = False, device=None):
    """Load an estimator written by :func:`save`.

    Parameters
    ----------
    path : str | Path
        File written by :func:`save`.
    cls : type | None
        Expected estimator class (the file must have been written by it);
        ``None`` takes the class the file names, among
        :data:`augsleep.methods.METHODS`.
    trusted : bool
        Files with custom trunks or augmentations contain pickled Python
        objects, which can run arbitrary code when loaded: they are refused
        unless ``trusted=True``. Plain files load with
        ``torch.load(weights_only=True)`` either way.
    device : str | None
        Device to put the model on; ``None`` uses the saved ``device``
        parameter (``"auto"``: CUDA when present).

    Returns
    -------
    estimator : BaseSleepClassifier
        Fitted estimator.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        Starting with the path: the file is empty, truncated or not a model
        file; was written by another class; has a format version other than 1
        to :data:`FORMAT_VERSION`; lacks an entry; or its tensors do not match
        the SHA-256 written with them (changed or damaged since it was saved).
    """
    path = Path(path)
    payload = _read(path, trusted)
    fmt = payload.get("format") if isinstance(payload, dict) else None
    if cls is None:
        cls = _class_of(fmt)
        if cls is None:
            raise ValueError(
                f"{path}: not written by an augsleep estimator (format {fmt!r})."
            )
    elif fmt != format_name(cls):
        raise ValueError(
            f"{path}: not written by {cls.__name__}.save (format {fmt!r}, "
            f"expected {format_name(cls)!r})."
        )
    _check_payload(path, payload)
    try:
        return _rebuild(cls, payload, device)
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as err:
        raise ValueError(
            f"{path}: the file's entries do not make a {cls.__name__}: "
            f"{type(err).__name__}: {err}"
        ) from err


def _rebuild(cls: type, payload: dict, device):
    """Build the fitted estimator of a checked payload."""
    from augsleep.training import resolve_device

    params = dict(payload["params"])
    if device is not None:
        params["device"] = device
    est = cls(**params)
    for name, value in payload["fitted"].items():
        if isinstance(value, Tensor):
            value = value.numpy()
        elif isinstance(value, dict) and set(value) == {_FRAME}:
            value = pd.DataFrame(value[_FRAME])
        setattr(est, name, value)
    est.classes_ = np.asarray(est.classes_)
    if est.positions_ is not None:
        est.positions_ = np.asarray(est.positions_, dtype=np.float64)
    if not hasattr(est, "compute_time_"):  # not recorded before this field
        est.compute_time_ = dict.fromkeys(COMPUTE_TIME_KEYS, math.nan)
    if not hasattr(est, "interrupted_"):  # nor before this one
        est.interrupted_ = False
    est.history_ = pd.DataFrame(payload["history"])
    est.device_ = resolve_device(est.device)
    module = est._build_module(len(est.classes_), seed=0)
    try:
        module.load_state_dict(payload["state_dict"])
    except RuntimeError as err:
        raise ValueError(f"the weights do not fit the model: {err}") from err
    est.module_ = module.to(est.device_).eval()
    est.augmentation_summary_ = est._summary()
    return est
