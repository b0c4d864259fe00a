"""Signal quality while a cache is built: per-channel NaN / flat / clipped counts, dead channels.

A channel is *dead* in a record when none of its samples is finite or all its finite samples
are equal (a disconnected or zeroed lead). What happens to a dead channel that reaches the
cache is the ``dead_channels`` policy of the cache:

- ``"fail"`` (default): raise :class:`~biosig.errors.ChannelError` naming the record, the
  channel and the remedies;
- ``"drop"``: leave the record out (its windows are not cached), counted in the build stats;
- ``"interpolate"``: replace the channel by the inverse-distance weighted mean of its 4 nearest
  working channels on the standard 10-05 head (positions from MNE's ``colin27_1005``; names
  such as ``EEG Fp1``, ``EEG FP1-REF`` or ``Fp1`` are recognised). A channel without a known
  position cannot be interpolated and raises.

Dead channels that the preprocessing removes (e.g. ``PickChannels``) never trigger the policy;
they are counted in the stats only.
"""

from __future__ import annotations

import re

import numpy as np

from biosig.errors import ChannelError
from biosig.io._records import FileSamples

DEAD_CHANNEL_POLICIES = ("fail", "drop", "interpolate")
N_NEIGHBOURS = 4
CLIP_RUN = 3  # samples at the channel's extreme value in runs of >= 3 count as clipped
_MAX_LISTED = 100  # dead-channel events listed by name in the stats (all are counted)

_NAME = re.compile(r"^(?:EEG\s+)?([A-Za-z0-9]+?)\.*(?:-(?:REF|LE|AR|AVG))?\.*$", re.IGNORECASE)
_POSITIONS: dict[str, np.ndarray] | None = None


def channel_quality(data: np.ndarray | FileSamples) -> dict[str, np.ndarray]:
    """Per-channel counts of one ``(C, T)`` record (float, or a file's integer samples):
    ``nan`` (non-finite samples), ``clipped`` (samples in runs of >= 3 at the channel's own max
    or min), ``flat`` and ``dead`` (bool).

    A file's undecoded samples (:class:`~biosig.io._records.FileSamples`) are counted straight
    from its data records in one pass by a compiled kernel. Otherwise an all-finite record (the
    usual case: max and min are finite) skips the masking passes, and only channels that reach
    their max or min at least 3 times are searched for runs."""
    if isinstance(data, FileSamples):
        counted = data.extremes(CLIP_RUN)
        if counted is not None:
            hi, lo, clipped = counted
            flat = hi == lo  # integer samples: all finite, so dead means constant
            return {"nan": np.zeros(len(hi), np.int64), "clipped": clipped, "flat": flat,
                    "dead": flat.copy()}  # fmt: skip
        data = data.samples()
    n_times = data.shape[1]
    if data.dtype.kind in "iu" and n_times:  # a file's integer samples: all finite
        hi, lo, nan = data.max(axis=1), data.min(axis=1), np.zeros(len(data), dtype=np.int64)
    else:
        hi, lo, nan = _float_extremes(data if data.dtype.kind == "f" else data.astype(np.float32))
    flat = (hi == lo) & np.isfinite(hi)
    dead = flat | (nan == n_times)
    at_extreme = [np.count_nonzero(r == h) + np.count_nonzero(r == g)  # row by row: fast counts
                  for r, h, g in zip(data, hi, lo)]  # fmt: skip
    clipped = np.zeros(len(data), dtype=np.int64)
    rows = np.flatnonzero((np.asarray(at_extreme) >= CLIP_RUN) & ~dead)
    if rows.size:
        a = (data[rows] == hi[rows, None]) | (data[rows] == lo[rows, None])
        run = a[:, 2:] & a[:, 1:-1] & a[:, :-2]  # a run of 3 starts here
        member = np.zeros_like(a)  # every sample of every run (each run counted whole)
        for k in range(CLIP_RUN):
            member[:, k:a.shape[1] - CLIP_RUN + 1 + k] |= run
        clipped[rows] = member.sum(axis=1)
    return {"nan": nan, "clipped": clipped, "flat": flat, "dead": dead}


