"""Sleep-EDF loader end to end: synthetic PSG driven by the real hypnograms, and
the one real whole night against its published npz windows."""

from pathlib import Path

import mne
import numpy as np
import pytest

from augsleep.data import (
    ANNOTATION_TO_STAGE,
    STAGE_TO_INT,
    crop_hypnogram,
    load_sleep_edf,
    to_epochs,
    to_numpy,
    write_sleep_edf,
)
from augsleep.data.windows import stage_epochs

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
HYP = DATA / "sleep-edf-hypnograms"
needs_data = pytest.mark.skipif(
    not HYP.is_dir(), reason=f"real data folder {HYP} is absent (../shared/data)"
)


def _expected(annotations, signal_s):
    """Scored epochs of a hypnogram, counted independently of the loader."""
    onsets, labels = [], []
    for onset, dur, desc in zip(
        annotations.onset, annotations.duration, annotations.description, strict=True
    ):
        if desc in ANNOTATION_TO_STAGE:
            for k in range(int(dur // 30)):
                if onset + 30 * (k + 1) <= signal_s:
                    onsets.append(onset + 30 * k)
                    labels.append(STAGE_TO_INT[ANNOTATION_TO_STAGE[desc]])
    order = np.argsort(onsets)
    return np.asarray(onsets)[order], np.asarray(labels)[order]


@pytest.fixture(scope="module")
def cropped(tmp_path_factory):
    """Two 2-hour synthetic nights; crops start off the 30-s grid (15 s in)."""
    folder = tmp_path_factory.mktemp("sleep_edf")
    hyps = {}
    for subject, name, tmin in [(0, "SC4001EC", 28815.0), (1, "SC4011EH", 30015.0)]:
        ann = mne.read_annotations(HYP / f"{name}-Hypnogram.edf")
        hyps[subject] = crop_hypnogram(ann, tmin, tmin + 7200)
        write_sleep_edf(hyps[subject], folder, subject, 1, random_state=subject)
    return folder, hyps


@needs_data
def test_counts_labels_and_alignment_on_cropped_real_hypnograms(cropped):
    folder, hyps = cropped
    ds = load_sleep_edf(
        folder, crop_wake_mins=None, h_freq=None, sfreq=None, progress=False
    )
    X, y, groups = to_numpy(ds)
    assert X.shape[1:] == (2, 3000)
    start = 0
    for subject, windows in enumerate(ds.datasets):
        psg = Path(windows.description["source"])
        raw = mne.io.read_raw_edf(psg, include=["EEG Fpz-Cz", "EEG Pz-Oz"])
        onsets, labels = _expected(hyps[subject], raw.times[-1] + 1 / 100)
        n = len(labels)
        assert len(windows) == n  # exactly one window per scored epoch
        np.testing.assert_array_equal(y[start : start + n], labels)
        assert set(groups[start : start + n]) == {subject}
        # Windows start at the annotation onsets (off the file's 30-s grid here).
        data = raw.get_data() * 1e6
        for i in [0, n // 2, n - 1]:
            s = int(round(onsets[i] * 100))
            np.testing.assert_array_equal(
                X[start + i], data[:, s : s + 3000].astype(np.float32)
            )
        rep = ds.loading_report.recordings[subject]
        assert rep.n_windows == n and rep.dropped["partial window"] >= 1
        start += n


@needs_data
def test_default_preprocessing_and_wake_crop(cropped):
    folder, hyps = cropped
    ds = load_sleep_edf(folder, subjects=[1], progress=False)
    assert len(ds.datasets) == 1
    windows = ds.datasets[0]
    assert windows.raw.info["sfreq"] == 100.0
    assert windows.raw.ch_names == ["EEG Fpz-Cz", "EEG Pz-Oz"]
    onsets, stages, _ = stage_epochs(hyps[1], 7200.0, source="h", crop_wake_mins=30)
    assert len(windows) == len(stages)
    X, y, _ = to_numpy(ds)
    assert list(y) == [STAGE_TO_INT[s] for s in stages]
    # Microvolts: EEG amplitudes of tens of uV, not 1e-5 V.
    assert 5 < X.std() < 200
    epochs = to_epochs(ds)
    assert epochs.get_data().shape == X.shape
    np.testing.assert_allclose(epochs.get_data(), X, rtol=1e-6)
    assert list(epochs.metadata["subject"].unique()) == [1]
    assert set(epochs.event_id) <= {"W", "N1", "N2", "N3", "REM"}
    np.testing.assert_allclose(to_epochs(ds, units="V").get_data(), X * 1e-6)


@needs_data
def test_standardize(cropped):
    folder, _ = cropped
    ds = load_sleep_edf(folder, subjects=[0], standardize=True, progress=False)
    X, _, _ = to_numpy(ds)
    np.testing.assert_allclose(X.mean(-1), 0, atol=1e-4)
    np.testing.assert_allclose(X.std(-1), 1, atol=1e-3)


@needs_data
# A placeholder keeps the test (skipped by needs_data) when the data is absent.
@pytest.mark.parametrize(
    "path", sorted(HYP.glob("*.edf")) or [HYP / "absent"], ids=lambda p: p.name[:6]
)
def test_hypnogram_epochs_match_real_npz(path):
    """Our wake crop and label mapping reproduce the published npz nights."""
    onsets, stages, _ = stage_epochs(
        mne.read_annotations(path), np.inf, source=str(path), crop_wake_mins=30
    )
    with np.load(DATA / "sleep-edf-5s" / f"{path.name[:6]}E0.npz") as npz:
        y_ref = npz["y"]
    y = np.array([STAGE_TO_INT[s] for s in stages])
    if path.name.startswith("SC4092"):
        # That night's npz kept one more wake epoch at the end: its crop counted
        # the 'Movement time' epoch after the last sleep epoch as sleep.
        y_ref = y_ref[:-1]
    np.testing.assert_array_equal(y, y_ref)


PSG = DATA / "sleep-edf-psg"


@pytest.mark.skipif(
    not (PSG / "SC4001E0-PSG.edf").is_file(),
    reason=f"real whole night {PSG / 'SC4001E0-PSG.edf'} is absent (../shared/data)",
)
def test_full_night_end_to_end_matches_real_npz(tmp_path):
    """The real 22-h PSG night, unfiltered, gives the published npz windows.

    The npz holds the first 5 s (500 samples) of 841 consecutive 30-s epochs of
    Fpz-Cz, from epoch 961 (sample 2,883,000) on (see ../shared/data/README.md).
    Loaded through a cache, twice, so that a hit is checked on real data too.
    """
    with np.load(DATA / "sleep-edf-5s" / "SC4001E0.npz") as npz:
        x_ref, y_ref = npz["x"][:, :, 0], npz["y"]
    for _ in range(2):  # cache miss, then hit
        ds = load_sleep_edf(PSG, h_freq=None, cache_dir=tmp_path, progress=False)
        X, y, groups = to_numpy(ds)
        assert X.shape == (len(y_ref), 2, 3000) == (841, 2, 3000)
        np.testing.assert_array_equal(y, y_ref)
        assert set(groups.tolist()) == {0}
        np.testing.assert_allclose(X[:, 0, :500], x_ref, rtol=0, atol=1e-5)
        windows = ds.datasets[0]
        starts = windows.raw.first_samp + windows.crop_inds[:, 1]
        np.testing.assert_array_equal(starts, 2_883_000 + 3000 * np.arange(841))
        assert windows.raw.info["sfreq"] == 100.0
        report = ds.loading_report
        assert report.dropped == {"Sleep stage ?": 230, "wake outside crop": 1809}
        assert report.recordings[0].ignored_annotations == {}
    assert report.recordings[0].unknown_labels == {}


def test_telemetry_layout_is_paired_and_gets_offset_subject_ids(tmp_path):
    # ST7ssNJ0-PSG.edf / ST7ssNxx-Hypnogram.edf: same format, other names; the
    # telemetry subjects are numbered 100 + ss so they never clash with SC ones.
    ann = mne.Annotations(
        [0, 60, 120],
        [60, 60, 60],
        ["Sleep stage W"] + ["Sleep stage 2", "Sleep stage R"],
    )
    psg, hyp = write_sleep_edf(ann, tmp_path, subject=22, night=1, random_state=0)
    psg.rename(tmp_path / "ST7221J0-PSG.edf")
    hyp.rename(tmp_path / "ST7221JM-Hypnogram.edf")
    ds = load_sleep_edf(
        tmp_path, crop_wake_mins=None, h_freq=None, sfreq=None, progress=False
    )
    X, y, groups = to_numpy(ds)
    assert y.tolist() == [0, 0, 2, 2, 4, 4]
    assert set(groups.tolist()) == {122}
    assert ds.description["study"].tolist() == ["ST"]
