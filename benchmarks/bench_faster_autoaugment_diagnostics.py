"""Why Faster AutoAugment fails the toy controls: its policy gradients, measured.

Runs Faster AutoAugment's real search (:class:`FasterAutoAugmentClassifier`)
on a toy control, with a probe on the policy step: at every step it records the
gradient that each of the policy loss's two terms, ``cls_factor * CE(augmented)``
and ``-D(augmented)``, sends to every stage's probability of the watched
operations, before the step is taken. Options change what the policy step
minimises, for diagnosis only (the package's search is the ``full`` loss):

- ``--policy-loss full`` (the method, reference): ``cls_factor * CE - D``;
- ``--policy-loss ce``: ``cls_factor * CE`` alone (what the classification term
  would do without the critic's term);
- ``--policy-loss d``: ``-D`` alone;
- ``--gp channel``: the reference's gradient penalty, the norm over channels
  only, one per time sample, then averaged (moskomule/dda takes it over the
  image channels, per pixel); ``window`` (the package's): one norm per window.

Printed per seed: each watched operation's usage (mean over stages of
``weight * probability``) at the start and the end; the mean over steps and
stages of each term's gradient on the probabilities (negative: the step raises
the probability); the per-step standard deviation of the ``D`` term's; the
signal-to-noise ratio ``|mean| / std`` per stage (mean over stages) of the
gradient the step used; and the exported policy's test balanced accuracy.

Run (1 thread)::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_faster_autoaugment_diagnostics.py \
        --control ramps --seeds 0 1 2 3 4 5 --epochs 20
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from augsleep import FasterAutoAugmentClassifier
from augsleep.data import make_ramps
from augsleep.methods.faster_autoaugment import DensityMatching

# The controls' helpers (tests/_toy.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _toy import TinyTrunk, make_bumps_control  # noqa: E402

SFREQ = 100.0
CONTROLS = {
    # The negative control of bench_faster_autoaugment_controls.py.
    "ramps": ("time_reverse", "gaussian_noise"),
    # The positive control of bench_controls.py --controls bumps.
    "bumps": ("time_reverse", "gaussian_noise", "smooth_time_mask", "sign_flip"),
}


class ProbedSearch(DensityMatching):
    """Faster AutoAugment's search step, with the policy gradients recorded."""

    policy_loss = "full"
    gp_norm = "window"

    def __init__(self, base: DensityMatching, watched: list[int]):
        self.__dict__.update(base.__dict__)
        self.watched = watched
        self.records: list[dict] = []

    def gradient_penalty(self, real, fake, generator):
        if self.gp_norm == "window":
            return super().gradient_penalty(real, fake, generator)
        # The reference's: norm over the channels (dim 1) of every time sample.
        grad = self.interpolation_gradient(real, fake, generator)
        return (grad.norm(dim=1) - 1).pow(2).mean()

    def step(self, X_real, y_real, X_aug, y_aug, generator):
        optimizer, self.policy_optimizer = self.policy_optimizer, None
        try:  # the critic's step, as the package's
            values = super().step(X_real, y_real, X_aug, y_aug, generator)
        finally:
            self.policy_optimizer = optimizer
        critic, policy = self.critic, self.policy
        critic.requires_grad_(False)
        try:
            optimizer.zero_grad(set_to_none=True)
            logits, d_aug = critic(policy(X_aug, generator))
            ce = self.cls_factor * self._ce(logits, y_aug)
            d_term = -d_aug.mean()
            p = policy._probabilities
            (g_ce,) = torch.autograd.grad(ce, [p], retain_graph=True)
            (g_d,) = torch.autograd.grad(d_term, [p], retain_graph=True)
            self.records.append(
                {
                    "ce": g_ce[..., self.watched].detach().clone(),
                    "d": g_d[..., self.watched].detach().clone(),
                    "p": policy.probabilities[..., self.watched].detach().clone(),
                }
            )
            loss = {"full": ce + d_term, "ce": ce, "d": d_term}[self.policy_loss]
            loss.backward()
            optimizer.step()
            policy.clamp_magnitudes_()
        finally:
            critic.requires_grad_(True)
        values["policy_loss"] = (ce + d_term).detach()
        values["augmented_ce"] = (ce / max(self.cls_factor, 1e-12)).detach()
        return values


class ProbedFasterAutoAugment(FasterAutoAugmentClassifier):
    """Faster AutoAugment whose search is a :class:`ProbedSearch`."""

    probe_loss = "full"
    probe_gp = "window"
    probe: ProbedSearch | None = None

    def _make_search(self, data, seeds, operations):
        base = super()._make_search(data, seeds, operations)
        names = [op.name for op in operations]
        watched = [names.index(n) for n in CONTROLS[self.probe_control]]
        search = ProbedSearch(base, watched)
        search.policy_loss, search.gp_norm = self.probe_loss, self.probe_gp
        type(self).probe = search
        return search


