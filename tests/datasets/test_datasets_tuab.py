"""TUAB loader on fixtures in TUAB's real layout:
``edf/{train,eval}/{normal,abnormal}/01_tcp_ar/<subject>_<session>_<token>.edf``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from _dataset_fixtures import tuh_signal, write_tuev_file
from biosig.data import BiosigDataModule, Predefined
from biosig.datasets import TUAB
from biosig.errors import ConfigError, InvalidFileError
from biosig.signal.montages import bipolar_names
from biosig.signal.preprocessing import apply_steps

#: (split, class, file stem): 3 train subjects (one with two sessions), 2 eval subjects
FILES = [("train", "normal", "aaaaaaaa_s001_t000"), ("train", "normal", "aaaaaaaa_s002_t001"),
         ("train", "abnormal", "aaaaaaab_s001_t000"), ("train", "normal", "aaaaaaac_s003_t002"),
         ("train", "abnormal", "aaaaaaad_s001_t000"),
         ("eval", "normal", "aaaaaaae_s001_t000"), ("eval", "abnormal", "aaaaaaaf_s001_t001")]


def write_tuab_file(path: Path, duration: float = 25.0) -> None:
    """One TUAB EDF (TUH channel names, 250 Hz): a TUEV fixture file without its ``.rec``."""
    write_tuev_file(path, [], duration=duration)
    path.with_suffix(".rec").unlink()


def write_tuab_tree(root: Path, files=FILES, nested: bool = False) -> Path:
    for split, cls, stem in files:
        folder = Path(root) / "edf" / split / cls / "01_tcp_ar"
        if nested:  # v2.0.0: .../01_tcp_ar/<group>/<subject>/<session>_<date>/<file>.edf
            subject, session, _ = stem.split("_")
            folder = folder / "000" / subject / f"{session}_2010_01_01"
        write_tuab_file(folder / f"{stem}.edf")
    return Path(root)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return write_tuab_tree(tmp_path_factory.mktemp("tuab") / "v3.0.1")


def test_index_labels_splits_and_subjects(tree):
    ds = TUAB(path=str(tree), val_fraction=0.34, seed=0)
    recs = ds.records()
    assert len(recs) == len(FILES)
    by_stem = {Path(r["path"]).stem: r for r in recs}
    for split, cls, stem in FILES:
        r = by_stem[stem]
        assert r["label"] == ds.classes.index(cls) and r["official_split"] == split
        assert r["path"] == f"{split}/{cls}/01_tcp_ar/{stem}.edf"
        assert (r["subject"], r["session"], r["token"]) == tuple(stem.split("_"))
    assert {r["split"] for r in recs if r["official_split"] == "eval"} == {"test"}
    val = {r["subject"] for r in recs if r["split"] == "val"}
    train = {r["subject"] for r in recs if r["split"] == "train"}
    assert len(val) == 1 and not val & train  # int(4 * 0.34) = 1 subject, whole subject
    assert ds.classes == ["normal", "abnormal"] and not ds.multilabel
    assert TUAB(path=str(tree), splits=["eval"]).records()[0]["official_split"] == "eval"
    assert len(TUAB(path=str(tree), max_files=1).records()) == 4  # 1 per split x class


def test_load_and_default_steps_give_the_bipolar_montage(tree):
    ds = TUAB(path=str(tree))
    ref = ds.records()[0]
    raw = ds.load(ref)
    assert raw.sfreq == 250.0 and "FP1" in raw.ch_names and len(raw.annotations) == 0
    rec = apply_steps(raw, ds.default_preprocessing())
    assert rec.sfreq == 200.0 and rec.ch_names == bipolar_names("tcp16")
    t = np.arange(rec.n_times) / rec.sfreq
    mid = slice(400, -400)  # away from the filter edges
    expected = tuh_signal("FP1", t) - tuh_signal("F7", t)
    assert np.corrcoef(rec.data[0, mid], expected[mid])[0, 1] > 0.99  # FP1-F7, not another


def test_windows_in_the_cache(tree, tmp_path):
    protocol = Predefined(train={"split": "train"}, val={"split": "val"}, test={"split": "test"})
    dm = BiosigDataModule(TUAB(path=str(tree), val_fraction=0.5), cache_dir=str(tmp_path),
                          protocol=protocol, batch_size=4)
    assert (dm.n_chans, dm.n_times, dm.sfreq, dm.n_outputs) == (16, 2000, 200.0, 2)
    meta = dm.meta
    assert len(meta) == 2 * len(FILES)  # 25 s -> two 10-s windows per file
    for stem_cls in FILES:
        rows = meta[meta.record.str.endswith(stem_cls[2])]
        assert len(rows) == 2 and set(dm.cache.y[rows.index]) == {TUAB.classes.index(stem_cls[1])}
    dm.setup("fit")
    assert set(meta.split[dm.splits["test"]]) == {"test"}
    assert set(meta.subject[dm.splits["val"]]).isdisjoint(meta.subject[dm.splits["train"]])
    # 4 training subjects x the default val_fraction 0.2: no validation subject, said so
    empty = BiosigDataModule(TUAB(path=str(tree)), cache_dir=str(tmp_path), protocol=protocol)
    with pytest.raises(ConfigError, match=r"val=\{'split': 'val'\} selects no window \(the data "
                                          r"hold \{'split': \['test', 'train'\]\}\)"):
        empty.setup("fit")


def test_v2_nested_layout_is_read(tmp_path):
    root = write_tuab_tree(tmp_path, files=FILES[:1] + FILES[2:3] + FILES[5:7], nested=True)
    recs = TUAB(path=str(root)).records()
    assert [r["subject"] for r in recs] == ["aaaaaaaa", "aaaaaaab", "aaaaaaae", "aaaaaaaf"]


def test_bad_input_is_refused_with_the_reason(tree, tmp_path):
    with pytest.raises(InvalidFileError, match="TUAB not found.*data-use agreement"):
        TUAB(path=str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match="splits"):
        TUAB(path=str(tree), splits=["test"])
    with pytest.raises(ConfigError, match="montage"):
        TUAB(path=str(tree), montage="banana")
    bad = write_tuab_tree(tmp_path / "bad", files=FILES[:1] + FILES[2:3] + FILES[5:7])
    write_tuab_file(bad / "edf/train/normal/01_tcp_ar/recording.edf")
    with pytest.raises(InvalidFileError, match="recording.edf.*subject>_<session>_<token>"):
        TUAB(path=str(bad)).records()
    empty = write_tuab_tree(tmp_path / "empty", files=FILES[:1] + FILES[2:3] + FILES[5:6])
    (empty / "edf/eval/abnormal").mkdir(parents=True)
    with pytest.raises(InvalidFileError, match="eval/abnormal.*no .edf"):
        TUAB(path=str(empty)).records()


def test_a_file_without_the_montage_electrodes_is_refused(tmp_path):
    from biosig.io.write import write_edf
    from biosig.signal.recording import Recording

    root = write_tuab_tree(tmp_path, files=FILES[:1] + FILES[2:3] + FILES[5:7])
    edf = root / "edf" / "train" / "normal" / "01_tcp_ar" / "aaaaaaaa_s001_t000.edf"
    names = ["EEG FP1-REF", "EEG F7-REF", "EEG EKG1-REF"]
    write_edf(edf, Recording(data=np.random.default_rng(0).normal(size=(3, 2500)) * 10,
                             sfreq=250.0, ch_names=names, units=["uV"] * 3,
                             ch_types=["eeg"] * 3))
    ds = TUAB(path=str(root))
    ref = next(r for r in ds.records() if r["path"].endswith(edf.name))
    with pytest.raises(InvalidFileError, match=r"aaaaaaaa_s001_t000.*lacks 'EEG XX-REF' "
                                               r"channels \['C3'"):
        ds.load(ref)
