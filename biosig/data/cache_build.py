"""Building one window-cache folder: records processed serially or in worker processes, written
in record order as they come (memory bounded by the records in flight, whatever the corpus size).

Each record runs through :func:`process_record` (load, signal-quality stats, dead-channel policy,
preprocessing, windowing with one strided copy, NaN policy, cast to the storage dtype);
:class:`CacheWriter` appends its labels to ``y`` and its metadata rows to a line file, and hands
its windows to a writer thread that appends them to ``X``, updating a CRC-32 as it goes (while
the next record is read). Syncing to disk comes after the build (:mod:`biosig.data.durable`).
Workers run the same function and the parent writes their results in record order, so a
parallel build gives the same bytes as a serial one.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import multiprocessing as mp
import os
import queue
import _thread
import sys
import time
from collections import deque
from contextlib import nullcontext
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from biosig.data import quality
from biosig.data._crc import crc32
from biosig.errors import (
    BiosigError,
    ChannelError,
    ConfigError,
    InvalidFileError,
    SamplingRateError,
    channel_difference,
)
from biosig.signal.preprocessing import apply_steps, interpolate_gaps
from biosig.signal.recording import IDENTIFYING_KEYS
from biosig.signal.windows import window_block

log = logging.getLogger("biosig.cache")

NAN_POLICIES = ("reject", "interpolate", "raise")
DTYPES = {"float32": ("X.f32", np.float32), "float16": ("X.f16", np.float16),
          "int16": ("X.i16", np.int16)}  # fmt: skip
SCALES = "scales.f32"  # int16 caches: (N, 2, C) float32 gain and offset of each window's channels
RECORDS_PER_WORKER = 16  # default: one worker per 16 records (a worker's start-up costs ~1-2 s)
_META_MEMORY = 1 << 24  # bytes of metadata lines a build keeps in memory before spilling to disk
_ROW_KEYS = frozenset({"start", "label", "onset", "event"})  # window-row fields, fixed meaning


@dataclass
class BuildOptions:
    """Everything besides the source that decides a record's cached bytes."""

    preprocessing: list
    windows: object
    nan_policy: str = "reject"
    dtype: str = "float32"
    dead_channels: str = "fail"

    def __post_init__(self):
        for name, value, allowed in (
            ("nan_policy", self.nan_policy, NAN_POLICIES),
            ("dtype", self.dtype, tuple(DTYPES)),
            ("dead_channels", self.dead_channels, quality.DEAD_CHANNEL_POLICIES),
        ):
            if value not in allowed:
                raise ConfigError(f"cache {name} must be one of {allowed}, got {value!r}")
        if self.dtype == "int16":
            changing = sample_changing(self.preprocessing)
            if changing or self.dead_channels == "interpolate":
                what = f"the steps {changing}" if changing else "dead_channels='interpolate'"
                raise ConfigError(
                    f"cache dtype='int16' stores the files' own 16-bit samples, which {what} "
                    "would change; only channel picks, drops and renames (PickChannels, "
                    "DropChannels, RenameChannels) keep them: use dtype='float32' (or 'float16')"
                )


def sample_changing(steps) -> list[str]:
    """Names of the steps that change a file's samples (all but ``keeps_samples`` ones): an
    int16 cache refuses them."""
    return [type(s).__name__ for s in steps if not getattr(s, "keeps_samples", False)]


@dataclass
class RecordResult:
    """What one record contributes to a cache."""

    block: np.ndarray | None  # (n, C, T) in the storage dtype, or None
    labels: list
    columns: list[str]  # metadata columns of the record's windows
    values: list[list]  # one metadata row per window
    stats: dict = field(default_factory=dict)
    ch_names: list | None = None
    sfreq: float | None = None
    n_times: int | None = None
    where: str = ""
    scales: np.ndarray | None = None  # int16 storage: (n, 2, C) float32 gain and offset


