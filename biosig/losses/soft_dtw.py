"""Soft-DTW (Cuturi & Blondel, 2017) for univariate sequences, batched.

Three implementations behind one API (``backend=``): a fused C++ kernel on CPU
(:mod:`biosig.losses._soft_dtw_cpu`, the default there), a Triton kernel on CUDA
(:mod:`biosig.losses._soft_dtw_triton`), and the pure-PyTorch wavefront described below, which
is the reference the kernels are tested against and the fallback (warned) without a compiler.

The forward recursion

.. math:: R_{i,j} = (x_i - y_j)^2 + \\min{}^\\gamma(R_{i-1,j-1}, R_{i-1,j}, R_{i,j-1}),
   \\qquad \\min{}^\\gamma(a) = -\\gamma \\log \\sum_k e^{-a_k/\\gamma}

is evaluated as an *anti-diagonal wavefront*: all cells with the same ``i + j`` depend only on
the two previous anti-diagonals, so the loop runs over the ``N + M - 1`` diagonals and every
diagonal is one vectorised step over ``(cells on the diagonal) x (all sequences)``. The
gradient uses the analytic backward recursion of Cuturi & Blondel (Algorithm 2, the ``E``
matrix), also as a wavefront, inside a custom :class:`torch.autograd.Function`; only ``R``
(``(N + 2) x (M + 2)`` per sequence) is kept for the backward pass, and ``E`` lives on three
diagonals at a time. Works on CPU and CUDA, in float32 and float64.

Memory layout: sequences are the innermost (contiguous) axis, ``R`` has shape
``(N + 2, M + 2, K)``; an anti-diagonal is a strided view with step ``(M + 1) K`` between cells
and ``K`` contiguous values per cell.

References
----------
M. Cuturi, M. Blondel. Soft-DTW: a differentiable loss function for time-series. ICML 2017.
M. Blondel, A. Mensch, J.-P. Vert. Differentiable divergences between time series. AISTATS 2021.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from biosig.errors import ConfigError

__all__ = [
    "SoftDTWLoss",
    "dtw",
    "soft_dtw",
    "soft_dtw_divergence",
]


#: Below this many cells per anti-diagonal (cells x sequences) the wavefront runs with one
#: intra-op thread: its ~10 short kernels per diagonal lose far more to thread wake-ups than
#: they gain (measured 10-100x slower with 2 threads on a busy 2-core machine, also at
#: hvEEGNet's size B=30, C=22, T=1000 = 660k cells per diagonal). On an idle many-core
#: machine, lowering this module attribute lets large wavefronts use every intra-op thread.
SINGLE_THREAD_BELOW = 1 << 21


class _single_thread_if_small:
    """Context manager: ``torch.set_num_threads(1)`` for small CPU wavefronts, then restore."""

    def __init__(self, t: torch.Tensor, cells_per_diagonal: int):
        self.active = (t.device.type == "cpu" and cells_per_diagonal < SINGLE_THREAD_BELOW
                       and torch.get_num_threads() > 1)
        self.prev = 1

    def __enter__(self):
        if self.active:
            self.prev = torch.get_num_threads()
            torch.set_num_threads(1)

    def __exit__(self, *exc):
        if self.active:
            torch.set_num_threads(self.prev)
        return False


def _exp_floor(dtype: torch.dtype) -> float:
    """Lower clamp of soft-min exponent arguments: -80 (float32), -700 (float64).

    torch's float32 CPU ``exp`` takes a slow path (~80x) for arguments below about -87,
    which µV² costs hit on almost every cell. ``exp(-80) ~ 1.8e-35``: the forward soft-min sum
    always contains ``exp(0) = 1``, so its value is unchanged, and in the backward pass a
    clamped term contributes at most ``1.8e-35 x E`` with ``0 <= E <= 1``.
    """
    return -80.0 if dtype == torch.float32 else -700.0


def _diag_range(d: int, n: int, m: int) -> tuple[int, int]:
    """Rows ``i`` (1-based) of the cells ``(i, d - i)`` inside the ``n x m`` grid."""
    return max(1, d - m), min(n, d - 1)


class _SoftDTWFused(torch.autograd.Function):
    """Soft-DTW of ``(N, K)`` vs ``(M, K)`` with a fused kernel (CPU C++ or CUDA Triton).

    ``kernel`` is a module with ``forward(lib, x, y) -> (values, state)`` and
    ``backward(lib, state) -> (gx, gy)`` at unit smoothing (gradients without the factor 2).
    """

    @staticmethod
    def forward(ctx, x, y, gamma: float, kernel, lib):  # noqa: D401
        s = 1.0 / math.sqrt(gamma)
        val, state = kernel.forward(lib, x * s, y * s)
        ctx.gamma, ctx.kernel, ctx.lib, ctx.state = gamma, kernel, lib, state
        return val * gamma

    @staticmethod
    def backward(ctx, grad_out):
        gx, gy = ctx.kernel.backward(ctx.lib, ctx.state)
        scale = 2.0 * math.sqrt(ctx.gamma) * grad_out
        return gx * scale, gy * scale, None, None, None


class _SoftDTWFunction(torch.autograd.Function):
    """Soft-DTW of ``K`` pairs of univariate sequences stored as ``(N, K)`` and ``(M, K)``.

    Runs the recursion at unit smoothing on inputs scaled by ``1 / sqrt(gamma)``
    (``R_gamma(x, y) = gamma * R_1(x / sqrt(gamma), y / sqrt(gamma))``), which removes the
    divisions by ``gamma`` from the inner loops.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, y: torch.Tensor, gamma: float):  # noqa: D401
        n, k = x.shape
        m = y.shape[0]
        dev, dt = x.device, x.dtype
        s = 1.0 / math.sqrt(gamma)
        # X[i-1] = x_i (1-based), X[n] = 0 (padding used by the backward pass)
        X = torch.cat([x * s, x.new_zeros(1, k)], 0)
        # F[m + 1 - j] = y_j (1-based j), F[0] = 0: a diagonal reads a contiguous slice of F
        F = torch.cat([y.new_zeros(1, k), y.flip(0) * s], 0).contiguous()
        R = torch.empty((n + 2, m + 2, k), device=dev, dtype=dt)
        R[0].fill_(math.inf)
        R[:, 0].fill_(math.inf)
        R[0, 0].zero_()
        R[n + 1].fill_(-math.inf)
        R[:, m + 1].fill_(-math.inf)
        L = min(n, m)
        buf = torch.empty((4, L, k), device=dev, dtype=dt)
        with _single_thread_if_small(x, L * k):
            _forward_loop(R, X, F, buf, n, m, k)
        ctx.gamma = gamma
        ctx.save_for_backward(X, F, R)
        return R[n, m] * gamma

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        X, F, R = ctx.saved_tensors
        with _single_thread_if_small(R, min(R.shape[0], R.shape[1]) * R.shape[2]):
            gX, gF = _backward_loop(X, F, R)
        n = R.shape[0] - 2
        scale = 2.0 * math.sqrt(ctx.gamma) * grad_out
        gx = gX[:n].mul_(scale)
        gy = gF[1:].flip(0).mul_(scale)
        return gx, gy, None


