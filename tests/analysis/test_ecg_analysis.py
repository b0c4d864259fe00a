"""R-peak detection, P-Q windows, feature agreement and the baselines."""

import os
from pathlib import Path

import numpy as np
import pytest

from biosig.datasets.synthetic import simulate_ecg12
from biosig.analysis.ecg import (
    LeastSquaresLeadMap,
    copy_input,
    evaluation_report,
    feature_agreement_report,
    match_peaks,
)
from biosig.errors import ConfigError
from biosig.signal.ecg_delineation import annotation_masks, detect_r_peaks, pq_windows

SHARED = Path(
    os.environ.get(
        "BIOSIG_SHARED_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"
    )
)


@pytest.fixture(scope="module")
def records():
    recs = simulate_ecg12(2, duration=5.0, sfreq=250.0, seed=3)
    return recs, np.stack([r.data for r in recs])


@pytest.mark.parametrize("method", ["xqrs", "energy"])
def test_r_peaks_on_simulator(records, method):
    recs, _ = records
    for r in recs:
        truth = np.round(r.annotations.onset * r.sfreq).astype(int)
        truth = truth[(truth > 0.3 * r.sfreq) & (truth < r.data.shape[1] - 0.3 * r.sfreq)]
        found = detect_r_peaks(r.data[1], r.sfreq, method=method)
        found = found[(found > 0.3 * r.sfreq) & (found < r.data.shape[1] - 0.3 * r.sfreq)]
        m = match_peaks(truth, found, r.sfreq, tol_s=0.05)
        assert m["f1"] >= 0.9, (method, m)
        assert m["mean_abs_dt_ms"] < 20


@pytest.mark.shared_data
def test_xqrs_on_real_mitdb_record():
    rec = SHARED / "ecg_wfdb" / "mitdb" / "100"
    if not rec.with_suffix(".hea").exists():
        pytest.skip(f"{rec.parent} absent (set BIOSIG_SHARED_DATA)")
    import wfdb

    sig, fields = wfdb.rdsamp(str(rec), sampto=360 * 60)
    ann = wfdb.rdann(str(rec), "atr", sampto=360 * 60)
    beats = np.array([s for s, sym in zip(ann.sample, ann.symbol) if sym in "NLRBAaJSVrFejnE/fQ?"])
    found = detect_r_peaks(sig[:, 0], fields["fs"])
    m = match_peaks(beats, found, fields["fs"], tol_s=0.075)
    assert m["sensitivity"] > 0.98 and m["ppv"] > 0.98, m


def test_match_peaks_counts():
    m = match_peaks([100, 200, 300], [102, 305, 500], sfreq=100, tol_s=0.05)
    assert m["sensitivity"] == pytest.approx(2 / 3)
    assert m["ppv"] == pytest.approx(2 / 3)
    assert m["mean_abs_dt_ms"] == pytest.approx(35.0)


def test_pq_windows_and_masks(records):
    recs, X = records
    wins = pq_windows([10, 200, 490], 100.0, 500)
    assert wins == [(170, 195), (460, 485)]  # the first R has no room for its P-Q window
    with pytest.raises(ConfigError):
        pq_windows([100], 100.0, 500, (-0.05, -0.1))
    masks = annotation_masks(X, 250.0)
    assert masks.shape == (2, 2, X.shape[-1]) and masks.dtype == np.float32
    r0 = np.round(recs[0].annotations.onset * 250).astype(int)
    inner = r0[(r0 > 100) & (r0 < X.shape[-1] - 100)]
    assert masks[0, 0, inner].mean() == 1.0
    assert masks[0, 1, inner - int(0.15 * 250)].mean() == 1.0  # 150 ms before R: P-Q segment
    assert masks[0, 1, inner].sum() == 0


