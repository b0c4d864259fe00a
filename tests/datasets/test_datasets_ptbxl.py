"""PTB-XL loader: CSV parsing, label levels, folds, fast index, real record loading."""

from __future__ import annotations


import numpy as np
import pytest

from _dataset_fixtures import SHARED, PTBXL_STATEMENTS, write_ptbxl_tree
from biosig.signal.ecg_leads import LEADS
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


@pytest.mark.parametrize(
    "task", ["superdiagnostic", "subdiagnostic", "diagnostic", "rhythm", "all"]
)
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
    # a patient_id that is not a number: named as the field, its value never quoted
    text = (tmp_path / "ptbxl_database.csv").read_text().replace("[", "{").splitlines()
    cells = text[1].split(",")
    cells_before = list(cells)
    cells[1] = "ZZPATIENT_SMITH_1234"
    text[1] = ",".join(cells)
    (tmp_path / "ptbxl_database.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(InvalidFileError, match=r"row 2 .*patient_id is not a whole number") as e:
        PTBXL(tmp_path).records()
    assert "ZZPATIENT" not in str(e.value)
    # the same cell further down: the rows above (read as text "15709.0") still parse
    later = text[4].split(",")
    later[1], text[1] = cells[1], ",".join(cells_before)
    text[4] = ",".join(later)
    (tmp_path / "ptbxl_database.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(InvalidFileError, match=r"row 5 .*patient_id is not a whole number") as e:
        PTBXL(tmp_path).records()
    assert "ZZPATIENT" not in str(e.value)


@pytest.mark.parametrize("edit, match", [
    (lambda r: "ZZID" + r[r.index(","):], r"row 2: ecg_id is not a whole number"),
    (lambda r: r.replace(",text,", ",ZZREPORT,ZZTAIL,", 1).replace('"{', "{", 1),
     r"row 2 \(ecg_id 1\): scp_codes is not a dict literal"),  # an unquoted comma in a report
    (lambda r: r.replace(": 0.0", ": 'ZZLIK'", 1), r"a likelihood in scp_codes is not a number"),
    (lambda r: r.replace("'IMI'", "'ZZCODE'", 1),
     r"row 2 \(ecg_id 1\): scp_codes lists 1 statement code\(s\) that scp_statements.csv"),
    (lambda r: r.replace(",,2,", ",,ZZFOLD,", 1), r"strat_fold is not a whole number"),
    (lambda r: r.replace(",76,1,", ",ZZAGE,1,", 1), r"age or sex is not a number"),
    # the record's file: an empty cell was read as the record 'nan' ('nan.hea does not exist'),
    # an absolute path went into the cache's params.json, '..' read a file outside the folder
    (lambda r: r.replace(",records100/00000/00001_lr,", ",,", 1),
     r"row 2 \(ecg_id 1\): filename_lr is empty"),
    (lambda r: r.replace(",records100/", ",/ZZ/records100/", 1),
     r"row 2 \(ecg_id 1\): filename_lr is not a relative path inside the PTB-XL folder"),
    (lambda r: r.replace(",records100/", ",../ZZ/records100/", 1),
     r"row 2 \(ecg_id 1\): filename_lr is not a relative path inside the PTB-XL folder"),
    # two rows with one ecg_id gave two records of one name in the cache
    (lambda r: "2" + r[r.index(","):], r"row 3 \(ecg_id 2\): ecg_id repeats row 2"),
], ids=["ecg_id", "report-shift", "likelihood", "unknown-code", "strat_fold", "age",
        "empty-file", "absolute-file", "outside-file", "repeated-ecg_id"])
def test_bad_cells_are_named_never_quoted(tmp_path, edit, match):
    """A cell of the database that is not what its column holds: the row and the column are
    named, the cell's text is not (a free-text report shifted by an unquoted comma lands in
    the columns read)."""
    write_ptbxl_tree(tmp_path, 5, headers=False)
    csv = tmp_path / "ptbxl_database.csv"
    lines = csv.read_text().splitlines()
    lines[1] = edit(lines[1])
    csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidFileError, match=match) as e:
        PTBXL(tmp_path).records()
    assert "ZZ" not in str(e.value)


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
    assert rec.ch_names == list(LEADS)
    assert rec.data.shape == (12, 1000) and rec.sfreq == 100
    # Einthoven on the real record (digitised separately: holds to quantisation, 1 µV)
    assert np.abs(rec.data[0] + rec.data[2] - rec.data[1]).max() < 0.01
    assert rec.meta["labels"] == ref["labels"]
    # the first ADC value of lead I is -119 at gain 1000/mV
    assert rec.data[0, 0] == pytest.approx(-0.119, abs=1e-6)


# ------------------------------------------------------------ the real PTB-XL layout (../shared)
PTBXL_REAL = SHARED / "ecg_wfdb" / "ptbxl"
needs_ptbxl = pytest.mark.skipif(
    not (PTBXL_REAL / "ptbxl_database.csv").is_file(),
    reason=f"shared PTB-XL not found at {PTBXL_REAL}",
)


def _real_rows() -> list[dict]:
    import csv

    with open(PTBXL_REAL / "ptbxl_database.csv", newline="") as f:
        return list(csv.DictReader(f))


@needs_ptbxl
@pytest.mark.shared_data
def test_real_layout_index_folds_and_label_sets():
    import ast
    import csv

    rows = _real_rows()
    by_id = {f"{int(r['ecg_id']):05d}": r for r in rows}
    with open(PTBXL_REAL / "scp_statements.csv", newline="") as f:
        stmts = {r[""]: r for r in csv.DictReader(f)}
    for task, flag in [("diagnostic", "diagnostic"), ("form", "form"), ("rhythm", "rhythm")]:
        ds = PTBXL(PTBXL_REAL, task=task)
        assert ds.classes == sorted(c for c, s in stmts.items() if s[flag] == "1.0")
        for rec in ds.records():
            codes = ast.literal_eval(by_id[rec["record"]]["scp_codes"])
            assert {ds.classes[i] for i in rec["labels"]} == {
                c for c in codes if stmts[c][flag] == "1.0"
            }
    ds = PTBXL(PTBXL_REAL, drop_unlabelled=False)
    recs = ds.records()
    assert len(recs) == len(rows) == 510 and ds.classes == SUPERCLASSES
    assert sorted({r["fold"] for r in recs}) == list(range(1, 11))
    for r in recs:
        src = by_id[r["record"]]
        assert r["fold"] == int(src["strat_fold"]) and r["subject"] == int(float(src["patient_id"]))
        assert r["split"] == ("train" if r["fold"] <= 8 else "val" if r["fold"] == 9 else "test")
        sup = {
            stmts[c]["diagnostic_class"]
            for c in ast.literal_eval(src["scp_codes"])
            if stmts[c]["diagnostic"] == "1.0"
        }
        assert {SUPERCLASSES[i] for i in r["labels"]} == sup
        assert r["path"] == src["filename_lr"] and (PTBXL_REAL / (r["path"] + ".hea")).is_file()
    # identifying CSV columns (recording date, report, nurse, site) are not indexed
    assert not {"recording_date", "report", "nurse", "site", "date"} & set(recs[0])


@needs_ptbxl
@pytest.mark.shared_data
def test_real_records_load_in_both_header_styles(tmp_path):
    """The shared headers are CinC-style (#Age/#Sex/#Dx comments, a base date); PhysioNet's own
    headers have neither. Both read to the same 12 leads, and neither date nor comment is passed
    on."""
    ds = PTBXL(PTBXL_REAL, task="all", drop_unlabelled=False)
    refs = {r["record"]: r for r in ds.records()}
    ref = refs["00001"]
    hea = (PTBXL_REAL / (ref["path"] + ".hea")).read_text()
    assert (
        "#Dx:" in hea and "1984" in hea.splitlines()[0]
    )  # the CinC-style layout we must cope with
    rec = ds.load(ref)
    assert rec.ch_names == list(LEADS)
    assert rec.data.shape == (12, 1000) and rec.sfreq == 100
    assert rec.data[0, 0] == pytest.approx(-0.119, abs=1e-6)  # first ADC value of lead I, gain 1000
    assert np.abs(rec.data[0] + rec.data[2] - rec.data[1]).max() < 0.01  # Einthoven, real record
    text = repr(rec.meta)
    assert not any(s in text for s in ("1984", "09:17", "Female", "Dx", "Age", "Weight"))
    # the same record with PhysioNet's original header: no comments, no base date
    plain = tmp_path / "records100" / "00000"
    plain.mkdir(parents=True)
    lines = [ln for ln in hea.splitlines() if not ln.startswith("#")]
    lines[0] = " ".join(lines[0].split()[:4])
    (plain / "00001_lr.hea").write_text("\n".join(lines) + "\n")
    (plain / "00001_lr.dat").write_bytes((PTBXL_REAL / (ref["path"] + ".dat")).read_bytes())
    for name in ("ptbxl_database.csv", "scp_statements.csv"):
        (tmp_path / name).write_bytes((PTBXL_REAL / name).read_bytes())
    other = PTBXL(tmp_path, task="all", drop_unlabelled=False)
    np.testing.assert_array_equal(other.load(ref).data, rec.data)


@needs_ptbxl
@pytest.mark.shared_data
def test_real_cache_has_no_header_date_or_free_text(tmp_path):
    from biosig.data.cache import get_cache

    class FewPTBXL(PTBXL):  # 2 records per split keep the test fast
        def records(self):
            out = []
            for split in ("train", "val", "test"):
                out += [r for r in super().records() if r["split"] == split][:2]
            return out

    ds = FewPTBXL(PTBXL_REAL)
    cache = get_cache(ds, [], root=tmp_path / "cache", progress=False)
    assert cache.X.shape == (6, 12, 1000)
    assert set(cache.meta["split"]) == {"train", "val", "test"}
    for f in (tmp_path / "cache").rglob("*"):
        if f.is_file() and f.suffix in (".csv", ".json"):
            text = f.read_text()
            for leak in ("1984", "09:17:34", "#Age", "Female", "Dx:", "sinusrhythmus", "CS-12"):
                assert leak not in text, (f.name, leak)


@needs_ptbxl
@pytest.mark.shared_data
def test_a_rate_whose_records_folder_is_absent_is_named_at_load():
    """The shared copy has records100/ only: at 500 Hz the index still lists the records, and
    loading one names the missing folder instead of a record's missing header."""
    ds = PTBXL(PTBXL_REAL, sampling_rate=500)
    with pytest.raises(InvalidFileError, match=r"records500: missing: .* no 500 Hz records"):
        ds.load(ds.records()[0])
