"""The built-in simulator is physiological: ERD where it belongs, Einthoven exact, deterministic."""

import numpy as np
import pytest
from scipy.signal import welch

from biosig.datasets.synthetic import (
    ECG_LEADS,
    MI_CHANNELS,
    SyntheticECG,
    SyntheticMI,
    SyntheticTUEV,
    simulate_ecg12,
    simulate_ecg_record,
    simulate_mi_session,
    simulate_tuev_subject,
)
from biosig.errors import ConfigError


def _band_power(rec, onset, ch, band=(8, 30)):
    s = int((onset + 0.8) * rec.sfreq)
    seg = rec.data[rec.ch_names.index(ch), s : s + int(3 * rec.sfreq)]
    f, p = welch(seg, fs=rec.sfreq, nperseg=int(rec.sfreq))
    return p[(f >= band[0]) & (f <= band[1])].mean()


@pytest.fixture(scope="module")
def session():
    return simulate_mi_session(
        subject=1,
        session="T",
        n_trials_per_class=12,
        classes=("left_hand", "right_hand", "feet", "tongue"),
        seed=3,
    )


def test_layout(session):
    assert session.ch_names[:22] == MI_CHANNELS and session.sfreq == 250
    assert session.ch_types.count("eeg") == 22 and session.ch_types.count("eog") == 3
    cues = [d for d in session.annotations.description if d != "trial_start"]
    assert sorted(set(cues)) == ["feet", "left_hand", "right_hand", "tongue"]
    assert all(cues.count(c) == 12 for c in set(cues))
    assert session.data.dtype == np.float32 and np.isfinite(session.data).all()
    assert 5 < session.data[:22].std() < 60  # µV scale of scalp EEG


@pytest.mark.parametrize(
    "cls,lower,higher",
    [
        ("right_hand", "C3", "C4"),  # right-hand imagery: ERD over the left hemisphere
        ("left_hand", "C4", "C3"),  # left-hand imagery: ERD over the right hemisphere
    ],
)
def test_contralateral_erd(session, cls, lower, higher):
    ann = session.annotations
    onsets = {c: ann.onset[ann.description == c] for c in ("left_hand", "right_hand")}
    other = "left_hand" if cls == "right_hand" else "right_hand"
    # mu/beta power at the contralateral electrode drops relative to the other class...
    p_cls = np.mean([_band_power(session, o, lower) for o in onsets[cls]])
    p_other = np.mean([_band_power(session, o, lower) for o in onsets[other]])
    assert p_cls < 0.75 * p_other
    # ...while the ipsilateral electrode is not desynchronised by this class
    q_cls = np.mean([_band_power(session, o, higher) for o in onsets[cls]])
    q_other = np.mean([_band_power(session, o, higher) for o in onsets[other]])
    assert q_cls > q_other


def test_feet_erd_at_vertex(session):
    ann = session.annotations
    feet = np.mean([_band_power(session, o, "Cz") for o in ann.onset[ann.description == "feet"]])
    hand = np.mean(
        [_band_power(session, o, "Cz") for o in ann.onset[ann.description == "left_hand"]]
    )
    assert feet < 0.75 * hand


def test_deterministic_and_subjects_differ():
    a = simulate_mi_session(2, "T", 3, seed=1).data
    b = simulate_mi_session(2, "T", 3, seed=1).data
    c = simulate_mi_session(3, "T", 3, seed=1).data
    np.testing.assert_array_equal(a, b)
    assert a.shape != c.shape or not np.allclose(a, c)


def test_einthoven_and_goldberger_exact():
    for rec in simulate_ecg12(n_records=6, duration=4.0, sfreq=250.0, seed=2):
        d = {n: rec.data[i].astype(np.float64) for i, n in enumerate(ECG_LEADS)}
        tol = 4 * np.finfo(np.float32).eps * np.abs(rec.data).max()
        assert np.abs(d["III"] - (d["II"] - d["I"])).max() <= tol
        assert np.abs(d["aVR"] + (d["I"] + d["II"]) / 2).max() <= tol
        assert np.abs(d["aVL"] - (d["I"] - d["II"] / 2)).max() <= tol
        assert np.abs(d["aVF"] - (d["II"] - d["I"] / 2)).max() <= tol


def test_ecg_morphology_normal():
    rec = simulate_ecg_record(("NORM",), duration=10, sfreq=500, noise=False, seed=0)
    d = dict(zip(rec.ch_names, rec.data))
    assert d["II"].max() > 0.8 and d["aVR"].min() < -0.5  # upright II, inverted aVR
    assert -d["V1"].min() > d["V1"].max()  # V1 dominated by the S wave
    assert d["V6"].max() > -d["V6"].min()  # V6 dominated by the R wave
    n_beats = len(rec.annotations)
    assert 8 <= n_beats <= 17  # 55-95 bpm over 10 s


