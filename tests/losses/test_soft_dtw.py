"""Soft-DTW: values and gradients against naive references, gradcheck, limits, API."""

from __future__ import annotations

import math

import pytest
import torch

from biosig.errors import ConfigError
from biosig.losses import SoftDTWLoss, dtw, soft_dtw, soft_dtw_divergence


def _naive_soft_dtw(x: torch.Tensor, y: torch.Tensor, gamma: float) -> torch.Tensor:
    """Cell-by-cell recursion with autograd (reference only; O(N M) Python steps)."""
    n, m = len(x), len(y)
    inf = torch.tensor(math.inf, dtype=x.dtype)
    R = [[inf] * (m + 1) for _ in range(n + 1)]
    R[0][0] = torch.tensor(0.0, dtype=x.dtype)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            r = torch.stack([R[i - 1][j - 1], R[i - 1][j], R[i][j - 1]])
            R[i][j] = (x[i - 1] - y[j - 1]) ** 2 - gamma * torch.logsumexp(-r / gamma, 0)
    return R[n][m]


def _naive_dtw(x, y) -> float:
    n, m = len(x), len(y)
    R = [[math.inf] * (m + 1) for _ in range(n + 1)]
    R[0][0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            R[i][j] = (float(x[i - 1]) - float(y[j - 1])) ** 2 + min(
                R[i - 1][j - 1], R[i - 1][j], R[i][j - 1])
    return R[n][m]


@pytest.mark.parametrize("n,m", [(7, 7), (6, 9), (9, 4), (1, 5), (1, 1)])
def test_value_and_grad_match_naive(n, m):
    g = torch.Generator().manual_seed(n * 10 + m)
    x = torch.randn(2, 3, n, dtype=torch.float64, generator=g, requires_grad=True)
    y = torch.randn(2, 3, m, dtype=torch.float64, generator=g, requires_grad=True)
    gamma = 0.7
    v = soft_dtw(x, y, gamma)
    assert v.shape == (2, 3)
    ref = torch.stack([_naive_soft_dtw(x[b, c], y[b, c], gamma)
                       for b in range(2) for c in range(3)]).reshape(2, 3)
    torch.testing.assert_close(v, ref, rtol=1e-10, atol=1e-10)
    w = torch.randn(2, 3, dtype=torch.float64, generator=g)
    gx, gy = torch.autograd.grad((v * w).sum(), (x, y))
    rx, ry = torch.autograd.grad((ref * w).sum(), (x, y))
    torch.testing.assert_close(gx, rx, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(gy, ry, rtol=1e-9, atol=1e-10)


def test_gradcheck_double():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 2, 6, dtype=torch.float64, generator=g, requires_grad=True)
    y = torch.randn(2, 2, 5, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: soft_dtw(a, b, 0.5), (x, y))
    assert torch.autograd.gradcheck(lambda a, b: soft_dtw_divergence(a, b, 1.3), (x, y))


@pytest.mark.slow  # tslearn's numba JIT compilation takes ~20 s
def test_matches_tslearn_value():
    from tslearn.metrics import soft_dtw as ts_soft_dtw

    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 12, dtype=torch.float64, generator=g)
    y = torch.randn(4, 9, dtype=torch.float64, generator=g)
    ours = soft_dtw(x, y, 0.3)
    theirs = [ts_soft_dtw(x[i].numpy()[:, None], y[i].numpy()[:, None], gamma=0.3)
              for i in range(4)]
    torch.testing.assert_close(ours, torch.tensor(theirs, dtype=torch.float64))


def test_hard_dtw_and_gamma_to_zero():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, 10, dtype=torch.float64, generator=g)
    y = torch.randn(3, 8, dtype=torch.float64, generator=g)
    hard = dtw(x, y)
    ref = torch.tensor([_naive_dtw(x[i], y[i]) for i in range(3)], dtype=torch.float64)
    torch.testing.assert_close(hard, ref)
    # soft-DTW is a lower bound that tightens monotonically as gamma -> 0
    errs = [float((hard - soft_dtw(x, y, gm)).abs().max()) for gm in (1.0, 0.1, 0.01, 1e-3)]
    assert all(a > b for a, b in zip(errs, errs[1:]))
    assert errs[-1] < 0.05
    assert (soft_dtw(x, y, 0.1) <= hard + 1e-12).all()


def test_identical_and_shifted_sequences():
    t = torch.linspace(0, 1, 60, dtype=torch.float64)
    x = torch.sin(2 * math.pi * 3 * t)
    y = torch.sin(2 * math.pi * 3 * (t - 0.02))  # small time shift
    assert float(dtw(x, x)) == 0.0
    # DTW tolerates the shift far better than the Euclidean distance
    assert float(dtw(x, y)) < 0.2 * float(((x - y) ** 2).sum())


