"""Integer windows to float32: ``samples * gain + offset`` per window and channel, as the EDF
reader decodes them (:class:`~biosig.io._records.FileSamples`), for every batch read from a
``dtype="int16"`` cache. (A build decodes the windows of a float32 cache on the way from the
file's data records, :mod:`biosig.io._gather`.)

A small C++ kernel (:mod:`biosig._native`) gathers the rows of a batch and decodes them in one
pass, reading the int16 samples straight from the cache's memmap: one multiply and one add per
sample in float32, never fused into an FMA (``-ffp-contract=off``), so the bits are numpy's and
torch's. Without a compiler, torch's vectorised cast, multiply and add do it (the same bits,
about 2-3x slower, ``benchmarks/bench_cache_scale.py --only warm``).
"""

from __future__ import annotations

import ctypes

import numpy as np

from biosig._native import NativeLibrary

__all__ = ["decode_windows"]

SOURCE = r"""
#include <cstdint>
// out[k, c, :] = float(x[rows[k], c, :]) * gain[rows[k] * gs + c] + offset[rows[k] * os + c]
extern "C" void decode_i16(const int16_t* x, const int64_t* rows, int64_t n, int64_t C,
                           int64_t T, const float* gain, int64_t gs, const float* offset,
                           int64_t os, float* out) {
  for (int64_t k = 0; k < n; ++k) {
    const int64_t r = rows[k];
    for (int64_t c = 0; c < C; ++c) {
      const float g = gain[r * gs + c], o = offset[r * os + c];
      const int16_t* src = x + (r * C + c) * T;
      float* dst = out + (k * C + c) * T;
      for (int64_t t = 0; t < T; ++t) dst[t] = static_cast<float>(src[t]) * g + o;
    }
  }
}
"""

FLAGS = ["-O3", "-march=native", "-ffp-contract=off", "-std=c++17", "-fPIC"]
_P, _N = ctypes.c_void_p, ctypes.c_int64
_LIB = NativeLibrary(
    "decode_i16", SOURCE, FLAGS,
    {"decode_i16": ([_P, _P, _N, _N, _N, _P, _N, _P, _N, _P], None)},
    fallback="int16 windows are decoded by torch instead, about 2-3x slower.",
)  # fmt: skip


def decode_windows(x: np.ndarray, gain: np.ndarray, offset: np.ndarray, rows=None, out=None):
    """float32 ``x[rows] * gain + offset`` of integer windows ``x`` ``(N, C, T)`` (all of them
    when ``rows`` is None), with ``gain`` and ``offset`` per channel ``(C,)`` or per window and
    channel ``(N, C)`` (indexed by ``rows`` as ``x``): bit for bit what the reader decodes
    (``FileSamples.gain``/``offset``; an offset it does not add is -0.0, and ``x + -0.0`` is
    ``x``). ``out``: a float32 ``(len(rows), C, T)`` array to fill, returned."""
    n = len(x) if rows is None else len(rows)
    if out is None:
        out = np.empty((n, *x.shape[1:]), np.float32)
    elif out.shape != (n, *x.shape[1:]):
        raise ValueError(f"out has shape {out.shape}, the windows {(n, *x.shape[1:])}")
    if rows is not None:
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        if n and (rows.min() < 0 or rows.max() >= len(x)):
            raise IndexError(f"window rows {rows.min()}..{rows.max()} out of range 0..{len(x) - 1}")
    if n == 0:
        return out
    lib = _LIB.load()
    if lib is not None and _kernel_layout(x, gain, offset, out):
        if rows is None:
            rows = np.arange(n, dtype=np.int64)
        _, n_chans, n_times = x.shape
        lib.decode_i16(x.ctypes.data, rows.ctypes.data, n, n_chans, n_times,
                       gain.ctypes.data, _row_stride(gain), offset.ctypes.data,
                       _row_stride(offset), out.ctypes.data)  # fmt: skip
        return out
    if rows is not None:
        x = x[rows]
        gain, offset = (a if a.ndim == 1 else a[rows] for a in (gain, offset))
    return _decode_torch(x, gain, offset, out)


def _row_stride(a: np.ndarray) -> int:
    """Elements from one window's gains (or offsets) to the next's; 0 when shared."""
    return a.strides[0] // a.itemsize if a.ndim == 2 else 0


def _kernel_layout(x, gain, offset, out) -> bool:
    """What the kernel reads: C-contiguous int16 windows and float32 output, float32 scales
    whose channels are adjacent and whose rows are whole elements apart."""
    if x.dtype != np.int16 or x.ndim != 3 or not x.flags.c_contiguous:
        return False
    if out.dtype != np.float32 or not out.flags.c_contiguous:
        return False
    for a in (gain, offset):
        if a.dtype != np.float32 or a.shape[-1] != x.shape[1] or a.strides[-1] != 4:
            return False
        if a.ndim == 2 and (len(a) != len(x) or a.strides[0] % 4):
            return False
    return True


def _decode_torch(block, gain, offset, out):
    """torch's vectorised cast, multiply and add (the same float32 operations as numpy's,
    about twice as fast as its buffered casting multiply); a gain of 1 or an offset of -0.0
    everywhere is not applied (``x * 1`` and ``x + -0.0`` are ``x``)."""
    import torch

    res = torch.from_numpy(out)
    res.copy_(torch.from_numpy(np.require(block, requirements="W")))  # exact int -> float32
    if not (gain == 1).all():
        res.mul_(torch.from_numpy(np.require(gain[..., None], np.float32, "W")))
    if np.any(offset) or not np.signbit(offset).all():
        res.add_(torch.from_numpy(np.require(offset[..., None], np.float32, "W")))
    return out
