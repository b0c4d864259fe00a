"""Discrete Fréchet distance: exactness against brute force, units, pruning, known cases."""

from functools import lru_cache

import numpy as np
import pytest

from biosig.errors import ConfigError
from biosig.metrics.frechet import (
    discrete_frechet,
    frechet_distance_curve,
    frechet_feature_distance,
    frechet_per_lead,
    frechet_reference,
)


def _recursive_frechet(p, q):
    """Eiter & Mannila's original recursive formulation (memoised), for short curves only."""
    p = np.asarray(p, float)
    q = np.asarray(q, float)

    @lru_cache(maxsize=None)
    def c(i, j):
        d = float(np.linalg.norm(p[i] - q[j]))
        if i == 0 and j == 0:
            return d
        if i == 0:
            return max(c(0, j - 1), d)
        if j == 0:
            return max(c(i - 1, 0), d)
        return max(min(c(i - 1, j), c(i - 1, j - 1), c(i, j - 1)), d)

    return c(len(p) - 1, len(q) - 1)


def _curve(a, sfreq):
    return np.c_[np.arange(len(a)) / sfreq, a]


@pytest.mark.parametrize("seed", range(6))
def test_matches_brute_force_random(seed):
    rng = np.random.default_rng(seed)
    for _ in range(8):
        n, m = rng.integers(1, 30, size=2)
        a, b = rng.normal(size=n), rng.normal(size=m) * rng.uniform(0.1, 3)
        sfreq = float(rng.choice([1.0, 7.0, 100.0, 500.0]))
        ref = _recursive_frechet(_curve(a, sfreq), _curve(b, sfreq))
        assert frechet_reference(_curve(a, sfreq), _curve(b, sfreq)) == pytest.approx(
            ref, abs=1e-12
        )
        for prune in (True, False):
            got = frechet_distance_curve(a, b, sfreq=sfreq, prune=prune, dtype=np.float64)
            assert got == pytest.approx(ref, rel=1e-12, abs=1e-12)
        got32 = frechet_distance_curve(a, b, sfreq=sfreq)
        assert got32 == pytest.approx(ref, rel=1e-5, abs=1e-6)
        assert discrete_frechet(_curve(a, sfreq), _curve(b, sfreq)) == pytest.approx(ref, abs=1e-12)


def test_generic_curves_2d_3d():
    rng = np.random.default_rng(1)
    for d in (1, 2, 3):
        p, q = rng.normal(size=(17, d)), rng.normal(size=(11, d))
        assert discrete_frechet(p, q) == pytest.approx(_recursive_frechet(p, q), abs=1e-12)


def test_batch_and_pruning_identical_on_longer_curves():
    rng = np.random.default_rng(2)
    real = np.cumsum(rng.normal(size=(3, 2, 400)), axis=-1) * 0.02
    fake = real + rng.normal(size=real.shape) * 0.05
    a = frechet_distance_curve(real, fake, sfreq=100, prune=True, dtype=np.float64)
    b = frechet_distance_curve(real, fake, sfreq=100, prune=False, dtype=np.float64)
    assert a.shape == (3, 2)
    np.testing.assert_allclose(a, b, rtol=0, atol=0)
    ref = frechet_reference(_curve(real[1, 0], 100), _curve(fake[1, 0], 100))
    assert a[1, 0] == pytest.approx(ref, abs=1e-12)


def test_identical_curves_zero():
    x = np.sin(np.linspace(0, 20, 1000))
    assert frechet_distance_curve(x, x.copy(), sfreq=500) == 0.0
    assert frechet_distance_curve(x, x, sfreq=500, time_unit="samples", amplitude_unit="uV") == 0.0


def test_shifted_constant_curves():
    # two flat lines c1, c2: the identity coupling is optimal, FD = |c1 - c2| in amplitude units
    a = np.full(200, 0.25)
    b = np.full(200, -0.15)
    assert frechet_distance_curve(a, b, sfreq=500) == pytest.approx(0.4, rel=1e-6)
    assert frechet_distance_curve(a, b, sfreq=500, amplitude_unit="uV") == pytest.approx(
        400, rel=1e-6
    )
    # uV input expressed in mV curves
    assert frechet_distance_curve(a * 1e3, b * 1e3, sfreq=500, signal_unit="uV") == pytest.approx(
        0.4, rel=1e-6
    )
    # different lengths: the last points must be coupled, 50 samples (0.1 s) apart in time
    c = np.full(150, -0.15)
    exp = np.hypot(0.4, 50 / 500)
    assert frechet_distance_curve(a, c, sfreq=500, dtype=np.float64) == pytest.approx(
        exp, rel=1e-12
    )


