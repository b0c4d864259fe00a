"""EDF/EDF+/BDF reader on real files (shared data) and on EDF+D fixtures."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from io_fixtures import edf_header, shared, synthetic, write_edf_plus_d

from biosig.errors import ChannelError, InvalidFileError
from biosig.io import read_edf, read_recording, write_edf
from biosig.io.edf import parse_edf_header
from biosig.signal.recording import IDENTIFYING_KEYS, Annotations, Recording


def _check_valid(rec: Recording, name: str) -> None:
    assert rec.data.dtype == np.float32 and rec.data.ndim == 2
    assert rec.meta["source"] == name
    assert not IDENTIFYING_KEYS.intersection(k.lower() for k in rec.meta)
    assert len(rec.ch_names) == len(set(rec.ch_names)) == rec.n_chans


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "run, counts",
    [("S001R03", {"T0": 15, "T1": 8, "T2": 7}), ("S001R04", {"T0": 15, "T1": 8, "T2": 7})],
)
def test_eegmmidb(run, counts):
    rec = read_edf(shared(f"eeg_edf/eegmmidb/{run}.edf"))
    _check_valid(rec, f"{run}.edf")
    assert rec.data.shape == (64, 20000) and rec.sfreq == 160.0
    assert rec.ch_names[:3] == ["Fc5.", "Fc3.", "Fc1."]
    assert set(rec.ch_types) == {"eeg"} and set(rec.units) == {"uV"}
    assert rec.meta["format"] == "EDF+C" and rec.meta["n_nan"] == 0
    assert dict(Counter(rec.annotations.description)) == counts
    # ~4.1-4.2 s blocks back to back from t = 0
    assert rec.annotations.onset[0] == 0.0
    np.testing.assert_allclose(rec.annotations.duration, 4.15, atol=0.06)
    assert np.all(np.diff(rec.annotations.onset) > 0)
    # EEG in µV: scalp EEG amplitudes are tens to hundreds of µV, not volts
    rms = np.sqrt(np.mean(rec.data.astype(np.float64) ** 2, axis=1))
    assert 5 < np.median(rms) < 200


@pytest.mark.shared_data
def test_eegmmidb_matches_mne_in_microvolts():
    import mne

    path = shared("eeg_edf/eegmmidb/S001R03.edf")
    rec = read_edf(path)
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    np.testing.assert_allclose(rec.data, raw.get_data() * 1e6, rtol=1e-6, atol=1e-3)


@pytest.mark.shared_data
def test_nihon_kohden_mixed_types():
    rec = read_edf(shared("eeg_edf/mne-testing-data/chtypes_edf.edf"))
    _check_valid(rec, "chtypes_edf.edf")
    assert rec.data.shape == (42, 1000) and rec.sfreq == 200.0
    types = dict(zip(rec.ch_names, rec.ch_types))
    units = dict(zip(rec.ch_names, rec.units))
    assert types["EEG Fp1-Ref"] == "eeg" and units["EEG Fp1-Ref"] == "uV"
    assert types["ECG ECG1"] == "ecg" and units["ECG ECG1"] == "mV"
    assert types["SaO2 X9"] == "bio" and types["POL E"] == "misc"
    assert Counter(rec.ch_types) == {"eeg": 27, "misc": 11, "ecg": 2, "bio": 2}
    # ECG stored in µV in the file -> mV here: 1000x smaller than MNE's µV
    import mne

    raw = mne.io.read_raw_edf(
        shared("eeg_edf/mne-testing-data/chtypes_edf.edf"), preload=True, verbose="error"
    )
    i = rec.ch_names.index("ECG ECG1")
    np.testing.assert_allclose(rec.data[i], raw.get_data()[i] * 1e3, rtol=1e-5, atol=1e-6)
    assert "Segment: REC START LTM+6 EEG" in set(rec.annotations.description)
    assert len(rec.annotations) == 8


@pytest.mark.shared_data
def test_edf_plus_d_contiguous_records():
    rec = read_edf(shared("eeg_edf/mne-testing-data/MB0400FU.EDF"))
    _check_valid(rec, "MB0400FU.EDF")
    assert rec.meta["format"] == "EDF+D"
    assert rec.meta["n_gaps"] == 0 and rec.meta["n_nan"] == 0
    assert rec.data.shape == (25, 29 * 200)
    # Nihon Kohden omits the 0 byte after the time-keeping TAL; MNE then reports
    # "+1.140000" as a description at 1.0 s. The true annotations:
    assert list(rec.annotations.description) == ["Segment: REC START ALLE EEG", "A1+A2 OFF"]
    np.testing.assert_allclose(rec.annotations.onset, [0.0, 1.14])
    # POL $A1/$A2 are stored in mV in the file; they are misc, so they keep that unit
    assert dict(zip(rec.ch_names, rec.units))["POL $A1"] == "mV"


@pytest.mark.shared_data
def test_subsecond_start_time():
    rec = read_edf(shared("eeg_edf/mne-testing-data/subsecond_starttime.edf"))
    _check_valid(rec, "subsecond_starttime.edf")
    assert rec.data.shape == (3, 2560) and rec.sfreq == 512.0
    # the first record starts 0.3945312 s after the header's start time; annotation onsets
    # are relative to the first sample, so that offset is subtracted
    np.testing.assert_allclose(
        rec.annotations.onset, [2.3457031 - 0.3945312, 3.8867187 - 0.3945312], atol=1e-6
    )
    assert list(rec.annotations.description) == ["XLSpike", "Clip Note"]


def test_edf_plus_d_gaps_become_nan(tmp_path):
    rng = np.random.default_rng(1)
    data = np.round(rng.normal(0, 50, (2, 4 * 100)), 1)
    path = write_edf_plus_d(
        tmp_path / "gap.edf",
        data,
        100,
        [0, 1, 3.5, 4.5],
        texts=[(0.25, "spike"), (3.75, "after gap")],
    )
    rec = read_edf(path)
    assert rec.meta["format"] == "EDF+D" and rec.meta["n_gaps"] == 1
    assert rec.data.shape == (2, int(5.5 * 100))
    assert rec.meta["n_nan"] == 2 * 150
    np.testing.assert_allclose(rec.data[:, :200], data[:, :200], atol=0.051)
    assert np.isnan(rec.data[:, 200:350]).all()
    np.testing.assert_allclose(rec.data[:, 350:], data[:, 200:], atol=0.051)
    ann = dict(
        zip(rec.annotations.description, zip(rec.annotations.onset, rec.annotations.duration))
    )
    assert ann["BAD_ACQ_SKIP"] == pytest.approx((2.0, 1.5))
    assert ann["after gap"][0] == pytest.approx(3.75)
    assert ann["spike"][0] == pytest.approx(0.25)


def test_edf_plus_d_overlapping_records_rejected(tmp_path):
    data = np.zeros((1, 300))
    path = write_edf_plus_d(tmp_path / "overlap.edf", data, 100, [0, 1, 1.5])
    with pytest.raises(InvalidFileError, match="before the previous record ends"):
        read_edf(path)


def test_edf_plus_d_without_gaps_is_continuous(tmp_path):
    data = np.round(np.random.default_rng(2).normal(0, 10, (1, 300)), 1)
    rec = read_edf(write_edf_plus_d(tmp_path / "nogap.edf", data, 100, [0, 1, 2]))
    assert rec.meta["n_gaps"] == 0 and rec.data.shape == (1, 300)


def test_exclude_and_ch_types(tmp_path):
    rec = synthetic()
    path = write_edf(tmp_path / "x.edf", rec)
    out = read_edf(path, exclude=["Cz"], ch_types={"C3": "eog"})
    assert out.ch_names == ["C3", "C4", "ECG"]
    assert out.ch_types == ["eog", "eeg", "ecg"]
    with pytest.raises(ChannelError, match="nope"):
        read_edf(path, exclude=["nope"])
    with pytest.raises(ChannelError):
        read_edf(path, ch_types={"nope": "eeg"})
    with pytest.raises(ChannelError, match="every channel"):
        read_edf(path, exclude=rec.ch_names)


def test_ch_types_refuses_an_unknown_type(tmp_path):
    """A misspelt type (``eeeg``) is refused, listing the types, not stored as given; the type
    is case-insensitive. The EDF, GDF and WFDB readers share the check."""
    from biosig.io import read_gdf, read_wfdb, write_gdf, write_wfdb

    rec = synthetic()
    paths = [write_edf(tmp_path / "x.edf", rec), write_gdf(tmp_path / "x.gdf", rec)]
    paths.append(write_wfdb(tmp_path, "x", rec))
    for path, read in zip(paths, (read_edf, read_gdf, read_wfdb)):
        assert read(path, ch_types={"C3": "EOG"}).ch_types[0] == "eog"
        with pytest.raises(ChannelError, match=r"unknown channel types \{'C3': 'eeeg'\} .*"
                           r"\['bio', .*'ecg', .*'eeg', .*'misc', .*'stim'"):  # fmt: skip
            read(path, ch_types={"C3": "eeeg", "C4": "eog"})


def test_bdf_24bit(tmp_path):
    """A BDF file (24-bit) written by edfio is read through MNE's BDF reader."""
    import datetime

    import edfio

    rng = np.random.default_rng(3)
    x = rng.normal(0, 30, 512)
    sig = edfio.BdfSignal(x, 256, label="Cz", physical_dimension="uV", physical_range=(-500, 500))
    bdf = edfio.Bdf([sig], recording=edfio.Recording(startdate=datetime.date(1985, 1, 1)))
    bdf.write(tmp_path / "x.bdf")
    hdr = parse_edf_header(tmp_path / "x.bdf")
    assert hdr.kind == "BDF" and hdr.sample_bytes == 3
    rec = read_recording(tmp_path / "x.bdf")
    step = 1000 / (2**24 - 1)
    assert np.abs(rec.data[0] - x).max() <= step
    assert rec.meta["format"].startswith("BDF")


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "rel",
    [
        "eeg_edf/eegmmidb/S001R04.edf",
        "eeg_edf/mne-testing-data/subsecond_starttime.edf",
        "eeg_edf/mne-testing-data/chtypes_edf.edf",
    ],
)
def test_tal_parser_agrees_with_mne_on_well_formed_files(rel):
    import mne

    path = shared(rel)
    rec = read_edf(path)
    ann = mne.io.read_raw_edf(path, verbose="error").annotations
    assert list(rec.annotations.description) == list(ann.description)
    np.testing.assert_allclose(rec.annotations.onset, ann.onset, atol=1e-6)
    np.testing.assert_allclose(rec.annotations.duration, ann.duration, atol=1e-6)


