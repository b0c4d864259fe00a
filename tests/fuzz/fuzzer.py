"""A seeded fuzzer for biosig's readers (issue #14): EDF, BDF, GDF, WFDB, BCI IV 2a true-label
``.mat`` and TUEV ``.rec`` files, real ones from ../shared/data where present and files written
here otherwise.

Each case copies one source's files into a fresh folder, mutates one file and reads it back:

- ``truncate``: cut at a random byte;
- ``flip``: 1-6 random bytes set to random values (anywhere, or inside the header);
- ``field``: one header field the reader uses set to an invalid value (not a number, NaN, inf,
  negative, zero, implausibly large, or inconsistent with the file size);
- ``unused``: a field the reader never uses (patient name, reserved bytes, comments, checksums,
  extra variables) set to random bytes, non-UTF-8 included.

Outcomes: ``error`` (a biosig error), ``equal`` (the recording equals the original),
``changed`` (it differs) and ``foreign`` (any other exception). Failures: ``foreign`` anywhere;
``changed`` after a ``field`` mutation (silent garbage); anything but ``equal`` after an
``unused`` mutation. ``changed`` after a truncation or byte flip in the data is expected (a
flipped sample is undetectable without a checksum).
"""

from __future__ import annotations

import collections
import gzip
import shutil
import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from biosig.errors import BiosigError

KINDS = ("truncate", "flip", "field", "unused")
Files = dict  # file name -> bytes


@dataclass
class Source:
    """Files of one record, how to read them, and the field mutations that apply."""

    name: str
    fmt: str
    files: Files
    read: Callable[[Path], object]
    fields: list[tuple[str, Callable[[Files], Files]]] = field(default_factory=list)
    unused: list[tuple[str, Callable[[Files, np.random.Generator], Files]]] = field(
        default_factory=list
    )
    header_bytes: int = 512


# --------------------------------------------------------------------------- helpers


def _put(files: Files, name: str, pos: int, new: bytes) -> Files:
    b = bytearray(files[name])
    b[pos : pos + len(new)] = new
    return {**files, name: bytes(b)}


def _text(value: str, width: int) -> bytes:
    return value.encode("latin-1")[:width].ljust(width)


def _junk(rng: np.random.Generator, n: int) -> bytes:
    """Random bytes, non-UTF-8 and NUL included."""
    return bytes(rng.integers(0, 256, n).astype(np.uint8))


def same(a, b) -> bool:
    """Recordings (or label arrays) equal in data, names, rates, units and annotations; tuples
    of them element by element, lists (trial tables) by ``==``."""
    if isinstance(a, tuple) or isinstance(b, tuple):
        return (isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b)
                and all(same(x, y) for x, y in zip(a, b)))  # fmt: skip
    if isinstance(a, list) or isinstance(b, list):
        return a == b
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.shape == b.shape
            and np.array_equal(a, b, equal_nan=True)
        )
    return (
        a.ch_names == b.ch_names
        and a.ch_types == b.ch_types
        and a.units == b.units
        and a.sfreq == b.sfreq
        and a.data.shape == b.data.shape
        and np.array_equal(a.data, b.data, equal_nan=True)
        and np.array_equal(a.annotations.onset, b.annotations.onset)
        and np.array_equal(a.annotations.duration, b.annotations.duration)
        and list(a.annotations.description) == list(b.annotations.description)
    )


# --------------------------------------------------------------------------- EDF / BDF

_EDF_BAD_NUMBERS = ("abc", "nan", "inf", "-inf", "", "1e-300", "1e9", "1e300")


