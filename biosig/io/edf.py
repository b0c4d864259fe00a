"""EDF, EDF+ (continuous and discontinuous) and BDF reader.

The header is parsed and checked here (lengths, numbers, plausible rates and durations, the
file size against the data records it claims, exactly). The file is then read once: samples
are decoded straight into float32 physical values (only the kept channels) and the EDF+
annotations are parsed from the same bytes. Files whose signals have different rates are read
with :func:`mne.io.read_raw_edf` / :func:`mne.io.read_raw_bdf`, which resamples the slower
signals to the highest rate (``meta["upsampled_channels"]``). EDF+D files whose data records
have gaps are laid out on their true time axis: gap samples are NaN and each gap gets a
``BAD_ACQ_SKIP`` annotation (``meta["n_gaps"]``, ``meta["n_nan"]`` say how many).

Patient and recording identification fields, start date and time are read for validation
only and never reach :attr:`Recording.meta`.
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from biosig.errors import InvalidFileError
from biosig.io._mne import (
    check_shape,
    keep_index,
    patched_file,
    pick,
    read_samples,
    undo_scaling,
)
from biosig.io._records import (
    INT24,
    ChannelLayout,
    FileSamples,
    always_finite,
    decode_channels,
    gain_offset,
    read_data_section,
    unique_names,
)
from biosig.io._util import (
    SignalHeaders,
    as_path,
    check_file,
    check_timing,
    drop_onsets_outside,
    make_recording,
    norm_unit,
    resolve_ch_types,
    shown,
    to_target_units,
    unit_factors,
)
from biosig.signal.recording import Annotations, Recording

__all__ = ["read_edf", "read_bdf"]

_TAL_NAMES = ("EDF Annotations", "BDF Annotations")


@dataclass(frozen=True)
class EDFHeader:
    """The non-identifying part of an EDF/BDF header (identification fields are skipped)."""

    kind: str  # "EDF" or "BDF"
    variant: str  # "EDF", "EDF+C", "EDF+D", "BDF", "BDF+C", "BDF+D"
    header_bytes: int
    n_records: int
    record_duration: float
    labels: list[str]
    units: list[str]  # normalised ("uV", "mV", ...)
    units_raw: list[str]  # as written in the header
    physical_min: np.ndarray
    physical_max: np.ndarray
    digital_min: np.ndarray
    digital_max: np.ndarray
    n_samples: np.ndarray  # samples per data record, per signal
    sample_bytes: int
    file_size: int
    signal_header: bytes = field(default=b"", repr=False)  # the raw per-signal header

    @property
    def record_bytes(self) -> int:
        return int(self.n_samples.sum()) * self.sample_bytes

    @functools.cached_property
    def tal_index(self) -> list[int]:
        return [i for i, lab in enumerate(self.labels) if lab in _TAL_NAMES]

    @functools.cached_property
    def signal_index(self) -> list[int]:
        tal = set(self.tal_index)
        return [i for i in range(len(self.labels)) if i not in tal]


def _field(raw: bytes, path: Path, name: str) -> str:
    return raw.decode("latin-1").strip()


_NON_PRINTABLE = re.compile(rb"[\x00-\x1f\x7f\xff]")


def _label(raw: bytes, number: int) -> str:
    """The label of signal ``number`` (from 1): its text up to the first NUL byte (padding a C
    writer left, as the GDF reader reads its labels), spaces stripped; ``signal<number>`` when
    that is empty. A control byte or 0xFF before the NUL raises (an error naming no file)."""
    text = raw.split(b"\x00", 1)[0]
    bad = _NON_PRINTABLE.search(text)
    if bad:
        raise InvalidFileError(
            "",
            f"signal {number}: label holds the non-printable byte 0x{text[bad.start()]:02x} (at "
            f"byte {bad.start() + 1} of the field)",
        )
    return text.decode("latin-1").strip() or f"signal{number}"


def _num(raw: bytes, path: Path, name: str, kind=float):
    text = raw.decode("latin-1").strip()
    try:
        value = kind(text) if kind is float else int(text)
    except ValueError:
        try:  # some writers put "1.0" into integer fields
            as_float = float(text)
        except ValueError:
            raise InvalidFileError(
                path, f"header field {name!r} is not a number: {shown(text)}"
            ) from None
        if kind is float or not np.isfinite(as_float) or as_float != int(as_float):
            raise InvalidFileError(
                path, f"header field {name!r} is not an integer: {shown(text)}"
            ) from None
        value = int(as_float)
    if kind is float and not np.isfinite(value):
        raise InvalidFileError(path, f"header field {name!r} is not finite: {shown(text)}")
    return value


def _nums(fields: list[bytes], path: Path, name: str, kind=float) -> np.ndarray:
    """float64 values of one numeric field of every signal, parsed as one array; when one of
    them is not a finite number (or not an integer, for ``kind=int``), :func:`_num` reads them
    one by one and names the bad one."""
    try:
        values = np.array(fields, dtype="S").astype(np.float64)
    except (ValueError, UnicodeError):
        values = None
    if values is None or not np.isfinite(values).all() or (
        kind is int and not ((values == np.trunc(values)) & (np.abs(values) < 2.0**53)).all()
    ):
        values = np.array([_num(b, path, name, kind) for b in fields], np.float64)
    return values


#: The digital values a sample can hold: 16-bit EDF, 24-bit BDF (two's complement).
_SAMPLE_RANGE = {"EDF": (-32768, 32767), "BDF": (-8388608, 8388607)}


@functools.lru_cache(maxsize=32)
def _signal_fields(raw: bytes, ns: int, kind: str = "EDF") -> tuple:
    """The per-signal fields of a header, checked: ``(labels, units_raw, units, pmin, pmax,
    dmin, dmax, n_samples)`` (tuples and read-only arrays). Memoised on the bytes: the files of
    a corpus repeat their signal headers, and this is most of a header's parse. An error names
    no file (:func:`parse_edf_header` adds it). ``kind`` (``"EDF"``/``"BDF"``) sets the range
    of digital values a sample can hold, which a data signal's digital minimum and maximum must
    lie in."""
    chunk, nowhere = SignalHeaders(raw, ns).field, Path("")
    # offsets (in units of ns bytes) of each per-signal field
    labels = tuple(_label(b, i) for i, b in enumerate(chunk(0, 16), start=1))
    units_raw = tuple(_field(b, nowhere, "physical dimension") for b in chunk(96, 8))
    units = tuple(norm_unit(u) for u in units_raw)
    pmin = _nums(chunk(104, 8), nowhere, "physical minimum")
    pmax = _nums(chunk(112, 8), nowhere, "physical maximum")
    dmin = _nums(chunk(120, 8), nowhere, "digital minimum", int)
    dmax = _nums(chunk(128, 8), nowhere, "digital maximum", int)
    nsamp = _nums(chunk(216, 8), nowhere, "number of samples", int).astype(np.int64)
    if np.any(nsamp <= 0):
        bad = [labels[i] for i in np.flatnonzero(nsamp <= 0)]
        raise InvalidFileError("", f"signals {bad} declare no samples per data record")
    signals = [i for i, lab in enumerate(labels) if lab not in _TAL_NAMES]
    if not signals:
        raise InvalidFileError("", "file holds only annotation signals, no data")
    lo, hi = _SAMPLE_RANGE[kind]
    for i in signals:
        for name, value in (("digital minimum", dmin[i]), ("digital maximum", dmax[i])):
            if not lo <= value <= hi:
                bits = 16 if kind == "EDF" else 24
                raise InvalidFileError(
                    "",
                    f"signal {labels[i]!r}: {name} {int(value)} is outside the {lo}..{hi} "
                    f"a {bits}-bit {kind} sample can hold (the samples would be scaled wrongly)",
                )
        if dmax[i] <= dmin[i] or pmax[i] == pmin[i]:
            raise InvalidFileError(
                "",
                f"signal {labels[i]!r}: digital range [{int(dmin[i])}, {int(dmax[i])}] "
                f"or physical range [{pmin[i]:g}, {pmax[i]:g}] is empty",
            )
    if np.any(nsamp > 1 << 24):
        raise InvalidFileError("", f"implausible number of samples per record ({nsamp.max()})")
    for a in (pmin, pmax, dmin, dmax, nsamp):
        a.flags.writeable = False  # shared by the headers of every file with these bytes
    return labels, units_raw, units, pmin, pmax, dmin, dmax, nsamp


def parse_edf_header(path: str | os.PathLike) -> EDFHeader:
    """Parse and validate the fixed and per-signal header of an EDF/EDF+/BDF file.

    Raises :class:`InvalidFileError` for a missing/empty file, a malformed or truncated
    header, a header length that does not match the number of signals, a data signal whose
    digital minimum or maximum lies outside what a sample can hold (-32768..32767 in EDF,
    -8388608..8388607 in BDF), or fewer data bytes than the number of data records in the
    header needs.
    """
    path = as_path(path)
    size = check_file(path, min_size=256, what="EDF/BDF file")
    with open(path, "rb") as fid:
        fixed = fid.read(256)
        version = fixed[:8]
        if version == b"\xffBIOSEMI":
            kind, sample_bytes = "BDF", 3
        elif version.decode("latin-1").strip() == "0":
            kind, sample_bytes = "EDF", 2
        else:
            hint = " (this looks like a GDF file)" if version.startswith(b"GDF") else ""
            raise InvalidFileError(  # the field's bytes are not quoted: they could be anything
                path,
                "not an EDF/BDF file: the version field (first 8 bytes) is neither the ASCII '0' "
                f"an EDF needs nor the 0xFF 'BIOSEMI' of a BDF{hint}",
            )
        reserved = fixed[192:236].decode("latin-1").strip()
        header_bytes = _num(fixed[184:192], path, "number of header bytes", int)
        n_records = _num(fixed[236:244], path, "number of data records", int)
        duration = _num(fixed[244:252], path, "duration of a data record", float)
        ns = _num(fixed[252:256], path, "number of signals", int)
        if ns <= 0:
            raise InvalidFileError(path, f"header declares {ns} signals")
        if header_bytes != 256 * (ns + 1):
            raise InvalidFileError(
                path,
                f"header length field says {header_bytes} bytes but {ns} signals need "
                f"{256 * (ns + 1)}",
            )
        heads = SignalHeaders.read(fid, path, size, header_bytes, ns)
    try:
        labels, units_raw, units, pmin, pmax, dmin, dmax, nsamp = _signal_fields(
            heads.raw, ns, kind
        )
    except InvalidFileError as err:  # raised naming no file
        raise InvalidFileError(path, err.reason) from None
    if kind == "BDF":
        variant = "BDF+" + reserved[4] if reserved[:4] == "BDF+" and len(reserved) > 4 else "BDF"
    else:
        variant = reserved[:5] if reserved[:5] in ("EDF+C", "EDF+D") else "EDF"
    hdr = EDFHeader(
        kind=kind,
        variant=variant,
        header_bytes=header_bytes,
        n_records=n_records,
        record_duration=duration,
        labels=list(labels),
        units=list(units),
        units_raw=list(units_raw),
        physical_min=pmin,
        physical_max=pmax,
        digital_min=dmin,
        digital_max=dmax,
        n_samples=nsamp,
        sample_bytes=sample_bytes,
        file_size=size,
        signal_header=heads.raw,
    )
    if duration <= 0:
        raise InvalidFileError(path, f"data record duration is {duration} s (must be > 0)")
    available = (size - header_bytes) // hdr.record_bytes
    if n_records == -1:
        raise InvalidFileError(
            path,
            "number of data records is -1 (file was not closed by the recorder; "
            f"it holds {available} complete records)",
        )
    if n_records <= 0:
        raise InvalidFileError(path, f"header declares {n_records} data records")
    expected = header_bytes + n_records * hdr.record_bytes
    if size != expected:
        what = "truncated file" if size < expected else "extra bytes after the last record"
        raise InvalidFileError(
            path,
            f"header claims {n_records} data records of {hdr.record_bytes} bytes "
            f"({expected} bytes in all) but the file has {size} bytes ({what}; a wrong "
            "samples-per-record or record-count field misaligns every record)",
        )
    check_timing(path, nsamp[hdr.signal_index] / duration, n_records * duration)
    return hdr


_ONSET = re.compile(r"^[+-]\d+(?:\.\d*)?$")


@dataclass
class TALs:
    """Parsed EDF+ annotation signals: record start times and annotations (s, file time)."""

    record_onsets: np.ndarray
    onset: list[float]
    duration: list[float]
    description: list[str]


def _parse_tal_bytes(raw: bytes, path: Path, k: int, out: TALs) -> float | None:
    """Parse the TALs of one data record; returns the record's time-keeping onset."""
    record_onset = None
    for tal in raw.split(b"\x14\x00"):
        tal = tal.strip(b"\x00")
        if not tal:
            continue
        parts = tal.decode("utf-8", "replace").split("\x14")
        head = parts[0]
        onset_text, _, dur_text = head.partition("\x15")
        try:
            onset = float(onset_text)
            duration = float(dur_text) if dur_text else 0.0
        except ValueError:
            raise InvalidFileError(
                path, f"EDF+ annotation in data record {k} has a malformed onset {shown(head[:30])}"
            ) from None
        if not (math.isfinite(onset) and math.isfinite(duration)):
            raise InvalidFileError(
                path, f"EDF+ annotation in data record {k} has a non-finite time {shown(head[:30])}"
            )
        texts = parts[1:]
        keeper = record_onset is None and bool(texts) and texts[0] == ""
        if keeper:
            record_onset = onset  # the time-keeping TAL: "+<onset>\x14\x14"
            texts = texts[1:]
        # Nihon Kohden writes the next TAL straight after the time-keeping one without the
        # terminating 0 byte ("+1\x14\x14+1.14\x14A1+A2 OFF\x14"): there, an onset-shaped
        # text followed by more text starts a new TAL.
        i = 0
        while i < len(texts):
            text = texts[i]
            if keeper and _ONSET.match(text) and i + 1 < len(texts) and texts[i + 1] != "":
                onset, duration = float(text), 0.0
                i += 1
                continue
            if text != "":
                out.onset.append(onset)
                out.duration.append(duration)
                out.description.append(text)
            i += 1
    return record_onset


