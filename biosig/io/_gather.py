"""Straight from an EDF file's data records (``n_records x record_bytes``, each channel a chunk
of ``spr`` 16-bit samples per record) to what a window cache keeps, without first gathering the
channels into a ``(C, T)`` array: per-channel extremes and clipping counts in one pass over the
records, and the windows ``(n, C, n_times)`` copied chunk by chunk (or decoded to float32 on the
way, for a float32 cache).

A small C++ kernel (:mod:`biosig._native`) does both. Without a C++ compiler the functions return
``None`` (after the loader's one warning) and the caller runs its numpy path on
:meth:`~biosig.io._records.FileSamples.samples`: the same values, in 1.1-1.9x the time (min /
median of interleaved rounds on 32 real EDFs, ``benchmarks/bench_cold_build.py --gather 9``).
"""

from __future__ import annotations

import ctypes

import numpy as np

from biosig._native import NativeLibrary

__all__ = ["channel_extremes", "cut_windows"]

SOURCE = r"""
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

static inline const int16_t* chunk(const uint8_t* rec, int64_t rb, int64_t r, int64_t off) {
  return reinterpret_cast<const int16_t*>(rec + r * rb + off);
}

// Per channel c (the n_rec chunks of spr samples at byte r * rb + off[c] of the records): its
// max hi[c] and min lo[c], and clipped[c], the samples in runs of >= run samples at hi or lo
// (0 for a constant channel). One pass in file order: a chunk's own max and min (vectorised),
// and its samples at them counted only when they reach the channel's so far; the runs are
// searched only in channels with >= run samples at their extremes, sample by sample only in
// the chunks that hold one (a vectorised test first: a chunk without one ends any run).
extern "C" void extremes_i16(const uint8_t* rec, int64_t n_rec, int64_t rb, const int64_t* off,
                             int64_t C, int64_t spr, int64_t run, int16_t* hi, int16_t* lo,
                             int64_t* clipped) {
  std::vector<int64_t> n_hi(C, 0), n_lo(C, 0);
  for (int64_t c = 0; c < C; ++c) hi[c] = INT16_MIN, lo[c] = INT16_MAX;
  for (int64_t r = 0; r < n_rec; ++r) {
    for (int64_t c = 0; c < C; ++c) {
      const int16_t* x = chunk(rec, rb, r, off[c]);
      int16_t h = INT16_MIN, l = INT16_MAX;
      for (int64_t t = 0; t < spr; ++t) h = std::max(h, x[t]), l = std::min(l, x[t]);
      if (h >= hi[c]) {
        int64_t n = 0;
        for (int64_t t = 0; t < spr; ++t) n += x[t] == h;
        n_hi[c] = h > hi[c] ? n : n_hi[c] + n;
        hi[c] = h;
      }
      if (l <= lo[c]) {
        int64_t n = 0;
        for (int64_t t = 0; t < spr; ++t) n += x[t] == l;
        n_lo[c] = l < lo[c] ? n : n_lo[c] + n;
        lo[c] = l;
      }
    }
  }
  for (int64_t c = 0; c < C; ++c) {
    clipped[c] = 0;
    if (hi[c] == lo[c] || n_hi[c] + n_lo[c] < run) continue;
    int64_t length = 0;  // of the run of samples at an extreme so far, across chunks
    for (int64_t r = 0; r < n_rec; ++r) {
      const int16_t* x = chunk(rec, rb, r, off[c]);
      const int16_t h = hi[c], l = lo[c];
      int any = 0;
      for (int64_t t = 0; t < spr; ++t) any |= (x[t] == h) | (x[t] == l);
      if (!any) {
        if (length >= run) clipped[c] += length;
        length = 0;
        continue;
      }
      for (int64_t t = 0; t < spr; ++t) {
        if (x[t] == h || x[t] == l) {
          ++length;
        } else {
          if (length >= run) clipped[c] += length;
          length = 0;
        }
      }
    }
    if (length >= run) clipped[c] += length;
  }
}

// out[k, c, :] = the samples starts[k] .. starts[k] + T of channel c, chunk by chunk: copied
// (int16 out), or decoded as float(x) * gain[c] + offset[c] in float32 (never an FMA:
// -ffp-contract=off), bit for bit the reader's decode.
template <typename Out>
static void cut(const uint8_t* rec, int64_t rb, const int64_t* off, int64_t C, int64_t spr,
                const int64_t* starts, int64_t n, int64_t T, const float* gain,
                const float* offset, Out* out) {
  for (int64_t k = 0; k < n; ++k) {
    for (int64_t c = 0; c < C; ++c) {
      Out* dst = out + (k * C + c) * T;
      for (int64_t t = starts[k], left = T; left > 0;) {
        const int64_t r = t / spr, i = t % spr, m = std::min(spr - i, left);
        const int16_t* src = chunk(rec, rb, r, off[c]) + i;
        if constexpr (sizeof(Out) == 2) {
          std::memcpy(dst, src, 2 * m);
        } else {
          const float g = gain[c], o = offset[c];
          for (int64_t j = 0; j < m; ++j) dst[j] = static_cast<float>(src[j]) * g + o;
        }
        dst += m, t += m, left -= m;
      }
    }
  }
}

extern "C" void windows_i16(const uint8_t* rec, int64_t rb, const int64_t* off, int64_t C,
                            int64_t spr, const int64_t* starts, int64_t n, int64_t T,
                            int16_t* out) {
  cut(rec, rb, off, C, spr, starts, n, T, nullptr, nullptr, out);
}

extern "C" void windows_f32(const uint8_t* rec, int64_t rb, const int64_t* off, int64_t C,
                            int64_t spr, const int64_t* starts, int64_t n, int64_t T,
                            const float* gain, const float* offset, float* out) {
  cut(rec, rb, off, C, spr, starts, n, T, gain, offset, out);
}
"""

