"""No identifying header field (patient/recording id, dates, clinical free text) reaches
``Recording.meta``; writers store none."""

from __future__ import annotations

import datetime
import re

import numpy as np
import pytest
from io_fixtures import SHARED, synthetic

from biosig.errors import InvalidFileError
from biosig.io import (
    read_edf,
    read_gdf,
    read_recording,
    read_wfdb,
    write_edf,
    write_gdf,
    write_wfdb,
)
from biosig.signal.recording import IDENTIFYING_KEYS

ALLOWED_META = {
    "format",
    "source",
    "n_records",
    "record_duration",
    "n_nan",
    "n_inf",
    "n_gaps",
    "n_events",
    "event_mode",
    "fmt",
    "samps_per_frame",
    "upsampled_channels",
}

EDF_FILES = [
    "eeg_edf/eegmmidb/S001R03.edf",
    "eeg_edf/mne-testing-data/chtypes_edf.edf",
    "eeg_edf/mne-testing-data/MB0400FU.EDF",
    "eeg_edf/mne-testing-data/subsecond_starttime.edf",
]
WFDB_RECORDS = [
    "ecg_wfdb/ptbdb/s0010_re",
    "ecg_wfdb/ptb-xl/00001_lr",
    "ecg_wfdb/cinc2021/E07500",
    "ecg_wfdb/mitdb/100",
    "ecg_wfdb/mimicdb/03700181",
]


def _assert_clean(meta: dict, secrets: list[str]) -> None:
    assert set(meta) <= ALLOWED_META, set(meta) - ALLOWED_META
    assert not IDENTIFYING_KEYS.intersection(k.lower() for k in meta)
    for v in meta.values():
        assert not isinstance(v, (datetime.date, datetime.time, datetime.datetime))
    text = repr(meta)
    for s in secrets:
        assert s not in text, s


def _tokens(text: str) -> list[str]:
    """Words of 5+ letters and number-like tokens (ages, dates, ids) of a header field."""
    words = [t.strip(":()") for t in re.split(r"[\s,]+", text)]
    return [
        t
        for t in words
        if (len(t) >= 5 or (len(t) >= 3 and any(c.isdigit() for c in t))) and t != "Startdate"
    ]


@pytest.mark.shared_data
@pytest.mark.parametrize("rel", EDF_FILES)
def test_edf_identification_not_in_meta(rel):
    path = SHARED / rel
    if not path.exists():
        pytest.skip(f"{path} not found")
    head = path.read_bytes()[:256].decode("latin-1")
    secrets = _tokens(head[8:168]) + [head[168:176], head[176:184]]  # ids, start date, time
    assert secrets  # these files do carry identification fields
    rec = read_edf(path)
    _assert_clean(rec.meta, secrets)


@pytest.mark.shared_data
@pytest.mark.parametrize("rel", WFDB_RECORDS)
def test_wfdb_comments_and_dates_not_in_meta(rel):
    hea = SHARED / f"{rel}.hea"
    if not hea.exists():
        pytest.skip(f"{hea} not found")
    lines = hea.read_text(errors="replace").splitlines()
    secrets = [t for line in lines if line.startswith("#") for t in _tokens(line[1:])]
    record_line = next(line for line in lines if line.strip() and not line.startswith("#"))
    secrets += record_line.split()[4:]  # base time and date, where present
    rec = read_wfdb(SHARED / rel)
    _assert_clean(rec.meta, secrets)


@pytest.mark.shared_data
def test_gdf_meta_clean():
    path = SHARED / "gdf/mne-testing-data/test_1ch.gdf"
    if not path.exists():
        pytest.skip(f"{path} not found")
    _assert_clean(read_gdf(path).meta, [])