def edf_source(name: str, raw: bytes, read) -> Source:
    """EDF/BDF fields: record count, record duration, signal count, header length, physical
    and digital ranges, samples per record (invalid or inconsistent values only)."""
    fname = "x.bdf" if raw[:1] == b"\xff" else "x.edf"
    files = {fname: raw}
    ns = int(raw[252:256])
    n_rec = int(raw[236:244])

    def fixed(pos, width, value):
        return lambda f: _put(f, fname, pos, _text(value, width))

    def per(offset, width, i, value):
        return lambda f: _put(f, fname, 256 + offset * ns + i * width, _text(value, width))

    heads = raw[256 : 256 * (ns + 1)]

    def col(offset, width, i):
        return heads[offset * ns + i * width : offset * ns + (i + 1) * width].decode("latin-1")

    fields = []
    for v in ("abc", "", "-1", "0", str(n_rec + 1), str(n_rec - 1) if n_rec > 1 else "-5"):
        fields.append((f"n_records={v!r}", fixed(236, 8, v)))
    for v in ("abc", "nan", "inf", "", "-1", "0", "1e-300", "1e9", "-0.5"):
        fields.append((f"record_duration={v!r}", fixed(244, 8, v)))
    for v in ("abc", "", "0", "-1", str(ns + 1), str(ns - 1)):
        fields.append((f"ns={v!r}", fixed(252, 4, v)))
    for v in ("abc", "", "0", str(256 * (ns + 2))):
        fields.append((f"header_bytes={v!r}", fixed(184, 8, v)))
    for i in range(ns):
        label = col(0, 16, i).strip()
        if label in ("EDF Annotations", "BDF Annotations"):
            continue
        pmin, pmax, dmin, dmax = (col(o, 8, i) for o in (104, 112, 120, 128))
        for v in ("abc", "nan", "inf", ""):
            fields.append((f"{label} physical_min={v!r}", per(104, 8, i, v)))
            fields.append((f"{label} physical_max={v!r}", per(112, 8, i, v)))
        for v in ("abc", "nan", "", "1.5"):
            fields.append((f"{label} digital_min={v!r}", per(120, 8, i, v)))
            fields.append((f"{label} digital_max={v!r}", per(128, 8, i, v)))
        fields.append((f"{label} physical_max=physical_min", per(112, 8, i, pmin)))
        fields.append((f"{label} digital_max=digital_min", per(128, 8, i, dmin)))
        fields.append(
            (
                f"{label} digital range swapped",
                lambda f, i=i, a=dmin, b=dmax: per(128, 8, i, a.strip())(
                    per(120, 8, i, b.strip())(f)
                ),
            )
        )
        n = int(col(216, 8, i))
        for v in ("abc", "", "0", "-1", "1e9", str(n + 1), str(max(n - 1, 0)), str(2 * n)):
            fields.append((f"{label} samples_per_record={v!r}", per(216, 8, i, v)))

    reserved_start = 197 if raw[192:197] in (b"EDF+C", b"EDF+D") else 192
    unused = [
        ("patient", lambda f, r: _put(f, fname, 8, _junk(r, 80))),
        ("recording id", lambda f, r: _put(f, fname, 88, _junk(r, 80))),
        ("start date+time", lambda f, r: _put(f, fname, 168, _junk(r, 16))),
        ("reserved", lambda f, r: _put(f, fname, reserved_start, _junk(r, 236 - reserved_start))),
    ]
    for offset, width, what in (
        (16, 80, "transducer"),
        (136, 80, "prefilter"),
        (224, 32, "reserved"),
    ):
        unused.append(
            (
                f"signal {what}",
                lambda f, r, o=offset, w=width: _put(
                    f, fname, 256 + o * ns + int(r.integers(ns)) * w, _junk(r, w)
                ),
            )
        )
    return Source(
        name,
        "BDF" if fname.endswith("bdf") else "EDF",
        files,
        lambda d: read(d / fname),
        fields,
        unused,
        header_bytes=256 * (ns + 1),
    )


# --------------------------------------------------------------------------- GDF


