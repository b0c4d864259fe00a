"""Fused CPU kernel for soft-DTW: a small C++ source compiled at first use
(:mod:`biosig._native`: why a plain shared library loaded with :mod:`ctypes`, where it is
cached, what happens without a compiler). ``ctypes`` releases the GIL, so blocks of sequences
run on ``torch.get_num_threads()`` Python threads without a second OpenMP runtime in the
process; ``torch.compile`` cannot fuse the sequential recursion into one loop, and numba is not
a dependency (tslearn's numba JIT takes ~20 s per process).

Layout: sequences are split into blocks of ``W`` lanes (64 float32 or 32 float64 = four
AVX-512 vectors, so that four independent exp/log chains hide each other's latency); a block
is stored ``(rows, cols, W)`` and the recursion runs row by row with the ``W`` lanes as the
innermost, vectorised loop (``-O3 -march=native -ffast-math``: glibc's vector ``exp``/``log``).
Exponent arguments are clamped at -80 (float32) / -700 (float64): the soft-min sum always
contains ``exp(0) = 1``, so the clamp changes nothing in the forward values, and in the
backward pass it only replaces products below ``1e-35`` by ``1e-35 x E <= 1e-35``. Outside
cells are large finite sentinels (``-ffast-math`` assumes finite numbers), so the caller only
sends finite inputs here (:func:`biosig.losses.soft_dtw.soft_dtw` checks). Without a C++
compiler :func:`load` returns ``None`` after a :class:`UserWarning`, and the caller uses the
pure-PyTorch reference path.
"""

from __future__ import annotations

import ctypes
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor

import torch

from biosig._native import NativeLibrary, compiler  # noqa: F401 - looked up here by callers

__all__ = ["load", "forward", "backward", "value", "lanes", "clear_cache"]

