"""Per-lead signal metrics, DTW and lag-resolved correlations."""

import numpy as np
import pytest

from biosig.errors import ConfigError
from biosig.metrics.correlation import auto_correlation, correlation_report, cross_correlation
from biosig.metrics.signal import dtw_distance, mae, mse, pearson_r, per_lead_table


def _dtw_loop(a, b, sq=False):
    n, m = len(a), len(b)
    D = np.full((n + 1, m + 1), np.inf)
    D[0, 0] = 0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d = (a[i - 1] - b[j - 1]) ** 2 if sq else abs(a[i - 1] - b[j - 1])
            D[i, j] = d + min(D[i - 1, j], D[i, j - 1], D[i - 1, j - 1])
    return np.sqrt(D[n, m]) if sq else D[n, m]


def test_basic_errors():
    a = np.array([[0.0, 1.0, 2.0, 3.0]])
    b = a + np.array([[1.0, -1.0, 1.0, -1.0]])
    assert mse(a, b)[0] == pytest.approx(1.0)
    assert mae(a, b)[0] == pytest.approx(1.0)
    assert pearson_r(a, 2 * a + 1)[0] == pytest.approx(1.0)
    assert pearson_r(a, -a)[0] == pytest.approx(-1.0)
    assert np.isnan(pearson_r(a, np.ones_like(a))[0])
    with pytest.raises(ConfigError):
        mse(a, b[:, :3])


def test_dtw_matches_loop():
    # "sqeuclidean" follows tslearn.metrics.dtw (sqrt of the summed squared differences); tslearn
    # itself is not called here because its numba compilation costs minutes on a CI CPU
    rng = np.random.default_rng(0)
    for _ in range(10):
        n, m = rng.integers(1, 25, 2)
        a, b = rng.normal(size=n), rng.normal(size=m)
        assert dtw_distance(a, b) == pytest.approx(_dtw_loop(a, b), abs=1e-10)
        assert dtw_distance(a, b, metric="sqeuclidean") == pytest.approx(
            _dtw_loop(a, b, sq=True), abs=1e-10
        )
    a, b = rng.normal(size=(2, 3, 40)), rng.normal(size=(2, 3, 40))
    out = dtw_distance(a, b)
    assert out.shape == (2, 3)
    assert out[1, 2] == pytest.approx(_dtw_loop(a[1, 2], b[1, 2]))
    assert dtw_distance(a, b, band=2)[0, 0] >= out[0, 0] - 1e-12
    assert dtw_distance(a, b, band=0)[0, 0] == pytest.approx(np.abs(a[0, 0] - b[0, 0]).sum())


def test_per_lead_table_columns():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(4, 12, 60))
    df = per_lead_table(real, real + 0.1, sfreq=100, dtw=True)
    assert list(df.columns) == ["mse", "mae", "pearson_r", "fd_mean", "fd_sd", "dtw"]
    assert df.index[6] == "V1"
    np.testing.assert_allclose(df["mse"], 0.01)
    np.testing.assert_allclose(df["pearson_r"], 1.0)
    np.testing.assert_allclose(df["fd_mean"], 0.1, rtol=1e-5)


def test_cross_correlation_matches_direct_and_finds_delay():
    rng = np.random.default_rng(2)
    a = rng.normal(size=300)
    b = np.roll(a, 7) + 0.1 * rng.normal(size=300)
    lags, r = cross_correlation(a, b, 20)
    assert lags[np.argmax(r)] == 7
    ac, bc = a - a.mean(), b - b.mean()
    direct = np.array(
        [np.sum(ac[max(0, -l) : 300 - max(0, l)] * bc[max(0, l) : 300 + min(0, l)]) for l in lags]
    ) / np.sqrt((ac**2).sum() * (bc**2).sum())
    np.testing.assert_allclose(r, direct, atol=1e-12)
    _, acf = auto_correlation(np.sin(2 * np.pi * np.arange(400) / 40), 60)
    assert acf[0] == pytest.approx(1.0)
    assert np.argmax(acf[20:]) + 20 == 40
    with pytest.raises(ConfigError):
        cross_correlation(a, b, 300)


