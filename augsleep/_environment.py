"""Checks of the installed environment that fail early with a useful message.

braindecode imports torchaudio, whose compiled library loads only beside the torch
release it was built against. A mismatched pair fails deep inside an import with
``undefined symbol: ...``; these checks name the cause and the fix instead.
"""

from __future__ import annotations

import re
from importlib import metadata

#: Where the exact pins live, for the error messages.
PIN_HINT = (
    "augsleep pins torch and torchaudio to the same release in pyproject.toml and "
    "installs every package from requirements-lock.txt: reinstall with\n"
    '    .venv/bin/pip install -c requirements-lock.txt -e ".[test]"\n'
    "or, outside a checkout, pip install the torchaudio release that matches your "
    "torch (torch X.Y.Z needs torchaudio X.Y.Z)."
)


def _release(version: str) -> tuple[int, ...]:
    """Public release numbers of a version string (``"2.11.0+cpu"`` -> (2, 11, 0))."""
    match = re.match(r"\d+(\.\d+)*", version)
    if match is None:
        raise ValueError(f"Cannot read a release number from version {version!r}.")
    return tuple(int(part) for part in match.group(0).split("."))


def check_torch_pair(load: bool = False) -> tuple[str, str]:
    """Check that torch and torchaudio come from the same release.

    Parameters
    ----------
    load : bool
        Also import torchaudio, which loads its compiled library: this catches a
        broken binary that the version numbers alone do not show, at the cost of
        the import (about a second). ``False`` reads the installed versions only.

    Returns
    -------
    torch_version, torchaudio_version : str
        Installed versions (``""`` for torchaudio when it is not installed: only
        braindecode needs it).

    Raises
    ------
    ImportError
        When the releases differ, or when torchaudio's library fails to load; the
        message names both versions and the pin.
    """
    torch_version = metadata.version("torch")
    try:
        audio_version = metadata.version("torchaudio")
    except metadata.PackageNotFoundError:
        return torch_version, ""
    if _release(torch_version) != _release(audio_version):
        raise ImportError(
            f"torchaudio {audio_version} is installed beside torch {torch_version}: "
            "torchaudio's compiled library loads only with the torch release it was "
            "built for (otherwise: 'undefined symbol'), and braindecode imports it. "
            + PIN_HINT
        )
    if load:
        try:
            import torchaudio  # noqa: F401
        except OSError as err:
            raise ImportError(
                f"torchaudio {audio_version} failed to load beside torch "
                f"{torch_version}: {err}. " + PIN_HINT
            ) from err
    return torch_version, audio_version
