"""Decode the data records of an EDF/BDF/GDF file straight into float32 physical values.

One read of the data section, no float64 intermediate: every kept channel is sliced out of
the record matrix (``n_records x record_bytes``), cast to float32 and scaled in place with
``physical = digital * gain + offset`` (``gain = (pmax - pmin) / (dmax - dmin)``,
``offset = pmin - dmin * gain``, the EDF/GDF definition, as MNE applies it), with the unit
conversion to the Recording convention folded into ``gain`` and ``offset``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biosig.errors import InvalidFileError
from biosig.io import _gather
from biosig.signal.recording import take_rows
from biosig.signal.windows import check_starts, window_block

__all__ = [
    "ChannelLayout",
    "FileSamples",
    "always_finite",
    "decode_channels",
    "read_data_section",
    "unique_names",
]

#: numpy dtype of a 24-bit little-endian integer sample (BDF), decoded by hand.
INT24 = "int24"
_INT16 = np.dtype("<i2")


@dataclass(frozen=True)
class ChannelLayout:
    """Where one channel lives inside a data record and how to scale it."""

    byte_offset: int  # start of the channel's samples inside a record
    n_samples: int  # samples per record
    dtype: np.dtype | str  # numpy dtype of a sample, or INT24
    gain: float
    offset: float


def read_data_section(path: Path, header_bytes: int, n_records: int, record_bytes: int):
    """The data records as a ``(n_records, record_bytes)`` uint8 array (one read)."""
    count = n_records * record_bytes
    with open(path, "rb") as fid:
        fid.seek(header_bytes)
        buf = np.fromfile(fid, dtype=np.uint8, count=count)
    if buf.size != count:
        raise InvalidFileError(
            path, f"file ended after {buf.size} of {count} data bytes: truncated file"
        )
    return buf.reshape(n_records, record_bytes)


def _digital(records: np.ndarray, ch: ChannelLayout) -> np.ndarray:
    """The channel's digital samples, ``(n_records, n_samples)`` (a view where possible)."""
    if ch.dtype == INT24:
        raw = records[:, ch.byte_offset : ch.byte_offset + 3 * ch.n_samples]
        raw = raw.reshape(len(records), ch.n_samples, 3)
        out = raw[..., 0].astype(np.int32)
        out |= raw[..., 1].astype(np.int32) << 8
        out |= raw[..., 2].view(np.int8).astype(np.int32) << 16
        return out
    dt = np.dtype(ch.dtype)
    raw = records[:, ch.byte_offset : ch.byte_offset + dt.itemsize * ch.n_samples]
    return raw.view(dt)  # the last axis is contiguous, so numpy can view it in place


def decode_channels(records: np.ndarray, channels: list[ChannelLayout]) -> np.ndarray:
    """float32 ``(len(channels), n_records * n_samples)`` physical values of ``channels``,
    which must share one number of samples per record."""
    n_rec = len(records)
    spr = {c.n_samples for c in channels}
    if len(spr) != 1:  # pragma: no cover - callers group channels by rate
        raise ValueError(f"channels of different rates {sorted(spr)} decoded together")
    n = spr.pop()
    out = np.empty((len(channels), n_rec * n), dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):  # beyond float32: inf, counted later
        for row, ch in zip(out, channels):
            dst = row.reshape(n_rec, n)
            np.multiply(_digital(records, ch), np.float32(ch.gain), out=dst, casting="unsafe")
            if ch.offset:
                dst += np.float32(ch.offset)
    return out


