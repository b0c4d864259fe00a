"""The built-in data: a physiologically meaningful simulator of motor-imagery EEG and 12-lead ECG.

Motor imagery (MI) EEG
    22 EEG channels with the 10-20 names and layout of BCI Competition IV 2a (plus 3 EOG), 250 Hz,
    in µV. Each channel is a volume-conducted mixture of cortical sources: a spatially smooth 1/f
    ("pink") background, a posterior alpha rhythm, and mu (≈8-13 Hz) and beta (≈16-26 Hz)
    rhythms generated at the hand areas (under C3 and C4), the foot area (under Cz) and the
    lateral face/tongue areas (under C5/C6). Imagining a movement desynchronises the rhythm of
    the corresponding area (event-related desynchronisation, ERD; Pfurtscheller & Lopes da Silva
    1999): left-hand imagery lowers mu/beta power over the *right* hemisphere (C4), right-hand
    imagery over the left (C3), feet at Cz, tongue at C5/C6. Subjects differ in mu/beta frequency,
    ERD depth and latency, source position, signal-to-noise ratio and channel gains. EOG channels
    carry blinks that leak into frontal EEG. Trials follow BCI IV 2a's timing: fixation at 0 s,
    cue at 2 s (annotated with the class name), imagery until 6 s, a 1.5-2.5 s break.

12-lead ECG
    A moving cardiac dipole (Gaussian P, Q, R, S and T waves in 3-D, as in Sameni et al. 2007,
    doi:10.1186/1475-925X-6-55) is projected onto electrode lead vectors (RA, LA, LL and V1-V6).
    Limb and augmented leads are differences of electrode potentials and the precordial leads
    are referenced to Wilson's central terminal, so Einthoven's law (III = II - I) and the
    Goldberger identities hold exactly by construction. Records carry diagnostic superclass labels
    (NORM, MI, STTC, CD, HYP) that change the dipole in the textbook way (pathological Q and ST
    elevation, T inversion, wide QRS, large R). Units: mV. Heart rate, axis, amplitudes, baseline
    wander and noise vary per record.

Everything is deterministic given ``seed``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from scipy.fft import irfft, next_fast_len

from biosig._checks import check_args
from biosig.datasets.base import DatasetSource
from biosig.errors import ConfigError
from biosig.signal.recording import Annotations, Recording

#: BCI Competition IV 2a's 22 EEG channels, in the dataset's order.
MI_CHANNELS = [
    "Fz",
    "FC3",
    "FC1",
    "FCz",
    "FC2",
    "FC4",
    "C5",
    "C3",
    "C1",
    "Cz",
    "C2",
    "C4",
    "C6",
    "CP3",
    "CP1",
    "CPz",
    "CP2",
    "CP4",
    "P1",
    "Pz",
    "P2",
    "POz",
]
EOG_CHANNELS = ["EOG-left", "EOG-central", "EOG-right"]
MI_CLASSES = ["left_hand", "right_hand", "feet", "tongue"]
#: GDF event codes of BCI IV 2a (768 trial start, 769-772 cues), used when writing GDF files.
MI_EVENT_CODES = {
    "trial_start": 768,
    "left_hand": 769,
    "right_hand": 770,
    "feet": 771,
    "tongue": 772,
}

# Electrode positions (mm, head frame: x right, y front, z up) from MNE's standard_1020 montage.
_POS = np.array(
    [
        [0.3, 58.5, 66.5],
        [-60.2, 22.7, 55.5],
        [-34.1, 26.0, 80.0],
        [0.4, 27.4, 88.7],
        [34.8, 26.4, 78.8],
        [62.3, 23.7, 55.6],
        [-80.3, -13.8, 29.2],
        [-65.4, -11.6, 64.4],
        [-36.2, -10.0, 89.8],
        [0.4, -9.2, 100.2],
        [37.7, -9.6, 88.4],
        [67.1, -10.9, 63.6],
        [83.5, -12.8, 29.2],
        [-63.6, -47.0, 65.6],
        [-35.5, -47.3, 91.3],
        [0.4, -47.3, 99.4],
        [38.4, -47.1, 90.7],
        [66.6, -46.6, 65.6],
        [-28.6, -80.5, 75.4],
        [0.3, -81.1, 82.6],
        [31.9, -80.5, 76.7],
        [0.2, -102.2, 50.6],
    ]
)
# Cortical sources (under these electrodes) and the class whose imagery desynchronises them.
_SOURCES = {
    "left_hand_area": ("C3", "right_hand"),
    "right_hand_area": ("C4", "left_hand"),
    "foot_area": ("Cz", "feet"),
    "tongue_left": ("C5", "tongue"),
    "tongue_right": ("C6", "tongue"),
}
_SPREAD_MM = 30.0  # volume-conduction spread of a source on the scalp


def _names(allowed=None):
    """Rule for a list of names: non-empty, no repeats, each one of ``allowed`` (if given)."""

    def check(key: str, value) -> None:
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)) or not value:
            raise ConfigError(f"{key} must be a non-empty list, got {value!r}")
        repeated = sorted({str(v) for v in value if list(value).count(v) > 1})
        if repeated:
            raise ConfigError(f"{key} names {repeated} more than once")
        unknown = [v for v in value if allowed is not None and v not in allowed]
        if unknown:
            raise ConfigError(f"{key}: unknown {unknown}; choose from {allowed}")

    return check


#: Checks of the simulators' arguments (:func:`biosig._checks.check_args`): sizes are counts,
#: rates and durations positive, seeds (and subject numbers) non-negative integers, as NumPy's
#: generators and array shapes need them.
_SIM_RULES = {
    "subject": dict(ge=0, integer=True),
    "n_subjects": dict(ge=1, integer=True),
    "n_trials_per_class": dict(ge=1, integer=True),
    "n_per_class": dict(ge=1, integer=True),
    "n_records": dict(ge=1, integer=True),
    "duration": dict(gt=0),
    "sfreq": dict(gt=0),
    "seed": dict(ge=0, integer=True),
    "classes": _names(MI_CLASSES),
    "sessions": _names(),
}


def _check_sim(where: str, **args) -> None:
    """A ConfigError naming ``where.<argument>`` for a bad simulator argument."""
    check_args(args, _SIM_RULES, prefix=f"{where}.")


def pink_noise(rng, n_signals: int, n_times: int, exponent: float = 1.0) -> np.ndarray:
    """Unit-variance noise with a 1/f**exponent power spectrum."""
    n_fft = next_fast_len(n_times, real=True)
    spec = rng.standard_normal((n_signals, n_fft // 2 + 1)) + 1j * rng.standard_normal(
        (n_signals, n_fft // 2 + 1)
    )
    f = np.arange(n_fft // 2 + 1, dtype=np.float64)
    f[0] = 1.0
    spec /= f ** (exponent / 2)
    spec[:, 0] = 0
    x = irfft(spec, n=n_fft, axis=-1)[:, :n_times]
    return x / x.std(axis=-1, keepdims=True)


def _narrowband(rng, n_times: int, sfreq: float, centre: float, width: float) -> np.ndarray:
    """Unit-variance noise band-limited around ``centre`` Hz (Gaussian spectral bump)."""
    n_fft = next_fast_len(n_times, real=True)
    n_f = n_fft // 2 + 1
    f = np.fft.rfftfreq(n_fft, 1 / sfreq)
    spec = (rng.standard_normal(n_f) + 1j * rng.standard_normal(n_f)) * np.exp(
        -0.5 * ((f - centre) / (width / 2)) ** 2
    )
    x = irfft(spec, n=n_fft)[:n_times]
    return x / (x.std() + 1e-12)


def _mixing(centre: str, pos: np.ndarray, jitter_mm: np.ndarray) -> np.ndarray:
    src = pos[MI_CHANNELS.index(centre)] + jitter_mm
    d2 = ((pos - src) ** 2).sum(axis=1)
    return np.exp(-d2 / (2 * _SPREAD_MM**2))


@dataclass(frozen=True)
class SubjectProfile:
    """The per-subject physiology the simulator draws (exposed for tests and docs)."""

    mu_freq: float
    beta_freq: float
    erd_depth: float
    erd_latency: float
    snr: float
    source_jitter_mm: tuple
    channel_gain: tuple


def subject_profile(subject: int, seed: int = 0) -> SubjectProfile:
    rng = np.random.default_rng([seed, subject, 7])
    return SubjectProfile(
        mu_freq=float(rng.uniform(9.0, 12.0)),
        beta_freq=float(rng.uniform(17.0, 24.0)),
        erd_depth=float(rng.uniform(0.35, 0.65)),
        erd_latency=float(rng.uniform(0.3, 0.7)),
        snr=float(rng.uniform(0.8, 1.4)),
        source_jitter_mm=tuple(map(tuple, rng.normal(0, 6, size=(len(_SOURCES), 3)))),
        channel_gain=tuple(rng.uniform(0.85, 1.15, size=len(MI_CHANNELS))),
    )


def simulate_mi_session(
    subject: int = 1,
    session: str = "T",
    n_trials_per_class: int = 72,
    classes: tuple[str, ...] = tuple(MI_CLASSES),
    sfreq: float = 250.0,
    include_eog: bool = True,
    seed: int = 0,
) -> Recording:
    """One continuous MI session of one subject (µV), trials annotated at cue onset.

    Annotations: ``"trial_start"`` at each trial start and the class name at the cue (2 s later).
    """
    _check_sim("simulate_mi_session", subject=subject, n_trials_per_class=n_trials_per_class,
               classes=classes, sfreq=sfreq, seed=seed)
    prof = subject_profile(subject, seed)
    session_key = {"T": 0, "E": 1}.get(session, zlib.crc32(str(session).encode()) + 2)
    rng = np.random.default_rng([seed, subject, session_key, 11])
    labels = np.repeat(np.arange(len(classes)), n_trials_per_class)
    rng.shuffle(labels)
    trial_len = 6.0
    breaks = rng.uniform(1.5, 2.5, size=len(labels))
    starts = 1.0 + np.concatenate([[0.0], np.cumsum(trial_len + breaks)[:-1]])
    n_times = (
        int(np.ceil((starts[-1] + trial_len + 2.0) * sfreq)) if len(labels) else int(10 * sfreq)
    )
    t = np.arange(n_times) / sfreq

    # Background: spatially smoothed pink noise (many deep sources -> correlated scalp noise).
    n_ch = len(MI_CHANNELS)
    bg_src = pink_noise(rng, n_ch, n_times)
    d2 = ((_POS[:, None] - _POS[None]) ** 2).sum(-1)
    smooth = np.exp(-d2 / (2 * 40.0**2))
    smooth /= np.sqrt((smooth**2).sum(1, keepdims=True))
    eeg = 6.0 * (smooth @ bg_src)

    # Posterior alpha (unmodulated by the task).
    alpha = _narrowband(rng, n_times, sfreq, prof.mu_freq - 0.5, 1.5)
    eeg += 4.0 * np.outer(_mixing("POz", _POS, np.zeros(3)), alpha)

    # Sensorimotor mu/beta sources with class-specific ERD envelopes.
    gains = {}
    for i, (name, (centre, erd_class)) in enumerate(_SOURCES.items()):
        env = np.ones(n_times)
        for start, lab in zip(starts, labels):
            if classes[lab] != erd_class:
                continue
            on = start + 2.0 + prof.erd_latency
            off = start + 6.0
            sl = slice(int(on * sfreq), min(n_times, int((off + 0.4) * sfreq) + 1))
            ramp = np.clip((t[sl] - on) / 0.3, 0, 1) * np.clip((off + 0.4 - t[sl]) / 0.4, 0, 1)
            env[sl] *= 1.0 - prof.erd_depth * ramp
        # slow spontaneous amplitude fluctuation of the rhythm
        env *= 1.0 + 0.15 * _narrowband(rng, n_times, sfreq, 0.2, 0.3)
        mu = _narrowband(rng, n_times, sfreq, prof.mu_freq, 2.0)
        beta = _narrowband(rng, n_times, sfreq, prof.beta_freq, 4.0)
        amp = 5.0 * prof.snr * (0.8 if name.startswith("tongue") else 1.0)
        src = env * (amp * mu + 0.45 * amp * beta)
        eeg += np.outer(_mixing(centre, _POS, np.asarray(prof.source_jitter_mm[i])), src)
        gains[name] = amp

    eeg += 1.0 * rng.standard_normal(eeg.shape)  # sensor noise
    eeg += 0.5 * np.sin(2 * np.pi * 50.0 * t)  # mains
    eeg *= np.asarray(prof.channel_gain)[:, None]

    data, names, types = [eeg], list(MI_CHANNELS), ["eeg"] * n_ch
    if include_eog:
        blinks = np.zeros(n_times)
        kernel = 120.0 * np.exp(
            -0.5 * (np.arange(-int(0.4 * sfreq), int(0.4 * sfreq) + 1) / (0.08 * sfreq)) ** 2
        )
        for bt in rng.uniform(0, t[-1], size=max(1, int(t[-1] / 4))):
            c = int(bt * sfreq)
            lo, hi = max(0, c - len(kernel) // 2), min(n_times, c + len(kernel) // 2 + 1)
            blinks[lo:hi] += kernel[lo - (c - len(kernel) // 2) : hi - (c - len(kernel) // 2)]
        eog = np.stack([blinks * g for g in (1.0, 1.1, 0.9)]) + 3 * rng.standard_normal(
            (3, n_times)
        )
        data[0] = eeg + np.outer(np.exp(-np.arange(n_ch) / 2.0) * 0.15, blinks)  # frontal leak
        data.append(eog)
        names += EOG_CHANNELS
        types += ["eog"] * 3

    onsets = np.concatenate([starts, starts + 2.0])
    desc = ["trial_start"] * len(starts) + [classes[lab] for lab in labels]
    order = np.argsort(onsets, kind="stable")
    ann = Annotations.from_lists(
        onsets[order],
        np.concatenate([np.zeros(len(starts)), np.full(len(starts), 4.0)])[order],
        np.asarray(desc, dtype=object)[order],
    )
    return Recording(
        data=np.concatenate(data).astype(np.float32),
        sfreq=sfreq,
        ch_names=names,
        ch_types=types,
        units=["uV"] * len(names),
        annotations=ann,
        meta={
            "format": "synthetic",
            "source": f"synthetic_mi_s{subject:02d}{session}",
            "subject": subject,
            "session": session,
        },
    )


def simulate_mi_eeg(
    n_subjects: int = 2,
    n_trials_per_class: int = 20,
    classes: tuple[str, ...] = ("left_hand", "right_hand"),
    sessions: tuple[str, ...] = ("T", "E"),
    sfreq: float = 250.0,
    include_eog: bool = True,
    seed: int = 0,
) -> list[Recording]:
    """Sessions of several subjects (see :func:`simulate_mi_session`)."""
    _check_sim("simulate_mi_eeg", n_subjects=n_subjects, sessions=sessions)
    return [
        simulate_mi_session(s, sess, n_trials_per_class, tuple(classes), sfreq, include_eog, seed)
        for s in range(1, n_subjects + 1)
        for sess in sessions
    ]


# ----------------------------------------------------------------------------------------------
# 12-lead ECG from a cardiac dipole
# ----------------------------------------------------------------------------------------------
ECG_LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
ECG_CLASSES = ["NORM", "MI", "STTC", "CD", "HYP"]


def _unit(azimuth_deg: float, elevation_deg: float = 0.0) -> np.ndarray:
    """Direction in the body frame (x: patient's left, y: inferior, z: anterior).

    ``azimuth`` is the frontal-plane angle (0 = left, +90 = inferior) for limb electrodes;
    ``elevation`` tilts toward anterior (+) / posterior (-).
    """
    a, e = np.deg2rad(azimuth_deg), np.deg2rad(elevation_deg)
    return np.array([np.cos(a) * np.cos(e), np.sin(a) * np.cos(e), np.sin(e)])


def _horizontal(angle_deg: float, inferior: float = 0.15) -> np.ndarray:
    """Precordial electrode direction: horizontal-plane angle from left (0) to anterior (90)."""
    a = np.deg2rad(angle_deg)
    v = np.array([np.cos(a), inferior, np.sin(a)])
    return v / np.linalg.norm(v)


# Electrode lead vectors (Burger-style gains folded in as 1 for limbs, 1.6 for the chest).
_ELECTRODES = {
    "RA": _unit(-150.0),
    "LA": _unit(-30.0),
    "LL": _unit(90.0),
    "V1": 1.6 * _horizontal(120.0),
    "V2": 1.6 * _horizontal(95.0),
    "V3": 1.6 * _horizontal(75.0),
    "V4": 1.6 * _horizontal(55.0),
    "V5": 1.6 * _horizontal(30.0),
    "V6": 1.6 * _horizontal(5.0),
}

# Dipole waves: (name, time after beat onset as fraction of RR at 60 bpm [s], width [s],
# amplitude [mV], direction). Directions give the textbook vectorcardiogram loops.
_WAVES = [
    ("P", 0.00, 0.025, 0.18, _unit(55.0, -10.0)),
    ("Q", 0.155, 0.008, 0.10, _unit(-160.0, 50.0)),  # septal: rightward, anterior
    ("R", 0.180, 0.011, 1.35, _unit(40.0, -30.0)),  # main: leftward, inferior, posterior
    ("S", 0.205, 0.010, 0.30, _unit(-110.0, -45.0)),  # terminal: superior, posterior
    ("T", 0.400, 0.055, 0.35, _unit(45.0, 10.0)),
]


def _beat_dipole(tb: np.ndarray, rr: float, waves) -> np.ndarray:
    """Dipole (3, len(tb)) of one beat at times ``tb`` (s from beat onset)."""
    out = np.zeros((3, len(tb)))
    scale = np.sqrt(rr)  # Bazett-like QT scaling of the T wave
    for name, centre, width, amp, direction in waves:
        c = centre * (scale if name == "T" else 1.0)
        out += amp * np.exp(-0.5 * ((tb - c) / width) ** 2) * direction[:, None]
    return out


def _waves_for(labels: set[str], rng) -> list:
    waves = [list(w) for w in _WAVES]
    get = {w[0]: w for w in waves}
    rot = rng.normal(0, 12)  # per-record axis variation (degrees, frontal plane)
    c, s = np.cos(np.deg2rad(rot)), np.sin(np.deg2rad(rot))
    R = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    for w in waves:
        w[3] *= rng.uniform(0.8, 1.2)
        w[4] = R @ w[4]
    if "MI" in labels:  # pathological Q (wide, large, pointing away from the infarct) + ST shift
        get["Q"][2], get["Q"][3] = 0.018, 0.45
        get["Q"][4] = _unit(-90.0, 40.0)
        waves.append(["ST", 0.30, 0.06, 0.18, _unit(70.0, 40.0)])
    if "STTC" in labels:  # T-wave inversion
        get["T"][4] = -get["T"][4]
        get["T"][3] *= 0.8
    if "CD" in labels:  # conduction delay: wide QRS with a late R'
        for k in ("Q", "R", "S"):
            get[k][2] *= 2.2
        waves.append(["R2", 0.245, 0.02, 0.5, _unit(-170.0, 40.0)])
    if "HYP" in labels:  # ventricular hypertrophy: large, posterior-leftward R
        get["R"][3] *= 1.9
        get["S"][3] *= 1.8
    return waves


def simulate_ecg_record(
    labels: tuple[str, ...] = ("NORM",),
    duration: float = 10.0,
    sfreq: float = 500.0,
    noise: bool = True,
    seed: int = 0,
) -> Recording:
    """One 12-lead ECG record (mV) with the given superclass labels."""
    _check_sim("simulate_ecg_record", duration=duration, sfreq=sfreq, seed=seed)
    unknown = set(labels) - set(ECG_CLASSES)
    if unknown:
        raise ConfigError(f"unknown ECG classes {sorted(unknown)}; choose from {ECG_CLASSES}")
    rng = np.random.default_rng([seed, 3])
    n = int(round(duration * sfreq))
    t = np.arange(n) / sfreq
    waves = _waves_for(set(labels), rng)
    hr = rng.uniform(55, 95)
    rr0 = 60.0 / hr
    dipole = np.zeros((3, n))
    beat_t = -rng.uniform(0, rr0)
    r_peaks = []
    while beat_t < duration:
        rr = rr0 * (1 + 0.04 * np.sin(2 * np.pi * 0.25 * beat_t) + 0.02 * rng.standard_normal())
        lo, hi = max(0, int((beat_t - 0.1) * sfreq)), min(n, int((beat_t + rr + 0.4) * sfreq))
        if hi > lo:
            dipole[:, lo:hi] += _beat_dipole(t[lo:hi] - beat_t, rr, waves)
        r_peaks.append(beat_t + 0.18)
        beat_t += rr
    phi = {e: v @ dipole for e, v in _ELECTRODES.items()}
    if noise:  # electrode-level noise keeps the lead identities exact
        wander = 0.08 * np.sin(2 * np.pi * rng.uniform(0.15, 0.35) * t + rng.uniform(0, 6.3))
        for e in phi:
            phi[e] = phi[e] + wander * rng.uniform(-1, 1) + 0.012 * rng.standard_normal(n)
    wct = (phi["RA"] + phi["LA"] + phi["LL"]) / 3
    leads = {
        "I": phi["LA"] - phi["RA"],
        "II": phi["LL"] - phi["RA"],
        "III": phi["LL"] - phi["LA"],
        "aVR": phi["RA"] - (phi["LA"] + phi["LL"]) / 2,
        "aVL": phi["LA"] - (phi["RA"] + phi["LL"]) / 2,
        "aVF": phi["LL"] - (phi["RA"] + phi["LA"]) / 2,
    }
    for v in ("V1", "V2", "V3", "V4", "V5", "V6"):
        leads[v] = phi[v] - wct
    r_peaks = np.asarray([p for p in r_peaks if 0 <= p < duration])
    return Recording(
        data=np.stack([leads[k] for k in ECG_LEADS]).astype(np.float32),
        sfreq=sfreq,
        ch_names=list(ECG_LEADS),
        ch_types=["ecg"] * 12,
        units=["mV"] * 12,
        annotations=Annotations.from_lists(r_peaks, np.zeros(len(r_peaks)), ["R"] * len(r_peaks)),
        meta={
            "format": "synthetic",
            "source": f"synthetic_ecg_{seed}",
            "labels": list(labels),
            "heart_rate": float(hr),
        },
    )


def _draw_labels(rng) -> tuple[str, ...]:
    if rng.uniform() < 0.4:
        return ("NORM",)
    k = 1 + int(rng.uniform() < 0.25)
    return tuple(sorted(rng.choice(ECG_CLASSES[1:], size=k, replace=False)))


def simulate_ecg12(
    n_records: int = 100,
    duration: float = 10.0,
    sfreq: float = 500.0,
    noise: bool = True,
    seed: int = 0,
) -> list[Recording]:
    """``n_records`` 12-lead records (mV) with random diagnostic superclass labels."""
    _check_sim("simulate_ecg12", n_records=n_records, duration=duration, sfreq=sfreq, seed=seed)
    rng = np.random.default_rng([seed, 5])
    return [
        simulate_ecg_record(_draw_labels(rng), duration, sfreq, noise, seed=seed * 100_003 + i)
        for i in range(n_records)
    ]


def write_recordings(recordings: list[Recording], folder, fmt: str = "edf") -> list:
    """Write recordings as real files (``"edf"``, ``"gdf"`` with an event table, or ``"wfdb"``).

    File names come from ``meta["source"]``. GDF events use BCI IV 2a's codes for the MI cues
    (:data:`MI_EVENT_CODES`) and 1, 2, ... for other descriptions. Returns the written paths
    (WFDB: the ``.hea``).
    """
    from pathlib import Path

    from biosig.io.write import write_edf, write_gdf, write_wfdb

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for rec in recordings:
        stem = rec.meta.get("source", f"record{len(paths):04d}")
        if fmt == "edf":
            paths.append(write_edf(folder / f"{stem}.edf", rec))
        elif fmt == "gdf":
            names = sorted(set(rec.annotations.description) - set(MI_EVENT_CODES))
            codes = {**MI_EVENT_CODES, **{d: 1 + i for i, d in enumerate(names)}}
            paths.append(write_gdf(folder / f"{stem}.gdf", rec, event_codes=codes))
        elif fmt == "wfdb":
            paths.append(write_wfdb(folder, stem, rec))
        else:
            raise ConfigError(f"fmt must be 'edf', 'gdf' or 'wfdb', got {fmt!r}")
    return paths


# ----------------------------------------------------------------------------------------------
# Dataset sources (the interface the window cache consumes)
# ----------------------------------------------------------------------------------------------
class SyntheticMI(DatasetSource):
    """Built-in motor-imagery EEG dataset (BCI IV 2a layout: 22 EEG + 3 EOG, 250 Hz, µV).

    Parameters
    ----------
    n_subjects, n_trials_per_class : size; sessions ``"T"`` and ``"E"`` per subject.
    classes : subset of ``left_hand, right_hand, feet, tongue`` (order = label index).
    seed : simulator seed.
    """

    name = "synthetic_mi"
    version = "1"
    multilabel = False

    def __init__(
        self,
        n_subjects: int = 4,
        n_trials_per_class: int = 40,
        classes: list[str] = ("left_hand", "right_hand"),
        sessions: list[str] = ("T", "E"),
        sfreq: float = 250.0,
        include_eog: bool = True,
        seed: int = 0,
    ):
        _check_sim("SyntheticMI", n_subjects=n_subjects, n_trials_per_class=n_trials_per_class,
                   classes=classes, sessions=sessions, sfreq=sfreq, seed=seed)
        self.n_subjects = n_subjects
        self.n_trials_per_class = n_trials_per_class
        self.classes = list(classes)
        self.sessions = list(sessions)
        self.sfreq = sfreq
        self.include_eog = include_eog
        self.seed = seed

    def identity(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "n_subjects": self.n_subjects,
            "n_trials_per_class": self.n_trials_per_class,
            "classes": self.classes,
            "sessions": self.sessions,
            "sfreq": self.sfreq,
            "eog": self.include_eog,
            "seed": self.seed,
        }

    def records(self) -> list[dict]:
        return [
            {"record": f"s{s:02d}{sess}", "subject": s, "session": sess}
            for s in range(1, self.n_subjects + 1)
            for sess in self.sessions
        ]

    def load(self, ref: dict) -> Recording:
        return simulate_mi_session(
            ref["subject"],
            ref["session"],
            self.n_trials_per_class,
            tuple(self.classes),
            self.sfreq,
            self.include_eog,
            self.seed,
        )

    def default_windows(self):
        from biosig.signal.windows import EventWindows

        return EventWindows(tmin=0.0, tmax=4.0, mapping={c: i for i, c in enumerate(self.classes)})


class SyntheticECG(DatasetSource):
    """Built-in 12-lead ECG dataset (mV), multi-label superclasses NORM/MI/STTC/CD/HYP.

    Records are split into ten folds (``fold`` 1..10, as PTB-XL's ``strat_fold``).
    """

    name = "synthetic_ecg"
    version = "1"
    multilabel = True
    classes = list(ECG_CLASSES)

    def __init__(
        self,
        n_records: int = 200,
        duration: float = 10.0,
        sfreq: float = 100.0,
        noise: bool = True,
        seed: int = 0,
    ):
        _check_sim("SyntheticECG", n_records=n_records, duration=duration, sfreq=sfreq, seed=seed)
        self.n_records = n_records
        self.duration = duration
        self.sfreq = sfreq
        self.noise = noise
        self.seed = seed
        rng = np.random.default_rng([seed, 5])
        self._labels = [_draw_labels(rng) for _ in range(n_records)]

    def identity(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "n_records": self.n_records,
            "duration": self.duration,
            "sfreq": self.sfreq,
            "noise": self.noise,
            "seed": self.seed,
        }

    def records(self) -> list[dict]:
        return [
            {
                "record": f"r{i:05d}",
                "subject": i,
                "session": "1",
                "fold": i % 10 + 1,
                "labels": [ECG_CLASSES.index(c) for c in labs],
            }
            for i, labs in enumerate(self._labels)
        ]

    def load(self, ref: dict) -> Recording:
        i = int(ref["record"][1:])
        return simulate_ecg_record(
            self._labels[i], self.duration, self.sfreq, self.noise, seed=self.seed * 100_003 + i
        )

    def default_windows(self):
        from biosig.signal.windows import FixedWindows

        return FixedWindows(length=self.duration, stride=self.duration)


# ----------------------------------------------------------------------------------------------
# TUEV-like clinical EEG events
# ----------------------------------------------------------------------------------------------
#: TUEV's six event classes, in its label order (1..6).
TUEV_LIKE_CLASSES = ["spsw", "gped", "pled", "eyem", "artf", "bckg"]
_TUEV_ELECTRODES = [
    "FP1",
    "FP2",
    "F7",
    "F3",
    "FZ",
    "F4",
    "F8",
    "A1",
    "T3",
    "C3",
    "CZ",
    "C4",
    "T4",
    "A2",
    "T5",
    "P3",
    "PZ",
    "P4",
    "T6",
    "O1",
    "O2",
]


def _tuev_positions() -> np.ndarray:
    """Electrode positions (m) of the 21 TUEV electrodes, from MNE's standard 10-20 montage."""
    import warnings

    import mne

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # 'standard_1020' renamed in MNE 1.14
        pos = mne.channels.make_standard_montage("standard_1020").get_positions()["ch_pos"]
    lookup = {k.upper(): v for k, v in pos.items()}
    return np.stack([lookup[e] for e in _TUEV_ELECTRODES])


def _spread(pos, centre, width_m):
    return np.exp(-((pos - centre) ** 2).sum(1) / (2 * width_m**2))


def _sharp(t, t0, width_s, amp):
    """A biphasic sharp transient (fast negative peak then slower positive after-wave)."""
    spike = -amp * np.exp(-0.5 * ((t - t0) / (width_s / 2)) ** 2)
    wave = 0.45 * amp * np.exp(-0.5 * ((t - t0 - 2.5 * width_s) / (2 * width_s)) ** 2)
    return spike + wave


def _tuev_event(cls: str, x, t, pos, idx, rng, sfreq: float) -> None:
    """Add one event of class ``cls`` to the referential window ``x`` (in place)."""
    n = len(t)
    t_ev = 2.0 + rng.uniform(0.1, 0.9)
    if cls == "spsw":  # 1-3 focal spike-and-slow-wave complexes at ~3 Hz
        centre = pos[rng.integers(len(pos))]
        for j in range(rng.integers(1, 4)):
            x += np.outer(
                _spread(pos, centre, 0.04), _sharp(t, t_ev + j / 3.0, 0.04, rng.uniform(80, 150))
            )
    elif cls == "gped":  # generalized periodic sharp waves, 1-2.5 Hz
        period = 1.0 / rng.uniform(1.0, 2.5)
        w = 0.6 + 0.4 * _spread(pos, pos[idx["FZ"]], 0.08)
        for t0 in np.arange(rng.uniform(0, period), 5.0, period):
            x += np.outer(w, _sharp(t, t0, 0.08, rng.uniform(60, 110)))
    elif cls == "pled":  # lateralized periodic sharp waves, 0.5-1.5 Hz, one hemisphere
        side = pos[idx["T3"] if rng.random() < 0.5 else idx["T4"]]
        period = 1.0 / rng.uniform(0.5, 1.5)
        for t0 in np.arange(rng.uniform(0, period), 5.0, period):
            x += np.outer(_spread(pos, side, 0.05), _sharp(t, t0, 0.07, rng.uniform(60, 120)))
    elif cls == "eyem":  # frontal eye movement: blink (symmetric) or horizontal (F7/F8 opposite)
        dur = rng.uniform(0.3, 0.9)
        shape = np.exp(-0.5 * ((t - t_ev) / (dur / 3)) ** 2) * rng.uniform(80, 200)
        front = _spread(pos, (pos[idx["FP1"]] + pos[idx["FP2"]]) / 2, 0.035)
        if rng.random() < 0.5:
            x += np.outer(front, shape)
        else:
            lat = _spread(pos, pos[idx["F7"]], 0.03) - _spread(pos, pos[idx["F8"]], 0.03)
            x += np.outer(lat * rng.choice([-1, 1]), shape)
    elif cls == "artf":
        if rng.random() < 0.7:  # muscle: 20-70 Hz burst over temporal electrodes
            f = np.fft.rfftfreq(n, 1 / sfreq)
            spec = rng.standard_normal(len(f)) * ((f > 20) & (f < 70))
            burst = np.fft.irfft(spec * np.exp(2j * np.pi * rng.random(len(f))), n=n)
            burst *= np.exp(-0.5 * ((t - t_ev) / rng.uniform(0.3, 0.7)) ** 2)
            burst /= burst.std() + 1e-12
            site = pos[idx[rng.choice(["T3", "T4", "F7", "F8"])]]
            x += np.outer(_spread(pos, site, 0.04), 40.0 * burst)
        else:  # electrode pop: a step with exponential decay at one electrode
            e = rng.integers(len(pos))
            x[e] += (
                rng.choice([-1, 1])
                * rng.uniform(100, 250)
                * (t >= t_ev)
                * np.exp(-(t - t_ev).clip(0) / 0.3)
            )


def simulate_tuev_subject(
    subject: int, n_per_class: int = 20, sfreq: float = 200.0, seed: int = 0
) -> Recording:
    """One subject's TUEV-like recording: ``6 * n_per_class`` back-to-back 5-s windows in the
    22-channel TCP bipolar montage (µV), each annotated at its start with its class.

    A spatially smooth 1/f background with posterior alpha on 19 referential 10-20 electrodes
    (+ A1/A2), and one event per window in its middle second: focal spike-and-slow-wave
    complexes, generalized or lateralized periodic sharp waves, frontal eye movements, muscle
    bursts or electrode pops; background windows have none.
    """
    _check_sim("simulate_tuev_subject", subject=subject, n_per_class=n_per_class, sfreq=sfreq,
               seed=seed)
    from biosig.signal.montages import MONTAGES, bipolar_names

    pos = _tuev_positions()
    idx = {e: i for i, e in enumerate(_TUEV_ELECTRODES)}
    n = int(round(5.0 * sfreq))
    t = np.arange(n) / sfreq
    rng = np.random.default_rng([seed, subject])
    gain = rng.uniform(0.8, 1.25)
    alpha_f = rng.uniform(8.5, 11.0)
    order = rng.permutation(np.repeat(np.arange(6), n_per_class))
    n_el = len(_TUEV_ELECTRODES)
    occipital = _spread(pos, (pos[idx["O1"]] + pos[idx["O2"]]) / 2, 0.05)
    windows = []
    for label in order:
        bg = rng.normal(size=(n_el, 6)) @ pink_noise(rng, 6, n) / 2.5  # smooth, correlated
        x = 15.0 * (bg + 0.4 * pink_noise(rng, n_el, n))
        alpha = np.sin(2 * np.pi * (alpha_f + rng.normal(0, 0.2)) * t + rng.uniform(0, 2 * np.pi))
        x += 12.0 * np.outer(occipital, alpha)
        _tuev_event(TUEV_LIKE_CLASSES[label], x, t, pos, idx, rng, sfreq)
        x *= gain
        windows.append(np.stack([x[idx[a]] - x[idx[c]] for a, c in MONTAGES["tcp22"]]))
    names = bipolar_names("tcp22")
    ann = Annotations.from_lists(
        np.arange(len(order)) * 5.0,
        np.full(len(order), 5.0),
        np.asarray([TUEV_LIKE_CLASSES[k] for k in order], dtype=object),
    )
    return Recording(
        data=np.concatenate(windows, axis=1).astype(np.float32),
        sfreq=sfreq,
        ch_names=names,
        ch_types=["eeg"] * len(names),
        units=["uV"] * len(names),
        annotations=ann,
        meta={
            "format": "synthetic",
            "source": f"synthetic_tuev_s{subject:02d}",
            "subject": subject,
            "session": "1",
        },
    )


class SyntheticTUEV(DatasetSource):
    """Built-in TUEV-like 6-class EEG event data (22 TCP bipolar channels, 200 Hz, µV, 5-s
    windows); the last ``n_eval_subjects`` subjects form the ``split == "test"`` part (TUEV's
    official eval), the others ``"train"``. See :func:`simulate_tuev_subject`."""

    name = "synthetic_tuev"
    version = "1"
    multilabel = False
    classes = list(TUEV_LIKE_CLASSES)

    def __init__(
        self,
        n_subjects: int = 6,
        n_per_class: int = 20,
        sfreq: float = 200.0,
        n_eval_subjects: int = 2,
        seed: int = 0,
    ):
        _check_sim("SyntheticTUEV", n_subjects=n_subjects, n_per_class=n_per_class,
                   sfreq=sfreq, seed=seed)
        if not 0 < n_eval_subjects < n_subjects:
            raise ConfigError(f"n_eval_subjects must be in [1, n_subjects), got {n_eval_subjects}")
        self.n_subjects, self.n_per_class, self.sfreq = n_subjects, n_per_class, sfreq
        self.n_eval_subjects, self.seed = n_eval_subjects, seed

    def identity(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "n_subjects": self.n_subjects,
            "n_per_class": self.n_per_class,
            "sfreq": self.sfreq,
            "n_eval_subjects": self.n_eval_subjects,
            "seed": self.seed,
        }

    def records(self) -> list[dict]:
        first_eval = self.n_subjects - self.n_eval_subjects + 1
        return [
            {
                "record": f"s{s:02d}",
                "subject": s,
                "session": "1",
                "split": "test" if s >= first_eval else "train",
            }
            for s in range(1, self.n_subjects + 1)
        ]

    def load(self, ref: dict) -> Recording:
        return simulate_tuev_subject(ref["subject"], self.n_per_class, self.sfreq, self.seed)

    def default_windows(self):
        from biosig.signal.windows import EventWindows

        return EventWindows(
            tmin=0.0, tmax=5.0, mapping={c: i for i, c in enumerate(TUEV_LIKE_CLASSES)}
        )