def test_ecg_pathology_changes_signal():
    norm = simulate_ecg_record(("NORM",), 10, 500, noise=False, seed=4).data
    hyp = simulate_ecg_record(("HYP",), 10, 500, noise=False, seed=4).data
    assert np.abs(hyp).max() > 1.4 * np.abs(norm).max()


def test_sources_index_matches_load():
    mi = SyntheticMI(n_subjects=2, n_trials_per_class=2)
    refs = mi.records()
    assert [r["record"] for r in refs] == ["s01T", "s01E", "s02T", "s02E"]
    assert mi.load(refs[1]).meta["session"] == "E"
    ecg = SyntheticECG(n_records=5, duration=2, sfreq=100)
    ref = ecg.records()[3]
    rec = ecg.load(ref)
    assert rec.meta["labels"] == [ecg.classes[i] for i in ref["labels"]]
    np.testing.assert_array_equal(rec.data, simulate_ecg12(5, 2, 100)[3].data)


@pytest.mark.parametrize("fmt", ["edf", "gdf"])
def test_written_files_give_the_same_windows(tmp_path, fmt):
    """The simulator writes real files; reading them back through the loaders gives its windows."""
    from biosig.data import PickChannels, get_cache
    from biosig.datasets import RecordingFiles, write_recordings
    from biosig.datasets.synthetic import MI_EVENT_CODES

    mi = SyntheticMI(n_subjects=1, n_trials_per_class=3, sessions=["E", "T"])
    write_recordings([mi.load(r) for r in mi.records()], tmp_path / fmt, fmt)
    names = {str(v): k for k, v in MI_EVENT_CODES.items()} if fmt == "gdf" else None
    files = RecordingFiles(
        str(tmp_path / fmt / f"*.{fmt}"),
        classes=mi.classes,
        subject_pattern=r"_s(\d+)",
        event_names=names,
    )
    got = get_cache(files, [PickChannels(types=["eeg"])], root=tmp_path / "cache")
    ref = get_cache(mi, [PickChannels(types=["eeg"])], root=tmp_path / "cache")
    assert got.X.shape == ref.X.shape == (12, 22, 1000)
    np.testing.assert_array_equal(got.y, ref.y)
    assert np.abs(np.asarray(got.X) - np.asarray(ref.X)).max() < 0.01  # 16-bit quantisation, µV


@pytest.mark.parametrize("make, message", [
    (lambda: SyntheticMI(n_trials_per_class=-5),
     r"SyntheticMI\.n_trials_per_class must be an integer >= 1, got -5"),
    (lambda: SyntheticMI(n_trials_per_class=0), r"SyntheticMI\.n_trials_per_class must be"),
    (lambda: SyntheticMI(n_subjects=0), r"SyntheticMI\.n_subjects must be an integer >= 1"),
    (lambda: SyntheticMI(classes=["feet", "feet"]), r"SyntheticMI\.classes names \['feet'\] "
                                                    r"more than once"),
    (lambda: SyntheticMI(classes="feet"), r"SyntheticMI\.classes must be a non-empty list"),
    (lambda: SyntheticMI(classes=["hands"]), r"SyntheticMI\.classes: unknown \['hands'\]"),
    (lambda: SyntheticMI(sessions=[]), r"SyntheticMI\.sessions must be a non-empty list"),
    (lambda: SyntheticMI(sfreq=0.0), r"SyntheticMI\.sfreq must be a finite number > 0"),
    (lambda: SyntheticMI(seed=-1), r"SyntheticMI\.seed must be an integer >= 0, got -1"),
    (lambda: SyntheticECG(n_records=-1), r"SyntheticECG\.n_records must be an integer >= 1"),
    (lambda: SyntheticECG(duration=float("nan")), r"SyntheticECG\.duration must be a finite"),
    (lambda: SyntheticECG(sfreq=-100.0), r"SyntheticECG\.sfreq must be a finite number > 0"),
    (lambda: SyntheticTUEV(n_per_class=-1), r"SyntheticTUEV\.n_per_class must be an integer"),
    (lambda: SyntheticTUEV(sfreq=0), r"SyntheticTUEV\.sfreq must be a finite number > 0"),
    (lambda: simulate_mi_session(n_trials_per_class=-5),
     r"simulate_mi_session\.n_trials_per_class must be an integer >= 1, got -5"),
    (lambda: simulate_mi_session(subject=-1), r"simulate_mi_session\.subject must be"),
    (lambda: simulate_ecg_record(duration=0.0), r"simulate_ecg_record\.duration must be"),
    (lambda: simulate_ecg12(n_records=-3), r"simulate_ecg12\.n_records must be an integer >= 1"),
    (lambda: simulate_tuev_subject(1, n_per_class=-2), r"simulate_tuev_subject\.n_per_class"),
])
def test_bad_simulator_arguments_name_the_argument(make, message):
    """Not NumPy's "negative dimensions are not allowed" (or a seed error) while a cache is
    being built: the dataset object refuses them when it is made."""
    with pytest.raises(ConfigError, match=message):
        make()
