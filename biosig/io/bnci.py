"""MATLAB files of the BNCI Horizon 2020 database and the BCI Competition true-label files.

- :func:`read_bnci`: a BNCI ``.mat`` file (e.g. ``001-2014``, BCI IV 2a; MOABB's
  ``BNCI2014_001``): a ``data`` cell array of runs, each a struct with ``X`` (samples x channels,
  µV), ``trial`` (1-based trial-start samples), ``y`` (labels 1..n), ``fs``, ``classes`` and
  ``artifacts`` (1 = rejected trial). The runs are concatenated into one :class:`Recording`.
- :func:`read_true_labels`: the ``classlabel`` vector of a BCI Competition IV true-label file
  (``A0xT.mat`` / ``A0xE.mat``).
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from biosig.errors import InvalidFileError
from biosig.signal.recording import Recording

__all__ = ["read_bnci", "read_true_labels"]


#: MAT-file level 5 data types (miINT8 ... miUTF32); 8, 10 and 11 are reserved
_MAT5_TYPES = frozenset({1, 2, 3, 4, 5, 6, 7, 9, 12, 13, 14, 15, 16, 17, 18})
_MI_MATRIX, _MI_COMPRESSED = 14, 15


def _check_mat5(path: Path, raw: bytes) -> None:
    """Walk every data element tag of a MAT-file level 5 (compressed elements inflated, matrices
    entered) and refuse an unknown data type, a size past the end of what holds it, or a zlib
    stream that does not inflate whole: scipy's compiled reader can crash the process (a
    segmentation fault or bus error, found by the reader fuzzer) on such tags instead of
    raising. Other MAT versions are left to scipy. Costs one extra inflate of the file."""
    if len(raw) < 128 or raw[126:128] not in (b"IM", b"MI"):
        return  # level 4, HDF5 (v7.3) or not a MAT file: scipy says which
    endian = "<" if raw[126:128] == b"IM" else ">"
    _walk_mat5(path, raw, 128, len(raw), endian, top=True)


def _walk_mat5(path: Path, buf: bytes, pos: int, end: int, endian: str, top: bool,
               depth: int = 0) -> None:  # fmt: skip
    if depth > 64:
        raise InvalidFileError(path, "MAT data elements nested more than 64 deep")
    while pos < end:
        if top and end - pos < 8:
            return  # trailing bytes: scipy decides
        if end - pos < 4:
            raise InvalidFileError(path, f"MAT data element tag cut short at byte {pos}")
        (tag,) = struct.unpack_from(endian + "I", buf, pos)
        if tag >> 16:  # small data element: size and type in one word, data in the next 4 bytes
            mtype, size, body, step = tag & 0xFFFF, tag >> 16, pos + 4, 8
            if size > 4:
                raise InvalidFileError(path, f"MAT small data element of {size} bytes at {pos}")
        else:
            if end - pos < 8:
                raise InvalidFileError(path, f"MAT data element tag cut short at byte {pos}")
            mtype, (size,) = tag, struct.unpack_from(endian + "I", buf, pos + 4)
            body = pos + 8
            step = 8 + (size if top else -(-size // 8) * 8)  # as scipy: variables unpadded
        if mtype not in _MAT5_TYPES:
            raise InvalidFileError(path, f"MAT data element at byte {pos} has type {mtype}, "
                                         "not a MAT-file type (a damaged file)")  # fmt: skip
        if body + size > end:
            raise InvalidFileError(path, f"MAT data element at byte {pos} claims {size} bytes, "
                                         f"past the end of its container (byte {end})")  # fmt: skip
        if mtype == _MI_COMPRESSED:
            try:
                inflated = zlib.decompress(buf[body : body + size])
            except zlib.error as err:
                raise InvalidFileError(path, f"MAT compressed element at byte {pos} does not "
                                             f"inflate ({err})") from None  # fmt: skip
            _walk_mat5(path, inflated, 0, len(inflated), endian, True, depth + 1)
        elif mtype == _MI_MATRIX:
            _walk_mat5(path, buf, body, body + size, endian, False, depth + 1)
        pos += step


def _loadmat(path: Path, **kwargs) -> dict:
    from scipy.io import loadmat

    try:
        raw = path.read_bytes()
    except OSError as err:
        raise InvalidFileError(path, f"not readable ({err.strerror or err})") from err
    _check_mat5(path, raw)
    try:
        return loadmat(io.BytesIO(raw), **kwargs)  # the bytes just checked, not a second read
    except Exception as err:  # noqa: BLE001 - scipy raises many types on bad files
        raise InvalidFileError(
            path, f"not a readable MATLAB file ({type(err).__name__}: {err})"
        ) from err


def _variables(mat: dict) -> list[str]:
    return sorted(k for k in mat if not k.startswith("__"))


def read_true_labels(path: str | os.PathLike, n_classes: int = 4) -> np.ndarray:
    """The ``classlabel`` vector (1..``n_classes``) of an official true-label file, as int64."""
    path = Path(path)
    if not path.is_file():
        raise InvalidFileError(path, "true-label file not found")
    mat = _loadmat(path)
    if "classlabel" not in mat:
        bnci = (": a BNCI Horizon data file (its 'data' holds the signals and labels), not a "
                "true-label file: read it with read_bnci" if "data" in mat else "")
        raise InvalidFileError(path, f"no variable 'classlabel' (has {_variables(mat)}){bnci}")
    lab = _integer_vector(path, mat["classlabel"], "classlabel")
    if lab.size == 0:
        raise InvalidFileError(path, "classlabel is empty")
    if lab.min() < 1 or lab.max() > n_classes:
        raise InvalidFileError(
            path, f"classlabel values must be 1..{n_classes}, found {sorted(set(lab.tolist()))}"
        )
    return lab


def _integer_vector(path: Path, value, name: str) -> np.ndarray:
    """``value`` as a 1-D int64 vector; :class:`InvalidFileError` unless it is a numeric
    vector (``(n,)``, ``(n, 1)`` or ``(1, n)``) of finite whole numbers."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "iufb":
        raise InvalidFileError(path, f"{name} holds {arr.dtype} values, expected numbers")
    if arr.ndim > 2 or (arr.ndim == 2 and min(arr.shape) > 1):
        raise InvalidFileError(
            path, f"{name} has shape {arr.shape}, expected a vector ((n,), (n, 1) or (1, n))"
        )
    arr = np.atleast_1d(arr).reshape(-1)
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise InvalidFileError(path, f"{name}[{i}] = {float(arr[i])!r} is not a whole number")
    return arr.astype(np.int64)