def test_mixed_sampling_rates_are_reported(tmp_path):
    import datetime

    import edfio

    t = np.arange(1000) / 100
    eeg = edfio.EdfSignal(
        np.sin(2 * np.pi * t) * 50,
        100,
        label="Fpz-Cz",
        physical_dimension="uV",
        physical_range=(-100, 100),
    )
    resp = edfio.EdfSignal(
        np.arange(10.0) * 10,
        1,
        label="Resp oro-nasal",
        physical_dimension="%",
        physical_range=(0, 100),
    )
    edfio.Edf([eeg, resp], recording=edfio.Recording(startdate=datetime.date(1985, 1, 1))).write(
        tmp_path / "mixed.edf"
    )
    rec = read_edf(tmp_path / "mixed.edf")
    assert rec.sfreq == 100.0 and rec.data.shape == (2, 1000)
    assert rec.ch_types == ["eeg", "resp"] and rec.units == ["uV", "%"]
    assert rec.meta["upsampled_channels"] == ["Resp oro-nasal"]
    np.testing.assert_allclose(rec.data[0], np.sin(2 * np.pi * t) * 50, atol=0.01)


@pytest.mark.parametrize(
    "unit, to_uv", [("uV", 1.0), ("uv", 1.0), ("UV", 1.0), ("mV", 1e3), ("V", 1e6), ("nV", 1e-3)]
)
def test_unit_spellings_scale_to_microvolts(tmp_path, unit, to_uv):
    """MNE scales only some spellings; the reader must give µV whatever the file says."""
    import datetime

    import edfio

    x = np.linspace(-50, 50, 200)
    sig = edfio.EdfSignal(x, 100, label="Cz", physical_dimension=unit, physical_range=(-100, 100))
    edfio.Edf([sig], recording=edfio.Recording(startdate=datetime.date(1985, 1, 1))).write(
        tmp_path / "u.edf"
    )
    rec = read_edf(tmp_path / "u.edf")
    assert rec.units == ["uV"] and rec.ch_types == ["eeg"]
    np.testing.assert_allclose(rec.data[0], x * to_uv, rtol=1e-4, atol=2e-3 * to_uv)


