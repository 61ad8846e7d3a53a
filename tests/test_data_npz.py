"""DeepSleepNet npz loader, on the real Sleep-EDF npz files and on small fakes."""

from pathlib import Path

import numpy as np
import pytest

from augsleep.data import STAGE_NAMES, load_npz, parse_sleep_edf_name, to_numpy

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
NPZ = DATA / "sleep-edf-5s"
needs_data = pytest.mark.skipif(
    not NPZ.is_dir(), reason=f"real data folder {NPZ} is absent (../shared/data)"
)


@pytest.fixture(scope="module")
def real_npz():
    return load_npz(NPZ, progress=False)


@needs_data
def test_real_npz_counts_and_labels(real_npz):
    X, y, groups = to_numpy(real_npz)
    files = sorted(NPZ.glob("*.npz"))
    assert len(real_npz.datasets) == len(files) == 29
    assert X.shape == (len(y), 1, 500) and X.dtype == np.float32
    start = 0
    for f, ds in zip(files, real_npz.datasets, strict=True):
        with np.load(f) as npz:  # allow_pickle stays False
            x_ref, y_ref = npz["x"], npz["y"]
        n = len(y_ref)
        assert ds.description["source"] == str(f)
        np.testing.assert_array_equal(y[start : start + n], y_ref)
        np.testing.assert_array_equal(X[start : start + n, 0], x_ref[:, :, 0])
        assert set(groups[start : start + n]) == {int(f.name[3:5])}
        start += n
    assert start == len(y) == real_npz.loading_report.n_windows
    assert real_npz.loading_report.dropped == {}
    assert sorted(set(groups)) == list(range(15))


@needs_data
def test_real_npz_description_and_item(real_npz):
    desc = real_npz.description
    assert list(desc.columns[:3]) == ["study", "subject", "recording"]
    row = desc[desc["source"].str.endswith("SC4131E0.npz")].iloc[0]
    assert (row["subject"], row["recording"]) == (13, 1)
    X, y, _ = real_npz[0]
    assert X.shape == (1, 500) and y in range(5)


@needs_data
def test_real_npz_filters_subjects_and_nights():
    ds = load_npz(NPZ, subjects=[0, 1], recordings=[2], progress=False)
    assert [(d["subject"], d["recording"]) for _, d in ds.description.iterrows()] == [
        (0, 2),
        (1, 2),
    ]
    with pytest.raises(ValueError, match=r"Subject\(s\) \[77\] not found"):
        load_npz(NPZ, subjects=[77], progress=False)


def _write(path, **fields):
    np.savez(path, **fields)
    return path


def _fields(n=6, t=50, c=1):
    rng = np.random.default_rng(0)
    return dict(
        x=rng.standard_normal((n, t, c)).astype(np.float32),
        y=np.arange(n, dtype=np.int32) % 5,
        fs=np.float64(10.0),
        ch_label=np.array("EEG Fpz-Cz"),
    )


def test_small_npz_standardize(tmp_path):
    _write(tmp_path / "SC4021E0.npz", **_fields())
    ds = load_npz(tmp_path, standardize=True, progress=False)
    X, y, groups = to_numpy(ds)
    assert X.shape == (6, 1, 50)
    np.testing.assert_allclose(X.mean(-1), 0, atol=1e-5)
    np.testing.assert_allclose(X.std(-1), 1, atol=1e-4)
    assert list(y) == [0, 1, 2, 3, 4, 0] and set(groups) == {2}
    assert STAGE_NAMES[int(y[4])] == "REM"


def test_npz_pickled_headers_are_never_loaded(tmp_path):
    # A pickled object array next to the data: loading must not need pickle.
    fields = _fields()
    fields["header_raw"] = np.array([{"a": 1}], dtype=object)
    _write(tmp_path / "SC4011E0.npz", **fields)
    ds = load_npz(tmp_path, progress=False)
    assert len(ds) == 6


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"y": np.array([0, 1, 7, 0, 0, 0])}, r"labels \[7\] outside 0..4"),
        ({"y": np.zeros(5, dtype=int)}, r"Field 'y' .* shape \(6,\)"),
        ({"x": np.zeros(6, dtype=np.float32)}, r"Field 'x' .* got shape \(6,\)"),
        ({"ch_label": np.array(["a", "b"])}, r"names 2 channel"),
        ({"fs": np.float64(-1)}, r"Field 'fs'"),
    ],
)
def test_npz_bad_fields(tmp_path, change, match):
    path = _write(tmp_path / "SC4001E0.npz", **{**_fields(), **change})
    with pytest.raises(ValueError, match=match) as err:
        load_npz(tmp_path, progress=False)
    assert str(path) in str(err.value)


def test_npz_missing_field_and_bad_name(tmp_path):
    fields = _fields()
    del fields["fs"]
    _write(tmp_path / "SC4001E0.npz", **fields)
    with pytest.raises(ValueError, match=r"lacks field\(s\) \['fs'\]"):
        load_npz(tmp_path, progress=False)
    with pytest.raises(ValueError, match="does not follow the Sleep-EDF"):
        parse_sleep_edf_name("night1.npz")
    with pytest.raises(FileNotFoundError):
        load_npz(tmp_path / "nope", progress=False)


