"""Load-and-preprocess time of one synthetic 9-hour night, and the cache speed-up.

Sleep-EDF layout: 2 EEG channels at 100 Hz (low-pass 30 Hz, 100 Hz output).
MASS layout: 6 EEG channels at 256 Hz (low-pass 30 Hz, resampled to 100 Hz).

Run from the repository root:

    PYTHONPATH=. .venv/bin/python benchmarks/bench_loading.py [--repeats 3]
"""

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from augsleep.data import (
    hypnogram_from_labels,
    load_mass,
    load_sleep_edf,
    to_numpy,
    write_mass,
    write_sleep_edf,
)


def nine_hour_hypnogram(seed=0):
    # 30 min of wake, 8 h of cycling sleep, 30 min of wake: 1080 epochs.
    rng = np.random.default_rng(seed)
    cycle = [1] * 10 + [2] * 40 + [3] * 40 + [2] * 20 + [4] * 30 + [0] * 2 + [2] * 38
    sleep = np.resize(cycle, 960)
    sleep[rng.random(960) < 0.05] = 2  # some variability
    return hypnogram_from_labels(np.r_[[0] * 60, sleep, [0] * 60])


def bench(name, load, folder, repeats):
    import braindecode.preprocessing  # noqa: F401  (import cost out of the timings)

    rows = []
    for _ in range(repeats):
        cache = Path(tempfile.mkdtemp())
        t0 = time.perf_counter()
        first = load(folder, cache_dir=cache)
        t1 = time.perf_counter()
        second = load(folder, cache_dir=cache)
        t2 = time.perf_counter()
        shutil.rmtree(cache)
        t_none = time.perf_counter()
        load(folder, cache_dir=None)
        t3 = time.perf_counter()
        assert np.array_equal(to_numpy(first)[0], to_numpy(second)[0])
        rows.append((t3 - t_none, t1 - t0, t2 - t1))
    no_cache, miss, hit = np.median(rows, axis=0)
    X = to_numpy(first)[0]
    print(
        f"{name}: {len(X)} windows of shape {X.shape[1:]}; "
        f"load (no cache) {no_cache:.2f} s, first load with cache (miss + write) "
        f"{miss:.2f} s, second load (hit) {hit:.3f} s, speed-up {miss / hit:.0f}x "
        f"(medians of {repeats})"
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    hyp = nine_hour_hypnogram()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        write_sleep_edf(hyp, tmp / "sleep_edf", random_state=0)
        print(f"wrote Sleep-EDF night in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        write_mass(hyp, tmp / "mass", random_state=0)
        print(f"wrote MASS night in {time.perf_counter() - t:.1f} s")
        bench(
            "Sleep-EDF (2 ch, 100 Hz)",
            lambda f, **kw: load_sleep_edf(f, progress=False, **kw),
            tmp / "sleep_edf",
            args.repeats,
        )
        bench(
            "MASS (6 ch, 256 Hz -> 100 Hz)",
            lambda f, **kw: load_mass(f, progress=False, **kw),
            tmp / "mass",
            args.repeats,
        )


if __name__ == "__main__":
    main()
