"""BCI IV 2a loader: GDF (written in the real layout) + true labels, and the BNCI .mat form."""

from __future__ import annotations

import numpy as np
import pytest

from _dataset_fixtures import (
    SHARED,
    docs_python_block,
    write_bciiv2a_session,
    write_true_labels,
)
from biosig.datasets.bciiv2a import BCIIV2A_EEG, BCIIV2a
from biosig.io import read_true_labels
from biosig.signal.preprocessing import Bandpass, ExtendEdges, apply_steps
from biosig.signal.recording import Annotations
from biosig.errors import ConfigError, InvalidFileError

LABELS = np.array([1, 2, 3, 4, 2, 1, 4, 3, 1, 1, 2, 4])  # 12 trials, 2 runs of 6


def _both_forms(tmp_path, session="T", rejected=(3,), labels=LABELS):
    info = write_bciiv2a_session(
        tmp_path / "gdf",
        f"A01{session}",
        labels,
        session=session,
        rejected=rejected,
        trials_per_run=6,
        bnci_folder=tmp_path / "bnci",
    )
    write_true_labels(tmp_path / "gdf" / "true_labels" / f"A01{session}.mat", labels)
    return info


def test_gdf_and_bnci_give_same_trials_and_windows(tmp_path):
    info = _both_forms(tmp_path)
    g = BCIIV2a(tmp_path / "gdf", subjects=[1], sessions=["T"])
    b = BCIIV2a(tmp_path / "bnci", subjects=[1], sessions=["T"])
    assert (g.form, b.form) == ("gdf", "bnci")
    ref = g.records()[0]
    assert ref == {"record": "A01T", "subject": 1, "session": "T", "path": "A01T.gdf"}
    rg, tg = g.trials(ref)
    rb, tb = b.trials(b.records()[0])
    assert [t["label"] for t in tg] == (LABELS - 1).tolist() == [t["label"] for t in tb]
    assert [t["rejected"] for t in tg] == [i == 3 for i in range(12)] == [t["rejected"] for t in tb]
    assert [t["run"] for t in tg] == [0] * 6 + [1] * 6 == [t["run"] for t in tb]
    np.testing.assert_allclose([t["onset"] for t in tg], info["starts"] / 250.0)
    np.testing.assert_allclose([t["onset"] for t in tb], info["starts"] / 250.0)
    np.testing.assert_allclose(rg.data, rb.data, atol=1e-3)
    # windows: [2, 6] s after trial start = 1000 samples
    wg, wb = g.default_windows(), b.default_windows()
    assert wg.n_times(250.0) == 1000
    rows_g, skipped = wg(g.load(ref), ref)
    rows_b, _ = wb(b.load(b.records()[0]), b.records()[0])
    assert skipped == 0 and len(rows_g) == 12
    assert (
        [r["start"] for r in rows_g]
        == [r["start"] for r in rows_b]
        == (info["starts"] + 500).tolist()
    )
    assert [r["label"] for r in rows_g] == (LABELS - 1).tolist()
    assert [r["trial"] for r in rows_g] == list(range(12))
    rec = g.load(ref)
    assert rec.ch_names == BCIIV2A_EEG and set(rec.ch_types) == {"eeg"}


def test_options_rejected_eog_classes_end(tmp_path):
    _both_forms(tmp_path)
    ds = BCIIV2a(
        tmp_path / "gdf",
        subjects=[1],
        sessions=["T"],
        rejected="drop",
        classes=["left_hand", "right_hand"],
        include_eog=True,
        include_end=True,
    )
    ref = ds.records()[0]
    rec = ds.load(ref)
    assert rec.n_chans == 25 and rec.ch_types[-3:] == ["eog"] * 3
    rows, _ = ds.default_windows()(rec, ref)
    kept = [i for i, y in enumerate(LABELS) if y in (1, 2) and i != 3]
    assert [r["trial"] for r in rows] == kept
    assert ds.default_windows().n_times(250.0) == 1001
    assert ds.classes == ["left_hand", "right_hand"]


def test_trial_windows_take_trial_fields_by_annotation(tmp_path):
    """Each window's trial/run/rejected come from its annotation's row of the trial table, not
    from matching rounded onsets (which misses trials whose onsets are off the microsecond grid
    once ExtendEdges has shifted them and the window shifted them back)."""
    _both_forms(tmp_path)
    ds = BCIIV2a(tmp_path / "bnci", subjects=[1], sessions=["T"])
    ref = ds.records()[0]
    rec = ds.load(ref)
    base, _ = ds.default_windows()(rec, ref)
    assert [r["trial"] for r in base] == list(range(12))
    jitter = 2.5e-6  # well under a sample (4 ms): the windows do not move; trial 0 lands on
    # a rounding boundary of the 6-decimal onset that the shift there and back crosses
    rec.annotations = Annotations(
        rec.annotations.onset + jitter, rec.annotations.duration, rec.annotations.description
    )
    rec.meta["trials"] = [{**t, "onset": t["onset"] + jitter} for t in rec.meta["trials"]]
    rows, _ = ds.default_windows()(ExtendEdges("pad", pad=1.0)(rec), ref)
    fields = ("trial", "run", "rejected")
    assert [[r[f] for f in fields] for r in rows] == [[r[f] for f in fields] for r in base]
    rec.meta["trials"] = rec.meta["trials"][:-1]
    with pytest.raises(ConfigError, match="11 trials for 12 annotations"):
        ds.default_windows()(rec, ref)
    del rec.meta["trials"]
    with pytest.raises(ConfigError, match="no trial table"):
        ds.default_windows()(rec, ref)


