"""When a finished cache folder is known to be on disk, without waiting for ``fsync`` in a build.

A build writes its files, renames the folder into place and returns; a background thread then
``fsync``\\ s the files and the folder and writes a ``synced`` marker holding the build's id.
Until the marker exists, the folder's bytes may live only in the OS page cache, which is what
every reader of this boot sees (a killed *process* loses nothing). Only a crash of the machine
can lose unsynced bytes, so :func:`check` accepts a folder that

- has a ``synced`` marker of its build, or
- was built during the current boot (``params["boot"]``, from ``/proc``), or
- predates this scheme (no ``"build"`` in its params: such builds synced their windows before
  the rename);

any other folder (built before a reboot, never confirmed on disk) has its stored CRC-32s
checked once: a match writes the marker, a mismatch raises :class:`InvalidFileError` (the cache
is rebuilt). Builds sync before the rename, as before, where the boot id is unknown (not Linux)
and where the folder is on a file system shared between machines (:func:`shared_filesystem`:
NFS, Lustre, GPFS, BeeGFS, CephFS, SMB...), whose other readers have other boot ids and would
each check a fresh cache's CRC-32s. :func:`wait` blocks until the pending syncs are done
(``biosig cache build`` calls it); a forked child starts with none (the parent's stay the
parent's).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import queue
import threading
from pathlib import Path

from biosig.errors import InvalidFileError

log = logging.getLogger("biosig.cache")

MARKER = "synced"
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
_queue: queue.Queue = queue.Queue()
_lock = threading.Lock()
_thread: threading.Thread | None = None


def _forget_parent_syncs() -> None:
    """In a forked child: a queue and lock of its own, and no sync thread yet (the parent's is
    not copied, and its queue, pending folders and lock state belong to the parent)."""
    global _queue, _lock, _thread
    _queue, _lock, _thread = queue.Queue(), threading.Lock(), None


os.register_at_fork(after_in_child=_forget_parent_syncs)


@functools.lru_cache(maxsize=1)
def boot_id() -> str | None:
    """This boot's id (Linux), or None where the OS does not tell (read once per process: every
    cache open compares with it)."""
    try:
        return _BOOT_ID.read_text().strip() or None
    except OSError:
        return None


#: file-system types (``/proc/self/mounts``) that several machines mount at once
SHARED_FS = ("nfs", "nfs4", "lustre", "gpfs", "beegfs", "ceph", "cifs", "smb3", "smbfs",
             "glusterfs", "fuse.glusterfs", "fuse.cephfs", "fuse.beegfs", "9p", "afs",
             "panfs", "wekafs", "fuse.sshfs")  # fmt: skip


_SHARED_BY_DEVICE: dict[int, bool] = {}  # shared_filesystem's memo: st_dev -> its answer


def shared_filesystem(path: Path, mounts: str | None = None) -> bool:
    """Whether ``path`` lies on a file system of :data:`SHARED_FS` (the mount point that
    contains it, from ``/proc/self/mounts`` or ``mounts``); False where that is unknown.
    Without ``mounts`` the answer is memoised by the device id of an existing ``path`` (one
    file system, whatever its mount points): a build reads ``/proc/self/mounts`` once per file
    system."""
    if mounts is None:
        try:
            device = os.stat(path).st_dev
        except OSError:
            device = None
        if device in _SHARED_BY_DEVICE:
            return _SHARED_BY_DEVICE[device]
        try:
            shared = shared_filesystem(path, Path("/proc/self/mounts").read_text())
        except OSError:
            return False
        if device is not None:
            _SHARED_BY_DEVICE[device] = shared
        return shared
    target = os.path.realpath(path)
    best, fstype = "", None
    for line in mounts.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, fstype = point, parts[2]
    return fstype in SHARED_FS


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)  # a file or a folder
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_files(folder: Path) -> None:
    """``fsync`` every file of ``folder`` and the folder itself."""
    for f in sorted(folder.iterdir()):
        if f.is_file():
            _fsync(f)
    _fsync(folder)


def mark(folder: Path, build: str) -> None:
    """Write the ``synced`` marker of build ``build`` (after its files are on disk)."""
    tmp = folder / f".{MARKER}-{build}"
    tmp.write_text(build)
    _fsync(tmp)
    os.replace(tmp, folder / MARKER)
    _fsync(folder)


def _sync_and_mark(folder: Path, build: str) -> None:
    try:
        sync_files(folder)
        if _read_marker(folder) is None and _build_of(folder) == build:
            mark(folder, build)
    except OSError as err:  # e.g. the folder was deleted meanwhile: it is checked on open
        log.debug("background sync of %s stopped: %s", folder, err)


def _syncer() -> None:
    while True:
        folder, build = _queue.get()
        try:
            _sync_and_mark(folder, build)
        finally:
            _queue.task_done()


def sync_later(folder: Path, build: str) -> None:
    """Sync ``folder`` (a finished build ``build``) on this process's background thread, then
    mark it (folders are synced one after the other, in the order of their builds)."""
    global _thread
    with _lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_syncer, name="biosig-cache-sync", daemon=True)
            _thread.start()
    _queue.put((folder, build))


def wait() -> None:
    """Block until every background sync of this process is done."""
    _queue.join()


def _read_marker(folder: Path) -> str | None:
    try:
        return (folder / MARKER).read_text()
    except OSError:
        return None


def _build_of(folder: Path) -> str | None:
    try:
        return json.loads((folder / "params.json").read_text()).get("build")
    except (OSError, ValueError):
        return None


def check(folder: Path, params: dict, verify) -> None:
    """Accept ``folder`` as described in the module docstring; ``verify(folder, params)``
    raises :class:`InvalidFileError` when a stored checksum does not match."""
    build = params.get("build")
    if build is None or _read_marker(folder) == build:
        return
    if params.get("boot") is not None and params["boot"] == boot_id():
        return
    log.info("cache %s was built before a restart and never confirmed on disk: checking its "
             "checksums once", folder)  # fmt: skip
    try:
        verify(folder, params)
    except InvalidFileError as err:
        from biosig.data.cache import DamagedCacheError, damage

        raise DamagedCacheError(folder, "built before a restart of the machine and not fully on "
                                        f"disk ({damage(err)})", folder) from err
    try:
        mark(folder, build)
    except OSError as err:  # a read-only copy: it is checked again next time
        log.debug("cannot mark %s as synced: %s", folder, err)
