"""GDF 1.x / 2.x reader.

The fixed header, channel headers and event table are parsed and checked here (sizes,
data types, digital and physical ranges, plausible rates and durations, the number of records
against the file size, the event table against what is left after the data). Samples are then
decoded straight into float32 from one read of the file; files whose channels have different
rates are read with :func:`mne.io.read_raw_gdf`, which resamples the slower ones.
Events become annotations whose description is the event type code as a string (``"769"``),
so dataset loaders (BCI IV 2a) can map codes to classes, or the name ``event_names`` gives it.

Patient fields (id, name, birthday, weight, height, ...), the recording id, location and date
and the equipment, laboratory and technician ids are skipped and never reach
:attr:`Recording.meta`; the copy of a file of several rates handed to MNE has them blanked.
"""

from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from numbers import Integral
from pathlib import Path

import numpy as np

from biosig.errors import ConfigError, InvalidFileError
from biosig.io._mne import check_shape, keep_index, pick, read_samples, undo_scaling
from biosig.io._records import (
    ChannelLayout,
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
    to_target_units,
    unit_factors,
)
from biosig.signal.recording import Annotations, Recording

__all__ = ["read_gdf", "parse_gdf_header", "GDF_TYPES", "unit_from_code", "code_from_unit"]

#: GDF data type code -> numpy dtype (little endian), the types MNE reads.
GDF_TYPES = {
    1: np.dtype("<i1"),
    2: np.dtype("<u1"),
    3: np.dtype("<i2"),
    4: np.dtype("<u2"),
    5: np.dtype("<i4"),
    6: np.dtype("<u4"),
    7: np.dtype("<i8"),
    8: np.dtype("<u8"),
    16: np.dtype("<f4"),
    17: np.dtype("<f8"),
}

# GDF 2.x physical dimension codes (ISO/IEEE 11073-10101 "units.csv" of the GDF spec):
# the low 5 bits are a decimal prefix, the rest the base unit.
_PREFIX = {0: "", 16: "d", 17: "c", 18: "m", 19: "u", 20: "n", 21: "p", 3: "k", 4: "M"}
_BASE = {512: "", 544: "%", 4256: "V", 3872: "mmHg"}
_VOLT_CODES = {"V": 4256, "mV": 4256 + 18, "uV": 4256 + 19, "nV": 4256 + 20}


def unit_from_code(code: int) -> str:
    """Unit string of a GDF 2.x physical-dimension code (``4275`` -> ``"uV"``; 0 -> ``""``)."""
    if code == 0:
        return ""
    base, prefix = code & ~0x1F, code & 0x1F
    if base in _BASE and prefix in _PREFIX:
        unit = _PREFIX[prefix] + _BASE[base]
        return unit if base != 512 or prefix == 0 else ""
    return f"code{code}"


def code_from_unit(unit: str) -> int:
    """GDF 2.x physical-dimension code of a unit string (unknown units -> 0, "unspecified")."""
    u = norm_unit(unit)
    if u in _VOLT_CODES:
        return _VOLT_CODES[u]
    return {"": 512, "%": 544, "mmHg": 3872}.get(u, 0)


def _mne_factor(version: float, raw_unit: str, code: int) -> float:
    """The factor MNE 1.13's GDF reader applies: 1.x scales units starting with ``uV`` to
    volts; 2.x scales codes 4275 (µV) and 4274 (mV); everything else stays as stored."""
    if version < 1.9:
        return 1e-6 if raw_unit[:2] == "uV" else 1.0
    return {4275: 1e-6, 4274: 1e-3}.get(int(code), 1.0)


@dataclass
class GDFHeader:
    """The non-identifying part of a GDF header plus its event table."""

    version: float
    version_str: str
    header_bytes: int
    n_records: int
    record_duration: float
    labels: list[str]
    units: list[str]  # normalised ("uV", "mV", ...)
    units_raw: list[str]  # 1.x: header text; 2.x: "" (see unit_codes)
    unit_codes: np.ndarray  # 2.x physical dimension codes; 1.x: zeros
    n_samples: np.ndarray
    types: np.ndarray
    file_size: int
    physical_min: np.ndarray = field(default_factory=lambda: np.zeros(0))
    physical_max: np.ndarray = field(default_factory=lambda: np.zeros(0))
    digital_min: np.ndarray = field(default_factory=lambda: np.zeros(0))
    digital_max: np.ndarray = field(default_factory=lambda: np.zeros(0))
    events_pos: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    events_typ: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    events_dur: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    events_chn: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    event_mode: int = 0
    event_sfreq: float = 0.0

    @property
    def record_bytes(self) -> int:
        return int(
            sum(GDF_TYPES[int(t)].itemsize * int(n) for t, n in zip(self.types, self.n_samples))
        )

    @property
    def data_end(self) -> int:
        return self.header_bytes + self.n_records * self.record_bytes