SOURCE = r"""
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>
#if defined(__SSE__)
#include <xmmintrin.h>
// Flush-to-zero / denormals-are-zero inside a kernel call only (restored on return): backward
// products far below 1e-38 would otherwise take the slow subnormal path. It changes nothing
// above the clamp's 1e-35 level.
struct FlushDenormals {
  unsigned saved;
  FlushDenormals() : saved(_mm_getcsr()) { _mm_setcsr(saved | 0x8040); }
  ~FlushDenormals() { _mm_setcsr(saved); }
};
#else
struct FlushDenormals {};
#endif

template <typename T> struct Lim;
template <> struct Lim<float> { static constexpr float big = 1e30f, lo = -80.0f; };
template <> struct Lim<double> { static constexpr double big = 1e300, lo = -700.0; };

// Forward recursion of one block (unit smoothing): x (n, W), y (m, W), R (rows, m + 2, W)
// with rows = n + 2 (KEEP: full matrix for the backward pass) or 2 (rolling rows).
template <typename T, int W, bool HARD, bool KEEP>
static void fwd(const T* __restrict x, const T* __restrict y, T* __restrict R,
                int64_t n, int64_t m) {
  const T big = Lim<T>::big, lo = Lim<T>::lo;
  const int64_t rw = (m + 2) * W;
  for (int64_t j = 0; j < m + 2; ++j)
    for (int l = 0; l < W; ++l) R[j * W + l] = j == 0 ? T(0) : big;
  for (int64_t i = 1; i <= n; ++i) {
    const T* __restrict prev = R + (KEEP ? (i - 1) * rw : ((i - 1) & 1) * rw);
    T* __restrict cur = R + (KEEP ? i * rw : (i & 1) * rw);
    const T* __restrict xi = x + (i - 1) * W;
    for (int l = 0; l < W; ++l) cur[l] = big;
    for (int64_t j = 1; j <= m; ++j) {
      const T* __restrict yj = y + (j - 1) * W;
      T* __restrict c = cur + j * W;
      const T* __restrict cl = cur + (j - 1) * W;
      const T* __restrict pd = prev + (j - 1) * W;
      const T* __restrict pu = prev + j * W;
#pragma omp simd
      for (int l = 0; l < W; ++l) {
        T a = pd[l], b = pu[l], e = cl[l];
        T mn = std::min(a, std::min(b, e));
        T d = xi[l] - yj[l];
        if (HARD) {
          c[l] = d * d + mn;
        } else {
          T s = std::exp(std::max(mn - a, lo)) + std::exp(std::max(mn - b, lo))
              + std::exp(std::max(mn - e, lo));
          c[l] = d * d + mn - std::log(s);
        }
      }
    }
  }
}

// Analytic backward (Cuturi & Blondel 2017, Alg. 2), unit smoothing, row by row from (n, m):
// E(i,j) = sum over successors s of E(s) exp(S(s) - R(i,j)), S = R - D. Writes
// gx = sum_j E(i,j) (x_i - y_j) and gy = -sum_i E(i,j) (x_i - y_j) (the factor 2 is left out).
template <typename T, int W>
static void bwd(const T* __restrict x, const T* __restrict y, const T* __restrict R,
                T* __restrict gx, T* __restrict gy, int64_t n, int64_t m) {
  const T big = Lim<T>::big, lo = Lim<T>::lo;
  const int64_t rw = (m + 2) * W;
  std::vector<T> buf(4 * rw);
  T* en = buf.data(); T* sn = en + rw; T* ec = sn + rw; T* sc = ec + rw;
  for (int64_t j = 0; j < rw; ++j) { en[j] = 0; sn[j] = -big; }
  for (int l = 0; l < W; ++l) {  // virtual successor (n+1, m+1) gives E(n, m) = 1
    en[(m + 1) * W + l] = 1;
    sn[(m + 1) * W + l] = R[n * rw + m * W + l];
  }
  for (int64_t j = 0; j < m * W; ++j) gy[j] = 0;
  for (int64_t i = n; i >= 1; --i) {
    const T* __restrict r = R + i * rw;
    const T* __restrict xi = x + (i - 1) * W;
    for (int l = 0; l < W; ++l) { ec[(m + 1) * W + l] = 0; sc[(m + 1) * W + l] = -big; }
    T acc[W];
    for (int l = 0; l < W; ++l) acc[l] = 0;
    for (int64_t j = m; j >= 1; --j) {
      const T* __restrict yj = y + (j - 1) * W;
      const T* __restrict rj = r + j * W;
      const T* __restrict e0 = en + j * W;        // (i+1, j)
      const T* __restrict s0 = sn + j * W;
      const T* __restrict e1 = ec + (j + 1) * W;  // (i, j+1)
      const T* __restrict s1 = sc + (j + 1) * W;
      const T* __restrict e2 = en + (j + 1) * W;  // (i+1, j+1)
      const T* __restrict s2 = sn + (j + 1) * W;
      T* __restrict eo = ec + j * W;
      T* __restrict so = sc + j * W;
      T* __restrict gyj = gy + (j - 1) * W;
#pragma omp simd
      for (int l = 0; l < W; ++l) {
        T rr = rj[l];
        T e = e0[l] * std::exp(std::max(s0[l] - rr, lo))
            + e1[l] * std::exp(std::max(s1[l] - rr, lo))
            + e2[l] * std::exp(std::max(s2[l] - rr, lo));
        T d = xi[l] - yj[l];
        eo[l] = e;
        so[l] = rr - d * d;
        acc[l] += e * d;
        gyj[l] -= e * d;
      }
    }
    for (int l = 0; l < W; ++l) gx[(i - 1) * W + l] = acc[l];
    std::swap(en, ec);
    std::swap(sn, sc);
  }
}

#define SDTW_API(T, SUF, W)                                                               \
  extern "C" void sdtw_fwd_##SUF(const T* x, const T* y, T* R, int64_t n, int64_t m) {    \
    FlushDenormals ftz;                                                                   \
    fwd<T, W, false, true>(x, y, R, n, m);                                                \
  }                                                                                       \
  extern "C" T sdtw_val_##SUF(const T* x, const T* y, T* R, int64_t n, int64_t m,         \
                              int hard, T* out) {                                         \
    FlushDenormals ftz;                                                                   \
    if (hard) fwd<T, W, true, false>(x, y, R, n, m);                                      \
    else fwd<T, W, false, false>(x, y, R, n, m);                                          \
    const T* row = R + (n & 1) * (m + 2) * W + m * W;                                     \
    for (int l = 0; l < W; ++l) out[l] = row[l];                                          \
    return 0;                                                                             \
  }                                                                                       \
  extern "C" void sdtw_bwd_##SUF(const T* x, const T* y, const T* R, T* gx, T* gy,        \
                                 int64_t n, int64_t m) {                                  \
    FlushDenormals ftz;                                                                   \
    bwd<T, W>(x, y, R, gx, gy, n, m);                                                     \
  }                                                                                       \
  extern "C" int sdtw_lanes_##SUF() { return W; }

SDTW_API(float, f32, 64)
SDTW_API(double, f64, 32)
"""