def _tal_fixture(tmp_path, tals: list[bytes]):
    """An EDF+D fixture whose annotation bytes of record k are ``tals[k]`` (zero-padded)."""
    n = len(tals)
    path = write_edf_plus_d(tmp_path / "tal.edf", np.zeros((1, 10 * n)), 10, list(range(n)))
    raw = bytearray(path.read_bytes())
    hdr = parse_edf_header(path)
    for k, tal in enumerate(tals):
        at = hdr.header_bytes + k * hdr.record_bytes + 20  # after the 10 int16 samples
        raw[at : at + 120] = tal.ljust(120, b"\x00")
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize(
    "tals",
    [
        [b"+0\x14\x14\x00", b"+1\x14\x14\x00", b"+2.5\x14\x14\x00"],  # time-keeping only
        [b"+0\x14\x14\x00+0.5\x14stim\x14\x00", b"+1\x14\x14\x00",
         b"+2\x14\x14\x00+2\x152\x14x\x14\x00"],  # annotations, one with a duration
        [b"+0\x14\x14+0.2\x14A1+A2 OFF\x14\x00", b"+1\x14\x14\x00", b"+2\x14\x14\x00"],  # NK
        [b"+0\x14\x14\x00", b"+1e0\x14\x14\x00", b"-0\x14\x14\x00"],  # not plain: parsed
        # whole seconds written as usual (one comparison), a few records not: parsed
        [b"+%d\x14\x14" % k for k in range(12)] + [b"+12.0\x14\x14", b"+13\x14\x14+13\x14e\x14"],
        # many records not written as usual: the whole-array check, then the parser
        [b"+%d.0\x14\x14" % k for k in range(12)]
        + [b"+12\x14\x14", b"+13.0\x14\x14\x00+13.5\x14stim\x14"],
    ],
)
def test_time_keeping_fast_path_equals_parsing_every_record(tmp_path, tals, monkeypatch):
    from biosig.io import edf

    path = _tal_fixture(tmp_path, tals)
    hdr = parse_edf_header(path)
    from biosig.io._records import read_data_section

    records = read_data_section(path, hdr.header_bytes, hdr.n_records, hdr.record_bytes)
    fast = edf._read_tals(path, hdr, records)
    monkeypatch.setattr(edf, "_timekeeping_only", lambda block, *_: np.full(len(block), np.nan))
    slow = edf._read_tals(path, hdr, records)
    np.testing.assert_array_equal(fast.record_onsets, slow.record_onsets)
    assert (fast.onset, fast.duration, fast.description) == (
        slow.onset, slow.duration, slow.description)


