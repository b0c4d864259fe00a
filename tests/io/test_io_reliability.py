"""Issue #14 "Readers": each class of malformed input, built from a mutated real file (or a file
the test writes), is refused with biosig's error naming the file, or (unused fields) read
unchanged; and the float32 decoders agree with MNE."""

from __future__ import annotations

import builtins
import io
import shutil
import struct

import numpy as np
import pytest
from _dataset_fixtures import write_bciiv2a_session
from io_fixtures import bdf_bytes, fif_tags, shared, synthetic

from biosig.errors import ChannelError, InvalidFileError
from biosig.io import (
    Annotations,
    Recording,
    read_edf,
    read_fif,
    read_gdf,
    read_rec,
    read_recording,
    read_true_labels,
    read_wfdb,
    write_edf,
    write_gdf,
)
from biosig.io import _records as records_mod
from biosig.io import edf as edf_mod
from biosig.io import gdf as gdf_mod
from biosig.io.bnci import read_bnci

EEGMAT = "eeg_edf/eegmat/Subject00_2.edf"
EEGMMIDB = "eeg_edf/eegmmidb/S001R03.edf"
GDF_1CH = "gdf/mne-testing-data/test_1ch.gdf"
PTBXL = "ecg_wfdb/ptb-xl/00001_lr"
MITDB = "ecg_wfdb/mitdb/100"


def _copy(rel: str, tmp_path, exts=("",)):
    src = shared(rel)
    for ext in exts:
        shutil.copy(f"{src}{ext}", tmp_path / f"{src.name}{ext}")
    return tmp_path / src.name


def _edit(path, pos: int, new: bytes):
    b = bytearray(path.read_bytes())
    b[pos : pos + len(new)] = new
    path.write_bytes(bytes(b))


def _edf_signal_field(path, offset: int, width: int, i: int, text: str):
    """Write ``text`` into per-signal field ``offset`` (in units of ns bytes) of signal ``i``."""
    ns = int(path.read_bytes()[252:256])
    _edit(path, 256 + offset * ns + i * width, text.ljust(width).encode("latin-1"))


def _same(a: Recording, b: Recording):
    assert a.ch_names == b.ch_names and a.sfreq == b.sfreq and a.units == b.units
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(a.annotations.onset, b.annotations.onset)


# --------------------------------------------------------------------------- float32 decoders


@pytest.mark.parametrize(
    "rel",
    [EEGMAT, EEGMMIDB, "eeg_edf/mne-testing-data/chtypes_edf.edf",
     "eeg_edf/mne-testing-data/subsecond_starttime.edf"],
)  # fmt: skip
def test_edf_decoder_matches_mne(rel):
    """One read, float32, no MNE: the values MNE gives (float64) within float32 rounding."""
    path = shared(rel)
    rec = read_edf(path)
    hdr = edf_mod.parse_edf_header(path)
    ref, names, types, units, _ = edf_mod._read_mixed_rates(path, hdr, (), None)
    assert rec.data.dtype == np.float32
    assert (rec.ch_names, rec.ch_types, rec.units) == (names, types, units)
    scale = np.abs(ref).max(axis=1, keepdims=True) + 1e-30
    assert np.max(np.abs(rec.data - ref) / scale) < 1e-6


def test_edf_decoder_reads_only_kept_channels(monkeypatch):
    path = shared(EEGMAT)
    seen = []
    real = records_mod.decode_channels
    monkeypatch.setattr(
        records_mod, "decode_channels",
        lambda r, layout: seen.append(len(layout)) or real(r, layout),
    )
    full = read_edf(path)
    rec = read_edf(path, exclude=full.ch_names[2:])
    assert seen == []  # nothing is decoded before the data are used
    np.testing.assert_array_equal(rec.data, full.data[:2])
    assert seen == [2, full.n_chans]


