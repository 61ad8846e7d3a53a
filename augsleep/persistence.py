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
- ``"state_dict"``: the network's weights, on the CPU.

Entries added since (``compute_time_`` in ``"fitted"``, history columns) are
optional when loading, so files written by earlier versions still load.
"""

from __future__ import annotations

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
    torch.save(payload, Path(path))


def _read(path: Path, trusted: bool):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if not trusted:
            raise ValueError(
                f"{path} contains pickled Python objects (a custom trunk or "
                "augmentation), which can execute code when loaded. Pass "
                "trusted=True only if you trust where the file comes from."
            ) from err
        return torch.load(path, map_location="cpu", weights_only=False)


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
    """
    from augsleep.training import resolve_device

    path = Path(path)
    payload = _read(path, trusted)
    fmt = payload.get("format") if isinstance(payload, dict) else None
    if cls is None:
        cls = _class_of(fmt)
        if cls is None:
            raise ValueError(f"{path} was not written by an augsleep estimator.")
    elif fmt != format_name(cls):
        raise ValueError(f"{path} was not written by {cls.__name__}.save.")
    version = payload.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"{path} has format version {version!r}; this augsleep reads versions "
            f"up to {FORMAT_VERSION}."
        )
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
    module.load_state_dict(payload["state_dict"])
    est.module_ = module.to(est.device_).eval()
    est.augmentation_summary_ = est._summary()
    return est