def _forward_loop(R, X, F, buf, n, m, k):
    """Fill ``R`` (``(n + 2, m + 2, k)``) anti-diagonal by anti-diagonal, unit smoothing."""
    rs = (m + 2) * k  # row stride
    ds = (m + 1) * k  # stride between consecutive cells of an anti-diagonal
    for d in range(2, n + m + 1):
        lo, hi = _diag_range(d, n, m)
        ln = hi - lo + 1
        size, stride = (ln, k), (ds, 1)
        cur = R.as_strided(size, stride, lo * rs + (d - lo) * k)
        dia = R.as_strided(size, stride, (lo - 1) * rs + (d - 1 - lo) * k)
        up = R.as_strided(size, stride, (lo - 1) * rs + (d - lo) * k)
        left = R.as_strided(size, stride, lo * rs + (d - 1 - lo) * k)
        mn, t1, t2, dd = (b[:ln] for b in buf)
        torch.minimum(dia, up, out=mn)
        torch.minimum(mn, left, out=mn)
        # softmin = mn - log(sum exp(mn - r))
        floor = _exp_floor(mn.dtype)
        torch.sub(mn, dia, out=t1).clamp_(min=floor).exp_()
        t1.add_(torch.sub(mn, up, out=t2).clamp_(min=floor).exp_())
        t1.add_(torch.sub(mn, left, out=t2).clamp_(min=floor).exp_())
        mn.sub_(t1.log_())
        torch.sub(X[lo - 1:hi], F[m + 1 - d + lo:m + 2 - d + hi], out=dd)
        torch.addcmul(mn, dd, dd, out=cur)