def _text(b: bytes) -> str:
    return b.split(b"\x00", 1)[0].decode("latin-1").strip()


def parse_gdf_header(path: str | os.PathLike) -> GDFHeader:
    """Parse and validate a GDF 1.x/2.x header and its event table.

    Raises :class:`InvalidFileError` for a missing/empty/truncated file, a version string
    that is not GDF, inconsistent lengths, unsupported data types, fewer data bytes than the
    records the header claims, or a truncated/invalid event table.
    """
    path = as_path(path)
    size = check_file(path, min_size=256, what="GDF file")
    with open(path, "rb") as fid:
        fixed = fid.read(256)
        vstr = fixed[:8].decode("latin-1")
        if not vstr.startswith("GDF "):
            hint = (
                " (this looks like an EDF/BDF file)"
                if fixed[:8] in (b"0       ", b"\xffBIOSEMI")
                else ""
            )
            raise InvalidFileError(  # the field's bytes are not quoted: they could be anything
                path,
                f"not a GDF file: the version field (first 8 bytes) does not start 'GDF '{hint}",
            )
        try:
            version = float(vstr[4:])
        except ValueError:
            raise InvalidFileError(
                path, "the GDF version field does not end in a number (bytes 5-8, e.g. '2.20')"
            ) from None
        if not 1.0 <= version < 3.0:
            raise InvalidFileError(
                path,
                "unsupported GDF version: the version field holds a number outside 1.x-2.x "
                "(biosig reads GDF 1.x and 2.x)",
            )
        if version < 1.9:
            header_bytes = struct.unpack_from("<q", fixed, 184)[0]
            n_records = struct.unpack_from("<q", fixed, 236)[0]
            num, den = struct.unpack_from("<II", fixed, 244)
            ns = struct.unpack_from("<I", fixed, 252)[0]
        else:
            header_bytes = struct.unpack_from("<H", fixed, 184)[0] * 256
            n_records = struct.unpack_from("<q", fixed, 236)[0]
            num, den = struct.unpack_from("<II", fixed, 244)
            ns = struct.unpack_from("<H", fixed, 252)[0]
        if ns == 0 or ns > 65535:
            raise InvalidFileError(path, f"header declares {ns} channels")
        need = 256 * (ns + 1)
        if header_bytes < need:
            raise InvalidFileError(
                path, f"header length field says {header_bytes} bytes but {ns} channels need {need}"
            )
        if header_bytes > need:
            if version >= 1.9:
                raise InvalidFileError(
                    path,
                    f"GDF header 3 (tag-length-value, {header_bytes - need} bytes) present; "
                    "MNE's GDF reader cannot read such files",
                )
            raise InvalidFileError(
                path, f"header length field says {header_bytes} bytes, {ns} channels use {need}"
            )
        heads = SignalHeaders.read(fid, path, size, header_bytes, ns)
    col = heads.field
    arr = heads.array

    labels = [_text(b) for b in col(0, 16)]
    if version < 1.9:
        units_raw = [_text(b) for b in col(96, 8)]
        units = [norm_unit(u) for u in units_raw]
        codes = np.zeros(ns, np.int64)
        n_samples = arr(104 + 32 + 80, "<i4").astype(np.int64)
        types = arr(104 + 32 + 80 + 4, "<i4").astype(np.int64)
        dmin, dmax = arr(120, "<i8").astype(np.float64), arr(128, "<i8").astype(np.float64)
    else:
        codes = arr(102, "<u2").astype(np.int64)
        units = [unit_from_code(int(c)) for c in codes]
        units_raw = [""] * ns
        n_samples = arr(104 + 32 + 68 + 12, "<i4").astype(np.int64)
        types = arr(104 + 32 + 68 + 12 + 4, "<i4").astype(np.int64)
        dmin, dmax = arr(120, "<f8").copy(), arr(128, "<f8").copy()
    pmin, pmax = arr(104, "<f8").copy(), arr(112, "<f8").copy()
    for name, values in (("physical", (pmin, pmax)), ("digital", (dmin, dmax))):
        bad = [labels[i] for i in range(ns) if not np.all(np.isfinite([v[i] for v in values]))]
        if bad:
            raise InvalidFileError(path, f"channels {bad}: {name} minimum/maximum not finite")
    for i in range(ns):
        if dmax[i] <= dmin[i] or pmax[i] == pmin[i]:
            raise InvalidFileError(
                path,
                f"channel {labels[i]!r}: digital range [{dmin[i]:g}, {dmax[i]:g}] "
                f"or physical range [{pmin[i]:g}, {pmax[i]:g}] is empty",
            )

    bad_types = sorted({int(t) for t in types if int(t) not in GDF_TYPES})
    if bad_types:
        raise InvalidFileError(path, f"unsupported GDF data type code(s) {bad_types}")
    if len({GDF_TYPES[int(t)].itemsize for t in types}) > 1:
        raise InvalidFileError(
            path, "channels use data types of different sizes; MNE cannot read that"
        )
    if np.any(n_samples <= 0) or np.any(n_samples > 1 << 24):
        raise InvalidFileError(path, f"implausible samples per record {n_samples.tolist()}")
    if num == 0 or den == 0:
        raise InvalidFileError(path, f"data record duration {num}/{den} s is not positive")
    hdr = GDFHeader(
        version=version,
        version_str=vstr.strip(),
        header_bytes=header_bytes,
        n_records=n_records,
        record_duration=num / den,
        labels=labels,
        units=units,
        units_raw=units_raw,
        unit_codes=codes,
        n_samples=n_samples,
        types=types,
        file_size=size,
        physical_min=pmin,
        physical_max=pmax,
        digital_min=dmin,
        digital_max=dmax,
    )
    check_timing(path, n_samples / hdr.record_duration, max(n_records, 1) * hdr.record_duration)
    available = (size - header_bytes) // hdr.record_bytes
    if n_records <= 0:
        raise InvalidFileError(
            path,
            f"header declares {n_records} data records (the file holds {available} complete "
            "records)",
        )
    if available < n_records:
        raise InvalidFileError(
            path,
            f"header claims {n_records} data records of {hdr.record_bytes} bytes but the file "
            f"holds only {available} complete records: truncated file",
        )
    _parse_event_table(path, hdr)
    return hdr