def _float_extremes(data: np.ndarray):
    """Per channel: max and min of the finite samples, and the count of non-finite ones."""
    n_times = data.shape[1]
    with np.errstate(invalid="ignore"):
        hi = data.max(axis=1, initial=-np.inf)  # NaN or inf anywhere shows up here
        lo = data.min(axis=1, initial=np.inf)
        if np.isfinite(hi).all() and np.isfinite(lo).all() or n_times == 0:
            return hi, lo, np.zeros(len(data), dtype=np.int64)
        finite = np.isfinite(data)
        nan = n_times - finite.sum(axis=1)
        hi = np.where(finite, data, -np.inf).max(axis=1, initial=-np.inf)
        lo = np.where(finite, data, np.inf).min(axis=1, initial=np.inf)
    return hi, lo, nan


#: the per-channel counts of :class:`ChannelCounts`, in the order of its columns
CHANNEL_FIELDS = ("records", "nan_samples", "clipped_samples", "flat_records", "dead_records")


class ChannelCounts:
    """Per-channel quality counts summed over records: an int64 row of :data:`CHANNEL_FIELDS`
    per channel name, in the order the names first came. Records with the channels of the one
    before add their counts in one array operation; :meth:`as_dict` gives the
    ``stats["channels"]`` of ``params.json``, ``{name: {field: count}}``."""

    def __init__(self):
        self.rows: dict[str, int] = {}
        self.counts = np.zeros((0, len(CHANNEL_FIELDS)), np.int64)
        # the last names added, their rows, and whether those rows are all different
        self._last: tuple = ((), np.zeros(0, np.intp), True)

    def add(self, names, counts: np.ndarray) -> None:
        """Add ``counts`` (``(len(names), len(CHANNEL_FIELDS))``) to the rows of ``names``."""
        names = tuple(names)
        if names != self._last[0]:
            at = [self.rows.setdefault(n, len(self.rows)) for n in names]
            if len(self.rows) > len(self.counts):
                grown = np.zeros((len(self.rows), len(CHANNEL_FIELDS)), np.int64)
                grown[: len(self.counts)] = self.counts
                self.counts = grown
            self._last = (names, np.asarray(at, np.intp), len(set(at)) == len(at))
        _, at, unique = self._last
        if unique:
            self.counts[at] += counts
        else:  # a name given twice counts twice
            np.add.at(self.counts, at, counts)

    def merge(self, other: "ChannelCounts | dict") -> None:
        """Add another total, or the ``{name: {field: count}}`` form of :meth:`as_dict`."""
        if isinstance(other, dict):
            names = list(other)
            counts = [[row.get(f, 0) for f in CHANNEL_FIELDS] for row in other.values()]
        else:
            names, counts = list(other.rows), other.counts
        self.add(names, np.asarray(counts, np.int64).reshape(len(names), len(CHANNEL_FIELDS)))

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {name: dict(zip(CHANNEL_FIELDS, row))
                for name, row in zip(self.rows, self.counts.tolist())}  # fmt: skip


def add_quality(stats: dict, ch_names, q: dict) -> None:
    """Add one record's :func:`channel_quality` to ``stats["channels"]`` (a
    :class:`ChannelCounts`)."""
    counts = np.stack([np.ones(len(ch_names), np.int64), q["nan"], q["clipped"], q["flat"],
                       q["dead"]], axis=1)  # fmt: skip
    stats.setdefault("channels", ChannelCounts()).add(ch_names, counts)


def note_dead(stats: dict, where: str, channels: list[str], action: str) -> None:
    stats[f"dead_channel_{action}"] = stats.get(f"dead_channel_{action}", 0) + 1
    listed = stats.setdefault("dead_channel_events", [])
    if len(listed) < _MAX_LISTED:
        listed.append([where, channels, action])


def electrode(name: str) -> str | None:
    """``"EEG FP1-REF"``, ``"EEG Fp1"``, ``"Fc5."`` -> the upper-case 10-05 name, or None."""
    m = _NAME.match(name.strip())
    return m.group(1).upper() if m else None