def meta_fields(ref: dict) -> dict:
    leaked = IDENTIFYING_KEYS.intersection(k.lower() for k in ref)
    if leaked:
        raise BiosigError(
            f"record index or window carries identifying fields {sorted(leaked)}; "
            "they must never reach a cache"
        )
    return {
        k: (v.item() if isinstance(v, np.generic) else v)
        for k, v in ref.items()
        if k not in ("label", "labels") and np.isscalar(v)
    }


def _dead_channel_policy(raw, rec, ref, opts: BuildOptions, q, stats, where):
    """Apply ``opts.dead_channels`` to the raw record's dead channels that reach the cache;
    returns the preprocessed record, or None when the record is dropped."""
    dead = [n for n, d in zip(raw.ch_names, q["dead"]) if d]
    if not dead or not quality.dead_reaches_cache(
        dead, rec.ch_names, rec.data if rec.digital is None else None
    ):
        return rec
    if opts.dead_channels == "fail":
        raise ChannelError(
            f"{where}: channel(s) {dead} are dead (no finite sample, or constant) and reach the "
            "cache; choose the cache's dead_channels='interpolate' (from neighbouring "
            "electrodes) or 'drop' (leave such records out), or remove the channel "
            "(DropChannels)"
        )
    if opts.dead_channels == "drop":
        quality.note_dead(stats, where, dead, "drop")
        return None
    fixed = raw.copy(data=quality.interpolate_dead(raw.data, raw.ch_names, q["dead"], where))
    quality.note_dead(stats, where, dead, "interpolate")
    return apply_steps(fixed, opts.preprocessing)


def process_record(source, opts: BuildOptions, ref: dict) -> RecordResult:
    """One record's windows, labels, metadata rows and stats (run in the parent or a worker)."""
    stats = {"records": 1, "nan_rejected": 0, "nan_interpolated": 0, "skipped_out_of_bounds": 0}
    raw = source.load(ref)
    where = str(raw.meta.get("source", ref.get("record")))
    int16 = opts.dtype == "int16"
    if int16 and raw.digital is None:
        raise ConfigError(
            f"{where}: cache dtype='int16' stores a file's own 16-bit samples, and this record "
            "came decoded from its loader (only EDF files keep them, not BDF, EDF+D, GDF or "
            "WFDB, and only while the loader just picks or renames channels); use "
            "dtype='float32' (or 'float16')"
        )
    # signal quality from the file's own samples when the reader kept them (the same stats for
    # every dtype), else from the decoded values
    q = quality.channel_quality(raw.digital if raw.digital is not None else np.asarray(raw.data))
    quality.add_quality(stats, raw.ch_names, q)
    quality.refuse_implausible_ecg(raw, where)
    rec = apply_steps(raw, opts.preprocessing)
    rec = _dead_channel_policy(raw, rec, ref, opts, q, stats, where)
    n_times = opts.windows.n_times(rec.sfreq) if rec is not None else None
    out = RecordResult(None, [], [], [], stats, where=where)
    if rec is None:
        return out
    out.ch_names, out.sfreq, out.n_times = list(rec.ch_names), float(rec.sfreq), n_times
    digital = rec.digital  # the file's own samples when the steps kept them undecoded
    if int16 and digital is None:  # BuildOptions admits only steps that keep them
        raise BiosigError(f"{where}: the preprocessing decoded the file's samples; "
                          "int16 storage cannot keep them")  # fmt: skip
    rows, skipped = opts.windows(rec, ref)
    stats["skipped_out_of_bounds"] += skipped
    start_in_file = float(rec.meta.get("start_in_file_s", 0.0))  # a loader's cut of its file
    for row in rows:  # onsets on the file's time axis, not the cut's
        row["onset"] = float(row["onset"]) + start_in_file
    starts = [row["start"] for row in rows]
    if digital is not None:  # windows cut from the samples (finite: no NaN scan), decoded on
        # the way unless stored as int16: the reader's float32 values
        block, keep = digital.windows(starts, n_times, decode=not int16), None
    else:
        block = window_block(rec.data, starts, n_times)
        keep = _nan_policy(block, rows, opts.nan_policy, stats, where)
    if keep is not None:
        block, rows = block[keep], [rows[k] for k in keep]
        windows = keep.tolist()
    else:
        windows = range(len(rows))
    out.labels = [row["label"] for row in rows]
    out.columns, out.values = meta_table(meta_fields(ref), rows, windows)
    if not rows:
        return out
    _, dtype = DTYPES[opts.dtype]
    if int16:
        scales = np.stack([digital.gain(), digital.offset()])
        out.block, out.scales = block, np.ascontiguousarray(np.broadcast_to(
            scales, (len(block), *scales.shape)))  # fmt: skip
        return out
    if dtype is np.float16:
        big = float(max(block.max(), -block.min()))
        if big > float(np.finfo(np.float16).max):
            raise ConfigError(
                f"{where}: |x| up to {big:.4g} overflows float16 (max 65504); use "
                "dtype='float32' or scale the signal (Scale step)"
            )
    out.block = block if dtype is np.float32 else to_float16(block)
    return out


