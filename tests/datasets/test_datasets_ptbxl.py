"""PTB-XL loader: CSV parsing, label levels, folds, fast index, real record loading."""

from __future__ import annotations


import numpy as np
import pytest

from _dataset_fixtures import SHARED, PTBXL_STATEMENTS, write_ptbxl_tree
from biosig.datasets.ptbxl import PTBXL, SUPERCLASSES
from biosig.errors import ConfigError, InvalidFileError

_STMT = {s[0]: s for s in PTBXL_STATEMENTS}


def _expected(scp: dict, level: str) -> set[str]:
    out = set()
    for code in scp:
        _, _, diag, form, rhythm, dc, ds = _STMT[code]
        if level == "superdiagnostic" and diag:
            out.add(dc)
        elif level == "subdiagnostic" and diag:
            out.add(ds)
        elif level == "diagnostic" and diag:
            out.add(code)
        elif level == "rhythm" and rhythm:
            out.add(code)
        elif level == "all":
            out.add(code)
    return out


@pytest.mark.parametrize("task", ["superdiagnostic", "subdiagnostic", "diagnostic", "rhythm", "all"])
def test_labels_match_statements(tmp_path, task):
    rows = write_ptbxl_tree(tmp_path, 60, headers=False)
    ds = PTBXL(tmp_path, task=task)
    if task == "superdiagnostic":
        assert ds.classes == SUPERCLASSES
    else:
        assert ds.classes == sorted(ds.classes)
    recs = {r["record"]: r for r in ds.records()}
    n_expected = 0
    for row in rows:
        exp = _expected(row["scp_codes"], task)
        rid = f"{row['ecg_id']:05d}"
        if not exp:
            assert rid not in recs  # drop_unlabelled
            continue
        n_expected += 1
        assert {ds.classes[i] for i in recs[rid]["labels"]} == exp
        assert recs[rid]["subject"] == row["patient_id"]
    assert len(recs) == n_expected
    assert ds.multilabel


def test_folds_and_splits(tmp_path):
    write_ptbxl_tree(tmp_path, 50, headers=False)
    recs = PTBXL(tmp_path, task="all").records()
    for r in recs:
        assert r["split"] == ("train" if r["fold"] <= 8 else "val" if r["fold"] == 9 else "test")
    assert {r["split"] for r in recs} == {"train", "val", "test"}


def test_min_likelihood_and_keep_unlabelled(tmp_path):
    rows = write_ptbxl_tree(tmp_path, 40, headers=False)
    ds = PTBXL(tmp_path, task="all", min_likelihood=50.0, drop_unlabelled=False)
    recs = {r["record"]: r for r in ds.records()}
    assert len(recs) == 40
    for row in rows:
        exp = {c for c, v in row["scp_codes"].items() if v >= 50.0}
        assert {ds.classes[i] for i in recs[f"{row['ecg_id']:05d}"]["labels"]} == exp


def test_identity_changes_with_options_not_path(tmp_path):
    write_ptbxl_tree(tmp_path / "a", 20, headers=False)
    write_ptbxl_tree(tmp_path / "b", 20, headers=False)
    a = PTBXL(tmp_path / "a").identity()
    assert a == PTBXL(tmp_path / "b").identity()
    assert a != PTBXL(tmp_path / "a", sampling_rate=500).identity()
    assert a != PTBXL(tmp_path / "a", task="subdiagnostic").identity()
    assert "root" not in a and str(tmp_path) not in repr(a)


def test_bad_inputs(tmp_path):
    with pytest.raises(ConfigError):
        PTBXL(tmp_path, sampling_rate=250)
    with pytest.raises(InvalidFileError, match="PTB-XL"):
        PTBXL(tmp_path / "nowhere")
    write_ptbxl_tree(tmp_path, 5, headers=False)
    text = (tmp_path / "ptbxl_database.csv").read_text().splitlines()
    text[3] = text[3].replace("{", "[", 1)
    (tmp_path / "ptbxl_database.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(InvalidFileError, match=r"row 4 .*scp_codes"):
        PTBXL(tmp_path).records()


def test_index_reads_no_signal_files(tmp_path):
    """Listing records and labels needs only the CSVs (speed: benchmarks/bench_datasets.py)."""
    write_ptbxl_tree(tmp_path, 5000, headers=False)  # no .hea/.dat file exists at all
    recs = PTBXL(tmp_path).records()
    assert len(recs) > 1000 and all("labels" in r and "fold" in r for r in recs)


@pytest.mark.shared_data
def test_load_real_record(tmp_path):
    real = SHARED / "ecg_wfdb" / "ptb-xl" / "00001_lr"
    if not real.with_suffix(".hea").exists():
        pytest.skip(f"shared data not found at {SHARED}")
    write_ptbxl_tree(tmp_path, 3, headers=False, real_record=real)
    ds = PTBXL(tmp_path, task="all", drop_unlabelled=False)
    ref = next(r for r in ds.records() if r["record"] == "00001")
    rec = ds.load(ref)
    assert rec.ch_names == ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    assert rec.data.shape == (12, 1000) and rec.sfreq == 100
    # Einthoven on the real record (digitised separately: holds to quantisation, 1 µV)
    assert np.abs(rec.data[0] + rec.data[2] - rec.data[1]).max() < 0.01
    assert rec.meta["labels"] == ref["labels"]
    # the first ADC value of lead I is -119 at gain 1000/mV
    assert rec.data[0, 0] == pytest.approx(-0.119, abs=1e-6)
