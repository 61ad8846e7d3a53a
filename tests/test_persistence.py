"""Saved files keep loading: the version-1 format of AugNetClassifier.save.

``data/augnet_v1.pt`` was written by ``AugNetClassifier.save`` of commit 8055aa3
(before augsleep.methods and augsleep.persistence), from::

    X, y = make_data()  # tests/_toy.py
    labels = np.array(["W", "N1", "N2"])[y]
    clf = AugNetClassifier(
        sfreq=100.0, max_epochs=2, n_copies_eval=4, random_state=0, device="cpu"
    ).fit(X, labels)  # with torch.set_num_threads(1)
    clf.save("augnet_v1.pt")
    np.save("augnet_v1_proba.npy", clf.predict_proba(X))
"""

import math
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from _toy import SFREQ, TinyTrunk, make_data

import augsleep
from augsleep import AugerinoClassifier, AugNetClassifier
from augsleep.persistence import FORMAT_VERSION, format_name
from augsleep.training import make_generator, predict_log_proba

DATA = Path(__file__).parent / "data"
V1_PARAMS = dict(sfreq=SFREQ, max_epochs=2, n_copies_eval=4, random_state=0)


@pytest.fixture(scope="module")
def toy():
    X, y = make_data()
    return X, np.array(["W", "N1", "N2"])[y]


def _save_like_version_1(clf, path):
    """Write a payload exactly as the version-1 ``AugNetClassifier.save`` did."""
    names = (
        "classes_",
        "n_features_in_",
        "input_ndim_",
        "n_chans_in_",
        "n_times_in_",
        "sfreq_",
        "ch_names_",
        "positions_",
        "best_epoch_",
        "best_valid_score_",
        "n_epochs_",
        "_predict_seed",
        "scale_mean_",
        "scale_std_",
    )
    fitted = {}
    for name in names:
        value = getattr(clf, name)
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            value = torch.from_numpy(value)
        fitted[name] = value
    fitted["classes_"] = clf.classes_.tolist()
    old_columns = [c for c in clf.history_ if c not in ("train_s", "valid_s")]
    payload = {
        "format": "augsleep.AugNetClassifier",
        "version": 1,
        "params": clf.get_params(deep=False),
        "fitted": fitted,
        "history": clf.history_[old_columns].to_dict(orient="list"),
        "state_dict": clf.module_.state_dict(),
    }
    torch.save(payload, path)


def _proba_with_batch_draws(clf, X):
    """``predict_proba`` as version 1 drew the copies: one generator per call.

    Since then each window's copies are drawn from a generator of its own
    (seeded by the prediction seed and the window), so the probabilities the
    version-1 code saved are those of the same model under other draws.
    """
    X_t = clf._prepare(X)
    log_proba = predict_log_proba(
        clf.module_,
        X_t,
        batch_size=clf._predict_batch_size(X_t),
        n_copies=clf._eval_copies(),
        generator=make_generator(clf._predict_seed, "cpu"),
    )
    proba = np.exp(log_proba.double().numpy())
    return proba / proba.sum(axis=1, keepdims=True)


def test_file_written_by_version_1_loads_and_predicts_the_same(toy):
    X, labels = toy
    expected = np.load(DATA / "augnet_v1_proba.npy")
    # Plain values only: readable without trusting the file.
    for clf in (
        AugNetClassifier.load(DATA / "augnet_v1.pt", device="cpu"),
        augsleep.load(DATA / "augnet_v1.pt", device="cpu"),
    ):
        assert type(clf) is AugNetClassifier
        assert clf.classes_.tolist() == ["N1", "N2", "W"]
        # The same model: the same predictions under version 1's draws.
        np.testing.assert_allclose(_proba_with_batch_draws(clf, X), expected, rtol=1e-6)
        assert len(clf.history_) == clf.n_epochs_ == 2
        assert len(clf.learned_augmentations_) == 12
        assert all(math.isnan(v) for v in clf.compute_time_.values())
        assert clf.interrupted_ is False  # not recorded before: a complete fit
        assert (
            clf.get_params() == AugNetClassifier(**V1_PARAMS, device="cpu").get_params()
        )


