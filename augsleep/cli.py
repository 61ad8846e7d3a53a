"""Command-line entry point: ``augsleep demo``, ``run``, ``report``, ``list``."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

#: Largest ``--seed``: numpy seeds lie in [0, 2**32 - 1] and the demo draws its
#: test data with ``seed + 1``.
MAX_SEED = 2**32 - 2


def _count(text: str) -> int:
    """Argparse type of ``--epochs`` and ``--copies``: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def _seed(text: str) -> int:
    """Argparse type of ``--seed``: an integer in [0, :data:`MAX_SEED`]."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"must be an integer in [0, {MAX_SEED}], got {text!r}"
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    """Build the ``augsleep`` argument parser."""
    from augsleep import __version__

    parser = argparse.ArgumentParser(
        prog="augsleep",
        description="Sleep staging with learnable, differentiable augmentation.",
    )
    parser.add_argument(
        "--version", action="version", version=f"augsleep {__version__}"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="learn the frequency-shift invariance of sinusoids (paper, Sec. 4.2)",
        description="Train AugNet and a no-augmentation baseline on noisy sinusoids, "
        "print the learned augmentations and test accuracies, and write "
        "results.json and a figure into --out.",
    )
    demo.add_argument(
        "--out",
        default="demo-results",
        help="output folder (created if needed; checked to be writable before "
        "training)",
    )
    demo.add_argument(
        "--seed",
        type=_seed,
        default=0,
        help=f"seed of data and models, in [0, {MAX_SEED}]",
    )
    demo.add_argument("--epochs", type=_count, default=50, help="training epochs")
    demo.add_argument(
        "--copies", type=_count, default=10, help="augmented copies C at test time"
    )
    demo.add_argument(
        "--no-ablations",
        action="store_true",
        help="skip the Augerino-regulariser and no-regulariser ablations",
    )
    run = sub.add_parser(
        "run",
        help="run a pipeline file (datasets x folds x methods x seeds) on Dask",
        description="Run every task of a pipeline file that has no record in "
        "--out yet (a rerun computes only the missing tasks), then write the "
        "table and figures into OUT/report.",
    )
    run.add_argument("pipeline", help="pipeline file (YAML), e.g. pipelines/smoke.yml")
    run.add_argument("--out", required=True, help="output folder (records, report)")
    run.add_argument(
        "--scheduler",
        default="local",
        help="'local' (a Dask LocalCluster, default), 'sync' (in this process, "
        "one task after another) or the address of a Dask scheduler "
        "(tcp://host:8786)",
    )
    run.add_argument(
        "--workers",
        type=_count,
        default=None,
        help="worker processes of the local cluster (default: 2, or 1 on one core)",
    )
    run.add_argument(
        "--torch-threads",
        type=_count,
        default=None,
        help="torch threads per task (default: cores / workers on a local "
        "cluster, 1 on a remote scheduler)",
    )
    run.add_argument(
        "--data-dir", default=None, help="dataset folder (overrides dataset.path)"
    )
    run.add_argument(
        "--size",
        default="full",
        help="'full' (the file as written, default) or a size of the file's "
        "'sizes' section, e.g. 'quick'",
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="check the pipeline and list its tasks (done or to run); run nothing",
    )
    run.add_argument(
        "--retry-failed", action="store_true", help="run failed tasks again"
    )
    run.add_argument("--no-report", action="store_true", help="skip the report")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    report = sub.add_parser(
        "report",
        help="rebuild the table and figures of a run from its records",
        description="Write OUT/report (table.csv, table.md, points.csv, "
        "curves.csv, fig6b.png, figB10.png, figB11.png) from OUT/records.",
    )
    report.add_argument("out", help="the run's output folder")
    report.add_argument("--no-figures", action="store_true", help="tables only")
    sub.add_parser(
        "list",
        help="list the methods, dataset loaders and pipeline files",
        description="List the methods of augsleep.methods.METHODS, the dataset "
        "loaders a pipeline file can name, and the files of ./pipelines.",
    )
    return parser


def _prepare_output_folder(out: str) -> list[Path]:
    """Create ``out`` if needed and check that a file can be written into it.

    Parameters
    ----------
    out : str
        The ``--out`` folder.

    Returns
    -------
    created : list of Path
        The folders this call created, deepest first (``out`` and the parents
        it had to make), for :func:`_remove_if_empty`.

    Raises
    ------
    OSError
        If the folder cannot be created or written (a path under a regular
        file, a missing write permission, a read-only file system...). The
        folders created on the way are removed again.
    """
    path = Path(out)
    missing = []
    parent = path
    while not parent.exists() and parent != parent.parent:
        missing.append(parent)
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise NotADirectoryError(f"{str(parent)!r} is a file, not a directory")
    created: list[Path] = []
    try:
        for folder in reversed(missing):  # from the top down
            folder.mkdir()
            created.insert(0, folder)
        fd, probe = tempfile.mkstemp(prefix=".augsleep-write-check-", dir=path)
        os.close(fd)
        os.remove(probe)
    except OSError:
        _remove_if_empty(created)
        raise
    return created


def _remove_if_empty(folders: list[Path]) -> None:
    """Remove each folder, deepest first, as long as it is empty."""
    for folder in folders:
        try:
            folder.rmdir()  # refuses a folder that holds anything
        except OSError:
            return


def _run_demo(args: argparse.Namespace) -> int:
    """Check ``--out``, then run the demo; return the exit status."""
    try:
        created = _prepare_output_folder(args.out)
    except OSError as err:
        reason = err.strerror or str(err)  # "Permission denied", not the probe
        print(
            f"augsleep demo: error: cannot write the output folder {args.out!r}: "
            f"{reason} (nothing was run)",
            file=sys.stderr,
        )
        return 2
    try:
        # Imported here: the demo's imports (torch, braindecode) are slow, and a
        # test replaces augsleep.demo.run_demo.
        from augsleep import demo

        demo.run_demo(
            args.out,
            seed=args.seed,
            n_epochs=args.epochs,
            n_copies_eval=args.copies,
            ablations=not args.no_ablations,
        )
    except BaseException:
        # Interrupted or failed: do not leave behind an empty folder this run
        # made (never one the user had, nor one with anything in it).
        _remove_if_empty(created)
        raise
    return 0


def _error(command: str, message: str) -> int:
    print(f"augsleep {command}: error: {message}", file=sys.stderr)
    return 2


def _run_pipeline(args: argparse.Namespace) -> int:
    """Check the pipeline and ``--out``, run the missing tasks, report."""
    from augsleep.pipeline import PipelineError, load_pipeline, make_tasks
    from augsleep.pipeline.execution import RECORDS, pending_tasks, run_pipeline

    try:
        pipeline = load_pipeline(args.pipeline, data_dir=args.data_dir, size=args.size)
    except PipelineError as err:
        return _error("run", f"{err} (nothing was run)")
    if args.dry_run:
        tasks = make_tasks(pipeline)
        study = pipeline.kind == "study"
        todo = {t.task_id for t in pending_tasks(tasks, Path(args.out) / RECORDS)}
        for task in tasks:
            state = "to run" if task.task_id in todo else "done"
            print(f"{task.task_id}  [{state}]  {task.record_name}")
        data = (
            f"{pipeline.study} study, drawn by each task"
            if study
            else pipeline.dataset["path"] or "synthetic, written at run"
        )
        print(
            f"{len(tasks)} tasks: {len(tasks) - len(todo)} done, {len(todo)} to run "
            f"(data: {data})"
        )
        return 0
    try:
        _prepare_output_folder(args.out)
    except OSError as err:
        reason = err.strerror or str(err)
        return _error(
            "run",
            f"cannot write the output folder {args.out!r}: {reason} (nothing was run)",
        )
    try:
        summary = run_pipeline(
            pipeline,
            args.out,
            scheduler=args.scheduler,
            n_workers=args.workers,
            torch_threads=args.torch_threads,
            retry_failed=args.retry_failed,
            progress=not args.no_progress,
        )
    except KeyboardInterrupt:
        print(
            f"augsleep run: interrupted; the finished tasks' records are in "
            f"{args.out}/records (rerun the same command to continue)",
            file=sys.stderr,
        )
        raise
    print(
        f"{summary.n_tasks} tasks: {summary.n_skipped} skipped (record exists), "
        f"{summary.n_run} run, {summary.n_failed} failed, in {summary.wall_s:.0f} s"
    )
    for task_id in summary.failed:
        print(f"failed: {task_id} (traceback in its record)", file=sys.stderr)
    if not args.no_report:
        _print_report(args.out, figures=True)
    return 1 if summary.n_failed else 0


def _print_report(out: str, figures: bool) -> None:
    from augsleep.pipeline import build_report

    written = build_report(out, figures=figures)
    print(written["table.md"].read_text())
    for note in written.pop("notes"):
        print(note)
    print("wrote " + ", ".join(str(p) for p in written.values()))


def _report(args: argparse.Namespace) -> int:
    try:
        _print_report(args.out, figures=not args.no_figures)
    except (FileNotFoundError, ValueError) as err:
        return _error("report", str(err))
    return 0


def _list() -> int:
    from augsleep.methods import METHODS
    from augsleep.pipeline.datasets import DATASETS
    from augsleep.pipeline.study import STUDIES

    print("methods (pipeline files: methods.<name>: {parameters}):")
    for name, cls in METHODS.items():
        print(f"  {name:<20} {cls.__name__}")
    print("dataset loaders (dataset.loader):")
    for name, kind in DATASETS.items():
        print(f"  {name:<20} augsleep.data.{kind.loader.__name__}")
    print("studies (study pipeline files: study: <name>):")
    for name in STUDIES:
        print(f"  {name:<20} augsleep.demo.train_sinusoid_model")
    files = sorted(Path("pipelines").glob("*.yml"))
    if files:
        print("pipeline files:")
        for f in files:
            print(f"  {f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Parameters
    ----------
    argv : list of str | None
        Arguments, without the program name; ``None`` reads ``sys.argv``.

    Returns
    -------
    status : int
        0 on success (and for ``--help`` and ``--version``), 1 when a
        pipeline task failed (it is recorded), 2 for a usage error, a bad
        pipeline file or an output folder that cannot be written, 130 when
        interrupted (Ctrl-C).
    """
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help, --version and usage errors
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    try:
        if args.command == "demo":
            return _run_demo(args)
        if args.command == "run":
            return _run_pipeline(args)
        if args.command == "report":
            return _report(args)
        if args.command == "list":
            return _list()
    except KeyboardInterrupt:
        print(f"augsleep {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