def _backward_loop(X, F, R):
    """Analytic backward (Cuturi & Blondel, Alg. 2) as a reverse wavefront, unit smoothing.

    ``E(i, j) = sum over successors s of E(s) exp(S(s) - R(i, j))`` with ``S = R - D`` the
    soft-minimum at ``s``. Keeps ``E`` and ``S`` on the last two anti-diagonals (row-indexed);
    returns ``dR(n, m) / dX`` and ``/ dF`` up to the factor 2 of the squared cost.
    """
    n1, m1, k = R.shape
    n, m = n1 - 2, m1 - 2
    dev, dt = R.device, R.dtype
    rs = (m + 2) * k
    ds = (m + 1) * k
    z = lambda: torch.zeros((n + 2, k), device=dev, dtype=dt)  # noqa: E731
    e_cur, e_d1, e_d2 = z(), z(), z()  # E on diagonals d, d + 1, d + 2 (rows 0..n+1)
    ninf = lambda: torch.full((n + 2, k), -math.inf, device=dev, dtype=dt)  # noqa: E731
    s_cur, s_d1, s_d2 = ninf(), ninf(), ninf()  # S = R - D; -inf outside the grid
    gX = torch.zeros_like(X)
    gF = torch.zeros_like(F)
    # last cell: E(n, m) = 1; its successors lie outside the grid
    e_d1[n] = 1.0
    dd0 = X[n - 1] - F[1]
    s_d1[n] = R[n, m] - dd0 * dd0
    gX[n - 1] += dd0
    gF[1] -= dd0
    L = min(n, m)
    buf = torch.empty((3, L, k), device=dev, dtype=dt)
    floor = _exp_floor(dt)
    for d in range(n + m - 1, 1, -1):
        lo, hi = _diag_range(d, n, m)
        ln = hi - lo + 1
        cur = R.as_strided((ln, k), (ds, 1), lo * rs + (d - lo) * k)
        w, dd, e = (b[:ln] for b in buf)
        # successors (i+1, j) and (i, j+1) on diagonal d + 1, (i+1, j+1) on d + 2
        torch.sub(s_d1[lo + 1:hi + 2], cur, out=w).clamp_(min=floor).exp_()
        torch.mul(w, e_d1[lo + 1:hi + 2], out=e)
        torch.sub(s_d1[lo:hi + 1], cur, out=w).clamp_(min=floor).exp_()
        e.addcmul_(w, e_d1[lo:hi + 1])
        torch.sub(s_d2[lo + 1:hi + 2], cur, out=w).clamp_(min=floor).exp_()
        e.addcmul_(w, e_d2[lo + 1:hi + 2])
        e_cur[lo:hi + 1] = e
        # S on this diagonal for the next steps, and dR(n,m)/dD(i,j) = E(i,j), D = (x_i - y_j)^2
        torch.sub(X[lo - 1:hi], F[m + 1 - d + lo:m + 2 - d + hi], out=dd)
        torch.addcmul(cur, dd, dd, value=-1.0, out=s_cur[lo:hi + 1])
        s_cur[lo - 1] = -math.inf
        s_cur[hi + 1] = -math.inf
        e.mul_(dd)
        gX[lo - 1:hi].add_(e)
        gF[m + 1 - d + lo:m + 2 - d + hi].sub_(e)
        e_d2, e_d1, e_cur = e_d1, e_cur, e_d2
        s_d2, s_d1, s_cur = s_d1, s_cur, s_d2
    return gX, gF


