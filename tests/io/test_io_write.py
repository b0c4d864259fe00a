"""Writers: EDF+ round trip, the simulator's recordings through all three formats."""

from __future__ import annotations

import numpy as np
import pytest
from io_fixtures import synthetic

from biosig.errors import BiosigError, InvalidFileError
from biosig.io import (
    Annotations,
    Recording,
    read_edf,
    read_recording,
    write_edf,
    write_gdf,
    write_wfdb,
)
from biosig.io.edf import parse_edf_header
from biosig.io.write import _physical_range


def _quantisation_ok(
    out: np.ndarray, ref: np.ndarray, levels: int = 65535, slack: float = 1.0
) -> bool:
    step = (ref.max(1) - ref.min(1)) / levels
    err = np.abs(out.astype(np.float64) - ref).max(1)
    # EDF's 8-character physical range widens the range slightly; allow one step
    return bool(np.all(err <= slack * step + 1e-6 * np.abs(ref).max(1)))


def test_edf_roundtrip(tmp_path):
    rec = synthetic(n_chans=4, n_times=1000, sfreq=250.0)
    path = write_edf(tmp_path / "r.edf", rec)
    hdr = parse_edf_header(path)
    assert hdr.variant == "EDF+C" and hdr.record_duration == 1.0 and hdr.n_records == 4
    out = read_edf(path)
    assert out.ch_names == rec.ch_names and out.ch_types == rec.ch_types and out.units == rec.units
    assert out.sfreq == 250.0 and out.data.shape == rec.data.shape
    assert _quantisation_ok(out.data, rec.data)
    np.testing.assert_allclose(out.annotations.onset, rec.annotations.onset)
    np.testing.assert_allclose(out.annotations.duration, rec.annotations.duration)
    assert list(out.annotations.description) == list(rec.annotations.description)


def test_edf_partial_last_second(tmp_path):
    """A length that is not a whole number of seconds goes into one data record."""
    rec = synthetic(n_chans=2, n_times=1001, sfreq=250.0, annotations=Annotations.empty())
    out = read_edf(write_edf(tmp_path / "p.edf", rec))
    assert out.n_times == 1001 and _quantisation_ok(out.data, rec.data)
    rec2 = synthetic(n_chans=2, n_times=1000, sfreq=250.0, annotations=Annotations.empty())
    out2 = read_edf(write_edf(tmp_path / "q.edf", rec2, record_duration=0.5))
    assert parse_edf_header(tmp_path / "q.edf").n_records == 8 and out2.n_times == 1000


def test_edf_ecg_leads_keep_type_and_mv(tmp_path):
    leads = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    data = np.random.default_rng(0).normal(0, 0.3, (12, 500)).astype(np.float32)
    rec = Recording(data, 500.0, leads, ["ecg"] * 12, ["mV"] * 12)
    for path in (write_edf(tmp_path / "e.edf", rec), write_gdf(tmp_path / "e.gdf", rec)):
        out = read_recording(path)
        assert out.ch_types == ["ecg"] * 12 and out.units == ["mV"] * 12
        assert _quantisation_ok(out.data, rec.data)


def test_physical_range_fits_eight_characters(tmp_path):
    """Odd value ranges get a physical range EDF can print in 8 characters (edfio raises
    otherwise) that still covers the data."""
    cases = [(-123456.789, 98765.4321), (-1e-5, 2e-5), (0.0, 0.0), (-3.14159265, 2.7182818)]
    for lo, hi in cases:
        plo, phi = _physical_range(np.array([lo, hi]))
        assert plo <= lo and phi >= hi and phi > plo
    t = np.linspace(0, 1, 500)
    data = np.stack([lo + (hi - lo) * t for lo, hi in cases]).astype(np.float32)
    rec = Recording(data, 500.0, ["a", "b", "c", "d"], ["misc"] * 4, ["uV"] * 4)
    out = read_edf(write_edf(tmp_path / "r.edf", rec), ch_types={n: "misc" for n in "abcd"})
    # quantisation step = written physical range / 65535
    span = np.array([np.subtract(*_physical_range(x.astype(np.float64))[::-1]) for x in data])
    assert np.all(np.abs(out.data - data).max(1) <= 0.5 * span / 65535 + 1e-6 * np.abs(data).max(1))
    with pytest.raises(BiosigError, match="8-character"):
        _physical_range(np.array([-1e12, 1e12]))