FLAGS = ["-O3", "-march=native", "-ffp-contract=off", "-std=c++17", "-fPIC"]
_P, _N = ctypes.c_void_p, ctypes.c_int64
_LIB = NativeLibrary(
    "edf_gather", SOURCE, FLAGS,
    {"extremes_i16": ([_P, _N, _N, _P, _N, _N, _N, _P, _P, _P], None),
     "windows_i16": ([_P, _N, _P, _N, _N, _P, _N, _N, _P], None),
     "windows_f32": ([_P, _N, _P, _N, _N, _P, _N, _N, _P, _P, _P], None)},
    fallback="a cache build gathers the channels and counts with numpy instead, up to about "
             "twice the time.",
)  # fmt: skip


def _layout(records: np.ndarray, offsets) -> np.ndarray | None:
    """The channels' byte offsets as int64 when the kernel can read the records (C-contiguous
    bytes, 16-bit aligned), else None."""
    if records.dtype != np.uint8 or records.ndim != 2 or not records.flags.c_contiguous:
        return None
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    if records.ctypes.data % 2 or records.shape[1] % 2 or (offsets % 2).any():
        return None
    return offsets


def channel_extremes(records: np.ndarray, offsets, spr: int, run: int):
    """``(hi, lo, clipped)`` per channel (int16, int16, int64) of the 16-bit channels at byte
    ``offsets`` of every data record, ``spr`` samples each: max, min, and the samples in runs of
    ``>= run`` at the max or min (0 for a constant channel); ``None`` without the kernel."""
    offsets = _layout(records, offsets)
    lib = _LIB.load() if offsets is not None and len(records) and spr else None
    if lib is None:
        return None
    n = len(offsets)
    hi, lo, clipped = np.empty(n, np.int16), np.empty(n, np.int16), np.empty(n, np.int64)
    lib.extremes_i16(records.ctypes.data, len(records), records.shape[1], offsets.ctypes.data,
                     n, spr, run, hi.ctypes.data, lo.ctypes.data, clipped.ctypes.data)  # fmt: skip
    return hi, lo, clipped


def cut_windows(records: np.ndarray, offsets, spr: int, starts: np.ndarray, n_times: int,
                scale=None):  # fmt: skip
    """int16 windows ``(len(starts), C, n_times)`` of the channels at byte ``offsets``, cut
    straight from the data records (``starts`` int64, already checked to lie inside the
    record); with ``scale = (gain, offset)`` (float32 ``(C,)`` each) decoded into float32
    windows instead, ``x * gain + offset`` per channel. ``None`` without the kernel."""
    offsets = _layout(records, offsets)
    lib = _LIB.load() if offsets is not None else None
    if lib is None:
        return None
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    shape = (len(starts), len(offsets), n_times)
    args = (records.ctypes.data, records.shape[1], offsets.ctypes.data, len(offsets), spr,
            starts.ctypes.data, len(starts), n_times)  # fmt: skip
    if scale is None:
        out = np.empty(shape, np.int16)
        if out.size:
            lib.windows_i16(*args, out.ctypes.data)
        return out
    gain, offset = (np.ascontiguousarray(a, dtype=np.float32) for a in scale)
    out = np.empty(shape, np.float32)
    if out.size:
        lib.windows_f32(*args, gain.ctypes.data, offset.ctypes.data, out.ctypes.data)
    return out
