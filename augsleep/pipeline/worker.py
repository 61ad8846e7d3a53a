"""What one task does on a worker: load its subjects, fit, score, record.

:func:`run_task` takes the JSON-able spec of :meth:`Task.spec
<augsleep.pipeline.tasks.Task.spec>` (paths, never data), loads only the fold's
subjects from the dataset folder (through the shared preprocessing cache),
fits the method with the fold's validation subjects for early stopping (and
its test subjects, for the searches that score every checkpoint on them:
scored only, never used to choose), scores the test subjects and writes the
task's record atomically. An exception in the task becomes a ``failed``
record with its traceback; the run goes on.
"""

from __future__ import annotations

import datetime
import inspect
import os
import platform
import socket
import time
import traceback
from pathlib import Path

import numpy as np

from augsleep.pipeline.records import RECORD_FORMAT, RECORD_VERSION, write_record

#: Columns a ``search_history_`` needs to give the points of Fig. 6b.
CURVE_COLUMNS = ("total_s", "valid_balanced_accuracy", "test_balanced_accuracy")


def versions(eeg: bool = True) -> dict:
    """Versions of Python and of the packages that decide a result.

    ``eeg=False`` leaves out braindecode and MNE (slow to import), which the
    synthetic studies do not use.
    """
    import sklearn
    import torch

    import augsleep

    found = {
        "augsleep": augsleep.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
    }
    if eeg:
        import braindecode
        import mne

        found |= {"braindecode": braindecode.__version__, "mne": mne.__version__}
    return found


