"""How noisy are DADA's and ADDA's policy gradients on the bumps control?

Runs the real searches (:class:`DADAClassifier`, :class:`ADDAClassifier`) with
the settings of ``bench_controls.py --controls bumps`` (tiny trunk, lr 1e-2;
ADDA with one warm-start epoch and policy lr 5e-3) and records, after every
outer step, the hypergradient the policy's Adam is given for the probability of
every stage holding a watched operation (sign flip, the helpful one; time
reverse, the label-destroying one). Printed per method and seed: the outer
steps taken, the mean over steps and stages of that gradient (negative: the
step raises the probability), its per-step standard deviation, the
signal-to-noise ratio ``|mean| / std`` per stage (mean over stages; pure
noise over ``n`` steps reads about ``0.8 / sqrt(n)``: 0.13 at 40 steps, 0.04
at 400, printed in the header); then the relaxed policy's
P(window gets the operation) at the end (as bench_controls.py's "relaxed").

Run (1 thread)::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_bilevel_gradient_noise.py \
        --seeds 0 1 2 3 4 5 --epochs 20
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from augsleep import ADDAClassifier, DADAClassifier

# The controls' helpers (tests/_toy.py, benchmarks/bench_controls.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _toy import BUMP_OPERATIONS, control_params, make_bumps_control  # noqa: E402
from bench_controls import relaxed_probability  # noqa: E402

WATCHED = ("sign_flip", "time_reverse")


def _probe(cls):
    """A subclass of a bilevel search recording the probabilities' gradients."""

    class Probed(cls):
        def _after_outer_step(self, policy):
            # p.grad holds the hypergradient the policy's Adam has just used.
            inner = policy.policy if hasattr(policy, "parameters_learned") else policy
            grad = inner._probabilities.grad
            if grad is not None:
                self.probe_grads.append(grad.detach().clone())
            super()._after_outer_step(policy)

    Probed.__name__ = f"Probed{cls.__name__}"
    return Probed


def stage_mask(clf, op_index: int) -> torch.Tensor:
    """Entries (k, s, q) of the probabilities that hold operation ``op_index``."""
    grads = clf.probe_grads[0]
    mask = torch.zeros_like(grads, dtype=torch.bool)
    if isinstance(clf, DADAClassifier):
        ph = clf.policy_history_
        rows = ph[ph.epoch == 0].sort_values("subpolicy")
        names = BUMP_OPERATIONS
        for k, row in enumerate(rows.itertuples()):
            for s in range(clf.n_stages):
                if getattr(row, f"stage{s}_operation") == names[op_index]:
                    mask[k, s, op_index] = True
    else:
        mask[..., op_index] = True
    return mask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["dada", "adda"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--train-flip", type=float, default=0.0)
    parser.add_argument("--policy-lr", type=float, default=None)
    parser.add_argument(
        "--subpolicy-space", choices=("product", "combinations"), default="product"
    )
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    classes = {"dada": DADAClassifier, "adda": ADDAClassifier}
    print(
        f"bumps (train flip {args.train_flip:g}), {args.epochs} search epochs, "
        f"policy lr {args.policy_lr or 'method default (DADA) / 5e-3 (ADDA)'}, "
        f"DADA's sub-policies: {args.subpolicy_space}\n"
    )
    cols = []
    for op in WATCHED:
        cols += [f"{op} mean g", "sd g", "SNR", "relaxed P"]
    floor = 0.8 / np.sqrt(2 * args.epochs)  # bumps: 2 outer steps an epoch
    print(f"Pure noise reads SNR ~ {floor:.2f} over {2 * args.epochs} steps.\n")
    print("| method | seed | steps | " + " | ".join(cols) + " | fit (s) |")
    print("| --- |" + " ---: |" * (3 + len(cols)))
    for method in args.methods:
        rows = []
        for seed in args.seeds:
            start = time.perf_counter()
            (X, y), (X_val, y_val), _ = make_bumps_control(
                seed, 20, 80, train_flip=args.train_flip
            )
            params = dict(
                search_budget=args.epochs,
                checkpoint_every=args.epochs,
                n_subpolicies=2,
                operations=list(BUMP_OPERATIONS),
                **control_params(seed),
            )
            if method == "adda":
                params.update(pretrain_epochs=1, policy_lr=5e-3)
            if method == "dada":
                params["subpolicy_space"] = args.subpolicy_space
            if args.policy_lr is not None:
                params["policy_lr"] = args.policy_lr
            clf = _probe(classes[method])(**params)
            clf.probe_grads = []
            clf.fit(X, y, X_val=X_val, y_val=y_val)
            grads = torch.stack(clf.probe_grads)  # (steps, K, N, Q)
            cells, row = [], []
            for op in WATCHED:
                q = BUMP_OPERATIONS.index(op)
                mask = stage_mask(clf, q)
                g = grads[:, mask]  # (steps, n_stages_with_op)
                mean, sd = g.mean(0), g.std(0)
                snr = float((mean.abs() / sd.clamp_min(1e-30)).mean())
                values = (
                    float(mean.mean()),
                    float(sd.mean()),
                    snr,
                    relaxed_probability(clf, method, op),
                )
                row.append(values)
                cells += [f"{v:.2g}" for v in values[:2]]
                cells += [f"{values[2]:.2f}", f"{values[3]:.3f}"]
            rows.append(row)
            print(
                f"| {method} | {seed} | {len(grads)} | " + " | ".join(cells) + " | "
                f"{time.perf_counter() - start:.1f} |"
            )
        m = np.mean(rows, axis=0)
        cells = []
        for values in m:
            cells += [f"{v:.2g}" for v in values[:2]]
            cells += [f"{values[2]:.2f}", f"{values[3]:.3f}"]
        print(f"| {method} | mean | | " + " | ".join(cells) + " | |")


if __name__ == "__main__":
    main()