def _parse_event_table(path: Path, hdr: GDFHeader) -> None:
    rest = hdr.file_size - hdr.data_end
    if rest == 0:
        return
    with open(path, "rb") as fid:
        fid.seek(hdr.data_end)
        table = fid.read()
    if len(table) < 8:
        raise InvalidFileError(
            path, f"event table is truncated ({len(table)} bytes after the data, need 8)"
        )
    mode = table[0]
    if mode not in (1, 3):
        raise InvalidFileError(
            path, f"event table mode {mode} is not supported (GDF defines 1 and 3)"
        )
    if hdr.version < 1.94:
        sr = table[1] | table[2] << 8 | table[3] << 16
        n = struct.unpack_from("<I", table, 4)[0]
    else:
        n = table[1] | table[2] << 8 | table[3] << 16
        sr = struct.unpack_from("<f", table, 4)[0]
    per = 6 if mode == 1 else 12
    if len(table) < 8 + n * per:
        raise InvalidFileError(
            path,
            f"event table claims {n} events ({8 + n * per} bytes) but only {len(table)} bytes "
            "follow the data: truncated file",
        )
    pos = np.frombuffer(table, "<u4", n, 8).astype(np.int64)
    typ = np.frombuffer(table, "<u2", n, 8 + 4 * n).astype(np.int64)
    if mode == 3:
        chn = np.frombuffer(table, "<u2", n, 8 + 6 * n).astype(np.int64)
        dur = np.frombuffer(table, "<u4", n, 8 + 8 * n).astype(np.int64)
    else:
        chn = np.zeros(n, np.int64)
        dur = np.zeros(n, np.int64)
    if len(table) != 8 + n * per:
        raise InvalidFileError(
            path,
            f"event table of {n} events is {8 + n * per} bytes but {len(table)} bytes follow "
            "the data (a wrong record count, samples per record or event count)",
        )
    if not (sr == 0 or np.isfinite(sr)):
        raise InvalidFileError(path, f"event table sampling rate {sr!r} is not finite")
    if sr != 0:
        check_timing(path, sr, 1.0, what="event table sampling rate")
    hdr.events_pos, hdr.events_typ, hdr.events_chn, hdr.events_dur = pos, typ, chn, dur
    hdr.event_mode, hdr.event_sfreq = mode, float(sr)


