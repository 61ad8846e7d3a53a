"""On-disk cache: identical windows, never stale, much faster."""

import shutil
import time

import numpy as np

from augsleep.data import (
    hypnogram_from_labels,
    load_mass,
    load_sleep_edf,
    to_numpy,
    write_mass,
    write_sleep_edf,
)

rng = np.random.default_rng(0)
LABELS = rng.choice(5, size=240)  # 2 hours


def _entries(cache):
    return sorted(p.name for p in cache.iterdir() if not p.name.startswith("."))


def test_cache_hit_is_identical_and_faster(tmp_path):
    write_sleep_edf(hypnogram_from_labels(LABELS), tmp_path / "data", random_state=0)
    cache = tmp_path / "cache"
    kwargs = dict(cache_dir=cache, crop_wake_mins=None, progress=False)
    load_sleep_edf(tmp_path / "data", **kwargs)  # imports warm up
    shutil.rmtree(cache)
    t0 = time.perf_counter()
    first = load_sleep_edf(tmp_path / "data", **kwargs)
    t1 = time.perf_counter()
    second = load_sleep_edf(tmp_path / "data", **kwargs)
    t2 = time.perf_counter()
    assert len(_entries(cache)) == 1
    for a, b in zip(to_numpy(first), to_numpy(second), strict=True):
        np.testing.assert_array_equal(a, b)
    assert first.loading_report.recordings == second.loading_report.recordings
    assert (first.description == second.description).all().all()
    assert (first.get_metadata() == second.get_metadata()).all().all()
    assert t2 - t1 < (t1 - t0) / 2  # loose in tests; the benchmark measures it


def test_changed_config_or_file_is_never_stale(tmp_path):
    data, cache = tmp_path / "data", tmp_path / "cache"
    write_sleep_edf(hypnogram_from_labels(LABELS), data, random_state=0)
    kwargs = dict(cache_dir=cache, crop_wake_mins=None, progress=False)
    x0 = to_numpy(load_sleep_edf(data, **kwargs))[0]
    x_std = to_numpy(load_sleep_edf(data, standardize=True, **kwargs))[0]
    assert len(_entries(cache)) == 2 and not np.allclose(x0, x_std)
    # Same names, same size, new content: a new entry, new windows.
    write_sleep_edf(hypnogram_from_labels(LABELS), data, random_state=1)
    x1 = to_numpy(load_sleep_edf(data, **kwargs))[0]
    assert len(_entries(cache)) == 3 and not np.allclose(x0, x1)
    # A changed hypnogram changes the labels.
    write_sleep_edf(hypnogram_from_labels(LABELS[::-1]), data, random_state=1)
    y = to_numpy(load_sleep_edf(data, **kwargs))[1]
    np.testing.assert_array_equal(y, LABELS[::-1])


def test_cache_follows_moved_files_and_mass(tmp_path):
    write_mass(hypnogram_from_labels(LABELS[:20]), tmp_path / "a", random_state=0)
    cache = tmp_path / "cache"
    first = load_mass(tmp_path / "a", cache_dir=cache, progress=False)
    (tmp_path / "a").rename(tmp_path / "b")
    second = load_mass(tmp_path / "b", cache_dir=cache, progress=False)
    assert len(_entries(cache)) == 1
    assert second.description["source"].iloc[0].startswith(str(tmp_path / "b"))
    np.testing.assert_array_equal(to_numpy(first)[0], to_numpy(second)[0])
    assert second.datasets[0].raw.get_montage() is not None