#: Compile flags (object file). The link step gets no ``-ffast-math``: with it, the driver links
#: ``crtfastmath.o``, whose constructor sets flush-to-zero / denormals-are-zero in MXCSR for the
#: whole process when the library is loaded (found by hypothesis' subnormal check).
FLAGS = ["-O3", "-march=native", "-ffast-math", "-fopenmp-simd", "-std=c++17", "-fPIC"]
_DT = {torch.float32: ("f32", ctypes.c_float), torch.float64: ("f64", ctypes.c_double)}
_P, _N = ctypes.c_void_p, ctypes.c_int64
_LIB = NativeLibrary(
    "soft_dtw", SOURCE, FLAGS,
    {f"sdtw_{fn}_{suf}": sig for suf, ct in _DT.values()
     for fn, sig in (("fwd", ([_P, _P, _P, _N, _N], None)),
                     ("val", ([_P, _P, _P, _N, _N, ctypes.c_int, _P], ct)),
                     ("bwd", ([_P, _P, _P, _P, _P, _N, _N], None)),
                     ("lanes", ([], ctypes.c_int)))},
    fallback="using the pure-PyTorch wavefront, about 20-50x slower on CPU.",
)  # fmt: skip


def load() -> ctypes.CDLL | None:
    """The compiled kernel library, building it at first use; ``None`` without a compiler.

    A missing compiler is reported once by a :class:`UserWarning`; a compiler that fails on
    this source raises :class:`RuntimeError` (that is a bug, not a missing tool).
    """
    return _LIB.load()


def _reset() -> None:
    """Forget the loaded library (tests: re-run the compiler lookup)."""
    _LIB.reset()


def lanes(dtype: torch.dtype) -> int:
    """Sequences per block (``W``) for ``dtype``."""
    return 64 if dtype == torch.float32 else 32