def gdf_source(name: str, raw: bytes, read) -> Source:
    """GDF 2.x fields (binary): record count, duration, channel count, ranges, samples per
    record, data type, the event table's count and rate."""
    fname = "x.gdf"
    files = {fname: raw}
    ns = struct.unpack_from("<H", raw, 252)[0]
    n_rec = struct.unpack_from("<q", raw, 236)[0]
    version = float(raw[4:8].decode("latin-1"))

    def pack(pos, fmt, value):
        values = value if isinstance(value, tuple) else (value,)
        return lambda f: _put(f, fname, pos, struct.pack(fmt, *values))

    def chan(offset, fmt, i, value):
        return pack(256 + offset * ns + i * struct.calcsize(fmt), fmt, value)

    fields = [
        *((f"n_records={v}", pack(236, "<q", v)) for v in (-1, 0, n_rec + 1, n_rec - 1, 2**40)),
        *(
            (f"duration={v[0]}/{v[1]} s", pack(244, "<II", v))
            for v in ((0, 1), (1, 0), (1, 10**9), (10**9, 1))
        ),
        *((f"ns={v}", pack(252, "<H", v)) for v in (0, ns + 1, max(ns - 1, 0), 65535)),
    ]
    is2 = version >= 1.9
    sizes = {3: 2, 16: 4, 17: 8, 5: 4}
    for i in range(ns):
        pmin = raw[256 + 104 * ns + 8 * i : 256 + 104 * ns + 8 * (i + 1)]
        dmin = raw[256 + 120 * ns + 8 * i : 256 + 120 * ns + 8 * (i + 1)]
        for v in (np.nan, np.inf, -np.inf):
            fields.append((f"ch{i} physical_min={v}", chan(104, "<d", i, v)))
            if is2:
                fields.append((f"ch{i} digital_max={v}", chan(128, "<d", i, v)))
        fields.append(
            (
                f"ch{i} physical_max=physical_min",
                lambda f, i=i, b=pmin: _put(f, fname, 256 + 112 * ns + 8 * i, b),
            )
        )
        fields.append(
            (
                f"ch{i} digital_max=digital_min",
                lambda f, i=i, b=dmin: _put(f, fname, 256 + 128 * ns + 8 * i, b),
            )
        )
        n = struct.unpack_from("<i", raw, 256 + 216 * ns + 4 * i)[0]  # same offset in 1.x
        for v in (0, -1, n + 1, 2 * n, 2**30):
            fields.append((f"ch{i} samples_per_record={v}", chan(216, "<i", i, v)))
        typ = struct.unpack_from("<i", raw, 256 + 220 * ns + 4 * i)[0]
        for v in (0, 99, -3, *(t for t, s in sizes.items() if s != sizes.get(typ))):
            fields.append((f"ch{i} type={v}", chan(220, "<i", i, v)))
    from biosig.io.gdf import parse_gdf_header

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / fname).write_bytes(raw)
        hdr = parse_gdf_header(Path(tmp) / fname)
    if hdr.file_size > hdr.data_end and is2:
        end = hdr.data_end
        n_ev = len(hdr.events_typ)
        for v in (n_ev + 1, 2**23 - 1):
            fields.append(
                (
                    f"n_events={v}",
                    lambda f, v=v: _put(
                        f, fname, end + 1, bytes([v & 255, v >> 8 & 255, v >> 16 & 255])
                    ),
                )
            )
        for v in (np.nan, np.inf, -1.0, 1e12):
            fields.append((f"event_rate={v}", pack(end + 4, "<f", v)))
        fields.append(("event_mode=2", lambda f: _put(f, fname, end, b"\x02")))
    unused = [("patient", lambda f, r: _put(f, fname, 8, _junk(r, 66 if is2 else 80)))]
    if is2:
        unused += [
            ("recording id", lambda f, r: _put(f, fname, 88, _junk(r, 64))),
            (
                "signal transducer",
                lambda f, r: _put(f, fname, 256 + 16 * ns + 80 * int(r.integers(ns)), _junk(r, 80)),
            ),
            (
                "signal filters",
                lambda f, r: _put(f, fname, 256 + 204 * ns + 4 * int(r.integers(ns)), _junk(r, 4)),
            ),
        ]
    return Source(
        name, "GDF", files, lambda d: read(d / fname), fields, unused, header_bytes=256 * (ns + 1)
    )