def test_writers_store_no_identification(tmp_path):
    rec = synthetic()
    # a caller's meta is never written (Recording itself refuses identifying keys)
    rec.meta["study_note"] = "Jane Doe 1970-01-01"
    edf = write_edf(tmp_path / "a.edf", rec).read_bytes()[:256].decode("latin-1")
    assert edf[8:88].split() == ["X", "X", "X", "X"]  # EDF+ anonymous patient
    assert edf[88:168].split()[:2] == ["Startdate", "01-JAN-1985"] and "Jane" not in edf
    gdf = write_gdf(tmp_path / "a.gdf", rec).read_bytes()
    assert b"Jane" not in gdf and gdf[168:184] == bytes(16)  # no start date / birthday
    hea = write_wfdb(tmp_path, "a", rec).read_text()
    assert "#" not in hea and "Jane" not in hea
    assert len(hea.splitlines()[0].split()) == 4  # record line without base time/date
    for path in (tmp_path / "a.edf", tmp_path / "a.gdf", tmp_path / "a"):
        _assert_clean(read_recording(path).meta, ["Jane", "1985"])


SECRET = "ZZPATIENT_SMITH_1234"


def _wfdb_record(tmp_path):
    from biosig.io import Annotations

    rec = synthetic(n_chans=2, n_times=200, annotations=Annotations.empty())
    hea = write_wfdb(tmp_path, "p", rec)
    return hea, hea.read_bytes(), read_wfdb(hea)


@pytest.mark.parametrize("brk", ["\v", "\f", "\x1c", "\x1d", "\x1e"])
def test_wfdb_comment_holding_a_line_break_character_stays_a_comment(tmp_path, brk):
    """str.splitlines (which wfdb uses) breaks lines at these characters; a WFDB header does
    not, so the identifier after one is still comment text, and the record reads."""
    from biosig.io import read_wfdb_header_labels, scan_wfdb_header

    hea, text, before = _wfdb_record(tmp_path)
    hea.write_bytes(f"# Name: X{brk}{SECRET}\n# Age: 61\n".encode() + text)
    rec = read_wfdb(hea)
    assert rec.ch_names == before.ch_names
    np.testing.assert_array_equal(rec.data, before.data)
    assert read_wfdb_header_labels(hea)["age"] == 61
    assert scan_wfdb_header(hea)["sig_names"] == before.ch_names
    assert SECRET not in repr(rec.meta)


@pytest.mark.parametrize(
    "junk", [f"{SECRET}\n", f"{SECRET} 2 x 100\n", f"p {SECRET}\n", "p 2 x 200\n", "p 2 9 x\n"]
)
def test_wfdb_header_errors_never_quote_the_header(tmp_path, junk):
    from biosig.io import read_wfdb_header_labels, scan_wfdb_header

    hea, text, _ = _wfdb_record(tmp_path)
    hea.write_bytes(junk.replace("x", SECRET).encode() + text)
    for read in (read_recording, read_wfdb_header_labels, scan_wfdb_header):
        with pytest.raises(InvalidFileError, match=r"p\.hea: .*line 1\b") as info:
            read(hea)
        assert "SMITH" not in str(info.value), (read.__name__, str(info.value))


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda t: t + SECRET.encode(), r"last line \(line 4\)"),  # no newline at the end
        (lambda t: t.replace(b"\n", f"\r{SECRET}\n".encode(), 1), "line 1 holds a carriage"),
        (lambda t: t.replace(b" 16 ", f" 16 {SECRET} ".encode(), 1), r"signal line 1: ADC gain"),
        (lambda t: t.replace(b"\n", b" 10:00:00 99/12/1990\n", 1), "parsing the WFDB header"),
        (lambda t: t.replace(b"\n", b" 25:17:00\n", 1), "parsing the WFDB header"),
    ],
)  # the last two: a base date / time wfdb cannot parse (its error quotes them)
def test_wfdb_field_errors_never_quote_the_header(tmp_path, edit, match):
    hea, text, _ = _wfdb_record(tmp_path)
    hea.write_bytes(edit(text))
    with pytest.raises(InvalidFileError, match=rf"p\.hea: {match}") as info:
        read_recording(hea)
    import traceback

    printed = "".join(traceback.format_exception(info.value))  # what an uncaught error prints
    for secret in ("SMITH", "1990", "25:17"):
        assert secret not in printed, printed


