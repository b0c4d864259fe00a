"""TUEV loader on fixtures written in TUEV's layout (EDF with TUH names + .rec)."""

from __future__ import annotations

import numpy as np
import pytest

from _dataset_fixtures import docs_python_block, tuh_signal, write_tuev_file, write_tuev_tree
from biosig.datasets.tuev import TUEV, TUEV_CLASSES
from biosig.errors import ConfigError, InvalidFileError
from biosig.io import read_rec
from biosig.signal.montages import MONTAGES, bipolar_names, tuh_electrode
from biosig.signal.preprocessing import apply_steps

EVENTS = [(0, 0.5, 1.5, 1), (9, 20.0, 21.0, 6), (13, 30.0, 31.0, 3), (21, 58.5, 59.5, 4)]


@pytest.fixture()
def one_file(tmp_path):
    write_tuev_file(tmp_path / "edf" / "train" / "aaaaaaar" / "aaaaaaar_00000001.edf", EVENTS)
    (tmp_path / "edf" / "eval").mkdir(parents=True)
    write_tuev_file(tmp_path / "edf" / "eval" / "bbbbbbbb" / "bbbbbbbb_00000001.edf", EVENTS[:2])
    return tmp_path


def _prepared(ds, ref):
    """A record as the window cache sees it: ``load`` (raw) then the dataset's own steps."""
    return apply_steps(ds.load(ref), ds.default_preprocessing())


def test_montages():
    assert len(MONTAGES["tcp22"]) == 22 and len(MONTAGES["tcp16"]) == 16
    names = bipolar_names("tcp22")
    assert names[:4] == ["FP1-F7", "F7-T3", "T3-T5", "T5-O1"]
    assert names[8:14] == ["A1-T3", "T3-C3", "C3-CZ", "C4-CZ", "T4-C4", "A2-T4"]
    assert names[-1] == "P4-O2"
    assert bipolar_names("tcp16") == names[:8] + names[14:]
    tuh = bipolar_names("tcp22_tuh")
    assert tuh[11:14] == ["CZ-C4", "C4-T4", "T4-A2"] and tuh[:11] == names[:11]
    assert tuh_electrode("EEG FP1-REF") == "FP1" and tuh_electrode("EEG T3-LE") == "T3"
    assert tuh_electrode("PHOTIC-REF") is None and tuh_electrode("EEG FP1") is None


def test_load_preprocessing_montage_polarity(one_file):
    ds = TUEV(one_file, edge="tile")
    ref = next(r for r in ds.records() if r["official_split"] == "train")
    raw = ds.load(ref)  # unfiltered, referential, at the file's rate
    assert raw.sfreq == 250 and raw.ch_names[:2] == ["FP1", "FP2"] and raw.n_times == 60 * 250
    rec = _prepared(ds, ref)
    assert rec.sfreq == 200 and rec.n_chans == 22 and rec.ch_names == bipolar_names("tcp22")
    n = rec.meta["n_times_original"]
    assert n == 60 * 200 and rec.n_times == 3 * n
    t = np.arange(n) / 200.0
    mid = slice(int(15 * 200), int(45 * 200))  # away from filter edge effects
    for k, (a, b) in enumerate(MONTAGES["tcp22"]):
        expected = tuh_signal(a, t) - tuh_signal(b, t)
        got = rec.data[k, n : 2 * n]
        err = np.abs(got[mid] - expected[mid]).max() / np.abs(expected[mid]).max()
        assert err < 0.03, (k, a, b, err)
    # tiled: the three copies are identical
    np.testing.assert_array_equal(rec.data[:, :n], rec.data[:, n : 2 * n])


def test_windows_centred_on_events_and_edges(one_file):
    recs = {e: TUEV(one_file, edge=e) for e in ("tile", "pad", "drop")}
    ref = next(r for r in recs["tile"].records() if r["official_split"] == "train")
    out = {}
    for edge, ds in recs.items():
        rec = _prepared(ds, ref)
        w = ds.default_windows()
        assert w.n_times(200.0) == 1000
        out[edge] = (rec, *w(rec, ref))
    rec, rows, skipped = out["tile"]
    assert skipped == 0 and len(rows) == 4
    assert [r["label"] for r in rows] == [0, 5, 2, 3]
    assert [TUEV_CLASSES[r["label"]] for r in rows] == ["spsw", "bckg", "pled", "eyem"]
    assert [r["channel"] for r in rows] == [0, 9, 13, 21]
    assert [r["onset"] for r in rows] == pytest.approx([0.5, 20.0, 30.0, 58.5])
    n = rec.meta["n_times_original"]
    # event at 20-21 s: window 18-23 s of the original = samples 3600..4600 of the middle copy
    assert rows[1]["start"] == n + 3600
    # event at 0.5 s: window starts 1.5 s before the recording -> wraps to its end
    x = rec.data[:, rows[0]["start"] : rows[0]["start"] + 1000]
    np.testing.assert_array_equal(x[:, :300], rec.data[:, n - 300 : n])
    _, rows_pad, sk_pad = out["pad"]
    assert sk_pad == 0 and len(rows_pad) == 4
    x = out["pad"][0].data[:, rows_pad[0]["start"] : rows_pad[0]["start"] + 300]
    assert np.all(x == 0)
    _, rows_drop, sk_drop = out["drop"]
    assert sk_drop == 2 and [r["onset"] for r in rows_drop] == pytest.approx([20.0, 30.0])


def test_tcp16_variant(one_file):
    ds = TUEV(one_file, montage="tcp16", notch=60.0)
    rec = _prepared(ds, ds.records()[0])
    assert rec.n_chans == 16 and rec.ch_names == bipolar_names("tcp16")
    assert ds.identity() != TUEV(one_file).identity()


