"""Speed of the transforms and of AugNet, as ratios measured side by side.

1. Each transform's forward + backward on a (128, 6, 3000) batch, against
   braindecode's own functional op where one exists (forward + backward with
   respect to the input where braindecode's op supports it, else forward only).
2. One AugNet training step (C = 1, sleep preset, Chambon trunk, loss
   cross-entropy + 10 R) against the same step of the trunk alone.
3. Inference time with C = 1, 4, 10, 20 copies divided by C times the trunk's
   on the batch, with the C x n augmented windows in one trunk pass and in
   chunks (``AugNet(max_windows_per_forward=...)``, by default the chunks that
   ``AugNetClassifier`` uses on a CPU).
4. The same ratio at the batches ``AugNetClassifier.predict`` runs (about four
   million augmented values: 233 windows with C = 1, 58 with C = 4), where the
   fixed cost of the augmentation's draws is spread over more windows.

Run: ``python benchmarks/bench_core.py [--device cpu|cuda] [--out FILE.md]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import warnings

import numpy as np
import torch

warnings.filterwarnings("ignore", category=FutureWarning)

from bench_estimator_speed import CountOps  # noqa: E402 (same folder)
from braindecode.augmentation import functional as bdf  # noqa: E402

from augsleep.augment import make_sleep_augmentation, regularization  # noqa: E402
from augsleep.channels import (  # noqa: E402
    homologous_permutation,
    standard_positions,
)
from augsleep.models import AugNet, chambon_trunk  # noqa: E402
from augsleep.training import (  # noqa: E402
    CPU_TRUNK_CHUNK_VALUES,
    predict_batch_size,
)
from augsleep.transforms import TRANSFORMS, make_transform  # noqa: E402

CHANNELS = ["C3", "C4", "F3", "F4", "O1", "O2"]
SFREQ = 100.0


def timeit(fns: dict, repeats: int, device: str) -> dict:
    """Median wall-clock seconds of each function, measured interleaved.

    The functions run in turn, ``repeats`` rounds after 2 warm-up rounds, so that a
    change in the machine's load affects all of them alike and their ratios stay
    meaningful on a shared machine. Each round takes them in a new random order
    (seeded), so that no function always runs right after a costly one (whose
    freed memory the next must fault in again).
    """
    times = {name: [] for name in fns}
    order = list(fns)
    rng = random.Random(0)
    for round_ in range(repeats + 2):
        rng.shuffle(order)
        for name in order:
            fn = fns[name]
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            fn()
            if device == "cuda":
                torch.cuda.synchronize()
            if round_ >= 2:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def braindecode_ops(X, positions):
    """Braindecode's functional counterpart of each transform (mu = 0.5 strength).

    Returns, per transform name, ``(op, differentiable)`` where ``op(X)`` applies
    braindecode's op and ``differentiable`` says whether it supports a backward
    pass with respect to ``X``.
    """
    n = len(X)
    y = torch.zeros(n, dtype=torch.long, device=X.device)
    rng = np.random.RandomState(0)
    # braindecode builds its rotation matrices in float64.
    pos = torch.as_tensor(positions.T, dtype=torch.float64, device=X.device)
    perm = homologous_permutation(CHANNELS)
    starts = torch.rand(n, device=X.device) * 2900
    shifts = torch.rand(n, device=X.device) * 2.5
    return {
        "time_reverse": (lambda X: bdf.time_reverse(X, y)[0], True),
        "sign_flip": (lambda X: bdf.sign_flip(X, y)[0], True),
        "gaussian_noise": (lambda X: bdf.gaussian_noise(X, y, 0.1, rng)[0], True),
        "smooth_time_mask": (
            lambda X: bdf.smooth_time_mask(X, y, starts, 100)[0],
            True,
        ),
        "ft_surrogate": (lambda X: bdf.ft_surrogate(X, y, 0.5, False, rng)[0], True),
        "frequency_shift": (
            lambda X: bdf.frequency_shift(X, y, shifts, SFREQ)[0],
            True,
        ),
        # numpy/MNE: no gradient at all.
        "bandstop_filter": (
            lambda X: bdf.bandstop_filter(X, y, SFREQ, 1.0, rng.uniform(1, 49, n))[0],
            False,
        ),
        "channels_symmetry": (lambda X: bdf.channels_permute(X, y, perm)[0], True),
        "channels_shuffle": (
            lambda X: bdf.channels_shuffle(X, y, 0.5, rng)[0],
            True,
        ),
        "channels_dropout": (
            lambda X: bdf.channels_dropout(X, y, 0.5, rng)[0],
            True,
        ),
        # Backward crashes in braindecode 1.8 (in-place op): forward only.
        "sensors_rotation_z": (
            lambda X: bdf.sensors_rotation(
                X, y, pos, "z", rng.uniform(-15, 15, n), True
            )[0],
            False,
        ),
    }


def bench_transforms(device, repeats, batch_size):
    g = torch.Generator(device=device).manual_seed(0)
    X = torch.randn(batch_size, len(CHANNELS), 3000, device=device, generator=g)
    positions = standard_positions(CHANNELS)
    W = torch.randn_like(X)
    reference = braindecode_ops(X, positions)
    rows = []
    # The magnitude collects its gradient, as a layer's magnitudes do.
    mu = torch.tensor(0.5, device=device, requires_grad=True)
    for name in TRANSFORMS:
        t = make_transform(
            name, sfreq=SFREQ, ch_names=CHANNELS, positions=positions
        ).to(device)
        X_grad = X.clone().requires_grad_(True)

        def ours(t=t, X_grad=X_grad):
            (t(X_grad, mu, g) * W).sum().backward()

        row = {"transform": name}
        if name not in reference:
            row["ours_ms"] = 1e3 * timeit({"ours": ours}, repeats, device)["ours"]
        else:
            op, differentiable = reference[name]

            def theirs(op=op, differentiable=differentiable):
                if differentiable:
                    (op(X.clone().requires_grad_(True)) * W).sum().backward()
                else:
                    op(X)

            t = timeit({"ours": ours, "theirs": theirs}, repeats, device)
            t_ours, t_bd = t["ours"], t["theirs"]
            row |= {
                "ours_ms": 1e3 * t_ours,
                "braindecode_ms": 1e3 * t_bd,
                "braindecode_timed": "fwd+bwd" if differentiable else "fwd only",
                "ratio": t_ours / t_bd,
            }
        rows.append(row)
    return rows


def bench_augnet(device, repeats, batch_size, trunk_chunk):
    positions = standard_positions(CHANNELS)
    g = torch.Generator(device=device).manual_seed(0)
    X = torch.randn(batch_size, len(CHANNELS), 3000, device=device, generator=g)
    y = torch.randint(0, 5, (batch_size,), device=device, generator=g)

    def build(augment):
        torch.manual_seed(0)
        trunk = chambon_trunk(len(CHANNELS), SFREQ, 3000)
        aug = (
            make_sleep_augmentation(
                SFREQ, CHANNELS, positions, magnitude=0.5, temperature=1.0
            )
            if augment
            else None
        )
        model = AugNet(trunk, aug, n_copies_train=1).to(device)
        # Fused Adam, as AugNetClassifier uses: one kernel for all parameters.
        return model, torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)

    steps = {}
    for label, augment in (("trunk", False), ("augnet", True)):
        model, opt = build(augment)
        model.train()

        def step(model=model, opt=opt):
            # The loss of training: cross-entropy + lambda R (R = 0 for the trunk).
            loss = torch.nn.functional.nll_loss(model(X, g), y)
            loss = loss + 10.0 * regularization(model.augmentation).to(device)
            opt.zero_grad()
            loss.backward()
            opt.step()
            model.clamp_magnitudes_()

        steps[label] = step
    results = timeit(steps, repeats, device)
    train = {"trunk_ms": 1e3 * results["trunk"], "augnet_ms": 1e3 * results["augnet"]}
    train["ratio"] = results["augnet"] / results["trunk"]

    model, _ = build(True)
    model.eval()
    inference = []
    copies = (1, 4, 10, 20)
    with torch.no_grad():
        # AugNet with the C x n augmented windows in one trunk pass, and in chunks
        # of trunk_chunk windows (what AugNetClassifier does on a CPU).
        def augnet(c, chunk):
            model.max_windows_per_forward = chunk
            return model(X, g, n_copies=c)

        fns = {"trunk": lambda: model.trunk(X)}
        fns |= {("one", c): (lambda c=c: augnet(c, None)) for c in copies}
        fns |= {("chunks", c): (lambda c=c: augnet(c, trunk_chunk)) for c in copies}
        t = timeit(fns, repeats, device)
        t_trunk = t["trunk"]
        with CountOps() as ops:
            model.augmentation(X, g)
        for c in copies:
            inference.append(
                {
                    "C": c,
                    "one_pass_ms": 1e3 * t[("one", c)],
                    "one_pass_per_copy": t[("one", c)] / t_trunk / c,
                    "chunks_ms": 1e3 * t[("chunks", c)],
                    "chunks_per_copy": t[("chunks", c)] / t_trunk / c,
                }
            )
    return train, 1e3 * t_trunk, inference, ops.n


def bench_prediction_batch(device, repeats, trunk_chunk, copies):
    """Inference at the batches AugNetClassifier.predict uses.

    With C copies the estimator augments ``predict_batch_size(C, 6, 3000)``
    windows per forward pass. The reference is the no-augmentation model's
    prediction: the trunk alone on its own batch (``predict_batch_size(1, 6,
    3000)`` windows). Both run the trunk in chunks of ``trunk_chunk`` windows,
    as the estimator does on a CPU. The ratio is AugNet's time per window over
    C times the trunk's time per window.
    """
    positions = standard_positions(CHANNELS)
    g = torch.Generator(device=device).manual_seed(1)
    batches = {c: predict_batch_size(c, len(CHANNELS), 3000) for c in copies}
    n_trunk = predict_batch_size(1, len(CHANNELS), 3000)
    X = torch.randn(
        max(n_trunk, *batches.values()), len(CHANNELS), 3000, device=device, generator=g
    )
    torch.manual_seed(0)
    trunk = chambon_trunk(len(CHANNELS), SFREQ, 3000)
    aug = make_sleep_augmentation(SFREQ, CHANNELS, positions, magnitude=0.5)
    model = AugNet(trunk, aug, max_windows_per_forward=trunk_chunk).to(device)
    model.eval()
    fns = {"trunk": lambda: model._trunk_logits(X[:n_trunk])}
    for c, n in batches.items():
        fns[c] = lambda c=c, n=n: model(X[:n], g, n_copies=c)
    with torch.no_grad():
        t = timeit(fns, repeats, device)
    trunk_per_window = t["trunk"] / n_trunk
    return (
        1e3 * t["trunk"],
        n_trunk,
        [
            {
                "C": c,
                "windows": n,
                "ms": 1e3 * t[c],
                "per_copy": t[c] / n / trunk_per_window / c,
            }
            for c, n in batches.items()
        ],
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--transform-batch", type=int, default=128)
    parser.add_argument("--train-batch", type=int, default=16)
    parser.add_argument(
        "--trunk-chunk",
        type=int,
        default=CPU_TRUNK_CHUNK_VALUES // (len(CHANNELS) * 3000),
        help="max_windows_per_forward of the chunked inference column (default: "
        "AugNetClassifier's choice on a CPU, 29 windows of 6 x 3000)",
    )
    parser.add_argument(
        "--predict-copies",
        default="1,4,20",
        help="comma-separated C of the prediction-batch table",
    )
    parser.add_argument("--predict-repeats", type=int, default=7)
    parser.add_argument("--out", default=None, help="also write the tables here")
    args = parser.parse_args()
    torch.manual_seed(0)

    lines = [
        f"device: {args.device}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads",
        "",
        f"### Transforms: forward + backward on ({args.transform_batch}, 6, 3000)",
        "",
        "| transform | augsleep (ms) | braindecode (ms) | braindecode timed | ratio |",
        "| --- | ---: | ---: | --- | ---: |",
    ]
    for r in bench_transforms(args.device, args.repeats, args.transform_batch):
        bd = (
            f"{r['braindecode_ms']:.1f} | {r['braindecode_timed']} | {r['ratio']:.2f}"
            if "ratio" in r
            else "- | - | -"
        )
        lines.append(f"| {r['transform']} | {r['ours_ms']:.1f} | {bd} |")
    train, trunk_ms, inference, n_ops = bench_augnet(
        args.device, args.repeats, args.train_batch, args.trunk_chunk
    )
    lines += [
        "",
        f"### One training step, batch ({args.train_batch}, 6, 3000), Chambon trunk",
        "",
        "| trunk alone (ms) | AugNet C=1, sleep preset (ms) | ratio |",
        "| ---: | ---: | ---: |",
        f"| {train['trunk_ms']:.1f} | {train['augnet_ms']:.1f} "
        f"| {train['ratio']:.2f} |",
        "",
        f"### Inference, batch ({args.train_batch}, 6, 3000); trunk alone "
        f"{trunk_ms:.1f} ms",
        "",
        f"| C | AugNet, one trunk pass (ms) | / (trunk x C) | AugNet, trunk in "
        f"chunks of {args.trunk_chunk} windows (ms) | / (trunk x C) |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in inference:
        lines.append(
            f"| {r['C']} | {r['one_pass_ms']:.1f} | {r['one_pass_per_copy']:.2f} | "
            f"{r['chunks_ms']:.1f} | {r['chunks_per_copy']:.2f} |"
        )
    lines += [
        "",
        f"The augmentation (evaluation mode, C = 1) runs {n_ops} tensor operations "
        f"on this batch.",
    ]
    copies = [int(c) for c in args.predict_copies.split(",")]
    trunk_ms, n_trunk, rows = bench_prediction_batch(
        args.device, args.predict_repeats, args.trunk_chunk, copies
    )
    lines += [
        "",
        "### Inference at the estimator's prediction batches (6 x 3000 windows), "
        f"trunk in chunks of {args.trunk_chunk} windows; trunk alone {trunk_ms:.1f} "
        f"ms on its batch of {n_trunk} windows",
        "",
        "| C | windows per batch | AugNet (ms) | per window / (trunk's x C) |",
        "| ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {r['C']} | {r['windows']} | {r['ms']:.1f} | {r['per_copy']:.2f} |"
        for r in rows
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