def test_divergence_properties():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 3, 20, dtype=torch.float64, generator=g)
    y = torch.randn(2, 3, 20, dtype=torch.float64, generator=g)
    div = soft_dtw_divergence(x, y, 1.0)
    expected = soft_dtw(x, y) - 0.5 * (soft_dtw(x, x) + soft_dtw(y, y))
    torch.testing.assert_close(div, expected)
    assert (div > 0).all()
    torch.testing.assert_close(soft_dtw_divergence(x, x), torch.zeros(2, 3, dtype=torch.float64))
    # unequal lengths go through the three-call path
    z = torch.randn(2, 3, 15, dtype=torch.float64, generator=g)
    torch.testing.assert_close(
        soft_dtw_divergence(x, z), soft_dtw(x, z) - 0.5 * (soft_dtw(x, x) + soft_dtw(z, z)))


def test_float32_matches_float64_and_keeps_dtype():
    g = torch.Generator().manual_seed(4)
    x = torch.randn(3, 2, 40, generator=g, requires_grad=True)
    y = torch.randn(3, 2, 40, generator=g)
    v32 = soft_dtw(x, y)
    assert v32.dtype == torch.float32
    v32.sum().backward()
    x64 = x.detach().double().requires_grad_()
    v64 = soft_dtw(x64, y.double())
    v64.sum().backward()
    torch.testing.assert_close(v32.double(), v64, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(x.grad.double(), x64.grad, rtol=1e-4, atol=1e-4)


def test_repeated_backward_with_retain_graph():
    x = torch.randn(2, 8, dtype=torch.float64, requires_grad=True)
    y = torch.randn(2, 8, dtype=torch.float64)
    v = soft_dtw(x, y).sum()
    (g1,) = torch.autograd.grad(v, x, retain_graph=True)
    (g2,) = torch.autograd.grad(v, x)
    torch.testing.assert_close(g1, g2)


def test_loss_module_reductions():
    g = torch.Generator().manual_seed(5)
    x_hat = torch.randn(4, 3, 16, generator=g, requires_grad=True)
    x = torch.randn(4, 3, 16, generator=g)
    per = soft_dtw(x_hat, x, 1.0)
    torch.testing.assert_close(SoftDTWLoss()(x_hat, x), per.mean(0).sum())  # hvEEGNet
    torch.testing.assert_close(SoftDTWLoss(reduction="mean")(x_hat, x), per.mean())
    torch.testing.assert_close(SoftDTWLoss(reduction="sum")(x_hat, x), per.sum())
    torch.testing.assert_close(SoftDTWLoss(reduction="none")(x_hat, x), per)
    div = SoftDTWLoss(normalize=True, reduction="none")(x_hat, x)
    torch.testing.assert_close(div, soft_dtw_divergence(x_hat, x))
    SoftDTWLoss()(x_hat, x).backward()
    assert torch.isfinite(x_hat.grad).all() and x_hat.grad.abs().sum() > 0


def test_bad_inputs():
    x = torch.randn(2, 3, 10)
    with pytest.raises(ConfigError, match="gamma"):
        soft_dtw(x, x, gamma=0.0)
    with pytest.raises(ConfigError, match="gamma"):
        SoftDTWLoss(gamma=-1.0)
    with pytest.raises(ConfigError, match="reduction"):
        SoftDTWLoss(reduction="avg")
    with pytest.raises(ValueError, match="leading dimensions"):
        soft_dtw(x, torch.randn(2, 4, 10))
    with pytest.raises(TypeError, match="floating"):
        soft_dtw(torch.ones(2, 3, dtype=torch.long), torch.ones(2, 3, dtype=torch.long))


def test_value_only_path_matches_autograd_path():
    g = torch.Generator().manual_seed(6)
    x = torch.randn(3, 2, 11, dtype=torch.float64, generator=g)
    y = torch.randn(3, 2, 8, dtype=torch.float64, generator=g)
    with torch.no_grad():
        v_nograd = soft_dtw(x, y, 0.4)
    v_grad = soft_dtw(x.clone().requires_grad_(), y, 0.4)
    torch.testing.assert_close(v_nograd, v_grad.detach(), rtol=1e-12, atol=1e-12)
    ref = torch.stack([_naive_soft_dtw(x[b, c], y[b, c], 0.4)
                       for b in range(3) for c in range(2)]).reshape(3, 2)
    torch.testing.assert_close(v_nograd, ref.detach())
