"""Writers: EDF+ (via edfio), GDF 1.25 / 2.x (own implementation) and WFDB (via wfdb).

The built-in simulator and the tests use these to produce real files, so every reader is
exercised exactly as on recorded data. Writers store no patient or recording
identification: EDF+ patient/recording fields are ``X`` (anonymous), GDF patient fields are
zero, and the start date is a fixed dummy (EDF+ ``01-JAN-1985``; GDF "unknown").

Signals are taken in the units :class:`Recording` uses (EEG µV, ECG mV) and written with
that physical dimension, so reading them back gives the same values to within the 16-bit
quantisation step ``(physical range) / 65535``.
"""

from __future__ import annotations

import os
import struct
from fractions import Fraction
from pathlib import Path

import numpy as np

from biosig.errors import BiosigError, InvalidFileError
from biosig.io._util import as_path, norm_unit, onsets_outside, quiet_wfdb
from biosig.io.gdf import code_from_unit
from biosig.signal.recording import Recording

__all__ = ["write_edf", "write_gdf", "write_wfdb", "events_from_annotations"]


def _write_atomically(path: Path, write) -> Path:
    """``write(tmp)`` into a temporary file beside ``path``, then renamed onto it: a failed or
    killed write never leaves a half-written file under the target's name. A target that is a
    folder, or a place that cannot be written, is an :class:`InvalidFileError` naming it."""
    if path.is_dir():
        raise InvalidFileError(path, "is a folder; give a file name to write")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        os.replace(tmp, path)
    except OSError as err:
        raise InvalidFileError(path, f"cannot be written ({err.strerror or err})") from None
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass  # the error above says what went wrong
    return path


def _check_recording(rec: Recording, path: Path, fmt: str, *, allow_nan: bool = False) -> None:
    if not isinstance(rec, Recording):
        raise TypeError(f"expected a biosig Recording, got {type(rec).__name__}")
    if rec.n_times == 0 or rec.n_chans == 0:
        raise InvalidFileError(path, f"cannot write an empty recording ({rec.data.shape}) as {fmt}")
    n_inf = int(np.isinf(rec.data).sum())
    n_nan = int(np.isnan(rec.data).sum())
    if n_inf or (n_nan and not allow_nan):
        raise InvalidFileError(
            path, f"recording holds {n_nan} NaN and {n_inf} inf samples; {fmt} cannot store them"
        )
    length = rec.n_times / rec.sfreq
    outside, listed = onsets_outside(rec.annotations.onset, length, rec.sfreq)
    if len(outside):  # a reader drops them (MNE and biosig's EDF reader): refuse, never lose
        raise InvalidFileError(
            path, f"{len(outside)} annotation(s) start outside the recording (0 to {length:g} s): "
            f"{listed}; drop or shift them (Recording.annotations) before writing {fmt}")


def _check_text(path: Path, what: str, values, width: int, fmt: str) -> None:
    """EDF/GDF header text must be printable ASCII of at most ``width`` characters."""
    for v in values:
        if len(v) > width or not (v.isascii() and v.isprintable()):
            raise InvalidFileError(
                path,
                f"{what} {v!r} cannot be stored in {fmt} (printable ASCII, at most {width} "
                "characters); rename it first",
            )


def _ascii_unit(unit: str) -> str:
    u = norm_unit(unit)
    return u.encode("ascii", "replace").decode("ascii")


def _physical_range(x: np.ndarray) -> tuple[float, float]:
    """A (min, max) covering ``x`` that prints in EDF's 8 characters without losing the data."""
    finite = x[np.isfinite(x)]
    lo = float(finite.min()) if finite.size else -1.0
    hi = float(finite.max()) if finite.size else 1.0
    if hi - lo < 1e-6 * max(1.0, abs(hi), abs(lo)):
        lo, hi = lo - 1.0, hi + 1.0
    return _round_out(lo, floor=True), _round_out(hi, floor=False)


