"""Run a pipeline's missing tasks on Dask (or one after another), keep every record.

``scheduler="local"`` starts a :class:`distributed.LocalCluster` of
``n_workers`` processes with one thread each (one task per process at a time;
torch gets ``cores / n_workers`` threads in each), any other string is the
address of a running scheduler (e.g. one started on SLURM by
``dask-jobqueue``), and ``"sync"`` runs the tasks in this process, one after
another. Each task writes its own record (:mod:`augsleep.pipeline.records`)
as soon as it finishes, so a run killed at any moment loses at most the tasks
in flight, and a rerun computes only the tasks without a record.

A task whose worker dies (killed, out of memory) is given to another worker by
the scheduler, up to ``allowed_failures`` times (Dask's
``distributed.scheduler.allowed-failures``); after that, and for a task that
raises, a ``failed`` record with the traceback is written and the run goes on.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from augsleep.pipeline.config import Pipeline
from augsleep.pipeline.records import (
    RECORD_FORMAT,
    RECORD_VERSION,
    read_record,
    to_jsonable,
    write_record,
)
from augsleep.pipeline.tasks import Task, make_tasks
from augsleep.pipeline.worker import run_task

#: Sub-folders of a run's output folder.
RECORDS, CACHE, SYNTHETIC, MODELS = "records", "cache", "synthetic-data", "models"
#: The run's list of tasks, read by the report.
MANIFEST = "manifest.json"


@dataclass
class RunSummary:
    """What a run did.

    Attributes
    ----------
    n_tasks : int
        Tasks of the pipeline.
    n_skipped : int
        Tasks whose record already existed (not computed again).
    n_run : int
        Tasks computed by this run.
    n_failed : int
        Of those, tasks recorded as failed.
    wall_s : float
        Seconds the run took.
    failed : list of str
        Ids of the failed tasks.
    """

    n_tasks: int
    n_skipped: int
    n_run: int = 0
    n_failed: int = 0
    wall_s: float = 0.0
    failed: list[str] = field(default_factory=list)


def _is_done(path: Path, retry_failed: bool) -> bool:
    if not path.exists():
        return False
    if not retry_failed:
        return True
    try:
        return read_record(path)["status"] == "ok"
    except ValueError:
        return False


def pending_tasks(
    tasks: list[Task], records_dir: str | Path, retry_failed: bool = False
) -> list[Task]:
    """Tasks without a record (or, with ``retry_failed``, without an ``ok`` one)."""
    records_dir = Path(records_dir)
    return [t for t in tasks if not _is_done(records_dir / t.record_name, retry_failed)]


def _lost_record(spec: dict, err: BaseException | str) -> dict:
    """Build the failed record of a task that never returned (its workers died)."""
    text = err if isinstance(err, str) else "".join(traceback.format_exception(err))
    if "header" in spec:  # a study task: its spec holds its record's first fields
        header = dict(spec["header"])
    else:
        header = {
            **{k: spec[k] for k in ("task_id", "config_hash", "pipeline", "method")},
            "method_name": spec["method_name"],
            "dataset": spec["dataset"]["name"],
            "fold": spec["fold"]["index"],
            "seed": spec["seed"],
            "params": spec["params"],
        }
    return {
        "format": RECORD_FORMAT,
        "format_version": RECORD_VERSION,
        **header,
        "status": "failed",
        "error": {
            "type": type(err).__name__ if not isinstance(err, str) else "Error",
            "message": str(err).splitlines()[0] if str(err) else "",
            "traceback": text,
        },
    }


def _task_outcome(spec: dict, records_dir: str) -> tuple[str, str]:
    """Run a task on a worker; return only its status (the record is on disk)."""
    if spec.get("kind") == "study":
        from augsleep.pipeline.study_worker import run_study_task

        record = run_study_task(spec, records_dir)
    else:
        record = run_task(spec, records_dir)
    return record["status"], spec["task_id"]


class _Progress:
    """A tqdm bar over tasks that shows which tasks are running."""

    def __init__(self, total: int, desc: str, enabled: bool):
        self.bar = tqdm(total=total, desc=desc, unit="task", disable=not enabled)
        self.shown = None

    def running(self, names) -> None:
        names = sorted(names)
        if names == self.shown:  # redraw on changes only (CI logs stay short)
            return
        self.shown = names
        text = ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")
        self.bar.set_postfix_str(f"running: {text}" if names else "", refresh=True)

    def done(self) -> None:
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def _run_sync(specs, records_dir, progress, summary) -> None:
    import torch

    threads = torch.get_num_threads()
    try:
        for spec in specs:
            progress.running([spec["task_id"]])
            status, task_id = _task_outcome(spec, records_dir)
            summary.n_run += 1
            if status != "ok":
                summary.n_failed += 1
                summary.failed.append(task_id)
            progress.done()
    finally:
        torch.set_num_threads(threads)


def _run_dask(specs, records_dir, client, progress, summary) -> None:
    from distributed import wait

    by_key = {spec["task_id"]: spec for spec in specs}
    futures = [
        client.submit(_task_outcome, spec, records_dir, key=key, pure=False)
        for key, spec in by_key.items()
    ]
    remaining = set(futures)
    try:
        while remaining:
            try:
                done, remaining = wait(
                    remaining, timeout=2.0, return_when="FIRST_COMPLETED"
                )
            except TimeoutError:
                done = set()
            for future in done:
                spec = by_key[future.key]
                if future.status == "finished":
                    status, _ = future.result()
                else:  # the task's workers died too often, or it could not run
                    status = "failed"
                    try:
                        err = future.exception()
                    except BaseException as cancelled:  # cancelled by the scheduler
                        err = cancelled
                    write_record(
                        records_dir, spec["record_name"], _lost_record(spec, err)
                    )
                summary.n_run += 1
                if status != "ok":
                    summary.n_failed += 1
                    summary.failed.append(spec["task_id"])
                progress.done()
                future.release()
            with contextlib.suppress(Exception):  # display only
                keys = {k for ks in client.processing().values() for k in ks}
                progress.running(k for k in keys if k in by_key)
    except BaseException:
        client.cancel(list(remaining))
        raise


@contextlib.contextmanager
def _client(scheduler: str, n_workers: int, torch_threads: int, allowed_failures):
    import dask
    from distributed import Client, LocalCluster

    if scheduler != "local":
        with Client(scheduler) as client:
            yield client
        return
    threads = str(torch_threads)
    settings = {
        "distributed.scheduler.allowed-failures": allowed_failures,
        # A worker holds only the tasks it runs (none queued behind them), so
        # the progress bar's "running" is exact and a dying worker takes no
        # queued task down with it.
        "distributed.scheduler.worker-saturation": 1.0,
        # The environment of every worker process, restarted ones included
        # (read when the nanny spawns it, so set for the cluster's lifetime):
        # the math libraries get torch's threads, and Dask's default
        # MALLOC_TRIM_THRESHOLD_ is left out, because a fixed trim threshold
        # turns off glibc's adaptive mmap threshold and every large tensor
        # allocation then maps and unmaps fresh pages.
        "distributed.nanny.pre-spawn-environ": {
            "OMP_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads,
            "OPENBLAS_NUM_THREADS": threads,
        },
    }
    with dask.config.set(settings):
        cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            preload=["augsleep.pipeline.preload"],
        )
        try:
            with Client(cluster) as client:
                yield client
        finally:
            cluster.close()


def run_tasks(
    tasks: list[Task],
    out: str | Path,
    scheduler: str = "local",
    n_workers: int | None = None,
    torch_threads: int | None = None,
    retry_failed: bool = False,
    allowed_failures: int = 2,
    progress: bool = True,
    desc: str = "tasks",
) -> RunSummary:
    """Run the tasks that have no record yet; each writes its record.

    Parameters
    ----------
    tasks : list of Task
        From :func:`augsleep.pipeline.make_tasks` (or study tasks, from
        :func:`augsleep.pipeline.study.make_study_tasks`).
    out : str | Path
        Output folder (records in ``out/records``, cache in ``out/cache``,
        saved models in ``out/models``).
    scheduler : str
        ``"local"`` (a LocalCluster), ``"sync"`` (in this process, one task
        after another) or the address of a Dask scheduler.
    n_workers : int | None
        Worker processes of the LocalCluster (None: 2, or 1 on one core).
    torch_threads : int | None
        Torch threads per task (None: cores / workers for a LocalCluster, 1
        on a remote scheduler, unchanged for ``"sync"``).
    retry_failed : bool
        Whether to run again the tasks recorded as failed.
    allowed_failures : int
        Times a task is moved to another worker after its worker died (local
        cluster only; a remote scheduler has its own setting).
    progress : bool
        Whether to show a progress bar over tasks.
    desc : str
        Label of the progress bar.

    Returns
    -------
    summary : RunSummary
    """
    start = time.perf_counter()
    out = Path(out)
    records_dir = out / RECORDS
    records_dir.mkdir(parents=True, exist_ok=True)
    todo = pending_tasks(tasks, records_dir, retry_failed)
    summary = RunSummary(n_tasks=len(tasks), n_skipped=len(tasks) - len(todo))
    cores = os.cpu_count() or 1
    if n_workers is None:
        n_workers = min(2, cores)
    if torch_threads is None:
        import torch

        torch_threads = {
            "local": max(1, cores // n_workers),
            "sync": torch.get_num_threads(),
        }.get(scheduler, 1)
    specs = [t.spec(str(out / CACHE), torch_threads, str(out / MODELS)) for t in todo]
    bar = _Progress(len(specs), desc, progress and bool(specs))
    try:
        if not specs:
            pass
        elif scheduler == "sync":
            _run_sync(specs, str(records_dir), bar, summary)
        else:
            with _client(scheduler, n_workers, torch_threads, allowed_failures) as c:
                _run_dask(specs, str(records_dir), c, bar, summary)
    finally:
        bar.close()
        summary.wall_s = time.perf_counter() - start
    return summary


def prepare(pipeline: Pipeline, out: str | Path) -> list[Task]:
    """Write the synthetic data if needed and the run's manifest; list the tasks.

    Parameters
    ----------
    pipeline : Pipeline | StudyPipeline
        A checked pipeline (its synthetic dataset without a path goes to
        ``out/synthetic-data``).
    out : str | Path
        Output folder.

    Returns
    -------
    tasks : list of Task
    """
    from augsleep.pipeline.datasets import write_synthetic_mass

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if pipeline.kind == "study":
        return _prepare_study(pipeline, out)
    dataset = pipeline.dataset
    if dataset["loader"] == "synthetic_mass":
        if dataset["path"] is None:
            dataset["path"] = str((out / SYNTHETIC).resolve())
        write_synthetic_mass(dataset["path"], **dataset["synthetic"])
    tasks = make_tasks(pipeline)
    manifest = {
        "pipeline": pipeline.name,
        "pipeline_file": str(pipeline.path),
        "config": pipeline.raw,
        "dataset": {k: v for k, v in dataset.items() if k != "path_source"},
        "folds_file": str(pipeline.folds_file),
        "methods": [m.label for m in pipeline.methods],
        "report": pipeline.report,
        "tasks": _task_list(tasks),
    }
    _write_manifest(out, manifest)
    return tasks


def _task_list(tasks) -> list[dict]:
    return [
        {"task_id": t.task_id, "record": t.record_name, "config_hash": t.config_hash}
        for t in tasks
    ]


def _write_manifest(out: Path, manifest: dict) -> None:
    text = json.dumps(to_jsonable(manifest), indent=1)
    tmp = out / f".{MANIFEST}.tmp"
    tmp.write_text(text)
    os.replace(tmp, out / MANIFEST)


def _prepare_study(pipeline, out: Path) -> list:
    """Write a study's manifest (its data are drawn by the tasks); list its tasks."""
    tasks = make_tasks(pipeline)
    manifest = {
        "kind": "study",
        "study": pipeline.study,
        "pipeline": pipeline.name,
        "pipeline_file": str(pipeline.path),
        "size": pipeline.size,
        "config": pipeline.raw,
        "data": pipeline.data,
        "methods": [s.label for s in pipeline.settings],
        "report": {},
        "tasks": _task_list(tasks),
    }
    _write_manifest(out, manifest)
    return tasks


def run_pipeline(pipeline: Pipeline, out: str | Path, **kwargs) -> RunSummary:
    """Prepare the output folder and run the pipeline's missing tasks.

    Parameters
    ----------
    pipeline : Pipeline | StudyPipeline
        From :func:`augsleep.pipeline.load_pipeline`.
    out : str | Path
        Output folder.
    **kwargs
        Passed to :func:`run_tasks` (``scheduler``, ``n_workers``, ...).

    Returns
    -------
    summary : RunSummary
    """
    tasks = prepare(pipeline, out)
    return run_tasks(tasks, out, desc=pipeline.name, **kwargs)