def test_edf_errors_never_quote_text_where_a_number_belongs(tmp_path):
    """A misaligned header puts text (a name) into a number field; a damaged EDF+ annotation
    puts its free text where the onset belongs: neither is quoted in the error."""
    from io_fixtures import write_edf_plus_d

    path = write_edf_plus_d(tmp_path / "a.edf", np.zeros((1, 200)), 100, [0, 1], [(0.5, "ab")])
    raw = path.read_bytes()
    path.write_bytes(raw.replace(b"+0.5\x14ab", b"Jdoe\x14ab", 1))
    with pytest.raises(InvalidFileError, match=r"a\.edf: .* malformed onset \(text of 4") as info:
        read_edf(path)
    assert "Jdoe" not in str(info.value)
    path.write_bytes(raw[:236] + b"Jdoe 12 " + raw[244:])  # the number of data records
    with pytest.raises(InvalidFileError, match="'number of data records' is not a") as info:
        read_edf(path)
    assert "Jdoe" not in str(info.value)
    # a date slid into a number field (a patient field written too long) is not quoted either
    path.write_bytes(raw[:236] + b"02.03.51" + raw[244:])
    with pytest.raises(InvalidFileError, match=r"is not a number: \(text of 8 char") as info:
        read_edf(path)
    assert "02.03" not in str(info.value)


@pytest.mark.shared_data
def test_wfdb_comment_tail_is_not_read_as_the_record_line_for_annotations(tmp_path):
    """wfdb reads the header again for an annotation file without a sampling rate (MIT-BIH's):
    a comment tail after a vertical tab that looks like a record line must not give its rate."""
    import shutil

    from io_fixtures import shared

    base = shared("ecg_wfdb/mitdb/100")
    for ext in (".hea", ".dat", ".atr"):
        shutil.copy(base.with_suffix(ext), tmp_path / f"100{ext}")
    hea = tmp_path / "100.hea"
    hea.write_bytes(b"# Name: X\vX 2 720\n" + hea.read_bytes())
    rec = read_wfdb(hea)
    assert rec.sfreq == 360.0 and rec.annotations.onset[0] == pytest.approx(18 / 360)


def test_wfdb_annotation_note_errors_never_quote_the_note(tmp_path):
    from biosig.io._util import quiet_wfdb

    hea, _, _ = _wfdb_record(tmp_path)
    with quiet_wfdb():  # a free-text note starting "## " (wfdb writes it)
        import wfdb

        wfdb.wrann("p", "atr", np.array([10]), symbol=['"'], aux_note=[f"## {SECRET}"], fs=250,
                   write_dir=str(tmp_path))  # fmt: skip
    with pytest.raises(InvalidFileError, match=r"p\.atr: malformed definition note") as info:
        read_wfdb(hea)
    assert "SMITH" not in str(info.value)


@pytest.mark.parametrize(
    "suffix, version, match",
    [
        (".edf", b"Jdoe1970", r"version field .* neither the ASCII '0'"),
        (".edf", b"GDF Jdoe", "looks like a GDF file"),
        (".gdf", b"Jdoe1970", "version field .* does not start 'GDF '"),
        (".gdf", b"GDF Jdoe", "does not end in a number"),
        (".gdf", b"GDF 1970", "a number outside 1.x-2.x"),
    ],
)
def test_version_field_errors_never_quote_the_field(tmp_path, suffix, version, match):
    """The first 8 bytes of a crafted or damaged file could hold anything: the error says what
    the field should hold, not what it holds."""
    write = write_edf if suffix == ".edf" else write_gdf
    path = write(tmp_path / f"a{suffix}", synthetic())
    path.write_bytes(version + path.read_bytes()[8:])
    with pytest.raises(InvalidFileError, match=rf"a\{suffix}: .*{match}") as info:
        read_recording(path)
    for secret in ("Jdoe", "1970"):
        assert secret not in str(info.value), str(info.value)


