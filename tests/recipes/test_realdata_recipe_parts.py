"""Parts of the real-data evidence recipes that need no data: PTB-XL lead features and bootstrap
CIs (recipes/ptbxl/cvd_cnn.py), EEGMAT artefact injection (recipes/eegmat/hveegnet.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from biosig.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def _recipe(rel: str):
    spec = importlib.util.spec_from_file_location(Path(rel).stem + "_recipe", REPO / rel)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def cvd():
    return _recipe("recipes/ptbxl/cvd_cnn.py")


@pytest.fixture(scope="module")
def hv():
    return _recipe("recipes/eegmat/hveegnet.py")


def test_lead_features_shape_and_scale(cvd):
    rng = np.random.default_rng(0)
    X = rng.normal(0, 1, (4, 12, 1000))
    X[1] *= 3.0
    F = cvd.lead_features(X, 100.0)
    assert F.shape == (4, 12 * 11) and np.isfinite(F).all()
    per_lead = F.reshape(4, 12, 11)
    np.testing.assert_allclose(per_lead[..., 0], X.std(-1), rtol=1e-9)  # standard deviation
    assert (per_lead[1, :, 0] > 2.5 * per_lead[0, :, 0]).all()
    assert (per_lead[1, :, 8:] > per_lead[0, :, 8:]).all()  # log band powers grow with scale


def test_bootstrap_ci_and_paired_difference(cvd):
    rng = np.random.default_rng(1)
    y = (rng.random((80, 3)) < 0.4).astype(int)
    good = y + rng.normal(0, 0.3, y.shape)      # informative scores
    noise = rng.random(y.shape)                 # chance scores
    stats = cvd.bootstrap(y, {"good": [good], "noise": [noise, rng.random(y.shape)]},
                          n_boot=200, reference="noise")
    auc, lo, hi, d, dlo, dhi = stats["good"]
    assert lo <= auc <= hi and auc > 0.9
    assert dlo > 0 and d > 0.3  # clearly better than chance, paired CI excludes 0
    assert stats["noise"][3:] == (0.0, 0.0, 0.0)  # the reference against itself
    n_lo, n_hi = stats["noise"][1:3]
    assert n_lo < 0.5 < n_hi


def test_bootstrap_without_draws_gives_the_point_estimates(cvd):
    """--n-boot 0 crashed (IndexError) after training; now: no confidence intervals."""
    rng = np.random.default_rng(1)
    y = (rng.random((40, 3)) < 0.4).astype(int)
    good, noise = y + rng.normal(0, 0.3, y.shape), rng.random(y.shape)
    stats = cvd.bootstrap(y, {"good": [good], "noise": [noise]}, n_boot=0, reference="noise")
    with_draws = cvd.bootstrap(y, {"good": [good], "noise": [noise]}, n_boot=20,
                               reference="noise")
    assert stats["good"][0] == with_draws["good"][0] and stats["good"][3] == with_draws["good"][3]
    assert np.isnan([stats["good"][i] for i in (1, 2, 4, 5)]).all()


def test_logistic_baseline_learns_a_feature(cvd):
    rng = np.random.default_rng(2)
    y = (rng.random((120, 2)) < 0.5).astype(int)
    X = rng.normal(0, 1, (120, 6))
    X[:, 0] += 2 * y[:, 0]
    X[:, 1] += 2 * y[:, 1]
    model, C, val = cvd.fit_logistic(X[:80], y[:80], X[80:], y[80:])
    assert val > 0.8 and C in (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
    assert cvd.predict_logistic(model, X[80:]).shape == (40, 2)


def test_injected_artifacts_have_the_stated_form(hv):
    rng = np.random.default_rng(3)
    sfreq, x = 128.0, rng.normal(0, 10, (4, 256)).astype(np.float32)
    dead = hv.inject_artifact(x, "dead", 0.5, sfreq, 2, rng)
    assert abs(dead[2].std() - 0.5) < 0.1 and np.array_equal(dead[[0, 1, 3]], x[[0, 1, 3]])
    pop = hv.inject_artifact(x, "pop", 150.0, sfreq, 1, rng) - x
    assert 140 < np.abs(pop[1]).max() <= 150.0 + 1e-3 and not pop[[0, 2, 3]].any()
    line = hv.inject_artifact(x, "line", 20.0, sfreq, 0, rng) - x
    spec = np.abs(np.fft.rfft(line[0]))
    assert np.fft.rfftfreq(256, 1 / sfreq)[spec.argmax()] == 50.0
    assert abs(line[0].std() - 20 / np.sqrt(2)) < 0.5
    assert not np.shares_memory(dead, x)


def test_injection_refuses_bad_input(hv):
    rng = np.random.default_rng(0)
    x = np.zeros((2, 100), np.float32)
    with pytest.raises(ConfigError, match="line noise needs sfreq > 100"):
        hv.inject_artifact(x, "line", 5.0, 64.0, 0, rng)
    with pytest.raises(ConfigError, match="artefact kind"):
        hv.inject_artifact(x, "spike", 5.0, 128.0, 0, rng)


def test_rank_auroc_equals_sklearn(cvd):
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(4)
    y = (rng.random((50, 4)) < 0.3).astype(int)
    prob = np.round(rng.random((50, 4)) + 0.3 * y, 1)  # rounded: many ties
    expected = np.mean([roc_auc_score(y[:, k], prob[:, k]) for k in range(4)])
    assert cvd.macro_auroc(y, prob) == pytest.approx(expected, abs=1e-12)
    with pytest.raises(ConfigError, match="positives and negatives"):
        cvd.macro_auroc(np.zeros((5, 1)), rng.random((5, 1)))


def test_hveegnet_refuses_line_noise_below_100_hz_before_training(hv):
    """--sfreq 96 trained the model, then stopped at screening on the line-noise artefacts."""
    args = hv.build_parser().parse_args(["--sfreq", "96"])
    with pytest.raises(ConfigError, match=r"--artifacts line_5uV line_20uV: 50-Hz line noise "
                                          r"needs --sfreq above 100 Hz, got 96"):
        hv.check_args(args)
    hv.check_args(hv.build_parser().parse_args(["--sfreq", "96", "--artifacts", "pop_50uV"]))


def test_hveegnet_names_its_n_folds_option_when_the_subjects_cannot_make_the_folds(hv):
    """Three participants with the default 4 folds stopped, after the window cache was built,
    on 'GroupKFold n_splits=4 ...': an argument the recipe has no option for."""
    with pytest.raises(ConfigError, match=r"^--n-folds 4: the 3 subjects \[0, 1, 2\] make at "
                                          r"most 3 subject-wise folds; these subjects fit "
                                          r"--n-folds 3, or give more --participants$"):
        hv.check_folds(4, [0, 1, 2])
    with pytest.raises(ConfigError, match=r"^--n-folds 2: fold 0 tests 2 of the 3 subjects .* "
                                          r"leaving 1 to train, and training needs 2"):
        hv.check_folds(2, [0, 1, 2])
    with pytest.raises(ConfigError, match=r"need at least 2 .* fit no --n-folds"):
        hv.check_folds(1, [0, 1])
    hv.check_folds(4, list(range(16)))  # the defaults on the shared subjects


def test_hveegnet_band_follows_the_command_line(hv, tmp_path, monkeypatch):
    """The band was fixed at 0.5-45 Hz: any --sfreq up to 90 Hz stopped on EEGMAT's Nyquist
    check with no option to lower it."""
    import biosig.datasets.eegmat as eegmat

    got = {}

    def opened(*args, **kwargs):
        got.update(kwargs)
        raise KeyboardInterrupt  # stop before any data is read

    monkeypatch.setattr(eegmat, "EEGMAT", opened)
    with pytest.raises(KeyboardInterrupt):
        hv.main(["--sfreq", "64", "--band", "0.5", "30", "--artifacts", "pop_50uV",
                 "--threads", "1", "--out", str(tmp_path), "--download"])
    assert (got["sfreq"], got["band"]) == (64.0, (0.5, 30.0))
    assert got["download"] is True  # the not-found message's advice works from this script too
