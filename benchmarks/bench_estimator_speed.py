"""Speed of AugNetClassifier: training epoch and prediction cost of augmentation.

Reports (issue 4, section 6):

- time of one training epoch of AugNet (C = 1, the sleep preset) divided by the
  no-augmentation baseline's on the same data (target: at most 1.5);
- predict time with C = 20 copies divided by C = 1;
- where a training step's time goes: forward, regulariser, backward, optimiser
  step and magnitude clamp of one batch, baseline and AugNet interleaved, and
  the number of tensor operations one augmentation layer runs.

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_estimator_speed.py \
        --n-windows 2000 --epochs 3 --rounds 3
"""

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from augsleep.estimator import AugNetClassifier
from augsleep.regularizers import regularization

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sleep-edf-5s"


def load_windows(n_windows):
    """First windows of the first nights of sleep-edf-5s, else random data."""
    files = sorted(DATA.glob("*.npz"))
    if not files:
        rng = np.random.RandomState(0)
        X = 30 * rng.randn(n_windows, 1, 500).astype(np.float32)
        return X, rng.randint(5, size=n_windows), "random (1 x 500 @ 100 Hz)"
    Xs, ys = [], []
    for f in files:
        with np.load(f) as d:  # no allow_pickle: x, y, fs load without it
            Xs.append(d["x"].transpose(0, 2, 1))
            ys.append(d["y"])
        if sum(map(len, Xs)) >= n_windows:
            break
    X = np.concatenate(Xs)[:n_windows].astype(np.float32)
    return X, np.concatenate(ys)[:n_windows], "sleep-edf-5s (1 x 500 @ 100 Hz)"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-windows", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    X, y, source = load_windows(args.n_windows)
    print(f"data: {source}, {len(X)} windows, torch threads {torch.get_num_threads()}")

    common = dict(
        sfreq=100.0,
        max_epochs=args.epochs,
        validation_fraction=None,
        random_state=0,
        device="cpu",
    )
    # The two fits alternate, round after round, so that a change in the shared
    # machine's load hits both alike; each round's ratio is reported, and the
    # median over rounds.
    epoch_s = {"baseline": [], "augnet": []}
    fitted = {}
    for round_ in range(args.rounds):
        for name, aug in (("baseline", None), ("augnet", "sleep")):
            clf = AugNetClassifier(aug, **common).fit(X, y)
            # The first epoch includes warm-up; take the median of the others.
            dur = clf.history_.dur_s.to_numpy()
            epoch_s[name].append(float(np.median(dur[1:] if len(dur) > 1 else dur)))
            fitted[name] = clf
            print(f"round {round_}, {name}: epoch times {np.round(dur, 2).tolist()} s")
    ratios = np.divide(epoch_s["augnet"], epoch_s["baseline"])
    print(
        f"training epoch: augnet {np.median(epoch_s['augnet']):.2f} s / baseline "
        f"{np.median(epoch_s['baseline']):.2f} s; ratio per round "
        f"{np.round(ratios, 2).tolist()}, median {np.median(ratios):.2f} "
        "(target <= 1.5)"
    )

    clf = fitted["augnet"]
    pred_s = {}
    for c in (1, 20):
        clf.set_params(n_copies_eval=c)
        clf.module_.n_copies_eval = c
        clf.predict_proba(X[:256])  # warm-up
        times = []
        for _ in range(3):
            start = time.perf_counter()
            clf.predict_proba(X)
            times.append(time.perf_counter() - start)
        pred_s[c] = float(np.median(times))
    start = time.perf_counter()
    fitted["baseline"].predict_proba(X)
    base_pred = time.perf_counter() - start
    print(
        f"predict {len(X)} windows: C=20 {pred_s[20]:.2f} s / C=1 {pred_s[1]:.2f} s "
        f"= {pred_s[20] / pred_s[1]:.1f} (trunk alone: {base_pred:.2f} s)"
    )

    step_decomposition(fitted, X, y)


def step_decomposition(fitted, X, y, repeats=100):
    """Median time of each phase of a training step on one batch (interleaved)."""
    batch = slice(0, fitted["augnet"].batch_size)
    X_b = torch.as_tensor(X[batch])
    y_b = torch.as_tensor(y[batch], dtype=torch.long)
    generator = torch.Generator().manual_seed(0)
    steps = {}
    for name, clf in fitted.items():
        model, optimizer = clf.module_.train(), clf._make_optimizer()

        def step(model=model, optimizer=optimizer):
            t = [time.perf_counter()]
            ce = torch.nn.functional.nll_loss(model(X_b, generator), y_b)
            t.append(time.perf_counter())
            reg = regularization(model.augmentation)
            loss = ce + 10.0 * reg
            t.append(time.perf_counter())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            t.append(time.perf_counter())
            optimizer.step()
            t.append(time.perf_counter())
            model.clamp_magnitudes_()
            t.append(time.perf_counter())
            return np.diff(t)

        steps[name] = step
    times = {name: [] for name in steps}
    for round_ in range(repeats + 5):
        for name, step in steps.items():
            phases = step()
            if round_ >= 5:
                times[name].append(phases)
    print(f"one training step on a batch of {len(X_b)} (median ms of {repeats}):")
    for name, t in times.items():
        med = 1e3 * np.median(np.array(t), axis=0)
        print(
            f"  {name}: forward {med[0]:.2f}, regulariser {med[1]:.2f}, backward "
            f"{med[2]:.2f}, optimiser {med[3]:.2f}, clamp {med[4]:.2f}; "
            f"total {1e3 * np.median(np.sum(t, axis=1)):.2f}"
        )
    layer = fitted["augnet"].module_.augmentation.layers[0]
    with CountOps() as forward:
        out = layer(X_b, generator)
    with CountOps() as backward:
        out.backward(torch.ones_like(out))
    print(
        f"one time-frequency layer runs {forward.n} tensor operations forward and "
        f"{backward.n} backward"
    )


class CountOps(TorchDispatchMode):
    """Count the ATen operations that run inside the context."""

    def __init__(self):
        super().__init__()
        self.n = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.n += 1
        return func(*args, **(kwargs or {}))


if __name__ == "__main__":
    main()
