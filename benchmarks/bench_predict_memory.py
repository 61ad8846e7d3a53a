"""Peak memory and time of prediction with many copies, by prediction batch size.

``AugNetClassifier`` predicts ``predict_batch_size(C, n_channels, n_times)``
windows per forward pass (about four million augmented values), so that its
memory does not grow with the number of copies C. This script compares that
batch with a fixed one of 256 windows (what the estimator used before), on
random 6 x 3000 windows with the full sleep preset and C = 20. Each
configuration runs in a fresh process, so that its peak resident memory
(``ru_maxrss``) is its own; the script reports the peak's growth during
prediction and the fastest of two predictions.

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_predict_memory.py
"""

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings

warnings.filterwarnings("ignore", category=FutureWarning)

CHANNELS = ["C3", "C4", "F3", "F4", "O1", "O2"]


def measure(batch_size, n_copies, n_windows):
    """Predict in this process; return seconds and peak memory growth in MB."""
    import torch

    from augsleep.augment import make_sleep_augmentation
    from augsleep.channels import standard_positions
    from augsleep.models import AugNet, chambon_trunk
    from augsleep.training import CPU_TRUNK_CHUNK_VALUES, predict_log_proba

    torch.manual_seed(0)
    augmentation = make_sleep_augmentation(
        100.0, CHANNELS, standard_positions(CHANNELS), magnitude=0.5
    )
    chunk = CPU_TRUNK_CHUNK_VALUES // (len(CHANNELS) * 3000)
    trunk = chambon_trunk(len(CHANNELS), 100.0, 3000)
    model = AugNet(trunk, augmentation, max_windows_per_forward=chunk).eval()
    X = torch.randn(n_windows, len(CHANNELS), 3000)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(2):
        generator = torch.Generator().manual_seed(0)
        start = time.perf_counter()
        predict_log_proba(
            model, X, batch_size=batch_size, n_copies=n_copies, generator=generator
        )
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"seconds": min(times), "peak_growth_mb": (peak - before) / 1024}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-copies", type=int, default=20)
    parser.add_argument("--n-windows", type=int, default=512)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(measure(args.child, args.n_copies, args.n_windows)))
        return

    from augsleep.training import predict_batch_size

    batches = {
        "fixed, 256 windows": 256,
        "AugNetClassifier's": predict_batch_size(args.n_copies, len(CHANNELS), 3000),
    }
    print(
        f"predict {args.n_windows} random windows of {len(CHANNELS)} x 3000, "
        f"C = {args.n_copies}, sleep preset"
    )
    print("| prediction batch | windows per batch | time (s) | peak growth (MB) |")
    print("| --- | ---: | ---: | ---: |")
    for name, batch_size in batches.items():
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(batch_size)]
            + ["--n-copies", str(args.n_copies), "--n-windows", str(args.n_windows)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(
            f"| {name} | {batch_size} | {r['seconds']:.1f} | "
            f"{r['peak_growth_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
