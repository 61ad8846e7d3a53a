"""Command-line entry point: ``augsleep demo --out DIR``."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    """Build the ``augsleep`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="augsleep",
        description="Sleep staging with learnable, differentiable augmentation.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="learn the frequency-shift invariance of sinusoids (paper, Sec. 4.2)",
        description="Train AugNet and a no-augmentation baseline on noisy sinusoids, "
        "print the learned augmentations and test accuracies, and write "
        "results.json and a figure into --out.",
    )
    demo.add_argument("--out", default="demo-results", help="output folder")
    demo.add_argument("--seed", type=int, default=0, help="seed of data and models")
    demo.add_argument("--epochs", type=int, default=50, help="training epochs")
    demo.add_argument(
        "--copies", type=int, default=10, help="augmented copies C at test time"
    )
    demo.add_argument(
        "--no-ablations",
        action="store_true",
        help="skip the Augerino-regulariser and no-regulariser ablations",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from augsleep.demo import run_demo

        if args.epochs < 1 or args.copies < 1:
            print("augsleep demo: --epochs and --copies must be >= 1", file=sys.stderr)
            return 2
        run_demo(
            args.out,
            seed=args.seed,
            n_epochs=args.epochs,
            n_copies_eval=args.copies,
            ablations=not args.no_ablations,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
