"""Synthetic polysomnography written as EDF in the Sleep-EDF and MASS layouts.

The EEG follows the hypnogram, 30-s epoch by 30-s epoch, over a 1/f background:
alpha (8-12 Hz) in wake, theta (4-7 Hz) in N1, spindles (11.5-14.5 Hz bursts)
and K-complexes in N2, high-amplitude delta (0.5-2 Hz) in N3, low-amplitude
mixed frequencies with sawtooth waves (2-5 Hz) in REM. The EOG has rapid eye
movements in REM, slow rolling ones in N1 and blinks in wake; the chin EMG
loses tone from wake to REM. Amplitudes depend on the scalp region (alpha is
posterior, delta and K-complexes frontal, spindles central), so channels
differ as in real recordings.

It makes the loaders testable end to end without the network, and gives a
classifier something learnable. Signals are generated in microvolts.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.utils import check_random_state

from ._checks import check_int
from ._stages import ANNOTATION_TO_STAGE, STAGE_TO_INT

#: Channels of a Sleep-EDF cassette PSG and their sampling rates (Hz).
SLEEP_EDF_PSG_CHANNELS: dict[str, float] = {
    "EEG Fpz-Cz": 100.0,
    "EEG Pz-Oz": 100.0,
    "EOG horizontal": 100.0,
    "Resp oro-nasal": 1.0,
    "EMG submental": 1.0,
    "Temp rectal": 1.0,
    "Event marker": 1.0,
}

#: EEG electrodes of the MASS SS3 recordings written by :func:`write_mass`.
MASS_EEG = ("F3", "F4", "C3", "C4", "O1", "O2")

# Codes of the non-stage epochs in the simulation.
_MOVEMENT, _UNSCORED = 5, 6
_CODES = {**{k: STAGE_TO_INT[v] for k, v in ANNOTATION_TO_STAGE.items()}}
_CODES.update({"Movement time": _MOVEMENT, "Sleep stage ?": _UNSCORED})

# RMS (uV) of each spectral component per epoch code: background (1/f), alpha,
# theta, delta, beta.
_BANDS = ("background", "alpha", "theta", "delta", "beta")
_RMS = np.array(
    [
        [8.0, 18.0, 3.0, 3.0, 5.0],  # W
        [8.0, 4.0, 14.0, 5.0, 3.0],  # N1
        [10.0, 2.0, 8.0, 12.0, 2.0],  # N2
        [10.0, 1.0, 8.0, 55.0, 1.0],  # N3
        [6.0, 3.0, 7.0, 3.0, 4.0],  # REM
        [40.0, 10.0, 10.0, 20.0, 30.0],  # movement
        [8.0, 18.0, 3.0, 3.0, 5.0],  # unscored: wake-like
    ]
)
# Gain of each component (bands, then spindles, K-complexes, sawtooth) by region.
_GAINS = {
    "frontal": [1.0, 0.5, 1.0, 1.3, 1.0, 0.8, 1.2, 0.9],
    "central": [1.0, 0.7, 1.0, 1.0, 1.0, 1.2, 1.0, 1.0],
    "posterior": [1.0, 1.3, 1.0, 0.7, 1.0, 0.6, 0.6, 0.6],
    "ear": [0.15] * 8,
}


def _region(name: str) -> str:
    n = name.upper()
    if "EOG" in n:
        return "eog"
    if "EMG" in n:
        return "emg"
    if "RESP" in n or "TEMP" in n or "EVENT" in n:
        return n.split()[0].lower()
    if "A1" in n.split("-")[0] or "A2" in n.split("-")[0]:
        return "ear"
    if "O1" in n or "O2" in n or "PZ" in n:
        return "posterior"
    if "C3" in n or "C4" in n:
        return "central"
    return "frontal"


def _band_shapes(n: int, sfreq: float) -> np.ndarray:
    """Amplitude spectra (rfft bins) of the components, each of unit RMS."""
    f = np.fft.rfftfreq(n, 1 / sfreq)
    fc = np.maximum(f, 0.3)
    shapes = np.stack(
        [
            np.where(f >= 0.3, 1 / np.sqrt(fc), 0.0),  # 1/f power
            np.exp(-0.5 * ((f - 10.0) / 1.2) ** 2),
            np.exp(-0.5 * ((f - 5.5) / 1.0) ** 2),
            np.exp(-0.5 * ((f - 1.0) / 0.5) ** 2) * (f >= 0.3),
            np.exp(-0.5 * ((f - 20.0) / 4.0) ** 2),
        ]
    )
    return shapes / np.sqrt((shapes**2).mean(axis=1, keepdims=True))


def _add_event(x: np.ndarray, start: int, wave: np.ndarray) -> None:
    stop = min(start + len(wave), x.shape[-1])
    if stop > start:
        x[start:stop] += wave[: stop - start]


def _eeg_events(code, t0, n, sfreq, gains, x, rng):
    """Add spindles and K-complexes (N2, N3) or sawtooth waves (REM)."""
    from scipy.signal import sawtooth

    if code in (2, 3):
        for _ in range(rng.poisson(4.0 if code == 2 else 1.0)):
            dur, freq = rng.uniform(0.5, 1.5), rng.uniform(11.5, 14.5)
            t = np.arange(int(dur * sfreq)) / sfreq
            wave = (
                rng.uniform(20, 35) * np.hanning(len(t)) * np.sin(2 * np.pi * freq * t)
            )
            _add_event(x, t0 + rng.integers(n), gains[0] * wave)
        for _ in range(rng.poisson(1.5 if code == 2 else 0.3)):
            t = np.arange(int(1.0 * sfreq)) / sfreq
            amp = rng.uniform(70, 120)
            wave = -amp * np.exp(-(((t - 0.25) / 0.08) ** 2)) + 0.6 * amp * np.exp(
                -(((t - 0.6) / 0.15) ** 2)
            )
            _add_event(x, t0 + rng.integers(n), gains[1] * wave)
    elif code == 4:
        for _ in range(rng.poisson(1.0)):
            dur, freq = rng.uniform(2.0, 4.0), rng.uniform(2.0, 5.0)
            t = np.arange(int(dur * sfreq)) / sfreq
            wave = 20 * np.hanning(len(t)) * sawtooth(2 * np.pi * freq * t, 0.2)
            _add_event(x, t0 + rng.integers(n), gains[2] * wave)


def _eog(code, n, sfreq, rng) -> np.ndarray:
    t = np.arange(n) / sfreq
    x = 5 * rng.standard_normal(n)
    if code == 4:  # rapid eye movements: fast steps
        for _ in range(rng.poisson(6)):
            s = rng.integers(n)
            x[s:] += rng.choice([-1, 1]) * rng.uniform(30, 80)
        x -= x.mean()
    elif code == 1:  # slow rolling eye movements
        x += 40 * np.sin(2 * np.pi * rng.uniform(0.1, 0.4) * t + rng.uniform(0, 6.3))
    elif code in (0, _UNSCORED, _MOVEMENT):  # blinks
        for _ in range(rng.poisson(5)):
            tb = rng.uniform(0, n / sfreq)
            x += 150 * np.exp(-(((t - tb) / 0.1) ** 2))
    return x


_EMG_RMS = {
    0: 30.0,
    1: 15.0,
    2: 12.0,
    3: 10.0,
    4: 3.0,
    _MOVEMENT: 80.0,
    _UNSCORED: 30.0,
}


def simulate_psg(
    epoch_codes: np.ndarray,
    channels: Sequence[str],
    sfreqs: Sequence[float],
    epoch_s: float = 30.0,
    random_state: int | np.random.RandomState | None = None,
) -> list[np.ndarray]:
    """Simulate PSG signals following a hypnogram.

    Parameters
    ----------
    epoch_codes : ndarray, shape (n_epochs,)
        Stage of each epoch: 0=W, 1=N1, 2=N2, 3=N3, 4=REM, 5=movement,
        6=unscored.
    channels : sequence of str
        Channel labels; the kind of signal follows the label (``EOG``, ``EMG``,
        ``Resp``, ``Temp``, ``Event``, else EEG with a region read from the
        electrode names, e.g. ``C3`` central, ``O1``/``Pz`` posterior).
    sfreqs : sequence of float
        Sampling rate of each channel, in Hz; ``epoch_s * sfreq`` must be an
        integer.
    epoch_s : float
        Epoch length, in seconds.
    random_state : int | RandomState | None
        Seed of every random draw.

    Returns
    -------
    signals : list of ndarray, each of shape (n_epochs * epoch_s * sfreq,)
        One signal per channel, in microvolts (degrees Celsius for ``Temp``).
    """
    rng = np.random.default_rng(check_random_state(random_state).randint(2**31))
    codes = np.asarray(epoch_codes, dtype=int)
    n_epochs = len(codes)
    out = []
    for ch, sfreq in zip(channels, sfreqs, strict=True):
        n = int(round(epoch_s * sfreq))
        region = _region(ch)
        x = np.zeros(n_epochs * n)
        if region in ("frontal", "central", "posterior", "ear"):
            gains = np.asarray(_GAINS[region])
            amp = (_RMS * gains[None, :5])[:, :, None] * _band_shapes(n, sfreq)[None]
            amp = np.sqrt((amp**2).sum(axis=1))  # (n_codes, n_freqs)
            # Spectral shaping of white noise, a block of epochs at a time.
            for b in range(0, n_epochs, 64):
                block = codes[b : b + 64]
                white = np.fft.rfft(rng.standard_normal((len(block), n)), axis=1)
                seg = np.fft.irfft(white * amp[block], n=n, axis=1)
                x[b * n : (b + len(block)) * n] = seg.ravel()
            for i, code in enumerate(codes):
                _eeg_events(code, i * n, n, sfreq, gains[5:], x, rng)
        elif region == "eog":
            for i, code in enumerate(codes):
                x[i * n : (i + 1) * n] = _eog(code, n, sfreq, rng)
        elif region == "emg":
            rms = np.repeat([_EMG_RMS[c] for c in codes], n)
            if sfreq <= 2:  # Sleep-EDF stores the EMG envelope at 1 Hz
                x = rms * (1 + 0.1 * rng.standard_normal(len(rms)))
            else:
                x = rms * rng.standard_normal(len(rms))
        elif region == "resp":
            t = np.arange(n_epochs * n) / sfreq
            x = 200 * np.sin(2 * np.pi * 0.23 * t) + 20 * rng.standard_normal(len(t))
        elif region == "temp":
            x = 36.8 + 0.3 * np.cumsum(rng.standard_normal(n_epochs * n)) / np.sqrt(
                n_epochs * n
            )
        out.append(x)
    return out


def epoch_codes(
    annotations, n_epochs: int, epoch_s: float = 30.0, offset: float = 0.0
) -> np.ndarray:
    """Stage code of each epoch ``[offset + k * epoch_s, offset + (k+1) * epoch_s)``.

    Parameters
    ----------
    annotations : mne.Annotations
        Hypnogram with Sleep-EDF/MASS descriptions.
    n_epochs : int
        Number of epochs.
    epoch_s : float
        Epoch length, in seconds.
    offset : float
        Start of the first epoch, in seconds.

    Returns
    -------
    codes : ndarray, shape (n_epochs,)
        0=W, 1=N1, 2=N2, 3=N3, 4=REM, 5=movement, 6=unscored (also where no
        annotation covers the epoch's midpoint).
    """
    mids = offset + (np.arange(n_epochs) + 0.5) * epoch_s
    codes = np.full(n_epochs, _UNSCORED)
    for onset, dur, desc in zip(
        annotations.onset, annotations.duration, annotations.description, strict=True
    ):
        if desc.strip() in _CODES:
            codes[(mids >= onset) & (mids < onset + dur)] = _CODES[desc.strip()]
    return codes


def hypnogram_from_labels(labels: Sequence[int], epoch_s: float = 30.0):
    """Build a Sleep-EDF-style hypnogram (runs of equal epochs merged).

    Parameters
    ----------
    labels : sequence of int, length n_epochs
        Stage of each epoch (0=W, 1=N1, 2=N2, 3=N3, 4=REM, 5=movement,
        6=unscored).
    epoch_s : float
        Epoch length, in seconds.

    Returns
    -------
    annotations : mne.Annotations
        One annotation per run, ``Sleep stage W/1/2/3/R/?`` or ``Movement time``.
    """
    import mne

    names = ["W", "1", "2", "3", "R"]
    desc = [
        f"Sleep stage {names[c]}"
        if c < 5
        else ("Movement time" if c == _MOVEMENT else "Sleep stage ?")
        for c in labels
    ]
    onsets, durations, texts = [], [], []
    for i, d in enumerate(desc):
        if texts and texts[-1] == d:
            durations[-1] += epoch_s
        else:
            onsets.append(i * epoch_s)
            durations.append(epoch_s)
            texts.append(d)
    return mne.Annotations(onsets, durations, texts)


def crop_hypnogram(annotations, tmin: float, tmax: float):
    """Keep the part of a hypnogram between ``tmin`` and ``tmax``, shifted to 0.

    Parameters
    ----------
    annotations : mne.Annotations
        Hypnogram, onsets in seconds from the start of the recording.
    tmin, tmax : float
        Crop, in seconds.

    Returns
    -------
    annotations : mne.Annotations
        Annotations overlapping the crop, clipped to it, onsets relative to
        ``tmin``.
    """
    import mne

    onset = np.asarray(annotations.onset)
    end = onset + np.asarray(annotations.duration)
    keep = (end > tmin) & (onset < tmax)
    new_onset = np.maximum(onset[keep], tmin)
    new_end = np.minimum(end[keep], tmax)
    return mne.Annotations(
        new_onset - tmin,
        new_end - new_onset,
        np.asarray(annotations.description)[keep],
    )


def _as_annotations(hypnogram):
    import mne

    if isinstance(hypnogram, mne.Annotations):
        return hypnogram
    return mne.read_annotations(hypnogram)


def _write_annotations_edf(path: Path, onsets, durations, texts, starttime) -> None:
    import edfio

    annotations = [
        edfio.EdfAnnotation(float(o), float(d), str(t))
        for o, d, t in zip(onsets, durations, texts, strict=True)
    ]
    edfio.Edf([], annotations=annotations, starttime=starttime).write(path)


def _edf_signal(data, sfreq, label, dimension):
    import edfio

    lo, hi = float(np.min(data)), float(np.max(data))
    pad = max(hi - lo, 1.0) * 0.01
    return edfio.EdfSignal(
        data,
        sfreq,
        label=label,
        physical_dimension=dimension,
        physical_range=(lo - pad, hi + pad),
    )


def write_sleep_edf(
    hypnogram,
    folder: str | Path,
    subject: int = 0,
    night: int = 1,
    duration: float | None = None,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[Path, Path]:
    """Write a synthetic Sleep-EDF cassette recording (PSG + hypnogram).

    Files are named ``SC4{ss}{n}E0-PSG.edf`` and ``SC4{ss}{n}EC-Hypnogram.edf``
    and hold the channels of :data:`SLEEP_EDF_PSG_CHANNELS` at their original
    rates (EEG and EOG at 100 Hz, the others at 1 Hz) in 30-s data records; the
    hypnogram is an annotation-only EDF+ file with the annotations as given.

    Parameters
    ----------
    hypnogram : mne.Annotations | path
        Stage annotations (e.g. a real ``*-Hypnogram.edf``), onsets in seconds.
    folder : path
        Output folder (created if needed).
    subject : int
        Subject id ``ss`` (0-99: two digits in the file name).
    night : int
        Night ``n`` (Sleep-EDF has 1 and 2; 1-9, one digit in the file name).
    duration : float | None
        Signal length in seconds (rounded up to 30 s); by default the end of
        the last stage annotation. Shorter than the hypnogram makes annotations
        run past the end of the signal.
    random_state : int | RandomState | None
        Seed of the simulated signals.

    Returns
    -------
    psg, hypnogram : Path
        The written files.
    """
    import edfio

    # The file name has two digits for the subject and one for the night, as
    # parse_sleep_edf_name reads them back.
    subject = check_int(subject, "subject", 0, 99, "two digits in SC4ssnE0")
    night = check_int(night, "night", 1, 9, "one digit in SC4ssnE0")
    annotations = _as_annotations(hypnogram)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if duration is None:
        stage = [d.strip() in _CODES for d in annotations.description]
        ends = (annotations.onset + annotations.duration)[stage]
        duration = float(ends.max()) if len(ends) else 30.0
    n_epochs = int(np.ceil(duration / 30.0 - 1e-9))
    codes = epoch_codes(annotations, n_epochs)
    names, rates = list(SLEEP_EDF_PSG_CHANNELS), list(SLEEP_EDF_PSG_CHANNELS.values())
    signals = simulate_psg(codes, names, rates, random_state=random_state)
    dims = {"Temp rectal": "DegC", "Event marker": ""}
    edf_signals = [
        _edf_signal(x, fs, name, dims.get(name, "uV"))
        for x, fs, name in zip(signals, rates, names, strict=True)
    ]
    start = datetime.time(22, 0, 0)
    psg = folder / f"SC4{subject:02d}{night}E0-PSG.edf"
    edfio.Edf(edf_signals, starttime=start, data_record_duration=30.0).write(psg)
    hyp = folder / f"SC4{subject:02d}{night}EC-Hypnogram.edf"
    _write_annotations_edf(
        hyp, annotations.onset, annotations.duration, annotations.description, start
    )
    return psg, hyp


def write_mass(
    hypnogram,
    folder: str | Path,
    subject: int = 1,
    sfreq: float = 256.0,
    reference: str = "CLE",
    onset_offset: float = 12.34,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[Path, Path]:
    """Write a synthetic MASS SS3 recording (``01-03-00NN PSG.edf`` + ``Base.edf``).

    The PSG holds ``EEG {F3,F4,C3,C4,O1,O2,A2}-{reference}``, ``EOG Left Horiz``
    and ``EMG Chin1`` at ``sfreq``, written with ``mne.export.export_raw``. The
    Base file has one 30-s annotation per scored epoch (``Sleep stage W``, ``1``,
    ``2``, ``3``, ``4``, ``R``, ``?``; movement becomes ``?``), starting
    ``onset_offset`` seconds after the start of the PSG, as in MASS.

    Parameters
    ----------
    hypnogram : mne.Annotations | path
        Stage annotations, onsets in seconds; runs are split into 30-s epochs.
    folder : path
        Output folder (created if needed).
    subject : int
        Subject id ``NN`` (0-9999: four digits in the file name; MASS SS3 has
        1-64).
    sfreq : float
        Sampling rate of every channel, in Hz.
    reference : {"CLE", "LER"}
        Reference suffix of the EEG labels, as in the MASS files.
    onset_offset : float
        Start of the first scored epoch, in seconds after the start of the PSG.
    random_state : int | RandomState | None
        Seed of the simulated signals.

    Returns
    -------
    psg, base : Path
        The written files.
    """
    import mne

    # Four digits in '01-03-NNNN PSG.edf', as find_mass_files reads them back.
    subject = check_int(subject, "subject", 0, 9999, "four digits in 01-03-NNNN")
    annotations = _as_annotations(hypnogram)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stage = [d.strip() in _CODES for d in annotations.description]
    end = float((annotations.onset + annotations.duration)[stage].max())
    n_epochs = int(np.floor(end / 30.0 + 1e-9))
    codes = epoch_codes(annotations, n_epochs)
    # Simulate on a 30-s grid that starts before the PSG, then cut the PSG out.
    n_lead = int(np.ceil(onset_offset / 30.0))
    grid = np.concatenate([np.zeros(n_lead, int), codes, np.zeros(1, int)])
    names = [f"EEG {e}-{reference}" for e in (*MASS_EEG, "A2")]
    names += ["EOG Left Horiz", "EMG Chin1"]
    signals = np.array(
        simulate_psg(grid, names, [sfreq] * len(names), random_state=random_state)
    )
    first = int(round((n_lead * 30.0 - onset_offset) * sfreq))
    n_seconds = int(np.ceil(onset_offset + n_epochs * 30.0 + 5.0))
    data = signals[:, first : first + int(n_seconds * sfreq)]
    info = mne.create_info(names, sfreq, ch_types="eeg")
    raw = mne.io.RawArray(data * 1e-6, info, verbose="error")  # MNE works in volts
    raw.set_meas_date(datetime.datetime(2000, 1, 1, 22, tzinfo=datetime.UTC))
    stem = f"01-03-{subject:04d}"
    psg = folder / f"{stem} PSG.edf"
    mne.export.export_raw(psg, raw, fmt="edf", overwrite=True, verbose="error")
    mass_names = {0: "W", 1: "1", 2: "2", 3: "3", 4: "R"}
    # Keep R&K stage 4 as '4' (MASS uses it in its R&K-scored subsets).
    descs = []
    for k, code in enumerate(codes):
        mid = (k + 0.5) * 30.0
        orig = [
            d.strip()
            for o, du, d in zip(
                annotations.onset,
                annotations.duration,
                annotations.description,
                strict=True,
            )
            if o <= mid < o + du
        ]
        if orig and orig[-1] == "Sleep stage 4":
            descs.append("Sleep stage 4")
        else:
            descs.append(f"Sleep stage {mass_names.get(code, '?')}")
    base = folder / f"{stem} Base.edf"
    onsets = onset_offset + 30.0 * np.arange(n_epochs)
    _write_annotations_edf(
        base, onsets, np.full(n_epochs, 30.0), descs, datetime.time(22, 0, 0)
    )
    return psg, base
