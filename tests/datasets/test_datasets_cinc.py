"""CinC 2020/2021 loader: scored-class table, real Georgia records, duplicate grouping."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from _dataset_fixtures import SHARED
from biosig.signal.ecg_leads import LEADS
from biosig.datasets.cinc import CinC, SCORED_CODES, scored_classes
from biosig.errors import ConfigError, InvalidFileError

GEORGIA = SHARED / "ecg_wfdb" / "cinc2021"
needs_shared = pytest.mark.skipif(
    not GEORGIA.is_dir(), reason=f"shared data not found at {GEORGIA}"
)


def test_scored_class_tables():
    t21 = scored_classes(2021)
    assert len(t21) == 26 and sum(len(c) for _, c in t21) == 30
    assert len(scored_classes(2021, merge_equivalent=False)) == 30
    t20 = scored_classes(2020)
    assert len(t20) == 24 and sum(len(c) for _, c in t20) == 27
    names = dict(t21)
    assert names["CRBBB|RBBB"] == ["713427006", "59118001"]
    assert names["CLBBB|LBBB"] == ["733534002", "164909002"]
    assert names["NSR"] == ["426783006"] and names["AF"] == ["164889003"]
    # 2020 has no BBB / CLBBB / PRWP
    codes20 = {c for _, cs in t20 for c in cs}
    assert {"6374002", "733534002", "365413008"}.isdisjoint(codes20)
    assert codes20 | {"6374002", "733534002", "365413008"} == set(SCORED_CODES)
    with pytest.raises(ConfigError):
        scored_classes(2019)


@needs_shared
def test_georgia_index_labels(tmp_path):
    ds = CinC(GEORGIA, hash_cache=tmp_path)
    recs = {r["record"]: r for r in ds.records()}
    assert len(recs) == 20 and ds.multilabel and len(ds.classes) == 26
    # E07500: Dx 67741000119109 (unscored), 426177001 (SB)
    r = recs["E07500"]
    assert [ds.classes[i] for i in r["labels"]] == ["SB"]
    assert r["age"] == 78 and r["sex"] == "male" and r["sfreq"] == 500 and r["n_times"] == 5000
    # 59118001 (RBBB) maps to the merged class
    rbbb = [k for k, v in recs.items() if ds.classes.index("CRBBB|RBBB") in v["labels"]]
    assert len(rbbb) == 2
    # 164873001 (unscored only) -> no label; dropped on request
    n_empty = sum(not v["labels"] for v in recs.values())
    assert n_empty >= 2
    assert len(CinC(GEORGIA, hash_cache=tmp_path, drop_unlabelled=True).records()) == 20 - n_empty
    # unmerged: RBBB is its own class
    ds2 = CinC(GEORGIA, hash_cache=tmp_path, merge_equivalent=False)
    assert "RBBB" in ds2.classes and len(ds2.classes) == 30


@needs_shared
def test_duplicates_share_a_subject(tmp_path):
    recs = {r["record"]: r for r in CinC(GEORGIA, hash_cache=tmp_path).records()}
    assert recs["E07509"]["subject"] == recs["E07510"]["subject"] == "E07509"
    others = [r["subject"] for k, r in recs.items() if k not in ("E07509", "E07510")]
    assert len(set(others)) == len(others) == 18
    # a subject-wise split keeps them together
    from biosig.data.protocols import GroupKFold
    import pandas as pd

    meta = pd.DataFrame(list(recs.values()))
    for fold in range(5):
        parts = GroupKFold(n_splits=5, fold=fold, group="subject").split(meta)
        for name, idx in parts.items():
            rows = set(meta.iloc[idx]["record"])
            assert ({"E07509", "E07510"} <= rows) or not ({"E07509", "E07510"} & rows), name
    # without the check they are separate subjects
    plain = {r["record"]: r for r in CinC(GEORGIA, check_duplicates=False).records()}
    assert plain["E07509"]["subject"] != plain["E07510"]["subject"]


@needs_shared
def test_hash_memo_detects_changed_file(tmp_path):
    root = tmp_path / "data" / "georgia"
    shutil.copytree(GEORGIA, root)
    ds = CinC(tmp_path / "data", hash_cache=tmp_path / "memo")
    assert ds.records()[0]["source"] == "georgia"
    recs = {r["record"]: r for r in ds.records()}
    assert recs["georgia/E07510"]["subject"] == "georgia/E07509"
    data = bytearray((root / "E07510.mat").read_bytes())
    data[-1] ^= 0xFF
    (root / "E07510.mat").write_bytes(bytes(data))
    recs = {r["record"]: r for r in CinC(tmp_path / "data", hash_cache=tmp_path / "memo").records()}
    assert recs["georgia/E07510"]["subject"] == "georgia/E07510"
    assert (
        len(CinC(tmp_path / "data", sources=["georgia"], hash_cache=tmp_path / "memo").records())
        == 20
    )
    with pytest.raises(InvalidFileError, match="sources"):
        CinC(tmp_path / "data", sources=["ningbo"], hash_cache=tmp_path / "memo").records()
    # a memo of another shape (JSON, but not this memo's) is hashed anew: it was an AttributeError
    (memo,) = (tmp_path / "memo").glob("cinc-*.json")
    for other in ("[1, 2]", '{"georgia/E07510.mat": 5}'):
        memo.write_text(other)
        recs = {r["record"]: r for r in CinC(tmp_path / "data", hash_cache=tmp_path / "memo")
                .records()}
        assert recs["georgia/E07510"]["subject"] == "georgia/E07510"


@needs_shared
def test_load_real_record_and_lead_sets(tmp_path):
    ds = CinC(GEORGIA, hash_cache=tmp_path)
    ref = next(r for r in ds.records() if r["record"] == "E07500")
    rec = ds.load(ref)
    assert rec.ch_names == list(LEADS)
    assert rec.data.shape == (12, 5000) and rec.units[0] == "mV"
    assert rec.data[0, 0] == pytest.approx(-0.068, abs=1e-6)  # first ADC value -68 at 1000/mV
    assert (
        np.abs(rec.data[0] + rec.data[2] - rec.data[1]).max() < 0.01
    )  # Einthoven, to quantisation
    two = CinC(GEORGIA, leads=2, hash_cache=tmp_path)
    assert two.load(ref).ch_names == ["I", "II"]
    rows, _ = ds.default_windows()(rec, ref)
    assert len(rows) == 1 and rows[0]["label"] == ref["labels"]
    with pytest.raises(ConfigError):
        CinC(GEORGIA, leads=5)


def test_bad_headers(tmp_path):
    (tmp_path / "A1.hea").write_text("A1 12 500\nA1.mat 16 1000/mV 16 0 0 0 0 I\n")
    with pytest.raises(InvalidFileError, match="12 signals"):
        CinC(tmp_path, check_duplicates=False).records()
    (tmp_path / "A1.hea").write_text("A1 x 500 5000\n")
    with pytest.raises(InvalidFileError, match="malformed record line"):
        CinC(tmp_path, check_duplicates=False).records()
    with pytest.raises(InvalidFileError, match="CinC 2021"):
        CinC(tmp_path / "missing")


@pytest.mark.parametrize("dx, match", [
    ("# Dx: 426783006,ZZ7084000\n", r"A1\.hea: '# Dx:' code 2 is not a SNOMED-CT number"),
    ("# Dx: 426783006,\n# Dx: 4270840ZZ\n", r"A1\.hea: '# Dx:' code 1 is not a SNOMED-CT"),
    ("# Dx:\n", r"A1\.hea: no diagnosis: CinC headers list the record's SNOMED-CT codes"),
    ("", r"A1\.hea: no diagnosis: CinC headers list the record's SNOMED-CT codes"),
], ids=["letter-in-code", "last-dx-line-wins", "empty", "no-dx-line"])
def test_a_damaged_diagnosis_line_is_refused_not_read_as_unlabelled(tmp_path, dx, match):
    """A code that is not a number matched no scored class and was dropped; a header without
    codes (cut before its comments) gave a record with no label: both silently."""
    lines = "".join(f"A1.mat 16x1+24 1000.0(0)/mV 16 0 0 0 0 L{j}\n" for j in range(12))
    (tmp_path / "A1.hea").write_text(f"A1 12 500 5000\n{lines}# Age: 50\n{dx}# Rx: ZZDRUG\n")
    with pytest.raises(InvalidFileError, match=match) as err:
        CinC(tmp_path, check_duplicates=False).records()
    assert "ZZ" not in str(err.value)


def test_a_ptbxl_release_is_refused_with_the_loader_to_use(tmp_path):
    """CinC treats each record as its own subject: run on PTB-XL's own folder it ignored the
    database's patient ids (477 patients in the 510 shared records), so one patient's records
    could be trained on and tested on."""
    (tmp_path / "ptbxl_database.csv").write_text("ecg_id,patient_id\n")
    with pytest.raises(ConfigError, match=r"this is PTB-XL's own release \(ptbxl_database.csv\), "
                                          r"not the CinC 2021 challenge data; read it with "
                                          r"biosig.datasets.PTBXL"):
        CinC(tmp_path)


@needs_shared
def test_identity_keys_on_signal_file_content(tmp_path):
    """An edited .mat of the same size and modification time changes the cache key."""
    import os

    root = tmp_path / "data" / "georgia"
    shutil.copytree(GEORGIA, root)
    before = CinC(tmp_path / "data", check_duplicates=False).identity()
    mat = root / "E07510.mat"
    st = mat.stat()
    data = bytearray(mat.read_bytes())
    data[200] ^= 0xFF  # a sample near the start, same size
    mat.write_bytes(bytes(data))
    os.utime(mat, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = CinC(tmp_path / "data", check_duplicates=False).identity()
    assert after["files_sha1"] != before["files_sha1"]
    assert str(tmp_path) not in str(after)