def _wavefront_value(x: torch.Tensor, y: torch.Tensor, gamma: float | None) -> torch.Tensor:
    """(Soft-)DTW values of ``(N, K)`` vs ``(M, K)`` keeping three anti-diagonals only.

    ``gamma=None`` gives the hard minimum. Memory ``O((N + M) K)``; no gradient.
    """
    n, k = x.shape
    m = y.shape[0]
    F = y.flip(0).contiguous()  # y_j (1-based) = F[m - j]
    bufs = [torch.full((n + 2, k), math.inf, device=x.device, dtype=x.dtype) for _ in range(3)]
    bufs[0][0] = 0.0  # diagonal 0: R(0, 0) = 0; diagonal 1: all +inf
    L = min(n, m)
    work = torch.empty((4, L, k), device=x.device, dtype=x.dtype)
    with _single_thread_if_small(x, L * k):
        return _value_loop(x, F, bufs, work, n, m, gamma)


def _value_loop(x, F, bufs, work, n, m, gamma):
    d2, d1, cur = bufs
    for d in range(2, n + m + 1):
        lo, hi = _diag_range(d, n, m)
        ln = hi - lo + 1
        dia, up, left = d2[lo - 1:hi], d1[lo - 1:hi], d1[lo:hi + 1]
        mn, t1, t2, dd = (b[:ln] for b in work)
        torch.minimum(dia, up, out=mn)
        torch.minimum(mn, left, out=mn)
        if gamma is not None:
            inv_g, floor = 1.0 / gamma, _exp_floor(mn.dtype)
            torch.sub(mn, dia, out=t1).mul_(inv_g).clamp_(min=floor).exp_()
            t1.add_(torch.sub(mn, up, out=t2).mul_(inv_g).clamp_(min=floor).exp_())
            t1.add_(torch.sub(mn, left, out=t2).mul_(inv_g).clamp_(min=floor).exp_())
            mn.sub_(t1.log_().mul_(gamma))
        torch.sub(x[lo - 1:hi], F[m - d + lo:m + 1 - d + hi], out=dd)
        torch.addcmul(mn, dd, dd, out=cur[lo:hi + 1])
        cur[lo - 1] = math.inf  # cells (lo-1, d-lo+1) / (hi+1, d-hi-1) lie outside the grid
        cur[hi + 1] = math.inf
        d2, d1, cur = d1, cur, d2
    return d1[n].clone()


def _check_pair(x: torch.Tensor, y: torch.Tensor, gamma: float) -> None:
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError("soft_dtw expects torch tensors")
    if x.dim() < 1 or y.dim() < 1:
        raise ValueError("soft_dtw expects tensors of shape (..., n_times)")
    if x.shape[:-1] != y.shape[:-1]:
        raise ValueError(
            f"leading dimensions must match, got x {tuple(x.shape)} and y {tuple(y.shape)}")
    if x.shape[-1] < 1 or y.shape[-1] < 1:
        raise ValueError("sequences must have at least one sample")
    if not (x.is_floating_point() and y.is_floating_point()):
        raise TypeError(f"soft_dtw needs floating tensors, got {x.dtype} and {y.dtype}")
    if x.device != y.device:
        raise ValueError(f"x on {x.device} but y on {y.device}")
    if not (isinstance(gamma, (int, float)) and gamma > 0 and math.isfinite(gamma)):
        raise ConfigError(f"gamma must be a positive finite number, got {gamma!r}")


