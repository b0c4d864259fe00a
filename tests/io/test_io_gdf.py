"""GDF reader on the real GDF 2.10 file and the GDF writer (1.25 / 2.10 / 2.20, event tables)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from io_fixtures import shared, synthetic

from biosig.errors import BiosigError, InvalidFileError
from biosig.io import Annotations, read_gdf, read_recording, write_gdf
from biosig.io.gdf import code_from_unit, parse_gdf_header, unit_from_code
from biosig.signal.recording import IDENTIFYING_KEYS

# BCI IV 2a cue codes: 768 trial start, 769-772 left/right/feet/tongue, 1023 rejected
BCI_CUES = {"left_hand": 769, "right_hand": 770, "feet": 771, "tongue": 772}


@pytest.mark.shared_data
def test_real_gdf_2_10():
    rec = read_gdf(shared("gdf/mne-testing-data/test_1ch.gdf"))
    assert rec.data.shape == (1, 4500) and rec.sfreq == 150.0
    assert rec.ch_names == ["ECG"] and rec.ch_types == ["ecg"] and rec.units == ["mV"]
    assert rec.meta["format"] == "GDF 2.10" and rec.meta["source"] == "test_1ch.gdf"
    assert rec.meta["n_events"] == 0 and len(rec.annotations) == 0
    assert not IDENTIFYING_KEYS.intersection(rec.meta)
    # unit code 4274 (mV) in the file: values are already mV; MNE returns volts
    import mne

    raw = mne.io.read_raw_gdf(
        shared("gdf/mne-testing-data/test_1ch.gdf"), preload=True, verbose="error"
    )
    np.testing.assert_allclose(rec.data[0], raw.get_data()[0] * 1e3, rtol=1e-6)
    assert 0.01 < rec.data.std() < 5  # an ECG in mV


def _bci_like_recording(n_trials: int = 6, sfreq: float = 250.0):
    """22-ish channel MI-like recording with BCI IV 2a style cues (trial start 768 + cue)."""
    rng = np.random.default_rng(0)
    n_times = int(n_trials * 8 * sfreq)
    onsets, durations, desc = [], [], []
    for k in range(n_trials):
        t = 8.0 * k
        onsets += [t, t + 2.0]
        durations += [0.0, 1.25]
        desc += ["768", str(769 + k % 4)]
    rec = synthetic(
        n_chans=4,
        n_times=n_times,
        sfreq=sfreq,
        seed=1,
        annotations=Annotations.from_lists(onsets, durations, desc),
    )
    return rec, rng


@pytest.mark.parametrize("version", ["1.25", "2.10", "2.20"])
@pytest.mark.parametrize("dtype", ["int16", "float32"])
def test_gdf_roundtrip(tmp_path, version, dtype):
    rec, _ = _bci_like_recording()
    path = write_gdf(tmp_path / "x.gdf", rec, version=version, dtype=dtype)
    out = read_gdf(path)
    assert out.meta["format"] == f"GDF {version}"
    assert out.ch_names == rec.ch_names and out.units == rec.units and out.ch_types == rec.ch_types
    assert out.sfreq == rec.sfreq and out.data.shape == rec.data.shape
    if dtype == "float32":
        np.testing.assert_array_equal(out.data, rec.data)
    else:
        step = (rec.data.max(1) - rec.data.min(1)) / 65535
        err = np.abs(out.data.astype(np.float64) - rec.data).max(1)
        assert np.all(err <= 0.5 * step + 1e-6 * np.abs(rec.data).max(1))
    np.testing.assert_allclose(out.annotations.onset, rec.annotations.onset, atol=1e-9)
    # durations are stored in whole samples
    np.testing.assert_allclose(
        out.annotations.duration, rec.annotations.duration, atol=0.5 / rec.sfreq
    )
    assert list(out.annotations.description) == list(rec.annotations.description)
    assert out.meta["event_mode"] == 3 and out.meta["n_events"] == 12


@pytest.mark.parametrize("version", ["1.25", "2.10", "2.20"])
def test_mne_reads_written_event_table(tmp_path, version):
    """The event table follows the spec closely enough for MNE's own GDF reader."""
    import mne

    rec, _ = _bci_like_recording()
    path = write_gdf(tmp_path / "x.gdf", rec, version=version)
    raw = mne.io.read_raw_gdf(path, preload=True, verbose="error")
    assert raw.info["sfreq"] == 250.0 and raw.ch_names == rec.ch_names
    np.testing.assert_allclose(raw.annotations.onset, rec.annotations.onset, atol=1e-9)
    assert list(raw.annotations.description) == list(rec.annotations.description)
    events, event_id = mne.events_from_annotations(raw, verbose="error")
    assert set(event_id) == {"768", "769", "770", "771", "772"}
    assert len(events) == 12
    # MNE gives EEG (µV) in volts; it scales mV to volts only for GDF 2.x (1.x: as stored)
    np.testing.assert_allclose(raw.get_data()[0] * 1e6, rec.data[0], atol=0.01)
    ecg_scale = 1.0 if version == "1.25" else 1e3
    np.testing.assert_allclose(raw.get_data()[3] * ecg_scale, rec.data[3], atol=1e-4)


