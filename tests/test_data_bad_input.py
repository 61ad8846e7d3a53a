"""Every kind of bad input gets a clear error naming the file, or a counted drop."""

import shutil

import mne
import numpy as np
import pytest

from augsleep.data import (
    hypnogram_from_labels,
    load_mass,
    load_sleep_edf,
    write_mass,
    write_sleep_edf,
)
from augsleep.data.synthetic import _write_annotations_edf

LABELS = [0, 0, 1, 2, 2, 3, 3, 2, 4, 4, 0]  # 5.5 minutes


@pytest.fixture
def night(tmp_path):
    psg, hyp = write_sleep_edf(hypnogram_from_labels(LABELS), tmp_path, random_state=0)
    return tmp_path, psg, hyp


def _load(folder, **kwargs):
    return load_sleep_edf(folder, crop_wake_mins=None, progress=False, **kwargs)


def test_clean_night_loads(night):
    ds = _load(night[0])
    assert list(ds.datasets[0].y) == LABELS
    assert ds.loading_report.dropped == {}


def test_missing_hypnogram(night):
    folder, psg, hyp = night
    hyp.unlink()
    with pytest.raises(FileNotFoundError, match=f"PSG {psg}.*none"):
        _load(folder)


def test_missing_psg(night):
    folder, psg, hyp = night
    psg.unlink()
    with pytest.raises(FileNotFoundError, match=hyp.name):
        _load(folder)
    write_sleep_edf(hypnogram_from_labels(LABELS), folder, subject=3)
    with pytest.raises(FileNotFoundError, match=rf"\['{hyp.name}'\].*have no PSG"):
        _load(folder)


def test_missing_mass_base(tmp_path):
    psg, base = write_mass(hypnogram_from_labels(LABELS), tmp_path)
    base.unlink()
    with pytest.raises(FileNotFoundError, match="has no annotation file"):
        load_mass(tmp_path, progress=False)


def test_hypnogram_without_stages(night):
    folder, _, hyp = night
    _write_annotations_edf(
        hyp, [0.0, 60.0], [30.0, 30.0], ["Lights off", "Arousal"], None
    )
    with pytest.raises(
        ValueError, match=f"Hypnogram {hyp} has no sleep stage.*Arousal"
    ):
        _load(folder)


def test_only_unscored_epochs(night):
    folder, _, hyp = night
    _write_annotations_edf(hyp, [0.0], [90.0], ["Sleep stage ?"], None)
    with pytest.raises(ValueError, match="no sleep stage annotations"):
        _load(folder)


def test_absent_channel_lists_available(night):
    folder, psg, _ = night
    with pytest.raises(ValueError, match=r"\['EEG C3'\] not found in .*EEG Pz-Oz"):
        _load(folder, channels=["EEG Fpz-Cz", "EEG C3"])
    write_mass(hypnogram_from_labels(LABELS), folder / "mass")
    with pytest.raises(ValueError, match="'Cz' not found.*'EEG Cz-CLE' or"):
        load_mass(folder / "mass", channels=["C3", "Cz"], progress=False)


def test_channels_at_different_rates(night):
    folder, psg, _ = night
    with pytest.raises(ValueError, match=r"different sampling rates .*1\.0"):
        _load(folder, channels=["EEG Fpz-Cz", "EMG submental"])


@pytest.mark.parametrize("damage", ["truncate", "corrupt", "header"])
def test_truncated_or_corrupt_edf(night, damage):
    folder, psg, _ = night
    content = psg.read_bytes()
    if damage == "truncate":
        psg.write_bytes(content[: len(content) - 5000])
        match = "Truncated EDF file"
    elif damage == "corrupt":
        psg.write_bytes(b"not an EDF file" * 100)
        match = "Corrupt EDF file"
    else:
        psg.write_bytes(content[:236] + b"abcdefgh" + content[244:])
        match = "Corrupt EDF file.*number of data records"
    with pytest.raises(ValueError, match=match) as err:
        _load(folder)
    assert str(psg) in str(err.value)


def test_annotations_past_end_of_signal_are_counted(tmp_path):
    psg, hyp = write_sleep_edf(
        hypnogram_from_labels(LABELS), tmp_path, duration=240.0, random_state=0
    )
    ds = _load(tmp_path)
    assert list(ds.datasets[0].y) == LABELS[:8]
    assert ds.loading_report.dropped == {"past end of signal": 3}


def test_final_partial_window_is_counted(tmp_path):
    hyp = hypnogram_from_labels(LABELS)
    hyp.append(330.0, 45.0, "Sleep stage 2")  # 1.5 epochs
    write_sleep_edf(hyp, tmp_path, duration=390.0, random_state=0)
    ds = _load(tmp_path)
    assert list(ds.datasets[0].y) == [*LABELS, 2]
    report = ds.loading_report
    assert report.dropped == {"partial window": 1}
    assert report.to_dataframe()["partial window"].tolist() == [1]
    assert "partial window: 1" in str(report)


def test_no_epoch_inside_signal(tmp_path):
    hyp = mne.Annotations([600.0], [60.0], ["Sleep stage 2"])
    write_sleep_edf(hyp, tmp_path, duration=120.0, random_state=0)
    with pytest.raises(ValueError, match="No scored epoch .* inside the signal"):
        _load(tmp_path)


def test_overlapping_stage_annotations(night):
    folder, _, hyp = night
    _write_annotations_edf(
        hyp, [0.0, 45.0], [60.0, 30.0], ["Sleep stage W", "Sleep stage 2"], None
    )
    with pytest.raises(ValueError, match="overlapping stage epochs"):
        _load(folder)


def test_unknown_subject(night):
    with pytest.raises(ValueError, match=r"Subject\(s\) \[9\] not found"):
        _load(night[0], subjects=[9])


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="folder not found"):
        _load(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="No Sleep-EDF PSG file"):
        _load(tmp_path)
    shutil.rmtree(tmp_path)
    with pytest.raises(FileNotFoundError, match="MASS folder not found"):
        load_mass(tmp_path, progress=False)


def test_non_stage_annotations_are_reported(tmp_path):
    hyp = hypnogram_from_labels(LABELS)
    hyp.append(30.0, 0.0, "Arousal")
    write_sleep_edf(hyp, tmp_path, random_state=0)
    ds = _load(tmp_path)
    assert len(ds) == len(LABELS)
    assert ds.loading_report.recordings[0].ignored_annotations == {"Arousal": 1}
    assert np.isfinite(ds[0][0]).all()