def test_parse_sleep_edf_name():
    assert parse_sleep_edf_name("SC4131E0-PSG.edf") == {
        "study": "SC",
        "subject": 13,
        "recording": 1,
    }
    assert parse_sleep_edf_name("ST7022J0-PSG.edf")["subject"] == 102


def _corrupt(path, how):
    _write(path, **_fields(n=200))
    content = path.read_bytes()
    if how == "truncated":
        path.write_bytes(content[: len(content) // 2])
    elif how == "bad CRC":  # one flipped byte inside the stored 'x' array
        i = len(content) // 3
        path.write_bytes(content[:i] + bytes([content[i] ^ 0xFF]) + content[i + 1 :])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "npy renamed":
        np.save(path.with_suffix(".npy"), _fields()["x"])
        path.with_suffix(".npy").rename(path)
    elif how == "text":
        path.write_text("not an npz file")


@pytest.mark.parametrize(
    "how", ["truncated", "bad CRC", "empty", "npy renamed", "text"]
)
def test_corrupt_npz_file_is_named(tmp_path, how):
    path = tmp_path / "SC4001E0.npz"
    _corrupt(path, how)
    with pytest.raises(ValueError, match=r"npz file .*SC4001E0\.npz") as err:
        load_npz(tmp_path, progress=False)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("field", ["x", "y", "ch_label"])
def test_npz_object_arrays_are_refused_without_unpickling(tmp_path, field):
    fields = _fields()
    fields[field] = np.array(list(fields[field].reshape(-1)) or [None], dtype=object)
    path = _write(tmp_path / "SC4001E0.npz", **fields)
    with pytest.raises(ValueError, match=rf"field '{field}' of .*never unpickles"):
        load_npz(tmp_path, progress=False)
    assert str(path) in str(pytest.raises(ValueError, load_npz, path).value)


@pytest.mark.parametrize(
    ("y", "match"),
    [
        (np.array([0, 1, 2.7, 3, 4, 0]), r"non-integer label\(s\) \[2\.7\]"),
        (np.array([0, 1, np.nan, 3, 4, 0]), r"non-integer label\(s\) \[nan\]"),
        (np.array(["W", "N1", "N2", "N3", "R", "W"]), r"integer labels, got dtype <U2"),
        (np.array([True, False] * 3), r"integer labels, got dtype bool"),
    ],
)
def test_npz_labels_must_be_integers(tmp_path, y, match):
    path = _write(tmp_path / "SC4001E0.npz", **{**_fields(), "y": y})
    with pytest.raises(ValueError, match=r"Field 'y' of .*" + match) as err:
        load_npz(tmp_path, progress=False)
    assert str(path) in str(err.value)


def test_npz_integral_float_labels_are_accepted(tmp_path):
    _write(tmp_path / "SC4001E0.npz", **{**_fields(), "y": np.arange(6.0) % 5})
    y = to_numpy(load_npz(tmp_path, progress=False))[1]
    assert y.tolist() == [0, 1, 2, 3, 4, 0]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (
            {"x": np.zeros((0, 50, 1), np.float32), "y": np.zeros(0, int)},
            r"Field 'x' of .* holds no window: shape \(0, 50, 1\)",
        ),
        (
            {"x": np.zeros((6, 0, 1), np.float32)},
            r"Field 'x' of .* holds no window: shape \(6, 0, 1\)",
        ),
        ({"x": np.full((6, 50, 1), "a")}, r"Field 'x' of .* numbers, got dtype <U1"),
        ({"fs": np.array("fast")}, r"Field 'fs' of .* one positive number"),
        ({"fs": np.float64(np.inf)}, r"Field 'fs' of .* one positive number"),
    ],
)
def test_npz_empty_or_non_numeric_fields(tmp_path, change, match):
    path = _write(tmp_path / "SC4001E0.npz", **{**_fields(), **change})
    with pytest.raises(ValueError, match=match) as err:
        load_npz(tmp_path, progress=False)
    assert str(path) in str(err.value)


def test_npz_duplicate_night_is_refused(tmp_path):
    _write(tmp_path / "SC4001E0.npz", **_fields())
    _write(tmp_path / "SC4001E0 (copy).npz", **_fields())
    _write(tmp_path / "SC4011E0.npz", **_fields())
    with pytest.raises(ValueError, match=r"subject 0, night 1") as err:
        load_npz(tmp_path, progress=False)
    assert "SC4001E0.npz" in str(err.value)
    assert "SC4001E0 (copy).npz" in str(err.value)
    # Selecting other recordings leaves the duplicate alone.
    assert len(load_npz(tmp_path, subjects=[1], progress=False).datasets) == 1


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"fs": np.float64(20.0)}, r"sampling rate 10\.0 Hz vs 20\.0 Hz"),
        (
            {"ch_label": np.array("EEG Pz-Oz")},
            r"channels \['EEG Fpz-Cz'\] vs \['EEG Pz-Oz'\]",
        ),
    ],
)
def test_to_numpy_refuses_to_mix_rates_or_channels(tmp_path, change, match):
    # Same array shapes, different sampling rate or channel: never concatenated.
    _write(tmp_path / "SC4001E0.npz", **_fields())
    _write(tmp_path / "SC4011E0.npz", **{**_fields(), **change})
    ds = load_npz(tmp_path, progress=False)
    with pytest.raises(ValueError, match=match) as err:
        to_numpy(ds)
    assert "SC4001E0.npz" in str(err.value) and "SC4011E0.npz" in str(err.value)
