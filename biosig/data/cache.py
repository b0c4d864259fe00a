"""The window cache: one memory-mapped float32 array (N x C x T), labels, a metadata table.

Layout of ``<BIOSIG_CACHE>/<dataset>/<version>/<key>/``:

- ``X.f32``   raw float32 windows, C-order, shape in ``params.json`` (opened with ``np.memmap``)
- ``y.npy``   labels: int64 ``(N,)``, or float32 ``(N, K)`` multi-hot for multi-label data
- ``meta.csv`` one row per window: record, subject, session, onset, event, label, ...
- ``params.json`` the key's inputs (dataset identity, preprocessing, windows, NaN policy), shape,
  channel names, sampling rate, class names and build statistics.

``key`` is a hash of everything that changes the content, so a changed parameter never reuses a
stale cache. A build streams record by record into a temporary folder next to the target and is
renamed into place only when complete: a killed build leaves nothing that is ever reused (its
temporary folder is removed by the next build of the same key). Concurrent builders of one key
(e.g. DDP ranks) serialise on a lock file.

The steps a cache applies are :func:`pipeline`: the dataset's own standard steps first
(``source.default_preprocessing()``, e.g. TUEV's filters, resampling and montage), then the
caller's; ``params.json`` lists them all.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from biosig.errors import BiosigError, ChannelError, InvalidFileError
from biosig.paths import cache_dir
from biosig.signal.preprocessing import apply_steps, interpolate_gaps, steps_params
from biosig.signal.recording import IDENTIFYING_KEYS

CACHE_FORMAT = 1
NAN_POLICIES = ("reject", "interpolate", "raise")
_ROW_KEYS = ("start", "label", "onset", "event")  # window-row fields with a fixed meaning


def cache_key(source, preprocessing, windows, nan_policy: str = "reject") -> str:
    """Hash of the dataset identity, every preprocessing and window parameter and the NaN policy."""
    payload = {
        "format": CACHE_FORMAT,
        "dataset": source.identity(),
        "preprocessing": steps_params(preprocessing),
        "windows": windows.params(),
        "nan_policy": nan_policy,
    }
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


class WindowCache:
    """A built cache, opened read-only. ``X`` is a memmap; ``y`` and ``meta`` are in memory."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        params_file = self.path / "params.json"
        try:
            self.params = json.loads(params_file.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise InvalidFileError(params_file, f"not a complete window cache ({err})") from err
        shape = tuple(self.params["shape"])
        x_file = self.path / "X.f32"
        expected = int(np.prod(shape)) * 4
        if not x_file.exists() or x_file.stat().st_size != expected:
            size = x_file.stat().st_size if x_file.exists() else "missing"
            raise InvalidFileError(
                x_file, f"size {size} does not match shape {shape} ({expected} bytes)"
            )
        self.X = (
            np.memmap(x_file, dtype=np.float32, mode="r", shape=shape)
            if expected
            else np.zeros(shape, np.float32)
        )
        self.y = np.load(self.path / "y.npy")
        self.meta = pd.read_csv(self.path / "meta.csv", keep_default_na=False)
        if len(self.y) != shape[0] or len(self.meta) != shape[0]:
            raise InvalidFileError(self.path, "labels, metadata and windows disagree in length")

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
    def stats(self) -> dict:
        return dict(self.params["stats"])


@contextmanager
def _locked(lock_path: Path):
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _meta_fields(ref: dict) -> dict:
    leaked = IDENTIFYING_KEYS.intersection(k.lower() for k in ref)
    if leaked:
        raise BiosigError(
            f"record index or window carries identifying fields {sorted(leaked)}; "
            "they must never reach a cache"
        )
    return {k: v for k, v in ref.items() if k not in ("label", "labels") and np.isscalar(v)}


def build_cache(
    source,
    preprocessing,
    windows,
    path: Path,
    nan_policy: str = "reject",
    progress: bool | None = None,
) -> WindowCache:
    """Stream every record of ``source`` through ``preprocessing`` and ``windows`` into ``path``."""
    if nan_policy not in NAN_POLICIES:
        raise BiosigError(f"nan_policy must be one of {NAN_POLICIES}, got {nan_policy!r}")
    refs = source.records()
    if not refs:
        raise BiosigError(f"dataset {source.name!r} has no records")
    tmp = path.parent / f".tmp-{path.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    stats = {
        "records": 0,
        "windows": 0,
        "nan_rejected": 0,
        "nan_interpolated": 0,
        "skipped_out_of_bounds": 0,
    }
    meta_rows, labels = [], []
    ch_names = sfreq = n_times = None
    show = sys.stderr.isatty() if progress is None else progress
    try:
        from tqdm import tqdm

        with open(tmp / "X.f32", "wb") as fx:
            for ref in tqdm(refs, desc=f"caching {source.name}", unit="rec", disable=not show):
                rec = apply_steps(source.load(ref), preprocessing)
                where = rec.meta.get("source", ref.get("record"))
                if ch_names is None:
                    ch_names, sfreq = rec.ch_names, rec.sfreq
                    n_times = windows.n_times(sfreq)
                elif rec.ch_names != ch_names or abs(rec.sfreq - sfreq) > 1e-6 * sfreq:
                    raise ChannelError(
                        f"{where}: channels/sampling rate {rec.ch_names} @ {rec.sfreq} Hz differ "
                        f"from the first record's {ch_names} @ {sfreq} Hz; add "
                        "PickChannels/Resample steps"
                    )
                rows, skipped = windows(rec, ref)
                stats["skipped_out_of_bounds"] += skipped
                stats["records"] += 1
                base = _meta_fields(ref)
                block = []
                for k, row in enumerate(rows):
                    x = rec.data[:, row["start"] : row["start"] + n_times]
                    if not np.isfinite(x).all():
                        if nan_policy == "raise":
                            raise InvalidFileError(
                                where, f"non-finite samples in window at {row['onset']:.3f} s"
                            )
                        x = interpolate_gaps(x, empty=None) if nan_policy == "interpolate" else None
                        if x is None:
                            stats["nan_rejected"] += 1
                            continue
                        stats["nan_interpolated"] += 1
                    block.append(x)
                    labels.append(row["label"])
                    extra = _meta_fields({f: v for f, v in row.items() if f not in _ROW_KEYS})
                    meta_rows.append(
                        {
                            **base,
                            **extra,
                            "window": k,
                            "onset": row["onset"],
                            "event": row.get("event", ""),
                            "label": row["label"]
                            if np.isscalar(row["label"])
                            else ";".join(map(str, row["label"])),
                        }
                    )
                if block:
                    fx.write(np.ascontiguousarray(np.stack(block), dtype=np.float32).tobytes())
            fx.flush()
            os.fsync(fx.fileno())
        n = len(meta_rows)
        stats["windows"] = n
        if n == 0:
            raise BiosigError(
                f"dataset {source.name!r}: no window in {stats['records']} records "
                f"with windows {windows.params()} (stats: {stats})"
            )
        if source.multilabel:
            y = np.zeros((n, len(source.classes)), np.float32)
            for i, lab in enumerate(labels):
                y[i, list(lab)] = 1.0
        else:
            y = np.asarray(labels, dtype=np.int64).reshape(n)
        np.save(tmp / "y.npy", y)
        pd.DataFrame(meta_rows).to_csv(tmp / "meta.csv", index=False)
        params = {
            "key": path.name,
            "format": CACHE_FORMAT,
            "shape": [n, len(ch_names), n_times],
            "dtype": "float32",
            "ch_names": ch_names,
            "sfreq": sfreq,
            "classes": list(source.classes),
            "multilabel": bool(source.multilabel),
            "dataset": source.identity(),
            "preprocessing": steps_params(preprocessing),
            "windows": windows.params(),
            "nan_policy": nan_policy,
            "stats": stats,
        }
        (tmp / "params.json").write_text(json.dumps(params, indent=1, default=str))
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return WindowCache(path)


