"""Helpers shared by the readers and writers: error wrapping, units, channel types."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from biosig.errors import BiosigError, InvalidFileError
from biosig.io._records import FileSamples
from biosig.signal.recording import Annotations, Recording

# --------------------------------------------------------------------------- files


def as_path(path: str | os.PathLike) -> Path:
    """``path`` as a :class:`~pathlib.Path` (``~`` expanded)."""
    return Path(os.fspath(path)).expanduser()


def check_file(path: Path, *, min_size: int = 1, what: str = "file") -> int:
    """Raise :class:`InvalidFileError` unless ``path`` is a readable file of ``min_size`` bytes.

    Returns the file size in bytes.
    """
    if not path.exists():
        raise InvalidFileError(path, f"{what} does not exist")
    if not path.is_file():
        raise InvalidFileError(path, f"{what} is not a regular file")
    size = path.stat().st_size
    if size == 0:
        raise InvalidFileError(path, f"{what} is empty (0 bytes)")
    if size < min_size:
        raise InvalidFileError(
            path, f"{what} is truncated: {size} bytes, a valid header alone needs {min_size}"
        )
    check_readable(path, what)
    return size


def check_readable(path: Path, what: str = "file") -> None:
    """Raise :class:`InvalidFileError` naming ``path`` when it cannot be opened for reading
    (permissions, a folder, an I/O error), instead of a bare ``OSError`` later."""
    try:
        with open(path, "rb") as fid:
            fid.read(1)
    except OSError as err:
        raise InvalidFileError(
            path, f"{what} cannot be read ({type(err).__name__}: {err.strerror or err})"
        ) from err


# --------------------------------------------------------------------------- plausibility

#: Sampling rates a reader accepts (Hz): 1 mHz (one sample per ~17 min) .. 1 MHz.
SFREQ_BOUNDS = (1e-3, 1e6)
#: Longest recording a reader accepts, in s (1e8 s, about 3.2 years).
MAX_DURATION_S = 1e8


def check_timing(path: Path, sfreqs, duration_s: float, what: str = "sampling rate") -> None:
    """Refuse physically implausible sampling rates and recording durations, naming the file:
    every rate must lie in :data:`SFREQ_BOUNDS` and the recording must last at most
    :data:`MAX_DURATION_S` seconds."""
    lo, hi = SFREQ_BOUNDS
    fs = np.atleast_1d(np.asarray(sfreqs, dtype=np.float64))
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(~((fs >= lo) & (fs <= hi)))  # NaN compares False
    if bad.size:
        raise InvalidFileError(
            path, f"{what} {fs[bad[0]]:g} Hz is outside the plausible range {lo:g} Hz .. {hi:g} Hz"
        )
    if not (np.isfinite(duration_s) and 0 < duration_s <= MAX_DURATION_S):
        raise InvalidFileError(
            path,
            f"recording duration {duration_s:g} s is outside the plausible range "
            f"(0, {MAX_DURATION_S:g}] s",
        )


class SignalHeaders:
    """The per-signal header of an EDF/BDF/GDF file (``256 * ns`` bytes after the 256-byte fixed
    header), stored field by field: a field of ``width`` bytes per signal starts at byte
    ``offset * ns`` and holds the ``ns`` signals' values one after the other."""

    def __init__(self, raw: bytes, ns: int):
        self.raw, self.ns = raw, ns

    @classmethod
    def read(cls, fid, path: Path, size: int, header_bytes: int, ns: int) -> SignalHeaders:
        """Read from ``fid`` (positioned after the fixed header), once the file is known to hold
        the whole header (``size`` bytes against ``header_bytes``)."""
        if size < header_bytes:
            raise InvalidFileError(
                path, f"file is truncated inside the header ({size} of {header_bytes} bytes)"
            )
        return cls(fid.read(256 * ns), ns)

    def field(self, offset: int, width: int) -> list[bytes]:
        """The raw bytes of one text field, one entry per signal."""
        base = offset * self.ns
        return [self.raw[base + i * width : base + (i + 1) * width] for i in range(self.ns)]

    def array(self, offset: int, dtype: str) -> np.ndarray:
        """One binary field (GDF), one value per signal."""
        return np.frombuffer(self.raw, dtype=dtype, count=self.ns, offset=offset * self.ns)


