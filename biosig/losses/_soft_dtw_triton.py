"""Fused CUDA kernel for soft-DTW in Triton: one launch walks every anti-diagonal.

One Triton program per sequence pair; the program walks the ``N + M - 1`` anti-diagonals of
its ``R`` in a loop, all cells of a diagonal in parallel (chunks of ``BLOCK`` lanes), with a
block-level barrier between diagonals. The forward pass writes ``R`` (``(K, N + 2, M + 2)``,
kept for the backward pass); the backward pass (Cuturi & Blondel 2017, Alg. 2) walks the
diagonals in reverse with ``E`` in a ring of three diagonals per sequence. Exponent arguments
are clamped as in the CPU kernel (:mod:`biosig.losses._soft_dtw_cpu`).

Status: run on one NVIDIA H200 (2026-12-04, Triton 3.6): values and gradients match the CPU
reference, and a forward + backward at hvEEGNet's paper size (30 x 22 sequences, T = 1000)
took 0.076-0.079 s, 8.4-9.0x the fused C++ kernel on that machine's 16 cores
(``benchmarks/results/gpu_check_2026-12-04_NVIDIA_H200.md``). On machines without CUDA it
runs in Triton's CPU interpreter (``TRITON_INTERPRET=1``), where values, gradients, hard DTW and
diagonals longer than a block match the PyTorch wavefront
(``tests/losses/test_soft_dtw_triton_interpreter.py``).
``tests/losses/test_soft_dtw_kernels.py::test_triton_matches_cpu`` and ``benchmarks/gpu_check.py``
compare it with the reference wherever CUDA and Triton exist.
"""

from __future__ import annotations

import math

import torch

__all__ = ["available", "forward", "backward", "value"]

try:  # triton ships with the CUDA builds of torch
    import triton
    import triton.language as tl
except ImportError:  # CPU-only torch
    triton = None


def available() -> bool:
    """True where Triton is importable and CUDA is present."""
    return triton is not None and torch.cuda.is_available()


if triton is not None:

    @triton.jit
    def _fwd_kernel(x_ptr, y_ptr, r_ptr, n, m, LO: tl.constexpr, HARD: tl.constexpr,
                    BLOCK: tl.constexpr):
        k = tl.program_id(0).to(tl.int64)
        rs = m + 2
        xk = x_ptr + k * n
        yk = y_ptr + k * m
        rk = r_ptr + k * (n + 2) * rs
        for d in range(2, n + m + 1):
            lo = tl.maximum(d - m, 1)
            hi = tl.minimum(d - 1, n)
            for start in range(lo, hi + 1, BLOCK):
                i = start + tl.arange(0, BLOCK)
                mask = i <= hi
                j = d - i
                a = tl.load(rk + (i - 1) * rs + (j - 1), mask=mask, other=0.0)
                b = tl.load(rk + (i - 1) * rs + j, mask=mask, other=0.0)
                c = tl.load(rk + i * rs + (j - 1), mask=mask, other=0.0)
                mn = tl.minimum(a, tl.minimum(b, c))
                dd = (tl.load(xk + i - 1, mask=mask, other=0.0)
                      - tl.load(yk + j - 1, mask=mask, other=0.0))
                if HARD:
                    out = dd * dd + mn
                else:
                    s = (tl.exp(tl.maximum(mn - a, LO)) + tl.exp(tl.maximum(mn - b, LO))
                         + tl.exp(tl.maximum(mn - c, LO)))
                    out = dd * dd + mn - tl.log(s)
                tl.store(rk + i * rs + j, out, mask=mask)
            tl.debug_barrier()

    @triton.jit
    def _bwd_kernel(x_ptr, y_ptr, r_ptr, e_ptr, gx_ptr, gy_ptr, n, m, LO: tl.constexpr,
                    BLOCK: tl.constexpr):
        k = tl.program_id(0).to(tl.int64)
        rs = m + 2
        es = n + 2
        xk = x_ptr + k * n
        yk = y_ptr + k * m
        rk = r_ptr + k * (n + 2) * rs
        ek = e_ptr + k * 3 * es
        gxk = gx_ptr + k * n
        gyk = gy_ptr + k * m
        for dr in range(0, n + m - 1):
            d = n + m - dr
            lo = tl.maximum(d - m, 1)
            hi = tl.minimum(d - 1, n)
            e_d = ek + (d % 3) * es
            e_d1 = ek + ((d + 1) % 3) * es
            e_d2 = ek + ((d + 2) % 3) * es
            for start in range(lo, hi + 1, BLOCK):
                i = start + tl.arange(0, BLOCK)
                mask = i <= hi
                j = d - i
                r = tl.load(rk + i * rs + j, mask=mask, other=0.0)
                x_i = tl.load(xk + i - 1, mask=mask, other=0.0)
                x_n = tl.load(xk + i, mask=mask & (i < n), other=0.0)  # x_{i+1}
                y_j = tl.load(yk + j - 1, mask=mask, other=0.0)
                y_n = tl.load(yk + j, mask=mask & (j < m), other=0.0)  # y_{j+1}
                # S(p, q) = R(p, q) - (x_p - y_q)^2 of the three successors
                d0 = x_n - y_j
                s0 = tl.load(rk + (i + 1) * rs + j, mask=mask, other=0.0) - d0 * d0
                d1 = x_i - y_n
                s1 = tl.load(rk + i * rs + j + 1, mask=mask, other=0.0) - d1 * d1
                d2 = x_n - y_n
                s2 = tl.load(rk + (i + 1) * rs + j + 1, mask=mask, other=0.0) - d2 * d2
                e = (tl.load(e_d1 + i + 1, mask=mask, other=0.0)
                     * tl.exp(tl.maximum(s0 - r, LO))
                     + tl.load(e_d1 + i, mask=mask, other=0.0) * tl.exp(tl.maximum(s1 - r, LO))
                     + tl.load(e_d2 + i + 1, mask=mask, other=0.0)
                     * tl.exp(tl.maximum(s2 - r, LO)))
                tl.store(e_d + i, e, mask=mask)
                g = e * (x_i - y_j)
                tl.store(gxk + i - 1, tl.load(gxk + i - 1, mask=mask, other=0.0) + g, mask=mask)
                tl.store(gyk + j - 1, tl.load(gyk + j - 1, mask=mask, other=0.0) - g, mask=mask)
            # rows just outside this diagonal are read as zero by the next two diagonals
            tl.store(e_d + lo - 1, 0.0)
            tl.store(e_d + hi + 1, 0.0)
            tl.debug_barrier()