def pipeline(source, preprocessing=()) -> list:
    """The steps a cache applies to each record: the dataset's own then ``preprocessing``.

    A dataset lists its standard steps in ``default_preprocessing()`` (a
    :class:`~biosig.datasets.base.DatasetSource` method; sources that do not define it have none)
    and yields raw recordings from ``load()``.
    """
    own = getattr(source, "default_preprocessing", None)
    return [*(own() if own is not None else ()), *(preprocessing or ())]


def get_cache(
    source,
    preprocessing=(),
    windows=None,
    root: str | Path | None = None,
    nan_policy: str = "reject",
    progress: bool | None = None,
) -> WindowCache:
    """Open the cache for these inputs, building it first if it does not exist yet.

    ``preprocessing`` runs after the dataset's own steps (see :func:`pipeline`).
    """
    windows = windows if windows is not None else source.default_windows()
    preprocessing = pipeline(source, preprocessing)
    key = cache_key(source, preprocessing, windows, nan_policy)
    folder = Path(root) if root is not None else cache_dir()
    path = folder / source.name / str(source.version) / key
    if (path / "params.json").exists():
        return WindowCache(path)
    with _locked(path.parent / f"{key}.lock"):
        if (path / "params.json").exists():  # built by another process while we waited
            return WindowCache(path)
        for stale in path.parent.glob(f".tmp-{key}-*"):  # left by a killed build
            shutil.rmtree(stale, ignore_errors=True)
        if path.exists():  # a folder without params.json is not a cache: never reuse it
            shutil.rmtree(path)
        return build_cache(source, preprocessing, windows, path, nan_policy, progress)
