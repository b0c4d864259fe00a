"""Helpers shared by the dataset loaders (not public API)."""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from biosig.errors import ConfigError, DownloadError, InvalidFileError

PHYSIONET_FILES = "https://physionet.org/files"


def dataset_root(path: str | os.PathLike | None, *parts: str) -> Path:
    """The user's folder if given (``~`` and ``$VAR`` expanded: :func:`expand_path`), else
    ``BIOSIG_DATA/<parts...>``."""
    if path is not None:
        return expand_path(path)
    from biosig.paths import data_dir

    return data_dir().joinpath(*parts)


_SHARED_VAR = re.compile(r"\$(\{BIOSIG_SHARED_DATA\}|BIOSIG_SHARED_DATA(?![A-Za-z0-9_]))")
_ANY_VAR = re.compile(r"\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)")


def expand_path(path: str | os.PathLike) -> Path:
    """``path`` with ``~`` and environment variables (``$VAR``, ``${VAR}``) expanded, so that a
    YAML recipe can say ``path: ${BIOSIG_SHARED_DATA}/ecg_wfdb/ptbxl``. An unset or empty
    ``BIOSIG_SHARED_DATA`` stands for its default, ``../shared/data`` beside the project (as in
    :func:`shared_data_dir`); any other unset variable is a :class:`ConfigError`."""
    text = os.fspath(path)
    if not os.environ.get("BIOSIG_SHARED_DATA"):
        default = str(_default_shared_data_dir())
        text = _SHARED_VAR.sub(lambda _: default, text)
    expanded = os.path.expandvars(text)
    unset = _ANY_VAR.search(expanded)
    if unset and not Path(expanded).expanduser().exists():
        raise ConfigError(f"path {os.fspath(path)!r}: environment variable {unset[0]} is not set")
    out = Path(expanded).expanduser()
    if _SHARED_VAR.search(os.fspath(path)):
        _FROM_SHARED[out] = os.fspath(path)
    return out


_FROM_SHARED: dict[Path, str] = {}  # an expanded path -> the text that named BIOSIG_SHARED_DATA


def require_dir(root: Path, what: str, how: str) -> Path:
    if not root.is_dir():
        given = _FROM_SHARED.get(Path(root))
        if given is not None:
            value = os.environ.get("BIOSIG_SHARED_DATA")
            source = (f"BIOSIG_SHARED_DATA={value!r}" if value else
                      "BIOSIG_SHARED_DATA unset: ../shared/data beside the project")
            how += (f" (from the path {given!r} with {source}; set BIOSIG_SHARED_DATA to the "
                    "folder holding your copy, or give the path)")
        raise InvalidFileError(root, f"{what} not found here. {how}")
    return root


_FP_BLOCK = 1 << 12  # bytes hashed at the head, middle and tail of a file
_FINGERPRINTS: dict[tuple, str] = {}  # (path, size, mtime, ctime) -> digest, per process


