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