def read_gdf(
    path: str | os.PathLike,
    *,
    exclude: Iterable[str] = (),
    ch_types: Mapping[str, str] | None = None,
    event_names: Mapping[int, str] | None = None,
) -> Recording:
    """Read a GDF 1.x or 2.x file into a :class:`Recording`.

    Parameters
    ----------
    path : path to a ``.gdf`` file.
    exclude : channel labels to leave out.
    ch_types : optional ``{label: type}`` overriding the inferred types (ECG lead names,
        keywords such as ``ECG``/``EOG``; else EEG for voltage channels, misc for the rest).
    event_names : optional ``{code: name}`` giving event type codes their descriptions (GDF
        stores codes only), e.g. ``{769: "left_hand"}``; a code may also be given in its
        string form (``"769"``). Codes not in it keep their string form. The inverse of
        :func:`~biosig.io.write.write_gdf`'s ``event_codes``.

    Returns
    -------
    Recording
        float32 ``(n_chans, n_times)``; EEG/EOG/EMG in µV, ECG in mV, other channels in
        their file unit. Each event of the GDF event table is an annotation with description =
        its name in ``event_names``, else the event type code as a string (e.g. ``"769"``),
        onset = (position - 1) / event rate (the table's rate, else ``sfreq``) and duration in
        s (mode 3; 0 for mode 1 tables). An event whose onset lies outside the data is
        dropped with a RuntimeWarning naming the file, its number and onset. ``meta``:
        ``format`` (``"GDF 2.20"``), ``source``, ``n_events`` (of the file's table, dropped
        ones included), ``event_mode``, ``n_nan``, ``n_inf``, ``upsampled_channels``.

    Raises
    ------
    InvalidFileError
        Missing, empty, truncated or malformed file.
    ConfigError
        ``event_names`` is not a mapping, or has a key that is not a GDF event type code (an
        int in [0, 65535] or its string form), a value that is not a non-empty string, or
        two names for one code.
    """
    names_of = _event_name_map(event_names)
    path = as_path(path)
    hdr = parse_gdf_header(path)
    finite = False  # every sample known finite without a scan
    if len(set(hdr.n_samples.tolist())) == 1:
        data, names, types, units, finite = _decode(path, hdr, exclude, ch_types)
        upsampled: list[str] = []
    else:
        data, names, types, units, upsampled = _read_mixed_rates(path, hdr, exclude, ch_types)
    sfreq = float(hdr.n_samples.max()) / hdr.record_duration
    # Annotations from the event table parsed above: positions are 1-based samples at the
    # event rate (MNE assumes the signal rate); mode 1 events have no duration. Events outside
    # the data are dropped with a warning, as the EDF reader's annotations (and as MNE does).
    ev_fs = hdr.event_sfreq if hdr.event_sfreq > 0 else sfreq
    meta = {
        "format": hdr.version_str,
        "source": path.name,
        "n_events": int(len(hdr.events_typ)),
        "event_mode": hdr.event_mode,
        # channels stored at a lower rate than sfreq; MNE resampled them to sfreq
        "upsampled_channels": upsampled,
    }
    descriptions = [names_of.get(int(t), str(int(t))) for t in hdr.events_typ]
    onset, duration, descriptions = drop_onsets_outside(
        path, (hdr.events_pos - 1) / ev_fs, hdr.events_dur / ev_fs, descriptions,
        data.shape[1] / sfreq, sfreq, "GDF event")
    annotations = Annotations.from_lists(onset, duration, descriptions)
    nonfinite = (0, 0) if finite else None
    return make_recording(data, sfreq, names, types, units, annotations, meta, nonfinite=nonfinite)


def _event_name_map(event_names) -> dict[int, str]:
    """``event_names`` as ``{int code: name}``; a ConfigError naming a bad key or value."""
    if event_names is None:
        return {}
    if not isinstance(event_names, Mapping):
        raise ConfigError(f"read_gdf: event_names must be a mapping {{code: name}}, got "
                          f"{type(event_names).__name__}")
    out: dict[int, str] = {}
    for key, name in event_names.items():
        if isinstance(key, str) and key.strip().isdigit():
            code = int(key)
        elif isinstance(key, Integral) and not isinstance(key, bool):
            code = int(key)
        else:
            code = -1
        if not 0 <= code <= 65535:
            raise ConfigError(f"read_gdf: event_names key {key!r} is not a GDF event type code "
                              "(an int in [0, 65535], or its string form such as '769')")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"read_gdf: event_names[{key!r}] must be a non-empty string (the "
                              f"event's description), got {name!r}")
        if out.get(code, name) != name:
            raise ConfigError(f"read_gdf: event_names gives code {code} two names: "
                              f"{out[code]!r} and {name!r}")
        out[code] = name
    return out


