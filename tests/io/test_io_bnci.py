"""BNCI Horizon .mat runs and BCI Competition true-label files, read directly (biosig.io.bnci)."""

from __future__ import annotations

import numpy as np
import pytest
from _dataset_fixtures import write_bciiv2a_session, write_true_labels

from biosig.errors import InvalidFileError
from biosig.io import read_bnci, read_true_labels

LABELS = np.array([1, 2, 3, 4, 2, 1, 4, 3])
NAMES = [f"ch{i}" for i in range(25)]
TYPES = ["eeg"] * 22 + ["eog"] * 3


def test_runs_concatenated_with_trial_table(tmp_path):
    info = write_bciiv2a_session(
        tmp_path, "A01T", LABELS, rejected=(5,), trials_per_run=4, write_gdf_file=False
    )
    rec, trials = read_bnci(tmp_path / "A01T.mat", NAMES, TYPES, 250.0, n_classes=4)
    np.testing.assert_allclose(rec.data, info["data"], rtol=1e-6)
    assert rec.sfreq == 250.0 and rec.ch_names == NAMES and rec.units == ["uV"] * 25
    assert rec.meta == {"format": "BNCI mat", "source": "A01T.mat"}
    assert [t["label"] for t in trials] == (LABELS - 1).tolist()
    assert [t["run"] for t in trials] == [0] * 4 + [1] * 4  # the 3 EOG runs hold no trials
    assert [t["onset"] for t in trials] == pytest.approx((info["starts"] / 250.0).tolist())
    assert [t["trial"] for t in trials if t["rejected"]] == [5]


def test_errors_name_the_file_and_the_reason(tmp_path):
    write_bciiv2a_session(tmp_path, "A01T", LABELS, trials_per_run=4, write_gdf_file=False)
    with pytest.raises(
        InvalidFileError,
        match=r"A01T.mat: run 0: X has shape \(500, 25\), "
        r"expected \(n_samples, 22\)",
    ):
        read_bnci(tmp_path / "A01T.mat", NAMES[:22], TYPES[:22], 250.0, n_classes=4)
    with pytest.raises(InvalidFileError, match="fs = 250.0, expected 128"):
        read_bnci(tmp_path / "A01T.mat", NAMES, TYPES, 128.0, n_classes=4)
    with pytest.raises(InvalidFileError, match="labels y must be 1..3"):
        read_bnci(tmp_path / "A01T.mat", NAMES, TYPES, 250.0, n_classes=3)
    write_true_labels(tmp_path / "L.mat", LABELS)
    with pytest.raises(InvalidFileError, match="looks like a true-label file"):
        read_bnci(tmp_path / "L.mat", NAMES, TYPES, 250.0, n_classes=4)
    np.testing.assert_array_equal(read_true_labels(tmp_path / "L.mat"), LABELS)
    with pytest.raises(
        InvalidFileError, match=r"classlabel values must be 1..3, found \[1, 2, 3, 4\]"
    ):
        read_true_labels(tmp_path / "L.mat", n_classes=3)
    (tmp_path / "bad.mat").write_bytes(b"not matlab")
    with pytest.raises(InvalidFileError, match="not a readable MATLAB file"):
        read_bnci(tmp_path / "bad.mat", NAMES, TYPES, 250.0, n_classes=4)
    with pytest.raises(InvalidFileError, match="BNCI file missing"):
        read_bnci(tmp_path / "none.mat", NAMES, TYPES, 250.0, n_classes=4)