def test_gdf_decoder_matches_mne(tmp_path):
    for path in (shared(GDF_1CH), write_gdf(tmp_path / "w.gdf", synthetic(3, 500))):
        rec = read_gdf(path)
        hdr = gdf_mod.parse_gdf_header(path)
        ref, names, types, units, _ = gdf_mod._read_mixed_rates(path, hdr, (), None)
        assert (rec.ch_names, rec.units) == (names, units) and rec.data.dtype == np.float32
        scale = np.abs(ref).max(axis=1, keepdims=True) + 1e-30
        assert np.max(np.abs(rec.data - ref) / scale) < 1e-6


def test_bdf_decoder_matches_mne(tmp_path):
    rng = np.random.default_rng(0)
    digital = rng.integers(-(2**23), 2**23, size=(3, 512))
    path = tmp_path / "t.bdf"
    path.write_bytes(bdf_bytes(digital, 256))
    rec = read_edf(path)
    hdr = edf_mod.parse_edf_header(path)
    ref = edf_mod._read_mixed_rates(path, hdr, (), None)[0]
    gain = 16000.0 / (2**24 - 1)
    np.testing.assert_allclose(rec.data, (digital + 2**23) * gain - 8000, rtol=0, atol=1e-3)
    np.testing.assert_allclose(rec.data, ref, rtol=0, atol=1e-3)
    # a changed samples-per-record field misaligns every record: refused, not read
    b = bytearray(path.read_bytes())
    b[256 + 216 * 3 : 256 + 216 * 3 + 8] = b"255     "
    path.write_bytes(bytes(b))
    with pytest.raises(InvalidFileError, match=r"t\.bdf: .*misaligns every record"):
        read_edf(path)


# --------------------------------------------------------------------------- EDF header fields


@pytest.mark.parametrize("duration", ["1e-300", "1e9", "nan", "inf"])
def test_edf_implausible_record_duration(tmp_path, duration):
    path = _copy(EEGMAT, tmp_path)
    _edit(path, 244, duration.ljust(8).encode())
    with pytest.raises(InvalidFileError, match=r"Subject00_2\.edf: .*(plausible|not finite)"):
        read_edf(path)


@pytest.mark.parametrize("nsamp", ["499", "501", "1000"])
def test_edf_samples_per_record_must_match_size(tmp_path, nsamp):
    path = _copy(EEGMAT, tmp_path)
    _edf_signal_field(path, 216, 8, 3, nsamp)
    with pytest.raises(InvalidFileError, match="misaligns every record"):
        read_edf(path)


def test_edf_extra_bytes_refused(tmp_path):
    path = _copy(EEGMAT, tmp_path)
    path.write_bytes(path.read_bytes() + b"\x00" * 7)
    with pytest.raises(InvalidFileError, match="extra bytes after the last record"):
        read_edf(path)


@pytest.mark.parametrize("onset", [b"+nan", b"+inf", b"-inf"])
def test_edf_plus_non_finite_onset_refused(tmp_path, onset):
    path = _copy(EEGMMIDB, tmp_path)
    hdr = edf_mod.parse_edf_header(path)
    tal = hdr.tal_index[0]
    start = hdr.header_bytes + int(hdr.n_samples[:tal].sum()) * 2 + 3 * hdr.record_bytes
    raw = path.read_bytes()
    assert raw[start : start + 1] == b"+"
    _edit(path, start, onset + b"\x14\x14\x00" + b"\x00" * 8)
    with pytest.raises(InvalidFileError, match="non-finite time"):
        read_edf(path)


def test_n_inf_counted_after_float32_cast(tmp_path):
    """A physical range beyond float32 gives inf samples in the Recording: counted."""
    rec = synthetic(2, 1000, with_ecg=False)  # 4 s: its events at 0.5-2.5 s inside
    path = write_edf(tmp_path / "big.edf", rec)
    _edf_signal_field(path, 104, 8, 0, "-1e39")
    _edf_signal_field(path, 112, 8, 0, "1e39")
    out = read_edf(path)
    assert out.meta["n_inf"] == int(np.isinf(out.data).sum()) > 0
    assert out.meta["n_nan"] == int(np.isnan(out.data).sum())