def _read_tals(path: Path, hdr: EDFHeader, mm: np.ndarray) -> TALs:
    """Parse every annotation signal of the data records ``mm`` (``n_records x bytes``)."""
    out = TALs(np.full(hdr.n_records, np.nan), [], [], [])
    spans = []
    for tal in hdr.tal_index:
        offset = int(hdr.n_samples[:tal].sum()) * hdr.sample_bytes
        spans.append((offset, offset + int(hdr.n_samples[tal]) * hdr.sample_bytes))
    plain = [_timekeeping_only(mm[:, a:b], hdr.record_duration) for a, b in spans]  # NaN: parse
    out.record_onsets[:] = plain[0]
    todo = np.flatnonzero(np.isnan(plain[0]) | (len(spans) > 1))
    # the rows left to the parser, as one bytes object per annotation signal, and which of
    # them to parse: slicing bytes costs less than a numpy row and scalar per record
    texts = [(mm[todo, a:b].tobytes(), b - a, np.isnan(p[todo]).tolist())
             for (a, b), p in zip(spans, plain)]  # fmt: skip
    for i, k in enumerate(todo.tolist()):
        for j, (text, width, parse) in enumerate(texts):
            row = text[i * width : (i + 1) * width]
            if not parse[i] or (j > 0 and not row.strip(b"\x00")):
                continue  # only a time-keeping TAL (or nothing): no annotation here
            t = _parse_tal_bytes(row, path, k, out)
            if j == 0:
                if t is None:
                    raise InvalidFileError(
                        path, f"EDF+ data record {k} has no time-keeping annotation"
                    )
                out.record_onsets[k] = t
    return out


