"""Cache durability without an fsync in the build: synced in the background, marked, and checked
once after a restart of the machine (biosig.data.durable)."""

import json
import os
import queue

import pytest

from biosig.data import durable, get_cache
from biosig.data.cache import WindowCache
from biosig.errors import InvalidFileError
from test_cache import ToySource


def _restarted(monkeypatch):
    """As if the machine had restarted since the build: another boot id."""
    monkeypatch.setattr(durable, "boot_id", lambda: "another-boot")


def test_a_build_is_synced_and_marked_in_the_background(tmp_path):
    cache = get_cache(ToySource(), root=tmp_path, num_workers=0)
    assert cache.params["boot"] == durable.boot_id() and len(cache.params["build"]) == 32
    durable.wait()
    assert (cache.path / durable.MARKER).read_text() == cache.params["build"]


def test_after_a_restart_an_unmarked_cache_is_checked_once_then_marked(tmp_path, monkeypatch):
    cache = get_cache(ToySource(), root=tmp_path, num_workers=0)
    durable.wait()
    (cache.path / durable.MARKER).unlink()
    _restarted(monkeypatch)
    checked = []
    monkeypatch.setattr("biosig.data.cache._check_checksums",
                        lambda folder, params: checked.append(folder))  # fmt: skip
    WindowCache(cache.path)
    WindowCache(cache.path)  # marked by the first open: not checked again
    assert checked == [cache.path]
    assert (cache.path / durable.MARKER).read_text() == cache.params["build"]


def test_after_a_restart_a_torn_cache_is_rebuilt(tmp_path, monkeypatch, caplog):
    src = ToySource()
    cache = get_cache(src, root=tmp_path, num_workers=0)
    durable.wait()
    (cache.path / durable.MARKER).unlink()
    x = cache.path / "X.f32"
    raw = bytearray(x.read_bytes())
    raw[100:200] = bytes(100)  # blocks that never reached the disk read back as zeros
    x.write_bytes(bytes(raw))
    _restarted(monkeypatch)
    with pytest.raises(InvalidFileError, match="before a restart.*X.f32"):
        WindowCache(cache.path)
    rebuilt = get_cache(src, root=tmp_path, num_workers=0)
    assert "rebuilding" in caplog.text and rebuilt.params["build"] != cache.params["build"]
    assert "delete" not in caplog.text  # it is rebuilt, not for the user to delete
    assert (rebuilt.path / "X.f32").read_bytes() != bytes(raw)


def test_a_marker_of_another_build_does_not_count(tmp_path, monkeypatch):
    cache = get_cache(ToySource(), root=tmp_path, num_workers=0)
    durable.wait()
    (cache.path / durable.MARKER).write_text("0" * 32)
    _restarted(monkeypatch)
    checked = []
    monkeypatch.setattr("biosig.data.cache._check_checksums",
                        lambda folder, params: checked.append(folder))  # fmt: skip
    WindowCache(cache.path)
    assert checked == [cache.path]


def test_without_a_boot_id_the_build_syncs_before_the_rename(tmp_path, monkeypatch):
    monkeypatch.setattr(durable, "boot_id", lambda: None)
    synced = []
    real = durable.sync_files
    monkeypatch.setattr(durable, "sync_files", lambda folder: synced.append(folder.name) or
                        real(folder))  # fmt: skip
    cache = get_cache(ToySource(), root=tmp_path, num_workers=0)
    assert synced and synced[0].startswith(".tmp-")  # before the rename
    assert (cache.path / durable.MARKER).read_text() == cache.params["build"]


def test_a_cache_from_before_this_scheme_opens_unchecked(tmp_path, monkeypatch):
    cache = get_cache(ToySource(), root=tmp_path, num_workers=0)
    durable.wait()
    params = json.loads((cache.path / "params.json").read_text())
    for key in ("build", "boot", "params_crc32"):  # none of them in a cache from before
        params.pop(key)
    (cache.path / "params.json").write_text(json.dumps(params))
    (cache.path / durable.MARKER).unlink()
    _restarted(monkeypatch)
    monkeypatch.setattr("biosig.data.cache._check_checksums", pytest.fail)
    assert len(WindowCache(cache.path)) == len(cache)