def test_training_is_unchanged_since_version_1(toy):
    # The same fit with today's code gives the model the version-1 code saved.
    X, labels = toy
    clf = AugNetClassifier(**V1_PARAMS, device="cpu").fit(X, labels)
    saved = AugNetClassifier.load(DATA / "augnet_v1.pt", device="cpu")
    np.testing.assert_allclose(
        _proba_with_batch_draws(clf, X),
        np.load(DATA / "augnet_v1_proba.npy"),
        atol=1e-5,
    )
    np.testing.assert_allclose(clf.predict_proba(X), saved.predict_proba(X), atol=1e-5)
    cols = [c for c in saved.history_ if c != "dur_s"]
    np.testing.assert_allclose(
        clf.history_[cols].to_numpy(float), saved.history_[cols].to_numpy(float)
    )


def test_version_1_payload_round_trips(toy, tmp_path):
    X, labels = toy
    clf = AugNetClassifier(
        [["gaussian_noise", "frequency_shift"]],
        trunk=TinyTrunk(),
        max_epochs=2,
        n_copies_eval=3,
        random_state=0,
        device="cpu",
        sfreq=SFREQ,
    ).fit(X, labels)
    _save_like_version_1(clf, tmp_path / "v1.pt")
    loaded = AugNetClassifier.load(tmp_path / "v1.pt", trusted=True)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.learned_augmentations_.equals(clf.learned_augmentations_)
    # Written again by today's code, the file is still version 1, with the
    # optional checksum of its tensors (older readers ignore the entry).
    loaded.save(tmp_path / "again.pt")
    payload = torch.load(tmp_path / "again.pt", weights_only=False)
    assert (payload["format"], payload["version"]) == (format_name(AugNetClassifier), 1)
    assert set(payload) == {
        "format",
        "version",
        "params",
        "fitted",
        "history",
        "state_dict",
        "sha256",
    }


def test_wrong_files_are_refused(toy, tmp_path):
    X, labels = toy
    path = tmp_path / "m.pt"
    torch.save({"format": "something else"}, path)
    with pytest.raises(ValueError, match="not written by AugNetClassifier.save"):
        AugNetClassifier.load(path)
    with pytest.raises(ValueError, match="not written by an augsleep estimator"):
        augsleep.load(path)
    payload = torch.load(DATA / "augnet_v1.pt", weights_only=True)
    torch.save({**payload, "version": FORMAT_VERSION + 1}, path)
    with pytest.raises(ValueError, match="format version 2"):
        AugNetClassifier.load(path)
    # A subclass's file is not its parent's.
    AugerinoClassifier(
        [["gaussian_noise"]], **{**V1_PARAMS, "max_epochs": 1}, trunk=TinyTrunk()
    ).fit(X, labels).save(path)
    with pytest.raises(ValueError, match="not written by AugNetClassifier.save"):
        AugNetClassifier.load(path, trusted=True)
    assert type(augsleep.load(path, trusted=True)) is AugerinoClassifier


def _tensor_data_start(raw: bytes, info) -> int:
    """Offset of a zip entry's (stored, uncompressed) data in the file's bytes."""
    header = raw[info.header_offset : info.header_offset + 30]
    name_len = int.from_bytes(header[26:28], "little")
    extra_len = int.from_bytes(header[28:30], "little")
    return info.header_offset + 30 + name_len + extra_len


@pytest.fixture(scope="module")
def saved(toy, tmp_path_factory):
    X, labels = toy
    clf = AugNetClassifier(
        [["gaussian_noise"]],
        max_epochs=1,
        n_copies_eval=2,
        random_state=0,
        device="cpu",
        sfreq=SFREQ,
    ).fit(X, labels)
    path = tmp_path_factory.mktemp("saved") / "model.pt"
    clf.save(path)
    return clf, path