def file_fingerprint(path: Path) -> list:
    """``[size, mtime_ns, digest]`` of a file: the digest hashes its first, middle and last
    4 KiB (the whole file when smaller than 12 KiB, whose mtime is then left out: ``None``), so
    an edit that keeps the size and even the modification time is caught in small files
    (labels, headers, ``.rec``) and at the ends of large ones; any other edit of a large file
    changes its mtime. ``[None, None, None]`` for a missing file. Digests are remembered in this
    process while size, mtime and ctime stay the same."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        return [None, None, None]
    memo = (str(path), st.st_size, st.st_mtime_ns, st.st_ctime_ns)  # ctime: any write moves it
    digest = _FINGERPRINTS.get(memo)
    if digest is None:
        h = hashlib.blake2b(digest_size=16)
        try:
            with open(path, "rb") as fh:
                if st.st_size <= 3 * _FP_BLOCK:
                    h.update(fh.read())
                else:
                    for at in (0, st.st_size // 2 - _FP_BLOCK // 2, st.st_size - _FP_BLOCK):
                        fh.seek(at)
                        h.update(fh.read(_FP_BLOCK))
        except OSError as err:
            raise InvalidFileError(path, f"cannot be read ({err.strerror or err})") from None
        digest = _FINGERPRINTS[memo] = h.hexdigest()
    whole = st.st_size <= 3 * _FP_BLOCK  # hashed whole: the mtime adds nothing (copies match)
    return [st.st_size, None if whole else st.st_mtime_ns, digest]


def stem_files(root: Path, record: str) -> list[str]:
    """The files of a WFDB-style record ``record`` (``name.hea``, ``name.dat``, ``name.atr``,
    ...), relative to ``root``, sorted."""
    path = root / record
    return sorted(
        (p.relative_to(root).as_posix() for p in path.parent.glob(f"{path.name}.*")), key=str
    )


def file_manifest(root: Path, files: Iterable[str | Path]) -> list[list]:
    """``[[path relative to root, size, mtime_ns, digest], ...]`` for a cache key: every file
    that feeds a cache (signals, annotations, labels, ``.dat``) keyed on its content
    (:func:`file_fingerprint`); no absolute path."""
    return [[Path(f).as_posix(), *file_fingerprint(root / f)] for f in files]


def sha256_bytes(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def split_subjects(subjects: Sequence, val_fraction: float, seed: int) -> set:
    """Seeded choice of validation subjects: ``int(n * val_fraction)`` of the sorted subjects.

    Matches the BIOT/LaBraM/EEGDM recipe (``np.random.seed(seed); np.random.choice(subjects,
    int(n * 0.2), replace=False)``) except that the subjects are sorted first: those scripts
    draw from a Python ``set`` whose order changes between runs, so their exact split cannot
    be reproduced; sorting makes ours deterministic.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"val_fraction must be in [0, 1), got {val_fraction}")
    subs = sorted(set(subjects))
    n_val = int(len(subs) * val_fraction)
    if n_val == 0:
        return set()
    rng = np.random.RandomState(seed)
    return set(rng.choice(np.array(subs, dtype=object), size=n_val, replace=False).tolist())


def physionet_checksums(
    db: str, version: str, root: Path, base_url: str | None = None
) -> dict[str, str]:
    """Read (downloading it once if needed) PhysioNet's ``SHA256SUMS.txt`` of a project.

    PhysioNet publishes one per project version (``<base>/<db>/<version>/SHA256SUMS.txt``);
    every other file of the project is then verified against it.
    """
    from biosig.datasets.download import download_file

    sums = root / "SHA256SUMS.txt"
    if not sums.is_file():
        url = f"{(base_url or PHYSIONET_FILES).rstrip('/')}/{db}/{version}/SHA256SUMS.txt"
        download_file(url, sums, None, progress=False)
    out: dict[str, str] = {}
    for line in sums.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and re.fullmatch(r"[0-9a-fA-F]{64}", parts[0]):
            out[parts[1].lstrip("*").lstrip("./")] = parts[0].lower()
    if not out:
        raise DownloadError(
            f"{sums}: no checksums found (corrupt SHA256SUMS.txt?); delete it and retry"
        )
    return out


def physionet_fetch(
    db: str,
    version: str,
    root: Path,
    files: Sequence[str],
    base_url: str | None = None,
    progress: bool = True,
) -> list[Path]:
    """Download ``files`` (paths inside the project) of a PhysioNet project into ``root``,
    each verified against the project's ``SHA256SUMS.txt``."""
    from biosig.datasets.download import RemoteFile, fetch_files

    sums = physionet_checksums(db, version, root, base_url)
    base = f"{(base_url or PHYSIONET_FILES).rstrip('/')}/{db}/{version}"
    remote = []
    for f in files:
        f = Path(f).as_posix()
        if f not in sums:
            raise DownloadError(
                f"{base}/{f}: not listed in the project's SHA256SUMS.txt; refusing to fetch it "
                "unverified"
            )
        remote.append(RemoteFile(f"{base}/{f}", f, sums[f]))
    return fetch_files(remote, root, progress=progress)


def warn_unverified(url: str) -> None:
    warnings.warn(f"{url} has no published SHA-256; it is downloaded unverified", stacklevel=3)


def _default_shared_data_dir() -> Path:
    """``../shared/data`` beside the project (the folder holding ``biosig/``)."""
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def shared_data_dir() -> Path | None:
    """``$BIOSIG_SHARED_DATA`` or ``../shared/data`` beside the project (for tests/notebooks),
    None where that folder does not exist."""
    env = os.environ.get("BIOSIG_SHARED_DATA")
    p = Path(env).expanduser() if env else _default_shared_data_dir()
    return p if p.is_dir() else None
