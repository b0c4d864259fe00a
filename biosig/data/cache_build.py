"""Building one window-cache folder: records processed serially or in worker processes, written
in record order as they come (memory bounded by the records in flight, whatever the corpus size).

Each record runs through :func:`process_record` (load, signal-quality stats, dead-channel policy,
preprocessing, windowing, NaN policy, cast to the storage dtype); :class:`CacheWriter` appends its
windows to ``X``, its labels to ``y`` and its metadata rows to a line file, updating a CRC-32 of
``X`` as it goes. Workers run the same function and the parent writes their results in record
order, so a parallel build gives the same bytes as a serial one.
"""

from __future__ import annotations

import csv
import json
import logging
import multiprocessing as mp
import os
import sys
import time
import zlib
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from biosig.data import quality
from biosig.errors import (
    BiosigError,
    ChannelError,
    ConfigError,
    InvalidFileError,
    channel_difference,
)
from biosig.signal.preprocessing import apply_steps, interpolate_gaps
from biosig.signal.recording import IDENTIFYING_KEYS

log = logging.getLogger("biosig.cache")

NAN_POLICIES = ("reject", "interpolate", "raise")
DTYPES = {"float32": ("X.f32", np.float32), "float16": ("X.f16", np.float16)}
RECORDS_PER_WORKER = 16  # default: one worker per 16 records (a worker's start-up costs ~1-2 s)
_ROW_KEYS = ("start", "label", "onset", "event")  # window-row fields with a fixed meaning


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


@dataclass
class RecordResult:
    """What one record contributes to a cache."""

    block: np.ndarray | None  # (n, C, T) in the storage dtype, or None
    labels: list
    rows: list[dict]
    stats: dict = field(default_factory=dict)
    ch_names: list | None = None
    sfreq: float | None = None
    n_times: int | None = None
    where: str = ""


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
    if not dead or not quality.dead_reaches_cache(dead, rec.ch_names, rec.data):
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
    q = quality.channel_quality(np.asarray(raw.data))
    quality.add_quality(stats, raw.ch_names, q)
    rec = apply_steps(raw, opts.preprocessing)
    rec = _dead_channel_policy(raw, rec, ref, opts, q, stats, where)
    n_times = opts.windows.n_times(rec.sfreq) if rec is not None else None
    out = RecordResult(None, [], [], stats, where=where)
    if rec is None:
        return out
    out.ch_names, out.sfreq, out.n_times = list(rec.ch_names), float(rec.sfreq), n_times
    rows, skipped = opts.windows(rec, ref)
    stats["skipped_out_of_bounds"] += skipped
    base = meta_fields(ref)
    block = []
    _, dtype = DTYPES[opts.dtype]
    for k, row in enumerate(rows):
        x = rec.data[:, row["start"] : row["start"] + n_times]
        if not np.isfinite(x).all():
            if opts.nan_policy == "raise":
                raise InvalidFileError(
                    where, f"non-finite samples in window at {row['onset']:.3f} s"
                )
            x = interpolate_gaps(x, empty=None) if opts.nan_policy == "interpolate" else None
            if x is None:
                stats["nan_rejected"] += 1
                continue
            stats["nan_interpolated"] += 1
        block.append(x)
        out.labels.append(row["label"])
        extra = meta_fields({f: v for f, v in row.items() if f not in _ROW_KEYS})
        label = row["label"]
        out.rows.append(
            {
                **base,
                **extra,
                "window": k,
                "onset": float(row["onset"]),
                "event": row.get("event", ""),
                "label": label if np.isscalar(label) else ";".join(map(str, label)),
            }
        )
    if block:
        data = np.stack(block).astype(np.float32, copy=False)
        if dtype is np.float16:
            big = np.abs(data[np.isfinite(data)]).max(initial=0.0)
            if big > np.finfo(np.float16).max:
                raise ConfigError(
                    f"{where}: |x| up to {big:.4g} overflows float16 (max 65504); use "
                    "dtype='float32' or scale the signal (Scale step)"
                )
        out.block = np.ascontiguousarray(data, dtype=dtype)
    return out


def merge_stats(total: dict, part: dict) -> None:
    for k, v in part.items():
        if k == "channels":
            for ch, row in v.items():
                dst = total.setdefault("channels", {}).setdefault(ch, dict.fromkeys(row, 0))
                for f, n in row.items():
                    dst[f] = dst.get(f, 0) + n
        elif k == "dead_channel_events":
            listed = total.setdefault(k, [])
            listed.extend(v[: max(0, quality._MAX_LISTED - len(listed))])
        else:
            total[k] = total.get(k, 0) + v


def file_crc(path: Path, chunk: int = 1 << 24) -> str:
    """``"crc32:<hex>"`` of a file, read in chunks."""
    crc = 0
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            crc = zlib.crc32(block, crc)
    return f"crc32:{crc:08x}"