def _round_out(v: float, *, floor: bool) -> float:
    """Round ``v`` outwards to a value whose text fits in 8 characters.

    At most 4 decimals: edfio prints the value with ``str()``, which switches to exponent
    notation below 1e-4 and then no longer fits the 8-character field.
    """
    for decimals in range(4, -1, -1):
        scale = 10.0**decimals
        r = (np.floor(v * scale) if floor else np.ceil(v * scale)) / scale
        text = f"{r:.{decimals}f}".rstrip("0").rstrip(".") if decimals else f"{r:.0f}"
        if len(text) <= 8:
            return float(text)
    raise BiosigError(
        f"value {v:g} does not fit EDF's 8-character physical range; rescale the signal "
        "or write GDF"
    )


# --------------------------------------------------------------------------- EDF


def write_edf(
    path: str | os.PathLike, rec: Recording, *, record_duration: float | None = None
) -> Path:
    """Write ``rec`` as an EDF+C file with its annotations (via ``edfio``).

    Parameters
    ----------
    path : target ``.edf`` file (replaced atomically: written beside it, then renamed).
    rec : the recording; signals in their ``rec.units`` (EEG µV, ECG mV).
    record_duration : data-record length in s; default 1 s when the recording is a whole
        number of seconds, else the whole recording in one record.

    Returns the path. Patient and recording identification are written as anonymous ``X``.
    """
    import datetime

    import edfio

    path = as_path(path)
    _check_recording(rec, path, "EDF")
    if record_duration is None:
        n_per_s = rec.sfreq
        whole = abs(n_per_s - round(n_per_s)) < 1e-9 and rec.n_times % int(round(n_per_s)) == 0
        record_duration = 1.0 if whole else rec.n_times / rec.sfreq
    units = [_ascii_unit(u) for u in rec.units]
    _check_text(path, "channel name", rec.ch_names, 16, "EDF")
    _check_text(path, "unit", units, 8, "EDF")
    signals = []
    for i, name in enumerate(rec.ch_names):
        x = rec.data[i].astype(np.float64)
        signals.append(
            edfio.EdfSignal(
                x,
                sampling_frequency=rec.sfreq,
                label=name,
                physical_dimension=units[i],
                physical_range=_physical_range(x),
            )
        )
    ann = rec.annotations
    annotations = [
        edfio.EdfAnnotation(float(o), float(d) if d > 0 else None, str(t))
        for o, d, t in zip(ann.onset, ann.duration, ann.description)
    ]
    edf = edfio.Edf(
        signals,
        patient=edfio.Patient(),
        recording=edfio.Recording(startdate=datetime.date(1985, 1, 1)),
        starttime=datetime.time(0, 0, 0),
        data_record_duration=record_duration,
        annotations=annotations,
    )
    return _write_atomically(path, edf.write)


# --------------------------------------------------------------------------- GDF


def events_from_annotations(
    rec: Recording, event_codes: dict[str, int] | None = None, *, path: Path | None = None
) -> np.ndarray:
    """GDF events ``(n, 3)`` int array ``[position (0-based sample), duration (samples), type]``.

    Descriptions are mapped with ``event_codes`` when given, else they must be integer
    codes (``"769"``). Unmapped descriptions raise :class:`BiosigError` listing them all
    (:class:`InvalidFileError` naming ``path``, the file being written, when given).
    """
    ann = rec.annotations
    codes = dict(event_codes or {})
    unmapped = []
    for desc in dict.fromkeys(str(d) for d in ann.description):
        if desc not in codes:
            try:
                codes[desc] = int(desc)
            except ValueError:
                unmapped.append(desc)
    if unmapped:
        reason = (
            f"annotation(s) {', '.join(map(repr, unmapped))} are not integer GDF event codes "
            "and not in event_codes; pass event_codes={description: code} for each"
        )
        raise BiosigError(reason) if path is None else InvalidFileError(path, reason)
    rows = [
        (int(round(o * rec.sfreq)), int(round(d * rec.sfreq)), int(codes[str(desc)]))
        for o, d, desc in zip(ann.onset, ann.duration, ann.description)
    ]
    return np.asarray(rows, dtype=np.int64).reshape(-1, 3)