def test_feature_agreement_identity_and_degradation(records):
    _, X = records
    same = feature_agreement_report(X, X, sfreq=250.0)
    np.testing.assert_allclose(same["r_f1"], 1.0)
    np.testing.assert_allclose(same["r_dt_ms"], 0.0)
    np.testing.assert_allclose(same["pq_r"], 1.0)
    np.testing.assert_allclose(same["r_amp_mae"], 0.0)
    shifted = feature_agreement_report(
        X, np.roll(X, 10, axis=-1), sfreq=250.0, method="energy"
    )  # 40 ms late
    assert (shifted["r_dt_ms"] > 30).all()
    assert shifted["pq_r"].mean() < 0.95


def test_baselines():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 1, 50))
    w = rng.normal(size=(1, 12, 1))
    c = rng.normal(size=(1, 12, 1))
    ecg = w * x + c
    ecg[:, 4] = x[:, 0]  # lead aVL is the input
    lsq = LeastSquaresLeadMap().fit(ecg)
    pred = lsq.predict(ecg, "aVL")
    np.testing.assert_allclose(pred, ecg, atol=1e-5)
    np.testing.assert_array_equal(pred[:, 4], ecg[:, 4].astype(np.float32))
    cp = copy_input(ecg, "aVL")
    assert np.all(cp == ecg[:, 4:5])
    with pytest.raises(ConfigError):
        LeastSquaresLeadMap().predict(ecg, "I")


def test_least_squares_refuses_nan_training_and_input(capfd):
    """A NaN in the training ECGs printed LAPACK's "DLASCL parameter number 4" and ended in
    LinAlgError: SVD did not converge."""
    rng = np.random.default_rng(0)
    ecg = rng.normal(size=(3, 12, 40))
    bad = ecg.copy()
    bad[2, 7, 5] = np.nan
    with pytest.raises(ConfigError, match=r"^LeastSquaresLeadMap.fit: the training ECGs hold 1 "
                                          r"NaN or infinite samples \(the first at record 2, "
                                          r"lead V2, sample 5\)"):
        LeastSquaresLeadMap().fit(bad)
    assert "DLASCL" not in capfd.readouterr().out
    lsq = LeastSquaresLeadMap().fit(ecg)
    with pytest.raises(ConfigError, match=r"^LeastSquaresLeadMap.predict: input lead V2 holds 1 "
                                          r"NaN or infinite samples \(the first at record 2, "
                                          r"sample 5\)"):
        lsq.predict(bad, "V2")
    assert np.isfinite(lsq.predict(bad, "I")).all()  # only the input lead is read


def test_evaluation_report_table(records):
    _, X = records
    with pytest.warns(UserWarning, match=r"'perfect' reproduces lead\(s\) \['V1'"):
        rep = evaluation_report(
            X,
            {"perfect": X, "copy": copy_input(X, "I")},
            sfreq=250.0,
            features=True,
            correlation=True,
            method="energy",
        )
    assert rep.index.names == ["method", "lead"]
    assert rep.loc[("perfect", "mean"), "mse"] == 0
    assert rep.loc[("copy", "mean"), "mse"] > 0.01
    for col in ("fd_mean", "xcorr_peak", "r_f1", "pq_r"):
        assert col in rep.columns


def test_evaluation_report_leaves_the_input_lead_out(records):
    """The input lead is passed through: its r = 1 and error 0 must not lift the mean."""
    _, X = records
    fake = copy_input(X, "V2")
    fake[:, 7] = X[:, 7]  # a generator passes its input lead V2 through
    with pytest.warns(UserWarning, match=r"reproduces lead\(s\) \['V2'\]"):
        evaluation_report(X, {"gen": fake}, sfreq=250.0)
    rep = evaluation_report(X, {"gen": fake}, sfreq=250.0, input_lead="V2")
    leads = [lead for lead in rep.loc["gen"].index if lead != "mean"]
    assert leads == ["V1", "V3", "V4", "V5", "V6"]
    assert rep.loc[("gen", "mean"), "mse"] == pytest.approx(rep.loc["gen"].loc[leads, "mse"].mean())
    with pytest.raises(ConfigError, match="no lead left"):
        evaluation_report(X, {"gen": fake}, sfreq=250.0, leads=["V2"], input_lead="V2")
