"""Generic WFDB loader on real MIT-BIH 100 (with .atr) and PTB s0010_re."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from _dataset_fixtures import SHARED
from biosig.datasets.wfdb_records import AAMI_CLASSES, WFDBRecords
from biosig.errors import ConfigError, InvalidFileError

WF = SHARED / "ecg_wfdb"
needs_shared = pytest.mark.skipif(not WF.is_dir(), reason=f"shared data not found at {WF}")


@needs_shared
def test_mitdb_record_with_beats():
    ds = WFDBRecords(WF / "mitdb" / "100", beat_classes="aami")
    assert ds.records() == [{"record": "100", "subject": "100", "session": "1"}]
    assert ds.classes == ["N", "S", "V", "F", "Q"]
    rec = ds.load(ds.records()[0])
    assert rec.ch_names == ["MLII", "V5"] and rec.sfreq == 360 and rec.n_times == 650000
    desc = list(rec.annotations.description)
    # record 100: 2239 normal beats, 33 APC, 1 PVC (2274 annotations incl. rhythm '+')
    assert desc.count("N") == 2239 and desc.count("S") == 33 and desc.count("V") == 1
    rows, skipped = ds.default_windows()(rec, ds.records()[0])
    assert len(rows) + skipped == 2273 and skipped <= 2
    assert ds.default_windows().n_times(360.0) == int(round(0.7 * 360))


@needs_shared
def test_folder_and_fixed_windows(tmp_path):
    for f in ("100.hea", "100.dat", "100.atr"):
        shutil.copyfile(WF / "mitdb" / f, tmp_path / f)
    (tmp_path / "patient001").mkdir()
    for f in ("s0010_re.hea", "s0010_re.dat", "s0010_re.xyz"):
        shutil.copyfile(WF / "ptbdb" / f, tmp_path / "patient001" / f)
    ds = WFDBRecords(tmp_path)
    recs = ds.records()
    assert [r["record"] for r in recs] == ["100", "patient001/s0010_re"]
    assert recs[1]["subject"] == "patient001"
    rec = ds.load(recs[1])
    assert rec.ch_names[:6] == ["I", "II", "III", "aVR", "aVL", "aVF"] and rec.ch_names[-3:] == [
        "vx",
        "vy",
        "vz",
    ]
    assert rec.n_chans == 15 and rec.sfreq == 1000
    assert np.abs(rec.data[0] + rec.data[2] - rec.data[1]).max() < 0.01  # Einthoven to quantisation
    rows, skipped = ds.default_windows()(rec, recs[1])
    assert len(rows) == 3 and rows[0]["label"] == -1  # 38.4 s -> three 10-s windows
    sub = WFDBRecords(tmp_path, channels=["I", "II", "V1"])
    assert sub.load(recs[1]).ch_names == ["I", "II", "V1"]
    (tmp_path / "RECORDS").write_text("100\n")
    assert [r["record"] for r in WFDBRecords(tmp_path).records()] == ["100"]
    (tmp_path / "RECORDS").write_text("100\n101\n")
    with pytest.raises(InvalidFileError, match="101"):
        WFDBRecords(tmp_path).records()


def test_bad_inputs(tmp_path):
    with pytest.raises(InvalidFileError, match="no .hea"):
        WFDBRecords(tmp_path / "nope")
    with pytest.raises(InvalidFileError, match="no WFDB headers"):
        WFDBRecords(tmp_path).records()
    with pytest.raises(ConfigError):
        WFDBRecords(tmp_path, beat_classes="mitbih")
    assert set(AAMI_CLASSES.values()) == {"N", "S", "V", "F", "Q"}


@needs_shared
def test_beat_labels_from_an_annotator_the_record_lacks_name_the_file():
    """Without the annotation file the beats have no labels: before, the record loaded with no
    annotation at all and the cache build found no window."""
    ds = WFDBRecords(WF / "mitdb" / "100", annotator="qrs", beat_classes="aami")
    with pytest.raises(InvalidFileError, match=r"100\.qrs: missing: beat_classes labels"):
        ds.load(ds.records()[0])
    unlabelled = WFDBRecords(WF / "mitdb" / "100", annotator="qrs")  # fixed windows: optional
    assert len(unlabelled.load(unlabelled.records()[0]).annotations) == 0
