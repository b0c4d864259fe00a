"""Cache identities key on file content: an edit that keeps the size (and even the mtime) of a
label/annotation or signal file is never served from a stale cache; names stay relative."""

import json
import os
import shutil

import numpy as np
import pytest

from _dataset_fixtures import write_tuev_tree
from biosig.data import get_cache
from biosig.data.cache import cache_key
from biosig.datasets import RecordingFiles
from biosig.datasets._common import file_fingerprint
from biosig.datasets.tuev import TUEV
from biosig.signal.windows import FixedWindows


def _edit_keeping_size_and_mtime(path, old: bytes, new: bytes):
    st = path.stat()
    raw = path.read_bytes()
    assert len(old) == len(new) and old in raw
    path.write_bytes(raw.replace(old, new, 1))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns


def test_same_size_rec_edit_builds_a_new_cache(tmp_path):
    files = write_tuev_tree(tmp_path / "tuev", n_subjects=2, n_eval_subjects=1,
                            events_per_file=3, duration=30.0)  # fmt: skip
    ds = TUEV(tmp_path / "tuev", val_fraction=0.0)
    first = get_cache(ds, [], root=tmp_path / "cache", progress=False)
    rec = files[0].with_suffix(".rec")
    line = rec.read_text().splitlines()[0]
    label = line.rsplit(",", 1)[1]
    other = "1" if label != "1" else "2"
    _edit_keeping_size_and_mtime(rec, f",{label}\n".encode(), f",{other}\n".encode())
    again = get_cache(TUEV(tmp_path / "tuev", val_fraction=0.0), [], root=tmp_path / "cache",
                      progress=False)  # fmt: skip
    assert again.path != first.path
    assert not np.array_equal(again.y, first.y)
    ident = json.dumps(json.loads((again.path / "params.json").read_text())["dataset"])
    assert str(tmp_path) not in ident


@pytest.mark.shared_data
def test_wfdb_dat_edit_changes_the_key(tmp_path, shared_data):
    from biosig.datasets.wfdb_records import WFDBRecords

    src = shared_data / "ecg_wfdb" / "ptb-xl"
    if not src.is_dir():
        pytest.skip(f"{src} missing")
    shutil.copytree(src, tmp_path / "r")
    ds = WFDBRecords(tmp_path / "r")
    key = cache_key(ds, [], ds.default_windows())
    dat = next((tmp_path / "r").glob("*.dat"))
    raw = dat.read_bytes()
    i = len(raw) // 2 + 10
    _edit_keeping_size_and_mtime(dat, raw[i : i + 2], bytes([raw[i] ^ 1, raw[i + 1]]))
    assert cache_key(WFDBRecords(tmp_path / "r"), [], ds.default_windows()) != key


@pytest.mark.shared_data
def test_recording_files_of_wfdb_headers_key_on_the_signal_file(tmp_path, shared_data):
    """RecordingFiles(["*.hea"]) keyed only on the headers: a .dat replaced by another record's
    (same header, same size) was served from the stale cache."""
    src = shared_data / "ecg_wfdb" / "ptbxl" / "records100" / "00000"
    if not src.is_dir():
        pytest.skip(f"{src} missing")
    for ext in (".hea", ".dat"):
        shutil.copyfile(src / f"00001_lr{ext}", tmp_path / f"00001_lr{ext}")
    ds = RecordingFiles([str(tmp_path / "*.hea")])
    assert ds.record_files(ds.records()[0]) == [tmp_path / "00001_lr.dat",
                                                tmp_path / "00001_lr.hea"]
    windows = FixedWindows(length=5.0)
    key = cache_key(ds, [], windows)
    shutil.copyfile(src / "00002_lr.dat", tmp_path / "00001_lr.dat")
    assert cache_key(RecordingFiles([str(tmp_path / "*.hea")]), [], windows) != key


def test_fingerprint_catches_middle_and_tail_edits_of_large_files(tmp_path):
    f = tmp_path / "big.edf"
    f.write_bytes(bytes(1 << 20))
    base = file_fingerprint(f)
    for at in (0, (1 << 19) - 5, (1 << 20) - 3):
        raw = bytearray(bytes(1 << 20))
        raw[at] = 7
        f.write_bytes(bytes(raw))
        os.utime(f, ns=(base[1], base[1]))
        assert file_fingerprint(f)[:2] == base[:2] and file_fingerprint(f)[2] != base[2]
    assert file_fingerprint(tmp_path / "absent") == [None, None, None]


def test_recording_files_identity_is_relative_and_content_keyed(tmp_path):
    for name in ("a/S01.txt", "b/S02.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("0123456789")
    src = RecordingFiles([str(tmp_path / "*" / "*.txt")])
    ident = src.identity()
    assert [f[0] for f in ident["files"]] == ["a/S01.txt", "b/S02.txt"]
    assert str(tmp_path) not in json.dumps(ident)
    _edit_keeping_size_and_mtime(tmp_path / "a/S01.txt", b"0123", b"9999")
    assert RecordingFiles([str(tmp_path / "*" / "*.txt")]).identity() != ident