def test_second_annotation_signal_is_read_after_the_first_per_record(tmp_path):
    """An EDF+C file with two annotation signals of different widths: the time-keeping TAL in
    the first, annotations in both; read record by record, the first signal's first."""
    first = [b"+0\x14\x14\x00+0.5\x14a\x14", b"+1\x14\x14", b"+2\x14\x14\x00+2.5\x150.5\x14c\x14"]
    second = [b"", b"+1.25\x14b\x14\x00+1.75\x14b2\x14", b"+2.25\x14d\x14"]
    labels = ["EEG C1", "EDF Annotations", "EDF Annotations"]
    head = edf_header(labels, ["uV", "", ""], ["-100", "-1", "-1"], ["100", "1", "1"],
                      ["-32768"] * 3, ["32767"] * 3, [10, 20, 12], 3, "EDF+C")  # fmt: skip
    body = b"".join(bytes(20) + a.ljust(40, b"\x00") + b.ljust(24, b"\x00")
                    for a, b in zip(first, second))  # fmt: skip
    (tmp_path / "two.edf").write_bytes(head + body)
    ann = read_edf(tmp_path / "two.edf").annotations
    assert list(ann.description) == ["a", "b", "b2", "c", "d"]
    np.testing.assert_allclose(ann.onset, [0.5, 1.25, 1.75, 2.5, 2.25])
    np.testing.assert_allclose(ann.duration, [0, 0, 0, 0.5, 0])