# --------------------------------------------------------------------------- WFDB


def wfdb_source(name: str, folder: Path, record: str, read) -> Source:
    """WFDB header fields: sampling frequency, sample count, signal count; per signal: storage
    format, gain, integer fields; the last line cut short."""
    files = {p.name: p.read_bytes() for p in sorted(folder.glob(record + ".*"))}
    hea = record + ".hea"
    text = files[hea].decode("latin-1")
    lines = text.splitlines(keepends=True)
    body = [k for k, ln in enumerate(lines) if ln.strip() and not ln.lstrip().startswith("#")]
    rec_k, sig_ks = body[0], body[1:]

    def token(k, j, value):
        def mutate(f):
            ls = list(lines)
            tok = ls[k].rstrip("\r\n").split(" ")
            tok[j] = value
            ls[k] = " ".join(tok) + "\n"
            return {**f, hea: "".join(ls).encode("latin-1")}

        return mutate

    rtok = lines[rec_k].split()
    fields = [(f"fs={v!r}", token(rec_k, 2, v)) for v in ("abc", "nan", "-500", "0", "1e12", "inf")]
    if len(rtok) > 3:
        n = int(rtok[3])
        fields += [
            (f"n_samples={v!r}", token(rec_k, 3, v))
            for v in ("abc", "-1", str(n + 1), "1.5", str(10**15))
        ]
    fields += [(f"n_sig={v!r}", token(rec_k, 1, v)) for v in ("abc", str(len(sig_ks) + 1), "-1")]
    for s, k in enumerate(sig_ks):
        fields += [(f"sig{s} fmt={v!r}", token(k, 1, v)) for v in ("abc", "16x", "7", "")]
        fields += [
            (f"sig{s} gain={v!r}", token(k, 2, v))
            for v in ("abc", "nan", "-200", "2x0", "inf", "0", "0(0)/mV")  # 0: uncalibrated
        ]
        for j, what in ((3, "adcres"), (4, "adczero"), (5, "initval")):
            if len(lines[k].split()) > j:
                fields += [(f"sig{s} {what}={v!r}", token(k, j, v)) for v in ("abc", "1.5")]
    last = lines[sig_ks[-1]]
    cut_at = sum(len(ln) for ln in lines[: sig_ks[-1]])
    if sig_ks[-1] == len(lines) - 1 or not "".join(lines[sig_ks[-1] + 1 :]).strip():
        for frac in (0.3, 0.6, 0.9):
            n = cut_at + max(1, int(frac * len(last.rstrip("\r\n"))))
            fields.append(
                (f"hea cut at {frac:.0%} of its last line", lambda f, n=n: {**f, hea: f[hea][:n]})
            )
    unused = [
        # any byte but the line breaks of the format and of Python's str.splitlines, which
        # wfdb uses (\v, \f, 0x1c-0x1e would start a new, non-comment line there)
        (
            "comment line",
            lambda f, r: {
                **f,
                hea: f[hea]
                + b"# "
                + bytes(c for c in _junk(r, 40) if c not in (10, 11, 12, 13, 28, 29, 30))
                + b"\n",
            },
        ),
    ]
    if len(lines[sig_ks[0]].split()) > 6:
        unused.append(
            ("checksum", lambda f, r: token(sig_ks[0], 6, str(int(r.integers(-32768, 32767))))(f))
        )
    return Source(
        name,
        "WFDB",
        files,
        lambda d: read(d / record),
        fields,
        unused,
        header_bytes=len(files[hea]),
    )


# --------------------------------------------------------------------------- labels, .rec