def test_splits_by_subject_seeded(tmp_path):
    write_tuev_tree(tmp_path, n_subjects=10, n_eval_subjects=2, events_per_file=1, duration=20.0)
    a = TUEV(tmp_path).records()
    b = TUEV(tmp_path).records()
    assert a == b
    val = {r["subject"] for r in a if r["split"] == "val"}
    train = {r["subject"] for r in a if r["split"] == "train"}
    test = {r["subject"] for r in a if r["split"] == "test"}
    assert len(val) == 2 and len(train) == 8 and len(test) == 2
    assert not (val & train) and not (test & (val | train))
    other = {r["subject"] for r in TUEV(tmp_path, seed=1).records() if r["split"] == "val"}
    assert len(other) == 2
    assert [r for r in TUEV(tmp_path, splits=["eval"]).records()] == [
        r for r in a if r["split"] == "test"
    ]
    # one split as a str: it was read as its letters ('e', 'v', 'a', 'l') and refused
    assert TUEV(tmp_path, splits="eval").records() == TUEV(tmp_path, splits=["eval"]).records()


def test_rec_errors_name_file_and_row(one_file, tmp_path):
    rec_path = next((one_file / "edf" / "train").rglob("*.rec"))
    good = rec_path.read_text()
    rec_path.write_text(good + "3,10.0,11.0,7\n")
    with pytest.raises(InvalidFileError, match=r"aaaaaaar_00000001.rec: row 5: unknown label 7 "):
        read_rec(rec_path)
    rec_path.write_text(good + "\n3,70.0,71.0,2\n")  # row numbers count lines, as read_rec's
    ds = TUEV(one_file)
    ref = next(r for r in ds.records() if r["official_split"] == "train")
    with pytest.raises(
        InvalidFileError, match=r"\.rec: row 6: event 70-71 s ends after the recording \(60 s"
    ):
        ds.load(ref)
    rec_path.write_text(good + "25,1.0,2.0,2\n")
    with pytest.raises(InvalidFileError, match="row 5: channel 25"):
        read_rec(rec_path)
    rec_path.write_text("3,1.0,2.0\n")
    with pytest.raises(InvalidFileError, match="row 1: expected 4 fields"):
        read_rec(rec_path)
    rec_path.unlink()
    with pytest.raises(InvalidFileError, match="annotation file"):
        TUEV(one_file).records()


def test_bad_config(one_file, tmp_path):
    with pytest.raises(ConfigError):
        TUEV(one_file, montage="tcp99")
    with pytest.raises(ConfigError):
        TUEV(one_file, edge="mirror")
    with pytest.raises(InvalidFileError, match="licensed"):
        TUEV(tmp_path / "nowhere")


def test_window_cache_runs_the_dataset_steps(one_file, tmp_path):
    from biosig.data.cache import get_cache

    ds = TUEV(one_file, splits=["train"], edge="tile")
    cache = get_cache(ds, root=tmp_path / "cache")
    ref = ds.records()[0]
    rec = _prepared(ds, ref)
    rows, _ = ds.default_windows()(rec, ref)
    assert cache.X.shape == (4, 22, 1000) and cache.sfreq == 200.0
    assert cache.ch_names == bipolar_names("tcp22")
    for x, row in zip(cache.X, rows):
        np.testing.assert_array_equal(x, rec.data[:, row["start"] : row["start"] + 1000])
    assert [s["step"] for s in cache.params["preprocessing"]] == [
        "FIRBandpass",
        "FIRNotch",
        "FFTResample",
        "BipolarMontage",
        "ExtendEdges",
    ]


def test_docs_example_gives_what_its_comments_say(one_file):
    """docs/datasets/index.md's TUEV block on a copy in the real layout: 22 bipolar channels at
    200 Hz and one 1000-sample window per .rec row (it windowed the raw referential recording:
    19 electrodes at the file's 250 Hz, 1250-sample windows, those past the edges skipped)."""
    block = docs_python_block("datasets/index.md", "TUEV(")
    scope = {}
    exec(block.replace("/data/tuev/v2.0.1", str(one_file)), scope)
    rec, rows, skipped = scope["rec"], scope["rows"], scope["skipped"]
    assert rec.ch_names == bipolar_names("tcp22") and rec.sfreq == 200.0
    assert skipped == 0 and len(rows) == len(EVENTS)
    assert scope["ds"].default_windows().n_times(rec.sfreq) == 1000


def test_wrong_folder_names_the_layout_and_the_right_folder(one_file):
    corpus = one_file / "tuev" / "v2.0.1"
    corpus.mkdir(parents=True)
    (one_file / "edf").rename(corpus / "edf")
    hint = "path must be the corpus folder holding edf/train and edf/eval"
    with pytest.raises(InvalidFileError, match=f"{hint}.* split folder itself: pass {corpus}$"):
        TUEV(corpus / "edf" / "train")
    with pytest.raises(InvalidFileError, match=f"{hint}.*; {corpus} holds edf/train: pass"):
        TUEV(one_file / "tuev")
    assert len(TUEV(corpus).records()) == 2


def test_eval_subject_is_the_index_not_the_class_prefix(tmp_path):
    """Eval files are <class>_<NNN>_a_.edf: the subject is NNN (it was the class name, so
    per-subject alignment and tables grouped the eval windows by their label)."""
    write_tuev_tree(tmp_path, n_subjects=2, files_per_subject=3, n_eval_subjects=2,
                    events_per_file=1, duration=10.0)
    recs = TUEV(tmp_path).records()
    test = {r["path"]: r["subject"] for r in recs if r["split"] == "test"}
    assert test["eval/000/gped_000_a_.edf"] == "000" and set(test.values()) == {"000", "001"}
    assert {r["subject"] for r in recs if r["split"] != "test"} == {"tr000000", "tr000001"}
