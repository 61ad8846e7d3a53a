"""EDF header checks that MNE does not make.

MNE reads a truncated EDF without complaint (it returns fewer samples) and
silently resamples channels recorded at different rates, so the loaders read the
fixed-size EDF header themselves (256 bytes plus 256 per signal) to check both.
"""

from __future__ import annotations

from pathlib import Path


def _field(raw: bytes, start: int, stop: int) -> str:
    return raw[start:stop].decode("ascii", errors="replace").strip()


def _number(text: str, path: Path, name: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(
            f"Corrupt EDF file {path}: header field {name!r} is {text!r}, not a number."
        ) from None


def read_edf_header(path: str | Path) -> dict:
    """Read the signal labels and sampling rates of an EDF/EDF+ file.

    Parameters
    ----------
    path : str | Path
        EDF file.

    Returns
    -------
    header : dict
        ``labels`` (list of str), ``sfreqs`` (list of float, Hz, one per
        signal, the EDF+ annotation signal included), ``n_records`` (int) and
        ``record_duration`` (float, s).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the header is corrupt, or the file is shorter than its header says
        (a truncated recording).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"EDF file not found: {path}")
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(256)
        if len(head) < 256 or not head[:8].strip() == b"0":
            raise ValueError(f"Corrupt EDF file {path}: not an EDF header.")
        n_signals = int(_number(_field(head, 252, 256), path, "number of signals"))
        header_bytes = int(_number(_field(head, 184, 192), path, "header bytes"))
        n_records = int(_number(_field(head, 236, 244), path, "number of data records"))
        duration = _number(_field(head, 244, 252), path, "data record duration")
        sig = f.read(256 * n_signals)
    if len(sig) < 256 * n_signals or header_bytes != 256 * (n_signals + 1):
        raise ValueError(
            f"Corrupt EDF file {path}: header announces {n_signals} signals "
            f"but has {header_bytes} header bytes."
        )
    labels = [_field(sig, 16 * i, 16 * (i + 1)) for i in range(n_signals)]
    off = 216 * n_signals  # start of the 'samples per record' fields
    n_samps = [
        int(
            _number(
                _field(sig, off + 8 * i, off + 8 * (i + 1)), path, "samples per record"
            )
        )
        for i in range(n_signals)
    ]
    expected = header_bytes + 2 * n_records * sum(n_samps)
    # n_records is -1 while a recording is still being written.
    if n_records >= 0 and size < expected:
        raise ValueError(
            f"Truncated EDF file {path}: the header announces {n_records} data "
            f"records ({expected} bytes) but the file has {size} bytes."
        )
    sfreqs = [n / duration if duration > 0 else 0.0 for n in n_samps]
    return {
        "labels": labels,
        "sfreqs": sfreqs,
        "n_records": n_records,
        "record_duration": duration,
    }
