"""Windowing: where windows start and what label each carries.

A windower turns one (preprocessed) :class:`~biosig.signal.recording.Recording` and its index entry
into rows ``{"start": sample, "label": ..., "onset": seconds, ...}``; the cache cuts the data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from biosig._checks import number
from biosig.errors import ConfigError
from biosig.signal.recording import Recording


def window_block(data: np.ndarray, starts, n_times: int) -> np.ndarray:
    """The windows ``data[:, s : s + n_times]`` for ``s`` in ``starts`` as one C-contiguous
    ``(n, C, n_times)`` array, float32 (integer ``data``: its own dtype): a single strided copy
    when the starts are evenly spaced (fixed-length windows), else one copy per window."""
    starts = check_starts(starts, n_times, data.shape[1])
    dtype = data.dtype if data.dtype.kind in "iu" else np.float32
    out = np.empty((len(starts), data.shape[0], n_times), dtype=dtype)
    if len(starts) == 0:
        return out
    step = int(starts[1] - starts[0]) if len(starts) > 1 else 1
    if step > 0 and np.array_equal(np.diff(starts), np.full(len(starts) - 1, step)):
        src = data[:, int(starts[0]):]
        view = np.lib.stride_tricks.as_strided(
            src, (len(starts), data.shape[0], n_times),
            (step * src.strides[1], src.strides[0], src.strides[1]), writeable=False,
        )  # fmt: skip
        np.copyto(out, view, casting="same_kind")
    else:
        for i, s in enumerate(starts.tolist()):
            out[i] = data[:, s : s + n_times]
    return out


def check_starts(starts, n_times: int, total: int) -> np.ndarray:
    """``starts`` as int64, checked: every window ``[s, s + n_times)`` lies in ``total`` samples."""
    starts = np.asarray(starts, dtype=np.int64)
    if len(starts) and (starts.min() < 0 or starts.max() + n_times > total):
        raise ValueError(f"windows [{starts.min()}, {starts.max() + n_times}) outside the "
                         f"record's {total} samples")  # fmt: skip
    return starts


class Windower:
    """Base of windowers: ``__call__(rec, ref) -> (rows, n_skipped)``, ``n_times``, ``params``,
    ``stride_s``."""

    #: seconds between the starts of consecutive windows; None for windows placed on events
    stride_s: float | None = None


@dataclass
class EventWindows(Windower):
    """Windows ``[onset + tmin, onset + tmax)`` around annotations named in ``mapping``.

    ``mapping`` maps annotation descriptions to integer labels. ``include_end=True`` keeps one
    more sample (MOABB-style epochs: 4 s at 250 Hz -> 1001 samples). Windows that would run past
    the recording are dropped and counted (``skipped_out_of_bounds`` in the cache stats). Windows
    come in onset order whatever the order of the annotations (TUEV's ``.rec`` rows are not),
    so the cache order within a record is chronological (online alignment relies on it).
    """

    tmin: float = 0.0
    tmax: float = 4.0
    mapping: dict[str, int] = field(default_factory=dict)
    include_end: bool = False

    def __post_init__(self):
        name = type(self).__name__
        number(f"{name}.tmin", self.tmin)
        number(f"{name}.tmax", self.tmax)
        if self.tmax <= self.tmin:
            raise ConfigError(f"{name}: tmax ({self.tmax}) must exceed tmin ({self.tmin})")
        if not isinstance(self.mapping, dict) or not self.mapping:
            raise ConfigError(f"{name}.mapping is empty: name the events that make windows "
                              "(a dict of annotation description -> class index)")
        for desc, label in self.mapping.items():
            number(f"{name}.mapping[{desc!r}]", label, ge=0, integer=True)

    def params(self) -> dict:
        return {"windower": "EventWindows", "order": "onset", **asdict(self)}

    def n_times(self, sfreq: float) -> int:
        return int(round((self.tmax - self.tmin) * sfreq)) + int(self.include_end)

    def __call__(self, rec: Recording, ref: dict) -> tuple[list[dict], int]:
        n = self.n_times(rec.sfreq)
        shift = float(rec.meta.get("edge_offset_s", 0.0))  # onsets on the axis before ExtendEdges
        rows, skipped = [], 0
        ann = rec.annotations
        for k in np.argsort(np.asarray(ann.onset, dtype=float), kind="stable"):
            onset, desc = ann.onset[k], ann.description[k]
            if desc not in self.mapping:
                continue
            start = int(round((onset + self.tmin) * rec.sfreq))
            if start < 0 or start + n > rec.n_times:
                skipped += 1
                continue
            rows.append(
                {
                    "start": start,
                    "label": int(self.mapping[desc]),
                    "onset": float(onset) - shift,
                    "event": str(desc),
                    **self.event_fields(rec, int(k)),
                }
            )
        return rows, skipped

    def event_fields(self, rec: Recording, k: int) -> dict:
        """Extra fields for the window of annotation ``k`` (none here; subclasses add some)."""
        return {}


@dataclass
class FixedWindows(Windower):
    """Fixed-length windows of ``length`` s every ``stride`` s; labels from the record index.

    The record's ``"label"`` (int) or ``"labels"`` (list of class indices, multi-label) entry is
    copied to every window. A record shorter than one window gives none (counted as skipped).
    After :class:`~biosig.signal.preprocessing.ExtendEdges` (``meta["edge_offset_s"]``), windows
    cover the original span only (the extension is symmetric: ``edge_offset_s`` at each end) and
    onsets are on the original time axis, as :class:`EventWindows` reports them: the rows are
    those of the unextended recording (the cache key notes it).
    """

    length: float = 10.0
    stride: float | None = None
    offset: float = 0.0

    def __post_init__(self):
        name = type(self).__name__
        number(f"{name}.length", self.length, gt=0)
        number(f"{name}.stride", self.stride, gt=0, optional=True)  # None: the length
        number(f"{name}.offset", self.offset, ge=0)

    def params(self) -> dict:
        return {"windower": "FixedWindows", "span": "original", **asdict(self)}

    def n_times(self, sfreq: float) -> int:
        return int(round(self.length * sfreq))

    @property
    def stride_s(self) -> float:
        """Seconds between the starts of consecutive windows: ``stride``, else ``length``."""
        return float(self.length if self.stride is None else self.stride)

    def __call__(self, rec: Recording, ref: dict) -> tuple[list[dict], int]:
        name = type(self).__name__
        n = self.n_times(rec.sfreq)
        if n < 1:
            raise ConfigError(f"{name}.length={self.length} s is shorter than one sample at "
                              f"{rec.sfreq:g} Hz")
        stride, key = (self.length, "length") if self.stride is None else (self.stride, "stride")
        step = int(round(stride * rec.sfreq))
        if step < 1:
            raise ConfigError(f"{name}.{key}={stride} s is shorter than one sample at "
                              f"{rec.sfreq:g} Hz")
        shift = int(round(float(rec.meta.get("edge_offset_s", 0.0)) * rec.sfreq))
        end = rec.n_times - shift  # the original span is [shift, end)
        if shift < 0 or end <= shift:
            raise ConfigError(
                f"FixedWindows: meta['edge_offset_s'] = {rec.meta.get('edge_offset_s')} s leaves "
                f"no original span in a recording of {rec.n_times} samples at {rec.sfreq:g} Hz"
            )
        first = shift + int(round(self.offset * rec.sfreq))
        starts = np.arange(first, end - n + 1, step)
        label = ref.get("labels", ref.get("label", -1))
        rows = [
            {"start": int(s), "label": label, "onset": (s - shift) / rec.sfreq} for s in starts
        ]
        return rows, int(len(starts) == 0)