def _gdf_record_layout(sfreq: float, n_times: int) -> tuple[int, int, int]:
    """(samples per record, duration numerator, denominator) such that records tile n_times."""
    fs = Fraction(sfreq).limit_denominator(1_000_000)
    if abs(float(fs) - sfreq) > 1e-9 * sfreq:
        raise BiosigError(f"sampling rate {sfreq} Hz cannot be written as a GDF rational duration")
    spr = 1
    if fs.denominator == 1:
        spr = int(np.gcd(n_times, fs.numerator))
    dur = Fraction(spr) / fs  # seconds per record
    if dur.numerator >= 2**32 or dur.denominator >= 2**32:
        raise BiosigError(
            f"sampling rate {sfreq} Hz gives a record duration {dur} GDF cannot store"
        )
    return spr, dur.numerator, dur.denominator


def write_gdf(
    path: str | os.PathLike,
    rec: Recording,
    events: np.ndarray | None = None,
    *,
    event_codes: dict[str, int] | None = None,
    version: str = "2.20",
    dtype: str = "int16",
    event_channels: np.ndarray | None = None,
) -> Path:
    """Write ``rec`` as a GDF file with an event table (own implementation of the GDF spec).

    Parameters
    ----------
    path : target ``.gdf`` file (overwritten).
    rec : the recording; signals in their ``rec.units`` (EEG µV, ECG mV).
    events : ``(n, 3)`` ints ``[position (0-based sample), duration (samples), type code]``;
        default: from ``rec.annotations`` (see :func:`events_from_annotations`).
    event_codes : ``{description: code}`` used when ``events`` is None (e.g.
        ``{"left_hand": 769}``). GDF stores the codes only: read the names back with
        ``read_gdf(path, event_names={v: k for k, v in event_codes.items()})``.
    version : ``"2.20"`` (default), ``"2.10"`` or ``"1.25"``.
    dtype : ``"int16"`` (quantised with a per-channel physical range) or ``"float32"``.
    event_channels : optional channel number per event (0 = all channels), mode 3 only.

    Notes
    -----
    The event table uses mode 1 (position, type) when all durations are 0 and no channels
    are given, else mode 3 (position, type, channel, duration). Positions are stored 1-based
    as the specification requires; the event sampling rate is ``rec.sfreq``. The
    fixed header's patient fields and dates are zero ("unknown"). No header 3 (TLV) is
    written, so MNE reads the file.

    References
    ----------
    Schlögl A. GDF - A general dataformat for biosignals, version 2.x. arXiv:cs/0608052.
    """
    path = as_path(path)
    if version not in ("1.25", "2.10", "2.20"):
        raise BiosigError(f"GDF version {version!r} not supported; use '1.25', '2.10' or '2.20'")
    type_code = {"int16": 3, "float32": 16}.get(dtype)
    if type_code is None:
        raise BiosigError(f"dtype {dtype!r} not supported; use 'int16' or 'float32'")
    _check_recording(rec, path, f"GDF ({dtype})", allow_nan=dtype == "float32")
    if events is None:
        events = events_from_annotations(rec, event_codes, path=path)
    events = np.asarray(events, dtype=np.int64).reshape(-1, 3)
    if len(events) and (events[:, 0].min() < 0 or events[:, 0].max() >= 2**32 - 1):
        raise BiosigError("event positions must be in [0, 2**32 - 2]")
    if len(events) and (events[:, 2].min() < 0 or events[:, 2].max() > 65535):
        raise BiosigError("GDF event type codes must be in [0, 65535]")
    if len(events) and events[:, 1].min() < 0:
        raise BiosigError("event durations must be >= 0")
    length = rec.n_times / rec.sfreq
    outside, listed = onsets_outside(events[:, 0] / rec.sfreq, length, rec.sfreq)
    if len(outside):  # read_gdf drops them: refuse, never lose (as _check_recording)
        raise InvalidFileError(
            path, f"{len(outside)} event(s) positioned past the end of the recording (0 to "
            f"{length:g} s): {listed}; drop or shift them before writing GDF")
    if len(events) >= 2**24:
        raise BiosigError("GDF 2.x stores at most 2**24 - 1 events")

    ns, n_times = rec.n_chans, rec.n_times
    v1 = version.startswith("1.")
    _check_text(path, "channel name", rec.ch_names, 16, "GDF")
    if v1:
        _check_text(path, "unit", [_ascii_unit(u) for u in rec.units], 8, "GDF 1.x")
    spr, dnum, dden = _gdf_record_layout(rec.sfreq, n_times)
    n_records = n_times // spr

    x = rec.data.astype(np.float64)
    if dtype == "int16":
        dig_min, dig_max = -32768.0, 32767.0
        pmin = np.empty(ns)
        pmax = np.empty(ns)
        for i in range(ns):
            lo, hi = float(x[i].min()), float(x[i].max())
            if hi - lo < 1e-12 * max(1.0, abs(hi), abs(lo)):
                lo, hi = lo - 1.0, hi + 1.0
            pmin[i], pmax[i] = lo, hi
        gain = (dig_max - dig_min) / (pmax - pmin)
        digital = np.rint((x - pmin[:, None]) * gain[:, None] + dig_min)
        samples = np.clip(digital, dig_min, dig_max).astype("<i2")
        dmin_arr, dmax_arr = np.full(ns, dig_min), np.full(ns, dig_max)
    else:
        finite = np.where(np.isfinite(x), x, 0.0)
        pmin, pmax = finite.min(1) - 1.0, finite.max(1) + 1.0
        dmin_arr, dmax_arr = pmin.copy(), pmax.copy()
        samples = x.astype("<f4")

    header_bytes = 256 * (ns + 1)
    fixed = bytearray(256)
    fixed[0:8] = f"GDF {version}".encode("ascii")
    if v1:
        struct.pack_into("<q", fixed, 184, header_bytes)
        struct.pack_into("<q", fixed, 236, n_records)
        struct.pack_into("<II", fixed, 244, dnum, dden)
        struct.pack_into("<I", fixed, 252, ns)
        # patient id (8..88), recording id (88..168), start date (168..184) left blank/zero
        fixed[8:88] = b"X X".ljust(80, b" ")
        fixed[88:168] = b"X".ljust(80, b" ")
    else:
        fixed[8:74] = b"X X".ljust(66, b" ")
        struct.pack_into("<H", fixed, 184, header_bytes // 256)
        struct.pack_into("<q", fixed, 236, n_records)
        struct.pack_into("<II", fixed, 244, dnum, dden)
        struct.pack_into("<H", fixed, 252, ns)

    var = bytearray(256 * ns)

    def put_text(offset: int, width: int, i: int, text: str) -> None:
        raw = text.encode("latin-1", "replace")[:width]
        start = offset * ns + i * width
        var[start : start + width] = raw.ljust(width, b"\x00" if not v1 else b" ")

    def put_arr(offset: int, fmt: str, values) -> None:
        arr = np.asarray(values, dtype=fmt)
        var[offset * ns : offset * ns + arr.nbytes] = arr.tobytes()

    for i, name in enumerate(rec.ch_names):
        put_text(0, 16, i, name)
    if v1:
        for i, u in enumerate(rec.units):
            put_text(96, 8, i, _ascii_unit(u))
        put_arr(104, "<f8", pmin)
        put_arr(112, "<f8", pmax)
        put_arr(120, "<i8", dmin_arr.astype(np.int64) if dtype == "int16" else np.floor(dmin_arr))
        put_arr(128, "<i8", dmax_arr.astype(np.int64) if dtype == "int16" else np.ceil(dmax_arr))
        if dtype != "int16":
            # GDF 1.x stores integer digital ranges: make them equal to the physical range
            pmin, pmax = np.floor(dmin_arr), np.ceil(dmax_arr)
            put_arr(104, "<f8", pmin)
            put_arr(112, "<f8", pmax)
        for i in range(ns):
            put_text(136, 80, i, "")
        put_arr(216, "<i4", np.full(ns, spr))
        put_arr(220, "<i4", np.full(ns, type_code))
    else:
        for i, u in enumerate(rec.units):
            put_text(96, 6, i, _ascii_unit(u)[:6])
        put_arr(102, "<u2", [code_from_unit(u) for u in rec.units])
        put_arr(104, "<f8", pmin)
        put_arr(112, "<f8", pmax)
        put_arr(120, "<f8", dmin_arr)
        put_arr(128, "<f8", dmax_arr)
        put_arr(204, "<f4", np.full(ns, np.nan))  # lowpass unknown
        put_arr(208, "<f4", np.full(ns, np.nan))  # highpass unknown
        put_arr(212, "<f4", np.full(ns, np.nan))  # notch unknown
        put_arr(216, "<i4", np.full(ns, spr))
        put_arr(220, "<i4", np.full(ns, type_code))
        if version == "2.10":
            put_arr(236, "<u1", np.full(ns, 255))  # impedance unknown

    # data records: record r holds spr samples of channel 0, then channel 1, ...
    body = samples.reshape(ns, n_records, spr).transpose(1, 0, 2)

    n_ev = len(events)
    mode = 1 if (n_ev == 0 or (not events[:, 1].any() and event_channels is None)) else 3
    table = bytearray(8)
    table[0] = mode
    if v1:
        sr = int(round(rec.sfreq))
        if abs(sr - rec.sfreq) > 1e-9 and n_ev:
            raise BiosigError(
                f"{path}: GDF 1.x stores an integer event rate; {rec.sfreq} Hz would move "
                "the events (write version 2.x)"
            )
        table[1:4] = sr.to_bytes(3, "little")
        struct.pack_into("<I", table, 4, n_ev)
    else:
        table[1:4] = n_ev.to_bytes(3, "little")
        struct.pack_into("<f", table, 4, float(rec.sfreq))
    table += (events[:, 0] + 1).astype("<u4").tobytes()
    table += events[:, 2].astype("<u2").tobytes()
    if mode == 3:
        chn = np.zeros(n_ev) if event_channels is None else np.asarray(event_channels)
        table += chn.astype("<u2").tobytes()
        table += events[:, 1].astype("<u4").tobytes()

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fid:
            fid.write(fixed)
            fid.write(var)
            fid.write(np.ascontiguousarray(body).tobytes())
            fid.write(table)

    return _write_atomically(path, write)


# --------------------------------------------------------------------------- WFDB


#: WFDB annotation symbols that are beat or event codes (written as such); anything else
#: is written as a comment annotation ('"') with the description in aux_note.
def _wfdb_symbols() -> set[str]:
    with quiet_wfdb():
        import wfdb.io.annotation as wann

    return set(wann.ann_label_table["symbol"].tolist()) - {'"', "+"}


def _wfdb_annotations(rec: Recording, ann_path: Path) -> tuple[np.ndarray, list, list]:
    """``(sample, symbol, aux_note)`` of ``rec.annotations`` sorted by sample, checked before
    anything is written: every description must come back from :func:`read_wfdb` as it is."""
    ann = rec.annotations
    sample = np.rint(ann.onset * rec.sfreq).astype(np.int64)
    if len(sample) and sample.min() < 0:
        raise InvalidFileError(
            ann_path, "annotations before the recording start cannot be written to WFDB"
        )
    order = np.argsort(sample, kind="stable")
    sample = sample[order]
    symbols_ok = _wfdb_symbols()
    symbols, aux = [], []
    for t, d in zip(sample, ann.description[order]):
        d = str(d)
        if d in symbols_ok:
            symbols.append(d)
            aux.append("")
            continue
        if (
            not d
            or d != d.strip()
            or len(d) > 255
            or "\x00" in d
            or "## " in d
            or any(ord(c) > 255 for c in d)
        ):
            raise InvalidFileError(
                ann_path,
                f"annotation {d[:60]!r} at {t / rec.sfreq:g} s cannot be stored in a WFDB "
                "aux_note (1-255 Latin-1 characters, no NUL, no '## ', no leading or trailing "
                "space); rename it first",
            )
        # wfdb.rdann takes every comment annotation at sample 0 for a file-definition note
        # ("## time resolution: ...") and drops it: write those as rhythm-change ('+')
        # annotations, whose aux_note read_wfdb reads back as the description just the same.
        symbols.append("+" if t == 0 else '"')
        aux.append(d)
    return sample, symbols, aux


def write_wfdb(
    directory: str | os.PathLike,
    record_name: str,
    rec: Recording,
    *,
    fmt: str = "16",
    annotation_ext: str = "atr",
) -> Path:
    """Write ``rec`` as a WFDB record ``<directory>/<record_name>.hea/.dat`` (via ``wfdb.wrsamp``).

    Signals are written in ``rec.units`` (ECG mV) with a per-channel ADC gain chosen by
    wfdb; NaN samples become WFDB invalid samples (and read back as NaN). Annotations, if
    any, go to ``<record_name>.<annotation_ext>``: descriptions that are WFDB symbols
    (``N``, ``V``...) as such, others as comment annotations (``"``) with the text in
    ``aux_note`` (at sample 0 as rhythm-change annotations, ``+``: wfdb's reader drops a
    comment at sample 0). :func:`read_wfdb` reads every one back with its description and
    its onset rounded to the nearest sample; WFDB annotations have no duration, so
    durations read back as 0. No header comments are written. Returns the header path.

    Raises
    ------
    InvalidFileError
        Naming the file, before anything is written: an annotation before the recording
        start, or a description an ``aux_note`` cannot hold (empty, over 255 characters,
        not Latin-1, with a NUL, ``"## "`` or leading/trailing space); channel names or
        units WFDB cannot store.
    """
    with quiet_wfdb():
        import wfdb

    directory = as_path(directory)
    hea = directory / f"{record_name}.hea"
    _check_recording(rec, hea, "WFDB", allow_nan=True)
    if not record_name or any(c in record_name for c in "/\\ .") or not record_name.isascii():
        raise BiosigError(f"invalid WFDB record name {record_name!r}")
    names = list(rec.ch_names)
    _check_text(hea, "channel name", names, 200, "WFDB")
    units = [_ascii_unit(u) or "NU" for u in rec.units]
    _check_text(hea, "unit", units, 30, "WFDB")
    if any(" " in u for u in units):
        raise InvalidFileError(hea, f"WFDB units cannot contain spaces: {units}")
    ann_path = directory / f"{record_name}.{annotation_ext}"
    sample, symbols, aux = _wfdb_annotations(rec, ann_path)
    directory.mkdir(parents=True, exist_ok=True)
    with quiet_wfdb():
        wfdb.wrsamp(
            record_name,
            fs=rec.sfreq,
            units=units,
            sig_name=names,
            p_signal=rec.data.T.astype(np.float64),
            fmt=[fmt] * rec.n_chans,
            write_dir=str(directory),
        )
    if len(sample):
        with quiet_wfdb():
            wfdb.wrann(
                record_name,
                annotation_ext,
                sample=sample,
                symbol=symbols,
                aux_note=aux,
                fs=rec.sfreq,
                write_dir=str(directory),
            )
    else:
        ann_path.unlink(missing_ok=True)  # a stale file would be read back as its annotations
    return hea
