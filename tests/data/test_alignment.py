"""Euclidean alignment: identity mean covariance, online without look-ahead, torch/numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.linalg import fractional_matrix_power

from biosig.data.alignment import (
    EuclideanAlignment,
    OnlineEuclideanAlignment,
    inv_sqrtm,
    split_whiteners,
    trial_covariances,
)
from biosig.errors import BiosigError, ConfigError


def _trials(n=12, c=5, t=200, seed=0):
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(c, c)) + 3 * np.eye(c)
    return np.einsum("cd,ndt->nct", mix, rng.normal(size=(n, c, t))) * 10.0  # µV-ish scale


@pytest.mark.parametrize("estimator", ["cov", "scm"])
def test_offline_mean_covariance_is_identity(estimator):
    x = _trials()
    xa = EuclideanAlignment(estimator).fit_transform(x)
    assert xa.dtype == np.float32 and xa.shape == x.shape
    mean_cov = trial_covariances(xa, estimator).mean(0)
    np.testing.assert_allclose(mean_cov, np.eye(5), atol=1e-4)


def test_matches_fractional_matrix_power_and_numpy_cov():
    x = _trials(n=6)
    ref = np.mean([np.cov(xi) for xi in x], axis=0)
    np.testing.assert_allclose(trial_covariances(x).mean(0), ref, rtol=1e-10)
    np.testing.assert_allclose(
        inv_sqrtm(ref), np.real(fractional_matrix_power(ref, -0.5)), rtol=1e-7, atol=1e-12
    )


def test_torch_in_torch_out():
    x = _trials()
    ea = EuclideanAlignment().fit(x)
    out = ea.transform(torch.from_numpy(x).double())
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), ea.transform(x), rtol=1e-6)
    single = ea.transform(x[0])
    assert single.shape == x[0].shape


def test_online_running_reference_convention():
    x = _trials(n=8)
    online = OnlineEuclideanAlignment()
    out = online.transform_sequence(x)
    for i in range(len(x)):  # trial i aligned with mean cov of trials 0..i (itself included)
        expected = EuclideanAlignment().fit(x[: i + 1]).transform(x[i : i + 1])[0]
        np.testing.assert_allclose(out[i], expected, rtol=1e-4, atol=1e-5)
    assert online.n_seen == 8
    # update() one by one == transform_sequence
    stream = OnlineEuclideanAlignment()
    np.testing.assert_allclose(np.stack([stream.update(t) for t in x]), out, rtol=1e-6)
    # After all trials, the reference is the offline one.
    np.testing.assert_allclose(
        online.reference_, EuclideanAlignment().fit(x).reference_, rtol=1e-10
    )


def test_online_never_uses_future_trials():
    x = _trials(n=10)
    y = x.copy()
    y[6:] = np.random.default_rng(1).normal(size=y[6:].shape) * 1000  # perturb the future
    a = OnlineEuclideanAlignment().transform_sequence(x)
    b = OnlineEuclideanAlignment().transform_sequence(y)
    np.testing.assert_array_equal(a[:6], b[:6])
    assert not np.allclose(a[6:], b[6:])


def test_online_prior_and_reset():
    x = _trials(n=4)
    prior = trial_covariances(_trials(seed=3)).mean(0)
    o = OnlineEuclideanAlignment(prior=prior, prior_weight=4)
    first = o.update(x[0])
    expected = inv_sqrtm((4 * prior + trial_covariances(x[:1])[0]) / 5) @ x[0]
    np.testing.assert_allclose(first, expected, rtol=1e-5)
    o.reset()
    assert o.n_seen == 0
    with pytest.raises(ConfigError):
        OnlineEuclideanAlignment(prior=prior)


def test_split_whiteners_whiten_each_training_subject_by_itself():
    x = np.concatenate([_trials(seed=1), _trials(seed=2) * 5])
    groups = np.repeat(["a", "b"], 12)
    w = split_whiteners(x, groups, {"train": np.arange(24), "test": np.zeros(0, int)})
    xa = np.einsum("ncd,ndt->nct", w["train"], x)
    for g in "ab":
        np.testing.assert_allclose(trial_covariances(xa[groups == g]).mean(0), np.eye(5), atol=1e-4)
        np.testing.assert_allclose(
            xa[groups == g],
            EuclideanAlignment().fit_transform(x[groups == g]),
            rtol=1e-4,
            atol=1e-4,
        )
    with pytest.raises(ConfigError, match="one entry per window"):
        split_whiteners(x, groups[:-1], {"train": np.arange(23), "test": np.zeros(0, int)})


def test_errors():
    with pytest.raises(BiosigError, match="before fit"):
        EuclideanAlignment().transform(_trials())
    with pytest.raises(BiosigError, match="NaN"):
        bad = _trials()
        bad[0, 0, 0] = np.nan
        EuclideanAlignment().fit(bad)
    rank_def = _trials(n=3)
    rank_def[:, -1] = rank_def[:, :-1].sum(1)  # linearly dependent channel
    with pytest.raises(BiosigError, match="singular"):
        EuclideanAlignment().fit(rank_def)
    EuclideanAlignment(shrinkage=0.01).fit(rank_def)  # shrinkage makes it invertible
    with pytest.raises(ConfigError):
        EuclideanAlignment(estimator="oas")
    with pytest.raises(ConfigError):
        EuclideanAlignment(shrinkage=1.5)
    ea = EuclideanAlignment().fit(_trials())
    with pytest.raises(BiosigError, match="channels"):
        ea.transform(_trials(c=4))


def test_a_singular_reference_names_the_subject_and_the_windows():
    """On real EEGMAT windows band-passed 8-32 Hz (rank one short), `biosig fit` stopped with
    "alignment reference is singular" and no word of whose reference it was."""
    x = _trials(n=12)
    subjects = np.repeat(["a", "b"], 6)
    x[6:, -1] = x[6:, :-1].sum(1)  # subject b: a linearly dependent channel
    for splits, where in [
        ({"train": np.arange(12), "test": np.zeros(0, int)}, r"subject b's 6 training windows"),
        ({"train": np.arange(6), "test": np.arange(6, 12)},
         r"subject b's 6 held-out windows in chronological order \(test_alignment 'online'\): "
         r"the online reference of trials 0\.\.0 \(trial 0 in order\)"),
    ]:
        with pytest.raises(BiosigError, match=rf"^{where}: alignment reference is singular"):
            split_whiteners(x, subjects, splits)
    w = split_whiteners(x, subjects, {"train": np.arange(6), "test": np.arange(6, 12)},
                        shrinkage=0.01)
    assert w["test"].shape == (6, x.shape[1], x.shape[1])