def test_usual_time_keeping_text_memo_serves_any_record_count():
    """The usual TAL text is memoised by width and record length, and cut to each file's
    number of records (fewer, then more than the memo holds)."""
    from biosig.io import edf

    edf._USUAL.clear()
    for n in (12, 5, 30):
        block = np.zeros((n, 16), np.uint8)
        for k in range(n):
            text = b"+%d\x14\x14" % (2 * k) + (b"\x00+6\x14x\x14" if k == 3 else b"")
            block[k, : len(text)] = np.frombuffer(text, np.uint8)
        want = np.arange(n) * 2.0
        want[3] = np.nan  # it holds an annotation: left to the parser
        np.testing.assert_array_equal(edf._timekeeping_only(block, 2.0), want)


@pytest.mark.parametrize(
    "tal", [b"", b"+1\x14\x14\x00\x00\x01", b"+1.2.3\x14\x14\x00"]
)  # no time-keeping TAL; a byte after the padding starts; a malformed onset
def test_time_keeping_fast_path_keeps_the_errors(tmp_path, tal):
    path = _tal_fixture(tmp_path, [b"+0\x14\x14\x00", tal])
    with pytest.raises(InvalidFileError, match="record 1"):
        read_edf(path)


@pytest.mark.shared_data
@pytest.mark.parametrize("rel", ["eeg_edf/eegmat/Subject00_1.edf", "eeg_edf/eegmmidb/S001R04.edf"])
def test_time_keeping_fast_path_on_real_files(rel, monkeypatch):
    from biosig.io import edf

    fast = read_edf(shared(rel))
    monkeypatch.setattr(edf, "_timekeeping_only", lambda block, *_: np.full(len(block), np.nan))
    slow = read_edf(shared(rel))
    for field in ("onset", "duration", "description"):
        np.testing.assert_array_equal(getattr(fast.annotations, field),
                                      getattr(slow.annotations, field))
    assert fast.meta == slow.meta and len(fast.annotations.onset) > 0


def test_files_sharing_a_signal_header_read_apart(tmp_path):
    """The per-signal header parse and the channel layout are memoised on the header's bytes:
    files sharing them still read their own samples, with their own exclude/ch_types, and what
    one read returns cannot change the next; errors name each file."""
    from io_fixtures import write_plain_edf

    ranges = dict(pmin=[-100.0] * 3, pmax=[100.0] * 3, dmin=[-1000] * 3, dmax=[1000] * 3)
    rng = np.random.default_rng(5)
    digital = [rng.integers(-1000, 1000, (3, 200)).astype(np.int16) for _ in range(2)]
    paths = [write_plain_edf(tmp_path / f"s{i}.edf", d, 100, **ranges)
             for i, d in enumerate(digital)]  # fmt: skip
    first = read_edf(paths[0])
    first.ch_names.append("changed")  # a caller changing what it got
    first.ch_types[0] = "misc"
    second = read_edf(paths[1])
    assert second.ch_names == ["EEG C1", "EEG C2", "EEG C3"] and second.ch_types == ["eeg"] * 3
    np.testing.assert_array_equal(second.digital.samples(), digital[1])
    np.testing.assert_array_equal(read_edf(paths[0]).digital.samples(), digital[0])
    assert read_edf(paths[1], exclude=["EEG C2"]).ch_names == ["EEG C1", "EEG C3"]
    assert read_edf(paths[1], ch_types={"EEG C3": "eog"}).ch_types == ["eeg", "eeg", "eog"]
    assert read_edf(paths[1]).ch_types == ["eeg"] * 3
    hdr = parse_edf_header(paths[1])
    with pytest.raises(ValueError, match="read-only"):
        hdr.physical_min[0] = 0.0  # shared by the headers of both files
    bad = dict(ranges, dmin=[-1000, 5, -1000], dmax=[1000, 5, 1000])  # an empty digital range
    for i in range(2):
        path = write_plain_edf(tmp_path / f"bad{i}.edf", digital[i].clip(-5, 5), 100, **bad)
        with pytest.raises(InvalidFileError, match=f"bad{i}.edf: signal 'EEG C2': digital range"):
            read_edf(path)