_FEW_RECORDS = 8  # rows left to the TAL parser without a whole-array check


def _remember(memo: dict, key, value, limit: int):
    """Store ``value`` under ``key`` in ``memo``, emptied first when it holds ``limit`` entries
    (the memos of a corpus's shared header facts stay small); returns ``value``."""
    if len(memo) >= limit:
        memo.clear()
    memo[key] = value
    return value


_USUAL: dict = {}  # _usual_timekeeping's memo: (width, step) -> its arrays for the most records
_USUAL_BYTES = 1 << 22  # memoised up to this size


def _usual_timekeeping(n: int, width: int, step: int):
    """The usual TAL bytes of ``n`` records of ``step`` s, ``+<k * step>\x14\x14`` then zero
    bytes, as a read-only ``(n, width)`` array, and the mask of their text bytes; None when
    they do not fit in ``width`` bytes. Memoised: the files of a corpus share them."""
    got = _USUAL.get((width, step))
    if got is None or len(got[0]) < n:
        texts = [b"+%d\x14\x14" % (k * step) for k in range(n)]
        usual = b"".join(t.ljust(width, b"\0") for t in texts)
        if len(usual) != n * width:
            return None
        text = np.arange(width)[None, :] < np.array([len(t) for t in texts])[:, None]
        text.flags.writeable = False
        got = np.frombuffer(usual, np.uint8).reshape(n, width), text
        if n * width <= _USUAL_BYTES:
            _remember(_USUAL, (width, step), got, 8)
    return got[0][:n], got[1][:n]


