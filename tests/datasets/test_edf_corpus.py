"""EDFCorpus: a folder tree of EDFs (TUH EEG's real path layout) as unlabelled windows."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from _dataset_fixtures import TUH_ELECTRODES, tuh_signal
from biosig.data import get_cache
from biosig.datasets.edf_corpus import TEN_TWENTY, EDFCorpus, corpus_electrode
from biosig.errors import ChannelError, ConfigError, InvalidFileError
from biosig.io.write import write_edf
from biosig.signal.recording import Recording

# TUH EEG v2.0: edf/<nnn>/<subject>/<sNNN_YYYY>/<NN_tcp_xx>/<subject>_sNNN_tNNN.edf
TUH_FILES = [
    ("000/aaaaaaaa/s001_2015/01_tcp_ar/aaaaaaaa_s001_t000.edf", "REF", 250.0, 30.0),
    ("000/aaaaaaaa/s001_2015/01_tcp_ar/aaaaaaaa_s001_t001.edf", "REF", 250.0, 21.0),
    ("000/aaaaaaab/s002_2013/02_tcp_le/aaaaaaab_s002_t000.edf", "LE", 400.0, 25.0),
]


def _write(path: Path, suffix: str, sfreq: float, duration: float, drop=()):
    t = np.arange(int(duration * sfreq)) / sfreq
    els = [e for e in TUH_ELECTRODES if e not in drop]
    names = [f"EEG {e}-{suffix}" for e in els] + ["EEG EKG1-REF", "PHOTIC-REF"]
    data = np.stack([tuh_signal(e, t) for e in els] + [np.sin(t), np.zeros_like(t)])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_edf(path, Recording(data, sfreq, names, ["eeg"] * (len(names) - 1) + ["misc"],
                              ["uV"] * len(names)))  # fmt: skip


@pytest.fixture
def tuh_tree(tmp_path):
    root = tmp_path / "tuh_eeg" / "v2.0.1" / "edf"
    for rel, suffix, sfreq, dur in TUH_FILES:
        _write(root / rel, suffix, sfreq, dur)
    return root


def test_index_follows_tuh_layout(tuh_tree):
    ds = EDFCorpus(tuh_tree)
    recs = ds.records()
    assert [r["record"] for r in recs] == [f[0] for f in TUH_FILES]
    assert [(r["subject"], r["session"], r["token"], r["reference"]) for r in recs] == [
        ("aaaaaaaa", "s001", "t000", "01_tcp_ar"),
        ("aaaaaaaa", "s001", "t001", "01_tcp_ar"),
        ("aaaaaaab", "s002", "t000", "02_tcp_le"),
    ]
    assert all(r["label"] == -1 for r in recs)
    assert str(tuh_tree) not in repr(ds.identity())


def test_cache_resamples_montages_and_windows(tuh_tree, tmp_path):
    ds = EDFCorpus(tuh_tree, sfreq=200.0, montage="tcp22", window=10.0)
    cache = get_cache(ds, root=tmp_path / "cache", progress=False)
    # 30 s -> 3 windows, 21 s -> 2, 25 s -> 2 (the rest of each file is dropped)
    assert cache.X.shape == (7, 22, 2000) and cache.sfreq == 200.0
    assert cache.ch_names[:2] == ["FP1-F7", "F7-T3"] and set(cache.y) == {-1}
    assert list(cache.meta["subject"]) == ["aaaaaaaa"] * 5 + ["aaaaaaab"] * 2
    # referential: the raw electrodes in 10-20 order, µV, resampled
    ref = get_cache(EDFCorpus(tuh_tree, sfreq=100.0, window=5.0), root=tmp_path / "c2")
    raw = EDFCorpus(tuh_tree, sfreq=None).load({"record": TUH_FILES[0][0]})
    assert raw.ch_names == TEN_TWENTY and raw.sfreq == 250.0 and raw.units == ["uV"] * 19
    t = np.arange(raw.n_times) / 250.0
    np.testing.assert_allclose(raw.data[0], tuh_signal("FP1", t), atol=0.05)
    assert ref.X.shape == (6 + 4 + 5, 19, 500)
    # the PHOTIC channel is flat, but the corpus never picks it: no dead-channel error
    assert ref.stats["channels"]["FP1"]["dead_records"] == 0


def test_missing_channel_named_or_skipped(tuh_tree):
    bad = tuh_tree / "001/aaaaaaac/s001_2016/01_tcp_ar/aaaaaaac_s001_t000.edf"
    _write(bad, "REF", 250.0, 12.0, drop=("CZ",))
    ds = EDFCorpus(tuh_tree)
    with pytest.raises(InvalidFileError, match=r"aaaaaaac_s001_t000.edf.*\['CZ'\] not found"):
        ds.load(ds.records()[-1])
    ok = EDFCorpus(tuh_tree, skip_incomplete=True)
    assert len(ok.records()) == 3 and ok.skipped_files == [bad.relative_to(tuh_tree).as_posix()]


def test_bad_options(tuh_tree, tmp_path):
    with pytest.raises(ConfigError, match="window"):
        EDFCorpus(tuh_tree, window=0)
    with pytest.raises(ChannelError, match="montage"):
        EDFCorpus(tuh_tree, montage="nope")
    # one electrode under its old and new names, or twice: refused when made, not at the load
    with pytest.raises(ConfigError, match=r"electrode\(s\) \['T7'\] twice"):
        EDFCorpus(tuh_tree, channels=["T3", "C3", "T7"])
    with pytest.raises(ConfigError, match=r"\['CZ'\] twice"):
        EDFCorpus(tuh_tree, channels=["Cz", "CZ"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidFileError, match="no file matches"):
        EDFCorpus(tmp_path / "empty").records()


def test_electrode_names():
    assert [corpus_electrode(n) for n in ("EEG FP1-REF", "EEG Fp1", "Fp1.", "EEG T3-LE", "Cz")] == [
        "FP1", "FP1", "FP1", "T3", "CZ"
    ]  # fmt: skip


@pytest.mark.shared_data
def test_real_edfs_in_a_tuh_tree(shared_data, tmp_path):
    """Real EEGMAT (``EEG Fp1``, 500 Hz) and EEGMMIDB (``Fp1.``, modern T7/P7 names, 160 Hz)
    files, linked into TUH's layout, give one 200 Hz 10-20 cache."""
    eegmat = shared_data / "eeg_edf" / "eegmat"
    mmidb = shared_data / "eeg_edf" / "eegmmidb"
    if not eegmat.is_dir() or not mmidb.is_dir():
        pytest.skip("real EDFs missing")
    root = tmp_path / "edf"
    links = {
        "000/subject00/s001_2019/01_tcp_ar/subject00_s001_t000.edf": eegmat / "Subject00_2.edf",
        "000/subject01/s001_2019/01_tcp_ar/subject01_s001_t000.edf": eegmat / "Subject01_2.edf",
        "001/s001r03xx/s001_2009/01_tcp_ar/s001r03xx_s001_t000.edf": mmidb / "S001R03.edf",
    }
    for rel, src in links.items():
        (root / rel).parent.mkdir(parents=True)
        os.symlink(src, root / rel)
    ds = EDFCorpus(root, sfreq=200.0, window=10.0)
    cache = get_cache(ds, root=tmp_path / "cache", progress=False)
    n_mat = [6, 6]  # the _2 files are 60 s: 6 windows of 10 s each
    assert cache.X.shape[1:] == (19, 2000) and cache.ch_names == TEN_TWENTY
    assert len(cache) == sum(n_mat) + 12  # S001R03: 125 s -> 12 windows
    x = np.asarray(cache.X)
    assert np.isfinite(x).all() and 1.0 < np.median(np.abs(x)) < 200.0  # µV scale
    assert set(cache.meta["subject"]) == {"subject00", "subject01", "s001r03xx"}


