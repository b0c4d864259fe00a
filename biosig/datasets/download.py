"""Verified, resumable, atomic downloads of open datasets into ``BIOSIG_DATA``.

Every file is fetched into ``<name>.part`` next to its destination, resumed with an HTTP
``Range`` request when a partial file exists (or when the connection drops mid-transfer; a
partial file longer than the remote file holds another version's bytes and is fetched again),
checked against its SHA-256 and only then renamed into place with :func:`os.replace`. A file
whose checksum does not match is deleted and reported as a :class:`~biosig.errors.DownloadError`;
nothing unverified is ever left under the destination name. Archives are extracted with every
member path checked to stay inside the target folder (no ``..``, absolute paths or links that
escape it).

Supported URL schemes: ``http``, ``https`` and ``file`` (the latter serves local mirrors and the
offline tests).
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import shutil
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Sequence

from biosig.errors import DownloadError

__all__ = [
    "RemoteFile",
    "sha256_file",
    "download_file",
    "fetch_files",
    "extract_archive",
]

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20
_USER_AGENT = "biosig-downloader/0.1 (+https://github.com/)"


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: where it comes from, where it goes and what it must hash to.

    Parameters
    ----------
    url : source URL (``http(s)://`` or ``file://``).
    path : destination relative to the dataset folder (POSIX separators, no ``..``).
    sha256 : expected SHA-256 hex digest; ``None`` only where the publisher gives none (the
        file is then accepted unverified and a warning is logged).
    size : expected size in bytes, if known (used for progress and an early size check).
    """

    url: str
    path: str
    sha256: str | None = None
    size: int | None = None

    def __post_init__(self):
        p = PurePosixPath(self.path)
        if p.is_absolute() or ".." in p.parts or not p.parts:
            raise ValueError(
                f"RemoteFile.path must be a relative path inside the dataset: {self.path!r}"
            )


def sha256_file(path: str | os.PathLike, chunk_size: int = _CHUNK) -> str:
    """SHA-256 hex digest of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk_size)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def _offline_message(url: str, dest: Path, reason: object) -> str:
    return (
        f"could not download {url} ({reason}). If this machine is offline, fetch the file "
        f"elsewhere and place it at {dest} (or point BIOSIG_DATA / the loader's path= at a "
        f"folder that has it)."
    )


def _stale_partial(url: str, size: int, total: int) -> int:
    """The offset to fetch from when the partial file (``size`` bytes) is longer than the
    remote file (``total``): 0, as it holds another version's bytes (left by an earlier
    download of another file of that name); logged."""
    logger.warning("partial download of %s holds %d bytes, more than the file's %d: another "
                   "version's; downloading it again", url, size, total)
    return 0


def _range_total(content_range: str) -> int | None:
    """The full size in a ``Content-Range`` header (``bytes a-b/<size>``, ``bytes */<size>``);
    None when absent or unknown (``*``)."""
    total = content_range.rpartition("/")[2].strip()
    return int(total) if total.isdigit() else None


def _open(url: str, offset: int, timeout: float):
    """Open ``url`` from byte ``offset``. Returns (stream, start, total) where ``start`` is the
    offset the stream really begins at (0 when the server ignored the Range request) and
    ``total`` the full size if known."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        local = Path(urllib.request.url2pathname(parts.path))
        if not local.is_file():
            raise FileNotFoundError(f"no such file: {local}")
        total = local.stat().st_size
        if offset > total:  # a partial file longer than the file: stale, fetched again
            offset = _stale_partial(url, offset, total)
        f = open(local, "rb")
        f.seek(offset)
        return f, offset, total
    if parts.scheme not in ("http", "https"):
        raise DownloadError(f"unsupported URL scheme {parts.scheme!r} in {url}")
    req = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    if offset > 0:
        req.add_header("Range", f"bytes={offset}-")
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset > 0:
            # The partial file is already complete: let the caller verify it; or it is longer
            # than the remote file (Content-Range "bytes */<size>"): fetched again
            total = _range_total(err.headers.get("Content-Range", ""))
            err.close()
            if total is not None and offset > total:
                return _open(url, _stale_partial(url, offset, total), timeout)
            return None, offset, total
        raise
    status = getattr(resp, "status", 200)
    length = resp.headers.get("Content-Length")
    if status == 206:
        crange = resp.headers.get("Content-Range", "")  # bytes a-b/total
        start, total = offset, None
        try:
            span, _, tot = crange.partition(" ")[2].partition("/")
            start = int(span.split("-")[0])
            total = int(tot) if tot not in ("", "*") else None
        except ValueError:
            pass
        return resp, start, total
    total = int(length) if length is not None else None
    return resp, 0, total