def labels_source(name: str, path: Path, read) -> Source:
    """BCI IV 2a true-label ``.mat``: ``classlabel`` replaced by values of a wrong type/shape."""
    from scipy.io import loadmat, savemat

    lab = loadmat(path)["classlabel"]

    def saved(**variables) -> Callable[[Files], Files]:
        def mutate(f):
            with tempfile.TemporaryDirectory() as tmp:
                savemat(Path(tmp) / "m.mat", variables)
                return {**f, path.name: (Path(tmp) / "m.mat").read_bytes()}

        return mutate

    bad = {
        "(n, 2)": np.hstack([lab, lab]),
        "1.7": lab.astype(float) + 0.7,
        "inf": np.where(np.arange(len(lab))[:, None] == 3, np.inf, lab.astype(float)),
        "0": np.zeros_like(lab),
        "5": lab * 0 + 5,
        "text": np.array(["left"] * 4, dtype=object),
        "empty": np.zeros((0, 1)),
    }
    fields = [(f"classlabel={k}", saved(classlabel=v)) for k, v in bad.items()]
    fields.append(("no classlabel", saved(labels=lab)))
    unused = [("extra variable", lambda f, r: saved(classlabel=lab, note=_junk(r, 20).hex())(f))]
    return Source(
        name,
        "BCI IV 2a labels",
        {path.name: path.read_bytes()},
        lambda d: read(d / path.name),
        fields,
        unused,
        header_bytes=128,
    )


def bnci_source(name: str, read) -> Source:
    """A BNCI Horizon ``.mat`` (compressed, as published): a ``data`` cell of two run structs;
    fields replaced by values of a wrong rate, shape, type or range, or left out."""
    from scipy.io import savemat

    rng = np.random.default_rng(1)
    fname = "x.mat"

    def run():
        return {"X": rng.normal(0, 10, (300, 25)), "trial": np.array([[20.0], [150.0]]),
                "y": np.array([[1.0], [4.0]]), "fs": 250.0, "artifacts": np.array([[0.0], [1.0]]),
                "classes": np.array(["left hand", "right hand", "feet", "tongue"], dtype=object),
                "gender": "f", "age": 22.0}  # fmt: skip

    runs = [run(), run()]

    def second_run(**change):  # runs[1] with fields replaced (None: left out)
        return {k: v for k, v in {**runs[1], **change}.items() if v is not None}

    def saved(variables) -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            savemat(Path(tmp) / fname, variables, do_compression=True)
            return (Path(tmp) / fname).read_bytes()

    def cell(*rs):
        c = np.empty((1, len(rs)), dtype=object)
        for i, r in enumerate(rs):
            c[0, i] = r
        return {"data": c}

    def put(variables) -> Callable[[Files], Files]:
        packed = saved(variables)
        return lambda f: {**f, fname: packed}

    bad = {
        "fs=128": {"fs": 128.0},
        "X 24 columns": {"X": runs[1]["X"][:, :24]},
        "X text": {"X": np.array(["a", "b"], dtype=object)},
        "trial past the run": {"trial": np.array([[20.0], [301.0]])},
        "trial 0": {"trial": np.array([[0.0], [150.0]])},
        "y=5": {"y": np.array([[1.0], [5.0]])},
        "y=1.5": {"y": np.array([[1.0], [1.5]])},
        "one artifact flag": {"artifacts": np.array([[0.0]])},
        "no trial field": {"trial": None},
    }
    fields = [(k, put(cell(runs[0], second_run(**v)))) for k, v in bad.items()]
    fields.append(("no data variable", put({"runs": cell(*runs)["data"]})))

    def other_notes(f: Files, r: np.random.Generator) -> Files:
        notes = {"classes": _junk(r, 12).hex(), "gender": _junk(r, 3).hex(),
                 "age": float(r.integers(0, 99))}  # fmt: skip
        return put(cell(runs[0], second_run(**notes)))(f)

    unused = [
        ("classes, gender, age", other_notes),
        ("extra variable", lambda f, r: put({**cell(*runs), "note": _junk(r, 20).hex()})(f)),
    ]
    return Source(name, "BNCI mat", {fname: saved(cell(*runs))}, lambda d: read(d / fname),
                  fields, unused, header_bytes=128)  # fmt: skip