def _vector(path: Path, run, field: str, default=None) -> np.ndarray:
    return _integer_vector(path, getattr(run, field, default), field)


def read_bnci(
    path: str | os.PathLike, ch_names: list[str], ch_types: list[str], sfreq: float, n_classes: int
) -> tuple[Recording, list[dict]]:
    """Read a BNCI Horizon ``.mat`` file of runs into one continuous Recording and a trial table.

    Parameters
    ----------
    path : the ``.mat`` file.
    ch_names, ch_types : one per column of ``X`` (the files carry no channel names).
    sfreq : the sampling rate every run must have (``fs``).
    n_classes : labels ``y`` must be 1..``n_classes``.

    Returns
    -------
    (Recording, trials)
        The runs concatenated in time (float32, µV; ``meta``: ``format="BNCI mat"``,
        ``source``); ``trials``: one dict per trial with ``trial`` (0-based), ``run`` (0-based
        among the runs holding trials), ``onset`` (s of the trial start), ``label`` (0-based)
        and ``rejected`` (``artifacts == 1``).

    Raises
    ------
    InvalidFileError
        Missing or unreadable file, no ``data`` variable (with a hint when it is a true-label
        file), a run without ``X``/``trial``/``y``/``fs``, a shape, rate or label out of range.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidFileError(path, "BNCI file missing")
    mat = _loadmat(path, struct_as_record=False, squeeze_me=True)
    if "data" not in mat:
        keys = _variables(mat)
        hint = (
            " (this looks like a true-label file; the GDF form needs A0xT.gdf beside it)"
            if "classlabel" in keys
            else ""
        )
        raise InvalidFileError(path, f"no 'data' variable (has {keys}){hint}")
    n_chans = len(ch_names)
    chunks, trials = [], []
    offset, k = 0, 0
    for i, run in enumerate(np.atleast_1d(mat["data"])):
        for field in ("X", "trial", "y", "fs"):
            if not hasattr(run, field):
                raise InvalidFileError(path, f"run {i}: struct lacks field {field!r}")
        x = np.asarray(run.X)
        if x.dtype.kind not in "iuf":
            raise InvalidFileError(path, f"run {i}: X holds {x.dtype} values, expected numbers")
        x = x.astype(np.float64)
        if x.ndim != 2 or x.shape[1] != n_chans:
            raise InvalidFileError(
                path, f"run {i}: X has shape {x.shape}, expected (n_samples, {n_chans})"
            )
        fs = np.asarray(run.fs)
        if fs.dtype.kind not in "iuf" or fs.size != 1 or not abs(float(fs) - sfreq) <= 1e-6:
            raise InvalidFileError(path, f"run {i}: fs = {run.fs}, expected {sfreq:g}")
        start, y = _vector(path, run, "trial"), _vector(path, run, "y")
        art = _vector(path, run, "artifacts", np.zeros(len(y)))
        if len(start) != len(y) or len(art) != len(y):
            raise InvalidFileError(
                path,
                f"run {i}: {len(start)} trial starts, {len(y)} labels, {len(art)} artifact flags",
            )
        if len(start) and (start.min() < 1 or start.max() > x.shape[0]):
            raise InvalidFileError(
                path, f"run {i}: trial start outside the run's {x.shape[0]} samples"
            )
        if len(art) and not np.isin(art, (0, 1)).all():
            raise InvalidFileError(path, f"run {i}: artifacts must be 0 or 1, found "
                                         f"{sorted(set(art.tolist()) - {0, 1})[:5]}")  # fmt: skip
        if len(y) and (y.min() < 1 or y.max() > n_classes):
            raise InvalidFileError(path, f"run {i}: labels y must be 1..{n_classes}")
        chunks.append(x.T)
        for t, lab, rej in zip(start, y, art):
            trials.append(
                {
                    "trial": len(trials),
                    "run": k,
                    "onset": float((t - 1 + offset) / sfreq),
                    "label": int(lab) - 1,
                    "rejected": bool(rej == 1),
                }
            )
        k += bool(len(start))
        offset += x.shape[0]
    rec = Recording(
        data=np.concatenate(chunks, axis=1),
        sfreq=sfreq,
        ch_names=ch_names,
        ch_types=ch_types,
        units=["uV"] * n_chans,
        meta={"format": "BNCI mat", "source": path.name},
    )
    return rec, trials