def test_always_finite_bound():
    from biosig.io._records import INT24, ChannelLayout, always_finite

    def ch(dtype, gain, offset=0.0):
        return ChannelLayout(0, 1, dtype, gain, offset)

    assert always_finite([ch(np.dtype("<i2"), 0.1), ch(INT24, 1e-3, 5.0)])
    assert not always_finite([ch(np.dtype("<i2"), 1e35)])  # 32767 * 1e35 overflows float32
    assert not always_finite([ch(np.dtype("<f4"), 1.0)])  # float samples may be inf/NaN
    assert not always_finite([ch(np.dtype("<i2"), np.nan)])


def test_gdf_float_samples_nonfinite_counted(tmp_path):
    path = write_gdf(tmp_path / "f.gdf", synthetic(2, 500, with_ecg=False), dtype="float32")
    start = gdf_mod.parse_gdf_header(path).header_bytes  # channel 0's first samples
    _edit(path, start, np.array([np.nan, np.inf, -np.inf], "<f4").tobytes())
    out = read_gdf(path)
    assert (out.meta["n_nan"], out.meta["n_inf"]) == (1, 2)


def test_edf_unused_fields_never_refuse_nor_leak(tmp_path):
    path = _copy(EEGMAT, tmp_path)
    before = read_edf(path)
    _edit(path, 8, "Jos\xe9 Mu\xf1oz \xff\xfe".ljust(80, "\x00").encode("latin-1"))  # patient
    _edit(path, 88, b"\xff" * 80)  # recording identification
    _edit(path, 230, b"\xff\xfe\x80")  # reserved, after "EDF+C"
    _edf_signal_field(path, 224, 32, 0, "\xff\xe9 r\xe9serv\xe9")  # per-signal reserved
    _edf_signal_field(path, 16, 80, 1, "\xe9lectrode \xff")  # transducer
    after = read_edf(path)
    _same(before, after)
    assert "Mu" not in repr(after.meta) and "\xe9" not in repr(after.meta)


# --------------------------------------------------------------------------- GDF


def _gdf_channel_field(path, offset: int, i: int, value: float, fmt="<d"):
    b = path.read_bytes()
    ns = struct.unpack_from("<H", b, 252)[0]
    _edit(path, 256 + offset * ns + i * struct.calcsize(fmt), struct.pack(fmt, value))


@pytest.mark.parametrize("field", [(104, 112), (120, 128)])  # physical / digital min = max
def test_gdf_empty_range_refused(tmp_path, field):
    path = _copy(GDF_1CH, tmp_path)
    b = path.read_bytes()
    _edit(path, 256 + field[1], b[256 + field[0] : 256 + field[0] + 8])
    with pytest.raises(InvalidFileError, match=r"test_1ch\.gdf: .*range .* is empty"):
        read_gdf(path)


def test_gdf_implausible_rates_refused(tmp_path):
    path = _copy(GDF_1CH, tmp_path)
    good = path.read_bytes()
    _edit(path, 244, struct.pack("<II", 1, 10**9))  # record of 1 ns: rate ~1e11 Hz
    with pytest.raises(InvalidFileError, match="outside the plausible range"):
        read_gdf(path)
    # an event table whose rate is inf (written file with events)
    path = write_gdf(tmp_path / "ev.gdf", synthetic(2, 500))
    hdr = gdf_mod.parse_gdf_header(path)
    _edit(path, hdr.data_end + 4, struct.pack("<f", np.inf))
    with pytest.raises(InvalidFileError, match="event table sampling rate"):
        read_gdf(path)
    assert good  # the original was readable
    read_gdf(shared(GDF_1CH))


def test_gdf_latin1_patient_name_is_ignored(tmp_path):
    path = write_gdf(tmp_path / "p.gdf", synthetic(3, 500))
    before = read_gdf(path)
    _edit(path, 8, "Jos\xe9 Mu\xf1oz".ljust(66).encode("latin-1"))
    _same(before, read_gdf(path))
    path = _copy(GDF_1CH, tmp_path)
    before = read_gdf(path)
    _edit(path, 8, b"\xe9\xff\xfe" * 20)
    after = read_gdf(path)
    _same(before, after)
    assert "\xe9" not in repr(after.meta)


# --------------------------------------------------------------------------- WFDB


