"""EEGMAT loader (PhysioNet EEG During Mental Arithmetic Tasks) on the real shared files; its
download verified against a SHA256SUMS.txt, offline (file:// mirror)."""

from __future__ import annotations

import csv
import hashlib
import shutil

import numpy as np
import pytest

from _dataset_fixtures import SHARED
from biosig.datasets.eegmat import EEGMAT, EEGMAT_CHANNELS, eegmat_channel_name
from biosig.errors import ConfigError, DownloadError, InvalidFileError

EEGMAT_DIR = SHARED / "eeg_edf" / "eegmat"
needs_eegmat = pytest.mark.skipif(
    not (EEGMAT_DIR / "Subject00_1.edf").is_file(),
    reason=f"shared EEGMAT not found at {EEGMAT_DIR}",
)


def _copy(dst, subjects, info=True):
    dst.mkdir(parents=True, exist_ok=True)
    for s in subjects:
        for run in (1, 2):
            shutil.copyfile(
                EEGMAT_DIR / f"Subject{s:02d}_{run}.edf", dst / f"Subject{s:02d}_{run}.edf"
            )
    if info:
        shutil.copyfile(EEGMAT_DIR / "subject-info.csv", dst / "subject-info.csv")
    return dst


def test_channel_names():
    assert eegmat_channel_name("EEG Fp1") == "Fp1"
    assert eegmat_channel_name("EEG T3") == "T3"
    assert [
        eegmat_channel_name(f"EEG {n}", modern=True) for n in ("T3", "T4", "T5", "T6", "Cz")
    ] == ["T7", "T8", "P7", "P8", "Cz"]
    assert len(EEGMAT_CHANNELS) == 19 and len(set(EEGMAT_CHANNELS)) == 19


def test_bad_config(tmp_path):
    with pytest.raises(ConfigError, match="view"):
        EEGMAT(tmp_path, view="sleep")
    with pytest.raises(ConfigError, match="subjects"):
        EEGMAT(tmp_path, subjects=[36])
    with pytest.raises(ConfigError, match="band"):
        EEGMAT(tmp_path, sfreq=64.0, band=(0.5, 45.0))  # high edge above the new Nyquist
    # a user who only lowered sfreq learns that the band they did not pass is the problem
    with pytest.raises(ConfigError, match=r"sfreq=64\), got the default band \(0.5, 45.0\); "
                                          r"pass band=\(low, high\) below 32 Hz"):
        EEGMAT(tmp_path, sfreq=64.0)
    with pytest.raises(ConfigError, match=r"Nyquist frequency of the files' 500 Hz\)"):
        EEGMAT(tmp_path, sfreq=None, band=(1.0, 300.0))
    with pytest.raises(ConfigError, match=r"0 <= low < high, got \(30.0, 0.5\)$"):
        EEGMAT(tmp_path, sfreq=64.0, band=(30.0, 0.5))  # the order, not the Nyquist frequency
    with pytest.raises(InvalidFileError, match="EEGMAT not found"):
        EEGMAT(tmp_path / "nowhere")
    with pytest.raises(InvalidFileError, match="no EEGMAT recordings"):
        EEGMAT(tmp_path)


@needs_eegmat
@pytest.mark.shared_data
def test_real_index_labels_folds_and_subject_info():
    ds = EEGMAT(EEGMAT_DIR)
    recs = ds.records()
    with open(EEGMAT_DIR / "subject-info.csv", newline="") as f:
        info = {int(r["Subject"][7:]): r for r in csv.DictReader(f)}
    assert ds.subjects == sorted(info) == list(range(16)) and len(recs) == 32
    assert ds.classes == ["rest", "arithmetic"]
    for r in recs:
        assert r["label"] == (0 if r["record"].endswith("_1") else 1)
        assert r["fold"] == r["subject"] % 4 + 1
        row = info[r["subject"]]
        assert (
            r["age"] == float(row["Age"])
            and r["sex"] == {"F": "female", "M": "male"}[row["Gender"]]
        )
        assert r["count_quality"] == int(row["Count quality"])
        assert r["n_subtractions"] == float(row["Number of subtractions"])
        assert not any("year" in k.lower() or "date" in k.lower() for k in r)
    # subject-wise folds: 4 subjects each, both files of a subject in one fold
    folds = {}
    for r in recs:
        folds.setdefault(r["fold"], set()).add(r["subject"])
    assert sorted(len(v) for v in folds.values()) == [4, 4, 4, 4]
    rest = EEGMAT(EEGMAT_DIR, view="rest", subjects=[3, 1])
    assert [r["fold"] for r in rest.records()] == [1, 2]  # by position: 1 first, then 3
    assert rest.classes == [] and [r["record"] for r in rest.records()] == [
        "Subject01_1",
        "Subject03_1",
    ]
    assert {r["label"] for r in rest.records()} == {-1}


