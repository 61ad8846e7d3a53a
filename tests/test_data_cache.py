"""On-disk cache: identical windows, never stale, much faster."""

import os
import shutil
import time
import warnings

import numpy as np
import pytest

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


SHORT = [0, 0, 1, 2, 2, 3, 3, 2, 4, 4, 0]


def _short_night(folder):
    write_sleep_edf(hypnogram_from_labels(SHORT), folder, random_state=0)
    return folder


def test_unwritable_cache_dir_falls_back_to_no_cache(tmp_path):
    data = _short_night(tmp_path / "data")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for cache in (blocker, blocker / "cache"):
        with pytest.warns(UserWarning, match=rf"cache_dir {cache} is not writable"):
            ds = load_sleep_edf(data, cache_dir=cache, progress=False)
        assert list(ds.datasets[0].y) == SHORT
    assert blocker.read_text() == "not a folder"


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="root writes into read-only folders",
)
def test_read_only_cache_dir_falls_back_to_no_cache(tmp_path):
    data = _short_night(tmp_path / "data")
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o555)
    try:
        with pytest.warns(UserWarning, match="is not writable"):
            load_sleep_edf(data, cache_dir=cache, progress=False)
    finally:
        cache.chmod(0o755)


def _damage(entry, how):
    if how == "info.json garbage":
        (entry / "info.json").write_text("{not json")
    elif how == "info.json key missing":
        (entry / "info.json").write_text("{}")
    elif how == "data.npy truncated":
        content = (entry / "data.npy").read_bytes()
        (entry / "data.npy").write_bytes(content[: len(content) // 2])
    elif how == "data.npy too short":  # a valid array, but windows run past it
        np.save(entry / "data.npy", np.zeros((2, 10), np.float32))
    elif how == "metadata.npz missing":
        (entry / "metadata.npz").unlink()
    elif how == "info.fif empty":
        (entry / "info.fif").write_bytes(b"")


@pytest.mark.parametrize(
    "how",
    [
        "info.json garbage",
        "info.json key missing",
        "data.npy truncated",
        "data.npy too short",
        "metadata.npz missing",
        "info.fif empty",
    ],
)
def test_corrupt_cache_entry_is_rebuilt_with_a_warning(tmp_path, how):
    data, cache = _short_night(tmp_path / "data"), tmp_path / "cache"
    kwargs = dict(cache_dir=cache, crop_wake_mins=None, progress=False)
    first = load_sleep_edf(data, **kwargs)
    (key,) = _entries(cache)
    _damage(cache / key, how)
    with pytest.warns(UserWarning, match=rf"Cache entry {cache / key} .*rebuilding"):
        second = load_sleep_edf(data, **kwargs)
    for a, b in zip(to_numpy(first), to_numpy(second), strict=True):
        np.testing.assert_array_equal(a, b)
    assert first.loading_report.recordings == second.loading_report.recordings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        third = load_sleep_edf(data, **kwargs)  # rebuilt: a clean hit
    np.testing.assert_array_equal(to_numpy(first)[0], to_numpy(third)[0])
    assert _entries(cache) == [key]


def test_unknown_labels_survive_the_cache(tmp_path):
    hyp = hypnogram_from_labels(SHORT)
    hyp.append(330.0, 30.0, "Sleep stage N5")
    write_sleep_edf(hyp, tmp_path / "data", random_state=0)
    kwargs = dict(cache_dir=tmp_path / "cache", crop_wake_mins=None, progress=False)
    for _ in range(2):  # miss, then hit: both warn and report the same
        with pytest.warns(UserWarning, match="'Sleep stage N5'"):
            ds = load_sleep_edf(tmp_path / "data", **kwargs)
        assert ds.loading_report.recordings[0].unknown_labels == {"Sleep stage N5": 1}


def test_unscored_epochs_and_partial_windows_can_be_cached(tmp_path):
    # Their drop counts are numpy integers: the entry must still be written.
    hyp = hypnogram_from_labels([*SHORT, 6])
    hyp.append(360.0, 45.0, "Sleep stage 2")
    write_sleep_edf(hyp, tmp_path / "data", random_state=0)
    kwargs = dict(cache_dir=tmp_path / "cache", crop_wake_mins=None, progress=False)
    first = load_sleep_edf(tmp_path / "data", **kwargs)
    second = load_sleep_edf(tmp_path / "data", **kwargs)
    expected = {"Sleep stage ?": 1, "partial window": 1}
    assert first.loading_report.dropped == second.loading_report.dropped == expected
    assert len(_entries(tmp_path / "cache")) == 1


def _race_cached(cache, files, config, windows, report, barrier, errors):
    from augsleep.data.cache import cached

    def load():
        barrier.wait()  # every process has missed: all write the same entry at once
        return windows, report

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a clean run: no "corrupt" rebuild either
            got, _ = cached(cache, files, config, load)
        assert len(got) == len(windows)
    except BaseException as e:  # reported to the parent, which fails the test
        errors.put(f"{type(e).__name__}: {e}")


def test_processes_writing_one_entry_at_once_all_succeed(tmp_path):
    """Pipeline workers load the same nights at once: the last writer must not fail.

    The entry is the same whoever writes it (its key hashes the inputs), so a
    process that finds one already in place keeps it and goes on.
    """
    import multiprocessing as mp

    from augsleep.data.cache import load_entry

    data, cache = _short_night(tmp_path / "data"), tmp_path / "cache"
    ds = load_sleep_edf(data, crop_wake_mins=None, progress=False)
    windows, report = ds.datasets[0], ds.loading_report.recordings[0]
    files = sorted(data.iterdir())
    ctx = mp.get_context("fork")
    n_processes = 4
    for round_ in range(5):  # a new key each round
        config = {"round": round_}
        barrier, errors = ctx.Barrier(n_processes), ctx.Queue()
        procs = [
            ctx.Process(
                target=_race_cached,
                args=(cache, files, config, windows, report, barrier, errors),
            )
            for _ in range(n_processes)
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        failures = []
        while not errors.empty():
            failures.append(errors.get())
        assert not failures, f"round {round_}: {failures}"
        assert all(p.exitcode == 0 for p in procs)
    entries = _entries(cache)
    assert len(entries) == 5
    stored = windows.raw.get_data().astype(np.float32)  # the cache stores float32
    for key in entries:  # every entry whole
        got, _ = load_entry(cache, key)
        np.testing.assert_array_equal(got.raw.get_data(), stored)
