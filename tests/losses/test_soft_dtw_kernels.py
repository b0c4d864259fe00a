"""Soft-DTW fused kernels against the pure-PyTorch wavefront (the reference)."""

from __future__ import annotations

import math

import pytest
import torch

from biosig.errors import ConfigError
from biosig.losses import _soft_dtw_cpu, dtw, soft_dtw, soft_dtw_divergence

needs_cxx = pytest.mark.skipif(_soft_dtw_cpu.compiler() is None, reason="no C++ compiler")


def _pair(lead, n, m, dtype, seed, scale=10.0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(*lead, n, generator=g) * scale).to(dtype).requires_grad_()
    y = (torch.randn(*lead, m, generator=g) * scale).to(dtype).requires_grad_()
    return x, y


@needs_cxx
# float32: both paths differ from float64 by ~2e-4 of the largest gradient (conditioning)
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-11), (torch.float32, 5e-4)])
@pytest.mark.parametrize("lead,n,m", [((3, 25), 17, 11), ((2,), 1, 6), ((70,), 9, 9)])
@pytest.mark.parametrize("threads", [1, 2])
def test_cpu_kernel_matches_torch(dtype, tol, lead, n, m, threads):
    prev = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        x, y = _pair(lead, n, m, dtype, seed=n + m)
        w = torch.rand(lead, dtype=dtype)
        res = {}
        for b in ("cpu_kernel", "torch"):
            v = soft_dtw(x, y, 0.7, backend=b)
            res[b] = (v, *torch.autograd.grad((v * w).sum(), (x, y)))
            with torch.no_grad():
                res[b] += (soft_dtw(x, y, 0.7, backend=b), dtw(x, y, backend=b))
    finally:
        torch.set_num_threads(prev)
    for a, r in zip(res["cpu_kernel"], res["torch"]):
        assert a.dtype == r.dtype and a.shape == r.shape
        torch.testing.assert_close(a, r, rtol=tol, atol=tol * r.abs().max().item())


@needs_cxx
def test_cpu_kernel_large_costs_and_divergence():
    # µV-sized inputs: exponent arguments far below -87, where the clamp matters for speed
    x, y = _pair((4, 3), 40, 40, torch.float32, seed=3, scale=80.0)
    v1 = soft_dtw_divergence(x, y, 1.0, backend="cpu_kernel")
    g1 = torch.autograd.grad(v1.sum(), x)[0]
    v2 = soft_dtw_divergence(x, y, 1.0, backend="torch")
    g2 = torch.autograd.grad(v2.sum(), x)[0]
    torch.testing.assert_close(v1, v2, rtol=1e-5, atol=1e-2)
    torch.testing.assert_close(g1, g2, rtol=1e-4, atol=1e-3)
    assert torch.isfinite(g1).all()


@needs_cxx
def test_cpu_kernel_gradcheck():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 6, dtype=torch.float64, generator=g, requires_grad=True)
    y = torch.randn(3, 5, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: soft_dtw(a, b, 0.5, "cpu_kernel"), (x, y))


def test_non_finite_inputs_propagate_like_the_reference():
    x, y = _pair((2,), 5, 5, torch.float32, seed=1)
    x = x.detach().clone()
    x[0, 2] = math.nan
    v = soft_dtw(x, y.detach(), 1.0)
    assert math.isnan(v[0]) and math.isfinite(v[1])
    torch.testing.assert_close(v, soft_dtw(x, y.detach(), 1.0, backend="torch"), equal_nan=True)


def test_missing_compiler_warns_and_falls_back(monkeypatch):
    monkeypatch.setenv("CXX", "/nonexistent/g++")
    _soft_dtw_cpu._reset()
    try:
        x, y = _pair((2,), 6, 4, torch.float64, seed=2)
        with pytest.warns(UserWarning, match="no C\\+\\+ compiler"):
            v = soft_dtw(x, y, 1.0)
        torch.testing.assert_close(v, soft_dtw(x, y, 1.0, backend="torch"))
        with pytest.raises(ConfigError, match="needs a C\\+\\+ compiler"):
            soft_dtw(x, y, 1.0, backend="cpu_kernel")
    finally:
        _soft_dtw_cpu._reset()


def test_backend_errors():
    x, y = _pair((2,), 4, 4, torch.float32, seed=0)
    with pytest.raises(ConfigError, match="backend must be one of"):
        soft_dtw(x, y, backend="numba")
    with pytest.raises(ConfigError, match="does not run on cpu"):
        soft_dtw(x, y, backend="triton")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA only (never run on CPU CI)")
# against float64 on the CPU; float32 at the CPU kernel's tolerance (conditioning, see above):
# on an H200 the Triton kernel's float32 gradients were 1.6e-4 of the largest one from the
# CPU's float32 PyTorch path, which is itself 2e-4 from float64
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-9), (torch.float32, 5e-4)])
def test_triton_matches_cpu(dtype, tol):
    from biosig.losses import _soft_dtw_triton

    if not _soft_dtw_triton.available():
        pytest.skip("triton not installed")
    x, y = _pair((5, 7), 33, 29, dtype, seed=4)
    xc, yc = x.detach().cuda().requires_grad_(), y.detach().cuda().requires_grad_()
    v = soft_dtw(xc, yc, 0.9, backend="triton")
    gx, gy = torch.autograd.grad(v.sum(), (xc, yc))
    x64, y64 = x.detach().double().requires_grad_(), y.detach().double().requires_grad_()
    r = soft_dtw(x64, y64, 0.9, backend="torch")
    rx, ry = torch.autograd.grad(r.sum(), (x64, y64))
    for a, b in ((v, r), (gx, rx), (gy, ry)):
        assert a.dtype == dtype
        torch.testing.assert_close(a.cpu().double(), b, rtol=tol, atol=tol * b.abs().max().item())
    with torch.no_grad():
        torch.testing.assert_close(soft_dtw(xc, yc, 0.9).cpu().double(), r.detach(), rtol=tol,
                                   atol=tol)


@needs_cxx
def test_cpu_kernel_buffer_reuse_keeps_live_graphs_apart():
    _soft_dtw_cpu.clear_cache()
    pairs = [_pair((3,), 12, 12, torch.float64, seed=s) for s in (5, 6, 7)]
    v0 = soft_dtw(*pairs[0], backend="cpu_kernel")
    del v0  # its R goes back to the pool ...
    live = [soft_dtw(x, y, backend="cpu_kernel") for x, y in pairs[1:]]  # ... and is reused once
    assert not _soft_dtw_cpu._free  # both buffers are held by live graphs
    for (x, y), v in zip(pairs[1:], live):
        g = torch.autograd.grad(v.sum(), x)[0]
        r = torch.autograd.grad(soft_dtw(x, y, backend="torch").sum(), x)[0]
        torch.testing.assert_close(g, r, rtol=1e-11, atol=1e-11)
    del live, v
    assert len(_soft_dtw_cpu._free) == 1
    _soft_dtw_cpu.clear_cache()


@needs_cxx
def test_loading_the_kernel_keeps_subnormals():
    # a library linked with -ffast-math would set flush-to-zero for the whole process
    import sys

    assert _soft_dtw_cpu.load() is not None
    tiny = sys.float_info.min
    assert tiny / 4 > 0.0
    assert float(torch.tensor(1e-39, dtype=torch.float32) * 0.5) > 0.0