def test_correlation_report_lags_in_ms():
    rng = np.random.default_rng(3)
    white = rng.normal(size=(3, 12, 520))
    real = np.apply_along_axis(lambda v: np.convolve(v, np.hanning(12), "valid"), -1, white)[
        ..., :500
    ]
    fake = np.roll(real, 5, axis=-1)  # 5 samples = 10 ms at 500 Hz
    df = correlation_report(real, fake, sfreq=500.0)
    np.testing.assert_allclose(df["xcorr_lag_ms"], 10.0)
    assert (df["xcorr_peak"] > 0.9).all()
    assert (df["acf_r"] > 0.95).all()


def test_correlation_refuses_nan_like_frechet():
    """A NaN sample became r = 0 at every lag, so the peak moved to lag -max_lag silently."""
    rng = np.random.default_rng(4)
    real = rng.normal(size=(2, 12, 200))
    fake = np.roll(real, 3, axis=-1)
    bad = real.copy()
    bad[1, 6, 50] = np.nan
    with pytest.raises(ConfigError, match=r"^real holds NaN or infinite values \(the first at "
                                          r"record 1, lead V1, sample 50\)$"):
        correlation_report(bad, fake, sfreq=500.0)
    inf = fake.copy()
    inf[0, 2, 7] = np.inf
    with pytest.raises(ConfigError, match=r"^fake holds NaN or infinite values .*record 0, "
                                          r"lead III, sample 7"):
        correlation_report(real, inf, sfreq=500.0)
    with pytest.raises(ConfigError, match=r"^real holds NaN or infinite values \(the first at "
                                          r"sample 50\)$"):
        cross_correlation(bad[1, 6], fake[1, 6], 10)
    with pytest.raises(ConfigError, match="^x holds NaN or infinite values"):
        auto_correlation(bad[1, 6], 10)


def test_correlation_report_leaves_out_a_flat_lead_as_pearson_r_does():
    """A flat generated lead has r = 0 at every lag: its peak sat at lag -max_lag (-200 ms) and
    r(0) = 0 entered the means, so xcorr_zero disagreed with per_lead_table's pearson_r."""
    rng = np.random.default_rng(5)
    real = rng.normal(size=(3, 2, 200))
    fake = np.roll(real, 2, axis=-1)  # 2 samples = 20 ms at 100 Hz
    fake[0, 1] = 0.5  # record 0, lead b: flat
    df = correlation_report(real, fake, sfreq=100.0, lead_names=["a", "b"])
    np.testing.assert_allclose(df["xcorr_lag_ms"], 20.0)
    table = per_lead_table(real, fake, lead_names=["a", "b"], frechet=False)
    np.testing.assert_allclose(df["xcorr_zero"], table["pearson_r"], atol=1e-12)
    _, xc = cross_correlation(real[1:, 1], fake[1:, 1], 20)
    assert df.loc["b", "xcorr_peak"] == pytest.approx(xc.max(-1).mean())
    real_acf = auto_correlation(real[1:, 1], 150)[1]
    fake_acf = auto_correlation(fake[1:, 1], 150)[1]
    assert df.loc["b", "acf_mae"] == pytest.approx(np.abs(real_acf - fake_acf).mean())
    fake[:, 1] = 0.5  # flat in every record: undefined, not 0
    df = correlation_report(real, fake, sfreq=100.0, lead_names=["a", "b"])
    assert df.loc["b"].isna().all() and df.loc["a"].notna().all()


def test_per_lead_table_refuses_nan_instead_of_dropping_the_record_from_pearson_r():
    """A NaN sample made that record's r NaN, which the lead's mean then skipped as if the
    lead were flat (while its mse turned NaN); the Fréchet column alone refused it."""
    rng = np.random.default_rng(6)
    real = rng.normal(size=(3, 2, 50))
    fake = real + 0.1
    fake[2, 1, 9] = np.nan
    with pytest.raises(ConfigError, match=r"^fake holds NaN or infinite values \(the first at "
                                          r"record 2, lead b, sample 9\)$"):
        per_lead_table(real, fake, lead_names=["a", "b"], frechet=False)
