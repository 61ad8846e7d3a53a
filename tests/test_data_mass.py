"""MASS SS3 loader end to end on synthetic PSG driven by real hypnograms."""

from pathlib import Path

import mne
import numpy as np
import pytest

from augsleep.channels import positions_from_info, standard_positions
from augsleep.data import (
    MASS_CHANNELS,
    crop_hypnogram,
    hypnogram_from_labels,
    load_mass,
    to_numpy,
    write_mass,
)

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
HYP = DATA / "sleep-edf-hypnograms"
needs_data = pytest.mark.skipif(
    not HYP.is_dir(), reason=f"real data folder {HYP} is absent (../shared/data)"
)


@pytest.fixture(scope="module")
def mass(tmp_path_factory):
    """Two 1-hour MASS recordings: CLE and LER references, onsets off the grid."""
    folder = tmp_path_factory.mktemp("mass")
    ann = mne.read_annotations(HYP / "SC4002EC-Hypnogram.edf")
    hyp = crop_hypnogram(ann, 30000.0, 33600.0)
    write_mass(hyp, folder, 1, reference="CLE", onset_offset=12.34, random_state=1)
    write_mass(hyp, folder, 2, reference="LER", onset_offset=7.9, random_state=2)
    return folder, hyp


@needs_data
def test_mass_counts_labels_and_onsets(mass):
    folder, hyp = mass
    ds = load_mass(folder, h_freq=None, sfreq=None, progress=False)
    X, y, groups = to_numpy(ds)
    assert X.shape[1:] == (6, 30 * 256)
    offsets = {1: 12.34, 2: 7.9}
    for windows in ds.datasets:
        subject = windows.description["subject"]
        base = mne.read_annotations(windows.description["hypnogram"])
        scored = [d != "Sleep stage ?" for d in base.description]
        assert len(windows) == sum(scored)
        expected = [
            {"W": 0, "1": 1, "2": 2, "3": 3, "4": 3, "R": 4}[d[-1]]
            for d in base.description[scored]
        ]
        assert list(windows.y) == expected
        assert ds.loading_report.recordings[subject - 1].dropped.get(
            "Sleep stage ?", 0
        ) == len(scored) - sum(scored)
        # Windows start at the annotation onsets, not at the start of the file.
        raw = mne.io.read_raw_edf(windows.description["source"], verbose="error")
        first = int(round(offsets[subject] * 256))
        ref = raw.get_data(picks=[0, 1])[:, first : first + 7680] * 1e6
        x0 = windows[0][0]
        np.testing.assert_array_equal(x0[[2, 3]], ref.astype(np.float32))
    assert set(groups) == {1, 2}


@needs_data
def test_mass_default_preprocessing_reference_and_positions(mass):
    folder, _ = mass
    ds = load_mass(folder, subjects=[2], progress=False)
    windows = ds.datasets[0]
    assert windows.raw.ch_names == list(MASS_CHANNELS)
    assert windows.raw.info["sfreq"] == 100.0 and windows[0][0].shape == (6, 3000)
    pos = windows.raw.get_montage().get_positions()["ch_pos"]
    assert set(pos) == set(MASS_CHANNELS)
    assert pos["C3"][0] < 0 < pos["C4"][0]  # left and right hemispheres
    # The loader and the sensor transforms take positions from one montage.
    np.testing.assert_allclose(
        positions_from_info(windows.raw.info),
        standard_positions(MASS_CHANNELS),
        atol=1e-12,
    )
    # Re-referencing to A2 subtracts the A2 channel.
    plain = load_mass(folder, subjects=[2], h_freq=None, sfreq=None, progress=False)
    a2 = load_mass(
        folder,
        subjects=[2],
        channels=["C3", "EEG A2-LER"],
        h_freq=None,
        sfreq=None,
        progress=False,
    )
    reref = load_mass(
        folder, subjects=[2], reference="A2", h_freq=None, sfreq=None, progress=False
    )
    x_plain, x_a2, x_reref = (to_numpy(d)[0] for d in (plain, a2, reref))
    np.testing.assert_allclose(x_reref[:, 0], x_plain[:, 0] - x_a2[:, 1], atol=1e-3)
    assert reref.description["reference"].iloc[0] == "A2"


def test_mass_stage4_merged_and_unknown_counted(tmp_path):
    # Labels as epoch codes: 6 is '?', and R&K stage 4 comes from the hypnogram.
    hyp = hypnogram_from_labels([0, 1, 2, 3, 4, 6, 2])
    hyp.append(210, 30, "Sleep stage 4")
    write_mass(hyp, tmp_path, 7, random_state=0)
    ds = load_mass(tmp_path, progress=False)
    assert list(ds.datasets[0].y) == [0, 1, 2, 3, 4, 2, 3]
    assert ds.loading_report.dropped == {"Sleep stage ?": 1}