def test_event_codes_mapping_and_mode_1(tmp_path):
    ann = Annotations.from_lists([1.0, 3.0, 5.0], [0, 0, 0], ["left_hand", "feet", "tongue"])
    rec = synthetic(n_times=1500, annotations=ann)
    path = write_gdf(tmp_path / "m1.gdf", rec, event_codes=BCI_CUES)
    out = read_gdf(path)
    assert out.meta["event_mode"] == 1
    assert list(out.annotations.description) == ["769", "771", "772"]
    np.testing.assert_allclose(out.annotations.onset, [1.0, 3.0, 5.0])
    np.testing.assert_array_equal(out.annotations.duration, 0.0)
    with pytest.raises(InvalidFileError, match="event_codes") as info:
        write_gdf(tmp_path / "bad.gdf", rec, event_codes={"left_hand": 769})
    # names the output file and every unmapped description, and writes nothing
    assert info.value.path == str(tmp_path / "bad.gdf")
    assert "'feet', 'tongue'" in info.value.reason and "left_hand" not in info.value.reason
    assert not (tmp_path / "bad.gdf").exists()


def test_event_names_give_the_written_names_back(tmp_path):
    """write_gdf stores codes only; read_gdf(event_names=) maps them back to the names, and a
    code the mapping does not list stays a string."""
    ann = Annotations.from_lists([1.0, 2.0, 3.0, 4.0], [0, 0.5, 0, 0],
                                 ["left_hand", "768", "tongue", "left_hand"])
    rec = synthetic(n_times=1500, annotations=ann)
    path = write_gdf(tmp_path / "n.gdf", rec, event_codes=BCI_CUES)
    out = read_gdf(path, event_names={v: k for k, v in BCI_CUES.items()})
    assert list(out.annotations.description) == ["left_hand", "768", "tongue", "left_hand"]
    np.testing.assert_allclose(out.annotations.onset, [1.0, 2.0, 3.0, 4.0])
    # the string form of a code is a key too; an empty mapping changes nothing
    out = read_gdf(path, event_names={"769": "L", 768: "start"})
    assert list(out.annotations.description) == ["L", "start", "772", "L"]
    assert list(read_gdf(path, event_names={}).annotations.description) == [
        "769", "768", "772", "769"]
    assert list(read_recording(path, event_names={772: "T"}).annotations.description)[2] == "T"


