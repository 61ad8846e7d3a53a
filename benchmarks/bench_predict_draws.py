"""Cost of per-window augmentation draws at prediction, against batch draws.

``AugNetClassifier.predict`` draws each window's augmented copies from a
generator of its own, seeded from the prediction seed and the window
(:func:`augsleep.training.window_seeds`), so that a window's prediction does
not depend on its batch; the augmentation then runs once per window (on its C
copies) and the trunk on the whole batch of copies. Before, one generator drew
the copies of a whole prediction batch in one augmentation pass.

This script times, interleaved (every round in a new seeded random order),
on random windows of the Sleep-EDF shape (1 x 500 at 100 Hz, the sleep
preset's two time-frequency layers) and of the MASS shape (6 x 3000, with the
sensor layer), AugNet with ``n_copies_eval`` C (default 20), magnitudes 0.5,
the Chambon trunk in the estimator's CPU chunks and the estimator's prediction
batches (``predict_batch_size``):

- ``trunk``: the trunk alone (no augmentation), the reference of the ratios;
- ``batch``: batch draws (``predict_log_proba(..., generator=g)``);
- ``window``: per-window draws (``predict_log_proba(..., seed=s)``), what the
  estimators do;
- ``seeds``: :func:`window_seeds` alone (hashing every window), a part of
  ``window``.

It prints the median seconds per window of each, and the ratios
``window / batch`` and ``x / trunk`` (medians of the per-round ratios).

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_predict_draws.py \
        [--rounds 7] [--threads 2] [--n-copies 20]
"""

import argparse
import random
import statistics
import time
import warnings

warnings.filterwarnings("ignore", category=FutureWarning)

MASS_CHANNELS = ["C3", "C4", "F3", "F4", "O1", "O2"]


def build(n_chans, n_times, n_copies):
    """The trunk alone and AugNet, as AugNetClassifier builds them for a CPU."""
    import torch

    from augsleep.augment import make_sleep_augmentation
    from augsleep.channels import standard_positions
    from augsleep.models import AugNet, chambon_trunk
    from augsleep.training import trunk_chunk_size

    torch.manual_seed(0)
    trunk = chambon_trunk(n_chans, 100.0, n_times)
    if n_chans == 1:
        augmentation = make_sleep_augmentation(100.0, sensor_layer=False, magnitude=0.5)
    else:
        channels = MASS_CHANNELS[:n_chans]
        augmentation = make_sleep_augmentation(
            100.0, channels, standard_positions(channels), magnitude=0.5
        )
    chunk = trunk_chunk_size(n_chans, n_times, torch.device("cpu"))
    plain = AugNet(trunk, None, max_windows_per_forward=chunk).eval()
    augnet = AugNet(
        trunk, augmentation, n_copies_eval=n_copies, max_windows_per_forward=chunk
    ).eval()
    return plain, augnet


def time_shape(name, n_chans, n_times, n_windows, args):
    import torch

    from augsleep.training import predict_batch_size, predict_log_proba, window_seeds

    plain, augnet = build(n_chans, n_times, args.n_copies)
    X = torch.randn(n_windows, n_chans, n_times)
    batch = predict_batch_size(args.n_copies, n_chans, n_times)
    plain_batch = predict_batch_size(1, n_chans, n_times)
    runs = {
        "trunk": lambda: predict_log_proba(plain, X, batch_size=plain_batch, seed=0),
        "batch": lambda: predict_log_proba(
            augnet, X, batch_size=batch, generator=torch.Generator().manual_seed(0)
        ),
        "window": lambda: predict_log_proba(augnet, X, batch_size=batch, seed=0),
        "seeds": lambda: window_seeds(X, 0),
    }
    times = {k: [] for k in runs}
    rng = random.Random(0)
    for r in range(args.warmup + args.rounds):
        order = list(runs)
        rng.shuffle(order)
        for key in order:
            start = time.perf_counter()
            runs[key]()
            if r >= args.warmup:
                times[key].append(time.perf_counter() - start)

    def ratio(a, b):
        return statistics.median(x / y for x, y in zip(times[a], times[b], strict=True))

    per_window = {k: 1e3 * statistics.median(v) / n_windows for k, v in times.items()}
    print(
        f"| {name} | {n_windows} | {batch} | {per_window['trunk']:.3f} | "
        f"{per_window['batch']:.3f} | {per_window['window']:.3f} | "
        f"{per_window['seeds']:.4f} | {ratio('window', 'batch'):.2f} | "
        f"{ratio('batch', 'trunk'):.1f} | {ratio('window', 'trunk'):.1f} |"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n-copies", type=int, default=20)
    parser.add_argument(
        "--n-windows",
        type=int,
        nargs=2,
        default=(838, 44),
        metavar=("SLEEP_EDF", "MASS"),
        help="windows predicted per call (default: 2 and 4 prediction batches)",
    )
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    print(
        f"C = {args.n_copies}, {args.rounds} rounds after {args.warmup} warm-up, "
        f"{args.threads} threads, torch {torch.__version__}; ms per window"
    )
    print(
        "| windows | predicted | per batch | trunk | batch draws | window draws | "
        "of which seeds | window / batch | batch / trunk | window / trunk |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    time_shape("Sleep-EDF 1 x 500", 1, 500, args.n_windows[0], args)
    time_shape("MASS 6 x 3000", 6, 3000, args.n_windows[1], args)


if __name__ == "__main__":
    main()
