"""eegmmidb loader on the real S001 R03/R04 EDF+ files; download verified against MNE's list."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading

import numpy as np
import pytest

from _dataset_fixtures import SHARED
from biosig.datasets.eegmmidb import EEGMMIDB, eegmmidb_channel_name
from biosig.errors import ConfigError, DownloadError, InvalidFileError

EEGMMI = SHARED / "eeg_edf" / "eegmmidb"
needs_shared = pytest.mark.skipif(not EEGMMI.is_dir(), reason=f"shared data not found at {EEGMMI}")


def test_channel_names_and_classes():
    assert [
        eegmmidb_channel_name(n) for n in ["Fc5.", "Fcz.", "Fp1.", "Fpz.", "Afz.", "Iz..", "T10."]
    ] == ["FC5", "FCz", "Fp1", "Fpz", "AFz", "Iz", "T10"]


@needs_shared
def test_run_dependent_labels():
    ex = EEGMMIDB(EEGMMI, subjects=[1], runs=[3])
    im = EEGMMIDB(EEGMMI, subjects=[1], runs=[4], include_rest=True)
    assert ex.classes == ["left_fist", "right_fist"]
    assert im.classes == ["left_fist", "right_fist", "rest"]
    assert EEGMMIDB(EEGMMI, subjects=[1], runs=[4, 6]).classes == [
        "left_fist",
        "right_fist",
        "both_fists",
        "both_feet",
    ]
    ref = im.records()[0]
    assert ref["record"] == "S001R04" and ref["kind"] == "imagined" and ref["run"] == 4
    rec = im.load(ref)
    assert rec.data.shape == (64, 20000) and rec.sfreq == 160
    assert (
        rec.ch_names[:3] == ["FC5", "FC3", "FC1"] and "Cz" in rec.ch_names and "Fpz" in rec.ch_names
    )
    desc = list(rec.annotations.description)
    # R04: T0 rest 15, T1 left fist 8, T2 right fist 7 (the README counts the pair of runs)
    counts = {c: desc.count(c) for c in set(desc)}
    assert set(counts) == {"rest", "left_fist", "right_fist"} and sum(counts.values()) == 30
    assert desc[1] == "right_fist"  # second event of R04 is T2
    rows, skipped = im.default_windows()(rec, ref)
    assert im.default_windows().n_times(160.0) == 640
    assert len(rows) + skipped == 30 and skipped <= 1
    assert {r["label"] for r in rows} == {0, 1, 2}
    # executed run R03 uses the same T1/T2 meaning
    rec3 = ex.load(ex.records()[0])
    assert set(rec3.annotations.description) == {"rest", "left_fist", "right_fist"}


@needs_shared
def test_feet_runs_rename(tmp_path):
    # R04's file relabelled as if it were run 6 (T1 both fists, T2 both feet)
    shutil.copyfile(EEGMMI / "S001R04.edf", tmp_path / "S001R06.edf")
    ds = EEGMMIDB(tmp_path, subjects=[1], runs=[6])
    rec = ds.load(ds.records()[0])
    assert set(rec.annotations.description) == {"rest", "both_fists", "both_feet"}
    assert ds.classes == ["both_fists", "both_feet"]


@needs_shared
def test_an_unexpected_annotation_is_counted_not_quoted(tmp_path):
    raw = (EEGMMI / "S001R04.edf").read_bytes()
    assert b"\x14T1\x14" in raw
    (tmp_path / "S001R04.edf").write_bytes(raw.replace(b"\x14T1\x14", b"\x14ZZ\x14", 1))
    ds = EEGMMIDB(tmp_path, subjects=[1], runs=[4])
    with pytest.raises(InvalidFileError, match=r"S001R04\.edf: 1 unexpected annotation") as err:
        ds.load(ds.records()[0])
    assert "ZZ" not in str(err.value)


def test_a_partial_folder_names_what_it_holds(tmp_path):
    """A folder with some of the files: one error listing the missing ones and the subjects and
    runs present (it named only the first missing file, so each retry found the next)."""
    (tmp_path / "S001").mkdir()
    for rel in ("S001/S001R04.edf", "S001R03.edf", "S002R04.edf"):  # nested and flat
        (tmp_path / rel).write_bytes(b"")
    with pytest.raises(InvalidFileError, match=r"3 of 6 eegmmidb files missing .*"
                       r"S002R03, S003R03, S003R04; the folder holds subjects \[1, 2\] and task "
                       r"runs \[3, 4\]: pass subjects="):
        EEGMMIDB(tmp_path, subjects=[1, 2, 3], runs=[3, 4]).records()
    with pytest.raises(InvalidFileError, match="holds no S###R##.edf file"):
        (tmp_path / "empty").mkdir()
        EEGMMIDB(tmp_path / "empty", subjects=[5], runs=[3]).records()
    refs = EEGMMIDB(tmp_path, subjects=[1, 2], runs=[4]).records()
    assert [r["path"] for r in refs] == ["S001/S001R04.edf", "S002R04.edf"]


def test_bad_config(tmp_path):
    with pytest.raises(ConfigError):
        EEGMMIDB(tmp_path, runs=[1])
    with pytest.raises(ConfigError):
        EEGMMIDB(tmp_path, subjects=[0])
    with pytest.raises(ConfigError, match=r"subjects must be in 1\.\.109, got \[\]"):
        EEGMMIDB(tmp_path, subjects=[])  # was accepted: "has no records" at the cache build


def test_a_subject_given_twice_is_one_record_each_run(tmp_path):
    # subjects=[1, 1] listed S001R04 twice: the cache held every trial twice, so copies of a
    # window could land in train and in test
    assert EEGMMIDB(tmp_path, subjects=[2, 1, 2]).subjects == [1, 2]


def test_the_files_mne_downloaded_are_found_by_default(tmp_path, monkeypatch):
    """BIOSIG_DATA falls back to MNE_DATA, but MNE keeps eegmmidb under its own layout
    (MNE-eegbci-data/files/eegmmidb/1.0.0): its copy was never found."""
    mne_copy = tmp_path / "mne" / "MNE-eegbci-data" / "files" / "eegmmidb" / "1.0.0"
    (mne_copy / "S001").mkdir(parents=True)
    (mne_copy / "S001" / "S001R04.edf").write_bytes(b"")
    monkeypatch.setenv("BIOSIG_DATA", str(tmp_path / "biosig"))
    monkeypatch.setenv("MNE_DATA", str(tmp_path / "mne"))
    monkeypatch.delenv("MNE_DATASETS_EEGBCI_PATH", raising=False)
    assert EEGMMIDB(subjects=[1], runs=[4]).root == mne_copy
    ours = tmp_path / "biosig" / "eegmmidb" / "1.0.0"
    ours.mkdir(parents=True)
    assert EEGMMIDB(subjects=[1], runs=[4]).root == ours  # biosig's own folder comes first


@needs_shared
def test_download_verified_with_mne_checksums(tmp_path):
    """A loopback server mirrors PhysioNet's layout with the real files; one file is corrupted."""
    mirror = tmp_path / "mirror"
    (mirror / "S001").mkdir(parents=True)
    shutil.copyfile(EEGMMI / "S001R03.edf", mirror / "S001" / "S001R03.edf")
    data = bytearray((EEGMMI / "S001R04.edf").read_bytes())
    data[5000] ^= 1
    (mirror / "S001" / "S001R04.edf").write_bytes(bytes(data))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(mirror))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    ).start()
    try:
        base = f"http://127.0.0.1:{httpd.server_address[1]}/"
        root = tmp_path / "data"
        root.mkdir()
        ds = EEGMMIDB(root, subjects=[1], runs=[3])
        ds.download(base_url=base, progress=False)
        assert (root / "S001" / "S001R03.edf").read_bytes() == (EEGMMI / "S001R03.edf").read_bytes()
        ds4 = EEGMMIDB(root, subjects=[1], runs=[4])
        with pytest.raises(DownloadError, match="SHA-256 mismatch"):
            ds4.download(base_url=base, progress=False)
        assert not (root / "S001" / "S001R04.edf").exists()
        rec = ds.load(ds.records()[0])
        assert np.isfinite(rec.data).all()
    finally:
        httpd.shutdown()
        httpd.server_close()
