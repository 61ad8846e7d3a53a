"""Every kind of bad input gets a clear error naming the file, or a counted drop."""

import shutil
import warnings

import mne
import numpy as np
import pytest

from augsleep.data import (
    find_mass_files,
    hypnogram_from_labels,
    load_mass,
    load_sleep_edf,
    parse_sleep_edf_name,
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


def test_unknown_stage_labels_are_counted_and_warned(tmp_path):
    # A typo'd stage ('Sleep stage 5') next to known ones: its epochs are
    # dropped, but counted (windows and seconds), shown and warned about, and
    # kept apart from the legitimately unscored epochs and the other events.
    hyp = hypnogram_from_labels(LABELS)
    hyp.append(330.0, 60.0, "Sleep stage 5")
    hyp.append(390.0, 30.0, "Sleep stage ?")
    hyp.append(30.0, 0.0, "Arousal")
    write_sleep_edf(hyp, tmp_path, random_state=0)
    with pytest.warns(UserWarning, match=r"unknown stage label.*'Sleep stage 5'"):
        ds = _load(tmp_path)
    assert list(ds.datasets[0].y) == LABELS
    report = ds.loading_report
    assert report.dropped == {"unknown stage label": 2, "Sleep stage ?": 1}
    rec = report.recordings[0]
    assert rec.unknown_labels == {"Sleep stage 5": 2}
    assert rec.unknown_seconds == {"Sleep stage 5": 60.0}
    assert rec.ignored_annotations == {"Arousal": 1}
    text = str(report)
    assert "'Sleep stage 5': 2 window(s), 60 s" in text
    assert "Sleep stage ?: 1" in text and "Arousal: 1" in text
    assert report.to_dataframe()["unknown stage label"].tolist() == [2]


def test_aasm_stage_labels_are_accepted(tmp_path):
    # AASM spellings (EDF+ standard texts, e.g. the HMC database), and 'N4'
    # (R&K stage 4 written the AASM way by some exports) merged into N3.
    names = {0: "W", 1: "N1", 2: "N2", 3: "N3", 4: "R"}
    texts = [f"Sleep stage {names[c]}" for c in LABELS] + ["Sleep stage N4"]
    onsets = 30.0 * np.arange(len(texts))
    write_sleep_edf(mne.Annotations(onsets, 30.0, texts), tmp_path, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        ds = _load(tmp_path)
    assert list(ds.datasets[0].y) == [*LABELS, 3]
    assert ds.loading_report.dropped == {}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(sfreq=0), r"sfreq must be a finite number > 0 or None, got 0"),
        (dict(sfreq=-1.0), r"sfreq .* got -1\.0"),
        (dict(sfreq=float("nan")), r"sfreq .* got nan"),
        (dict(window_s=0), r"window_s must be a finite number > 0, got 0"),
        (dict(window_s=float("inf")), r"window_s .* got inf"),
        (dict(window_s=0.333), r"window_s \* sfreq .* 0\.333 s at 100\.0 Hz"),
        (dict(h_freq=0), r"h_freq must be a finite number > 0 or None, got 0"),
        (dict(l_freq=-0.5), r"l_freq must be a finite number >= 0 or None"),
        (dict(l_freq=30.0, h_freq=10.0), r"l_freq \(30\.0\) must be below h_freq"),
        (dict(crop_wake_mins=-5), r"crop_wake_mins must be .*>= 0 or None, got -5"),
        (dict(channels="EEG Fpz-Cz"), r"channels must be a list .* got 'EEG Fpz-Cz'"),
        (dict(channels=[]), r"channels must name at least one channel"),
        (dict(channels=["EEG Fpz-Cz"] * 2), r"channels .* twice: \['EEG Fpz-Cz'\]"),
        (dict(standardize="no"), r"standardize must be True or False, got 'no'"),
        (dict(subjects=0), r"subjects must be an iterable of int .* got 0"),
        (dict(recordings=[3]), r"Recording\(s\) \[3\] not found"),
    ],
)
def test_loader_parameters_are_checked_at_entry(night, kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_sleep_edf(night[0], progress=False, **{"crop_wake_mins": None, **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(sfreq=0), r"sfreq must be a finite number > 0 or None, got 0"),
        (dict(window_s=-30), r"window_s must be a finite number > 0, got -30"),
        (dict(reference=""), r"reference must be an electrode name or None"),
        (dict(channels="C3"), r"channels must be a list .* got 'C3'"),
    ],
)
def test_mass_parameters_are_checked_at_entry(tmp_path, kwargs, match):
    write_mass(hypnogram_from_labels(LABELS), tmp_path, random_state=0)
    with pytest.raises(ValueError, match=match):
        load_mass(tmp_path, progress=False, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(subject=123), r"subject must be an integer in 0\.\.99 .* got 123"),
        (dict(subject=-1), r"subject must be an integer in 0\.\.99 .* got -1"),
        (dict(subject=1.0), r"subject must be an integer .* got 1\.0"),
        (dict(night=0), r"night must be an integer in 1\.\.9 .* got 0"),
        (dict(night=12), r"night must be an integer in 1\.\.9 .* got 12"),
    ],
)
def test_write_sleep_edf_refuses_ids_its_file_names_cannot_hold(
    tmp_path, kwargs, match
):
    with pytest.raises(ValueError, match=match):
        write_sleep_edf(hypnogram_from_labels(LABELS), tmp_path, **kwargs)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("subject", [12345, -1, True])
def test_write_mass_refuses_ids_its_file_names_cannot_hold(tmp_path, subject):
    with pytest.raises(ValueError, match=r"subject must be an integer in 0\.\.9999"):
        write_mass(hypnogram_from_labels(LABELS), tmp_path, subject=subject)
    assert list(tmp_path.iterdir()) == []


def test_written_ids_read_back_unchanged(tmp_path):
    hyp = hypnogram_from_labels(LABELS)
    psg, _ = write_sleep_edf(hyp, tmp_path / "edf", subject=99, night=9)
    assert parse_sleep_edf_name(psg.name) == {
        "study": "SC",
        "subject": 99,
        "recording": 9,
    }
    write_mass(hyp, tmp_path / "mass", subject=9999, random_state=0)
    assert [s for *_, s in find_mass_files(tmp_path / "mass")] == [9999]


def test_duplicate_mass_recording_is_refused(tmp_path):
    psg, base = write_mass(hypnogram_from_labels(LABELS), tmp_path, random_state=0)
    shutil.copy(psg, tmp_path / "01-03-0001 (copy) PSG.edf")
    with pytest.raises(ValueError, match=r"01-03-0001 \(copy\) PSG.edf.*01-03-0001"):
        load_mass(tmp_path, progress=False)