def _decode(path: Path, hdr: GDFHeader, exclude, ch_types):
    """The kept channels (all at one rate) as float32 in Recording units, decoded from one
    read of the data records: ``(data, names, types, units, always_finite)``."""
    names_all = unique_names(hdr.labels)  # as MNE names them (a repeated label gets "-k")
    keep = keep_index(path, names_all, hdr.labels, exclude)
    names = [names_all[i] for i in keep]
    file_units = [hdr.units[i] for i in keep]
    types = resolve_ch_types(
        names, file_units, ch_types, default_voltage="eeg", ecg_leads=True, path=path,
        labels=[hdr.labels[i] for i in keep],
    )
    factors, units = unit_factors(file_units, types)
    gain, offset = gain_offset(hdr.physical_min, hdr.physical_max, hdr.digital_min, hdr.digital_max)
    dtypes = [GDF_TYPES[int(t)] for t in hdr.types]
    sizes = [dt.itemsize * int(n) for dt, n in zip(dtypes, hdr.n_samples)]
    starts = np.concatenate([[0], np.cumsum(sizes)])
    layout = [
        ChannelLayout(int(starts[i]), int(hdr.n_samples[i]), dtypes[i], gain[i] * f, offset[i] * f)
        for i, f in zip(keep, factors)
    ]
    records = read_data_section(path, hdr.header_bytes, hdr.n_records, hdr.record_bytes)
    return decode_channels(records, layout), names, types, units, always_finite(layout)


#: What MNE is handed instead of the identification and patient fields of a GDF 1.x / 2.x
#: fixed header (offset: bytes): an anonymous patient ``X X X X``, blank text, zeros (GDF's
#: "unknown") for the binary fields. biosig never uses them; MNE decodes the patient field as
#: UTF-8 and fails on Latin-1 names. Kept: the version, lengths, counts and electrode positions.
_ANONYMOUS_FIELDS = {
    1: {
        8: b"X X X X".ljust(80),  # patient
        88: b" " * 80,  # recording id
        168: b" " * 16,  # start date and time (text)
        192: bytes(24),  # equipment provider, laboratory and technician ids
    },
    2: {
        8: b"X X X X".ljust(66),  # patient
        84: bytes(4),  # smoking..., weight, height, sex/handedness/impairments
        88: b" " * 64,  # recording id
        152: bytes(32),  # recording location, start date, birthday
        186: bytes(26),  # patient classification, equipment provider id, reserved, head size
    },
}


def _anonymised_copy(path: Path, hdr: GDFHeader, folder: str) -> Path:
    """A copy of the file in ``folder`` with the identification and patient fields blanked
    (:data:`_ANONYMOUS_FIELDS`), plus an empty event table where a GDF 1.x file has none (MNE
    1.13 fails reading its mode byte)."""
    raw = bytearray(path.read_bytes())
    for offset, blank in _ANONYMOUS_FIELDS[1 if hdr.version < 1.9 else 2].items():
        raw[offset : offset + len(blank)] = blank
    if hdr.version < 1.9 and hdr.file_size == hdr.data_end:
        raw += bytes([1, 0, 0, 0, 0, 0, 0, 0])
    out = Path(folder) / "anonymised.gdf"
    out.write_bytes(bytes(raw))
    return out


def _read_mixed_rates(path: Path, hdr: GDFHeader, exclude, ch_types):
    """Channels at different rates: MNE reads them and resamples the slower ones to the
    highest rate. Returns ``(data, names, types, units, upsampled)``."""
    import mne

    with tempfile.TemporaryDirectory(prefix="biosig_gdf_") as tmp:
        source = _anonymised_copy(path, hdr, tmp)
        data, _, mne_names = read_samples(path, mne.io.read_raw_gdf, "GDF", source=source)
    check_shape(path, data, (len(hdr.labels), hdr.n_records * int(hdr.n_samples.max())))
    undo_scaling(
        data, [_mne_factor(hdr.version, r, c) for r, c in zip(hdr.units_raw, hdr.unit_codes)]
    )
    data, names, labels, units, upsampled = pick(
        path, data, mne_names, hdr.labels, hdr.units, hdr.n_samples, exclude
    )
    types = resolve_ch_types(
        names, units, ch_types, default_voltage="eeg", ecg_leads=True, path=path, labels=labels
    )
    data, units = to_target_units(data, units, types)
    return data, names, types, units, upsampled