@pytest.mark.parametrize("fs", ["abc", "nan", "-500", "0", "1e12"])
def test_wfdb_bad_sampling_frequency(tmp_path, fs):
    base = _copy(PTBXL, tmp_path, (".hea", ".dat"))
    hea = base.with_suffix(".hea")
    lines = hea.read_text().splitlines(keepends=True)
    i = next(k for k, ln in enumerate(lines) if ln.strip() and not ln.startswith("#"))
    tok = lines[i].split(" ")
    tok[2] = fs
    lines[i] = " ".join(tok)
    hea.write_text("".join(lines))
    with pytest.raises(InvalidFileError, match=r"00001_lr\.hea: sampling frequency"):
        read_wfdb(base)


@pytest.mark.parametrize("gain", ["abc", "nan", "-200", "2x0(0)/mV"])
def test_wfdb_bad_gain(tmp_path, gain):
    base = _copy(PTBXL, tmp_path, (".hea", ".dat"))
    hea = base.with_suffix(".hea")
    text = hea.read_text()
    line = next(ln for ln in text.splitlines() if ln.startswith("00001_lr.dat"))
    tok = line.split(" ")
    tok[2] = gain
    hea.write_text(text.replace(line, " ".join(tok), 1))
    with pytest.raises(InvalidFileError, match=r"signal line 1: ADC gain"):
        read_wfdb(base)


@pytest.mark.parametrize("gain", ["0", "0(0)/mV", "0.0/mV"])
def test_wfdb_uncalibrated_gain_is_refused(tmp_path, gain):
    """A gain of 0 marks an uncalibrated signal (WFDB header(5)); wfdb reads it with the default
    gain 200, so one PTB-XL lead (1000 per mV) came back five times too large, labelled mV."""
    base = _copy(PTBXL, tmp_path, (".hea", ".dat"))
    hea = base.with_suffix(".hea")
    text = hea.read_text()
    line = [ln for ln in text.splitlines() if ln.startswith("00001_lr.dat")][2]
    tok = line.split(" ")
    tok[2] = gain
    hea.write_text(text.replace(line, " ".join(tok), 1))
    with pytest.raises(InvalidFileError, match=r"00001_lr\.hea: signal line 3: ADC gain 0 "
                                               r"\(line 4\) marks the signal uncalibrated"):
        read_wfdb(base)


def test_wfdb_header_cut_inside_last_line(tmp_path):
    base = _copy(MITDB, tmp_path, (".hea", ".dat", ".atr"))
    hea = base.with_suffix(".hea")
    text = hea.read_text()
    cut = text.index("100.dat 212 200 11 1024 1011") + len("100.dat 212 2")
    hea.write_text(text[:cut])  # the V5 gain would read as 2 (x100)
    with pytest.raises(InvalidFileError, match=r"100\.hea: last line .* truncated"):
        read_wfdb(base)
    # a last comment line without its newline is harmless
    hea.write_text(text.rstrip("\n") + "\n# a comment without newline")
    assert read_wfdb(base).n_times == 650000