def test_flat_folder_subjects_and_an_electrode_under_two_labels(tmp_path):
    """Files directly under root are each their own subject (was '.' for all, one subject); an
    electrode recorded under two labels is refused, naming the file and the signals."""
    for name in ("s01.edf", "s02.edf"):
        _write(tmp_path / "flat" / name, "REF", 100.0, 4.0)
    assert [r["subject"] for r in EDFCorpus(tmp_path / "flat").records()] == ["s01", "s02"]
    t = np.arange(400) / 100.0
    names = [f"EEG {e}-REF" for e in TUH_ELECTRODES] + ["EEG CZ-LE"]
    data = np.stack([tuh_signal(e, t) for e in TUH_ELECTRODES] + [np.sin(t)])
    twice = tmp_path / "twice" / "a.edf"
    twice.parent.mkdir()
    write_edf(twice, Recording(data, 100.0, names, ["eeg"] * len(names), ["uV"] * len(names)))
    ds = EDFCorpus(tmp_path / "twice")
    cz = TUH_ELECTRODES.index("CZ") + 1
    with pytest.raises(InvalidFileError, match=rf"a\.edf.*electrode CZ is in signals {cz} and "
                                               rf"{len(names)}: .*ambiguous"):
        ds.load(ds.records()[0])
    with pytest.raises(InvalidFileError, match="electrode CZ"):
        EDFCorpus(tmp_path / "twice", skip_incomplete=True).records()
    ok = EDFCorpus(tmp_path / "twice", channels=["FP1", "FP2"])  # CZ not wanted: no matter
    assert ok.load(ok.records()[0]).ch_names == ["FP1", "FP2"]