def usage(frame, name: str) -> float:
    """Mean over stages of ``weight * probability`` of one operation."""
    rows = frame[frame["transform"] == name]
    n_stages = len(frame.groupby(["subpolicy", "stage"]))
    return float((rows.weight * rows.probability).sum() / n_stages)


def make_sets(control, seed, train_flip, n_windows):
    if control == "ramps":
        return (
            make_ramps(n_windows, n_times=300, random_state=0),
            make_ramps(64, n_times=300, random_state=1),
            make_ramps(256, n_times=300, random_state=2),
        )
    return make_bumps_control(seed, n_windows, train_flip=train_flip)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--control", choices=sorted(CONTROLS), default="ramps")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument(
        "--n-windows", type=int, default=None, help="ramps: 256, bumps: 20"
    )
    parser.add_argument("--train-flip", type=float, default=0.0)
    parser.add_argument("--search-lr", type=float, default=1e-3)
    parser.add_argument("--cls-factor", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--policy-loss", choices=("full", "ce", "d"), default="full")
    parser.add_argument("--gp", choices=("window", "channel"), default="window")
    parser.add_argument(
        "--trunk", choices=("chambon", "tiny"), default=None, help="ramps: chambon"
    )
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ops = list(CONTROLS[args.control])
    n_windows = args.n_windows or (256 if args.control == "ramps" else 20)
    trunk = args.trunk or ("chambon" if args.control == "ramps" else "tiny")
    print(
        f"{args.control} (train flip {args.train_flip:g}), {n_windows} training "
        f"windows, {args.epochs} epochs, lr {args.search_lr:g}, cls_factor "
        f"{args.cls_factor:g}, batch {args.batch_size}, policy loss "
        f"{args.policy_loss}, gp {args.gp}, trunk {trunk}\n"
    )
    cols = []
    for op in ops:
        cols += [f"{op} start", "end", "g_CE", "g_D", "sd g_D", "SNR"]
    print("| seed | steps | " + " | ".join(cols) + " | test | fit (s) |")
    print("|" + " ---: |" * (4 + len(cols)))
    rows = []
    for seed in args.seeds:
        start = time.perf_counter()
        (X, y), (X_val, y_val), (X_test, y_test) = make_sets(
            args.control, seed, args.train_flip, n_windows
        )
        clf = ProbedFasterAutoAugment(
            search_budget=args.epochs,
            checkpoint_every=args.epochs,
            operations=ops,
            search_lr=args.search_lr,
            cls_factor=args.cls_factor,
            batch_size=args.batch_size,
            sfreq=SFREQ,
            device="cpu",
            random_state=seed,
            **(
                dict(max_epochs=30, patience=10)
                if trunk == "chambon"
                else dict(
                    trunk=TinyTrunk(),
                    max_epochs=15,
                    patience=5,
                    lr=1e-2,
                    betas=(0.9, 0.999),
                )
            ),
        )
        clf.probe_control, clf.probe_loss, clf.probe_gp = (
            args.control,
            args.policy_loss,
            args.gp,
        )
        clf.fit(X, y, X_val=X_val, y_val=y_val, X_test=X_test, y_test=y_test)
        records = type(clf).probe.records
        g_ce = torch.stack([r["ce"] for r in records])  # (steps, K, N, n_watched)
        g_d = torch.stack([r["d"] for r in records])
        # The gradient the step used (CE, D or both).
        total = {"full": g_ce + g_d, "ce": g_ce, "d": g_d}[args.policy_loss]
        snr = (total.mean(0).abs() / total.std(0).clamp_min(1e-30)).mean((0, 1))
        frames = clf.search_policy_
        first = frames[frames.n_epochs == 0]
        last = frames[frames.n_epochs == frames.n_epochs.max()]
        cells, row = [], {}
        for j, op in enumerate(ops):
            values = (
                usage(first, op),
                usage(last, op),
                float(g_ce[..., j].mean()),
                float(g_d[..., j].mean()),
                float(g_d[..., j].std(0).mean()),
                float(snr[j]),
            )
            row[op] = values
            cells += [f"{v:.3f}" if k < 2 else f"{v:.2g}" for k, v in enumerate(values)]
        test = clf.search_history_.test_balanced_accuracy.iloc[-1]
        rows.append(row)
        print(
            f"| {seed} | {len(records)} | " + " | ".join(cells) + f" | {test:.3f} "
            f"| {time.perf_counter() - start:.1f} |"
        )
    means = []
    for op in ops:
        m = np.mean([r[op] for r in rows], axis=0)
        means += [f"{v:.3f}" if k < 2 else f"{v:.2g}" for k, v in enumerate(m)]
    print("| mean | | " + " | ".join(means) + " | | |")
    for op in ops:
        fell = sum(r[op][1] < r[op][0] for r in rows)
        print(f"{op}: usage fell in {fell} of {len(rows)} searches.")


if __name__ == "__main__":
    main()
