"""Speed of AugNetClassifier: training epoch and prediction cost of augmentation.

Reports (issue 4, section 6):

- time of one training epoch of AugNet (C = 1, the sleep preset) divided by the
  no-augmentation baseline's on the same data (target: at most 1.5);
- predict time with C = 20 copies divided by C = 1;
- where a training step's time goes: forward, regulariser, backward, optimiser
  step and magnitude clamp of one batch, baseline and AugNet interleaved, and
  the number of tensor operations one augmentation layer runs;
- with ``--compiled-bound``: the same step with the augmentation module compiled
  by ``torch.compile`` (inductor: fused C++ kernels; needs a C++ compiler). The
  compiled graph draws its noise from torch's global generator, not from the
  estimator's, so this is not a way to train; it is a bound on what fusing the
  augmentation's operations could give.

By default the data are the first windows of sleep-edf-5s (1 x 500). With
``--n-channels`` the windows are random (n_channels x n_times, 100 Hz); with 6
channels they get the names and positions of ``CHANNELS``, so the preset
includes its sensor layer (the shape of the paper's MASS experiment: 30-s
windows of 3000 samples). One channel of 3000 samples is Sleep-EDF's Fpz-Cz on
whole 30-s epochs.

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_estimator_speed.py \
        --n-windows 2000 --epochs 3 --rounds 3 [--compiled-bound]
    PYTHONPATH=. .venv/bin/python benchmarks/bench_estimator_speed.py \
        --n-channels 6 --n-times 3000 --n-windows 500 --epochs 3 --rounds 3
"""

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from augsleep.augment import regularization
from augsleep.channels import standard_positions
from augsleep.estimator import AugNetClassifier
from augsleep.training import make_optimizer

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sleep-edf-5s"
CHANNELS = ["C3", "C4", "F3", "F4", "O1", "O2"]


def random_windows(n_windows, n_channels, n_times):
    """Random windows (30 uV std) and labels, seeded."""
    rng = np.random.RandomState(0)
    X = 30 * rng.randn(n_windows, n_channels, n_times).astype(np.float32)
    source = f"random ({n_channels} x {n_times} @ 100 Hz)"
    return X, rng.randint(5, size=n_windows), source


def load_windows(n_windows):
    """First windows of the first nights of sleep-edf-5s, else random data."""
    files = sorted(DATA.glob("*.npz"))
    if not files:
        return random_windows(n_windows, 1, 500)
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
    parser.add_argument(
        "--n-channels",
        type=int,
        default=None,
        help="random windows of this many channels instead of sleep-edf-5s; with "
        f"{len(CHANNELS)}, named {CHANNELS}, with positions (sensor layer)",
    )
    parser.add_argument("--n-times", type=int, default=3000)
    parser.add_argument("--compiled-bound", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    channels = {}
    if args.n_channels is None:
        X, y, source = load_windows(args.n_windows)
    else:
        X, y, source = random_windows(args.n_windows, args.n_channels, args.n_times)
        if args.n_channels == len(CHANNELS):
            channels = dict(ch_names=CHANNELS, positions=standard_positions(CHANNELS))
    print(f"data: {source}, {len(X)} windows, torch threads {torch.get_num_threads()}")

    common = dict(
        **channels,
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
    if args.compiled_bound:
        compiled_bound(fitted, X, y)


def step_decomposition(fitted, X, y, repeats=100):
    """Median time of each phase of a training step on one batch (interleaved)."""
    batch = slice(0, fitted["augnet"].batch_size)
    X_b = torch.as_tensor(X[batch])
    y_b = torch.as_tensor(y[batch], dtype=torch.long)
    generator = torch.Generator().manual_seed(0)
    steps = {}
    for name, clf in fitted.items():
        model = clf.module_.train()
        # The estimator's optimiser rule (fused Adam, no decay on the augmentation).
        optimizer = make_optimizer(
            model, lr=clf.lr, betas=clf.betas, weight_decay=clf.weight_decay
        )

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


def compiled_bound(fitted, X, y, repeats=200):
    """Training step with the augmentation compiled, against eager and baseline.

    All three steps draw from torch's global generator (``generator=None``): a
    ``torch.Generator`` argument would break the compiled graph at every draw.
    """
    import copy

    batch = slice(0, fitted["augnet"].batch_size)
    X_b = torch.as_tensor(X[batch])
    y_b = torch.as_tensor(y[batch], dtype=torch.long)
    torch.manual_seed(0)

    def make_step(clf, compiled=False):
        model = copy.deepcopy(clf.module_).train()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
        augmentation = model.augmentation
        if compiled:
            model.augmentation = torch.compile(augmentation)

        def step():
            ce = torch.nn.functional.nll_loss(model(X_b), y_b)
            loss = ce + 10.0 * regularization(augmentation)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            model.clamp_magnitudes_()

        return step

    steps = {
        "baseline": make_step(fitted["baseline"]),
        "augnet, eager": make_step(fitted["augnet"]),
    }
    start = time.perf_counter()
    try:
        compiled = make_step(fitted["augnet"], compiled=True)
        compiled()
    except Exception as err:  # e.g. no C++ compiler for inductor
        print(f"torch.compile of the augmentation failed: {err!r}")
        return
    steps["augnet, augmentation compiled"] = compiled
    print(f"compiling the augmentation took {time.perf_counter() - start:.0f} s")
    times = {name: [] for name in steps}
    for round_ in range(repeats + 10):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            if round_ >= 10:
                times[name].append(time.perf_counter() - start)
    base = np.median(times["baseline"])
    print(f"one training step on {len(X_b)} windows, global generator (median ms):")
    for name, t in times.items():
        print(f"  {name}: {1e3 * np.median(t):.2f} ({np.median(t) / base:.2f}x)")


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
