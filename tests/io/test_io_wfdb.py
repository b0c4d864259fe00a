"""WFDB reader on real PhysioNet records and the WFDB writer."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from io_fixtures import SHARED, shared, synthetic

from biosig.errors import ChannelError, InvalidFileError
from biosig.io import Annotations, read_recording, read_wfdb, read_wfdb_header_labels, write_wfdb
from biosig.signal.recording import IDENTIFYING_KEYS

LEADS12 = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]


def _no_identifying_meta(rec) -> None:
    assert not IDENTIFYING_KEYS.intersection(k.lower() for k in rec.meta)
    text = repr(rec.meta).lower()
    for word in ("age", "sex", "female", "dx", "date", "diagnos", "infarction", "aldomet"):
        assert word not in text.replace("samps_per_frame", ""), word


@pytest.mark.shared_data
def test_ptb_15_leads_dat_and_xyz():
    rec = read_wfdb(shared("ecg_wfdb/ptbdb/s0010_re"))
    # 12 standard leads from .dat + 3 Frank leads from .xyz, all 1000 Hz, 38.4 s
    assert rec.ch_names == [
        "i",
        "ii",
        "iii",
        "avr",
        "avl",
        "avf",
        "v1",
        "v2",
        "v3",
        "v4",
        "v5",
        "v6",
        "vx",
        "vy",
        "vz",
    ]
    assert rec.data.shape == (15, 38400) and rec.sfreq == 1000.0
    assert set(rec.ch_types) == {"ecg"} and set(rec.units) == {"mV"}
    assert rec.meta["source"] == "s0010_re.hea" and rec.meta["n_nan"] == 0
    _no_identifying_meta(rec)
    # gain 2000 adu/mV: first sample of lead i is -489 adu = -0.2445 mV
    assert rec.data[0, 0] == pytest.approx(-489 / 2000)
    # Einthoven: I + III = II to within rounding of the stored leads
    np.testing.assert_allclose(rec.data[0] + rec.data[2], rec.data[1], atol=2e-3)


@pytest.mark.shared_data
def test_ptb_header_labels_only_through_label_function():
    labels = read_wfdb_header_labels(shared("ecg_wfdb/ptbdb/s0010_re"))
    assert labels["age"] == 81 and labels["sex"] == "female"
    assert labels["reason_for_admission"] == "Myocardial infarction"
    assert set(labels) == {"dx", "age", "sex", "reason_for_admission"}
    assert "Medication" not in repr(labels) and "1990" not in repr(labels)


@pytest.mark.shared_data
def test_ptbxl_record():
    rec = read_recording(shared("ecg_wfdb/ptb-xl/00001_lr"))
    assert rec.data.shape == (12, 1000) and rec.sfreq == 100.0
    assert [c.upper() for c in rec.ch_names] == [c.upper() for c in LEADS12]
    assert set(rec.ch_types) == {"ecg"} and set(rec.units) == {"mV"}
    assert rec.data[0, 0] == pytest.approx(-0.119)
    _no_identifying_meta(rec)


@pytest.mark.shared_data
def test_cinc2021_mat_records():
    folder = SHARED / "ecg_wfdb" / "cinc2021"
    records = sorted(folder.glob("E075*.hea"))
    if len(records) < 20:
        pytest.skip(f"CinC 2021 records not found under {folder}")
    for hea in records:
        rec = read_recording(hea.with_suffix(".mat"))
        assert rec.data.shape == (12, 5000) and rec.sfreq == 500.0, hea.name
        assert rec.ch_names == LEADS12 and set(rec.units) == {"mV"}
        assert rec.meta["fmt"] == ["16"] * 12 and rec.meta["source"] == hea.name
        assert np.isfinite(rec.data).all() and np.abs(rec.data).max() < 20
        _no_identifying_meta(rec)
    first = read_wfdb(folder / "E07500")
    assert first.data[0, 0] == pytest.approx(-0.068)  # -68 adu at 1000 adu/mV
    labels = read_wfdb_header_labels(folder / "E07500")
    assert labels == {"dx": ["67741000119109", "426177001"], "age": 78, "sex": "male"}
    a, b = read_wfdb(folder / "E07509"), read_wfdb(folder / "E07510")
    np.testing.assert_array_equal(a.data, b.data)  # the known duplicate pair


@pytest.mark.shared_data
@pytest.mark.parametrize("field, value", [(0, 0), (1, 11), (2, 4999), (3, 1), (4, 8)])
def test_cinc_mat_whose_matrix_header_disagrees_is_refused(tmp_path, field, value):
    """The 24 bytes before the samples were never read: any file of the right size (another
    record's matrix, or not a MATLAB file at all) read as this record's signal."""
    import shutil
    import struct

    src = SHARED / "ecg_wfdb" / "cinc2021" / "E07500"
    if not src.with_suffix(".mat").is_file():
        pytest.skip(f"CinC 2021 records not found under {src.parent}")
    for ext in (".hea", ".mat"):
        shutil.copy(src.with_suffix(ext), tmp_path / f"E07500{ext}")
    mat = tmp_path / "E07500.mat"
    assert read_wfdb(tmp_path / "E07500").data.shape == (12, 5000)  # the copy reads
    data = bytearray(mat.read_bytes())
    data[4 * field:4 * field + 4] = struct.pack("<i", value)
    mat.write_bytes(bytes(data))
    with pytest.raises(InvalidFileError, match=r"E07500\.mat.*not the MATLAB v4 signal matrix "
                                               r"E07500\.hea declares \(60000 samples"):
        read_wfdb(tmp_path / "E07500")


@pytest.mark.shared_data
def test_mitdb_100_fmt212_annotations_edited_header():
    rec = read_wfdb(shared("ecg_wfdb/mitdb/100"))
    assert rec.ch_names == ["MLII", "V5"] and rec.sfreq == 360.0
    assert rec.data.shape == (2, 650000) and rec.meta["fmt"] == ["212", "212"]
    assert rec.ch_types == ["ecg", "ecg"] and rec.units == ["mV", "mV"]
    # 995 adu (initial value), baseline 1024, gain 200 -> -0.145 mV
    assert rec.data[0, 0] == pytest.approx((995 - 1024) / 200)
    ann = rec.annotations
    assert len(ann) == 2274
    assert Counter(ann.description) == {"N": 2239, "A": 33, "V": 1, "(N": 1}
    assert ann.onset[0] == pytest.approx(18 / 360) and np.all(np.diff(ann.onset) >= 0)
    _no_identifying_meta(rec)  # header comment "69 M 1085 1629 x1" / "Aldomet, Inderal"
    assert read_wfdb_header_labels(shared("ecg_wfdb/mitdb/100")) == {
        "dx": [],
        "age": None,
        "sex": None,
    }


@pytest.mark.shared_data
def test_mimic_invalid_samples_multi_frame():
    path = shared("ecg_wfdb/mimicdb/03700181")
    rec = read_wfdb(path)
    assert rec.ch_names == ["MCL1", "ABP", "RESP"]
    assert rec.sfreq == 125.0 and rec.data.shape == (3, 75000)
    assert rec.ch_types == ["ecg", "misc", "resp"]
    assert rec.units == ["mV", "mmHg", "mV"]
    # RESP is skewed by 4 frames: the last 4 samples are invalid -> NaN, counted
    assert rec.meta["n_nan"] == 4 == int(np.isnan(rec.data).sum())
    assert np.isnan(rec.data[2, -4:]).all()
    assert rec.meta["samps_per_frame"] == [4, 1, 1]
    # smoothed MCL1 = mean of the 4 samples of each frame
    fast = read_wfdb(path, channels=["MCL1"])
    assert fast.sfreq == 500.0 and fast.data.shape == (1, 300000)
    np.testing.assert_allclose(
        fast.data[0].reshape(-1, 4).mean(1), rec.data[0], rtol=1e-5, atol=1e-6
    )
    up = read_wfdb(path, multi_rate="upsample")
    assert up.sfreq == 500.0 and up.data.shape == (3, 300000)
    np.testing.assert_array_equal(up.data[1, ::4], rec.data[1])
    assert up.meta["n_nan"] == 16
    by_index = read_wfdb(path, channels=[1])
    assert by_index.ch_names == ["ABP"]
    with pytest.raises(ChannelError, match="XYZ"):
        read_wfdb(path, channels=["XYZ"])
    with pytest.raises(ValueError, match="multi_rate"):
        read_wfdb(path, multi_rate="nearest")


def test_wfdb_rates_upsample_cannot_join_are_refused_saying_what_to_do(tmp_path):
    """Samples per frame 3 and 2 (300 and 200 Hz): ``multi_rate="upsample"`` cannot repeat
    samples to one rate; the error names the record, both rates and the options. A
    ``multi_rate`` that does not exist is a ConfigError."""
    from biosig.errors import ConfigError
    from biosig.io._util import quiet_wfdb

    with quiet_wfdb():
        import wfdb

        t = np.arange(300) / 300
        wfdb.wrsamp("m", fs=100, units=["mV", "mV"], sig_name=["I", "II"], fmt=["16", "16"],
                    e_p_signal=[np.sin(6 * t), np.cos(4 * t[:200])], samps_per_frame=[3, 2],
                    adc_gain=[200, 200], baseline=[0, 0], write_dir=str(tmp_path))  # fmt: skip
    assert read_wfdb(tmp_path / "m").shape == (2, 100)  # smoothed to the frame rate
    assert read_wfdb(tmp_path / "m", channels=["II"]).sfreq == 200.0
    with pytest.raises(
        InvalidFileError,
        match=r"m\.hea: signals at several sampling rates \(200, 300 Hz; .*"
        r"multi_rate='smooth' .* or pick channels of one rate",
    ):
        read_wfdb(tmp_path / "m", multi_rate="upsample")
    with pytest.raises(ConfigError, match="multi_rate must be 'smooth' or 'upsample'"):
        read_wfdb(tmp_path / "m", multi_rate="nearest")


def test_wfdb_roundtrip_with_nan_and_annotations(tmp_path):
    ann = Annotations.from_lists(
        [0.2, 0.4, 1.0, 2.0], [0, 0, 0, 0], ["N", "V", "(AFIB", "left_hand"]
    )
    rec = synthetic(n_chans=3, n_times=1000, sfreq=250.0, annotations=ann)
    rec.data[2, 100:105] = np.nan
    hea = write_wfdb(tmp_path, "sim1", rec)
    assert hea.name == "sim1.hea" and (tmp_path / "sim1.dat").exists()
    assert "#" not in hea.read_text()  # no header comments are written
    out = read_wfdb(tmp_path / "sim1")
    assert out.ch_names == rec.ch_names and out.units == rec.units and out.ch_types == rec.ch_types
    assert out.meta["n_nan"] == 5 and np.isnan(out.data[2, 100:105]).all()
    finite = np.isfinite(rec.data)
    ranges = np.nanmax(rec.data, 1) - np.nanmin(rec.data, 1)
    err = np.abs(np.where(finite, out.data - rec.data, 0)).max(1)
    assert np.all(err <= ranges / 65000)
    assert list(out.annotations.description) == ["N", "V", "(AFIB", "left_hand"]
    np.testing.assert_allclose(out.annotations.onset, [0.2, 0.4, 1.0, 2.0])


def test_wfdb_annotations_at_first_and_last_sample_roundtrip(tmp_path):
    # wfdb.rdann drops a comment annotation at sample 0 (it takes it for a definition note)
    n, fs = 500, 250.0
    onsets = [0.0, 0.0, 1.0, (n - 1) / fs]
    descs = ["T0", "N", "left hand", "T2"]
    ann = Annotations.from_lists(onsets, [4.1, 0, 0.5, 0], descs)
    rec = synthetic(n_chans=2, n_times=n, sfreq=fs, annotations=ann)
    write_wfdb(tmp_path, "edge", rec)
    out = read_wfdb(tmp_path / "edge").annotations
    assert list(out.description) == descs
    np.testing.assert_allclose(out.onset, onsets)
    np.testing.assert_array_equal(out.duration, 0)  # WFDB annotations have no duration


def test_wfdb_annotations_past_the_end_are_dropped_with_a_warning(tmp_path):
    """Annotation samples were not checked against the record length: a beat past the end
    became an annotation outside the recording; now dropped as the EDF reader drops them,
    naming the annotation file, each one's number and onset."""
    import wfdb

    rec = synthetic(n_chans=2, n_times=500, sfreq=250.0, annotations=Annotations.empty())
    write_wfdb(tmp_path, "r", rec)
    wfdb.wrann("r", "atr", np.array([10, 500, 900, 5000]), symbol=["N", "N", "V", "N"], fs=250,
               write_dir=str(tmp_path))
    with pytest.warns(RuntimeWarning) as said:
        out = read_wfdb(tmp_path / "r").annotations
    np.testing.assert_allclose(out.onset, [0.04, 2.0])  # the end itself is in the record
    assert list(out.description) == ["N", "N"]
    (text,) = [str(w.message) for w in said]
    assert text.startswith(f"{tmp_path / 'r.atr'}: 2 WFDB annotation(s) with an onset outside "
                           "the recording (0 to 2 s) dropped: #2 at 3.6 s, #3 at 20 s")


@pytest.mark.shared_data
def test_wfdb_roundtrip_keeps_every_eegmmidb_annotation(tmp_path):
    rec = read_recording(shared("eeg_edf/eegmmidb/S001R03.edf"))
    assert rec.annotations.onset[0] == 0 and len(rec.annotations) == 30
    out = read_recording(write_wfdb(tmp_path / "out", "rec1", rec)).annotations
    assert list(out.description) == list(rec.annotations.description)
    np.testing.assert_allclose(out.onset, rec.annotations.onset)


@pytest.mark.parametrize("desc", ["", " T0", "x" * 256, "a ## b", "\u20ac", "a\x00b"])
def test_wfdb_writer_refuses_descriptions_it_cannot_store(tmp_path, desc):
    rec = synthetic(n_chans=2, n_times=500, annotations=Annotations.from_lists([1.0], [0], [desc]))
    with pytest.raises(InvalidFileError, match="cannot be stored in a WFDB aux_note") as info:
        write_wfdb(tmp_path, "bad", rec)
    assert info.value.path.endswith("bad.atr")
    assert not list(tmp_path.iterdir())  # refused before anything is written


def test_wfdb_rewrite_without_annotations_removes_the_old_file(tmp_path):
    write_wfdb(tmp_path, "r", synthetic(n_chans=2, n_times=500, annotations=None))
    assert len(read_wfdb(tmp_path / "r").annotations) == 2  # the two that start in its 2 s
    write_wfdb(tmp_path, "r", synthetic(n_chans=2, n_times=500, annotations=Annotations.empty()))
    assert len(read_wfdb(tmp_path / "r").annotations) == 0


def test_wfdb_writer_fmt212(tmp_path):
    rec = synthetic(
        n_chans=2, n_times=720, sfreq=360.0, with_ecg=True, annotations=Annotations.empty()
    )
    write_wfdb(tmp_path, "r212", rec, fmt="212")
    out = read_wfdb(tmp_path / "r212.hea")
    assert out.meta["fmt"] == ["212", "212"]
    ranges = rec.data.max(1) - rec.data.min(1)
    assert np.all(np.abs(out.data - rec.data).max(1) <= ranges / 4000)


def test_wfdb_missing_and_truncated_files(tmp_path):
    rec = synthetic(n_chans=2, n_times=500, annotations=Annotations.empty())
    write_wfdb(tmp_path, "t", rec)
    dat = tmp_path / "t.dat"
    dat.write_bytes(dat.read_bytes()[:-10])
    with pytest.raises(InvalidFileError, match="truncated") as info:
        read_wfdb(tmp_path / "t")
    assert info.value.path.endswith("t.dat")
    dat.unlink()
    with pytest.raises(InvalidFileError, match="does not exist"):
        read_wfdb(tmp_path / "t")
    with pytest.raises(InvalidFileError, match="header does not exist"):
        read_wfdb(tmp_path / "missing")
    with pytest.raises(InvalidFileError):
        read_recording(tmp_path / "missing")


def test_header_labels_parsing(tmp_path):
    rec = synthetic(n_chans=2, n_times=100, annotations=Annotations.empty())
    write_wfdb(tmp_path, "lab", rec)
    hea = tmp_path / "lab.hea"
    hea.write_text(hea.read_text() + "# Age: NaN\n# Sex: F\n# Dx: 164889003\n# Name: Jane Doe\n")
    labels = read_wfdb_header_labels(hea)
    assert labels == {"dx": ["164889003"], "age": None, "sex": "female"}
    out = read_wfdb(hea)
    assert "Jane" not in repr(out.meta)


def test_scan_header_agrees_with_the_wfdb_parse(tmp_path):
    """The fast text scan used to index large databases gives the labels the full parse gives."""
    from biosig.io import read_wfdb_header_labels, scan_wfdb_header

    hea = tmp_path / "E1.hea"
    hea.write_text(
        "E1 2 500 1000\nE1.mat 16+24 1000/mV 16 0 -5 0 0 I\nE1.mat 16+24 1000/mV 16 0 3 0 0 "
        "aVR\n# Age: 63\n# Sex: Female\n# Dx: 426783006,164889003\n# Rx: Unknown\n"
    )
    scan = scan_wfdb_header(hea)
    assert scan["fs"] == 500.0 and scan["n_samples"] == 1000 and scan["files"] == ["E1.mat"]
    assert scan["sig_names"] == ["I", "aVR"]
    labels = read_wfdb_header_labels(hea)
    assert {k: scan[k] for k in ("dx", "sex")} == {k: labels[k] for k in ("dx", "sex")}
    assert scan["age"] == 63.0 and labels["age"] == 63 and "Rx" not in str(scan)
    hea.write_text("E1 2 500 1000\nE1.mat 16+24 1000/mV 16 0 -5 0 0 I\n")
    with pytest.raises(InvalidFileError, match="2 signals but has 1 signal lines"):
        scan_wfdb_header(hea)


def test_wfdb_repeated_label_gets_unique_names(tmp_path):
    """A label two signals share is made unique as the EDF/GDF readers do; picking by the
    shared label is ambiguous and refused, not resolved to one of them."""
    from biosig.io import scan_wfdb_header
    from biosig.signal import PickChannels

    rec = synthetic(n_chans=3, n_times=500, annotations=Annotations.empty())  # C3, C4, ECG
    hea = write_wfdb(tmp_path, "dup", rec)
    hea.write_text(hea.read_text().replace(" C4\n", " C3\n"))
    out = read_wfdb(hea)
    assert out.ch_names == ["C3-0", "C3-1", "ECG"]
    assert out.ch_types == ["eeg", "eeg", "ecg"]  # the type of the label, not of "C3-1"
    np.testing.assert_allclose(out.data[1], rec.data[1], atol=0.01)  # C3-1 is the old C4
    picked = PickChannels(names=["C3-1"])(out)
    np.testing.assert_array_equal(picked.data[0], out.data[1])
    assert read_wfdb(hea, channels=["C3-1"]).ch_names == ["C3-1"]
    with pytest.raises(ChannelError, match=r"'C3' is ambiguous in dup\.hea.*\['C3-0', 'C3-1'\]"):
        read_wfdb(hea, channels=["C3"])
    assert scan_wfdb_header(hea)["sig_names"] == out.ch_names


def test_wfdb_signal_file_longer_than_the_header_says_is_refused(tmp_path):
    rec = synthetic(n_chans=2, n_times=1000, annotations=Annotations.empty())
    hea = write_wfdb(tmp_path, "long", rec)
    text = hea.read_text()
    assert text.startswith("long 2 250 1000\n")
    hea.write_text(text.replace("long 2 250 1000", "long 2 250 500", 1))
    with pytest.raises(
        InvalidFileError, match=r"long\.hea declares 500 frames .* holds 4000 bytes, 1000 frames"
    ) as info:
        read_wfdb(hea)
    assert info.value.path.endswith("long.dat")
    # a header without a sample count: nothing to compare, the file gives the length
    hea.write_text(text.replace("long 2 250 1000", "long 2 250", 1))
    assert read_wfdb(hea).n_times == 1000
    # format 212 packs 2 samples in 3 bytes: an odd count may fill its last group
    one = synthetic(n_chans=1, n_times=501, annotations=Annotations.empty())
    hea = write_wfdb(tmp_path, "odd", one, fmt="212")
    (tmp_path / "odd.dat").write_bytes((tmp_path / "odd.dat").read_bytes().ljust(753, b"\0"))
    assert read_wfdb(hea).n_times == 501
    (tmp_path / "odd.dat").write_bytes((tmp_path / "odd.dat").read_bytes() + b"\0")
    with pytest.raises(InvalidFileError, match="declares 501 frames"):
        read_wfdb(hea)