def fif_source(name: str, raw: bytes, read, gz: bool = False) -> Source:
    """A FIF raw file (MNE's format): the sampling rate or the channel count replaced by
    invalid values; the experimenter's name (never read) replaced by random bytes. ``gz``: a
    ``.fif.gz`` (cut and flipped in its gzip stream; the fields changed inside it)."""
    from io_fixtures import fif_tags

    fname = "w_raw.fif.gz" if gz else "w_raw.fif"
    tags = {}
    for pos, kind, _, size in fif_tags(raw):  # the first tag of each kind: data position, size
        tags.setdefault(kind, (pos + 16, size))
    sfreq_at, nchan_at = tags[201][0], tags[200][0]  # FIFF_SFREQ (float), FIFF_NCHAN (int)
    name_at, name_size = tags[212]  # FIFF_EXPERIMENTER

    def put(pos: int, new: bytes) -> Callable[[Files], Files]:
        return lambda f: _put(f, fname, pos, new)

    fields = [(f"sfreq={v}", put(sfreq_at, struct.pack(">f", v)))
              for v in (float("nan"), float("inf"), 0.0, -250.0, 1e30)]  # fmt: skip
    fields += [(f"nchan={v}", put(nchan_at, struct.pack(">i", v))) for v in (0, -1, 4, 10**6)]
    unused = [("experimenter", lambda f, r: _put(f, fname, name_at, _junk(r, name_size)))]
    if gz:
        def inside(change):  # the change made to the decompressed bytes, compressed again
            def run(f: Files, *rng) -> Files:
                out = change({**f, fname: gzip.decompress(f[fname])}, *rng)
                return {**out, fname: gzip.compress(out[fname], mtime=0)}
            return run

        fields = [(label, inside(change)) for label, change in fields]
        unused = [(label, inside(change)) for label, change in unused]
        raw = gzip.compress(raw, mtime=0)
    return Source(name, "FIF gz" if gz else "FIF", {fname: raw}, lambda d: read(d / fname),
                  fields, unused, header_bytes=1024)  # fmt: skip


def rec_source(name: str, text: str, read) -> Source:
    """TUEV ``.rec`` rows: fields of a wrong type, out of range, missing or extra."""
    fname = "x.rec"
    rows = text.splitlines()

    def row(k, value):
        return lambda f: {
            **f,
            fname: "\n".join(rows[:k] + [value] + rows[k + 1 :]).encode() + b"\n",
        }

    k = len(rows) // 2
    bad = (
        "1.7,10.0,11.0,2",
        "inf,10.0,11.0,2",
        "nan,1,2,3",
        "-1,1,2,3",
        "22,1,2,3",
        "1,1,2,0",
        "1,1,2,7",
        "1,1,2,2.5",
        "1,-1,2,3",
        "1,3,2,3",
        "1,2,2,3",
        "1,2,3",
        "1,2,3,4,5",
        "a,b,c,d",
        "1,1e400,2,3",
        "1,1,2,",
    )
    fields = [(f"row={v!r}", row(k, v)) for v in bad]
    unused = [
        ("CRLF line ends", lambda f, r: {**f, fname: f[fname].replace(b"\n", b"\r\n")}),
        (
            "blank lines and spaces",
            lambda f, r: {**f, fname: f[fname].replace(b",", b" , ").replace(b"\n", b"\n\n")},
        ),
    ]
    return Source(
        name,
        "TUEV rec",
        {fname: text.encode() + b"\n"},
        lambda d: read(d / fname),
        fields,
        unused,
        header_bytes=64,
    )


# --------------------------------------------------------------------------- sources


def _fif_bytes(rec, work: Path) -> bytes:
    """``rec`` saved by MNE as a FIF raw file (SI units), with an experimenter's name."""
    import mne

    scale = np.array([1e-6 if u == "uV" else 1e-3 for u in rec.units])[:, None]
    info = mne.create_info(rec.ch_names, rec.sfreq, rec.ch_types, verbose="error")
    info["experimenter"] = "someone"
    raw = mne.io.RawArray(rec.data.astype(np.float64) * scale, info, verbose="error")
    a = rec.annotations
    raw.set_annotations(mne.Annotations(a.onset, a.duration, list(a.description)))
    raw.save(work / "w_raw.fif", verbose="error")
    return (work / "w_raw.fif").read_bytes()


