"""WFDB reader (``.hea`` + ``.dat``/``.mat``/other signal files) and header-label parser.

Samples are read with :func:`wfdb.rdrecord` (all formats wfdb supports: 16, 212, 24, 310,
the CinC ``.mat`` with a byte offset, several samples per frame, skew). The header is
checked here first: every signal file must exist and hold the number of samples the header
declares, no fewer (truncated) and no more (a wrong sample count would drop the rest). WFDB
invalid samples read back as NaN and are counted in ``meta["n_nan"]``.

Header comments can hold identifying or clinical free text (PTB's clinical summary, MIT-BIH's
age/sex/medication line); they never reach :attr:`Recording.meta`, nor an error message: errors
about a header name the line and field, never quoting its text. Header lines end at ``\n`` (or
``\r\n``) only, so a comment holding a vertical tab or form feed stays one comment line.
Dataset loaders that need the labels a database publishes in its headers (PhysioNet/CinC
``# Dx:``, ``# Age:``, ``# Sex:``) call :func:`read_wfdb_header_labels`, or
:func:`scan_wfdb_header` to index thousands of records quickly.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import struct
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from biosig.errors import ChannelError, ConfigError, InvalidFileError
from biosig.io._records import unique_names
from biosig.io._util import (
    as_path,
    build_recording,
    check_file,
    check_timing,
    drop_onsets_outside,
    norm_unit,
    quiet_wfdb,
    wrap_errors,
)
from biosig.signal.recording import Annotations, Recording

__all__ = ["read_wfdb", "read_wfdb_header_labels", "wfdb_record_base"]

_SIGNAL_SUFFIXES = (".hea", ".dat", ".mat", ".xyz", ".atr")

# bytes per sample of the fixed-width WFDB formats; 212/310/311 are handled exactly below;
# FLAC formats (508/516/524) are compressed and cannot be size-checked.
_BYTES = {"8": 1, "16": 2, "24": 3, "32": 4, "61": 2, "80": 1, "160": 2}


def wfdb_record_base(path: str | os.PathLike) -> Path:
    """The record base path (no suffix) for ``100``, ``100.hea``, ``100.dat`` or ``E1.mat``."""
    p = as_path(path)
    if p.suffix.lower() in _SIGNAL_SUFFIXES:
        return p.with_suffix("")
    return p


def _required_bytes(fmt: str, n_samples: int) -> int | None:
    if fmt == "212":
        return math.ceil(n_samples * 1.5)
    if fmt in ("310", "311"):
        return math.ceil(n_samples * 4 / 3)
    if fmt in _BYTES:
        return n_samples * _BYTES[fmt]
    return None


def _padded_bytes(fmt: str, n_samples: int) -> int | None:
    """The most bytes ``n_samples`` samples take: format 212 packs 2 samples in 3 bytes and
    310/311 pack 3 in 4, and a writer may complete the last group (wfdb does)."""
    if fmt == "212":
        return math.ceil(n_samples / 2) * 3
    if fmt in ("310", "311"):
        return math.ceil(n_samples / 3) * 4
    return _required_bytes(fmt, n_samples)


def _samples_in(fmt: str, n_bytes: int) -> int:
    """How many samples of ``fmt`` (a size-checked format) ``n_bytes`` bytes hold."""
    if fmt == "212":
        return n_bytes * 2 // 3
    if fmt in ("310", "311"):
        return n_bytes * 3 // 4
    return n_bytes // _BYTES[fmt]


_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_FS = re.compile(rf"^({_NUM})(?:/({_NUM})(?:\(({_NUM})\))?)?$")
_FMT = re.compile(r"^(\d+)(?:x(\d+))?(?::(\d+))?(?:\+(\d+))?$")
_GAIN = re.compile(rf"^({_NUM})(?:\((-?\d+)\))?(?:/(\S*))?$")
_INT = re.compile(r"^[-+]?\d+$")
#: integer fields after the gain on a signal line: ADC resolution, ADC zero, initial value,
#: checksum, block size
_INT_FIELDS = ("ADC resolution", "ADC zero", "initial value", "checksum", "block size")


#: The bytes :meth:`str.splitlines` (which wfdb 4.3 splits a header with, after dropping the
#: bytes above 127) breaks a line at but a WFDB header does not: inside a comment they are text
#: (``# Name: X\vY`` is one comment line).
_SPLITLINES_ONLY = re.compile(rb"[\x0b\x0c\x1c\x1d\x1e]")


def _header_lines(raw: bytes, encoding: str = "latin-1") -> list[str]:
    """The lines of a header: split at ``\n`` only (a ``\r`` before it dropped), as the WFDB
    library reads them; decoded as Latin-1 by default, so any byte is one character."""
    lines = raw.decode(encoding, "replace").split("\n")
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def _validate_header_text(hea: Path) -> bool:
    """Check the record and signal lines of a ``.hea`` ourselves: wfdb silently replaces a
    malformed sampling frequency (``abc``, ``nan``, ``-500``) by 250 Hz and a malformed gain by
    200, and reads a header cut inside its last line (a gain of ``2`` for ``200``).

    Lines end at ``\n`` (or ``\r\n``) only: a vertical tab, form feed or other character that
    :meth:`str.splitlines` breaks at stays inside its line, so a comment holding one stays a
    comment. Refused, naming the file and the line (never quoting the header's text, which may
    be a comment or an identifier): a carriage return inside a line (readers split lines there
    or not), a header whose last record or signal line has no newline (truncated inside it; a
    last comment line may lack it), a record line without a signal count, a sampling frequency
    that is not a number or outside :data:`~biosig.io._util.SFREQ_BOUNDS`, a recording longer
    than :data:`~biosig.io._util.MAX_DURATION_S`, fewer signal lines than declared, a malformed
    format, gain or integer field, a gain of 0 (an uncalibrated signal, which wfdb reads with
    the default gain 200). Comment lines are not parsed.

    Returns whether the header holds a character :meth:`str.splitlines` breaks lines at (then
    wfdb must read it with :func:`_wfdb_lines_end_at_newline`).
    """
    raw = hea.read_bytes()
    breaks = bool(_SPLITLINES_ONLY.search(raw))
    lines = _header_lines(raw)
    for number, line in enumerate(lines, start=1):
        if "\r" in line:
            raise InvalidFileError(
                hea,
                f"line {number} holds a carriage return that does not end the line; WFDB "
                "header lines end with \\n or \\r\\n",
            )
    last = lines[-1].strip()
    if last and not last.startswith("#"):  # a record/signal line without its newline
        raise InvalidFileError(
            hea,
            f"last line (line {len(lines)}) does not end with a newline: the header is "
            "truncated inside it",
        )
    body = [
        (number, text)
        for number, text in ((k, ln.split("#", 1)[0].strip()) for k, ln in enumerate(lines, 1))
        if text
    ]
    if not body:
        raise InvalidFileError(hea, "header has no record line")
    number, line = body[0]
    rec = line.split()
    where = f"record line (line {number})"
    if len(rec) < 2 or not _INT.match(rec[1]) or int(rec[1]) < 0:
        raise InvalidFileError(
            hea, f"{where} has no signal count (its second field is missing or not a count)"
        )
    if "/" in rec[0]:
        return breaks  # multi-segment record: refused by the caller
    n_sig = int(rec[1])
    fs = 250.0  # the WFDB default when the field is absent
    if len(rec) > 2:
        m = _FS.match(rec[2])
        if not m:
            raise InvalidFileError(
                hea, f"sampling frequency (line {number}, field 3) is not a number"
            )
        fs = float(m.group(1))
        check_timing(hea, fs, 1.0, what="sampling frequency")
    if len(rec) > 3:
        if not _INT.match(rec[3]) or int(rec[3]) < 0:
            raise InvalidFileError(
                hea, f"number of samples (line {number}, field 4) is not a count"
            )
        if int(rec[3]):
            check_timing(hea, fs, int(rec[3]) / fs)
    if len(body) < 1 + n_sig:
        raise InvalidFileError(
            hea, f"header declares {n_sig} signals but has {len(body) - 1} signal lines"
        )
    for k, (number, line) in enumerate(body[1 : 1 + n_sig], start=1):
        _validate_signal_line(hea, k, number, line.split())
    return breaks


def _validate_signal_line(hea: Path, k: int, number: int, tok: list[str]) -> None:
    """Signal line ``k`` (line ``number`` of the file), split into fields."""
    if len(tok) < 2 or not _FMT.match(tok[1]):
        what = "is malformed" if len(tok) > 1 else "is missing"
        raise InvalidFileError(
            hea, f"signal line {k}: storage format (line {number}, field 2) {what}"
        )
    if len(tok) > 2:
        m = _GAIN.match(tok[2])
        if not m or not np.isfinite(float(m.group(1))):
            raise InvalidFileError(
                hea, f"signal line {k}: ADC gain (line {number}, field 3) is malformed"
            )
        if float(m.group(1)) < 0:
            raise InvalidFileError(
                hea, f"signal line {k}: ADC gain {float(m.group(1)):g} (line {number}) is negative"
            )
        if float(m.group(1)) == 0:  # wfdb reads it with the default gain 200 per unit
            raise InvalidFileError(
                hea,
                f"signal line {k}: ADC gain 0 (line {number}) marks the signal uncalibrated: its "
                "samples have no known physical unit",
            )
    for field, (name, value) in enumerate(zip(_INT_FIELDS, tok[3:8]), start=4):
        if not _INT.match(value):
            raise InvalidFileError(
                hea, f"signal line {k}: {name} (line {number}, field {field}) is not an integer"
            )


_WFDB_PATCH = threading.Lock()


def _parse_header_content(header_content: str) -> tuple[list[str], list[str]]:
    """wfdb's ``parse_header_content`` with lines split at ``\n`` only (wfdb's text read has
    already turned ``\r\n`` into ``\n``)."""
    header_lines, comment_lines = [], []
    for line in header_content.split("\n"):
        line = line.strip()
        if line.startswith("#"):
            comment_lines.append(line)
        elif line:
            header_lines.append(line)
    return header_lines, comment_lines


@contextlib.contextmanager
def _wfdb_lines_end_at_newline(needed: bool = True) -> Iterator[None]:
    """While wfdb reads a header holding a character :meth:`str.splitlines` breaks lines at
    (``\v``, ``\f``, ``\x1c``...), its header parse splits lines at ``\n`` only, as
    :func:`_validate_header_text` does and the WFDB format means: a comment holding one stays a
    comment instead of its tail becoming a record or signal line. A swap of one wfdb function
    under a lock, only for such headers (on any other header both splits agree)."""
    if not needed:
        yield
        return
    from wfdb.io import header as wfdb_header

    with _WFDB_PATCH:
        original = wfdb_header.parse_header_content
        wfdb_header.parse_header_content = _parse_header_content
        try:
            yield
        finally:
            wfdb_header.parse_header_content = original


def _check_annotation_end(ann_path: Path) -> None:
    """A WFDB annotation file is a sequence of 16-bit words ending with the 0x0000 end-of-file
    word: anything else was cut short (wfdb would read back the annotations before the cut)."""
    raw = ann_path.read_bytes()
    if len(raw) % 2 or not raw.endswith(b"\x00\x00"):
        raise InvalidFileError(
            ann_path,
            f"annotation file does not end with the end-of-file word 0x0000 ({len(raw)} bytes): "
            "truncated",
        )


def _read_header(base: Path):
    with quiet_wfdb():
        import wfdb

    hea = base.with_name(base.name + ".hea")
    check_file(hea, what="WFDB header")
    breaks = _validate_header_text(hea)
    with wrap_errors(hea, "parsing the WFDB header", quote=False), quiet_wfdb():
        with _wfdb_lines_end_at_newline(breaks):
            header = wfdb.rdheader(str(base))
    if getattr(header, "n_seg", None):
        raise InvalidFileError(
            hea, "multi-segment WFDB records are not supported; read each segment"
        )
    if not header.n_sig:
        raise InvalidFileError(hea, "header declares no signals")
    if header.fs is None or not float(header.fs) > 0:
        raise InvalidFileError(hea, f"sampling frequency {header.fs!r} is not positive")
    for field in ("file_name", "fmt", "sig_name"):
        values = getattr(header, field, None)
        if values is None or len(values) != header.n_sig:
            got = 0 if values is None else len(values)
            raise InvalidFileError(
                hea, f"header declares {header.n_sig} signals but has {got} signal lines ({field})"
            )
    if header.sig_len is not None and header.sig_len < 0:
        raise InvalidFileError(hea, f"negative signal length {header.sig_len}")
    return hea, header, breaks


def _check_signal_files(hea: Path, header) -> None:
    """Every signal file exists and holds exactly the samples the header declares: fewer is a
    truncated file; more (beyond completing the last 212/310/311 group) means the header's
    sample count is wrong or the file holds other data, and reading the declared samples
    would silently drop the rest. Not checked: a header without a sample count (or 0, "not
    given" in WFDB), a compressed (FLAC) format, and the excess of a signal file read in blocks
    (a signal line's block size field)."""
    spf = header.samps_per_frame or [1] * header.n_sig
    offsets = header.byte_offset or [None] * header.n_sig
    blocks = getattr(header, "block_size", None) or [0] * header.n_sig
    files: dict[str, dict] = {}
    for i, fname in enumerate(header.file_name):
        entry = files.setdefault(
            fname, {"fmt": header.fmt[i], "spf": 0, "offset": offsets[i] or 0, "blocks": False}
        )
        entry["spf"] += int(spf[i] or 1)
        entry["blocks"] |= bool(blocks[i])
        if header.fmt[i] != entry["fmt"]:
            raise InvalidFileError(
                hea, f"signal file {fname} mixes formats {entry['fmt']} and {header.fmt[i]}"
            )
    for fname, entry in files.items():
        if fname in ("~", "-"):
            raise InvalidFileError(hea, f"signal file {fname!r} (null/stdin) cannot be read")
        data_path = hea.with_name(fname)
        size = check_file(data_path, what=f"WFDB signal file {fname}")
        if header.sig_len is None:
            continue
        fmt, n_samples = str(entry["fmt"]), int(header.sig_len) * entry["spf"]
        need = _required_bytes(fmt, n_samples)
        if need is not None and size < entry["offset"] + need:
            raise InvalidFileError(
                data_path,
                f"header declares {header.sig_len} frames ({entry['offset'] + need} bytes in "
                f"format {entry['fmt']}) but the file holds {size} bytes: truncated file",
            )
        if data_path.suffix.lower() == ".mat" and entry["offset"]:
            _check_mat_header(data_path, hea, fmt, entry["offset"], n_samples)
        most = _padded_bytes(fmt, n_samples)
        if most is not None and n_samples and not entry["blocks"]:
            if size > entry["offset"] + most:
                frames = _samples_in(fmt, size - entry["offset"]) // entry["spf"]
                raise InvalidFileError(
                    data_path,
                    f"header {hea.name} declares {header.sig_len} frames ({entry['offset'] + need}"
                    f" bytes in format {fmt}) but the file holds {size} bytes, {frames} frames: "
                    "the header's sample count is wrong (reading it would drop the rest)",
                )


#: MATLAB v4 precision digit (the P of MOPT) of the WFDB formats a ``.mat`` signal file holds
_MAT_PRECISION = {"16": 3, "32": 2, "80": 5}


def _check_mat_header(path: Path, hea: Path, fmt: str, offset: int, n_samples: int) -> None:
    """A ``.mat`` signal file at a byte offset (PhysioNet's and CinC's ``wfdb2mat`` layout)
    starts with a MATLAB v4 matrix header: a real, unnamed-beyond-the-offset matrix of exactly
    the header's samples, in its format. Without this, any file of the right size read as
    signal (wfdb skips the offset unread)."""
    with open(path, "rb") as fh:
        head = fh.read(20)
    fields = struct.unpack("<5i", head) if len(head) == 20 else None
    if fields is not None and not 0 <= fields[0] < 1000:  # M = 1: a big-endian matrix
        fields = struct.unpack(">5i", head)
    if fields is None:
        raise InvalidFileError(path, "too short for a MATLAB v4 matrix header")
    kind, rows, cols, imag, name_len = fields
    precision = _MAT_PRECISION.get(fmt)
    if (imag != 0 or 20 + name_len != offset or rows < 0 or cols < 0
            or rows * cols != n_samples or kind % 10 != 0
            or (precision is not None and kind // 10 % 10 != precision)):
        raise InvalidFileError(
            path, f"not the MATLAB v4 signal matrix {hea.name} declares ({n_samples} samples in "
            f"format {fmt} after a {offset}-byte header): its header reads type {kind}, "
            f"{rows} x {cols}, imaginary flag {imag}, name length {name_len}")


def _select(names: list[str], labels: list[str], channels, hea: Path) -> list[int]:
    """Indices of ``channels`` (indices, or names as :func:`read_wfdb` gives them: ``names``,
    the header's ``labels`` made unique). A label that several signals share selects none of
    them: :class:`ChannelError` names the unique names to use instead."""
    if channels is None:
        return list(range(len(names)))
    idx = []
    for c in channels:
        if isinstance(c, (int, np.integer)):
            if not 0 <= int(c) < len(names):
                raise ChannelError(
                    f"channel index {c} out of range for {hea.name} ({len(names)} signals)"
                )
            idx.append(int(c))
        elif c in names:
            idx.append(names.index(c))
        elif c in labels:
            copies = [n for n, lab in zip(names, labels) if lab == c]
            raise ChannelError(
                f"channel {c!r} is ambiguous in {hea.name}: {len(copies)} signals have that "
                f"label; they are named {copies}"
            )
        else:
            raise ChannelError(f"channel {c!r} not in {hea.name} (has {names})")
    if not idx:
        raise ChannelError("channels selects no channel")
    return idx


def read_wfdb(
    record_path: str | os.PathLike,
    *,
    channels: Sequence[str | int] | None = None,
    multi_rate: str = "smooth",
    ch_types: Mapping[str, str] | None = None,
    annotation_ext: str | None = "atr",
) -> Recording:
    """Read a WFDB record into a :class:`Recording`.

    Parameters
    ----------
    record_path : the record base path (``.../100``) or its ``.hea``/``.dat``/``.mat`` file.
    channels : names (as in the returned ``ch_names``) or indices of the signals to read
        (default all). A label that several signals share is ambiguous: use their unique
        names (``I-0``, ``I-1``) or indices.
    multi_rate : how to handle signals with several samples per frame (MIMIC) when the
        selected signals differ: ``"smooth"`` (default, wfdb's convention) averages each
        frame so all signals are at the frame rate; ``"upsample"`` returns the highest rate,
        repeating the samples of slower signals. When all selected signals share one rate it
        is used as is (e.g. ``channels=["MCL1"]`` of a MIMIC record gives 500 Hz).
    ch_types : ``{name: type}`` overriding the inferred types (inference: standard ECG lead
        names and keywords; other voltage channels are taken as ECG, the usual WFDB content).
    annotation_ext : annotation file extension read when present (``"atr"``); None to skip.

    Returns
    -------
    Recording
        float32 ``(n_chans, n_times)``; ECG in mV, EEG/EOG/EMG in µV, other
        signals (``mmHg``...) in their unit. Channel names are the signal descriptions; a
        description that several signals share is made unique as the EDF and GDF readers do
        (the k-th copy, from 0, of ``I`` becomes ``I-k``). Annotations: onset = sample / fs,
        duration 0, description = the annotation symbol (``"N"``, ``"V"``...), or its ``aux_note``
        for rhythm (``+``) and comment (``"``) annotations (``"(AFIB"``); an annotation past
        the end of the record is dropped with a RuntimeWarning naming the annotation file, its
        number and onset.
        ``meta``: ``format`` (``"WFDB"``), ``source`` (header file name), ``fmt``,
        ``n_nan`` (invalid samples), ``n_inf``, ``samps_per_frame``.

    Raises
    ------
    InvalidFileError
        Missing header or signal file, truncated signal file, a signal file holding more
        samples than the header declares, malformed header; ``multi_rate="upsample"`` for
        signals whose samples per frame do not all divide the largest.
    ConfigError
        ``multi_rate`` is not ``"smooth"`` or ``"upsample"``.
    """
    with quiet_wfdb():
        import wfdb

    if multi_rate not in ("smooth", "upsample"):
        raise ConfigError(f"multi_rate must be 'smooth' or 'upsample', got {multi_rate!r}")
    base = wfdb_record_base(record_path)
    hea, header, breaks = _read_header(base)
    _check_signal_files(hea, header)
    labels = [str(n) for n in header.sig_name]
    names_all = unique_names(labels)  # as the EDF/GDF readers: a repeated label gets "-k"
    idx = _select(names_all, labels, channels, hea)
    if header.sig_len == 0:
        raise InvalidFileError(hea, "record holds no samples (signal length 0)")

    with wrap_errors(hea, "reading WFDB samples", quote=False), quiet_wfdb():
        with _wfdb_lines_end_at_newline(breaks):
            rec = wfdb.rdrecord(str(base), channels=idx, smooth_frames=False, physical=True)
        signals = [np.asarray(s, dtype=np.float64) for s in rec.e_p_signal]
    spf = [int(s or 1) for s in (rec.samps_per_frame or [1] * len(signals))]
    n_frames = min(len(s) // k for s, k in zip(signals, spf))
    if n_frames == 0:
        raise InvalidFileError(hea, "record holds no complete frame of samples")
    fs = float(rec.fs)
    if len(set(spf)) == 1:
        k = spf[0]
        data = np.stack([s[: n_frames * k] for s in signals])
        sfreq = fs * k
    elif multi_rate == "smooth":
        data = np.stack(
            [s[: n_frames * k].reshape(n_frames, k).mean(axis=1) for s, k in zip(signals, spf)]
        )
        sfreq = fs
    else:
        kmax = max(spf)
        if any(kmax % k for k in spf):
            rates = sorted({fs * k for k in spf})
            raise InvalidFileError(
                hea,
                f"signals at several sampling rates ({', '.join(f'{r:g}' for r in rates)} Hz; "
                f"samples per frame {spf}): multi_rate='upsample' cannot reach {fs * kmax:g} Hz "
                "by repeating samples (it is not a whole multiple of each rate); read with "
                f"multi_rate='smooth' (the default: the frame rate, {fs:g} Hz) or pick channels "
                "of one rate (channels=)",
            )
        data = np.stack([np.repeat(s[: n_frames * k], kmax // k) for s, k in zip(signals, spf)])
        sfreq = fs * kmax

    names = [names_all[i] for i in idx]
    units = [norm_unit(u) if u else "mV" for u in rec.units]
    annotations = Annotations.empty()
    if annotation_ext:
        ann_path = base.with_name(f"{base.name}.{annotation_ext}")
        if ann_path.exists():
            onset, duration, desc = drop_onsets_outside(
                ann_path, *_read_annotations(base, ann_path, annotation_ext, fs, breaks),
                data.shape[1] / sfreq, sfreq, "WFDB annotation")
            annotations = Annotations.from_lists(onset, duration, desc)

    meta = {
        "format": "WFDB",
        "source": hea.name,
        "fmt": [str(f) for f in rec.fmt],
        "samps_per_frame": spf,
    }
    return build_recording(
        hea, data, sfreq, names, units, ch_types, annotations, meta, default_voltage="ecg",
        labels=[labels[i] for i in idx],
    )


_NOTE_OK = (
    re.compile(rb"## time resolution: \d"),
    re.compile(rb"## annotation type definitions"),
    re.compile(rb"## end of definitions"),
)


def _check_definition_notes(ann_path: Path) -> None:
    """Refuse annotation files whose ``## `` definition notes would hang ``wfdb.rdann``.

    wfdb 4.3.1 loops forever on a note that starts with ``## `` but is neither a (first)
    time-resolution line nor a label-definition marker; such notes only occur in damaged
    files, so any ``## `` outside these forms (or a second time-resolution line) is an error.
    """
    raw = ann_path.read_bytes()
    n_fs = 0
    for m in re.finditer(rb"## ", raw):
        tail = raw[m.start() : m.start() + 40]
        kind = next((i for i, rx in enumerate(_NOTE_OK) if rx.match(tail)), None)
        if kind is None:  # the note's text is not quoted: a free-text note may name anyone
            raise InvalidFileError(
                ann_path,
                f"malformed definition note at byte {m.start()} (a '## ' note that is neither "
                "the time resolution nor a label definition)",
            )
        n_fs += kind == 0
    if n_fs > 1:
        raise InvalidFileError(ann_path, f"{n_fs} time-resolution notes (at most one allowed)")


def _read_annotations(
    base: Path, ann_path: Path, ext: str, frame_fs: float, breaks: bool = False
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The annotations of ``ann_path`` as ``(onset, duration, description)``; ``breaks``:
    the header holds a byte :meth:`str.splitlines` breaks lines at (wfdb reads the header when
    the annotation file has no sampling frequency)."""
    with quiet_wfdb():
        import wfdb

    check_file(ann_path, what="WFDB annotation file")
    _check_annotation_end(ann_path)
    _check_definition_notes(ann_path)
    with wrap_errors(ann_path, "reading WFDB annotations", quote=False), quiet_wfdb():
        with _wfdb_lines_end_at_newline(breaks):
            ann = wfdb.rdann(str(base), ext)
        sample = np.asarray(ann.sample, dtype=np.float64)
        ann_fs = float(ann.fs) if ann.fs else frame_fs
        symbols = list(ann.symbol or [])
        aux = list(ann.aux_note or [""] * len(symbols))
    if len(symbols) != len(sample):
        raise InvalidFileError(
            ann_path, f"{len(sample)} annotation times but {len(symbols)} symbols"
        )
    desc = []
    for s, a in zip(symbols, aux):
        a = (a or "").replace("\x00", "").strip()
        desc.append(a if s in ("+", '"') and a else s)
    return sample / ann_fs, np.zeros(len(sample)), desc


_LABEL_KEYS = {
    "dx": "dx",
    "age": "age",
    "sex": "sex",
    "reason for admission": "reason_for_admission",
}


_COMMENT = re.compile(r"^\s*([A-Za-z][A-Za-z ()]*?)\s*:\s*(.*)$")


def _label_comments(comments) -> dict:
    """The label keys of ``Key: value`` comment lines (without ``#``): ``dx`` (list of codes),
    ``age`` (float, None when unknown/NaN), ``sex`` and, where present, ``reason_for_admission``."""
    out: dict = {"dx": [], "age": None, "sex": None}
    for line in comments:
        m = _COMMENT.match(line)
        if not m:
            continue
        key = _LABEL_KEYS.get(m.group(1).strip().lower())
        value = m.group(2).strip()
        if key == "dx":
            out["dx"] = [c.strip() for c in value.split(",") if c.strip()]
        elif key == "age":
            try:
                age = float(value)
                out["age"] = age if np.isfinite(age) else None
            except ValueError:
                out["age"] = None
        elif key == "sex":
            v = value.lower()
            out["sex"] = {"m": "male", "male": "male", "f": "female", "female": "female"}.get(v)
        elif key == "reason_for_admission":
            out[key] = value
    return out


def read_wfdb_header_labels(record_path: str | os.PathLike) -> dict:
    """Labels a database publishes in its header comments (for dataset loaders only).

    Parses ``# Key: value`` comment lines and keeps only label keys: ``Dx`` (list of
    diagnosis codes as strings, e.g. SNOMED-CT in PhysioNet/CinC 2020-21), ``Age`` (int or
    None when unknown/NaN), ``Sex`` (``"male"``/``"female"``/None) and PTB's ``Reason for
    admission`` (str). Nothing else (dates, medication, free text) is returned.

    Returns
    -------
    dict with the keys ``dx``, ``age``, ``sex`` and, where present, ``reason_for_admission``.
    """
    base = wfdb_record_base(record_path)
    hea, header, _ = _read_header(base)
    out = _label_comments(header.comments or [])
    out["age"] = None if out["age"] is None else int(out["age"])
    return out


def scan_wfdb_header(hea: str | os.PathLike) -> dict:
    """A fast text scan of a ``.hea`` file for indexing large databases (no wfdb parse).

    Returns ``fs`` (Hz), ``n_samples`` (0 if absent), ``files`` (sorted signal file names),
    ``sig_names`` (first word of each signal description, made unique as :func:`read_wfdb`
    makes the channel names) and the labels of the comment lines
    (``dx``, ``age`` as float, ``sex``; see :func:`read_wfdb_header_labels`). Other comments
    (medication, history, dates) are not read into anything.

    Lines end at ``\n`` (or ``\r\n``) only, as :func:`read_wfdb` reads them. Raises
    :class:`InvalidFileError` for an unreadable or empty header, a malformed record line (naming
    the line and field, never quoting the header's text) or fewer signal lines than declared.
    """
    path = Path(hea)
    try:
        lines = _header_lines(path.read_bytes(), "utf-8")
    except OSError as err:
        raise InvalidFileError(path, f"cannot read header ({err})") from err
    body = [
        (k, ln) for k, ln in enumerate(lines, 1) if ln.strip() and not ln.lstrip().startswith("#")
    ]
    if not body:
        raise InvalidFileError(path, "empty WFDB header")
    number, first = body[0][0], body[0][1].split()
    where = f"malformed record line (line {number})"
    try:
        n_sig = int(first[1])
    except (IndexError, ValueError):
        raise InvalidFileError(
            path, f"{where}: signal count (field 2) is missing or not an integer"
        ) from None
    try:
        fs = float(first[2].split("/")[0])
    except (IndexError, ValueError):
        raise InvalidFileError(
            path, f"{where}: sampling frequency (field 3) is missing or not a number"
        ) from None
    try:
        n_samples = int(first[3]) if len(first) > 3 else 0
    except ValueError:
        raise InvalidFileError(
            path, f"{where}: number of samples (field 4) is not an integer"
        ) from None
    if n_sig < 1:
        raise InvalidFileError(path, "header declares no signals")
    if len(body) < 1 + n_sig:
        raise InvalidFileError(
            path, f"header declares {n_sig} signals but has {len(body) - 1} signal lines"
        )
    body = [ln for _, ln in body]
    sig_lines = [ln.split() for ln in body[1 : 1 + n_sig]]
    comments = [ln.strip().lstrip("#") for ln in lines if ln.strip().startswith("#")]
    return {
        "fs": fs,
        "n_samples": n_samples,
        "files": sorted({s[0] for s in sig_lines}),
        "sig_names": unique_names([s[8] if len(s) > 8 else "" for s in sig_lines]),
        **_label_comments(comments),
    }