def _spike_train(delay_s=0.0, sfreq=100.0, dur=2.0):
    t = np.arange(int(dur * sfreq)) / sfreq
    x = np.zeros_like(t)
    for c in (0.3, 0.9, 1.5):
        x += np.exp(-(((t - c - delay_s) / 0.02) ** 2))
    return x


def test_reference_sheet_delayed_spike_table():
    """ecgnet.md §1.4: 2-s spike train at 100 Hz, second curve delayed 30 ms."""
    real, fake = _spike_train(), _spike_train(0.03)
    linf = np.max(np.abs(real - fake))
    assert linf == pytest.approx(0.895, abs=5e-4)  # max abs diff (L∞), a.u.
    # (t in s, a.u.): the delay itself
    fd = frechet_distance_curve(real, fake, sfreq=100, time_unit="s", dtype=np.float64)
    assert fd == pytest.approx(0.030, abs=1e-9)
    # (t in samples, a.u.): any non-identity coupling costs >= 1 sample > L∞, so FD = L∞
    fd = frechet_distance_curve(real, fake, sfreq=100, time_unit="samples", dtype=np.float64)
    assert fd == pytest.approx(linf, abs=1e-12)
    assert round(fd, 3) == 0.895
    # (t in samples, µV): the 3-sample delay
    fd = frechet_distance_curve(real, fake, sfreq=100, time_unit="samples", amplitude_unit="uV")
    assert fd == pytest.approx(3.0, abs=1e-5)
    assert round(linf * 1e3, 1) == 894.6
    # ms: a 10-ms step costs more than L∞ again, so FD = L∞; in (ms, µV) it is the 30-ms delay
    fd = frechet_distance_curve(real, fake, sfreq=100, time_unit="ms", dtype=np.float64)
    assert fd == pytest.approx(linf, abs=1e-12)
    fd = frechet_distance_curve(
        real, fake, sfreq=100, time_unit="ms", amplitude_unit="uV", dtype=np.float64
    )
    assert fd == pytest.approx(30.0, abs=1e-9)


def test_band_is_upper_bound_and_validation():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=60), rng.normal(size=60)
    exact = frechet_distance_curve(a, b, sfreq=1, time_unit="samples", dtype=np.float64)
    for band in (0, 1, 3, 10):
        banded = frechet_distance_curve(
            a, b, sfreq=1, time_unit="samples", band=band, dtype=np.float64
        )
        assert banded >= exact - 1e-12
    assert frechet_distance_curve(a, b, sfreq=1, time_unit="samples", band=0) == pytest.approx(
        np.max(np.abs(a - b)), rel=1e-6
    )
    with pytest.raises(ConfigError):
        frechet_distance_curve(a, b, sfreq=100, time_unit="min")
    with pytest.raises(ConfigError):
        frechet_distance_curve(a, b, sfreq=100, amplitude_unit="nV")
    with pytest.raises(ConfigError):
        frechet_distance_curve(a, b, sfreq=0)
    with pytest.raises(ConfigError):
        frechet_distance_curve(np.r_[a, np.nan], b, sfreq=100)
    with pytest.raises(ConfigError):
        frechet_distance_curve(np.zeros((2, 5)), np.zeros((3, 5)), sfreq=100)


def test_per_lead_table():
    rng = np.random.default_rng(4)
    real = rng.normal(size=(5, 12, 50)) * 0.1
    fake = real + 0.01 * rng.normal(size=real.shape)
    fake[:, 6] += 0.5  # V1 offset by 0.5 mV
    df = frechet_per_lead(real, fake, sfreq=100, leads=["V1", "V2", "V3", "V4", "V5", "V6"])
    assert list(df.index) == ["V1", "V2", "V3", "V4", "V5", "V6"]
    assert df.loc["V1", "fd_mean"] > 0.45
    assert (df.loc["V2":, "fd_mean"] < 0.06).all()
    per = frechet_distance_curve(real[:, 7], fake[:, 7], sfreq=100)
    assert df.loc["V2", "fd_mean"] == pytest.approx(per.mean(), rel=1e-6)
    assert df.loc["V2", "fd_sd"] == pytest.approx(per.std(ddof=1), rel=1e-5)