@needs_eegmat
@pytest.mark.shared_data
def test_real_load_channels_units_and_modern_names():
    ds = EEGMAT(EEGMAT_DIR, subjects=[0])
    task = next(r for r in ds.records() if r["run"] == 2)
    rec = ds.load(task)
    assert rec.ch_names == EEGMAT_CHANNELS and rec.sfreq == 500.0
    assert rec.data.shape == (19, 31000)  # 62 one-second EDF records
    assert set(rec.units) == {"uV"} and set(rec.ch_types) == {"eeg"}
    # cleaned scalp EEG in µV: tens of µV, never volts or mV
    assert 5 < np.abs(rec.data).max() < 500 and 1 < rec.data.std() < 100
    assert len(rec.annotations.onset) == 0 and rec.meta["subject"] == 0 and rec.meta["run"] == 2
    modern = EEGMAT(EEGMAT_DIR, subjects=[0], modern_names=True)
    rec2 = modern.load(task)
    assert rec2.ch_names[6:12] == ["T7", "T8", "C3", "C4", "P7", "P8"]
    np.testing.assert_array_equal(rec2.data, rec.data)


@needs_eegmat
@pytest.mark.shared_data
def test_real_windows_through_the_cache(tmp_path):
    from biosig.data.cache import get_cache

    ds = EEGMAT(EEGMAT_DIR, subjects=[4, 5])
    cache = get_cache(ds, [], root=tmp_path / "cache", progress=False)
    assert cache.X.shape[1:] == (19, 512)  # 4 s at the default 128 Hz
    meta = cache.meta
    for rec in ds.records():
        n = int((meta["record"] == rec["record"]).sum())
        # 62-s task files give 15 four-second windows; the ~3-min rest files 40 or more
        assert n == 15 if rec["run"] == 2 else n >= 40
        assert set(cache.y[(meta["record"] == rec["record"]).to_numpy()]) == {rec["label"]}
    # the default band-pass removed the DC offset; the data stay in µV
    assert np.abs(np.asarray(cache.X).mean(axis=-1)).mean() < 2.0
    assert 1 < float(np.asarray(cache.X).std()) < 100
    rest = get_cache(
        EEGMAT(EEGMAT_DIR, subjects=[4], view="rest"), [], root=tmp_path / "cache", progress=False
    )
    assert set(rest.y.tolist()) == {-1} and set(rest.meta["run"]) == {1}


@needs_eegmat
@pytest.mark.shared_data
def test_rest_seconds_windows_keep_their_onsets_in_the_file(tmp_path):
    """With rest_seconds the rest windows' onsets counted from the cut (0, 4, ...): a window
    reported at 0 s began 173 s into Subject04_1.edf."""
    from biosig.data.cache import get_cache
    from biosig.datasets.eegmat import constant_tail

    ds = EEGMAT(EEGMAT_DIR, subjects=[4], view="rest", rest_seconds=8.0, sfreq=None, band=None)
    cache = get_cache(ds, [], root=tmp_path / "cache", progress=False)
    full = EEGMAT(EEGMAT_DIR, subjects=[4], view="rest", sfreq=None, band=None)
    whole = full.load(full.records()[0])
    cut = (whole.n_times - constant_tail(whole.data)) / 500.0 - 8.0
    np.testing.assert_allclose(cache.meta["onset"], [cut, cut + 4.0])
    start = int(round(cut * 500))  # the first window is the file's samples at its onset
    np.testing.assert_array_equal(np.asarray(cache.X[0]), whole.data[:, start:start + 2000])


@needs_eegmat
@pytest.mark.shared_data
def test_real_missing_files_and_bad_subject_info(tmp_path):
    root = _copy(tmp_path / "d", [0, 1])
    (root / "Subject01_2.edf").unlink()
    assert EEGMAT(root).subjects == [0]  # the task view needs both files of a subject
    assert EEGMAT(root, view="rest").subjects == [0, 1]
    with pytest.raises(InvalidFileError, match="Subject01_2.edf"):
        EEGMAT(root, subjects=[0, 1]).records()
    # a subject the folder lacks is named as a missing file, not as a missing subject-info row
    with pytest.raises(InvalidFileError, match=r"Subject20_1.edf: EEGMAT file missing \(2 in "
                                               r"all: Subject20_1.edf, Subject20_2.edf\); the "
                                               r"folder holds subjects \[0, 1\]"):
        EEGMAT(root, subjects=[0, 20]).records()
    (root / "subject-info.csv").write_text("Subject,Age,ZZCOL\nSubject00,20,x\n")
    with pytest.raises(InvalidFileError, match="missing columns") as err:
        EEGMAT(root)
    assert "ZZCOL" not in str(err.value)
    # cells and column names are not quoted: a CSV edited by hand may hold anything
    head = "Subject,Age,Gender,Recording year,Number of subtractions,Count quality\n"
    for row, match in [("ZZJDOE,21,F,2011,9.7,0", "row 2: Subject / Gender not of the form"),
                       ("Subject00,ZZJDOE,F,2011,9.7,0", "row 2: Age, Number of .* not a number")]:
        (root / "subject-info.csv").write_text(head + row + "\n")
        with pytest.raises(InvalidFileError, match=match) as err:
            EEGMAT(root)
        assert "ZZ" not in str(err.value)