def test_wfdb_truncated_annotations(tmp_path):
    base = _copy(MITDB, tmp_path, (".hea", ".dat", ".atr"))
    atr = base.with_suffix(".atr")
    full = atr.read_bytes()
    assert len(read_wfdb(base).annotations) == 2274
    for n in (len(full) // 4 * 2, len(full) - 1, len(full) - 2):
        atr.write_bytes(full[:n])
        with pytest.raises(InvalidFileError, match=r"100\.atr: .*truncated"):
            read_wfdb(base)


# --------------------------------------------------------------------------- any failure


@pytest.mark.parametrize(
    "read, rel, exts",
    [
        (read_edf, EEGMAT, ("",)),
        (read_gdf, GDF_1CH, ("",)),
        (read_wfdb, PTBXL, (".hea", ".dat")),
        (read_rec, None, ()),
        (read_true_labels, "bci_iv_2a/true_labels/A01T.mat", ("",)),
        (read_fif, None, ()),
    ],
)
def test_unreadable_files_raise_invalid_file_error(tmp_path, monkeypatch, read, rel, exts):
    """A permission error (simulated: tests may run as root) becomes biosig's error naming
    the file, for every reader."""
    if rel is not None:
        target = _copy(rel, tmp_path, exts)
    elif read is read_rec:
        target = tmp_path / "a.rec"
        target.write_text("0,1.0,2.0,1\n")
    else:
        import mne

        raw = mne.io.RawArray(np.zeros((1, 100)), mne.create_info(["Cz"], 100.0, "eeg"))
        target = tmp_path / "a_raw.fif"
        raw.save(target, verbose="error")
    denied = str(target if not exts or exts == ("",) else f"{target}{exts[0]}")
    real_open, real_io_open = builtins.open, io.open

    def guarded(real):
        def _open(file, *args, **kwargs):
            if str(file) == denied:
                raise PermissionError(13, "Permission denied", str(file))
            return real(file, *args, **kwargs)

        return _open

    monkeypatch.setattr(builtins, "open", guarded(real_open))
    monkeypatch.setattr(io, "open", guarded(real_io_open))
    with pytest.raises(InvalidFileError) as info:
        read(target)
    assert str(info.value).startswith(denied)


# --------------------------------------------------------------------------- labels


@pytest.mark.parametrize(
    "value, match",
    [
        (np.ones((288, 2)), r"shape \(288, 2\)"),
        (np.full((288, 1), 1.7), r"not a whole number"),
        (np.array([[np.inf]] * 3), r"not a whole number"),
        (np.array(["left"] * 3, dtype=object), "expected numbers"),
    ],
)
def test_true_label_file_type_and_shape(tmp_path, value, match):
    from scipy.io import loadmat, savemat

    real = loadmat(shared("bci_iv_2a/true_labels/A01T.mat"))["classlabel"]
    assert (
        real.shape == (288, 1)
        and len(read_true_labels(shared("bci_iv_2a/true_labels/A01T.mat"))) == 288
    )
    path = tmp_path / "A01T.mat"
    savemat(path, {"classlabel": value})
    with pytest.raises(InvalidFileError, match=rf"A01T\.mat: .*{match}"):
        read_true_labels(path)


def test_a_bnci_data_file_given_as_true_labels_is_named_as_such(tmp_path):
    from scipy.io import savemat

    path = tmp_path / "A01E.mat"
    savemat(path, {"data": np.zeros((1, 3))})
    with pytest.raises(InvalidFileError, match=r"A01E\.mat: no variable 'classlabel' \(has "
                                               r"\['data'\]\): a BNCI Horizon data file"):
        read_true_labels(path)


def test_bnci_labels_type_checked(tmp_path):
    from scipy.io import loadmat, savemat

    write_bciiv2a_session(
        tmp_path, "A01T", [1, 2, 3, 4] * 3, trials_per_run=6, write_gdf_file=False
    )
    path = tmp_path / "A01T.mat"
    read_bnci(path, [f"c{i}" for i in range(25)], ["eeg"] * 25, 250.0, 4)
    mat = loadmat(path)
    mat["data"][0, 3]["y"][0, 0] = mat["data"][0, 3]["y"][0, 0] + 0.5
    savemat(path, {"data": mat["data"]})
    with pytest.raises(InvalidFileError, match=r"A01T\.mat: y\[0\] = 1.5 is not a whole number"):
        read_bnci(path, [f"c{i}" for i in range(25)], ["eeg"] * 25, 250.0, 4)


def test_bciiv2a_gdf_without_trial_events_refused_at_load(tmp_path):
    from biosig.datasets import BCIIV2a

    write_bciiv2a_session(tmp_path, "A01T", [1, 2], trials_per_run=2, write_bnci=False)
    path = tmp_path / "A01T.gdf"
    rec = read_gdf(path)
    keep = ~np.isin(rec.annotations.description, ["768", "769", "770", "771", "772"])
    no_cues = rec.copy(annotations=rec.annotations.select(keep))
    codes = no_cues.annotations
    ev = np.stack(
        [np.round(codes.onset * 250).astype(int), np.round(codes.duration * 250).astype(int),
         np.array([int(d) for d in codes.description])], axis=1,
    )  # fmt: skip
    no_cues.annotations = Annotations.empty()
    write_gdf(path, no_cues, ev, dtype="float32")
    ds = BCIIV2a(tmp_path, subjects=[1], sessions=["T"], form="gdf")
    with pytest.raises(
        InvalidFileError, match=r"A01T\.gdf: no trial-start events .* no true-label"
    ):
        ds.load(ds.records()[0])


@pytest.mark.parametrize(
    "row, match",
    [
        ("1.7,1.0,2.0,1", "channel 1.7 is not a whole number"),
        ("inf,1.0,2.0,1", "non-finite field"),
        ("1,1.0,inf,1", "non-finite field"),
        ("1,1.0,2.0,2.5", "unknown label 2.5 "),
        ("1,x,2.0,1", "non-numeric field"),
        ("1,3.0,2.0,1", "bad event times"),
    ],
)
def test_rec_rows_type_checked(tmp_path, row, match):
    path = tmp_path / "a.rec"
    path.write_text("0,0.0,1.0,6\n" + row + "\n")
    with pytest.raises(InvalidFileError, match=rf"a\.rec: row 2: {match}"):
        read_rec(path)


def test_rec_large_file_parsed_exactly(tmp_path):
    """100,000 rows in one vectorised pass (a million take ~2 s; see the notes)."""
    rng = np.random.default_rng(0)
    n = 100_000
    rows = np.stack(
        [rng.integers(0, 22, n), np.round(rng.uniform(0, 900, n), 4), np.zeros(n),
         rng.integers(1, 7, n)], axis=1,
    )  # fmt: skip
    rows[:, 2] = rows[:, 1] + 1.0
    path = tmp_path / "big.rec"
    path.write_text("\n".join(f"{int(c)},{s:.4f},{e:.4f},{int(lab)}" for c, s, e, lab in rows))
    np.testing.assert_allclose(read_rec(path), rows, rtol=0, atol=1e-9)


# --------------------------------------------------------------------------- containers


def test_fif_is_read(tmp_path):
    import mne

    info = mne.create_info(["Cz", "ECG1"], 100.0, ["eeg", "ecg"])
    x = np.random.default_rng(0).normal(size=(2, 300)) * 1e-5
    raw = mne.io.RawArray(x, info, verbose="error")
    raw.set_annotations(mne.Annotations([1.0], [0.5], ["T1"]))
    raw.save(tmp_path / "a_raw.fif", verbose="error")
    rec = read_recording(tmp_path / "a_raw.fif")
    assert (rec.ch_types, rec.units, rec.meta["format"]) == (["eeg", "ecg"], ["uV", "mV"], "FIF")
    np.testing.assert_allclose(rec.data[0], x[0] * 1e6, rtol=1e-6)
    np.testing.assert_allclose(rec.data[1], x[1] * 1e3, rtol=1e-6)
    assert list(rec.annotations.description) == ["T1"] and rec.annotations.onset[0] == 1.0
    # ch_types: MNE's types, in any case; another is refused, listing them
    assert read_fif(tmp_path / "a_raw.fif", ch_types={"Cz": "EOG"}).ch_types == ["eog", "ecg"]
    with pytest.raises(ChannelError, match=r"unknown channel types \{'Cz': 'eeeg'\}.*'eeg'"):
        read_fif(tmp_path / "a_raw.fif", ch_types={"Cz": "eeeg"})


@pytest.mark.parametrize("gz", [False, True])
def test_damaged_fif_is_refused_before_mne_reads_it(tmp_path, gz):
    """Found by the reader fuzzer: a FIF file cut between its data buffers read back shorter
    without a word, and one flipped type byte made MNE allocate until the machine ran out of
    memory. Cuts, unknown types and matrix dimensions past their bytes are refused by name;
    in a ``.fif.gz`` (whole gzip streams of the same damaged bytes) as well."""
    import gzip
    import struct

    import mne

    info = mne.create_info(["Fp1", "C3", "C4", "O1"], 100.0, "eeg")
    x = np.random.default_rng(0).normal(size=(4, 3000)) * 1e-5
    raw = mne.io.RawArray(x, info, verbose="error")
    raw.set_eeg_reference(projection=True, verbose="error")  # a projector: dense matrix tags
    raw.save(tmp_path / "a_raw.fif", buffer_size_sec=10.0, verbose="error")
    good = (tmp_path / "a_raw.fif").read_bytes()
    f = tmp_path / ("b_raw.fif.gz" if gz else "b_raw.fif")

    def put(data: bytes) -> None:  # a .fif.gz: a whole gzip stream of the (damaged) bytes
        f.write_bytes(gzip.compress(data) if gz else data)

    put(good)
    plain = read_recording(tmp_path / "a_raw.fif").data
    assert plain.shape == (4, 3000)
    np.testing.assert_array_equal(read_recording(f).data, plain)
    tags = fif_tags(good)
    buffers = [pos for pos, kind, *_ in tags if kind == 300]  # FIFF_DATA_BUFFER
    assert len(buffers) == 3
    put(good[: buffers[1]])  # cut at a tag: MNE alone reads the first buffer
    with pytest.raises(InvalidFileError, match=r"b_raw\.fif.*block\(s\) open"):
        read_recording(f)
    put(good[: buffers[1] + 9])  # cut inside a tag's header
    with pytest.raises(InvalidFileError, match="ends inside the tag"):
        read_recording(f)
    put(good[: buffers[1] + 100])  # cut inside a tag's data
    with pytest.raises(InvalidFileError, match="past the end"):
        read_recording(f)
    pos = tags[2][0]
    put(good[: pos + 4] + struct.pack(">I", 0x03000003) + good[pos + 8 :])
    with pytest.raises(InvalidFileError, match="unknown data type 0x3000003"):
        read_recording(f)
    pos, _, _, size = next(t for t in tags if t[2] & 0xFFFF0000 == 0x40000000)
    end = pos + 16 + size
    put(good[: end - 8] + struct.pack(">i", 10**6) + good[end - 4 :])  # a dimension
    with pytest.raises(InvalidFileError, match="claims dimensions"):
        read_recording(f)
    put(good[: end - 2])  # cut inside the matrix's dimension count
    with pytest.raises(InvalidFileError, match="past the end"):
        read_recording(f)


def test_damaged_gzip_stream_of_a_fif_is_refused(tmp_path):
    """A ``.fif.gz`` whose gzip stream is cut, or has a changed byte, is refused by name before
    MNE reads it (the walk of its tags decompresses it whole, checking gzip's CRC-32)."""
    import gzip

    import mne

    info = mne.create_info(["Fp1", "C3"], 100.0, "eeg")
    x = np.random.default_rng(1).normal(size=(2, 2000)) * 1e-5
    mne.io.RawArray(x, info, verbose="error").save(tmp_path / "a_raw.fif", verbose="error")
    packed = gzip.compress((tmp_path / "a_raw.fif").read_bytes())
    f = tmp_path / "b_raw.fif.gz"
    f.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(InvalidFileError, match=r"b_raw\.fif\.gz.*unreadable gzip stream"):
        read_recording(f)
    damaged = bytearray(packed)
    damaged[-12] ^= 0x01  # in the last deflate bytes: CRC-32 or the stream itself fails
    f.write_bytes(bytes(damaged))
    with pytest.raises(InvalidFileError, match=r"b_raw\.fif\.gz.*unreadable gzip stream"):
        read_recording(f)


def test_unsupported_containers_list_what_is_supported(tmp_path):
    (tmp_path / "x.mat").write_bytes(b"MATLAB 5.0" + bytes(200))
    with pytest.raises(InvalidFileError, match=r"x\.hea is missing.*Supported.*\.fif"):
        read_recording(tmp_path / "x.mat")
    (tmp_path / "x.vhdr").write_text("Brain Vision Data Exchange Header File Version 1.0\n")
    with pytest.raises(InvalidFileError, match=r"'\.vhdr'; supported: EDF.*GDF.*FIF.*WFDB"):
        read_recording(tmp_path / "x.vhdr")
