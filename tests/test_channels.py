"""Tests of the channel metadata (augsleep.channels)."""

import numpy as np
import pytest

from augsleep.channels import (
    LEGACY_STANDARD_MONTAGE,
    STANDARD_MONTAGE,
    electrode_label,
    homologous_pairs,
    homologous_permutation,
    mirror_label,
    positions_from_info,
    standard_montage,
    standard_positions,
)

# ------------------------------------------------------------- labels ---


@pytest.mark.parametrize(
    ("ch_name", "label"),
    [
        ("C3", "C3"),
        ("EEG C3-CLE", "C3"),
        ("EEG C3-LER", "C3"),
        ("EEG C3-A2", "C3"),
        ("EEG Fpz-Cz", "Fpz"),
        ("EEG Pz-Oz", "Pz"),
        ("C3:M2", "C3"),
        ("eeg fp1-ref", "fp1"),
        ("EEG O2", "O2"),
    ],
)
def test_electrode_label(ch_name, label):
    assert electrode_label(ch_name) == label


def test_homologous_permutation_pairs():
    names = ["Fp1", "FP2", "F7", "F8", "T3", "T4", "A1", "A2", "FCz", "AF7", "Cz"]
    perm = homologous_permutation(names)
    assert perm == [1, 0, 3, 2, 5, 4, 7, 6, 8, 9, 10]
    assert homologous_permutation(["C5", "C6", "FFC1h", "FFC2h"]) == [1, 0, 3, 2]


def test_mirror_label():
    assert mirror_label("C3") == "c4" and mirror_label("c4") == "c3"
    assert mirror_label("FFC1h") == "ffc2h"
    assert mirror_label("Cz") is None and mirror_label("ROC") is None
    assert mirror_label("T0") is None


def test_homologous_pairs():
    names = ["EEG Fpz-Cz", "EEG C4-A1", "EEG C3-A2", "O1", "F3", "O2"]
    assert homologous_pairs(names) == [(2, 1), (3, 5)]  # F3 has no F4
    assert homologous_pairs(["Cz", "Pz"]) == []
    with pytest.raises(ValueError, match="Ambiguous"):
        homologous_pairs(["EEG C3-A2", "EEG C3-CLE", "EEG C4-A1"])
    with pytest.raises(ValueError, match="sequence of names"):
        homologous_pairs("C3")
    with pytest.raises(ValueError, match="required"):
        homologous_pairs(None)


def test_homologous_permutation_errors():
    with pytest.raises(ValueError, match="at least 2 channels"):
        homologous_permutation(["C3"])
    with pytest.raises(ValueError, match="No left/right homologous pair"):
        homologous_permutation(["EEG Fpz-Cz", "EEG Pz-Oz", "C3"])


# --------------------------------------------------------------- montage ---


def test_one_standard_montage():
    mne = pytest.importorskip("mne")
    builtin = mne.channels.get_builtin_montages()
    expected = STANDARD_MONTAGE if STANDARD_MONTAGE in builtin else None
    assert standard_montage() == (expected or LEGACY_STANDARD_MONTAGE)
    assert standard_montage() in builtin


# ------------------------------------------------------------- positions ---


def test_positions_from_info_and_errors():
    mne = pytest.importorskip("mne")
    names = ["EEG C3-A2", "EEG C4-A1", "EOG ROC"]
    info = mne.create_info(names, 100.0, ["eeg", "eeg", "eog"])
    with pytest.raises(ValueError, match=r"EEG C3-A2.*EEG C4-A1.*EOG ROC"):
        positions_from_info(info)
    with pytest.raises(ValueError, match="not in info"):
        positions_from_info(info, ["C3"])
    pos = standard_positions(names[:2])
    mont = mne.channels.make_dig_montage(
        ch_pos=dict(zip(names[:2], pos, strict=True)), coord_frame="head"
    )
    info.set_montage(mont, on_missing="ignore")
    np.testing.assert_allclose(positions_from_info(info, names[:2]), pos)
    with pytest.raises(ValueError, match="EOG ROC"):
        positions_from_info(info)


def test_standard_positions():
    pos = standard_positions(["EEG C3-CLE", "c4", "EEG Fpz-Cz"])
    assert pos.shape == (3, 3) and np.isfinite(pos).all()
    assert pos[0, 0] < 0 < pos[1, 0]  # C3 left, C4 right
    assert abs(pos[2, 0]) < 5e-3 and pos[2, 1] > 0.05  # Fpz front, midline
    with pytest.raises(ValueError, match="'EEG Xy9-A1'"):
        standard_positions(["C3", "EEG Xy9-A1"])
