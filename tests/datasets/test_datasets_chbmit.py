"""CHB-MIT loader on fixtures in the real layout (chbNN/chbNN_MM.edf + chbNN-summary.txt)."""

from __future__ import annotations

import numpy as np
import pytest

from _dataset_fixtures import write_chbmit
from biosig.datasets.chbmit import (
    CHBMIT,
    CHBMIT_CHANNELS,
    CHBMIT_SSMDP_IDS,
    SeizureWindows,
    read_summary,
)
from biosig.errors import ConfigError, InvalidFileError
from biosig.signal.montages import MONTAGES


@pytest.fixture(scope="module")
def chb(tmp_path_factory):
    root = tmp_path_factory.mktemp("chbmit")
    return write_chbmit(root, {
        "chb01_01": [],
        "chb01_03": [(20.0, 35.0)],
        "chb23_06": [(5.0, 12.0), (40.0, 48.0)],
        "chb23_07": ("referential", []),
    })


def test_channels_match_eegdm_ids():
    assert len(CHBMIT_CHANNELS) == 16 == len(CHBMIT_SSMDP_IDS)
    assert CHBMIT_CHANNELS[:4] == ["FP1-F7", "F7-T7", "T7-P7", "P7-O1"]
    tcp22 = [f"{a}-{b}" for a, b in MONTAGES["tcp22"]]
    old = {"T7": "T3", "T8": "T4", "P7": "T5", "P8": "T6"}
    for name, i in zip(CHBMIT_CHANNELS, CHBMIT_SSMDP_IDS):  # the same electrodes as TUEV's row i
        a, b = name.split("-")
        assert tcp22[i] == f"{old.get(a, a)}-{old.get(b, b)}"


def test_summary_both_styles(tmp_path):
    write_chbmit(tmp_path, {"chb05_01": [(3.0, 9.5), (20.0, 30.0)]}, seconds=40, numbered=True)
    entry = read_summary(tmp_path / "chb05" / "chb05-summary.txt")["chb05_01.edf"]
    assert entry.seizures == [(3.0, 9.5), (20.0, 30.0)] and len(entry.channels) == 23


@pytest.mark.parametrize("text, reason", [
    ("File Name: a.edf\nNumber of Seizures in File: 1\n", "states 1 seizures, lists 0"),
    ("File Name: a.edf\nSeizure Start Time: 5 seconds\n", "inside a seizure"),
    ("File Name: a.edf\nSeizure End Time: 5 seconds\n", "without an earlier start"),
    ("Seizure Start Time: 5 seconds\n", "before any"),
    ("hello\n", "no 'File Name:'"),
])
def test_summary_malformed(tmp_path, text, reason):
    p = tmp_path / "chb01-summary.txt"
    p.write_text(text)
    with pytest.raises(InvalidFileError, match=reason) as err:
        read_summary(p)
    assert "chb01-summary.txt" in str(err.value)


def test_records_splits_and_load(chb):
    ds = CHBMIT(chb)
    recs = {r["record"]: r for r in ds.records()}
    assert set(recs) == {"chb01/chb01_01", "chb01/chb01_03", "chb23/chb23_06", "chb23/chb23_07"}
    assert recs["chb01/chb01_03"]["split"] == "train" and recs["chb23/chb23_06"]["split"] == "test"
    assert recs["chb23/chb23_06"]["n_seizures"] == 2
    rec = ds.load(recs["chb01/chb01_03"])
    assert rec.ch_names == CHBMIT_CHANNELS and rec.sfreq == 256.0 and rec.data.shape == (16, 15360)
    assert list(rec.annotations.description) == ["seizure"]
    # the duplicated T8-P8 label (MNE: T8-P8-0 / -1) gives the first one
    assert np.isfinite(rec.data).all()


def test_referential_file_gives_same_bipolar_channels(chb):
    ds = CHBMIT(chb)
    rec = ds.load(next(r for r in ds.records() if r["record"].endswith("chb23_07")))
    assert rec.ch_names == CHBMIT_CHANNELS and rec.data.shape[0] == 16
    assert rec.data.std() > 10  # a difference of two independent 20-µV noises


def test_windows_label_overlap_and_oversample_train_only(chb):
    ds = CHBMIT(chb, sfreq=None, band=None, notch=None)
    recs = {r["record"]: r for r in ds.records()}
    win = ds.default_windows()
    train = recs["chb01/chb01_03"]
    rows, _ = win(ds.load(train), train)
    plain = [r for r in rows if r["start"] % 2560 == 0]
    assert [r["label"] for r in plain] == [0, 0, 1, 1, 0, 0]  # 20-35 s overlaps 20-30 and 30-40
    extra = [r for r in rows if r["start"] % 2560]
    assert [r["onset"] for r in extra] == [15.0, 25.0] and all(  # 35-45 s ends at 35
        r["label"] == 1 for r in extra)
    test = recs["chb23/chb23_06"]
    rows, _ = win(ds.load(test), test)
    assert len(rows) == 6 and [r["label"] for r in rows] == [1, 1, 0, 0, 1, 0]
    assert SeizureWindows(seizure_stride=None).params()["windower"] == "SeizureWindows"


def test_incomplete_channels_skip_or_error(tmp_path):
    root = write_chbmit(tmp_path, {"chb12_01": [], "chb12_02": []}, seconds=20)
    summary = root / "chb12" / "chb12-summary.txt"
    text = summary.read_text().replace("File Name: chb12_02.edf",
                                       "Channels changed:\nChannel 1: FP1-F7\n\n"
                                       "File Name: chb12_02.edf")
    summary.write_text(text)
    with pytest.warns(UserWarning, match="chb12/chb12_02.edf"):
        recs = CHBMIT(root).records()
    assert [r["record"] for r in recs] == ["chb12/chb12_01"]
    with pytest.raises(InvalidFileError, match="chb12_02.edf.*lack the 16"):
        CHBMIT(root, incomplete="error").records()


def test_missing_channel_in_file_is_named(tmp_path):
    from biosig.io import read_edf, write_edf

    root = write_chbmit(tmp_path, {"chb02_01": []}, seconds=10)
    edf = root / "chb02" / "chb02_01.edf"
    rec = read_edf(edf)
    keep = [n for n in rec.ch_names if n != "F7-T7"]
    write_edf(edf, rec.pick(keep))
    ds = CHBMIT(root)
    with pytest.raises(InvalidFileError, match=r"chb02_01.edf.*'F7-T7'"):
        ds.load(ds.records()[0])


def test_bad_config_and_layout(tmp_path, chb):
    with pytest.raises(ConfigError, match="cases"):
        CHBMIT(chb, cases=[25])
    with pytest.raises(ConfigError, match="band"):
        CHBMIT(chb, band=(0.5, 120.0))
    with pytest.raises(ConfigError, match="incomplete"):
        CHBMIT(chb, incomplete="drop")
    with pytest.raises(InvalidFileError, match="no CHB-MIT case folders"):
        CHBMIT(tmp_path)
    (tmp_path / "chb03").mkdir()
    with pytest.raises(InvalidFileError, match="summary file missing"):
        CHBMIT(tmp_path, cases=[3]).records()


def test_cache_build_end_to_end(chb, tmp_path):
    from biosig.data.cache import get_cache

    ds = CHBMIT(chb, cases=[1])
    cache = get_cache(ds, root=tmp_path / "cache", progress=False)
    assert cache.X.shape[1:] == (16, 2000)
    assert set(np.unique(cache.y)) == {0, 1}