def _positions() -> dict[str, np.ndarray]:
    global _POSITIONS
    if _POSITIONS is None:
        import mne

        names = mne.channels.get_builtin_montages()
        name = "colin27_1005" if "colin27_1005" in names else "standard_1005"  # MNE >= 1.13
        pos = mne.channels.make_standard_montage(name).get_positions()["ch_pos"]
        _POSITIONS = {k.upper(): np.asarray(v, float) for k, v in pos.items()}
        # TUH / old 10-20 names
        for old, new in (("T3", "T7"), ("T4", "T8"), ("T5", "P7"), ("T6", "P8")):
            _POSITIONS.setdefault(old, _POSITIONS[new])
    return _POSITIONS


def interpolate_dead(data: np.ndarray, ch_names, dead: np.ndarray, where: str) -> np.ndarray:
    """``data`` with each dead channel replaced by the inverse-distance weighted mean of its
    :data:`N_NEIGHBOURS` nearest working channels with a known 10-05 position."""
    pos = _positions()
    xyz = [pos.get(electrode(n) or "") for n in ch_names]
    good = [i for i, p in enumerate(xyz) if p is not None and not dead[i]]
    out = np.array(data, dtype=np.float32, copy=True)
    for i in np.flatnonzero(dead):
        if xyz[i] is None:
            raise ChannelError(
                f"{where}: dead channel {ch_names[i]!r} cannot be interpolated: its name is not "
                "a 10-05 electrode; use dead_channels='drop' or remove it (DropChannels)"
            )
        if len(good) < 2:
            raise ChannelError(
                f"{where}: dead channel {ch_names[i]!r} cannot be interpolated: fewer than 2 "
                "working channels with known positions"
            )
        d = np.array([np.linalg.norm(xyz[j] - xyz[i]) for j in good])
        near = np.argsort(d)[:N_NEIGHBOURS]
        w = 1.0 / np.maximum(d[near], 1e-6)
        out[i] = (w[:, None] * data[[good[k] for k in near]]).sum(axis=0) / w.sum()
    return out


def dead_reaches_cache(dead_names: list[str], out_names: list[str], out_data) -> bool:
    """Whether a raw record's dead channels survive the preprocessing: a cached channel has
    the same name, or a derived channel (``"FP1-F7"``) uses it, or the output ``out_data`` is
    not finite (None: a file's integer samples, finite)."""
    tokens = {t for n in out_names for t in [n.upper(), *re.split(r"[-\s]", n.upper())]}
    for n in dead_names:
        e = electrode(n)
        if n.upper() in tokens or (e is not None and e in tokens):
            return True
    return out_data is not None and not np.isfinite(out_data).all()


def refuse_implausible_ecg(rec, where: str) -> None:
    """InvalidFileError naming the record and the channel when an ECG channel in mV spans more
    than :data:`biosig.signal.ecg_leads.MAX_ECG_PTP_MV` (robust: 0.5th to 99.5th percentile, on
    at most about 65,000 samples per channel, NaNs ignored): the header's gain or unit is wrong
    (µV values labelled mV gave 2034 "mV" from a PTB-XL record with its gain edited, cached
    without a word). Records without ECG channels in mV cost nothing."""
    from biosig.errors import InvalidFileError
    from biosig.signal.ecg_leads import MAX_ECG_PTP_MV, robust_ptp

    ecg = [i for i, (t, u) in enumerate(zip(rec.ch_types, rec.units))
           if t == "ecg" and u == "mV"]
    if not ecg or not rec.n_times:
        return
    ptp = robust_ptp(rec.digital.pick(ecg).decode() if rec.digital is not None
                     else rec.data[ecg])
    worst = int(np.argmax(ptp))
    if ptp[worst] > MAX_ECG_PTP_MV:
        raise InvalidFileError(
            where, f"ECG channel {rec.ch_names[ecg[worst]]!r} spans {ptp[worst]:.4g} mV peak to "
                   f"peak (robust), but an ECG spans a few mV: the header's gain or unit is "
                   f"likely wrong (µV values labelled mV?)")