@needs_eegmat
@pytest.mark.shared_data
def test_download_verified_offline(tmp_path):
    """A file:// PhysioNet mirror with a SHA256SUMS.txt; a tampered file is refused and removed."""
    proj = _copy(tmp_path / "mirror" / "eegmat" / "1.0.0", [2])
    sums = "".join(
        f"{hashlib.sha256(p.read_bytes()).hexdigest()} {p.name}\n" for p in sorted(proj.iterdir())
    )
    (proj / "SHA256SUMS.txt").write_text(sums)
    url = (tmp_path / "mirror").as_uri()
    root = tmp_path / "data"
    ds = EEGMAT(root, subjects=[2], download=True, mirror=url)
    assert (root / "Subject02_2.edf").read_bytes() == (EEGMAT_DIR / "Subject02_2.edf").read_bytes()
    assert len(ds.records()) == 2 and ds.records()[0]["age"] == 19.0
    assert not list(root.glob("*.part"))
    with pytest.raises(DownloadError, match="not listed"):
        EEGMAT(tmp_path / "d2", subjects=[3], download=True, mirror=url)
    data = bytearray((proj / "Subject02_1.edf").read_bytes())
    data[4000] ^= 1
    (proj / "Subject02_1.edf").write_bytes(bytes(data))
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        EEGMAT(tmp_path / "d3", subjects=[2], download=True, mirror=url)
    assert not (tmp_path / "d3" / "Subject02_1.edf").exists()


@needs_eegmat
@pytest.mark.shared_data
def test_rest_seconds_keeps_the_end_of_the_rest_file():
    full = EEGMAT(EEGMAT_DIR, subjects=[6])
    short = EEGMAT(EEGMAT_DIR, subjects=[6], rest_seconds=60.0)
    assert full.identity() != short.identity()
    rest_full, rest_short = full.load(full.records()[0]), short.load(short.records()[0])
    assert rest_short.data.shape == (19, 30000)
    # the last 60 s before the file's padding: 454 constant samples on every channel, which
    # made the last rest window partly flat (a label confound: rest only was cut this way)
    from biosig.datasets.eegmat import constant_tail

    assert constant_tail(rest_full.data) == 454
    np.testing.assert_array_equal(rest_short.data, rest_full.data[:, -30454:-454])
    assert constant_tail(rest_short.data) < 5
    task = short.load(short.records()[1])
    assert task.data.shape == (19, 31000)  # the task file is untouched
    assert "start_in_file_s" not in task.meta
    with pytest.raises(ConfigError, match="rest_seconds"):
        EEGMAT(EEGMAT_DIR, rest_seconds=2.0)
    with pytest.raises(InvalidFileError, match="shorter than"):
        EEGMAT(EEGMAT_DIR, subjects=[6], rest_seconds=500.0).load(full.records()[0])


@needs_eegmat
def test_a_subject_missing_a_run_is_left_out_with_a_warning(tmp_path):
    folder = _copy(tmp_path / "eegmat", [0, 1])
    (folder / "Subject01_2.edf").unlink()
    with pytest.warns(UserWarning, match=r"subjects \[1\] lack a recording of runs \(1, 2\)|"
                                         r"subjects \[1\] lack a recording of runs \[1, 2\]"):
        ds = EEGMAT(folder)
    assert ds.subjects == [0]
    with pytest.raises(InvalidFileError, match="Subject01_2.edf"):  # named: an error
        EEGMAT(folder, subjects=[1]).records()


@needs_eegmat
@pytest.mark.shared_data
def test_a_subset_of_subjects_fills_every_fold_by_position():
    """Subjects [0, 4, 8, 12] all landed in fold 1 (fold = subject % 4 + 1), so subject-wise
    cross-validation over the folds failed ('use at most 1 folds')."""
    import pandas as pd

    from biosig.data.protocols import GroupKFold

    subset = EEGMAT(EEGMAT_DIR, subjects=[12, 0, 8, 4])
    assert [(r["subject"], r["fold"]) for r in subset.records()[::2]] == [
        (0, 1), (4, 2), (8, 3), (12, 4)]
    folds = GroupKFold(n_splits=4, fold=None, group="fold", shuffle=False).folds(
        pd.DataFrame(subset.records()))
    assert len(folds) == 4
    assert "fill folds [1, 2, 3, 4]" in subset.column_origin("fold")
    # the new rule names itself in the cache key where it moves a subject, so a cache built
    # with the former folds is not reused; subjects 0..N-1 keep their folds and their key
    assert subset.identity()["fold_rule"] == "position"
    assert "fold_rule" not in EEGMAT(EEGMAT_DIR, subjects=[0, 1, 2]).identity()
    assert "fold_rule" not in EEGMAT(EEGMAT_DIR).identity()
