"""Faster AutoAugment's negative control: does a label-destroying operation fade?

Toy task: the label is the direction of time (class 0 windows rise, class 1
windows fall, plus noise), so time reverse maps each class onto the other while
keeping the data's distribution: the critic's discriminator cannot see it, and
only the cross-entropy terms of the policy loss can push its probability down.
Gaussian noise is the harmless operation next to it.

For every seed the search runs with the reference settings (20 epochs, lr 1e-3,
betas (0, 0.999), temperature 0.05, cls_factor 0.1, gp_factor 10) on the
package's Chambon trunk, and the script prints, per operation, its *usage* at the
start and at the end of the search: the mean over the policy's stages of
``weight * probability`` (the chance that a window gets the operation at a
stage), and the exported policy's usage of it (stages whose top operation it is,
times their probability, over the number of stages).

Run::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_faster_autoaugment_controls.py \
        --seeds 6
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from augsleep import FasterAutoAugmentClassifier
from augsleep.data import make_ramps

SFREQ = 100.0


def usage(frame, name: str) -> float:
    """Mean over stages of ``weight * probability`` of one operation."""
    rows = frame[frame["transform"] == name]
    n_stages = len(frame.groupby(["subpolicy", "stage"]))
    return float((rows.weight * rows.probability).sum() / n_stages)


def exported_usage(choices, name: str) -> float:
    stages = [stage for sub in choices for stage in sub]
    return sum(p for op, p, _ in stages if op == name) / len(stages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--n-windows", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--search-lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ops = ["time_reverse", "gaussian_noise"]
    X, y = make_ramps(args.n_windows, n_times=300, random_state=0)
    X_val, y_val = make_ramps(64, n_times=300, random_state=1)
    X_test, y_test = make_ramps(256, n_times=300, random_state=2)
    print(
        f"{args.n_windows} training windows, {args.epochs} search epochs, "
        f"search_lr {args.search_lr:g}, operations {ops}\n"
    )
    header = "| seed | " + " | ".join(
        f"{op} start | {op} end | {op} exported" for op in ops
    )
    print(header + " | test bal. acc. | fit (s) |")
    print("|" + " ---: |" * (3 + 3 * len(ops)))
    totals = {op: [] for op in ops}
    for seed in range(args.seeds):
        start = time.perf_counter()
        clf = FasterAutoAugmentClassifier(
            search_budget=args.epochs,
            checkpoint_every=args.epochs,  # one retraining, at the end
            operations=ops,
            search_lr=args.search_lr,
            sfreq=SFREQ,
            max_epochs=30,
            patience=10,
            device="cpu",
            random_state=seed,
        )
        clf.fit(X, y, X_val=X_val, y_val=y_val, X_test=X_test, y_test=y_test)
        frames = clf.search_policy_
        first = frames[frames.n_epochs == 0]
        last = frames[frames.n_epochs == frames.n_epochs.max()]
        cells = []
        for op in ops:
            values = (
                usage(first, op),
                usage(last, op),
                exported_usage(clf.policy_choices_, op),
            )
            totals[op].append(values)
            cells += [f"{v:.3f}" for v in values]
        test = clf.search_history_.test_balanced_accuracy.iloc[-1]
        print(
            f"| {seed} | " + " | ".join(cells) + f" | {test:.3f} | "
            f"{time.perf_counter() - start:.1f} |"
        )
    means = []
    for op in ops:
        means += [f"{v:.3f}" for v in np.mean(totals[op], axis=0)]
    print("| mean | " + " | ".join(means) + " | | |")
    tr = np.array(totals["time_reverse"])
    print(
        f"\ntime_reverse usage fell in {(tr[:, 1] < tr[:, 0]).sum()} of "
        f"{len(tr)} searches."
    )


if __name__ == "__main__":
    main()