def _to_columns(t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(..., T) -> (T, K) contiguous, sequences innermost."""
    return t.reshape(-1, t.shape[-1]).to(dtype).t().contiguous()


def _compute_dtype(x: torch.Tensor, y: torch.Tensor) -> torch.dtype:
    dt = torch.promote_types(x.dtype, y.dtype)
    # half precision cannot hold accumulated costs: compute in float32 (documented)
    return dt if dt in (torch.float32, torch.float64) else torch.float32


BACKENDS = ("auto", "cpu_kernel", "triton", "torch")


def _fused(backend: str, t: torch.Tensor, *tensors: torch.Tensor):
    """``(kernel module, library)`` for a fused backend, or ``None`` for the PyTorch path.

    ``"auto"``: the C++ kernel on CPU (compiled at first use; without a compiler a warning and
    the PyTorch path), the Triton kernel on CUDA where Triton is installed, else PyTorch.
    Non-finite inputs always take the PyTorch path, whose NaN/inf propagation is the reference.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"soft-DTW backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "torch":
        return None
    if not all(bool(torch.isfinite(a).all()) for a in tensors):
        return None
    if t.device.type == "cpu" and backend in ("auto", "cpu_kernel"):
        from biosig.losses import _soft_dtw_cpu as kernel

        lib = kernel.load()
        if lib is None and backend == "cpu_kernel":
            raise ConfigError("soft-DTW backend 'cpu_kernel' needs a C++ compiler "
                              "(g++ or $CXX); none was found")
        return None if lib is None else (kernel, lib)
    if t.device.type == "cuda" and backend in ("auto", "triton"):
        from biosig.losses import _soft_dtw_triton as kernel

        if kernel.available():
            return kernel, None
        if backend == "triton":
            raise ConfigError("soft-DTW backend 'triton' needs the triton package")
        return None
    if backend != "auto":
        raise ConfigError(f"soft-DTW backend {backend!r} does not run on {t.device}")
    return None


def soft_dtw(x: torch.Tensor, y: torch.Tensor, gamma: float = 1.0,
             backend: str = "auto") -> torch.Tensor:
    """Soft-DTW between univariate sequences, squared-Euclidean cost.

    Parameters
    ----------
    x, y : Tensor, shape ``(..., N)`` and ``(..., M)``
        Batches of sequences with identical leading dimensions (e.g. ``(B, C, T)`` EEG in
        µV: one soft-DTW per trial and channel). ``N`` and ``M`` may differ.
    gamma : float
        Smoothing (> 0); ``gamma -> 0`` gives the hard DTW cost.
    backend : {"auto", "cpu_kernel", "triton", "torch"}
        ``"auto"``: the fused C++ kernel on CPU (:mod:`biosig.losses._soft_dtw_cpu`, compiled
        with g++ at first use, blocks of sequences on ``torch.get_num_threads()`` threads), the
        Triton kernel on CUDA; ``"torch"``: the pure-PyTorch wavefront (the reference, also
        used for non-finite inputs and, with a warning, where no compiler exists).

    Returns
    -------
    Tensor, shape ``(...)``
        Soft-DTW values, differentiable w.r.t. ``x`` and ``y`` (analytic backward). Computed
        in the inputs' precision (float32 or float64; half precision is computed in float32)
        and returned in the promoted input dtype.

    Notes
    -----
    Cost per call: ``O(N M)`` cells per sequence, evaluated in ``N + M - 1`` vectorised
    steps; memory ``(N + 2)(M + 2)`` values per sequence for the backward pass when a gradient
    is needed, otherwise (``torch.no_grad()`` or inputs without ``requires_grad``) only three
    anti-diagonals, ``O((N + M))`` per sequence.
    In float32 the accumulated costs lose absolute precision when they grow large compared
    to ``gamma`` (e.g. ``1e6`` µV² with ``gamma = 1``); use float64 where that matters.
    """
    _check_pair(x, y, gamma)
    lead = x.shape[:-1]
    out_dtype = torch.promote_types(x.dtype, y.dtype)
    dt = _compute_dtype(x, y)
    xc, yc = _to_columns(x, dt), _to_columns(y, dt)
    if xc.shape[1] == 0:
        return x.new_zeros(lead, dtype=out_dtype)
    fused = _fused(backend, xc, xc, yc)
    sc = 1.0 / math.sqrt(gamma)
    if torch.is_grad_enabled() and (x.requires_grad or y.requires_grad):
        if fused is None:
            out = _SoftDTWFunction.apply(xc, yc, float(gamma))
        else:
            out = _SoftDTWFused.apply(xc, yc, float(gamma), *fused)
    elif fused is not None:  # no gradient needed: two rows (CPU) / three diagonals, not R
        out = fused[0].value(fused[1], xc * sc, yc * sc, False) * gamma
    else:
        out = _wavefront_value(xc * sc, yc * sc, 1.0) * gamma
    return out.reshape(lead).to(out_dtype)


def soft_dtw_divergence(x: torch.Tensor, y: torch.Tensor, gamma: float = 1.0,
                        backend: str = "auto") -> torch.Tensor:
    """Soft-DTW divergence ``sdtw(x, y) - (sdtw(x, x) + sdtw(y, y)) / 2`` (Blondel et al., 2021).

    Non-negative and zero iff ``x == y``. Shapes as in :func:`soft_dtw`; when ``N == M`` the
    three terms are computed in one wavefront pass.
    """
    _check_pair(x, y, gamma)
    if x.shape[-1] == y.shape[-1]:
        lead = x.shape[:-1]
        a = torch.stack([x, x, y]).reshape(3, *lead, x.shape[-1])
        b = torch.stack([y, x, y]).reshape(3, *lead, y.shape[-1])
        s = soft_dtw(a, b, gamma, backend)
        return s[0] - 0.5 * (s[1] + s[2])
    return soft_dtw(x, y, gamma, backend) - 0.5 * (soft_dtw(x, x, gamma, backend)
                                                   + soft_dtw(y, y, gamma, backend))


@torch.no_grad()
def dtw(x: torch.Tensor, y: torch.Tensor, backend: str = "auto") -> torch.Tensor:
    """Hard DTW cost (sum of squared differences along the optimal path), no gradient.

    Same wavefront as :func:`soft_dtw` with ``min`` in place of the soft minimum, keeping only
    three anti-diagonals (memory ``O((N + M) K)``); shapes as in :func:`soft_dtw`. Used as a
    reconstruction metric and as the ``gamma -> 0`` limit.
    """
    _check_pair(x, y, 1.0)
    lead = x.shape[:-1]
    dt = _compute_dtype(x, y)
    xc, yc = _to_columns(x, dt), _to_columns(y, dt)
    if xc.shape[1] == 0:
        return x.new_zeros(lead, dtype=torch.promote_types(x.dtype, y.dtype))
    fused = _fused(backend, xc, xc, yc)
    if fused is not None:
        out = fused[0].value(fused[1], xc, yc, True)
    else:
        out = _wavefront_value(xc, yc, None)
    return out.reshape(lead).to(torch.promote_types(x.dtype, y.dtype))


_REDUCTIONS = ("channel_sum", "mean", "sum", "none")


class SoftDTWLoss(nn.Module):
    """Soft-DTW reconstruction loss, one univariate soft-DTW per channel.

    Parameters
    ----------
    gamma : float
        Soft-min smoothing (hvEEGNet: 1).
    normalize : bool
        Use the soft-DTW divergence (Blondel et al., 2021) instead of plain soft-DTW
        (hvEEGNet: ``False``).
    reduction : {"channel_sum", "mean", "sum", "none"}
        ``"channel_sum"`` (default, as hvEEGNet's loss): mean over the batch, summed over
        channels. ``"mean"``: mean over batch and channels. ``"sum"``: sum of all.
        ``"none"``: the ``(B, C)`` values.

    Inputs are ``(B, C, T)`` (EEG in µV) or ``(B, T)`` (one channel); ``x_hat`` and ``x`` may
    have different lengths.
    """

    def __init__(self, gamma: float = 1.0, normalize: bool = False,
                 reduction: str = "channel_sum"):
        super().__init__()
        if not (gamma > 0 and math.isfinite(gamma)):
            raise ConfigError(f"gamma must be a positive finite number, got {gamma!r}")
        if reduction not in _REDUCTIONS:
            raise ConfigError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        self.gamma = float(gamma)
        self.normalize = bool(normalize)
        self.reduction = reduction

    def forward(self, x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if x_hat.dim() == 2:
            x_hat, x = x_hat.unsqueeze(1), x.unsqueeze(1)
        if x_hat.dim() != 3:
            raise ValueError(f"SoftDTWLoss expects (B, C, T) or (B, T), got {tuple(x_hat.shape)}")
        fn = soft_dtw_divergence if self.normalize else soft_dtw
        v = fn(x_hat, x, self.gamma)
        if self.reduction == "channel_sum":
            return v.mean(0).sum()
        if self.reduction == "mean":
            return v.mean()
        if self.reduction == "sum":
            return v.sum()
        return v

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, normalize={self.normalize}, reduction={self.reduction!r}"