class FileSamples:
    """A file's 16-bit integer samples of some channels, not yet decoded: the data records
    (``n_records x record_bytes``, shared, never written) and each channel's
    :class:`ChannelLayout`. A :class:`~biosig.signal.recording.Recording` holding one decodes it
    on first use of ``data`` (:meth:`decode`, the same float32 values as
    :func:`decode_channels`); until then channel picks only select layouts, and a window cache of
    ``dtype="int16"`` stores :meth:`samples` with :meth:`gain` and :meth:`offset`."""

    def __init__(self, records: np.ndarray, channels: list[ChannelLayout], gathered=None):
        if not all(c.dtype == _INT16 for c in channels) or len({c.n_samples for c in channels}) > 1:
            raise ValueError("FileSamples holds 16-bit little-endian channels of one rate")
        self.records, self.channels = records, list(channels)
        self._gathered = gathered  # samples() once computed (read-only)

    @property
    def spr(self) -> int:
        """Samples per data record (every channel's)."""
        return self.channels[0].n_samples if self.channels else 0

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.channels), len(self.records) * self.spr

    def pick(self, index) -> "FileSamples":
        index = list(index)
        gathered = None if self._gathered is None else take_rows(self._gathered, index)
        return FileSamples(self.records, [self.channels[i] for i in index], gathered)

    def decode(self) -> np.ndarray:
        """float32 physical values ``(C, T)``."""
        if not self.channels:
            return np.zeros(self.shape, np.float32)
        return decode_channels(self.records, self.channels)

    def samples(self) -> np.ndarray:
        """The integer samples ``(C, T)`` int16, gathered from the records on the first call
        (read-only; picks of this object reuse them)."""
        if self._gathered is None:
            n_rec, n_chans, spr = len(self.records), len(self.channels), self.spr
            out = np.empty((n_chans, n_rec, spr), np.int16)
            for lo, hi in _adjacent_runs(self.channels):  # one transposing copy per run
                a = self.channels[lo].byte_offset
                run = self.records[:, a : a + 2 * spr * (hi - lo)].view(_INT16)
                out[lo:hi] = run.reshape(n_rec, hi - lo, spr).transpose(1, 0, 2)
            out = out.reshape(self.shape)
            out.flags.writeable = False
            self._gathered = out
        return self._gathered

    def _offsets(self) -> list[int]:
        return [c.byte_offset for c in self.channels]

    def windows(self, starts, n_times: int, decode: bool = False) -> np.ndarray:
        """int16 windows ``(len(starts), C, n_times)``, window ``k`` being ``samples()[:, s :
        s + n_times]`` for ``s = starts[k]``; ``decode``: float32 windows of :meth:`decode`'s
        values instead (bit for bit). Cut straight from the data records by the compiled kernel
        (:mod:`biosig.io._gather`), else from :meth:`samples`."""
        starts = check_starts(starts, n_times, self.shape[1])
        scale = (self.gain(), self.offset()) if decode else None
        block = _gather.cut_windows(self.records, self._offsets(), self.spr, starts, n_times,
                                    scale)  # fmt: skip
        if block is not None:
            return block
        block = window_block(self.samples(), starts, n_times)
        if decode:  # float32 arithmetic, as the decoder: int16 -> float32 is exact
            block = block.astype(np.float32)
            block *= scale[0][:, None]
            block += scale[1][:, None]
        return block

    def extremes(self, run: int):
        """Per channel ``(max, min, clipped)`` of the samples, ``clipped`` counting those in
        runs of ``>= run`` at the channel's max or min (0 for a constant channel), counted
        straight from the data records by the compiled kernel; ``None`` without it (then count
        on :meth:`samples`)."""
        return _gather.channel_extremes(self.records, self._offsets(), self.spr, run)

    def gain(self) -> np.ndarray:
        """float32 ``(C,)``: ``decode() == samples() * gain + offset`` bit for bit in float32,
        channel by channel."""
        return np.array([c.gain for c in self.channels], np.float32)

    def offset(self) -> np.ndarray:
        """float32 ``(C,)``; an offset the decoder does not add is -0.0, which adds nothing
        (``x + -0.0`` is ``x``, even for ``x = -0.0``)."""
        return np.array([c.offset if c.offset else -0.0 for c in self.channels], np.float32)


def _adjacent_runs(channels: list[ChannelLayout]) -> list[tuple[int, int]]:
    """``[lo, hi)`` ranges of 16-bit channels that lie one after another in a data record (each
    starting where the previous one's samples end), in order: usually one run for a whole file."""
    runs, lo = [], 0
    for i in range(1, len(channels) + 1):
        prev = channels[i - 1]
        if i == len(channels) or (
            channels[i].byte_offset != prev.byte_offset + 2 * prev.n_samples
        ):
            runs.append((lo, i))
            lo = i
    return runs


def always_finite(channels: list[ChannelLayout]) -> bool:
    """True when every value the channels can decode to is a finite float32 (integer samples,
    ``|gain| * max|digital| + |offset|`` below the float32 range): then the decoded data need
    no scan for NaN/inf."""
    for ch in channels:
        top = _sample_top(ch.dtype)
        if top is None or not (math.isfinite(ch.gain) and math.isfinite(ch.offset)):
            return False
        if abs(ch.gain) * top + abs(ch.offset) >= _FLOAT32_HALF:
            return False
    return True


_FLOAT32_HALF = float(np.finfo(np.float32).max) / 2


@functools.lru_cache(maxsize=None)
def _sample_top(dtype) -> float | None:
    """The largest magnitude of an integer sample type (None: not an integer type)."""
    if dtype == INT24:
        return 2.0**23
    dtype = np.dtype(dtype)
    if dtype.kind not in "iu":
        return None
    info = np.iinfo(dtype)
    return float(max(abs(int(info.min)), int(info.max)))


def gain_offset(pmin, pmax, dmin, dmax) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel ``(gain, offset)`` of the linear digital -> physical map."""
    pmin, pmax = np.asarray(pmin, np.float64), np.asarray(pmax, np.float64)
    dmin, dmax = np.asarray(dmin, np.float64), np.asarray(dmax, np.float64)
    gain = (pmax - pmin) / (dmax - dmin)
    return gain, pmin - dmin * gain


def unique_names(labels: list[str]) -> list[str]:
    """Channel names made unique as MNE does: the k-th copy (from 0) of a repeated label
    becomes ``label-k`` (or ``label-a``... when that name is taken)."""
    names = list(labels)
    counts: dict[str, int] = {}
    for n in names:
        counts[n] = counts.get(n, 0) + 1
    for stem in [n for n, c in counts.items() if c > 1]:
        for k, i in enumerate([i for i, n in enumerate(names) if n == stem]):
            for suffix in [str(k), *"abcdefghijklmnopqrstuvwxyz"]:
                if f"{stem}-{suffix}" not in names:
                    names[i] = f"{stem}-{suffix}"
                    break
    return names
