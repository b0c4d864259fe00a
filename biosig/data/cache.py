"""The window cache: memory-mapped windows (N x C x T), labels, a metadata table.

Layout of one cache folder ``<BIOSIG_CACHE>/<dataset>/<version>/<key>/``:

- ``X.f32`` (or ``X.f16`` for ``dtype="float16"``, ``X.i16`` for ``dtype="int16"``) raw windows,
  C-order, shape in ``params.json`` (opened with ``np.memmap``; read back as float32)
- ``scales.f32`` (``dtype="int16"`` only) float32 gain and offset per window and channel
  ``(N, 2, C)``: the int16 windows are the EDF files' own samples, read back as
  ``samples * gain + offset``, bit for bit the float32 values the reader decodes (lossless, half
  the bytes; only for EDF sources whose steps just pick, drop or rename channels)
- ``y.npy``   labels: int64 ``(N,)``, or float32 ``(N, K)`` multi-hot for multi-label data
- ``meta.csv`` one row per window: record, subject, session, onset, event, label, ...
- ``params.json`` the key's inputs (dataset identity, preprocessing, windows, NaN and
  dead-channel policies, storage dtype), shape, channel names, sampling rate, class names, build
  statistics (per-channel NaN / flat / clipped counts) and a CRC-32 of X
  (:func:`verify_cache` checks it).

``key`` is a hash of everything that changes the content (dataset identities hash every input
file's size, mtime and a head/middle/tail fingerprint), so a changed parameter or an edited file
never reuses a stale cache. A build streams record by record (in ``num_workers`` processes,
written in record order: the bytes equal a serial build's) into a temporary folder next to the
target, renamed into place only when complete: a killed build leaves nothing that is ever reused
(the files are synced to disk in the background afterwards: :mod:`biosig.data.durable`).
Concurrent builders of one key (e.g. DDP ranks) serialise on a lock file. A finished cache that
fails its checks on open (truncated or missing file) is rebuilt by :func:`get_cache`.

A *sharded* cache (``shards=N``, :mod:`biosig.data.shards`) splits the records by identity into N
such folders tied by an ``index.json``; it opens as one :class:`WindowCache`.

The steps a cache applies are :func:`pipeline`: the dataset's own standard steps first
(``source.default_preprocessing()``, e.g. TUEV's filters, resampling and montage), then the
caller's; ``params.json`` lists them all.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import io
import json
import logging
import os
import shutil
import sys
import uuid
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from biosig.data import durable
from biosig.data._crc import crc32
from biosig.data._decode import decode_windows
from biosig.data.cache_build import (
    DTYPES,
    NAN_POLICIES,
    SCALES,
    BuildOptions,
    check_not_bootstrapping,
    file_crc,
    resolve_workers,
    sample_changing,
    write_records,
)
from biosig.errors import BiosigError, ConfigError, InvalidFileError
from biosig.paths import cache_dir
from biosig.signal.preprocessing import steps_params

__all__ = [
    "CACHE_FORMAT",
    "NAN_POLICIES",
    "WindowArray",
    "WindowCache",
    "build_cache",
    "cache_key",
    "get_cache",
    "pipeline",
    "verify_cache",
]

log = logging.getLogger("biosig.cache")
CACHE_FORMAT = 2


def key_payload(source, preprocessing, windows, opts_or_policy="reject", **kw) -> dict:
    """The JSON-able inputs of a cache key (see :func:`cache_key`)."""
    opts = _options(preprocessing, windows, opts_or_policy, **kw)
    return {
        "format": CACHE_FORMAT,
        "dataset": source.identity(),
        "preprocessing": steps_params(preprocessing),
        "windows": windows.params(),
        "nan_policy": opts.nan_policy,
        "dtype": opts.dtype,
        "dead_channels": opts.dead_channels,
    }


def hash_payload(payload: dict) -> str:
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def cache_key(
    source,
    preprocessing,
    windows,
    nan_policy: str = "reject",
    dtype: str = "float32",
    dead_channels: str = "fail",
) -> str:
    """Hash of the dataset identity, every preprocessing and window parameter, the NaN and
    dead-channel policies and the storage dtype."""
    return hash_payload(
        key_payload(source, preprocessing, windows, nan_policy, dtype=dtype,
                    dead_channels=dead_channels)  # fmt: skip
    )


def _options(preprocessing, windows, opts_or_policy, **kw) -> BuildOptions:
    if isinstance(opts_or_policy, BuildOptions):
        return opts_or_policy
    return BuildOptions(list(preprocessing), windows, opts_or_policy, **kw)


class WindowArray:
    """Read-only ``(N, C, T)`` float32 view of stored windows: one or more memmaps (the shards
    of a cache, in order) of float32 or float16; indexing reads only the rows asked for."""

    ndim = 3
    dtype = np.dtype(np.float32)

    def __init__(self, parts: list[np.ndarray]):
        self.parts = parts
        self.offsets = np.cumsum([0] + [len(p) for p in parts])
        c, t = next((p.shape[1:] for p in parts if len(p)), parts[0].shape[1:])
        self.shape = (int(self.offsets[-1]), int(c), int(t))
        self.nbytes = int(sum(p.nbytes for p in parts))  # the stored bytes

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype=None, copy=None):
        out = self[:]
        return out if dtype is None else out.astype(dtype)

    def _gather(self, rows: np.ndarray) -> np.ndarray:
        out = np.empty((len(rows), *self.shape[1:]), np.float32)
        if len(self.parts) == 1:
            _copy_rows(out, self.parts[0], rows)
            return out
        if np.all(rows[1:] >= rows[:-1]):  # sorted (DataLoader batches): one slice per shard
            cuts = np.searchsorted(rows, self.offsets)
            for p, (a, b) in enumerate(zip(cuts[:-1], cuts[1:])):
                if b > a:
                    _copy_rows(out[a:b], self.parts[p], rows[a:b] - self.offsets[p])
            return out
        part = np.searchsorted(self.offsets, rows, side="right") - 1
        for p in np.unique(part):
            sel = np.flatnonzero(part == p)
            out[sel] = self._gather(rows[sel])
        return out

    def __getitem__(self, idx):
        rest = ()
        if isinstance(idx, tuple):
            idx, rest = idx[0], idx[1:]
        if isinstance(idx, (int, np.integer)):
            i = int(idx) + (self.shape[0] if idx < 0 else 0)
            if not 0 <= i < self.shape[0]:
                raise IndexError(f"window {idx} out of range for {self.shape[0]} windows")
            out = self._gather(np.array([i]))[0]
        else:
            if isinstance(idx, slice):
                rows = np.arange(self.shape[0])[idx]
            else:
                rows = np.asarray(idx)
                if rows.dtype == bool:
                    rows = np.flatnonzero(rows)
                rows = np.where(rows < 0, rows + self.shape[0], rows).astype(np.int64)
            out = self._gather(rows)
        return out[rest] if rest else out


class ScaledWindows:
    """The windows of a ``dtype="int16"`` cache: the files' own 16-bit samples ``(N, C, T)`` and
    a float32 gain and offset per window and channel ``(N, 2, C)``; window ``i`` reads as
    ``samples[i] * gain[i] + offset[i]`` in float32, the values the reader decodes."""

    def __init__(self, samples: np.ndarray, scales: np.ndarray):
        self.samples, self.scales = samples, scales
        self.shape, self.dtype = samples.shape, samples.dtype
        self.nbytes = samples.nbytes + scales.nbytes

    def __len__(self) -> int:
        return len(self.samples)

    def decode_into(self, out: np.ndarray, rows: np.ndarray) -> None:
        decode_windows(self.samples, self.scales[:, 0], self.scales[:, 1], rows=rows, out=out)


def _copy_rows(out: np.ndarray, part, rows: np.ndarray) -> None:
    """``out[:] = part[rows]`` as float32 (float16 converted by torch's vectorised cast, ~25x
    faster than numpy's; int16 windows scaled, :class:`ScaledWindows`)."""
    if isinstance(part, ScaledWindows):  # decode_windows checks the rows itself
        part.decode_into(out, rows)
        return
    if len(rows) and (rows.min() < 0 or rows.max() >= len(part)):
        raise IndexError(f"window rows {rows.min()}..{rows.max()} out of range 0..{len(part) - 1}")
    if part.dtype == np.float32:
        np.take(part, rows, axis=0, out=out, mode="clip")  # bounds checked above; "raise"
        return  # would buffer ``out`` (a second copy)
    import torch

    torch.from_numpy(out).copy_(torch.from_numpy(np.asarray(part[rows])))


class DamagedCacheError(InvalidFileError):
    """A cache file fails its checks: ``damage`` says how; the message adds the folder to delete
    (the next run rebuilds it), which a log line of a rebuild leaves out (:func:`damage`)."""

    def __init__(self, path: str | Path, damage: str, folder: str | Path):
        self.damage, self.folder = damage, str(folder)
        super().__init__(path, f"{damage}; the cache is damaged: delete the folder {folder} (it "
                               "is rebuilt by the next run)")

    def __reduce__(self):
        return type(self), (self.path, self.damage, self.folder)


def damage(err: InvalidFileError) -> str:
    """What is wrong with a cache, without what to do about it (for a log line of a rebuild)."""
    return f"{err.path}: {err.damage}" if isinstance(err, DamagedCacheError) else str(err)


def _open_x(folder: Path, params: dict):
    """The windows of one folder: a memmap of its X file (float32 or float16), or
    :class:`ScaledWindows` (int16), size-checked."""
    name, dtype = DTYPES[params.get("dtype", "float32")]
    shape = tuple(params["shape"])
    x = _open_checked(folder, name, dtype, shape)
    if dtype is np.int16:
        return ScaledWindows(x, _open_checked(folder, SCALES, np.float32, (shape[0], 2, shape[1])))
    return x


def _open_checked(folder: Path, name: str, dtype, shape: tuple) -> np.ndarray:
    """A read-only memmap of ``folder / name`` after checking its size against ``shape``."""
    x_file = folder / name
    expected = int(np.prod(shape)) * np.dtype(dtype).itemsize
    try:
        size = os.stat(x_file).st_size  # one stat (Path.exists and Path.stat made three)
    except OSError as err:
        if err.errno not in _MISSING:  # what Path.exists() would have raised too
            raise
        size = "missing"
    if size != expected:
        raise DamagedCacheError(
            x_file, f"size {size} does not match shape {shape} ({expected} bytes)", folder
        )
    if not expected:
        return np.zeros(shape, dtype)
    # a str, not a Path: numpy would resolve a Path's every folder (an lstat each) for the
    # memmap's ``filename``, a third of the time it takes to open a cache
    return np.memmap(str(x_file), dtype=dtype, mode="r", shape=shape)


_MISSING = (errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP)  # Path.exists() -> False


def _read_params(folder: Path, name: str = "params.json") -> dict:
    f = folder / name
    try:
        params = json.loads(f.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise DamagedCacheError(f, f"not a complete window cache ({err})", folder) from err
    want = params.pop(_PARAMS_CRC, None) if isinstance(params, dict) else None
    if want is not None and want != _params_crc(params):  # caches from before it have none
        raise DamagedCacheError(f, f"changed after the build (its {_PARAMS_CRC} differs)",
                                folder)
    return params


#: params.json's own CRC-32, of the other keys as written (shape, sfreq, channels, classes... are
#: used as read, so a change to any of them is caught on open)
_PARAMS_CRC = "params_crc32"


def _params_crc(params: dict) -> str:
    return f"crc32:{crc32(_json_lines(params).encode()):08x}"


def _params_text(params: dict) -> str:
    """params.json's text: :func:`_json_lines` of ``params`` and, last, their CRC-32 (the
    text :func:`_read_params` checks, encoded once)."""
    body = _json_lines(params)
    crc = f"crc32:{crc32(body.encode()):08x}"
    return f'{body[:-3]},\n {json.dumps(_PARAMS_CRC)}: "{crc}"\n}}\n'


def _checked_bytes(folder: Path, name: str, params: dict) -> bytes:
    """The bytes of a small cache file (labels, metadata), checked against the CRC-32 stored
    at the build (read whole anyway: checking costs less than reading them)."""
    data = (folder / name).read_bytes()
    want = params.get("checksum", {}).get(name)
    if want is not None and f"crc32:{crc32(data):08x}" != want:
        raise DamagedCacheError(folder / name, f"checksum differs from the stored {want}",
                                folder)
    return data


class WindowCache:
    """A built cache (one folder or a sharded index), opened read-only. ``X`` is a memmap
    (float32 caches) or a :class:`WindowArray` (float16, int16 or sharded: reads float32); ``y``
    is in memory; ``meta`` (a DataFrame) is read on first use (training workers never parse it)."""

    def __init__(self, path: str | Path, built: dict | None = None,
                 labels: np.ndarray | None = None):
        """``built``: the params of a cache this process has just built at ``path`` (a single
        folder: its params.json is not read back, nor are its files' sizes and sync mark checked
        again); ``labels``: the labels that build wrote to its ``y.npy``, if it kept them (not
        read back either)."""
        self.path = Path(path)
        self._meta = None
        if built is None and (self.path / "index.json").exists():
            from biosig.data.shards import open_shards

            self.params, self.shards = open_shards(self.path)
            self._x = None
            self.X = WindowArray([s._x for s in self.shards])
            self.y = np.concatenate([s.y for s in self.shards])
        else:
            self.shards = []
            self.params = built if built is not None else _read_params(self.path)
            self._x = _open_x(self.path, self.params)
            self.X = self._x if self._x.dtype == np.float32 else WindowArray([self._x])
            if built is None:
                self._check_sizes()
                durable.check(self.path, self.params, _check_checksums)
            if labels is not None:
                self.y = labels
            else:
                self.y = self._read_labels()
        if len(self.y) != self.X.shape[0]:
            raise DamagedCacheError(self.path, "labels and windows disagree in length", self.path)

    def _read_labels(self) -> np.ndarray:
        try:
            return np.load(io.BytesIO(_checked_bytes(self.path, "y.npy", self.params)))
        except InvalidFileError:  # says what to do already (it was said twice)
            raise
        except (OSError, ValueError) as err:
            raise DamagedCacheError(self.path, f"labels unreadable ({err})", self.path) from err

    def _check_sizes(self) -> None:
        for name, size in self.params.get("sizes", {}).items():
            f = self.path / name
            if not f.is_file() or f.stat().st_size != size:
                raise DamagedCacheError(
                    f, f"missing or not the size it was written with ({size} bytes)", self.path
                )

    @property
    def meta(self) -> pd.DataFrame:
        """One row per window (record, subject, session, onset, event, label, ...)."""
        if self._meta is None:
            if self.shards:
                meta = pd.concat([s.meta for s in self.shards], ignore_index=True)
            else:
                try:
                    meta = pd.read_csv(io.BytesIO(_checked_bytes(self.path, "meta.csv",
                                                                 self.params)),
                                       keep_default_na=False)
                except InvalidFileError:
                    raise
                except (OSError, ValueError, pd.errors.ParserError) as err:
                    raise DamagedCacheError(self.path, f"metadata unreadable ({err})",
                                            self.path) from err
            if len(meta) != self.X.shape[0]:
                raise DamagedCacheError(self.path, "metadata and windows disagree in length",
                                        self.path)
            self._meta = meta
        return self._meta

    def __len__(self) -> int:
        return self.X.shape[0]

    @property
    def ch_names(self) -> list[str]:
        return list(self.params["ch_names"])

    @property
    def sfreq(self) -> float:
        return float(self.params["sfreq"])

    @property
    def classes(self) -> list[str]:
        return list(self.params["classes"])

    @property
    def multilabel(self) -> bool:
        return bool(self.params["multilabel"])

    @property
    def dtype(self) -> str:
        return str(self.params.get("dtype", "float32"))

    @property
    def stats(self) -> dict:
        return dict(self.params["stats"])


class NotACacheError(InvalidFileError):
    """The path given to :func:`verify_cache` is missing, not a folder, or holds no cache file
    at all (as opposed to a damaged cache)."""


#: files of a cache folder (or of a sharded cache's index folder)
_CACHE_FILES = ("params.json", "index.json", "y.npy", "meta.csv", *(f for f, _ in DTYPES.values()))


def verify_cache(path: str | Path) -> dict:
    """Check a cache folder (or every shard of a sharded one) against its stored CRC-32 of X and
    its shapes; returns ``{folder: "ok"}``, raises :class:`InvalidFileError` naming the damaged
    file and the folder to delete, or :class:`NotACacheError` when ``path`` does not exist, is
    not a folder or holds none of a cache's files (nothing to delete)."""
    path = Path(path)
    if not path.exists():
        raise NotACacheError(path, "no such folder")
    if not path.is_dir():
        raise NotACacheError(
            path, "not a folder: give a cache folder <cache>/<dataset>/<version>/<key>"
        )
    if not any((path / name).exists() for name in _CACHE_FILES):
        below = sorted({str(p.parent) for depth in ("*", "*/*", "*/*/*")
                        for name in ("params.json", "index.json")  # a cache, a sharded one
                        for p in path.glob(f"{depth}/{name}")})
        inside = f"; the caches below it: {', '.join(below[:3])}" + (
            f" (+{len(below) - 3} more)" if len(below) > 3 else "") if below else ""
        raise NotACacheError(
            path,
            f"not a window cache folder (none of {', '.join(_CACHE_FILES)}): give a cache folder "
            f"<cache>/<dataset>/<version>/<key>, or a sharded cache's index folder{inside}",
        )
    cache = WindowCache(path)  # shapes and lengths
    report = {}
    for part in cache.shards or [cache]:
        _check_checksums(part.path, part.params)
        report[str(part.path)] = "ok"
    return report


def _check_checksums(folder: Path, params: dict) -> None:
    """Raise :class:`InvalidFileError` unless every file matches its stored CRC-32."""
    want = params.get("checksum", {})
    if not want:
        raise InvalidFileError(folder, "no stored checksum (built by an older biosig)")
    for name, digest in want.items():
        got = file_crc(folder / name)
        if got != digest:
            raise DamagedCacheError(
                folder / name, f"checksum {got} differs from the stored {digest}", folder
            )


@contextmanager
def locked(lock_path: Path, blocking: bool = True):
    """An exclusive ``flock`` on ``lock_path``; yields False (holding nothing) when
    ``blocking=False`` and another process holds it."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


_locked = locked  # older name


def _json_lines(params: dict) -> str:
    """``params`` as JSON, one top-level key per line: readable, and each value written by
    json's C encoder (``indent=`` would use its Python one, several times slower)."""
    lines = (f" {json.dumps(k)}: {json.dumps(v, default=str)}" for k, v in params.items())
    return "{\n" + ",\n".join(lines) + "\n}\n"


def build_cache(
    source,
    preprocessing,
    windows,
    path: Path,
    nan_policy: str | BuildOptions = "reject",
    progress: bool | None = None,
    *,
    refs: list | None = None,
    num_workers: int | None = None,
    label: str | None = None,
    allow_empty: bool = False,
    extra_params: dict | None = None,
    identity: dict | None = None,
    **options,
) -> WindowCache:
    """Stream the records ``refs`` (default: all of ``source``) through ``preprocessing`` and
    ``windows`` into the folder ``path`` (written in a temporary folder, renamed when done)."""
    opts = _options(preprocessing, windows, nan_policy, **options)
    refs = source.records() if refs is None else refs
    if not refs and not allow_empty:
        raise BiosigError(f"dataset {source.name!r} has no records")
    counts = Counter(str(r["record"]) for r in refs if "record" in r)
    twice = sorted(n for n, k in counts.items() if k > 1)
    if twice:  # its windows would be cached twice: copies could land in train and in test
        raise ConfigError(f"dataset {source.name!r} lists record(s) {twice[:5]} more than once "
                          "(a subject, run or file given twice?)")
    workers = resolve_workers(num_workers, len(refs), source, opts)
    build = uuid.uuid4().hex
    tmp = path.parent / f".tmp-{path.name}-{build[:8]}"
    tmp.mkdir(parents=True)
    show = sys.stderr.isatty() if progress is None else progress
    label = label or f"caching {source.name}"
    try:
        facts, labels = write_records(source, opts, refs, tmp, workers, label, show)
        n = facts["shape"][0]
        if n == 0 and not allow_empty:
            stats = {k: v for k, v in facts["stats"].items() if k != "channels"}
            events = {str(d) for d in source.load(refs[0]).annotations.description}
            # the windower's event names the record has; others are not quoted (a note, even a
            # short one, may hold a name): list them with Recording.annotations
            wanted = [str(k) for k in (getattr(windows, "mapping", None) or {})]
            found = [e for e in wanted if e in events]
            raise BiosigError(
                f"dataset {source.name!r}: no window in {stats['records']} records with windows "
                f"{windows.params()} (stats: {stats}); the first record has "
                f"{len(events)} distinct annotation descriptions"
                + (f", of the mapping's events {found}" if wanted else "")
                + f"; see them with {type(source).__name__}.load(record).annotations"
            )
        params = {
            "key": path.name,
            "format": CACHE_FORMAT,
            **facts,
            "dtype": opts.dtype,
            "classes": list(source.classes),
            "multilabel": bool(source.multilabel),
            "dataset": source.identity() if identity is None else identity,
            "preprocessing": steps_params(opts.preprocessing),
            "windows": windows.params(),
            "nan_policy": opts.nan_policy,
            "dead_channels": opts.dead_channels,
            "build_workers": workers,
            "build": build,
            "boot": durable.boot_id(),
            **(extra_params or {}),
        }
        text = _params_text(params)
        (tmp / "params.json").write_text(text)
        sync_now = params["boot"] is None or durable.shared_filesystem(tmp)
        if sync_now:  # no way to tell a restart, or other machines read it: on disk first
            durable.sync_files(tmp)
            durable.mark(tmp, build)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if not sync_now:
        durable.sync_later(path, build)
    built = json.loads(text)  # the params as any later open reads them (lists, not tuples)
    del built[_PARAMS_CRC]
    return WindowCache(path, built=built, labels=labels)


def pipeline(source, preprocessing=()) -> list:
    """The steps a cache applies to each record: the dataset's own then ``preprocessing``.

    A dataset lists its standard steps in ``default_preprocessing()`` (a
    :class:`~biosig.datasets.base.DatasetSource` method; sources that do not define it have none)
    and yields raw recordings from ``load()``.
    """
    own = getattr(source, "default_preprocessing", None)
    return [*(own() if own is not None else ()), *(preprocessing or ())]


def open_checked(path: Path) -> WindowCache:
    """Open a finished cache folder with the checks of :class:`WindowCache` (sizes,
    ``params.json``'s own CRC-32, the labels') plus the metadata's CRC-32, which opening leaves
    to their first use (training workers never read them). The windows' CRC-32s are checked by
    ``biosig cache verify`` and after an unclean restart (:mod:`biosig.data.durable`)."""
    cache = WindowCache(path)
    _checked_bytes(cache.path, "meta.csv", cache.params)
    return cache


def open_or_rebuild(path: Path, build, open_folder=open_checked):
    """Open the finished cache at ``path`` (``open_folder(path)``: a window cache by default),
    or build it (``build(path)``) under its lock; a finished cache that fails its checks on open
    is deleted and rebuilt (logged)."""
    if (path / "params.json").exists():
        try:
            return open_folder(path)
        except InvalidFileError as err:
            log.warning("cache %s fails its checks (%s): rebuilding it", path, damage(err))
    with locked(path.parent / f"{path.name}.lock"):
        if (path / "params.json").exists():  # built by another process while we waited
            try:
                return open_folder(path)
            except InvalidFileError:
                pass
        for stale in path.parent.glob(f".tmp-{path.name}-*"):  # left by a killed build
            shutil.rmtree(stale, ignore_errors=True)
        if path.exists():  # not a (valid) cache: never reuse it. Moved aside first, so that a
            # file another thread adds meanwhile (its background sync) cannot stop the rebuild
            trash = path.parent / f".tmp-{path.name}-old-{uuid.uuid4().hex[:8]}"
            os.replace(path, trash)
            shutil.rmtree(trash, ignore_errors=True)
        return build(path)


def get_cache(
    source,
    preprocessing=(),
    windows=None,
    root: str | Path | None = None,
    nan_policy: str = "reject",
    progress: bool | None = None,
    *,
    dtype: str = "float32",
    dead_channels: str = "fail",
    num_workers: int | None = None,
    shards: int | None = None,
    task: int | None = None,
    n_tasks: int | None = None,
) -> WindowCache:
    """Open the cache for these inputs, building it first if it does not exist yet.

    ``preprocessing`` runs after the dataset's own steps (see :func:`pipeline`). ``dtype``:
    storage ``"float32"``, ``"float16"`` or ``"int16"`` (the EDF files' own samples with a gain
    and offset per window and channel: lossless, for steps that only pick, drop or rename
    channels), all read back as float32. ``dead_channels``: ``"fail"``,
    ``"drop"`` or ``"interpolate"`` (:mod:`biosig.data.quality`). ``num_workers``: build
    processes (default ``os.cpu_count()``, at most one per 16 records; ``BIOSIG_BUILD_WORKERS``
    overrides; see :func:`~biosig.data.cache_build.resolve_workers`). ``shards``: split into
    that many shard folders (:mod:`biosig.data.shards`); ``task``/``n_tasks`` then build only
    this task's share (SLURM array, ranks).
    """
    check_not_bootstrapping()
    windows = windows if windows is not None else source.default_windows()
    own = pipeline(source)
    changing = sample_changing(own) if dtype == "int16" else []
    if changing:  # named here, with the source: the user did not pass these steps
        raise ConfigError(
            f"cache dtype='int16' stores the files' own 16-bit samples, which the standard "
            f"steps of {type(source).__name__} ({source.name}: {changing}, from its "
            "default_preprocessing()) would change; turn them off in its options (e.g. "
            "sfreq=None keeps the files' rate; band=None or bandpass=None no filter) or use "
            "dtype='float32'"
        )
    preprocessing = [*own, *(preprocessing or ())]
    opts = BuildOptions(preprocessing, windows, nan_policy, dtype, dead_channels)
    folder = Path(root) if root is not None else cache_dir()
    if shards is None and (task is not None or n_tasks is not None):
        raise ConfigError(f"get_cache: task={task}, n_tasks={n_tasks} split the build of a "
                          "sharded cache; give shards=N too")
    if shards is not None:
        from biosig.data.shards import get_sharded

        return get_sharded(
            source, opts, folder, shards, progress=progress, num_workers=num_workers,
            task=task, n_tasks=n_tasks,
        )  # fmt: skip
    payload = key_payload(source, preprocessing, windows, opts)
    path = folder / source.name / str(source.version) / hash_payload(payload)
    return open_or_rebuild(
        path,
        lambda p: build_cache(source, preprocessing, windows, p, opts, progress,
                              num_workers=num_workers,
                              identity=payload["dataset"]),  # the identity the key hashed
    )  # fmt: skip


VERIFY_HELP = """\
Check each cache folder (or sharded cache's index folder) against its stored CRC-32.
Exit status 0: all ok; 1: a damaged cache (delete the folder named); 2: a path that does not
exist or is not a cache folder. A build's <key>.lock file is skipped, so a glob over a cache
root works: biosig cache verify ~/biosig_data/cache/tuev/2.0.1/*"""

BUILD_HELP = """\
Build (this task's share of) the window cache of a recipe's `data:` section; --config files and
--data.* overrides as for biosig fit (e.g. --data.source.init_args.path DIR). With --task env
the task comes from SLURM_ARRAY_TASK_ID/COUNT, RANK/WORLD_SIZE or SLURM_PROCID/NTASKS. Run the
same command in every task: each builds its own shards, the last one to finish writes the index."""


def _task_arg(text: str):
    """``--task``: a whole number, or ``env``."""
    if text == "env":
        return text
    try:
        return int(text)
    except ValueError:
        import argparse

        raise argparse.ArgumentTypeError(f"{text!r} is neither a task number nor 'env'") from None


#: ``biosig cache build``'s own options (other ``--key value`` pairs are the recipe's)
BUILD_OPTIONS = ("shards", "task", "tasks", "workers", "dtype", "dead-channels", "cache-dir")


def cache_parser():
    """The parser of ``biosig cache`` and its commands ``verify`` and ``build``."""
    import argparse

    from biosig._argparse import HelpFormatter
    from biosig.data.quality import DEAD_CHANNEL_POLICIES

    parser = argparse.ArgumentParser(
        prog="biosig cache", allow_abbrev=False, formatter_class=HelpFormatter,
        description="Check or build window caches (see each command's --help).")
    commands = parser.add_subparsers(title="commands", dest="command", required=True,
                                     metavar="COMMAND")
    p = commands.add_parser(
        "verify", help="check cache folders against their stored CRC-32s",
        allow_abbrev=False, formatter_class=HelpFormatter, description=VERIFY_HELP)
    p.add_argument("folders", nargs="+", metavar="FOLDER",
                   help="a cache folder, or a sharded cache's index folder")
    p = commands.add_parser(
        "build", help="build a recipe's window cache (or this task's shards of it)",
        allow_abbrev=False, formatter_class=HelpFormatter, description=BUILD_HELP,
        usage="biosig cache build --config RECIPE.yaml [--config MORE.yaml] [--data.KEY VALUE "
              "...] [options]")
    p.add_argument("--shards", type=int,
                   help="build as this many shards (default: data.cache_options.shards; none: "
                        "one cache folder)")
    p.add_argument("--task", type=_task_arg,
                   help="this process's task number (it builds shards i with i %% tasks == "
                   "task), or 'env' (SLURM array, torchrun or SLURM task from the environment)")
    p.add_argument("--tasks", type=int, help="the number of shard tasks (with --task)")
    p.add_argument("--workers", type=int,
                   help="processes reading records (default: data.cache_options.num_workers)")
    p.add_argument("--dtype", choices=list(DTYPES),
                   help="storage of the windows (default: data.cache_options.dtype)")
    p.add_argument("--dead-channels", choices=list(DEAD_CHANNEL_POLICIES),
                   help="what a dead channel does (default: data.cache_options.dead_channels)")
    p.add_argument("--cache-dir",
                   help="cache root (default: the recipe's data.cache_dir, else the user cache)")
    return parser


def cache_command(argv: list[str]) -> int:
    """``biosig cache ...`` (see :func:`cache_parser`); returns the exit status."""
    parser = cache_parser()
    if not argv:
        parser.print_help()
        return 0
    try:
        # build's unknown arguments are the recipe's: --config files, --data.* overrides
        a, recipe = parser.parse_known_args(argv)
    except SystemExit as exit_:
        if argv[0] in ("verify", "build"):  # a command's --help or usage error: raised
            raise
        return exit_.code  # `biosig cache --help` (0) or an unknown command (2)
    if a.command == "verify":
        if recipe:
            parser.error(f"unrecognized arguments: {' '.join(recipe)}")
        status = 0
        for folder in a.folders:
            if folder.endswith(".lock") and Path(folder).is_file():
                # <key>.lock beside each cache folder stays on purpose: a shell glob over a cache
                # root (.../synthetic_mi/1/*) names them too
                print(f"skipped: {folder} (a cache build's lock file, not a cache)")
                continue
            try:
                for part, state in verify_cache(folder).items():
                    print(f"{state}: {part}")
            except NotACacheError as err:
                print(f"NOT A CACHE: {err}", file=sys.stderr)
                status = 2
            except BiosigError as err:
                print(f"DAMAGED: {err}", file=sys.stderr)
                status = max(status, 1)
        return status
    from biosig.data.recipe_config import datamodule_from_config, load_config

    if a.tasks is not None and a.task is None:
        raise ConfigError(f"--tasks {a.tasks} needs --task I (this process's task number) or "
                          "--task env")
    if not recipe:  # "biosig cache build : no `data:` section"
        raise ConfigError("biosig cache build needs a recipe: --config RECIPE.yaml (its `data:` "
                          "section is built)")
    cfg = load_config(recipe, BUILD_OPTIONS)
    if not cfg.get("data"):
        raise ConfigError(f"biosig cache build {' '.join(recipe)}: no `data:` section (give a "
                          "recipe with --config)")
    dm = datamodule_from_config(cfg["data"])
    opts = dict(dm.cache_options)
    for key, value in (("dtype", a.dtype), ("dead_channels", a.dead_channels),
                       ("num_workers", a.workers), ("shards", a.shards)):  # fmt: skip
        if value is not None:
            opts[key] = value
    windows = dm.windows if dm.windows is not None else dm.source.default_windows()
    steps = pipeline(dm.source, dm.preprocessing)
    root = Path(a.cache_dir or dm.cache_dir or cache_dir())
    if a.task is None:
        cache = get_cache(dm.source, dm.preprocessing, windows, root, dm.nan_policy, **opts)
        durable.wait()  # on disk before the command returns
        print(f"cache: {cache.path} ({len(cache)} windows)")
        return 0
    from biosig.data.shards import build_shards

    if "shards" not in opts:
        raise BiosigError("--task needs --shards (or data.cache_options.shards)")
    task = a.task
    n_shards = opts.pop("shards")
    workers = opts.pop("num_workers", None)
    built = build_shards(
        dm.source, BuildOptions(steps, windows, dm.nan_policy, **opts), root, n_shards,
        num_workers=workers, task=task, n_tasks=a.tasks,
    )  # fmt: skip
    durable.wait()
    print(f"cache: {built}" if built else "this task's shards are built; others still missing")
    return 0