class CacheWriter:
    """Appends records' results into a (temporary) cache folder; :meth:`finish` writes
    ``y.npy``, ``meta.csv`` and returns the facts for ``params.json``."""

    def __init__(self, folder: Path, opts: BuildOptions, multilabel: bool, n_classes: int):
        self.folder, self.opts = folder, opts
        self.multilabel, self.n_classes = multilabel, n_classes
        self.x_name = DTYPES[opts.dtype][0]
        self.fx = open(folder / self.x_name, "wb")
        self.fy = open(folder / "y.raw", "wb")
        self.fm = open(folder / "meta.jsonl", "w")
        self.crc = 0
        self.n = 0
        self.columns: dict[str, None] = {}
        self.ch_names = self.sfreq = self.n_times = None
        self.stats = {"records": 0, "windows": 0, "nan_rejected": 0, "nan_interpolated": 0,
                      "skipped_out_of_bounds": 0}  # fmt: skip

    def add(self, res: RecordResult) -> None:
        merge_stats(self.stats, res.stats)
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
                raise ChannelError(
                    f"{res.where}: sampling rate {res.sfreq:g} Hz differs from the first "
                    f"record's {self.sfreq:g} Hz; add a Resample step"
                )
        if res.block is None:
            return
        raw = memoryview(np.ascontiguousarray(res.block)).cast("B")  # no copy of the windows
        self.fx.write(raw)
        self.crc = zlib.crc32(raw, self.crc)
        if self.multilabel:
            y = np.zeros((len(res.labels), self.n_classes), np.float32)
            for i, lab in enumerate(res.labels):
                y[i, list(lab)] = 1.0
        else:
            y = np.asarray(res.labels, dtype=np.int64)
        self.fy.write(y.tobytes())
        for row in res.rows:
            self.columns.update(dict.fromkeys(row))
            self.fm.write(json.dumps(row) + "\n")
        self.n += len(res.rows)

    def close(self) -> None:
        for fh in (self.fx, self.fy, self.fm):
            if not fh.closed:
                fh.close()

    def finish(self) -> dict:
        self.fx.flush()
        os.fsync(self.fx.fileno())
        self.close()
        n = self.stats["windows"] = self.n
        ycols = (self.n_classes,) if self.multilabel else ()
        ydt = np.float32 if self.multilabel else np.int64
        yraw = np.fromfile(self.folder / "y.raw", dtype=ydt).reshape((n, *ycols))
        np.save(self.folder / "y.npy", yraw)
        del yraw
        (self.folder / "y.raw").unlink()
        with open(self.folder / "meta.jsonl") as src, open(
            self.folder / "meta.csv", "w", newline=""
        ) as dst:
            writer = csv.DictWriter(dst, fieldnames=list(self.columns), lineterminator="\n")
            writer.writeheader()
            for line in src:
                writer.writerow(json.loads(line))
        (self.folder / "meta.jsonl").unlink()
        return {
            "shape": [n, len(self.ch_names or []), self.n_times or 0],
            "ch_names": self.ch_names,
            "sfreq": self.sfreq,
            "stats": self.stats,
            "checksum": {
                self.x_name: f"crc32:{self.crc:08x}",
                **{f: file_crc(self.folder / f) for f in ("y.npy", "meta.csv")},
            },
            "sizes": {f: (self.folder / f).stat().st_size for f in ("y.npy", "meta.csv")},
        }


# -- running records ------------------------------------------------------------------------
_WORKER: tuple | None = None


def _init_worker(source, opts):
    global _WORKER
    torch = sys.modules.get("torch")  # only if a step brought it in: never imported for this
    if torch is not None:
        torch.set_num_threads(1)
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
    if workers > 1 and source is not None:
        why = _not_spawnable(source, opts)
        if why is not None:
            if explicit:
                raise ConfigError(f"cache build with {workers} worker processes: {why}; "
                                  "use num_workers=0")  # fmt: skip
            log.info("building %s in this process: %s", getattr(source, "name", source), why)
            return 1
    return workers


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


def run_records(source, opts: BuildOptions, refs, workers: int):
    """Yield :class:`RecordResult` in record order, from ``workers`` processes (see
    :func:`_context`) with at most ``2 * workers`` records in flight."""
    if workers <= 1:
        for ref in refs:
            yield process_record(source, opts, ref)
        return
    ctx = _context(source)
    with ProcessPoolExecutor(workers, ctx, _init_worker, (source, opts)) as pool:
        pending: deque = deque()
        it = iter(refs)
        for ref in it:
            pending.append(pool.submit(_run_in_worker, ref))
            if len(pending) >= 2 * workers:
                break
        while pending:
            res = pending.popleft().result()
            nxt = next(it, None)
            if nxt is not None:
                pending.append(pool.submit(_run_in_worker, nxt))
            yield res


def write_records(source, opts, refs, folder: Path, workers: int, label: str, show: bool) -> dict:
    """Build ``refs`` into ``folder`` (which exists and is empty); returns the params facts."""
    from tqdm import tqdm

    writer = CacheWriter(folder, opts, bool(source.multilabel), len(source.classes))
    t0, step = time.perf_counter(), max(1, len(refs) // 10)
    try:
        results = run_records(source, opts, refs, workers)
        bar = tqdm(results, total=len(refs), desc=label, unit="rec", disable=not show)
        for i, res in enumerate(bar, 1):
            writer.add(res)
            if i % step == 0 or i == len(refs):
                log.info("%s: %d/%d records, %d windows, %.0f s", label, i, len(refs),
                         writer.n, time.perf_counter() - t0)  # fmt: skip
        return writer.finish()
    finally:
        writer.close()
