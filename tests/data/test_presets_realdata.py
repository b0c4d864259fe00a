"""Presets on the real shared recordings: eegmmidb (band-pass, run-wise split, one-subject
folder) and EEGMAT."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from _dataset_fixtures import SHARED
from biosig.data.presets import datamodule_preset
from biosig.data.protocols import GroupKFold
from biosig.errors import ConfigError
from biosig.signal.preprocessing import Bandpass, Resample

EEGMMI = SHARED / "eeg_edf" / "eegmmidb"
EEGMAT_DIR = SHARED / "eeg_edf" / "eegmat"
pytestmark = pytest.mark.shared_data


def _needs(path):
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path}")


def test_eegmmidb_preset_carries_the_recipe_band_pass_and_explains_one_subject(tmp_path):
    _needs(EEGMMI)
    dm = datamodule_preset("eegmmidb", path=str(EEGMMI), subjects=[1], runs=[4],
                           cache_dir=str(tmp_path))
    assert [type(s) for s in dm.preprocessing] == [Resample, Bandpass]
    assert (dm.preprocessing[1].low, dm.preprocessing[1].high) == (8.0, 32.0)
    with pytest.raises(ConfigError, match=r"n_splits=5 but the data hold 1 groups of "
                                          r"'subject' \(1\).*run"):
        dm.setup()


def test_eegmmidb_runs_preset_splits_one_subject_by_run(tmp_path):
    _needs(EEGMMI)
    data = tmp_path / "eegmmidb"
    data.mkdir()
    # the shared folder has one imagery run (R04); its copies stand in for runs 8 and 12
    for run in (4, 8, 12):
        shutil.copyfile(EEGMMI / "S001R04.edf", data / f"S001R{run:02d}.edf")
    dm = datamodule_preset("eegmmidb_runs", path=str(data), subjects=[1],
                           cache_dir=str(tmp_path / "cache"))
    dm.setup()
    meta = dm.meta
    assert set(meta["run"].iloc[dm.splits["test"]]) == {12}
    assert set(meta["run"].iloc[np.r_[dm.splits["train"], dm.splits["val"]]]) == {4, 8}
    assert len(dm.splits["val"]) > 0 and dm.sfreq == 160.0
    # every leave-one-run-out fold, as a protocol
    folds = GroupKFold(n_splits=3, fold=None, group="run", shuffle=False).folds(meta)
    assert [sorted(set(meta["run"].iloc[f.test])) for f in folds] == [[4], [8], [12]]


def test_eegmat_preset(tmp_path):
    _needs(EEGMAT_DIR)
    dm = datamodule_preset("eegmat", path=str(EEGMAT_DIR), subjects=[0, 1, 2, 3, 4, 5, 6, 7],
                           rest_seconds=60.0, cache_dir=str(tmp_path))
    dm.setup()
    assert (dm.n_chans, dm.n_times, dm.sfreq) == (19, 512, 128.0)
    assert dm.classes == ["rest", "arithmetic"]
    test_subjects = set(dm.meta["subject"].iloc[dm.splits["test"]])
    assert test_subjects == {0, 4}  # fold 1 of 4: position among the subjects % 4 == 0
    assert not test_subjects & set(dm.meta["subject"].iloc[dm.splits["train"]])


def test_eegmat_with_fewer_subjects_than_folds_names_n_folds(tmp_path):
    """Three subjects with the default 4 folds said '3 groups of 'fold' for 4 folds: use at
    most 3 folds', naming neither GroupKFold's n_splits nor EEGMAT's n_folds, which made the
    'fold' column."""
    _needs(EEGMAT_DIR)
    dm = datamodule_preset("eegmat", path=str(EEGMAT_DIR), subjects=[0, 1, 2], rest_seconds=4.0,
                           cache_dir=str(tmp_path))
    with pytest.raises(ConfigError, match=(
            r"^GroupKFold n_splits=4 but the data hold 3 groups of 'fold' \(1, 2, 3\): use at "
            r"most 3 folds; EEGMAT puts the i-th of its chosen subjects \(sorted, from 0\) in "
            r"fold i % n_folds \+ 1, and n_folds=4 \(EEGMAT's n_folds: "
            r"data\.source\.init_args\.n_folds, the recipes' --n-folds\): "
            r"its 3 subjects \[0, 1, 2\] fill folds \[1, 2, 3\]$")):
        dm.setup()