def sources(shared: Path, work: Path) -> list[Source]:
    """Real files under ``shared`` where present, plus files written into ``work``."""
    from biosig.io import Annotations, Recording, read_bnci, read_recording, read_rec
    from biosig.io import read_true_labels
    from biosig.io import write_edf, write_gdf

    rng = np.random.default_rng(0)
    rec = Recording(
        rng.normal(0, 20, (3, 500)).astype(np.float32),
        250.0,
        ["C3", "C4", "ECG"],
        ["eeg", "eeg", "ecg"],
        ["uV", "uV", "mV"],
        Annotations.from_lists([0.5, 1.0], [0.0, 0.5], ["769", "770"]),
    )
    out = [
        edf_source("written EDF+", write_edf(work / "w.edf", rec).read_bytes(), read_recording),
        gdf_source("written GDF 2.20", write_gdf(work / "w.gdf", rec).read_bytes(), read_recording),
        gdf_source(
            "written GDF 1.25",
            write_gdf(work / "w1.gdf", rec, version="1.25").read_bytes(),
            read_recording,
        ),
    ]
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from io_fixtures import bdf_bytes

    digital = rng.integers(-(2**23), 2**23, size=(3, 512))
    out.append(edf_source("written BDF", bdf_bytes(digital, 256), read_recording))
    real_edf = [
        "eeg_edf/mne-testing-data/subsecond_starttime.edf",
        "eeg_edf/mne-testing-data/MB0400FU.EDF",
        "eeg_edf/eegmat/Subject00_2.edf",
    ]
    for rel in real_edf:
        if (shared / rel).exists():
            out.append(edf_source(rel, (shared / rel).read_bytes(), read_recording))
    if (shared / "gdf/mne-testing-data/test_1ch.gdf").exists():
        out.append(
            gdf_source(
                "test_1ch.gdf",
                (shared / "gdf/mne-testing-data/test_1ch.gdf").read_bytes(),
                read_recording,
            )
        )
    for rel in ("ecg_wfdb/ptb-xl/00001_lr", "ecg_wfdb/cinc2021/E07500", "ecg_wfdb/mitdb/100"):
        p = shared / rel
        if p.with_suffix(".hea").exists():
            out.append(wfdb_source(rel, p.parent, p.name, read_recording))
    lab = shared / "bci_iv_2a/true_labels/A01T.mat"
    if lab.exists():
        out.append(labels_source("A01T.mat", lab, read_true_labels))
    fif = _fif_bytes(rec, work)
    out.append(fif_source("written FIF", fif, read_recording))
    out.append(fif_source("written FIF, gzipped", fif, read_recording, gz=True))
    names, types = [f"ch{i}" for i in range(25)], ["eeg"] * 22 + ["eog"] * 3
    out.append(bnci_source("written BNCI .mat",
                           lambda p: read_bnci(p, names, types, 250.0, n_classes=4)))
    rows = [
        f"{int(c)},{s:.4f},{s + 1:.4f},{int(lab_)}"
        for c, s, lab_ in zip(
            rng.integers(0, 22, 40), rng.uniform(0, 50, 40), rng.integers(1, 7, 40)
        )
    ]
    out.append(rec_source("written .rec", "\n".join(rows), read_rec))
    return out


# --------------------------------------------------------------------------- running


@dataclass
class Result:
    source: str
    fmt: str
    kind: str
    detail: str
    outcome: str  # error | equal | changed | foreign
    message: str = ""

    @property
    def failed(self) -> bool:
        if self.outcome == "foreign":
            return True
        if self.kind == "field":
            return self.outcome == "changed"
        if self.kind == "unused":
            return self.outcome != "equal"
        return False