def _timekeeping_only(block: np.ndarray, duration: float | None = None) -> np.ndarray:
    """Per record (row of TAL bytes): the onset when the record's TALs are only a time-keeping
    one, ``+<onset>\x14\x14`` followed by zero bytes, with ``<onset>`` a plain decimal (the usual
    record: found and read by whole-array operations instead of parsing), else NaN.

    With whole-second records of ``duration`` s, the rows are first compared with the usual
    writing, ``+<k * duration>\x14\x14`` for record ``k`` (one comparison): a row that starts
    so and holds more carries annotations (left to the parser); the other rows that differ are
    then checked as above, or left to the parser when there are only a few."""
    n, width = block.shape
    if duration is not None and duration == int(duration):
        usual = _usual_timekeeping(n, width, int(duration))
        if usual is not None:
            usual, text = usual
            equal = block == usual
            same = equal.all(axis=1)
            onsets = np.where(same, np.arange(n, dtype=np.float64) * int(duration), np.nan)
            rest = np.flatnonzero(~(equal | ~text).all(axis=1))  # not even starting so
            if len(rest) > _FEW_RECORDS:
                onsets[rest] = _timekeeping_only(block[rest])
            return onsets
    nonzero = block != 0
    end = np.argmin(nonzero, axis=1)  # the first zero byte (0 when there is none)
    ok = (~nonzero).any(axis=1) & (nonzero.sum(axis=1) == end) & (end >= 4)
    ok &= ((block == 0x14).sum(axis=1) == 2) & ~(block == 0x15).any(axis=1)
    rows, last = np.arange(n), np.maximum(end - 1, 1)
    ok &= (block[rows, last] == 0x14) & (block[rows, last - 1] == 0x14)
    col = np.arange(width)
    text = col[None, :] < (end - 2)[:, None]  # the onset's bytes
    digit = (block >= 0x30) & (block <= 0x39)
    ok &= np.isin(block[:, 0], (0x2B, 0x2D)) & digit[:, 1 % width]  # [+-]\d
    ok &= ((digit | (block == 0x2E) | ~text)[:, 1:].all(axis=1)) & (
        ((block == 0x2E) & text).sum(axis=1) <= 1)  # then digits with at most one "."
    onsets = np.full(n, np.nan)
    if ok.any():
        chars = np.where(text[ok], block[ok], np.uint8(0x20))  # blanks after the onset
        onsets[ok] = np.ascontiguousarray(chars).view(f"S{width}").ravel().astype(float)
    onsets[np.isinf(onsets)] = np.nan  # beyond float: the parser words the error
    return onsets