def download_file(
    url: str,
    dest: str | os.PathLike,
    sha256: str | None = None,
    *,
    size: int | None = None,
    resume: bool = True,
    retries: int = 3,
    timeout: float = 30.0,
    progress: bool = False,
) -> Path:
    """Download ``url`` to ``dest``, verified and atomically.

    Parameters
    ----------
    url : ``http(s)://`` or ``file://`` URL.
    dest : final path of the file. A file already there with the right checksum is kept as is.
    sha256 : expected SHA-256 hex digest (strongly recommended).
    size : expected size in bytes, if known.
    resume : continue an existing ``dest.part`` with a ``Range`` request.
    retries : extra attempts after a dropped connection (each resumes where the last stopped).
    timeout : socket timeout in seconds.
    progress : show a tqdm progress bar.

    Returns
    -------
    Path of the verified file.

    Raises
    ------
    DownloadError
        Unreachable host / offline (the message names the URL and where to put the file),
        HTTP error, incomplete transfer after all retries, or checksum mismatch (the bad
        file is deleted).
    """
    dest = Path(dest)
    expected = sha256.lower() if sha256 else None
    if dest.is_file():
        if expected is None or sha256_file(dest) == expected:
            return dest
        logger.warning("existing %s does not match its SHA-256; downloading it again", dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    if not resume and part.exists():
        part.unlink()

    attempt = 0
    bar = None
    try:
        while True:
            offset = part.stat().st_size if part.exists() else 0
            try:
                stream, start, total = _open(url, offset, timeout)
            except DownloadError:
                raise
            except urllib.error.HTTPError as err:
                raise DownloadError(
                    f"could not download {url}: HTTP {err.code} {err.reason}"
                ) from err
            except (urllib.error.URLError, OSError) as err:
                if attempt < retries and not isinstance(err, FileNotFoundError):
                    attempt += 1
                    time.sleep(min(2.0, 0.2 * attempt))
                    continue
                reason = getattr(err, "reason", err)
                raise DownloadError(_offline_message(url, dest, reason)) from err
            if total is None and size is not None:
                total = size
            if stream is not None:
                if progress and bar is None:
                    from tqdm.auto import tqdm

                    bar = tqdm(
                        total=total, initial=start, unit="B", unit_scale=True, desc=dest.name
                    )
                mode = "ab" if start > 0 else "wb"
                if start > 0 and start != offset:
                    raise DownloadError(
                        f"could not download {url}: server resumed at byte {start}, "
                        f"expected {offset}"
                    )
                try:
                    with stream, open(part, mode) as out:
                        while True:
                            block = stream.read(_CHUNK)
                            if not block:
                                break
                            out.write(block)
                            if bar is not None:
                                bar.update(len(block))
                except (
                    OSError,
                    ValueError,
                    http.client.HTTPException,
                ) as err:  # dropped connection
                    logger.info("transfer of %s interrupted (%s); resuming", url, err)
                    if attempt < retries:
                        attempt += 1
                        continue
                    raise DownloadError(
                        f"could not download {url}: transfer interrupted {retries + 1} times; "
                        f"the partial file {part} is kept and a later call resumes it"
                    ) from err
            got = part.stat().st_size if part.exists() else 0
            if total is not None and got < total:
                if attempt < retries:
                    attempt += 1
                    logger.info("%s: got %d of %d bytes; resuming", url, got, total)
                    continue
                raise DownloadError(
                    f"could not download {url}: incomplete transfer ({got} of {total} bytes) after "
                    f"{retries + 1} attempts; the partial file {part} is kept for a later resume"
                )
            break
    finally:
        if bar is not None:
            bar.close()

    if size is not None and part.stat().st_size != size:
        actual = part.stat().st_size
        part.unlink()
        raise DownloadError(
            f"{url}: size {actual} bytes does not match the expected {size}; file removed"
        )
    if expected is not None:
        digest = sha256_file(part)
        if digest != expected:
            part.unlink()
            raise DownloadError(
                f"{url}: SHA-256 mismatch (got {digest}, expected {expected}); the file was "
                f"removed and nothing was written to {dest}"
            )
    else:
        logger.warning("%s has no published SHA-256; accepted unverified", url)
    os.replace(part, dest)
    return dest


def fetch_files(
    files: Sequence[RemoteFile],
    root: str | os.PathLike,
    *,
    progress: bool = False,
    **kwargs,
) -> list[Path]:
    """Download each :class:`RemoteFile` under ``root`` (skipping verified copies)."""
    root = Path(root)
    return [
        download_file(f.url, root / f.path, f.sha256, size=f.size, progress=progress, **kwargs)
        for f in files
    ]


def _safe_target(root: Path, name: str, archive: Path) -> Path:
    norm = name.replace("\\", "/")
    p = PurePosixPath(norm)
    if p.is_absolute() or norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        raise DownloadError(f"{archive}: refusing to extract absolute path {name!r}")
    if ".." in p.parts:
        raise DownloadError(f"{archive}: refusing to extract {name!r} (path traversal)")
    target = (root / Path(*p.parts)).resolve() if p.parts else root
    if target != root and root not in target.parents:
        raise DownloadError(f"{archive}: refusing to extract {name!r} outside {root}")
    return target


def _tar_member(tf: tarfile.TarFile, member: tarfile.TarInfo, archive: Path):
    """A binary reader of a regular tar member."""
    src = tf.extractfile(member)
    if src is None:
        raise DownloadError(f"{archive}: cannot read member {member.name!r}")
    return src


def _write_members(root: Path, archive: Path, members) -> list[Path]:
    """Write archive ``members`` (``(name, is_dir, open)`` triples, ``open()`` giving a binary
    reader) under ``root``; returns the files written."""
    written: list[Path] = []
    for name, is_dir, open_member in members:
        target = _safe_target(root, name, archive)
        if is_dir:
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with open_member() as src, open(target, "wb") as out:
            shutil.copyfileobj(src, out, _CHUNK)
        written.append(target)
    return written


def extract_archive(archive: str | os.PathLike, dest: str | os.PathLike) -> list[Path]:
    """Extract a ``.zip`` or ``.tar[.gz|.bz2|.xz]`` archive into ``dest``, path-safely.

    Every member is checked before anything is written: absolute paths, ``..`` components,
    and symbolic/hard links or device files are refused with a :class:`DownloadError`.
    Extraction goes to a temporary sibling folder that is merged into ``dest`` only when the
    whole archive extracted, so a failed extraction leaves ``dest`` untouched.
    """
    archive = Path(archive)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    tmp = dest / f".extract-{os.getpid()}-{archive.name}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    tmp_root = tmp.resolve()
    written: list[Path] = []
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                infos = zf.infolist()
                for info in infos:
                    _safe_target(root, info.filename, archive)
                    mode = (info.external_attr >> 16) & 0o170000
                    if mode == 0o120000:
                        raise DownloadError(
                            f"{archive}: refusing to extract symbolic link {info.filename!r}"
                        )
                written = _write_members(
                    tmp_root,
                    archive,
                    [(i.filename, i.is_dir(), partial(zf.open, i)) for i in infos],
                )
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                members = tf.getmembers()
                for m in members:
                    _safe_target(root, m.name, archive)
                    if not (m.isfile() or m.isdir()):
                        raise DownloadError(
                            f"{archive}: refusing to extract {m.name!r} (links and special "
                            "files are not allowed)"
                        )
                written = _write_members(
                    tmp_root,
                    archive,
                    [(m.name, m.isdir(), partial(_tar_member, tf, m, archive)) for m in members],
                )
        else:
            raise DownloadError(f"{archive}: not a zip or tar archive")
        final: list[Path] = []
        for path in written:
            rel = path.relative_to(tmp_root)
            out = dest / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, out)
            final.append(out)
        return final
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as err:
        raise DownloadError(f"{archive}: corrupt archive ({err})") from err
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