def _block(n: int, m: int) -> tuple[int, int]:
    block = min(1024, triton.next_power_of_2(max(1, min(n, m))))
    return block, max(1, min(8, block // 64))


#: multiply-add contraction (FMA) stated, not left to Triton's default: on up to Triton 3.9,
#: off from 3.10; the kernels' numerics and register counts (docs/guide/gpu.md) are with it on
FP_FUSION = True


def _lo(dtype: torch.dtype) -> float:
    return -80.0 if dtype == torch.float32 else -700.0


def _run_forward(x: torch.Tensor, y: torch.Tensor, hard: bool) -> torch.Tensor:
    n, k = x.shape
    m = y.shape[0]
    xs, ys = x.t().contiguous(), y.t().contiguous()
    R = torch.empty((k, n + 2, m + 2), device=x.device, dtype=x.dtype)
    R[:, 0, :] = math.inf
    R[:, :, 0] = math.inf
    R[:, 0, 0] = 0.0
    block, warps = _block(n, m)
    _fwd_kernel[(k,)](xs, ys, R, n, m, LO=_lo(x.dtype), HARD=hard, BLOCK=block, num_warps=warps,
                      enable_fp_fusion=FP_FUSION)  # fmt: skip
    return R


def forward(lib, x: torch.Tensor, y: torch.Tensor):
    """R_1 of ``(N, K)`` vs ``(M, K)`` (inputs already scaled): ``(values, state)``."""
    n = x.shape[0]
    m = y.shape[0]
    R = _run_forward(x, y, hard=False)
    val = R[:, n, m].clone()
    # successors outside the grid: S = -inf-like (E = 0 there); the virtual successor
    # (n + 1, m + 1) with S = R(n, m) gives E(n, m) = 1
    big = torch.finfo(x.dtype).max / 4
    R[:, n + 1, :] = -big
    R[:, :, m + 1] = -big
    R[:, n + 1, m + 1] = val
    return val, (x, y, R)


def backward(lib, state) -> tuple[torch.Tensor, torch.Tensor]:
    """``dR_1(n, m) / dx`` and ``/ dy`` up to the factor 2, as ``(N, K)`` and ``(M, K)``."""
    x, y, R = state
    n, k = x.shape
    m = y.shape[0]
    xs, ys = x.t().contiguous(), y.t().contiguous()
    E = torch.zeros((k, 3, n + 2), device=x.device, dtype=x.dtype)
    E[:, (n + m + 2) % 3, n + 1] = 1.0
    gx = torch.zeros((k, n), device=x.device, dtype=x.dtype)
    gy = torch.zeros((k, m), device=x.device, dtype=x.dtype)
    block, warps = _block(n, m)
    _bwd_kernel[(k,)](xs, ys, R, E, gx, gy, n, m, LO=_lo(x.dtype), BLOCK=block, num_warps=warps,
                      enable_fp_fusion=FP_FUSION)  # fmt: skip
    return gx.t(), gy.t()


def value(lib, x: torch.Tensor, y: torch.Tensor, hard: bool) -> torch.Tensor:
    """Values only (soft-DTW at unit smoothing, or hard DTW)."""
    R = _run_forward(x, y, hard)
    return R[:, x.shape[0], y.shape[0]].clone()