def test_empty_truncated_and_foreign_files_name_the_file(saved, tmp_path):
    _, path = saved
    raw = path.read_bytes()
    for name, data in {
        "empty.pt": b"",
        "half.pt": raw[: len(raw) // 2],
        "start.pt": raw[:10],
        "text.pt": b"hello world\n" * 10,
    }.items():
        bad = tmp_path / name
        bad.write_bytes(data)
        for trusted in (False, True):
            with pytest.raises(ValueError, match=f"^{re.escape(str(bad))}: ") as info:
                AugNetClassifier.load(bad, trusted=trusted)
            assert "not a readable model file" in str(info.value)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        AugNetClassifier.load(tmp_path / "missing.pt")


def test_zeroed_bytes_in_the_weights_are_refused(saved, toy, tmp_path):
    clf, path = saved
    X, _ = toy
    raw = path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        biggest = max(
            (i for i in archive.infolist() if "/data/" in i.filename),
            key=lambda i: i.file_size,
        )
        assert biggest.compress_type == zipfile.ZIP_STORED
    start = _tensor_data_start(raw, biggest) + biggest.file_size // 2
    bad = bytearray(raw)
    bad[start : start + 64] = bytes(64)
    (tmp_path / "zeroed.pt").write_bytes(bytes(bad))
    # torch reads it without complaint, with other weights ...
    payload = torch.load(tmp_path / "zeroed.pt", weights_only=True)
    assert "sha256" in payload
    # ... which load refuses, naming the file.
    zeroed = re.escape(str(tmp_path / "zeroed.pt"))
    with pytest.raises(ValueError, match=f"^{zeroed}: .*checksum"):
        AugNetClassifier.load(tmp_path / "zeroed.pt")
    # The intact file passes the check and predicts as the estimator saved.
    np.testing.assert_array_equal(
        AugNetClassifier.load(path).predict_proba(X), clf.predict_proba(X)
    )


def test_the_checksum_covers_every_tensor_and_is_optional(saved, tmp_path):
    _, path = saved
    payload = torch.load(path, weights_only=True)
    assert payload["version"] == FORMAT_VERSION == 1
    assert isinstance(payload["sha256"], str) and len(payload["sha256"]) == 64
    changed = {**payload, "fitted": dict(payload["fitted"])}
    changed["fitted"]["scale_std_"] = changed["fitted"]["scale_std_"] * 2
    torch.save(changed, tmp_path / "scale.pt")
    with pytest.raises(ValueError, match="checksum"):
        AugNetClassifier.load(tmp_path / "scale.pt")
    # Files written before the checksum (no "sha256") load without the check.
    del changed["sha256"]
    torch.save(changed, tmp_path / "old.pt")
    assert AugNetClassifier.load(tmp_path / "old.pt").scale_std_[0] > 0
    torch.save({**payload, "sha256": 3}, tmp_path / "typed.pt")
    with pytest.raises(ValueError, match="typed.pt: .*sha256"):
        AugNetClassifier.load(tmp_path / "typed.pt")


@pytest.mark.parametrize("version", [0, -1, True, "1", 1.0, None])
def test_format_versions_other_than_known_ones_are_refused(saved, tmp_path, version):
    _, path = saved
    payload = torch.load(path, weights_only=True)
    bad = tmp_path / "version.pt"
    torch.save({**payload, "version": version}, bad)
    with pytest.raises(
        ValueError,
        match=f"^{re.escape(str(bad))}: format version {re.escape(repr(version))}",
    ):
        AugNetClassifier.load(bad)


def test_incomplete_payloads_name_the_file_and_the_entry(saved, tmp_path):
    _, path = saved
    payload = torch.load(path, weights_only=True)
    bad = tmp_path / "incomplete.pt"
    for key in ("params", "fitted", "history", "state_dict"):
        torch.save({k: v for k, v in payload.items() if k != key}, bad)
        with pytest.raises(ValueError, match=f"^{re.escape(str(bad))}: .*'{key}'"):
            AugNetClassifier.load(bad)
    wrong = {**payload, "state_dict": {"trunk.weight": torch.zeros(2)}}
    wrong.pop("sha256")
    torch.save(wrong, bad)
    with pytest.raises(ValueError, match=f"^{re.escape(str(bad))}: .*weights"):
        AugNetClassifier.load(bad)
    torch.save({**payload, "params": {**payload["params"], "bogus": 1}}, bad)
    with pytest.raises(ValueError, match=f"^{re.escape(str(bad))}: .*bogus"):
        AugNetClassifier.load(bad)