def test_per_lead_matches_lead_names_like_generate():
    """leads=["AVR"] or ["v1"] was refused, while ECGNet.generate(lead="avr") and
    evaluation_report accept any case."""
    rng = np.random.default_rng(4)
    real = rng.normal(size=(3, 12, 30)) * 0.1
    fake = real + 0.01 * rng.normal(size=real.shape)
    ref = frechet_per_lead(real, fake, sfreq=100, leads=["aVR", "V1", "II"])
    df = frechet_per_lead(real, fake, sfreq=100, leads=["AVR", " v1", "MLII"])
    assert list(df.index) == ["aVR", "V1", "II"]  # the array's own names
    np.testing.assert_array_equal(df.to_numpy(), ref.to_numpy())
    upper = ["I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    assert list(frechet_per_lead(real, fake, sfreq=100, lead_names=upper, leads=["aVR"]).index) \
        == ["AVR"]  # PTB-XL's WFDB spelling in lead_names
    with pytest.raises(ConfigError, match=r"lead 'V7' not in \["):
        frechet_per_lead(real, fake, sfreq=100, leads=["V7"])
    other = frechet_per_lead(real[:, :2], fake[:, :2], sfreq=100, lead_names=["ecg a", "ecg b"],
                             leads=["ecg b"])  # names that are no standard lead: as given
    assert list(other.index) == ["ecg b"]


def test_feature_distance_is_distribution_level():
    rng = np.random.default_rng(5)
    a = rng.normal(size=(4000, 3))
    b = rng.normal(size=(4000, 3)) + np.array([1.0, 0, 0])
    assert frechet_feature_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet_feature_distance(a, b) == pytest.approx(1.0, abs=0.1)


def test_the_sd_over_one_record_is_undefined_not_zero():
    """One record gave fd_sd = 0, which a table prints as "4.73 ± 0.00" (no spread)."""
    from biosig.metrics.signal import per_lead_table

    rng = np.random.default_rng(6)
    real = rng.normal(size=(1, 2, 40)) * 0.1
    fake = real + 0.05 * rng.normal(size=real.shape)
    df = frechet_per_lead(real, fake, sfreq=100, lead_names=["a", "b"])
    assert df["fd_sd"].isna().all() and (df["fd_mean"] > 0).all() and (df["n"] == 1).all()
    assert per_lead_table(real, fake, lead_names=["a", "b"], sfreq=100)["fd_sd"].isna().all()


def test_discrete_frechet_refuses_nan_like_the_curve_distance():
    with pytest.raises(ConfigError, match="q holds NaN or infinite values"):
        discrete_frechet(np.zeros((3, 2)), np.array([[0.0, 1.0], [np.nan, 0.0]]))


def test_feature_distance_equals_the_closed_form_with_correlated_features():
    """d² = |mu1 - mu2|² + Tr(S1 + S2 - 2 (S1 S2)^½), covariances with ddof 1, here with the
    trace of the root from the symmetric form S1^½ S2 S1^½ (no scipy.linalg.sqrtm)."""
    rng = np.random.default_rng(8)
    a = rng.normal(size=(40, 4)) @ rng.normal(size=(4, 4))
    b = rng.normal(size=(25, 4)) @ rng.normal(size=(4, 4)) + 0.5
    s1, s2 = np.cov(a, rowvar=False, ddof=1), np.cov(b, rowvar=False, ddof=1)
    w, v = np.linalg.eigh(s1)
    root1 = (v * np.sqrt(w)) @ v.T
    tr_root = np.sqrt(np.clip(np.linalg.eigvalsh(root1 @ s2 @ root1), 0, None)).sum()
    expected = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(s1 + s2) - 2 * tr_root
    assert frechet_feature_distance(a, b) == pytest.approx(expected, rel=1e-9)


def test_feature_distance_is_never_negative_and_says_when_samples_are_too_few():
    """Equal sets gave -8.6e-15 (rounding); 5 samples of 8 features (singular covariances) gave
    a number without a word; NaN features gave NaN."""
    rng = np.random.default_rng(9)
    a = rng.normal(size=(200, 12)) @ rng.normal(size=(12, 12))
    assert frechet_feature_distance(a, a.copy()) >= 0.0
    with pytest.warns(RuntimeWarning, match="5 samples for 8 features: the covariances are "
                                            "singular"):
        frechet_feature_distance(rng.normal(size=(5, 8)), rng.normal(size=(30, 8)))
    bad = a.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ConfigError, match="features hold NaN or infinite values"):
        frechet_feature_distance(a, bad)
