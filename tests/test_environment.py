"""The installed environment: the torch pair, braindecode, and the lock.

These run first in spirit: a broken binary pair fails here (and in conftest's
session start) with a message that names the pin, not deep in an estimator test.
"""

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import torch
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from augsleep import _environment
from augsleep._environment import check_torch_pair

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements-lock.txt"
requires_lock = pytest.mark.skipif(
    not LOCK.exists(), reason="no requirements-lock.txt (not a checkout)"
)


def _locked() -> dict[str, Requirement]:
    """The lock's requirements that apply to this interpreter, by name."""
    pins = {}
    for line in LOCK.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate(default_environment()):
            pins[canonicalize_name(req.name)] = req
    return pins


def _pinned_version(req: Requirement) -> Version:
    (spec,) = req.specifier
    assert spec.operator == "==", f"{req} is not an exact pin"
    return Version(spec.version)


def test_torch_and_torchaudio_come_from_one_release():
    torch_version, audio_version = check_torch_pair(load=True)
    assert Version(torch_version).release == Version(audio_version).release


def test_mismatched_pair_names_both_versions_and_the_pin(monkeypatch):
    versions = {"torch": "2.11.0", "torchaudio": "2.11.1"}
    monkeypatch.setattr(_environment.metadata, "version", versions.__getitem__)
    with pytest.raises(ImportError, match=r"torchaudio 2\.11\.1.*torch 2\.11\.0") as e:
        check_torch_pair()
    assert "requirements-lock.txt" in str(e.value)


def test_local_version_labels_do_not_count_as_a_mismatch(monkeypatch):
    versions = {"torch": "2.11.0+cu128", "torchaudio": "2.11.0+cu128"}
    monkeypatch.setattr(_environment.metadata, "version", versions.__getitem__)
    assert check_torch_pair() == ("2.11.0+cu128", "2.11.0+cu128")


def test_braindecode_builds_the_chambon_trunk_and_runs_it():
    from augsleep.models import chambon_trunk

    trunk = chambon_trunk(n_chans=2, sfreq=100.0, n_times=3000).eval()
    with torch.no_grad():
        logits = trunk(torch.zeros(3, 2, 3000))
    assert logits.shape == (3, 5)
    assert torch.isfinite(logits).all()


@requires_lock
def test_every_dependency_is_pinned_in_the_lock_within_pyproject_ranges():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared += extra
    pins = _locked()
    problems = []
    for line in declared:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        if name not in pins:
            problems.append(f"{req.name} is not in the lock")
        elif not req.specifier.contains(_pinned_version(pins[name]), prereleases=True):
            problems.append(f"lock pins {pins[name]}, outside pyproject's {req}")
    assert not problems, "refresh requirements-lock.txt (README): " + "; ".join(
        problems
    )


@requires_lock
def test_installed_packages_are_the_locked_versions():
    drift = []
    for name, req in _locked().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            drift.append(f"{name} is locked but not installed")
            continue
        # A local label (+cpu, +cu128) is a build of the same release.
        public = Version(re.sub(r"\+.*", "", installed))
        if public != _pinned_version(req):
            drift.append(f"{name} {installed} (lock: {_pinned_version(req)})")
    assert not drift, (
        "The environment differs from requirements-lock.txt; reinstall with "
        "pip install -c requirements-lock.txt -e '.[test]': " + ", ".join(drift)
    )