def _blocks(t: torch.Tensor, w: int) -> torch.Tensor:
    """(T, K) -> (nb, T, W) contiguous, K padded with zeros to a multiple of W."""
    n, k = t.shape
    nb = -(-k // w)
    if nb * w != k:
        t = torch.cat([t, t.new_zeros(n, nb * w - k)], 1)
    return t.reshape(n, nb, w).permute(1, 0, 2).contiguous()


def _unblock(t: torch.Tensor, k: int) -> torch.Tensor:
    """(nb, T, W) -> (T, K)."""
    nb, n, w = t.shape
    return t.permute(1, 0, 2).reshape(n, nb * w)[:, :k]


def _run(fn, nb: int) -> None:
    """``fn(b)`` for every block ``b``, on ``torch.get_num_threads()`` threads (GIL released)."""
    nt = min(nb, max(1, torch.get_num_threads()))
    if nt == 1:
        for b in range(nb):
            fn(b)
        return
    with ThreadPoolExecutor(nt) as ex:
        list(ex.map(fn, range(nb)))


#: Released ``R`` buffers, at most one per (shape, dtype). Writing a freshly allocated ``R``
#: costs a page fault per 4 KiB (measured ~1.8 ns per cell, more than the forward arithmetic),
#: so a training loop reuses the previous step's buffer once its graph is gone.
#: :func:`clear_cache` frees it.
_free: dict[tuple, torch.Tensor] = {}
_free_lock = threading.Lock()


def clear_cache() -> None:
    """Free the kept ``R`` buffers."""
    with _free_lock:
        _free.clear()


def _take(shape: tuple, dtype: torch.dtype) -> torch.Tensor:
    with _free_lock:
        t = _free.pop((shape, dtype), None)
    return torch.empty(shape, dtype=dtype) if t is None else t


def _give(t: torch.Tensor) -> None:
    with _free_lock:
        _free.clear()  # keep one buffer in all: the latest size
        _free[(tuple(t.shape), t.dtype)] = t


class _State:
    """Blocked inputs and ``R`` of one forward call; ``R`` returns to the pool when it dies."""

    def __init__(self, xb, yb, R, k):
        self.xb, self.yb, self.R, self.k = xb, yb, R, k
        weakref.finalize(self, _give, R)


def forward(lib, x: torch.Tensor, y: torch.Tensor):
    """R_1 of ``(N, K)`` vs ``(M, K)`` (inputs already scaled): returns ``(values, state)``."""
    n, k = x.shape
    m = y.shape[0]
    suf = _DT[x.dtype][0]
    w = lanes(x.dtype)
    xb, yb = _blocks(x, w), _blocks(y, w)
    nb = xb.shape[0]
    R = _take((nb, n + 2, m + 2, w), x.dtype)
    f = getattr(lib, f"sdtw_fwd_{suf}")

    def one(b):
        f(xb[b].data_ptr(), yb[b].data_ptr(), R[b].data_ptr(), n, m)

    _run(one, nb)
    val = R[:, n, m, :].reshape(-1)[:k].clone()
    return val, _State(xb, yb, R, k)


def backward(lib, state: _State) -> tuple[torch.Tensor, torch.Tensor]:
    """``dR_1(n, m) / dx`` and ``/ dy`` up to the factor 2, as ``(N, K)`` and ``(M, K)``."""
    xb, yb, R, k = state.xb, state.yb, state.R, state.k
    nb, n, _ = xb.shape
    m = yb.shape[1]
    suf = _DT[xb.dtype][0]
    gx, gy = torch.empty_like(xb), torch.empty_like(yb)
    f = getattr(lib, f"sdtw_bwd_{suf}")

    def one(b):
        f(xb[b].data_ptr(), yb[b].data_ptr(), R[b].data_ptr(), gx[b].data_ptr(),
          gy[b].data_ptr(), n, m)

    _run(one, nb)
    return _unblock(gx, k), _unblock(gy, k)


def value(lib, x: torch.Tensor, y: torch.Tensor, hard: bool) -> torch.Tensor:
    """Values only (two rolling rows per block): soft-DTW at unit smoothing or hard DTW."""
    n, k = x.shape
    m = y.shape[0]
    suf = _DT[x.dtype][0]
    w = lanes(x.dtype)
    xb, yb = _blocks(x, w), _blocks(y, w)
    nb = xb.shape[0]
    work = torch.empty((nb, 2, m + 2, w), dtype=x.dtype)
    out = torch.empty((nb, w), dtype=x.dtype)
    f = getattr(lib, f"sdtw_val_{suf}")

    def one(b):
        f(xb[b].data_ptr(), yb[b].data_ptr(), work[b].data_ptr(), n, m, int(hard),
          out[b].data_ptr())

    _run(one, nb)
    return out.reshape(-1)[:k].clone()