def _small_edf(path, labels, n_samples, *, dmin=None, dmax=None, n_rec=2, seed=0):
    """A small EDF of random int16 samples in 1-s records (-3276.8..3276.7 µV, 0.1 µV steps);
    ``labels``/``dmin``/``dmax`` go into the header as given (str or bytes)."""
    ns = len(labels)
    dmin = ["-32768"] * ns if dmin is None else dmin
    dmax = ["32767"] * ns if dmax is None else dmax
    head = bytearray(edf_header(["x"] * ns, ["uV"] * ns, ["-3276.8"] * ns, ["3276.7"] * ns,
                                dmin, dmax, n_samples, n_rec))  # fmt: skip
    for i, lab in enumerate(labels):
        lab = lab if isinstance(lab, bytes) else lab.encode("latin-1")
        head[256 + 16 * i : 256 + 16 * (i + 1)] = lab.ljust(16)
    rng = np.random.default_rng(seed)
    digital = [rng.integers(-2000, 2000, (n_rec, n)).astype("<i2") for n in n_samples]
    body = b"".join(d[k].tobytes() for k in range(n_rec) for d in digital)
    path.write_bytes(bytes(head) + body)
    return [d.reshape(-1) / 10.0 for d in digital]  # µV


def test_repeated_label_keeps_the_type_of_the_label(tmp_path):
    values = _small_edf(tmp_path / "dup.edf", ["I", "I", "Cz"], [100, 100, 100])
    rec = read_edf(tmp_path / "dup.edf")
    assert rec.ch_names == ["I-0", "I-1", "Cz"]
    assert rec.ch_types == ["ecg", "ecg", "eeg"] and rec.units == ["mV", "mV", "uV"]
    np.testing.assert_allclose(rec.data[1], values[1] / 1000, atol=1e-6)


@pytest.mark.parametrize(
    "field, value", [("dmin", "-9999999"), ("dmin", "9999999"), ("dmin", "-40000"),
                     ("dmax", "32768")]
)  # fmt: skip
def test_digital_range_beyond_a_16_bit_sample_is_refused(tmp_path, field, value):
    kwargs = {field: [value, "-32768" if field == "dmin" else "32767"]}
    _small_edf(tmp_path / "dig.edf", ["EEG C3", "EEG C4"], [100, 100], **kwargs)
    name = {"dmin": "digital minimum", "dmax": "digital maximum"}[field]
    with pytest.raises(
        InvalidFileError, match=rf"dig\.edf: signal 'EEG C3': {name} {value} is outside .*16-bit"
    ):
        read_edf(tmp_path / "dig.edf")


def test_bdf_digital_range_beyond_a_24_bit_sample_is_refused(tmp_path):
    from io_fixtures import bdf_bytes

    raw = bytearray(bdf_bytes(np.zeros((1, 100), np.int32), 100))
    raw[256 + 120 : 256 + 128] = b"-8388609"  # digital minimum of signal 0
    (tmp_path / "dig.bdf").write_bytes(bytes(raw))
    with pytest.raises(InvalidFileError, match=r"'EEG0': digital minimum -8388609 .*24-bit BDF"):
        read_edf(tmp_path / "dig.bdf")
    raw[256 + 120 : 256 + 128] = b"-8388608"
    (tmp_path / "dig.bdf").write_bytes(bytes(raw))
    assert read_edf(tmp_path / "dig.bdf").n_times == 100


