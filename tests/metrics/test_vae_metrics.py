"""Reconstruction metrics: MSE, per-channel correlation, band powers, DTW, report."""

from __future__ import annotations

import numpy as np
import pytest

from biosig.errors import ConfigError
from biosig.metrics.reconstruction import (
    EEG_BANDS,
    band_power_error,
    band_powers,
    channel_correlation,
    dtw_error,
    mse,
    reconstruction_report,
)


def _sines(freqs, sfreq=250.0, n=500, amp=1.0):
    t = np.arange(n) / sfreq
    return np.stack([[amp * np.sin(2 * np.pi * f * t) for f in freqs]])


def test_band_powers_locate_a_sine():
    x = _sines([2.0, 6.0, 10.0, 20.0, 40.0], amp=2.0)
    p = band_powers(x, 250.0)
    assert p.shape == (1, 5, 5)
    # each channel's power sits in its own band and equals amp^2 / 2
    np.testing.assert_array_equal(p[0].argmax(1), np.arange(5))
    np.testing.assert_allclose(p[0].max(1), 2.0, rtol=0.1)


def test_band_power_error_and_correlation():
    x = _sines([10.0, 20.0])
    err, names = band_power_error(x, 0.5 * x, 250.0)
    assert names == list(EEG_BANDS)
    np.testing.assert_allclose(err[0, 0, names.index("alpha")], 0.75, rtol=1e-6)  # 1 - 0.5^2
    np.testing.assert_allclose(channel_correlation(x, 0.5 * x), 1.0)
    np.testing.assert_allclose(channel_correlation(x, -x), -1.0)
    assert np.isnan(channel_correlation(x, np.zeros_like(x))).all()
    np.testing.assert_allclose(mse(x, x), 0.0)
    with pytest.raises(ConfigError, match="no frequency bin"):
        band_powers(x, 250.0, bands={"slow": (0.01, 0.1)})
    with pytest.raises(ConfigError, match="shapes differ"):
        mse(x, x[:, :1])


def test_dtw_error_and_report():
    x = _sines([5.0, 7.0], n=200)
    shifted = np.roll(x, 2, axis=-1)
    d = dtw_error(x, shifted)
    assert d.shape == (1, 2)
    assert (d < 0.2 * ((x - shifted) ** 2).sum(-1)).all()
    s = dtw_error(x, shifted, gamma=1.0)
    assert (s <= d + 1e-9).all()  # soft-DTW is below the hard minimum
    rep = reconstruction_report(x, shifted, 250.0)
    assert {"dtw", "mse", "corr", "bp_err_delta", "bp_err_gamma"} <= set(rep)
    assert rep["corr"] > 0.9


def test_the_nyquist_bin_is_counted_in_one_band_only():
    """At 60 Hz beta (13-30 Hz) ends at Nyquist and gamma starts there: the 30 Hz bin was
    counted in both (upper edges are exclusive; only a band reaching beyond Nyquist keeps it)."""
    from scipy.signal import welch

    x = np.random.default_rng(0).normal(size=(1, 1, 600))
    p = band_powers(x, 60.0)[0, 0]
    f, psd = welch(x[0, 0], fs=60.0, nperseg=60)
    df = f[1] - f[0]
    names = list(EEG_BANDS)
    assert p[names.index("beta")] == pytest.approx(psd[(f >= 13) & (f < 30)].sum() * df)
    assert p[names.index("gamma")] == pytest.approx(psd[f == 30].sum() * df)
    assert p.sum() == pytest.approx(psd[f >= 0.5].sum() * df)


def test_half_precision_tensors_are_computed_in_float64():
    """band_powers skipped for a tensor the float64 cast that arrays get (float16: errors of
    1e-4); a bfloat16 tensor was a TypeError in every reconstruction metric."""
    import torch

    x = np.random.default_rng(1).normal(size=(1, 2, 500)).astype(np.float16)
    expected = band_powers(x.astype(np.float64), 250.0)
    got = band_powers(torch.from_numpy(x), 250.0)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    bf16 = torch.from_numpy(x).to(torch.bfloat16)  # numpy has no bfloat16: was a TypeError
    np.testing.assert_allclose(mse(bf16, bf16.float()), 0.0)


def test_reconstruction_report_refuses_nan_instead_of_dropping_it_from_corr():
    x = _sines([5.0, 7.0], n=200)
    x_hat = 0.9 * x
    x_hat[0, 1, 3] = np.nan  # its r was NaN, and the mean over channels skipped it
    with pytest.raises(ConfigError, match=r"^x_hat holds NaN or infinite values \(the first at "
                                          r"index \(0, 1, 3\)\)$"):
        reconstruction_report(x, x_hat, 250.0, with_dtw=False)
