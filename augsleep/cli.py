"""Command-line entry point: ``augsleep demo --out DIR``."""

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


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Parameters
    ----------
    argv : list of str | None
        Arguments, without the program name; ``None`` reads ``sys.argv``.

    Returns
    -------
    status : int
        0 on success (and for ``--help`` and ``--version``), 2 for a usage
        error or an output folder that cannot be written, 130 when interrupted
        (Ctrl-C).
    """
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help, --version and usage errors
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    try:
        if args.command == "demo":
            return _run_demo(args)
    except KeyboardInterrupt:
        print(f"augsleep {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