def test_bandpass_preset_changes_signal_and_identity(tmp_path):
    _both_forms(tmp_path)
    raw = BCIIV2a(tmp_path / "bnci", subjects=[1], sessions=["T"])
    filt = BCIIV2a(tmp_path / "bnci", subjects=[1], sessions=["T"], bandpass="moabb")
    assert raw.identity() != filt.identity()
    ref = raw.records()[0]
    assert raw.default_preprocessing() == [] and filt.default_preprocessing() == [
        Bandpass(8.0, 32.0, order=4)
    ]
    np.testing.assert_array_equal(filt.load(ref).data, raw.load(ref).data)  # load() never filters
    x = raw.load(ref).data
    y = apply_steps(filt.load(ref), filt.default_preprocessing()).data
    spec_x, spec_y = np.abs(np.fft.rfft(x[0])), np.abs(np.fft.rfft(y[0]))
    f = np.fft.rfftfreq(x.shape[1], 1 / 250)
    assert spec_y[(f > 60) & (f < 100)].mean() < 0.05 * spec_x[(f > 60) & (f < 100)].mean()
    with pytest.raises(ConfigError, match="preset"):
        BCIIV2a(tmp_path / "bnci", bandpass="alpha")


def test_evaluation_session_needs_true_labels(tmp_path):
    write_bciiv2a_session(tmp_path, "A01E", LABELS, session="E", trials_per_run=6, write_bnci=False)
    ds = BCIIV2a(tmp_path, subjects=[1], sessions=["E"])
    with pytest.raises(InvalidFileError, match="783"):
        ds.load(ds.records()[0])
    write_true_labels(tmp_path / "true_labels" / "A01E.mat", LABELS)
    _, table = ds.trials(ds.records()[0])
    assert [t["label"] for t in table] == (LABELS - 1).tolist()


def test_label_file_count_mismatch_names_both_files(tmp_path):
    _both_forms(tmp_path)
    write_true_labels(tmp_path / "gdf" / "true_labels" / "A01T.mat", LABELS[:-1])
    ds = BCIIV2a(tmp_path / "gdf", subjects=[1], sessions=["T"])
    with pytest.raises(InvalidFileError) as err:
        ds.load(ds.records()[0])
    msg = str(err.value)
    assert (
        "true_labels/A01T.mat" in msg
        and "A01T.gdf" in msg
        and "11 labels" in msg
        and "12 cue" in msg
    )


def test_label_file_value_mismatch(tmp_path):
    _both_forms(tmp_path)
    wrong = LABELS.copy()
    wrong[5] = 3
    write_true_labels(tmp_path / "gdf" / "true_labels" / "A01T.mat", wrong)
    ds = BCIIV2a(tmp_path / "gdf", subjects=[1], sessions=["T"])
    with pytest.raises(InvalidFileError, match="disagree .* trial 5"):
        ds.load(ds.records()[0])


def test_bad_config_and_missing_files(tmp_path):
    with pytest.raises(ConfigError):
        BCIIV2a(tmp_path, subjects=[10])
    with pytest.raises(ConfigError):
        BCIIV2a(tmp_path, sessions=["X"])
    with pytest.raises(ConfigError):
        BCIIV2a(tmp_path, classes=["left_hand", "nose"])
    with pytest.raises(InvalidFileError, match="neither A01T.gdf nor A01T.mat"):
        BCIIV2a(tmp_path)
    write_true_labels(tmp_path / "A01T.mat", LABELS)  # a label file is not a BNCI file
    ds = BCIIV2a(tmp_path, subjects=[1], sessions=["T"])
    with pytest.raises(InvalidFileError, match="true-label file"):
        ds.load(ds.records()[0])


@pytest.mark.shared_data
def test_real_true_labels():
    folder = SHARED / "bci_iv_2a" / "true_labels"
    if not folder.is_dir():
        pytest.skip(f"shared data not found at {folder}")
    a1 = read_true_labels(folder / "A01T.mat")
    assert a1.shape == (288,) and np.bincount(a1, minlength=5)[1:].tolist() == [72, 72, 72, 72]
    np.testing.assert_array_equal(
        read_true_labels(folder / "A02T.mat"), read_true_labels(folder / "A03T.mat")
    )