def _layout_discontinuous(
    path: Path, hdr: EDFHeader, data: np.ndarray, sfreq: float, onsets: np.ndarray
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Place EDF+D records on the time axis; gaps become NaN. Returns (data, gaps)."""
    rel = onsets - onsets[0]
    spr = data.shape[1] // hdr.n_records
    starts = np.rint(rel * sfreq).astype(np.int64)
    if np.any(np.diff(starts) < spr):
        k = int(np.flatnonzero(np.diff(starts) < spr)[0]) + 1
        raise InvalidFileError(
            path,
            f"EDF+D data record {k} starts at {onsets[k]:.6g} s, before the previous record "
            f"ends ({onsets[k - 1] + hdr.record_duration:.6g} s)",
        )
    expected = np.arange(hdr.n_records) * spr
    if np.array_equal(starts, expected):
        return data, []
    n_total = int(starts[-1]) + spr
    if n_total > 50 * data.shape[1] + 10**7:
        raise InvalidFileError(
            path,
            f"EDF+D record times span {n_total / sfreq:.0f} s for {data.shape[1] / sfreq:.0f} s "
            "of data; refusing to allocate that much padding",
        )
    out = np.full((data.shape[0], n_total), np.nan, dtype=data.dtype)
    gaps = []
    for k in range(hdr.n_records):
        out[:, starts[k] : starts[k] + spr] = data[:, k * spr : (k + 1) * spr]
        if k and starts[k] > starts[k - 1] + spr:
            gap_start = (starts[k - 1] + spr) / sfreq
            gaps.append((gap_start, starts[k] / sfreq - gap_start))
    return out, gaps


def _mne_factor(raw_unit: str) -> float:
    """The scale MNE 1.13's EDF reader applies to a header unit string: exactly ``µV``/``μV``/
    ``uV`` (and the Shift-JIS µ) -> 1e-6, ``mV`` -> 1e-3, anything else (``uv``, ``V``) -> 1."""
    if raw_unit in ("\u03bcV", "\u00b5V", "\x83\xcaV", "uV"):
        return 1e-6
    return 1e-3 if raw_unit == "mV" else 1.0


def read_edf(
    path: str | os.PathLike,
    *,
    exclude: Iterable[str] = (),
    ch_types: Mapping[str, str] | None = None,
) -> Recording:
    """Read an EDF, EDF+ (C or D) or BDF file into a :class:`Recording`.

    Parameters
    ----------
    path : path to a ``.edf`` or ``.bdf`` file.
    exclude : channel labels to leave out.
    ch_types : optional ``{label: type}`` overriding the inferred channel types (inference:
        EDF+ type prefix such as ``"ECG ECG1"``, standard ECG lead names (``I``, ``aVR``,
        ``V1``...), keywords, else EEG for voltage channels). A type is one of
        :data:`biosig.io._util.CH_TYPES` (``eeg``, ``eog``, ``emg``, ``ecg``, ``misc``,
        ``stim``...); :class:`~biosig.errors.ChannelError` for another.

    Returns
    -------
    Recording
        float32 ``(n_chans, n_times)``; EEG/EOG/EMG in µV, ECG in mV, other channels
        in their file unit. Annotations from the EDF+ TAL channel
        (onsets in s from the first sample; one whose onset lies outside the recording is
        dropped with a RuntimeWarning naming the file and its number, as MNE drops it).
        Channel names are the header labels: a label ends at its first NUL byte (padding some
        writers leave), an empty one is named by its
        position (``signal3`` for the third signal), a repeated one gets ``-k`` (its k-th copy,
        from 0: ``I-0``, ``I-1``). ``meta``: ``format`` (``"EDF+C"``...),
        ``source`` (file name), ``n_records``, ``record_duration``, ``n_nan``, ``n_inf``,
        ``n_gaps``, ``upsampled_channels`` (signals stored at a lower rate, which MNE
        resamples to the highest rate). No patient/recording identification, no dates.

    Raises
    ------
    InvalidFileError
        Missing, empty, truncated or malformed file; a label holding a control byte or 0xFF
        (before any NUL), which the EDF specification does not allow (printable ASCII).
    """
    path = as_path(path)
    hdr = parse_edf_header(path)
    records = read_data_section(path, hdr.header_bytes, hdr.n_records, hdr.record_bytes)
    sig = hdr.signal_index
    finite = False  # every sample known finite without a scan
    if len(set(hdr.n_samples[sig].tolist())) == 1:
        layout, names, types, units, finite = _same_layout(path, hdr, exclude, ch_types)
        if finite and hdr.kind == "EDF" and not hdr.variant.endswith("+D"):
            data = FileSamples(records, layout)  # decoded on first use of Recording.data
        else:
            data = decode_channels(records, layout)
        upsampled: list[str] = []
    else:
        data, names, types, units, upsampled = _read_mixed_rates(path, hdr, exclude, ch_types)
    sfreq = float(hdr.n_samples[sig].max()) / hdr.record_duration

    gaps: list[tuple[float, float]] = []
    onset, duration, desc = np.zeros(0), np.zeros(0), []
    if hdr.tal_index:
        # EDF+ annotations are parsed here rather than by MNE, which mis-reads Nihon Kohden
        # TALs and ignores EDF+D record times. Onsets are relative to the first sample.
        tals = _read_tals(path, hdr, records)
        t0 = tals.record_onsets[0]
        onset = np.asarray(tals.onset, float) - t0
        duration = np.asarray(tals.duration, float)
        desc = tals.description
        if hdr.variant.endswith("+D"):
            data, gaps = _layout_discontinuous(path, hdr, data, sfreq, tals.record_onsets)
    del records
    onset, duration, desc = drop_onsets_outside(path, onset, duration, desc,
                                                data.shape[1] / sfreq, sfreq, "EDF+ annotation")
    if gaps:
        onset = np.concatenate([onset, [g[0] for g in gaps]])
        duration = np.concatenate([duration, [g[1] for g in gaps]])
        desc = desc + ["BAD_ACQ_SKIP"] * len(gaps)
        order = np.argsort(onset, kind="stable")
        onset, duration, desc = onset[order], duration[order], [desc[i] for i in order]

    meta = {
        "format": hdr.variant,
        "source": path.name,
        "n_records": hdr.n_records,
        "record_duration": hdr.record_duration,
        "n_gaps": len(gaps),
        # channels stored at a lower rate than sfreq; MNE resampled them (FFT) to sfreq
        "upsampled_channels": upsampled,
    }
    annotations = Annotations.from_lists(onset, duration, desc)
    nonfinite = (0, 0) if finite and not gaps else None
    return make_recording(data, sfreq, names, types, units, annotations, meta, nonfinite=nonfinite)


_LAYOUTS: dict = {}  # _same_layout's memo
_MAX_LAYOUTS = 32


def _same_layout(path: Path, hdr: EDFHeader, exclude, ch_types):
    """:func:`_layout` and whether it decodes to finite values only (:func:`always_finite`),
    memoised on what they depend on (the per-signal header bytes, the kind, ``exclude`` and
    ``ch_types``): the files of a corpus share one. ``(layout, names, types, units, finite)``."""
    exclude = tuple(exclude)
    key = (hdr.kind, hdr.signal_header, exclude, tuple(sorted((ch_types or {}).items())))
    got = _LAYOUTS.get(key) if hdr.signal_header else None
    if got is None:
        layout = _layout(path, hdr, exclude, ch_types)
        got = (*layout, always_finite(layout[0]))
        if hdr.signal_header:
            _remember(_LAYOUTS, key, got, _MAX_LAYOUTS)
    return (*(list(part) for part in got[:4]), got[4])


def _layout(path: Path, hdr: EDFHeader, exclude, ch_types):
    """Where the kept signals (all at one rate) lie in a data record and how they decode to
    float32 in Recording units: ``(layout, names, types, units)``."""
    sig = hdr.signal_index
    names_all = unique_names(hdr.labels)  # as MNE names them (a repeated label gets "-k")
    keep = [
        sig[j]
        for j in keep_index(
            path, [names_all[i] for i in sig], [hdr.labels[i] for i in sig], exclude
        )
    ]
    names = [names_all[i] for i in keep]
    file_units = [hdr.units[i] for i in keep]
    types = resolve_ch_types(
        names, file_units, ch_types, default_voltage="eeg", ecg_leads=True, path=path,
        labels=[hdr.labels[i] for i in keep],
    )
    factors, units = unit_factors(file_units, types)
    gain, offset = gain_offset(hdr.physical_min, hdr.physical_max, hdr.digital_min, hdr.digital_max)
    starts = np.concatenate([[0], np.cumsum(hdr.n_samples)]) * hdr.sample_bytes
    dtype = INT24 if hdr.kind == "BDF" else np.dtype("<i2")
    layout = [
        ChannelLayout(int(starts[i]), int(hdr.n_samples[i]), dtype, gain[i] * f, offset[i] * f)
        for i, f in zip(keep, factors)
    ]
    return layout, names, types, units


#: What MNE is handed instead of the identification fields (offset: bytes): anonymous EDF+
#: patient and recording fields, start date 01.01.85 00.00.00. biosig never uses them, and MNE's
#: parse of them fails on some (a patient field ``X M 01-JAN-1990 Smith a=b=c``).
_ANONYMOUS_FIELDS = {
    8: b"X X X X".ljust(80),
    88: b"Startdate X X X X".ljust(80),
    168: b"01.01.85",
    176: b"00.00.00",
}


def _read_mixed_rates(path: Path, hdr: EDFHeader, exclude, ch_types):
    """Signals at different rates: MNE reads them and resamples the slower ones (FFT) to the
    highest rate. MNE reads the file with its identification fields blanked (so they never
    matter, nor reach an error message), and the channels keep the names the one-rate path
    gives them. Returns ``(data, names, types, units, upsampled)``."""
    import mne

    reader = mne.io.read_raw_bdf if hdr.kind == "BDF" else mne.io.read_raw_edf
    with patched_file(path, _ANONYMOUS_FIELDS) as source:
        data, _, _ = read_samples(path, reader, hdr.kind, source=source)
    sig = hdr.signal_index
    check_shape(path, data, (len(sig), hdr.n_records * int(hdr.n_samples[sig].max())))
    undo_scaling(data, [_mne_factor(hdr.units_raw[i]) for i in sig])
    names_all = unique_names(hdr.labels)
    data, names, labels, units, upsampled = pick(
        path,
        data,
        [names_all[i] for i in sig],
        [hdr.labels[i] for i in sig],
        [hdr.units[i] for i in sig],
        hdr.n_samples[sig],
        exclude,
    )
    types = resolve_ch_types(
        names, units, ch_types, default_voltage="eeg", ecg_leads=True, path=path, labels=labels
    )
    data, units = to_target_units(data, units, types)
    return data, names, types, units, upsampled


def read_bdf(path: str | os.PathLike, **kwargs) -> Recording:
    """Read a BDF/BDF+ file (alias of :func:`read_edf`, which detects BDF from the header)."""
    return read_edf(path, **kwargs)
