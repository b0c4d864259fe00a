"""Offline tests of biosig.datasets.download: a loopback HTTP server and file:// URLs."""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from biosig.datasets.download import (
    RemoteFile,
    download_file,
    extract_archive,
    fetch_files,
    sha256_file,
)
from biosig.errors import DownloadError

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB, deterministic
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves PAYLOAD at /data.bin; honours Range; can truncate the first N full responses."""

    files: dict[str, bytes] = {}
    truncate_next = 0  # how many upcoming responses send only half their body
    requests: list[dict] = []

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        cls = type(self)
        body = cls.files.get(self.path)
        cls.requests.append({"path": self.path, "range": self.headers.get("Range")})
        if body is None:
            self.send_error(404)
            return
        start = 0
        rng = self.headers.get("Range")
        if rng:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        chunk = body[start:]
        self.send_header("Content-Length", str(len(chunk)))
        self.end_headers()
        if cls.truncate_next > 0:
            cls.truncate_next -= 1
            self.wfile.write(chunk[: len(chunk) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(chunk)


@pytest.fixture()
def server():
    _Handler.files = {"/data.bin": PAYLOAD}
    _Handler.truncate_next = 0
    _Handler.requests = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_http_download_verified(server, tmp_path):
    out = download_file(f"{server}/data.bin", tmp_path / "a" / "data.bin", PAYLOAD_SHA)
    assert out.read_bytes() == PAYLOAD
    assert not (tmp_path / "a" / "data.bin.part").exists()
    # a second call finds the verified file and makes no request
    n = len(_Handler.requests)
    download_file(f"{server}/data.bin", out, PAYLOAD_SHA)
    assert len(_Handler.requests) == n


def test_truncated_transfer_resumes_with_range(server, tmp_path):
    _Handler.truncate_next = 1
    out = download_file(f"{server}/data.bin", tmp_path / "data.bin", PAYLOAD_SHA, retries=2)
    assert out.read_bytes() == PAYLOAD
    assert _Handler.requests[0]["range"] is None
    assert _Handler.requests[1]["range"] == f"bytes={len(PAYLOAD) // 2}-"


def test_existing_partial_file_is_resumed(server, tmp_path):
    dest = tmp_path / "data.bin"
    (tmp_path / "data.bin.part").write_bytes(PAYLOAD[:1000])
    download_file(f"{server}/data.bin", dest, PAYLOAD_SHA)
    assert dest.read_bytes() == PAYLOAD
    assert _Handler.requests == [{"path": "/data.bin", "range": "bytes=1000-"}]


@pytest.mark.parametrize("where", ["http", "file"])
@pytest.mark.parametrize("sha", [PAYLOAD_SHA, None], ids=["verified", "unverified"])
def test_a_partial_file_longer_than_the_remote_file_is_fetched_again(server, tmp_path, where,
                                                                     sha):
    """A .part left by another version of the file, longer than this one: every later call
    failed ('server resumed at byte N, expected M', file://), or it was kept as the file with
    its stale bytes (HTTP 416, no checksum to catch it)."""
    src = tmp_path / "remote" / "data.bin"
    src.parent.mkdir()
    src.write_bytes(PAYLOAD)
    url = f"{server}/data.bin" if where == "http" else src.as_uri()
    dest = tmp_path / "data.bin"
    (tmp_path / "data.bin.part").write_bytes(PAYLOAD + b"stale tail")
    assert download_file(url, dest, sha).read_bytes() == PAYLOAD
    assert not (tmp_path / "data.bin.part").exists()


def test_truncation_beyond_retries_keeps_partial(server, tmp_path):
    _Handler.truncate_next = 10
    with pytest.raises(DownloadError, match="partial file"):
        download_file(f"{server}/data.bin", tmp_path / "data.bin", PAYLOAD_SHA, retries=1)
    assert not (tmp_path / "data.bin").exists()
    assert (tmp_path / "data.bin.part").exists()


def test_wrong_checksum_leaves_nothing(server, tmp_path):
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        download_file(f"{server}/data.bin", tmp_path / "data.bin", "0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_corrupt_existing_file_is_replaced(server, tmp_path):
    dest = tmp_path / "data.bin"
    dest.write_bytes(b"garbage")
    download_file(f"{server}/data.bin", dest, PAYLOAD_SHA)
    assert sha256_file(dest) == PAYLOAD_SHA


def test_http_404_is_download_error(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_file(f"{server}/missing.bin", tmp_path / "x.bin", None)


def test_offline_error_names_url(tmp_path):
    # port 9 on loopback (discard) is closed on any sane test machine: connection refused
    url = "http://127.0.0.1:9/ptb-xl/1.0.3/RECORDS"
    with pytest.raises(DownloadError) as err:
        download_file(url, tmp_path / "RECORDS", None, retries=0, timeout=2)
    assert url in str(err.value) and "offline" in str(err.value)
    assert not (tmp_path / "RECORDS").exists()


def test_file_url_and_fetch_files(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_bytes(b"hello")
    (src / "b.bin").write_bytes(PAYLOAD)
    files = [
        RemoteFile((src / "a.txt").as_uri(), "sub/a.txt", hashlib.sha256(b"hello").hexdigest(), 5),
        RemoteFile((src / "b.bin").as_uri(), "b.bin", PAYLOAD_SHA),
    ]
    root = tmp_path / "root"
    paths = fetch_files(files, root)
    assert [p.read_bytes() for p in paths] == [b"hello", PAYLOAD]
    # file:// resume from a partial file
    (root / "c.bin.part").write_bytes(PAYLOAD[:12345])
    out = download_file((src / "b.bin").as_uri(), root / "c.bin", PAYLOAD_SHA)
    assert out.read_bytes() == PAYLOAD


def test_file_url_missing_is_clear(tmp_path):
    url = (tmp_path / "nope.bin").as_uri()
    with pytest.raises(DownloadError, match="nope.bin"):
        download_file(url, tmp_path / "out.bin", None)


def test_remote_file_rejects_traversal():
    with pytest.raises(ValueError):
        RemoteFile("http://x/y", "../escape.txt")
    with pytest.raises(ValueError):
        RemoteFile("http://x/y", "/abs.txt")


def _tar_with(
    tmp_path: Path, name: str, data: bytes = b"x", kind=tarfile.REGTYPE, linkname=""
) -> Path:
    path = tmp_path / "a.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        ok = tarfile.TarInfo("good/file.txt")
        ok.size = 2
        tf.addfile(ok, io.BytesIO(b"ok"))
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = linkname
        info.size = len(data) if kind == tarfile.REGTYPE else 0
        tf.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    return path


def test_extract_tar_and_zip(tmp_path):
    tar = _tar_with(tmp_path, "good/sub/b.txt", b"bb")
    out = tmp_path / "out"
    files = extract_archive(tar, out)
    assert sorted(p.relative_to(out).as_posix() for p in files) == [
        "good/file.txt",
        "good/sub/b.txt",
    ]
    zpath = tmp_path / "a.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("d/x.txt", "xx")
    extract_archive(zpath, out)
    assert (out / "d" / "x.txt").read_text() == "xx"
    assert not [p for p in out.iterdir() if p.name.startswith(".extract")]


@pytest.mark.parametrize("name", ["../evil.txt", "good/../../evil.txt", "/tmp/evil.txt"])
def test_tar_traversal_rejected(tmp_path, name):
    tar = _tar_with(tmp_path, name)
    out = tmp_path / "out"
    with pytest.raises(DownloadError, match="refusing"):
        extract_archive(tar, out)
    assert not (tmp_path / "evil.txt").exists()
    assert list(out.iterdir()) == []  # nothing extracted, not even the good member


def test_tar_symlink_rejected(tmp_path):
    tar = _tar_with(tmp_path, "good/link", kind=tarfile.SYMTYPE, linkname="/etc/passwd")
    with pytest.raises(DownloadError, match="links"):
        extract_archive(tar, tmp_path / "out")


def test_zip_traversal_rejected(tmp_path):
    zpath = tmp_path / "a.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("ok.txt", "ok")
        zf.writestr("../../evil.txt", "evil")
    with pytest.raises(DownloadError, match="traversal"):
        extract_archive(zpath, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()
    assert list((tmp_path / "out").iterdir()) == []


def test_not_an_archive(tmp_path):
    p = tmp_path / "x.zip"
    p.write_bytes(b"not an archive")
    with pytest.raises(DownloadError, match="not a zip or tar"):
        extract_archive(p, tmp_path / "out")
    assert os.listdir(tmp_path / "out") == []