def to_float16(block: np.ndarray) -> np.ndarray:
    """``block.astype(np.float16)``, bit for bit (round to nearest even), by torch's vectorised
    cast, several times faster than numpy's (``benchmarks/bench_cache_scale.py --only float16``)."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(block)).to(torch.float16).numpy()


def _nan_policy(block, rows, policy: str, stats: dict, where: str):
    """Apply the NaN policy to the windows with a non-finite sample (interpolated in place);
    returns the indices of the windows to keep, or None when all are kept."""
    bad = np.flatnonzero(~np.isfinite(block).all(axis=tuple(range(1, block.ndim))))
    if bad.size == 0:
        return None
    if policy == "raise":
        onset = rows[bad[0]]["onset"]
        raise InvalidFileError(where, f"non-finite samples in window at {onset:.3f} s")
    keep = np.ones(len(block), dtype=bool)
    for k in bad.tolist():
        x = interpolate_gaps(block[k], empty=None) if policy == "interpolate" else None
        if x is None:
            stats["nan_rejected"] += 1
            keep[k] = False
        else:
            block[k] = x
            stats["nan_interpolated"] += 1
    return np.flatnonzero(keep)


def meta_table(base: dict, rows: list[dict], windows) -> tuple[list[str], list[list]]:
    """The metadata rows of a record's kept windows as ``(columns, values)``: the record's
    fields, any extra window fields, then ``window`` (index among the record's windows),
    ``onset``, ``event`` and ``label`` (``";"``-joined for multi-label)."""
    fixed = ("window", "onset", "event", "label")
    extra = [meta_fields({f: v for f, v in row.items() if f not in _ROW_KEYS})
             if row.keys() - _ROW_KEYS else {} for row in rows]  # fmt: skip
    columns = list(dict.fromkeys([*base, *(f for e in extra for f in e), *fixed]))
    pos = {c: i for i, c in enumerate(columns)}
    plain = [base.get(c, "") for c in columns]
    values = []
    for k, row, more in zip(windows, rows, extra):
        if more:  # a field missing from this window's row stays empty, as in csv.DictWriter
            full = {**base, **more}
            v = [full.get(c, "") for c in columns]
        else:
            v = plain.copy()
        label = row["label"]
        v[pos["window"]], v[pos["onset"]] = k, float(row["onset"])
        v[pos["event"]] = row.get("event", "")
        v[pos["label"]] = label if np.isscalar(label) else ";".join(map(str, label))
        values.append(v)
    return columns, values


def merge_stats(total: dict, part: dict) -> None:
    """Add the build stats ``part`` (a record's, or a finished cache's from its ``params.json``)
    to ``total``; its per-channel counts add up in a :class:`~biosig.data.quality.ChannelCounts`
    (see :func:`finished_stats`)."""
    for k, v in part.items():
        if k == "channels":
            total.setdefault("channels", quality.ChannelCounts()).merge(v)
        elif k == "dead_channel_events":
            listed = total.setdefault(k, [])
            listed.extend(v[: max(0, quality._MAX_LISTED - len(listed))])
        else:
            total[k] = total.get(k, 0) + v


def finished_stats(stats: dict) -> dict:
    """``stats`` as ``params.json`` holds them: per-channel counts as ``{name: {field: n}}``."""
    channels = stats.get("channels")
    if isinstance(channels, quality.ChannelCounts):
        return {**stats, "channels": channels.as_dict()}
    return stats


def file_crc(path: Path, chunk: int = 1 << 24) -> str:
    """``"crc32:<hex>"`` of a file, read in chunks."""
    crc = 0
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            crc = crc32(block, crc)
    return f"crc32:{crc:08x}"


#: bytes per ``write`` of the windows. Given a whole block (a record's windows, often several
#: MiB) in one write, Linux (6.x, large folios) may put it in 2 MiB page-cache folios; on a VM whose
#: free memory goes back to the host (virtio-balloon free page reporting) those fault in page by
#: page: on this project's VM a 2.5 MB block took about 5 ms that way, 0.8 ms in 1 MiB pieces
WRITE_PIECE = 1 << 20


def write_pieces(fh, data: memoryview) -> None:
    """``fh.write(data)`` in pieces of :data:`WRITE_PIECE` bytes."""
    for at in range(0, len(data), WRITE_PIECE):
        fh.write(data[at : at + WRITE_PIECE])


class _XWriter:
    """Appends window blocks to the ``X`` file on a thread, keeping a CRC-32 of the bytes: file
    writes and CRC-32 release the GIL, so they overlap the next record's reading. At most 2
    blocks wait; an error is raised on the next :meth:`put` or at :meth:`close`."""

    def __init__(self, path: Path):
        self.fh = open(path, "wb")
        self.crc, self.error = 0, None
        self.queue: queue.Queue = queue.Queue(maxsize=2)
        # a bare thread (daemon, like all of them): threading.Thread.start() would wait until
        # the new thread runs, which on a busy machine costs a scheduling round; this one
        # starts while the first record is read. ``done`` is held until it ends (the join).
        self.done = _thread.allocate_lock()
        self.done.acquire()
        self.joined = False
        _thread.start_new_thread(self._main, ())

    def _main(self) -> None:
        try:
            self._run()
        finally:
            self.done.release()

    def _run(self) -> None:
        while (block := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self._write(block)
                except BaseException as err:  # noqa: BLE001 - re-raised in the building thread
                    self.error = err
            # freed once written, not when the next block comes: the next record's windows then
            # reuse its memory instead of fresh pages (a page fault each 4 KiB)
            del block

    def _write(self, block: np.ndarray) -> None:
        raw = memoryview(block).cast("B")  # no copy of the windows
        write_pieces(self.fh, raw)
        self.crc = crc32(raw, self.crc)

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def put(self, block: np.ndarray) -> None:
        """Queue ``block`` (C-contiguous) for writing; the caller does not touch it again."""
        self._raise()
        self.queue.put(np.ascontiguousarray(block))

    def close(self, check: bool = True) -> int:
        """Wait for the queued blocks and close the file; the CRC-32 of its bytes. ``check``:
        raise the writer's error (off while cleaning up after another error)."""
        if not self.joined:
            self.queue.put(None)
            self.done.acquire()
            self.joined = True
        try:
            if check:
                self._raise()
        finally:
            self.fh.close()
        return self.crc


def _npy_header(dtype, shape: tuple) -> bytes:
    """The ``.npy`` (version 1.0) header of a C-ordered array; numpy leaves room in it for any
    first-axis length, so a header written for 0 rows is rewritten in place for ``n``."""
    buf = io.BytesIO()
    npy_format.write_array_header_1_0(
        buf, {"descr": npy_format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
              "shape": shape})  # fmt: skip
    return buf.getvalue()


class CacheWriter:
    """Appends records' results into a (temporary) cache folder; :meth:`finish` completes
    ``y.npy`` (written as the labels come, its header last), writes ``meta.csv`` and returns the
    facts for ``params.json``. The metadata are kept as they come, one JSON line of
    ``(columns, rows)`` per record: in memory up to ``_META_MEMORY`` bytes, then in a line
    file."""

    def __init__(self, folder: Path, opts: BuildOptions, multilabel: bool, n_classes: int):
        self.folder, self.opts = folder, opts
        self.multilabel, self.n_classes = multilabel, n_classes
        self.x_name = DTYPES[opts.dtype][0]
        self.y_dtype, self.y_cols = (np.float32, (n_classes,)) if multilabel else (np.int64, ())
        self.fy = open(folder / "y.npy", "wb")
        self.y_header = self.fy.write(_npy_header(self.y_dtype, (0, *self.y_cols)))  # its length
        self.y_size = self.y_header  # bytes written to y.npy
        self.y_body: list[bytes] | None = []  # its label bytes while they fit in memory
        self.meta_crc = self.meta_size = None  # of meta.csv, once written
        self.fm = None  # meta.jsonl, once the lines outgrow memory
        self.meta_lines: list[str] = []
        self.meta_bytes = 0
        self.fx = _XWriter(folder / self.x_name)
        self.fs = open(folder / SCALES, "wb") if opts.dtype == "int16" else None
        self.scales_crc = self.scales_size = 0  # of the bytes written to ``fs``
        self.n = 0
        self.columns: dict[str, None] = {}
        self.ch_names = self.sfreq = self.n_times = None
        self.stats = {"records": 0, "windows": 0, "nan_rejected": 0, "nan_interpolated": 0,
                      "skipped_out_of_bounds": 0}  # fmt: skip
        self.nan_records: dict[str, list[str]] = {"rejected": [], "interpolated": []}
        self.short_records: list[str] = []  # the first 5 records with out-of-bounds windows
        self.n_short_records = 0

    def add(self, res: RecordResult) -> None:
        merge_stats(self.stats, res.stats)
        for what in self.nan_records:
            if res.stats.get(f"nan_{what}"):
                self.nan_records[what].append(res.where)
        if res.stats.get("skipped_out_of_bounds"):
            self.n_short_records += 1
            if len(self.short_records) < 5:
                self.short_records.append(res.where)
        if res.ch_names is not None:
            if self.ch_names is None:
                self.ch_names, self.sfreq, self.n_times = res.ch_names, res.sfreq, res.n_times
            elif res.ch_names != self.ch_names:
                raise ChannelError(
                    f"{res.where}: channels differ from the first record's "
                    f"({channel_difference(res.ch_names, self.ch_names)}); add a PickChannels "
                    "step naming the channels to keep"
                )
            elif abs(res.sfreq - self.sfreq) > 1e-6 * self.sfreq:
                raise SamplingRateError(
                    f"{res.where}: sampling rate {res.sfreq:g} Hz differs from the first "
                    f"record's {self.sfreq:g} Hz; add a Resample step (Resample({self.sfreq:g}))"
                )
        if res.block is None:
            return
        self.fx.put(res.block)
        res.block = None  # the writer's now (see _XWriter._run)
        if self.fs is not None:
            scales = memoryview(res.scales).cast("B")
            self.fs.write(scales)
            self.scales_crc = crc32(scales, self.scales_crc)
            self.scales_size += len(scales)
        if self.multilabel:
            y = np.zeros((len(res.labels), self.n_classes), np.float32)
            for i, lab in enumerate(res.labels):
                y[i, list(lab)] = 1.0
        else:
            y = np.asarray(res.labels, dtype=np.int64)
        y = y.tobytes()
        self.fy.write(y)
        self.y_size += len(y)
        if self.y_body is not None:  # kept for y.npy's CRC-32, up to _META_MEMORY bytes
            if self.y_size <= _META_MEMORY:
                self.y_body.append(y)
            else:
                self.y_body = None
        self.columns.update(dict.fromkeys(res.columns))
        self._add_meta(json.dumps([res.columns, res.values]) + "\n")
        self.n += len(res.values)

    def _add_meta(self, line: str) -> None:
        self.meta_bytes += len(line)
        if self.fm is None and self.meta_bytes <= _META_MEMORY:
            self.meta_lines.append(line)
            return
        if self.fm is None:
            self.fm = open(self.folder / "meta.jsonl", "w")
            self.fm.writelines(self.meta_lines)
            self.meta_lines = []
        self.fm.write(line)

    def close(self) -> None:
        self.fx.close(check=False)
        self._close_small_files()

    def _close_small_files(self) -> None:
        for fh in (self.fy, self.fm, self.fs):
            if fh is not None and not fh.closed:
                fh.close()

    def finish(self) -> dict:
        """Complete the small files while the writer thread is still writing the last windows,
        then wait for it; the facts for ``params.json``."""
        n = self.stats["windows"] = self.n
        header = _npy_header(self.y_dtype, (n, *self.y_cols))
        if len(header) != self.y_header:  # pragma: no cover - numpy leaves room for 21 digits
            raise BiosigError(f"y.npy: the header for {n} windows does not fit in place")
        self.fy.seek(0)
        self.fy.write(header)
        self._close_small_files()
        self._write_meta_csv()
        # CRC-32s and sizes of the bytes as written, not read back (labels that outgrew memory
        # are)
        self.labels = None
        if self.y_body is not None:
            y_bytes = bytearray().join([header, *self.y_body])  # as written; writable
            y_crc = f"crc32:{crc32(y_bytes):08x}"
            # the labels as np.load reads them back from y.npy (a writable array)
            self.labels = np.frombuffer(y_bytes, self.y_dtype, offset=len(header)).reshape(
                n, *self.y_cols)
        else:
            y_crc = file_crc(self.folder / "y.npy")
        checksum = {"y.npy": y_crc, "meta.csv": self.meta_crc}
        sizes = {"y.npy": self.y_size, "meta.csv": self.meta_size}
        if self.fs is not None:
            checksum[SCALES] = f"crc32:{self.scales_crc:08x}"
            sizes[SCALES] = self.scales_size
        crc = self.fx.close()
        return {
            "shape": [n, len(self.ch_names or []), self.n_times or 0],
            "ch_names": self.ch_names,
            "sfreq": self.sfreq,
            "stats": finished_stats(self.stats),
            "checksum": {self.x_name: f"crc32:{crc:08x}", **checksum},
            "sizes": sizes,
        }

    def _write_meta_csv(self) -> None:
        """The metadata lines -> ``meta.csv`` over the union of the columns (a record without a
        column leaves it empty); sets ``meta_crc`` and ``meta_size``. Lines kept in memory are
        written to a buffer first (the file in one write, its CRC-32 from the buffer); spilled
        ones straight to the file, which is then read back for its CRC-32."""
        columns = list(self.columns)
        spilled = self.fm is not None
        lines = open(self.folder / "meta.jsonl") if spilled else nullcontext(self.meta_lines)
        buf = io.BytesIO()
        # the text as open(..., "w", newline="") encodes it (the locale's encoding)
        out = open(self.folder / "meta.csv", "w", newline="") if spilled else \
            io.TextIOWrapper(buf, newline="")  # fmt: skip
        with lines as src, out as dst:
            writer = csv.writer(dst, lineterminator="\n")
            writer.writerow(columns)
            for line in src:
                cols, values = json.loads(line)
                if cols != columns:
                    at = [columns.index(c) for c in cols]
                    values = [_spread(v, at, len(columns)) for v in values]
                writer.writerows(values)
            if not spilled:
                dst.flush()
                data = buf.getvalue()
                with open(self.folder / "meta.csv", "wb") as fh:
                    fh.write(data)
                self.meta_crc, self.meta_size = f"crc32:{crc32(data):08x}", len(data)
        if spilled:
            (self.folder / "meta.jsonl").unlink()
            self.meta_crc = file_crc(self.folder / "meta.csv")
            self.meta_size = (self.folder / "meta.csv").stat().st_size


def _spread(values: list, at: list[int], width: int) -> list:
    row = [""] * width
    for i, v in zip(at, values):
        row[i] = v
    return row


# -- running records ------------------------------------------------------------------------
_WORKER: tuple | None = None


def _init_worker(source, opts):
    global _WORKER
    torch = sys.modules.get("torch")  # only if a step brought it in, or float16 storage needs it
    if torch is None and opts.dtype == "float16":  # (to_float16): not imported otherwise
        import torch
    if torch is not None:
        torch.set_num_threads(1)  # one thread per build process
    _WORKER = (source, opts)


def _run_in_worker(ref):
    source, opts = _WORKER
    return process_record(source, opts, ref)


def resolve_workers(num_workers: int | None, n_records: int, source=None, opts=None) -> int:
    """Worker processes for a build: ``num_workers`` (None: ``$BIOSIG_BUILD_WORKERS``, else
    ``os.cpu_count()`` but at most one per :data:`RECORDS_PER_WORKER` records); 0 or 1 builds
    in this process. Workers are spawned, so the source must be picklable and its class
    importable (not defined in ``__main__`` or a notebook): by default such a source is built in
    this process (logged); an explicit ``num_workers >= 2`` raises instead."""
    explicit = num_workers is not None
    if num_workers is None:
        env = os.environ.get("BIOSIG_BUILD_WORKERS")
        if env is not None:
            explicit = True
            try:
                num_workers = int(env)
            except ValueError:
                raise ConfigError(f"BIOSIG_BUILD_WORKERS must be an integer, got {env!r}") from None
        else:
            num_workers = min(os.cpu_count() or 1, n_records // RECORDS_PER_WORKER)
    if num_workers < 0:
        raise ConfigError(f"cache build num_workers must be >= 0, got {num_workers}")
    workers = max(1, min(num_workers, n_records))
    if workers > 1 and not explicit and _unguarded_main_script():
        log.info("building in this process: the main script has no `if __name__ == "
                 "\"__main__\":` guard, which worker processes need (they re-import it); add one "
                 "and set num_workers to build in parallel")
        return 1
    if workers > 1 and source is not None:
        why = _not_spawnable(source, opts)
        if why is not None:
            if explicit:
                raise ConfigError(f"cache build with {workers} worker processes: {why}; "
                                  "use num_workers=0")  # fmt: skip
            log.info("building %s in this process: %s", getattr(source, "name", source), why)
            return 1
    return workers


def _unguarded_main_script() -> bool:
    """Whether this process runs a script file whose text has no ``__main__`` guard (worker
    processes re-import the main script and would run it again). A console script, ``python -m``
    or a notebook has a guard or no script file."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not path or getattr(main, "__spec__", None) is not None:  # no file, or python -m
        return False
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return False
    return "__main__" not in text


def _not_spawnable(source, opts) -> str | None:
    import pickle

    if type(source).__module__ == "__main__":
        return f"{type(source).__name__} is defined in __main__ (workers cannot import it)"
    try:
        pickle.dumps((source, opts))
    except Exception as err:  # noqa: BLE001 - any pickling failure means: no workers
        return f"the source or steps cannot be pickled ({type(err).__name__}: {err})"
    return None


def _context(source):
    """Worker start method: ``$BIOSIG_BUILD_START`` or ``"forkserver"`` (a clean single-threaded
    server process that imported the build modules once: each worker is a cheap fork of it, safe
    after torch/OpenMP threads in the parent, unlike ``fork``)."""
    method = os.environ.get("BIOSIG_BUILD_START", "forkserver")
    if method not in mp.get_all_start_methods():
        raise ConfigError(f"BIOSIG_BUILD_START={method!r}: one of {mp.get_all_start_methods()}")
    ctx = mp.get_context(method)
    if method == "forkserver":
        mods = ["biosig.data.cache_build", type(source).__module__]
        ctx.set_forkserver_preload([*mods, *(m for m in ("mne", "scipy.signal")
                                              if m in sys.modules)])  # fmt: skip
    return ctx


def _in_order(pool, fn, refs, in_flight: int):
    """``fn(ref)`` for every ref on ``pool``, yielded in order, ``in_flight`` at most at once."""
    pending: deque = deque()
    it = iter(refs)
    for ref in it:
        pending.append(pool.submit(fn, ref))
        if len(pending) >= in_flight:
            break
    try:
        while pending:
            res = pending.popleft().result()
            for ref in it:
                pending.append(pool.submit(fn, ref))
                break
            yield res
    finally:  # an error or a closed generator: records not started are not run
        for fut in pending:
            fut.cancel()


def run_records(source, opts: BuildOptions, refs, workers: int):
    """Yield :class:`RecordResult` in record order, from ``workers`` processes (see
    :func:`_context`) with at most ``2 * workers`` records in flight."""
    if workers <= 1:
        for ref in refs:
            yield process_record(source, opts, ref)
        return
    ctx = _context(source)
    try:
        with ProcessPoolExecutor(workers, ctx, _init_worker, (source, opts)) as pool:
            yield from _in_order(pool, _run_in_worker, refs, 2 * workers)
    except BrokenProcessPool as err:
        raise BiosigError(
            f"a cache-build worker process died ({err}; its own error, if any, is printed "
            "above). If this ran from a script: workers re-import it, so a script that builds a "
            "cache must keep its code under `if __name__ == \"__main__\":`. num_workers=0 "
            "builds in this process"
        ) from err


def check_not_bootstrapping() -> None:
    """Refuse to open a cache while this process is a worker importing its parent's main script
    (spawn/forkserver; a script without ``if __name__ == "__main__":``): it would wait forever
    for the build lock that the parent holds."""
    if getattr(mp.current_process(), "_inheriting", False):  # what multiprocessing's own
        raise BiosigError(  # check of the main-module guard reads
            "a window cache was opened while a worker process imported the main script; put "
            "the script's code under `if __name__ == \"__main__\":` (cache-build workers "
            "re-import it), or build with num_workers=0"
        )


def _report_nan_windows(label: str, writer: CacheWriter) -> None:
    """A warning naming the records whose windows with NaN or infinite samples were left out
    (``nan_policy="reject"``; before, only ``params.json`` counted them), an info line for
    those interpolated."""
    for what, level in (("rejected", logging.WARNING), ("interpolated", logging.INFO)):
        records = writer.nan_records[what]
        if records:
            shown = ", ".join(records[:5]) + (f" and {len(records) - 5} more" if len(records) > 5
                                              else "")
            log.log(level, "%s: %d windows with NaN or infinite samples %s (nan_policy %r), "
                    "from %d records: %s", label, writer.stats[f"nan_{what}"],
                    "left out" if what == "rejected" else "interpolated",
                    "reject" if what == "rejected" else "interpolate", len(records), shown)


def _report_out_of_bounds(label: str, writer: CacheWriter) -> None:
    """A warning naming the records where windows were left out because they run past the
    recording (an event too near its start or end for ``tmin``/``tmax``, a record shorter than
    one fixed window); before, only ``params.json`` counted them."""
    if writer.n_short_records:
        more = writer.n_short_records - len(writer.short_records)
        shown = ", ".join(writer.short_records) + (f" and {more} more" if more else "")
        log.warning("%s: %d windows left out: they run past the start or end of the recording "
                    "(skipped_out_of_bounds), from %d records: %s", label,
                    writer.stats["skipped_out_of_bounds"], writer.n_short_records, shown)


def write_records(source, opts, refs, folder: Path, workers: int, label: str,
                  show: bool) -> tuple[dict, np.ndarray | None]:
    """Build ``refs`` into ``folder`` (which exists and is empty); returns the params facts and
    the labels as written to ``y.npy`` (None when they outgrew memory: read them back)."""
    writer = CacheWriter(folder, opts, bool(source.multilabel), len(source.classes))
    t0, step = time.perf_counter(), max(1, len(refs) // 10)
    try:
        results = run_records(source, opts, refs, workers)
        if show:  # no bar object at all when it is off (progress=False, or no terminal)
            from tqdm import tqdm

            results = tqdm(results, total=len(refs), desc=label, unit="rec")
        for i, res in enumerate(results, 1):
            writer.add(res)
            if i % step == 0 or i == len(refs):
                log.info("%s: %d/%d records, %d windows, %.0f s", label, i, len(refs),
                         writer.n, time.perf_counter() - t0)  # fmt: skip
        facts = writer.finish()
        _report_nan_windows(label, writer)
        _report_out_of_bounds(label, writer)
        return facts, writer.labels
    finally:
        writer.close()