@pytest.mark.parametrize("names, match", [
    ({"left": "x"}, r"event_names key 'left' is not a GDF event type code"),
    ({7.5: "x"}, r"key 7.5 is not a GDF event type code"),
    ({True: "x"}, r"key True is not"),
    ({70000: "x"}, r"key 70000 is not .*\[0, 65535\]"),
    ({769: 1}, r"event_names\[769\] must be a non-empty string .* got 1"),
    ({769: ""}, r"event_names\[769\] must be a non-empty string"),
    ({769: "a", "769": "b"}, r"gives code 769 two names: 'a' and 'b'"),
    ([(769, "a")], r"event_names must be a mapping \{code: name\}, got list"),
])
def test_bad_event_names_are_refused(tmp_path, names, match):
    from biosig.errors import ConfigError

    path = write_gdf(tmp_path / "b.gdf", synthetic(n_times=500))
    with pytest.raises(ConfigError, match=match):
        read_gdf(path, event_names=names)


@pytest.mark.shared_data
def test_docs_writer_example_runs_on_s001r03(tmp_path, monkeypatch):
    """The writer example of docs/guide/recordings.md runs as written on S001R03."""
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs/guide/recordings.md").read_text()
    block = doc.split("## Writers", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    rec = read_recording(shared("eeg_edf/eegmmidb/S001R03.edf"))
    monkeypatch.chdir(tmp_path)
    scope = {"rec": rec}
    exec(block, scope)
    assert sorted(set(read_gdf("x.gdf").annotations.description)) == ["1", "769", "770"]
    assert list(scope["named"].annotations.description) == list(rec.annotations.description)
    assert len(read_gdf("x1.gdf").annotations) == len(rec.annotations) == 30


def test_explicit_events_and_channels(tmp_path):
    rec = synthetic(n_times=1000, annotations=Annotations.empty())
    events = np.array([[10, 0, 1], [500, 250, 32766]])  # position, duration, type
    path = write_gdf(tmp_path / "e.gdf", rec, events, event_channels=np.array([0, 2]))
    hdr = parse_gdf_header(path)
    assert hdr.event_mode == 3
    np.testing.assert_array_equal(hdr.events_pos, [11, 501])  # 1-based on disk
    np.testing.assert_array_equal(hdr.events_chn, [0, 2])
    out = read_gdf(path)
    np.testing.assert_allclose(out.annotations.onset, [10 / 250, 500 / 250])
    np.testing.assert_allclose(out.annotations.duration, [0, 1.0])
    assert list(out.annotations.description) == ["1", "32766"]


def test_written_header_layout(tmp_path):
    """Fixed header fields at the offsets the GDF 2 specification gives."""
    rec = synthetic(n_chans=3, n_times=1000, sfreq=250.0)
    path = write_gdf(tmp_path / "h.gdf", rec, version="2.20")
    b = path.read_bytes()
    assert b[:8] == b"GDF 2.20"
    assert struct.unpack_from("<H", b, 184)[0] == 4  # header blocks: (1 + 3 channels) x 256
    assert struct.unpack_from("<q", b, 236)[0] == 4  # 4 records of 250 samples
    assert struct.unpack_from("<II", b, 244) == (1, 1)  # 1 s per record
    assert struct.unpack_from("<H", b, 252)[0] == 3
    assert b[256:258] == b"C3"
    codes = np.frombuffer(b, "<u2", 3, 256 + 102 * 3)
    assert codes.tolist() == [4275, 4275, 4274]  # µV, µV, mV
    # no patient information, no dates
    assert set(b[8:74]) <= set(b"X \x00") and b[168:184] == bytes(16)
    # data start right after the header; int16 samples, record-major
    assert len(b) == 1024 + 3 * 1000 * 2 + 8 + 3 * 12


def test_unit_codes():
    assert unit_from_code(4275) == "uV" and unit_from_code(4274) == "mV"
    assert unit_from_code(4256) == "V" and unit_from_code(512) == "" and unit_from_code(0) == ""
    assert unit_from_code(3872) == "mmHg"
    for u in ["uV", "mV", "V", "nV", "%", "mmHg"]:
        assert unit_from_code(code_from_unit(u)) == u


def test_record_layout_non_integer_rate(tmp_path):
    no_ann = Annotations.empty()
    rec = synthetic(n_chans=2, n_times=513, sfreq=256.0, annotations=no_ann)  # 1-sample records
    out = read_gdf(write_gdf(tmp_path / "odd.gdf", rec, dtype="float32"))
    np.testing.assert_array_equal(out.data, rec.data)
    rec2 = synthetic(n_chans=2, n_times=600, sfreq=199.5, annotations=no_ann)
    out2 = read_gdf(write_gdf(tmp_path / "frac.gdf", rec2, dtype="float32"))
    assert out2.sfreq == pytest.approx(199.5) and out2.n_times == 600


def test_writer_rejects_bad_input(tmp_path):
    rec = synthetic()
    with pytest.raises(BiosigError, match="version"):
        write_gdf(tmp_path / "v.gdf", rec, version="3.0")
    with pytest.raises(BiosigError, match="dtype"):
        write_gdf(tmp_path / "d.gdf", rec, dtype="int64")
    bad = rec.copy()
    bad.data[0, 5] = np.nan
    with pytest.raises(InvalidFileError, match="NaN"):
        write_gdf(tmp_path / "n.gdf", bad)
    # float32 GDF can hold NaN; the reader counts it
    out = read_gdf(write_gdf(tmp_path / "nf.gdf", bad, dtype="float32"))
    assert out.meta["n_nan"] == 1
    with pytest.raises(BiosigError, match="type codes"):
        write_gdf(tmp_path / "t.gdf", rec, np.array([[0, 0, 70000]]))


def test_read_recording_dispatch_gdf(tmp_path):
    rec = synthetic()
    path = write_gdf(tmp_path / "r.gdf", rec)
    assert read_recording(path).meta["format"] == "GDF 2.20"


@pytest.mark.parametrize("version", ["1.25", "2.20"])
@pytest.mark.parametrize("unit, to_uv", [("uV", 1.0), ("mV", 1e3), ("V", 1e6), ("nV", 1e-3)])
def test_unit_scaling_to_microvolts(tmp_path, version, unit, to_uv):
    from biosig.io import Recording

    x = np.linspace(-50, 50, 200, dtype=np.float32)[None]
    rec = Recording(x, 100.0, ["Cz"], ["eeg"], [unit])
    out = read_gdf(write_gdf(tmp_path / "u.gdf", rec, version=version, dtype="float32"))
    assert out.units == ["uV"]
    np.testing.assert_allclose(out.data, x * to_uv, rtol=1e-6)


def test_events_outside_the_recording_are_dropped_with_a_warning(tmp_path):
    """An event positioned past the end of the data was kept as an annotation there (a window
    could then be asked for outside the recording); now dropped as the EDF reader drops
    annotations, naming the file, the event's number and onset. biosig's writer refuses such
    events (it wrote them), so the file is patched as another writer could have written it."""
    rec = synthetic(n_times=1000, annotations=Annotations.empty())  # 4 s at 250 Hz
    events = np.array([[10, 0, 1], [999, 0, 3], [5000, 0, 2]])  # position, duration, type
    with pytest.raises(InvalidFileError, match=r"e\.gdf: 1 event\(s\) positioned past the end "
                                               r"of the recording \(0 to 4 s\): #2 at 20 s"):
        write_gdf(tmp_path / "e.gdf", rec, events)
    events[2, 0] = 500
    path = write_gdf(tmp_path / "e.gdf", rec, events)
    table = parse_gdf_header(path).data_end + 8  # mode 1 table: 8-byte head, then positions
    with open(path, "r+b") as f:
        f.seek(table + 2 * 4)
        f.write(struct.pack("<I", 5001))  # 1-based: sample 5000
    with pytest.warns(RuntimeWarning) as said:
        out = read_gdf(path)
    np.testing.assert_allclose(out.annotations.onset, [10 / 250, 999 / 250])
    assert list(out.annotations.description) == ["1", "3"] and out.meta["n_events"] == 3
    (text,) = [str(w.message) for w in said]
    assert text.startswith(f"{path}: 1 GDF event(s) with an onset outside the recording (0 to "
                           "4 s) dropped: #2 at 20 s")