def _mutate(src: Source, kind: str, rng: np.random.Generator) -> tuple[str, Files]:
    names = sorted(src.files)
    if kind == "field":
        detail, fn = src.fields[int(rng.integers(len(src.fields)))]
        return detail, fn(dict(src.files))
    if kind == "unused":
        detail, fn = src.unused[int(rng.integers(len(src.unused)))]
        return detail, fn(dict(src.files), rng)
    name = names[int(rng.integers(len(names)))]
    raw = src.files[name]
    if kind == "truncate":
        n = int(rng.integers(0, len(raw)))
        return f"{name} cut at {n}/{len(raw)}", {**src.files, name: raw[:n]}
    span = min(len(raw), src.header_bytes) if rng.random() < 0.5 else len(raw)
    b = bytearray(raw)
    pos = rng.integers(0, span, int(rng.integers(1, 7)))
    for p in pos:
        b[p] = int(rng.integers(0, 256))
    return f"{name} bytes {sorted(pos.tolist())}", {**src.files, name: bytes(b)}


def run(srcs: list[Source], n_cases: int, seed: int = 0, workdir: Path | None = None):
    """``n_cases`` cases spread over the sources and the four kinds; returns the Results."""
    rng = np.random.default_rng(seed)
    root = Path(tempfile.mkdtemp(dir=workdir))
    originals = {}
    try:
        for s in srcs:
            d = root / "orig" / s.name.replace("/", "_")
            d.mkdir(parents=True)
            for n, b in s.files.items():
                (d / n).write_bytes(b)
            originals[s.name] = s.read(d)
        results = []
        for i in range(n_cases):
            src = srcs[i % len(srcs)]
            kind = KINDS[(i // len(srcs)) % len(KINDS)]
            detail, files = _mutate(src, kind, rng)
            d = root / f"case{i}"
            d.mkdir()
            for n, b in files.items():
                (d / n).write_bytes(b)
            try:
                got = src.read(d)
                outcome = "equal" if same(got, originals[src.name]) else "changed"
                msg = ""
            except BiosigError as err:
                outcome, msg = "error", str(err).splitlines()[0][:200]
            except Exception as err:  # noqa: BLE001 - a foreign exception is the finding
                outcome, msg = "foreign", f"{type(err).__name__}: {err}"[:200]
            results.append(Result(src.name, src.fmt, kind, detail, outcome, msg))
            shutil.rmtree(d, ignore_errors=True)
        return results
    finally:
        shutil.rmtree(root, ignore_errors=True)


def tally(results: list[Result]) -> str:
    """A table of outcomes per format and kind, then every failure."""
    counts = collections.Counter((r.fmt, r.kind, r.outcome) for r in results)
    fmts = sorted({r.fmt for r in results})
    outcomes = ("error", "equal", "changed", "foreign")
    lines = [f"{'format':<18}{'kind':<10}" + "".join(f"{o:>9}" for o in outcomes)]
    for f in fmts:
        for k in KINDS:
            row = [counts[(f, k, o)] for o in outcomes]
            if sum(row):
                lines.append(f"{f:<18}{k:<10}" + "".join(f"{c:>9}" for c in row))
    total = collections.Counter(r.outcome for r in results)
    lines.append(f"{'all':<28}" + "".join(f"{total[o]:>9}" for o in outcomes))
    failed = [r for r in results if r.failed]
    silent = sum(r.kind == "field" and r.outcome == "changed" for r in results)
    lines.append(
        f"{len(results)} cases: {len(failed)} failures ({total['foreign']} foreign exceptions, "
        f"{silent} silent garbage among header-field mutations, "
        f"{sum(r.kind == 'unused' and r.outcome != 'equal' for r in results)} unused-field "
        "mutations not read back equal)"
    )
    for r in failed:
        lines.append(f"FAIL {r.source} [{r.kind}] {r.detail}: {r.outcome} {r.message}")
    return "\n".join(lines)