def test_mixed_rates_read_whatever_the_identification_fields_hold(tmp_path):
    """MNE (which reads files of several rates) is handed the identification fields blanked:
    a patient field MNE cannot parse, or a malformed start date, does not matter."""
    path = tmp_path / "mixed.edf"
    values = _small_edf(path, ["EEG C3", "Resp"], [100, 50])
    raw = bytearray(path.read_bytes())
    raw[8:88] = b"X M 01-JAN-1990 Smith a=b=c".ljust(80)
    raw[88:168] = b"Startdate 31-FEB-1990 Smith_J tech=a=b X".ljust(80)
    raw[168:184] = b"99.99.xxab.cd.ef"
    path.write_bytes(bytes(raw))
    rec = read_edf(path)
    assert rec.ch_names == ["EEG C3", "Resp"] and rec.shape == (2, 200)
    assert rec.meta["upsampled_channels"] == ["Resp"]
    np.testing.assert_allclose(rec.data[0], values[0], atol=1e-4)
    assert path.read_bytes() == bytes(raw)  # read, never written


def test_empty_labels_are_named_by_position_and_nul_padding_ends_a_label(tmp_path):
    _small_edf(tmp_path / "lab.edf", [b"", b"  ", b"Fp1\x00\xff\x01x", b"O1\xe9"], [100] * 4)
    rec = read_edf(tmp_path / "lab.edf")
    assert rec.ch_names == ["signal1", "signal2", "Fp1", "O1\xe9"]


@pytest.mark.parametrize("label, byte", [(b"Fp1\xe9\xff\x00x", "0xff"), (b"C\x013", "0x01"),
                                         (b"\x7fCz", "0x7f")])  # fmt: skip
def test_label_with_a_non_printable_byte_is_refused(tmp_path, label, byte):
    _small_edf(tmp_path / "lab.edf", [b"Cz", label], [100, 100])
    with pytest.raises(InvalidFileError, match=rf"lab\.edf: signal 2: label .* byte {byte}"):
        read_edf(tmp_path / "lab.edf")


def test_annotations_outside_the_recording_are_dropped_with_a_warning(tmp_path):
    """Onsets before the start or past the end of the data were read as they were (a window
    could then be asked for outside the recording): now dropped, the file and each one's
    number and onset named, never its text. biosig's writer refuses to write them."""
    data = np.random.default_rng(0).standard_normal((2, 1000)).astype(np.float32)
    ann = Annotations.from_lists([-2.0, 1.0, 10.0, 25.0], [0.0] * 4,
                                 ["Smith early", "a", "end", "Smith late"])
    rec = Recording(data, 100.0, ["C3", "C4"], ["eeg"] * 2, ["uV"] * 2, ann, {})
    with pytest.raises(InvalidFileError, match=r"x\.edf: 2 annotation\(s\) start outside the "
                                               r"recording \(0 to 10 s\): #0 at -2 s, #3 at 25 s"):
        write_edf(tmp_path / "x.edf", rec)  # biosig's writer refuses them; another's need not
    assert not (tmp_path / "x.edf").exists()
    import edfio

    path = tmp_path / "x.edf"
    edfio.Edf([edfio.EdfSignal(x.astype(np.float64), 100.0, label=name, physical_dimension="uV")
               for x, name in zip(data, rec.ch_names)],
              annotations=[edfio.EdfAnnotation(o, None, t) for o, t in
                           zip(ann.onset.tolist(), ann.description)]).write(path)
    with pytest.warns(RuntimeWarning) as said:
        back = read_edf(path)
    assert back.annotations.onset.tolist() == [1.0, 10.0]  # the end itself is in the data
    assert list(back.annotations.description) == ["a", "end"]
    (text,) = [str(w.message) for w in said]
    assert text.startswith(f"{path}: 2 EDF+ annotation(s) with an onset outside the recording "
                           "(0 to 10 s) dropped: #0 at -2 s, #3 at 25 s") and "Smith" not in text
