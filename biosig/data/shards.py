"""Sharded window caches: one crash-safe cache folder per shard, an index ties them together.

Records go to shard ``int(sha256(record name)[:8], 16) % n_shards``: by identity, not position,
so adding records leaves the other records' shards as they are. Each shard is an ordinary cache
folder (built in a temporary folder, renamed when complete) under
``<root>/<dataset>/<version>/shards/<shard key>/``; its key hashes the dataset options, the
pipeline, the shard's records and, where the dataset names each record's files
(``record_files(ref)``), those files' fingerprints (else every file of the dataset). A shard whose
inputs did not change is reused, a killed or failed one is rebuilt alone.
``<root>/<dataset>/<version>/<key>/index.json`` lists the shards (relative names); opening that
folder with :class:`~biosig.data.cache.WindowCache` reads the union as one cache, shard after
shard.

Who builds what: every process that calls :func:`get_sharded` for the same inputs takes the
unfinished shards one at a time under a per-shard lock (shards locked by another process are
skipped first and waited for last), so N SLURM tasks, torchrun or Lightning DDP ranks can run the
same command. With ``task``/``n_tasks`` (default from the environment: SLURM array, torchrun
``RANK``/``WORLD_SIZE`` or ``SLURM_PROCID``/``SLURM_NTASKS`` when ``task="env"``) a process builds
only shards ``i`` with ``i % n_tasks == task`` and returns ``None`` unless all shards are done.
Progress: a bar per shard (interactive) and ``biosig.cache`` log lines per shard and overall.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path

import numpy as np

from biosig.data.cache import (
    CACHE_FORMAT,
    DamagedCacheError,
    WindowCache,
    build_cache,
    damage,
    hash_payload,
    key_payload,
    locked,
    open_or_rebuild,
)
from biosig.data.cache_build import finished_stats, merge_stats
from biosig.errors import (BiosigError, ChannelError, ConfigError, InvalidFileError,
                           SamplingRateError, channel_difference)

log = logging.getLogger("biosig.cache")


def shard_of(record: str, n_shards: int) -> int:
    """The shard of a record name: a stable hash, independent of the other records."""
    return int(hashlib.sha256(str(record).encode()).hexdigest()[:8], 16) % n_shards


def task_from_env() -> tuple[int, int]:
    """``(task, n_tasks)`` of this process: a SLURM array task, a torchrun/Lightning rank or a
    SLURM step task; ``(0, 1)`` when none is set."""
    env = os.environ
    for t, n in (
        ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT"),
        ("RANK", "WORLD_SIZE"),
        ("SLURM_PROCID", "SLURM_NTASKS"),
    ):
        if t in env and n in env:
            task, n_tasks = _env_int(t), _env_int(n)
            if t == "SLURM_ARRAY_TASK_ID":  # ids may start at SLURM_ARRAY_TASK_MIN
                task -= _env_int("SLURM_ARRAY_TASK_MIN", "0")
            return task, n_tasks
    return 0, 1


def _env_int(name: str, default: str | None = None) -> int:
    value = os.environ.get(name, default)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"shard task from the environment: ${name}={value!r} is not a whole "
                          "number") from None


def _record_fingerprints(source, refs) -> list | None:
    files_of = getattr(source, "record_files", None)
    if files_of is None:
        return None
    from biosig.datasets._common import file_fingerprint

    out = []
    for ref in refs:
        files = files_of(ref)
        if files is None:
            return None
        out.append([ref["record"], [file_fingerprint(Path(f)) for f in files]])
    return out


def plan(source, opts, n_shards: int) -> tuple[str, list[dict], dict]:
    """The sharded cache's key, its non-empty shards (``{"index", "key", "refs"}`` each) and the
    dataset identity without its file list (what each shard's ``params.json`` records)."""
    if not isinstance(n_shards, int) or n_shards < 1:
        raise ConfigError(f"cache shards must be a positive integer, got {n_shards!r}")
    refs = source.records()
    if not refs:
        raise BiosigError(f"dataset {source.name!r} has no records")
    payload = key_payload(source, opts.preprocessing, opts.windows, opts)
    files = payload["dataset"].pop("files", None)
    groups: dict[int, list] = {}
    for ref in refs:
        groups.setdefault(shard_of(ref["record"], n_shards), []).append(ref)
    out = []
    for i in sorted(groups):
        prints = _record_fingerprints(source, groups[i])
        shard_payload = {
            **payload,
            "shard": [i, n_shards],
            "records": groups[i],
            "files": files if prints is None else prints,
        }
        out.append({"index": i, "key": hash_payload(shard_payload), "refs": groups[i]})
    keys = [s["key"] for s in out]
    top = hash_payload({"format": CACHE_FORMAT, "shards": n_shards, "keys": keys})
    return top, out, payload["dataset"]


def _done(path: Path) -> bool:
    """A finished shard that passes the checks of opening it (a damaged one is rebuilt)."""
    if not (path / "params.json").exists():
        return False
    from biosig.data.cache import open_checked

    try:
        open_checked(path)
    except InvalidFileError:
        return False
    return True


def _build_one(source, opts, ident, shard, folder, n_shards, progress, num_workers, finished):
    path = folder / shard["key"]
    label = f"shard {shard['index'] + 1}/{n_shards}"
    t0 = time.perf_counter()
    log.info("%s: %d records -> %s", label, len(shard["refs"]), path)
    cache = open_or_rebuild(
        path,
        lambda p: build_cache(
            source, opts.preprocessing, opts.windows, p, opts, progress, refs=shard["refs"],
            num_workers=num_workers, label=label, allow_empty=True,
            extra_params={"shard": [shard["index"], n_shards]}, identity=ident,
        ),
    )  # fmt: skip
    finished[shard["key"]] = True
    log.info("%s done: %d windows in %.0f s; %d/%d shards finished", label, len(cache),
             time.perf_counter() - t0, sum(finished.values()), len(finished))  # fmt: skip
    return cache


def build_shards(source, opts, root: Path, n_shards: int, *, progress=None, num_workers=None,
                 task: int | None = None, n_tasks: int | None = None) -> Path | None:  # fmt: skip
    """Build the missing shards (all, or this task's share); write the index once every shard
    is finished. Returns the index folder, or None when other tasks' shards are still missing."""
    if task == "env":
        if n_tasks is not None:
            raise ConfigError(f"shard task 'env' takes the number of tasks from the environment;"
                              f" n_tasks={n_tasks} (biosig cache build --tasks) would be ignored")
        task, n_tasks = task_from_env()
    if task is None and n_tasks is not None:
        raise ConfigError(f"n_tasks={n_tasks} (biosig cache build --tasks) needs this process's "
                          "task too (task=, --task I or --task env)")
    for name, value in (("task", task), ("n_tasks", n_tasks)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"shard {name} must be a whole number (or task='env'), got "
                              f"{value!r}")
    if task is not None and (n_tasks is None or not 0 <= task < n_tasks):
        if n_tasks is None:
            raise ConfigError(f"shard task {task} needs the number of tasks too (n_tasks=, "
                              "biosig cache build --tasks N)")
        raise ConfigError(f"shard task {task} needs 0 <= task < n_tasks (n_tasks={n_tasks})")
    top, shards, ident = plan(source, opts, n_shards)
    base = root / source.name / str(source.version)
    folder = base / "shards"
    mine = [s for s in shards if task is None or s["index"] % n_tasks == task]
    finished = {s["key"]: _done(folder / s["key"]) for s in shards}
    log.info("sharded cache %s: %d shards, %d finished, %d to build here", top, len(shards),
             sum(finished.values()), sum(not finished[s["key"]] for s in mine))  # fmt: skip
    args = (source, opts, ident)
    later = []
    for s in mine:  # first pass: skip shards another process is building
        if finished[s["key"]]:
            continue
        with locked(folder / f"{s['key']}.lock", blocking=False) as got:
            if not got:
                later.append(s)
                continue
        _build_one(*args, s, folder, n_shards, progress, num_workers, finished)
    for s in later:  # second pass: wait for them (or build them if their builder died)
        _build_one(*args, s, folder, n_shards, progress, num_workers, finished)
    missing = [s["index"] for s in shards if not _done(folder / s["key"])]
    if missing:
        owner = "" if task is None else f" (task {', '.join(_tasks_of(missing, n_tasks))})"
        log.info("sharded cache %s: %d/%d shards finished; missing or damaged: shard %s%s; the "
                 "index is written when all are", top, len(shards) - len(missing), len(shards),
                 ", ".join(str(i + 1) for i in missing[:20]) + (" ..." if len(missing) > 20
                                                                else ""), owner)  # fmt: skip
        return None
    path = base / top
    with locked(base / f"{top}.index.lock"):
        if not _index_ok(path):
            _write_index(path, top, shards, folder, n_shards)
    return path


def _index_ok(path: Path) -> bool:
    """Whether ``path`` holds an index that opens with its shards (the checks of opening a
    cache: sizes, CRC-32s of the small files); a damaged one is logged (it is rewritten)."""
    if not (path / "index.json").exists():
        return False
    try:
        WindowCache(path)
    except InvalidFileError as err:
        log.warning("sharded cache %s fails its checks (%s): writing its index again", path,
                    damage(err))
        return False
    return True


def _tasks_of(indices, n_tasks: int) -> list[str]:
    """The task numbers that build these shard indices (``i % n_tasks``), sorted."""
    return [str(t) for t in sorted({i % n_tasks for i in indices})]


def _write_index(path: Path, top: str, shards, folder: Path, n_shards: int) -> None:
    names, stats, first, n = [], {}, None, 0
    for s in shards:
        params = json.loads((folder / s["key"] / "params.json").read_text())
        names.append(f"../shards/{s['key']}")
        merge_stats(stats, params["stats"])
        n += params["shape"][0]
        if params["shape"][0] and params["ch_names"]:
            if first is None:
                first = params
            elif params["ch_names"] != first["ch_names"]:
                raise ChannelError(
                    f"shard {folder / s['key']}: channels differ from shard {first['key']}'s "
                    f"({channel_difference(params['ch_names'], first['ch_names'])}); add a "
                    "PickChannels step naming the channels to keep"
                )
            elif params["sfreq"] != first["sfreq"]:
                raise SamplingRateError(
                    f"shard {folder / s['key']}: sampling rate {params['sfreq']:g} Hz differs "
                    f"from shard {first['key']}'s {first['sfreq']:g} Hz; add a Resample step"
                )
    stats = finished_stats(stats)
    if first is None:
        counts = {k: v for k, v in stats.items() if k != "channels"}  # not 64 channels' counts
        raise BiosigError(f"sharded cache {top}: no window in any shard (stats: {counts})")
    keep = ("dtype", "classes", "multilabel", "dataset", "preprocessing", "windows", "nan_policy",
            "dead_channels", "ch_names", "sfreq")  # fmt: skip
    index = {
        "key": top,
        "format": CACHE_FORMAT,
        "n_shards": n_shards,
        "shards": names,
        **{k: first[k] for k in keep},
        "shape": [n, *first["shape"][1:]],
        "stats": stats,
    }
    path.mkdir(parents=True, exist_ok=True)
    tmp = path / f".index-{os.getpid()}.json"
    tmp.write_text(json.dumps(index, indent=1, default=str))
    os.replace(tmp, path / "index.json")


def open_shards(path: Path) -> tuple[dict, list[WindowCache]]:
    """The index of a sharded cache and its shards opened (used by WindowCache)."""
    from biosig.data.cache import _read_params

    index = _read_params(path, "index.json")
    shards = []
    for name in index["shards"]:
        folder = (path / name).resolve()
        if not (folder / "params.json").exists():
            raise DamagedCacheError(folder, f"shard of the sharded cache {path} is missing", path)
        shards.append(WindowCache(folder))
    total = sum(len(s) for s in shards)
    if total != index["shape"][0]:
        raise DamagedCacheError(path / "index.json", f"{total} windows in the shards, index "
                                f"says {index['shape'][0]}", path)  # fmt: skip
    return index, shards


def get_sharded(source, opts, root: Path, n_shards: int, **kw) -> WindowCache:
    """Open the sharded cache, building the missing shards first (see :func:`build_shards`).
    With a ``task``, raises if other tasks' shards are still missing afterwards."""
    top, _, _ = plan(source, opts, n_shards)
    path = root / source.name / str(source.version) / top
    if (path / "index.json").exists():
        try:
            return WindowCache(path)
        except InvalidFileError as err:
            log.warning("sharded cache %s fails its checks (%s): rebuilding what is missing",
                        path, damage(err))  # fmt: skip
            (path / "index.json").unlink()
    built = build_shards(source, opts, root, n_shards, **kw)
    if built is None:
        raise BiosigError(
            f"sharded cache {path}: this task's shards are built, others are still missing; "
            "open it once every task has finished (or call without task to build the rest)"
        )
    return WindowCache(built)


def shard_sizes(cache: WindowCache) -> np.ndarray:
    """Windows per shard of an opened sharded cache (``[len(cache)]`` when not sharded)."""
    return np.array([len(s) for s in cache.shards] or [len(cache)])