def metrics(y_true, y_pred) -> dict:
    """Balanced accuracy, Cohen's kappa, macro F1 and accuracy of predictions."""
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        cohen_kappa_score,
        f1_score,
    )

    return {
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        "cohen_kappa": float(cohen_kappa_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
    }


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def _fitted(clf, name: str):
    """Return a fitted attribute, or None (methods have different ones)."""
    try:
        value = getattr(clf, name)
    except Exception:  # unfitted, or a method without it
        return None
    return value


def _save_model(clf, path: Path) -> None:
    """Save a fitted model atomically (a temporary file renamed over its name).

    Written before the record, so a task whose record exists has its model.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        clf.save(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_model(out, record: dict, trusted: bool = False):
    """Load the model a task saved (pipelines with ``save_models: true``).

    Parameters
    ----------
    out : str | Path
        The run's output folder.
    record : dict
        The task's record (from :func:`augsleep.pipeline.records.read_records`).
    trusted : bool
        Passed to :func:`augsleep.load` (models with pickled parts).

    Returns
    -------
    estimator : BaseSleepClassifier
        The fitted classifier of the task.
    """
    import augsleep

    if not record.get("model"):
        raise ValueError(
            f"task {record.get('task_id')!r} saved no model: set "
            "'save_models: true' in its pipeline file"
        )
    return augsleep.load(Path(out) / record["model"], trusted=trusted)


def _fit_and_score(spec: dict, timings: dict) -> dict:
    import torch

    from augsleep.methods import METHODS
    from augsleep.pipeline.datasets import load_subjects

    torch.set_num_threads(spec["torch_threads"])
    fold = spec["fold"]
    start = time.perf_counter()
    X, y, groups, context = load_subjects(
        spec["dataset"], sorted({*fold["train"], *fold["valid"], *fold["test"]})
    )
    parts = {p: np.isin(groups, fold[p]) for p in ("train", "valid", "test")}
    timings["load_s"] = time.perf_counter() - start
    clf = METHODS[spec["method_name"]](
        **spec["params"], **context, random_state=spec["seed"], verbose=0
    )
    fit_kwargs = {"X_val": X[parts["valid"]], "y_val": y[parts["valid"]]}
    if "X_test" in inspect.signature(clf.fit).parameters:
        fit_kwargs.update(X_test=X[parts["test"]], y_test=y[parts["test"]])
    start = time.perf_counter()
    clf.fit(X[parts["train"]], y[parts["train"]], **fit_kwargs)
    timings["fit_s"] = time.perf_counter() - start
    start = time.perf_counter()
    scores = {
        part: metrics(y[parts[part]], clf.predict(X[parts[part]]))
        for part in ("valid", "test")
    }
    timings["score_s"] = time.perf_counter() - start
    if spec.get("model_path"):
        _save_model(clf, Path(spec["model_path"]))
    history = _fitted(clf, "search_history_")
    checkpoints = None
    if history is not None and all(c in history.columns for c in CURVE_COLUMNS):
        checkpoints = history
    policy = _fitted(clf, "policy_")
    return {
        "n_windows": {p: int(mask.sum()) for p, mask in parts.items()},
        "metrics": scores,
        "compute_time": dict(clf.compute_time_),
        "checkpoints": checkpoints,
        "search_history": history,
        "trials": _fitted(clf, "trials_"),
        "augmentation_summary": _fitted(clf, "augmentation_summary_"),
        "policy": policy.to_frame() if hasattr(policy, "to_frame") else None,
        "history": _fitted(clf, "history_"),
        "best_epoch": _fitted(clf, "best_epoch_"),
        "model": (
            str(Path("models") / Path(spec["model_path"]).name)
            if spec.get("model_path")
            else None
        ),
        "interrupted": bool(getattr(clf, "interrupted_", False)),
    }


def run_task(spec: dict, records_dir: str | None = None) -> dict:
    """Run one task and write its record.

    Parameters
    ----------
    spec : dict
        From :meth:`augsleep.pipeline.tasks.Task.spec`.
    records_dir : str | None
        Folder of the records (None: do not write; the caller does).

    Returns
    -------
    record : dict
        ``status`` is ``"ok"`` or ``"failed"`` (then ``error`` holds the
        exception's type, message and traceback).
    """
    header = {
        **{k: spec[k] for k in ("task_id", "config_hash", "pipeline", "method")},
        "method_name": spec["method_name"],
        "dataset": spec["dataset"]["name"],
        "fold": spec["fold"]["index"],
        "subjects": {p: spec["fold"][p] for p in ("train", "valid", "test")},
        "seed": spec["seed"],
        "params": spec["params"],
    }
    return recorded_run(
        header,
        lambda timings: _fit_and_score(spec, timings),
        records_dir,
        spec["record_name"],
    )


def recorded_run(
    header: dict, work, records_dir, record_name: str, eeg: bool = True
) -> dict:
    """Run a task's work and build (and write) its record.

    Shared by the sleep tasks (:func:`run_task`) and the study tasks
    (:func:`augsleep.pipeline.study_worker.run_study_task`).

    Parameters
    ----------
    header : dict
        What the record says about the task (id, hash, parameters, seed...).
    work : callable
        Called with a dict to fill with timings; returns the results to add to
        the record. An exception it raises becomes a ``failed`` record.
    records_dir : str | Path | None
        Folder of the records (None: do not write; the caller does).
    record_name : str
        File name of the record.
    eeg : bool
        Whether the versions include the EEG libraries (:func:`versions`).

    Returns
    -------
    record : dict
    """
    started, start = _now(), time.perf_counter()
    record = {
        "format": RECORD_FORMAT,
        "format_version": RECORD_VERSION,
        **header,
        "status": "ok",
        "error": None,
    }
    timings: dict = {}
    try:
        record.update(work(timings))
    except Exception as err:
        record["status"] = "failed"
        record["error"] = {
            "type": type(err).__name__,
            "message": str(err),
            "traceback": traceback.format_exc(),
        }
    record["timings"] = {
        **timings,
        "wall_s": time.perf_counter() - start,
        "started": started,
        "finished": _now(),
    }
    record["worker"] = {"host": socket.gethostname(), "pid": os.getpid()}
    record["versions"] = versions(eeg=eeg)
    if records_dir is not None:
        write_record(Path(records_dir), record_name, record)
    return record
