"""Cost of one search epoch of the bilevel methods against one training epoch.

ADDA, CADDA and DADA search their policy batch after batch: an outer step (one
unrolled step of the trunk, the validation loss of the unrolled trunk, two more
training-loss gradients for the finite-difference Hessian-vector product, an
Adam step of the policy) and an inner step of the trunk. This script measures,
on real Sleep-EDF windows (``../shared/data/sleep-edf-5s``, Fpz-Cz, 1 x 500 at
100 Hz), interleaved round after round (a new seeded order of the methods
every round):

- ``none``: one training epoch of the trunk alone (``NoAugmentationClassifier``,
  ``history_.train_s`` of a 1-epoch fit), the reference of every ratio;
- ``adda``, ``cadda``, ``dada``: one search epoch (``trials_.time_s`` of a fit
  with ``search_budget=1`` and no warm start: the epoch's steps and the search
  trunk's validation score), with their default 5 x 2 policies over every
  operation the single channel allows (8; DADA: 64 pairs).

It prints every method's median epoch seconds and its ratio to ``none`` of the
same round.

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_bilevel_cost.py \
        --rounds 3 [--n-train 800] [--n-valid 400] [--threads 1]
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import torch

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sleep-edf-5s"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n-train", type=int, default=800)
    parser.add_argument("--n-valid", type=int, default=400)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")

    from augsleep import (
        ADDAClassifier,
        CADDAClassifier,
        DADAClassifier,
        NoAugmentationClassifier,
    )
    from augsleep.data import load_npz, to_numpy

    rng = np.random.RandomState(0)
    X, y, _ = to_numpy(load_npz(args.data, subjects=[0], progress=False))
    X_val, y_val, _ = to_numpy(load_npz(args.data, subjects=[4], progress=False))
    train = rng.choice(len(X), args.n_train, replace=False)
    valid = rng.choice(len(X_val), args.n_valid, replace=False)
    X, y, X_val, y_val = X[train], y[train], X_val[valid], y_val[valid]
    print(
        f"Sleep-EDF: {len(X)} training windows (subject 0), {len(X_val)} "
        f"validation windows (subject 4), {X.shape[1]} x {X.shape[2]}, "
        f"{args.threads} thread(s)"
    )
    common = dict(sfreq=100.0, device="cpu", random_state=0)
    search = dict(search_budget=1, checkpoint_every=1, pretrain_epochs=0, max_epochs=1)
    methods = {
        "none": lambda: NoAugmentationClassifier(max_epochs=1, **common),
        "adda": lambda: ADDAClassifier(**search, **common),
        "cadda": lambda: CADDAClassifier(**search, **common),
        "dada": lambda: DADAClassifier(**search, **common),
    }
    seconds = {name: [] for name in methods}
    for r in range(args.rounds):
        order = np.random.RandomState(r).permutation(list(methods))
        for name in order:
            start = time.perf_counter()
            clf = methods[name]().fit(X, y, X_val=X_val, y_val=y_val)
            if name == "none":
                epoch = float(clf.history_.train_s.iloc[0])
            else:
                epoch = float(clf.trials_.time_s.iloc[0])
            seconds[name].append(epoch)
            print(
                f"round {r} {name:>5}: epoch {epoch:7.2f} s "
                f"(fit {time.perf_counter() - start:6.1f} s)",
                flush=True,
            )
    base = np.array(seconds["none"])
    print("\nmethod  median epoch s  median ratio to none (same round)")
    for name, values in seconds.items():
        ratio = np.median(np.array(values) / base)
        print(f"{name:>6}  {np.median(values):14.2f}  {ratio:10.1f}")


if __name__ == "__main__":
    main()