_NUMBER_TEXT = re.compile(r"[0-9+\-.eE \x14\x15]{0,30}|\s*[+-]?(?i:nan|inf|infinity)\s*")


def shown(text: str) -> str:
    """``text`` quoted for an error message only when it is a number (at most 30 characters of
    digits, sign, point, exponent, spaces, EDF+ TAL separators, that parse as one: ``1.5`` where
    an integer belongs, ``inf``). Other text (a header misaligned so that a patient name or a
    date such as ``02.03.51`` lands in a number field, a free-text annotation) is never quoted:
    only its length is given."""
    if _NUMBER_TEXT.fullmatch(text):
        try:
            float(text.strip(" \x14\x15"))
            return repr(text)
        except ValueError:
            pass
    return f"(text of {len(text)} characters, not shown)"


_QUOTED = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"")


def unquoted(message: str) -> str:
    """``message`` with its quoted text (``'...'``, ``"..."``) left out, but for format strings
    (holding ``%``): a third-party parser quotes the header text it failed on (``time data
    '31/12/1990' does not match format '%d/%m/%Y'``), which may be an identifier."""
    return _QUOTED.sub(lambda m: m.group(0) if "%" in m.group(0) else "'...'", message)


@contextlib.contextmanager
def wrap_errors(path: Path, what: str, *, quote: bool = True) -> Iterator[None]:
    """Turn any exception raised by a third-party reader into :class:`InvalidFileError`.

    biosig's own errors pass through unchanged; the original exception is kept as
    ``__cause__`` so the traceback still shows where the parser failed. ``quote=False``: the
    message leaves out what the parser quoted (:func:`unquoted`), and the parser's exception is
    not chained (a traceback would print its text), for parsers handed header text that may
    hold identifiers (WFDB comments, base date).
    """
    try:
        yield
    except BiosigError:
        raise
    except (KeyboardInterrupt, SystemExit):  # pragma: no cover - never swallow these
        raise
    except MemoryError as err:
        raise InvalidFileError(
            path, f"{what} failed: header asks for more memory than available"
        ) from err
    except Exception as err:  # noqa: BLE001 - every parser failure becomes a file error
        msg = str(err).strip().splitlines()[0] if str(err).strip() else ""
        if quote:
            raise InvalidFileError(
                path, f"{what} failed ({type(err).__name__}: {msg[:300]})"
            ) from err
        # not chained: the parser's own error quotes the header text a traceback would print
        raise InvalidFileError(
            path, f"{what} failed ({type(err).__name__}: {unquoted(msg)[:300]})"
        ) from None