def test_shared_file_systems_are_recognised_from_the_mount_table(tmp_path):
    spaced = str(tmp_path / "with space").replace(" ", "\\040")  # as the mount table writes it
    mounts = "\n".join([
        "/dev/vda / ext4 rw,relatime 0 0",
        f"server:/export {tmp_path / 'nfs'} nfs4 rw 0 0",
        f"tmpfs {tmp_path / 'nfs' / 'local'} tmpfs rw 0 0",
        f"lustre@o2ib:/scratch {spaced} lustre rw 0 0",
    ])  # fmt: skip
    assert durable.shared_filesystem(tmp_path / "nfs" / "cache", mounts)
    assert not durable.shared_filesystem(tmp_path / "nfs" / "local" / "cache", mounts)
    assert durable.shared_filesystem(tmp_path / "with space" / "c", mounts)
    assert not durable.shared_filesystem(tmp_path / "elsewhere", mounts)
    assert not durable.shared_filesystem(tmp_path, "")  # unknown: not shared


def test_the_mount_table_is_read_once_per_file_system(tmp_path, monkeypatch):
    """Without a mount table given, the answer is memoised by the path's device id: builds in
    other folders of one file system do not read ``/proc/self/mounts`` again."""
    monkeypatch.setattr(durable, "_SHARED_BY_DEVICE", {})
    reads = []
    real = durable.Path.read_text
    monkeypatch.setattr(durable.Path, "read_text", lambda self, *a, **k: (
        reads.append(str(self)), real(self, *a, **k))[1])  # fmt: skip
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first = durable.shared_filesystem(tmp_path / "a")
    assert durable.shared_filesystem(tmp_path / "b") == first
    assert durable._SHARED_BY_DEVICE == {os.stat(tmp_path).st_dev: first}
    assert reads.count("/proc/self/mounts") == 1
    durable.shared_filesystem(tmp_path / "missing")  # no device id: read, not memoised
    assert reads.count("/proc/self/mounts") == 2 and len(durable._SHARED_BY_DEVICE) == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork only")
def test_a_forked_child_has_a_sync_queue_of_its_own(tmp_path, monkeypatch):
    """A child forked while the parent has a folder waiting to be synced starts with an empty
    queue and no sync thread: its ``wait`` does not wait for the parent's folders."""
    pending = queue.Queue()
    pending.put((tmp_path / "parent", "build"))  # the parent's, not yet taken by a thread
    monkeypatch.setattr(durable, "_queue", pending)
    monkeypatch.setattr(durable, "_thread", None)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without pytest's teardown
        try:
            own = durable._queue is not pending and durable._thread is None
            if own and durable._queue.unfinished_tasks == 0:
                durable.wait()  # would block forever on the parent's folder
                os.write(write, b"1")
            else:
                os.write(write, b"0")
        finally:
            os._exit(0)
    os.close(write)
    got = os.read(read, 1)
    os.close(read)
    os.waitpid(pid, 0)
    assert got == b"1"
    assert durable._queue is pending and pending.unfinished_tasks == 1  # the parent's as it was


def test_on_a_shared_file_system_the_build_syncs_before_the_rename(tmp_path, monkeypatch):
    monkeypatch.setattr(durable, "shared_filesystem", lambda path: True)
    synced = []
    real = durable.sync_files
    monkeypatch.setattr(durable, "sync_files", lambda folder: synced.append(folder.name) or
                        real(folder))  # fmt: skip
    monkeypatch.setattr(durable, "sync_later", pytest.fail)
    cache = get_cache(ToySource(), root=tmp_path, num_workers=0)
    assert synced and synced[0].startswith(".tmp-")
    assert (cache.path / durable.MARKER).read_text() == cache.params["build"]