@pytest.mark.shared_data
def test_full_session_with_real_labels(tmp_path):
    """A full-size T session (6 runs x 48 trials) with A01T's real label sequence, both forms."""
    folder = SHARED / "bci_iv_2a" / "true_labels"
    if not folder.is_dir():
        pytest.skip(f"shared data not found at {folder}")
    labels = read_true_labels(folder / "A01T.mat")
    write_bciiv2a_session(
        tmp_path / "gdf",
        "A01T",
        labels,
        session="T",
        rejected=(0, 100),
        trial_len=6.0,
        bnci_folder=tmp_path / "bnci",
    )
    g = BCIIV2a(tmp_path / "gdf", subjects=[1], sessions=["T"], labels_path=folder)
    b = BCIIV2a(tmp_path / "bnci", subjects=[1], sessions=["T"])
    rows = {}
    for name, ds in (("gdf", g), ("bnci", b)):
        ref = ds.records()[0]
        rows[name], skipped = ds.default_windows()(ds.load(ref), ref)
        assert skipped == 0
    assert len(rows["gdf"]) == 288
    assert np.bincount([r["label"] for r in rows["gdf"]]).tolist() == [72, 72, 72, 72]
    assert (
        [r["label"] for r in rows["gdf"]]
        == [r["label"] for r in rows["bnci"]]
        == (labels - 1).tolist()
    )
    assert [r["start"] for r in rows["gdf"]] == [r["start"] for r in rows["bnci"]]
    assert sorted({r["run"] for r in rows["gdf"]}) == list(range(6))
    assert [r["trial"] for r in rows["gdf"] if r["rejected"]] == [0, 100]


def test_docs_example_runs_on_a_copy_under_home(tmp_path, monkeypatch):
    """The docs' example (``~/data/bciiv2a``, labels_path ``~/...``) on a copy in the real
    layout: ``~`` of labels_path is expanded (it was read as a folder named '~', so the E
    session stopped for want of its true labels); session E's labels are the .mat file's."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("BIOSIG_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "data" / "bciiv2a"
    for session in "TE":
        write_bciiv2a_session(folder, f"A01{session}", LABELS, session=session, trials_per_run=6,
                              write_bnci=False)
    write_true_labels(folder / "true_labels" / "A01T.mat", LABELS)
    write_true_labels(folder / "true_labels" / "A01E.mat", LABELS[::-1])
    scope = {}
    exec(docs_python_block("datasets/index.md", "BCIIV2a("), scope)
    cache = scope["cache"]
    kept = [lab - 1 for lab in LABELS[::-1] if lab <= 2]  # left / right hand trials
    assert cache.X.shape == (2 * len(kept), 22, 1001)
    assert cache.meta[cache.meta.session == "E"].label.tolist() == kept


def test_missing_files_say_what_to_do(tmp_path):
    write_bciiv2a_session(tmp_path, "A01T", LABELS, trials_per_run=6, write_bnci=False)
    write_bciiv2a_session(tmp_path, "A03T", LABELS, trials_per_run=6, write_bnci=False)
    with pytest.raises(InvalidFileError, match=r"A02T.gdf.*subjects= .*session T: \[1, 3\]"):
        BCIIV2a(tmp_path, sessions=["T"]).records()
    with pytest.raises(InvalidFileError, match="elsewhere.*no such folder"):
        BCIIV2a(tmp_path, labels_path=tmp_path / "elsewhere")
    write_bciiv2a_session(tmp_path, "A01E", LABELS, session="E", trials_per_run=6,
                          write_bnci=False)
    ds = BCIIV2a(tmp_path, subjects=[1], sessions=["E"])
    with pytest.raises(InvalidFileError, match=f"into {tmp_path / 'true_labels'}, or pass"):
        ds.load(ds.records()[0])
    for bad in [(8.0,), 8.0, (4.0, 8.0, 30.0)]:
        with pytest.raises(ConfigError, match="bandpass must be"):
            BCIIV2a(tmp_path, bandpass=bad)


def test_a_labels_path_that_would_go_unused_is_refused(tmp_path):
    """labels_path was ignored without a word with the BNCI .mat files (form='bnci', or 'auto'
    finding no GDF file), and with GDF files a labels_path lacking a session T's file let its
    labels come from the cue events unsaid."""
    _both_forms(tmp_path)
    labels = tmp_path / "gdf" / "true_labels"
    for form, why in (("bnci", "form='bnci'"), ("auto", "form='auto' here: there is no A01T.gdf")):
        with pytest.raises(ConfigError, match=f"labels_path={labels} is not used with {why}.*"
                                              "hold their own labels"):
            BCIIV2a(tmp_path / "bnci", subjects=[1], sessions=["T"], form=form,
                    labels_path=labels)
    with pytest.raises(ConfigError, match="is not used with download=True"):
        BCIIV2a(tmp_path / "new", download=True, labels_path=labels)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidFileError, match=r"empty: labels_path holds no A01T\.mat .*cue"):
        BCIIV2a(tmp_path / "gdf", subjects=[1], sessions=["T"], labels_path=tmp_path / "empty")
    assert BCIIV2a(tmp_path / "gdf", subjects=[1], sessions=["T"], labels_path=labels).form == "gdf"