@contextlib.contextmanager
def quiet_mne() -> Iterator[None]:
    """Silence MNE's info logging and the warnings it emits while parsing headers."""
    import mne

    with mne.utils.use_log_level("error"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


@contextlib.contextmanager
def quiet_wfdb() -> Iterator[None]:
    """Silence the pandas deprecation warnings wfdb 4.3 emits on import and while reading."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The inplace keyword")
        yield


# --------------------------------------------------------------------------- units

#: Voltage units and their factor to volts. Keys are normalised (see :func:`norm_unit`).
VOLT_FACTORS = {"nV": 1e-9, "uV": 1e-6, "mV": 1e-3, "V": 1.0, "kV": 1e3}

#: Unit inside a ``Recording`` for voltage channels of these types; voltage channels of other
#: types (misc, resp, bio...) keep the unit of the file.
TARGET_UNIT = {
    "ecg": "mV",
    "eeg": "uV",
    "eog": "uV",
    "emg": "uV",
    "seeg": "uV",
    "ecog": "uV",
    "dbs": "uV",
}


@functools.lru_cache(maxsize=1024)
def norm_unit(unit: str) -> str:
    """Normalise a unit string: ``µV``/``μV``/``uv`` -> ``uV``; unknown units are stripped only."""
    u = (unit or "").strip()
    u2 = u.replace("\u00b5", "u").replace("\u03bc", "u").replace("\x83\xca", "u")
    low = u2.lower()
    table = {"nv": "nV", "uv": "uV", "mv": "mV", "v": "V", "kv": "kV", "volt": "V", "volts": "V"}
    return table.get(low, u)


def shown_units(units) -> str:
    """Units for an error message: voltage units by name; any other unit field (header text,
    which may hold anything) only counted."""
    known = sorted({u for u in units if u in VOLT_FACTORS})
    other = len({u for u in units if u not in VOLT_FACTORS})
    hidden = f"{other} other unit text{'s' if other > 1 else ''} (not shown)" if other else ""
    return ", ".join([*known, *([hidden] if hidden else [])])


def is_voltage(unit: str) -> bool:
    return norm_unit(unit) in VOLT_FACTORS


def target_unit(ch_type: str, unit: str) -> str:
    """The unit a channel of ``ch_type`` is stored in: ECG mV, EEG/EOG/EMG µV, else as is."""
    u = norm_unit(unit)
    if u not in VOLT_FACTORS:
        return u
    return TARGET_UNIT.get(ch_type, u)


def convert_factor(from_unit: str, to_unit: str) -> float:
    """Multiplicative factor from ``from_unit`` to ``to_unit`` (1 for equal non-voltage units)."""
    f, t = norm_unit(from_unit), norm_unit(to_unit)
    if f == t:
        return 1.0
    if f in VOLT_FACTORS and t in VOLT_FACTORS:
        return VOLT_FACTORS[f] / VOLT_FACTORS[t]
    raise ValueError(f"cannot convert {from_unit!r} to {to_unit!r}")


# --------------------------------------------------------------------------- channel types

#: EDF+ label prefixes (``"EEG Fp1-Ref"``) -> channel type, as in the EDF+ specification / MNE.
PREFIX_TYPES = {
    "EEG": "eeg",
    "SEEG": "seeg",
    "ECOG": "ecog",
    "DBS": "dbs",
    "EOG": "eog",
    "ECG": "ecg",
    "EKG": "ecg",
    "EMG": "emg",
    "BIO": "bio",
    "RESP": "resp",
    "TEMP": "temperature",
    "MISC": "misc",
    "SAO2": "bio",
    "SPO2": "bio",
    "STIM": "stim",
    "POL": "misc",
}

_ECG_LEAD = re.compile(
    r"^(i|ii|iii|avr|avl|avf|-avr|v[1-9]r?|v[xyz]|ml(i|ii|iii)|ml[1-3]|mv[1-6]|mcl[1-6]"
    r"|cm[1-6]|d[1-3]|lead\s*(i|ii|iii|v[1-6])|ecg\S*|ekg\S*)$",
    re.IGNORECASE,
)
_ELECTRODE = r"(?:n|fp|af|f|ft|fc|c|t|tp|cp|p|po|o|i|a|m)(?:z|10|[1-9])"
_EEG_NAME = re.compile(
    rf"^{_ELECTRODE}(?:\s*-\s*(?:{_ELECTRODE}|ref|avg|ave|ar|le|cz))?\.*$", re.IGNORECASE
)
_KEYWORDS = (
    (re.compile(r"ecg|ekg", re.I), "ecg"),
    (re.compile(r"eog|^[hv]eog|^loc\b|^roc\b", re.I), "eog"),
    (re.compile(r"emg|chin", re.I), "emg"),
    (re.compile(r"^(status|trigger|sti\s*\d*|stim)$", re.I), "stim"),
    (re.compile(r"resp|thor|abdo|airflow|flow", re.I), "resp"),
    (re.compile(r"sa?o2|spo2|pleth", re.I), "bio"),
    (re.compile(r"temp", re.I), "temperature"),
    (re.compile(r"^(abp|art|ap|pap|cvp|icp|bp|nbp)\b", re.I), "misc"),
)


#: The channel types the EDF/BDF, GDF and WFDB readers give, and all ``ch_types`` may ask for
#: (MNE's names for them).
CH_TYPES = tuple(sorted({*PREFIX_TYPES.values(), *(kind for _, kind in _KEYWORDS)}))


@functools.lru_cache(maxsize=4096)  # a corpus repeats its labels in every file
def infer_ch_type(name: str, unit: str, *, default_voltage: str, ecg_leads: bool) -> str:
    """Guess a channel type from its label and unit.

    Order: an EDF+ type prefix (``"ECG ECG1"``), a standard ECG lead name when ``ecg_leads``
    (WFDB), a keyword (ECG/EOG/EMG/resp/SpO2/status...), a 10-10 electrode name (``C3``,
    ``Fpz-Cz``) or an ``EEG`` label for EEG, then ``default_voltage`` for voltage
    channels and ``"misc"`` for everything else.
    """
    label = name.strip()
    head, _, rest = label.partition(" ")
    if rest and head.upper() in PREFIX_TYPES:
        # an "EEG" prefix is generic in some exports (TUH: "EEG EKG1-REF", "EEG PHOTIC-REF"):
        # a keyword in the rest of the label wins over it
        if head.upper() == "EEG":
            for pattern, kind in _KEYWORDS:
                if pattern.search(rest):
                    return kind
        return PREFIX_TYPES[head.upper()]
    if ecg_leads and _ECG_LEAD.match(label):
        return "ecg"
    for pattern, kind in _KEYWORDS:
        if pattern.search(label):
            return kind
    if label.upper().startswith("EEG") or _EEG_NAME.match(label):
        return "eeg"
    return default_voltage if is_voltage(unit) else "misc"


def resolve_ch_types(
    names: list[str],
    units: list[str],
    ch_types: Mapping[str, str] | None,
    *,
    default_voltage: str,
    ecg_leads: bool,
    path: Path,
    labels: list[str] | None = None,
) -> list[str]:
    """Inferred types with the caller's overrides (``{name: type}``, a type of :data:`CH_TYPES`
    in any case) applied. ``labels``: the header labels the types are inferred from when the
    names differ from them (a repeated label made unique, ``I`` -> ``I-1``, keeps the type of
    ``I``); default ``names``."""
    types = [
        infer_ch_type(n, u, default_voltage=default_voltage, ecg_leads=ecg_leads)
        for n, u in zip(names if labels is None else labels, units)
    ]
    if ch_types:
        from biosig.errors import ChannelError

        unknown = [k for k in ch_types if k not in names]
        if unknown:
            raise ChannelError(f"ch_types names channels {unknown} that {path.name} does not have")
        bad = {k: v for k, v in ch_types.items() if str(v).lower() not in CH_TYPES}
        if bad:
            raise ChannelError(
                f"ch_types gives unknown channel types {bad} (reading {path.name}); "
                f"the types are {list(CH_TYPES)}"
            )
        for i, n in enumerate(names):
            if n in ch_types:
                types[i] = str(ch_types[n]).lower()
    return types


def to_target_units(
    data: np.ndarray, units: list[str], types: list[str]
) -> tuple[np.ndarray, list[str]]:
    """Scale each row of ``data`` (in ``units``) to the Recording convention (ECG mV, EEG µV)."""
    out_units = []
    data = np.asarray(data)
    if data.dtype not in (np.float32, np.float64):
        data = data.astype(np.float64)
    for i, (u, t) in enumerate(zip(units, types)):
        tu = target_unit(t, u)
        f = convert_factor(u, tu)
        if f != 1.0:
            data[i] *= f
        out_units.append(tu)
    return data, out_units


def unit_factors(units: list[str], types: list[str]) -> tuple[list[float], list[str]]:
    """Per channel: the factor from the file unit to the Recording unit, and that unit."""
    out_units = [target_unit(t, u) for u, t in zip(units, types)]
    return [convert_factor(u, tu) for u, tu in zip(units, out_units)], out_units


def onsets_outside(onset, length: float, sfreq: float) -> tuple[np.ndarray, str]:
    """The indices of the annotation ``onset`` values outside the recording, ``[0, length]`` s
    with half a sample of slack, and their listing (``"#0 at -2 s, #3 at 25 s"``, the first
    five: numbers and onsets, never the text, which may hold a name)."""
    onset = np.asarray(onset, dtype=float)
    bad = np.flatnonzero((onset < -0.5 / sfreq) | (onset > length + 0.5 / sfreq))
    shown = ", ".join(f"#{i} at {onset[i]:.6g} s" for i in bad[:5])
    return bad, shown + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")


def drop_onsets_outside(path: Path, onset, duration, desc, length: float, sfreq: float,
                        what: str):
    """``(onset, duration, desc)`` of the annotations whose onset lies in the recording
    (:func:`onsets_outside`); the others (``what``: ``"EDF+ annotation"``, ``"GDF event"``...)
    are dropped with a warning naming the file, each one's number in the file and its onset,
    as MNE drops them."""
    bad, listed = onsets_outside(onset, length, sfreq)
    if not len(bad):
        return onset, duration, desc
    warnings.warn(f"{path}: {len(bad)} {what}(s) with an onset outside the recording "
                  f"(0 to {length:.6g} s) dropped: {listed} (numbered from 0 in the file's "
                  "order); no window is cut from them", RuntimeWarning, stacklevel=3)
    keep = np.setdiff1d(np.arange(len(onset)), bad)
    return (np.asarray(onset, float)[keep], np.asarray(duration, float)[keep],
            [desc[i] for i in keep])


def count_nonfinite(data: np.ndarray) -> tuple[int, int]:
    """``(n_nan, n_inf)`` of an array (count them on the float32 data a Recording holds: a
    finite float64 beyond the float32 range becomes inf there)."""
    with np.errstate(invalid="ignore"):
        if data.dtype == np.float32 and np.isfinite(data.sum(dtype=np.float64)):
            return 0, 0  # a float64 sum of finite float32 values cannot overflow
    return int(np.isnan(data).sum()), int(np.isinf(data).sum())


def build_recording(
    path: Path,
    data: np.ndarray,
    sfreq: float,
    names: list[str],
    units: list[str],
    ch_types: Mapping[str, str] | None,
    annotations: Annotations,
    meta: dict,
    *,
    default_voltage: str,
    labels: list[str] | None = None,
) -> Recording:
    """The Recording of physical ``data`` in ``units``: channel types (inferred from ``labels``,
    default ``names``, voltage channels of no known kind taken as ``default_voltage``, then the
    caller's overrides), Recording units (EEG µV, ECG mV), ``n_nan``/``n_inf`` appended to
    ``meta``."""
    types = resolve_ch_types(
        names, units, ch_types, default_voltage=default_voltage, ecg_leads=True, path=path,
        labels=labels,
    )
    data, out_units = to_target_units(data, units, types)
    return make_recording(data, sfreq, names, types, out_units, annotations, meta)


def make_recording(
    data: np.ndarray,
    sfreq: float,
    names: list[str],
    types: list[str],
    units: list[str],
    annotations: Annotations,
    meta: dict,
    *,
    nonfinite: tuple[int, int] | None = None,
) -> Recording:
    """The Recording of ``data`` already in Recording units, cast to float32 first so that
    ``meta["n_nan"]``/``meta["n_inf"]`` count what the Recording holds (``nonfinite``: those
    counts when the caller knows them without a scan). ``data`` may be a file's undecoded
    samples (:class:`~biosig.io._records.FileSamples`, with ``nonfinite`` given)."""
    digital = None
    if isinstance(data, FileSamples):
        if nonfinite is None:
            raise ValueError("undecoded samples need their non-finite counts")
        data, digital = None, data
    else:
        data = np.asarray(data, dtype=np.float32)
    n_nan, n_inf = count_nonfinite(data) if nonfinite is None else nonfinite
    return Recording(
        data=data,
        digital=digital,
        sfreq=sfreq,
        ch_names=names,
        ch_types=types,
        units=units,
        annotations=annotations,
        meta={**meta, "n_nan": n_nan, "n_inf": n_inf},
    )