@pytest.mark.parametrize(
    "row, match",
    [
        ("3,1.0,2.0,Jdoe", r"row 3: non-numeric field \(label\)"),
        ("3,1.0,2.0,1,Jdoe", "row 3: expected 4 fields 'channel,start,stop,label', found 5"),
        ("3,1.0,2.0", "row 3: expected 4 fields .*, found 3"),
        ("3,19700101,inf,1", r"row 3: non-finite field \(stop\)"),
        ("3,20.0,19700101,7", "row 3: unknown label 7 "),
        ("3,19700101,2.0,1", r"row 3: bad event times"),
        ("25,19700101,19700102,1", "row 3: channel 25 is not"),
    ],
)
def test_rec_errors_name_the_row_never_quote_it(tmp_path, row, match):
    """A ``.rec`` error names the file, the row (its line number, blank lines counted) and what
    is wrong; it never quotes the row, which could hold anything."""
    from biosig.io import read_rec

    path = tmp_path / "a.rec"
    path.write_text(f"0,0.0,1.0,6\n\n{row}\n")
    with pytest.raises(InvalidFileError, match=rf"a\.rec: {match}") as info:
        read_rec(path)
    for secret in ("Jdoe", "19700101"):
        assert secret not in str(info.value), str(info.value)


#: The identification and patient fields of a GDF fixed header (offset, length), by version.
_GDF_IDENTIFICATION = {
    "1.25": [(8, 80), (88, 80), (168, 16), (192, 24)],
    "2.20": [(8, 66), (84, 4), (88, 64), (152, 32), (186, 26)],
}


@pytest.mark.parametrize("version", sorted(_GDF_IDENTIFICATION))
def test_gdf_copy_handed_to_mne_carries_no_identification(tmp_path, monkeypatch, version):
    """The copy MNE reads (files of several rates) has the patient, recording id, location,
    dates, equipment/laboratory/technician ids and patient descriptors blanked; the rest of the
    file is unchanged and MNE reads it to the same values."""
    from biosig.io import gdf as gdf_mod

    path = write_gdf(tmp_path / "a.gdf", synthetic(3, 500), version=version)
    hdr = gdf_mod.parse_gdf_header(path)
    before = gdf_mod._read_mixed_rates(path, hdr, (), None)[0]
    raw = bytearray(path.read_bytes())
    for offset, length in _GDF_IDENTIFICATION[version]:
        raw[offset : offset + length] = (b"JDOE1970" * 10)[:length]
    path.write_bytes(bytes(raw))
    seen, real = [], gdf_mod.read_samples

    def spy(*args, source):
        seen.append(source.read_bytes())
        return real(*args, source=source)

    monkeypatch.setattr(gdf_mod, "read_samples", spy)
    np.testing.assert_array_equal(gdf_mod._read_mixed_rates(path, hdr, (), None)[0], before)
    (copy,) = seen
    assert b"JDOE" not in copy and b"1970" not in copy
    for offset, length in _GDF_IDENTIFICATION[version]:  # all else is as in the file
        raw[offset : offset + length] = copy[offset : offset + length]
    assert copy == raw


def test_unit_fields_in_errors_are_named_only_when_voltages():
    """An EDF unit field is 8 bytes of header text: a voltage unit is named, other text counted."""
    from biosig.io._util import shown_units

    assert shown_units(["mV", "uV", "mV"]) == "mV, uV"
    assert shown_units(["mV", "JDOEZZ", "x"]) == "mV, 2 other unit texts (not shown)"
    assert shown_units(["JDOEZZ"]) == "1 other unit text (not shown)"