def test_writers_reject_nan_inf_and_empty(tmp_path):
    rec = synthetic()
    bad = rec.copy()
    bad.data[1, 3] = np.inf
    for write in (
        lambda p: write_edf(p / "a.edf", bad),
        lambda p: write_gdf(p / "a.gdf", bad),
        lambda p: write_wfdb(p, "a", bad),
    ):
        with pytest.raises(InvalidFileError, match="inf"):
            write(tmp_path)
    nan = rec.copy()
    nan.data[0, 0] = np.nan
    with pytest.raises(InvalidFileError, match="NaN"):
        write_edf(tmp_path / "n.edf", nan)
    empty = Recording(np.zeros((2, 0), np.float32), 100.0, ["a", "b"])
    with pytest.raises(InvalidFileError, match="empty"):
        write_gdf(tmp_path / "e.gdf", empty)
    with pytest.raises(BiosigError, match="record name"):
        write_wfdb(tmp_path, "bad name.x", rec)
    with pytest.raises(TypeError):
        write_edf(tmp_path / "t.edf", rec.data)


def test_simulator_recordings_through_every_format(tmp_path):
    sim = pytest.importorskip("biosig.datasets.synthetic")
    mi = sim.simulate_mi_session(
        1, "T", n_trials_per_class=1, classes=("left_hand", "right_hand", "feet", "tongue")
    )
    ecg = sim.simulate_ecg_record(duration=2.0)
    for fmt in ("edf", "gdf", "wfdb"):
        for rec in (mi, ecg):
            path = sim.write_recordings([rec], tmp_path / fmt, fmt)[0]
            out = read_recording(path)
            assert out.ch_names == rec.ch_names, fmt
            assert out.ch_types == rec.ch_types and out.units == rec.units, fmt
            assert out.data.shape == rec.data.shape and out.sfreq == rec.sfreq
            assert _quantisation_ok(out.data, rec.data, slack=1.5), fmt
            assert len(out.annotations) == len(rec.annotations)
            np.testing.assert_allclose(
                out.annotations.onset, rec.annotations.onset, atol=0.5 / rec.sfreq
            )
    # GDF stores the BCI IV 2a cue codes
    gdf = read_recording(tmp_path / "gdf" / f"{mi.meta['source']}.gdf")
    assert {"769", "770", "771", "772"} <= set(gdf.annotations.description)


def test_names_that_do_not_fit_are_refused_not_truncated(tmp_path):
    rec = synthetic(n_chans=2, annotations=Annotations.empty())
    long = rec.copy(ch_names=["EEG Fp1-REF-very-long", "C4"])
    for write in (
        lambda: write_edf(tmp_path / "l.edf", long),
        lambda: write_gdf(tmp_path / "l.gdf", long),
    ):
        with pytest.raises(InvalidFileError, match="at most 16"):
            write()
    uml = rec.copy(ch_names=["Fp1", "C\u00f64"])
    with pytest.raises(InvalidFileError, match="ASCII"):
        write_edf(tmp_path / "u.edf", uml)
    # WFDB keeps spaces in signal names
    spaced = rec.copy(ch_names=["EEG Fp1-REF", "ECG"])
    out = read_recording(write_wfdb(tmp_path, "s", spaced))
    assert out.ch_names == ["EEG Fp1-REF", "ECG"] and out.ch_types == ["eeg", "ecg"]


def test_edf_and_gdf_writes_are_atomic_and_name_an_unwritable_target(tmp_path, monkeypatch):
    """`biosig generate W out.edf` into a folder or an unwritable place was an OSError
    traceback; a write that failed midway left a half-written file under the target's name."""
    import edfio

    rec = synthetic(n_chans=2, n_times=500, sfreq=250.0)
    for write in (write_edf, write_gdf):
        with pytest.raises(InvalidFileError, match="is a folder"):
            write(tmp_path, rec)
        with pytest.raises(InvalidFileError, match=r"out\.\w+: cannot be written"):
            write("/proc/biosig-test/out.bin", rec)  # /proc takes no new folder, even as root
    old = write_edf(tmp_path / "r.edf", rec).read_bytes()

    def half(self, target):
        with open(target, "wb") as fh:
            fh.write(b"0       half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(edfio.Edf, "write", half)
    with pytest.raises(InvalidFileError, match=r"r\.edf: cannot be written \(No space left"):
        write_edf(tmp_path / "r.edf", synthetic(n_chans=3, n_times=500, sfreq=250.0))
    assert (tmp_path / "r.edf").read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.edf"]
