"""The synthetic PSG is learnable: band powers + logistic regression beat chance."""

from pathlib import Path

import mne
import numpy as np
import pytest
from scipy.signal import welch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from augsleep.data import crop_hypnogram, load_sleep_edf, to_numpy, write_sleep_edf

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
HYP = DATA / "sleep-edf-hypnograms"
BANDS = [(0.5, 2), (2, 4), (4, 7), (8, 12), (11, 15), (15, 30)]


def band_powers(X, sfreq=100.0):
    f, p = welch(X, fs=sfreq, nperseg=256, axis=-1)
    feats = [p[..., (f >= lo) & (f < hi)].mean(-1) for lo, hi in BANDS]
    return np.log(np.stack(feats, axis=-1)).reshape(len(X), -1)


@pytest.mark.skipif(not HYP.is_dir(), reason=f"real data folder {HYP} is absent")
def test_band_power_classifier_beats_chance(tmp_path):
    # Two 4-hour nights of different subjects: train on one, test on the other.
    for subject, name in [(0, "SC4001EC"), (1, "SC4011EH")]:
        ann = mne.read_annotations(HYP / f"{name}-Hypnogram.edf")
        sleep = ann.onset[[d != "Sleep stage W" for d in ann.description]][0]
        hyp = crop_hypnogram(ann, sleep - 1800, sleep + 4 * 3600)
        write_sleep_edf(hyp, tmp_path, subject, 1, random_state=subject)
    X, y, groups = to_numpy(load_sleep_edf(tmp_path, progress=False))
    assert len(set(y)) == 5
    feats = band_powers(X)
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    clf.fit(feats[groups == 0], y[groups == 0])
    score = balanced_accuracy_score(y[groups == 1], clf.predict(feats[groups == 1]))
    print(f"balanced accuracy {score:.2f}")
    assert score > 0.6, score  # chance is 0.2
