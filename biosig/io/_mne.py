"""The MNE path shared by the EDF/BDF and GDF readers, used for files whose signals have
different rates (MNE resamples them to the highest); files of one rate are decoded by
:mod:`biosig.io._records` instead. ``keep_index`` (``exclude``) serves both paths.

Written once here: the MNE suffix work-around (MNE insists on the file suffix; a file object
bypasses that check), undoing MNE's volt scaling and ``exclude``. The :class:`Recording` is
built by :func:`biosig.io._util.build_recording`, which the WFDB reader shares.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np

from biosig.errors import ChannelError, InvalidFileError
from biosig.io._util import quiet_mne, wrap_errors


def read_samples(
    path: Path, reader, kind: str, *, source=None
) -> tuple[np.ndarray, float, list[str]]:
    """``(data, sfreq, ch_names)`` read by the MNE ``reader`` (``mne.io.read_raw_edf``...).

    ``kind`` (``"EDF"``, ``"BDF"``, ``"GDF"``) is the suffix MNE expects; a file with another
    suffix is handed over as a file object. ``source`` replaces the file (e.g. patched bytes).
    Any MNE failure becomes :class:`InvalidFileError`. ``data`` is as MNE scales it (volts for
    the units it knows, see :func:`undo_scaling`).
    """
    with wrap_errors(path, f"reading {kind} data with MNE"), quiet_mne():
        kwargs = {"preload": True, "stim_channel": None, "verbose": "error"}
        if source is not None:
            raw = reader(source, **kwargs)
        elif path.suffix.lower() == "." + kind.lower():
            raw = reader(path, **kwargs)
        else:
            with open(path, "rb") as fid:
                raw = reader(fid, **kwargs)
        return raw.get_data(), float(raw.info["sfreq"]), list(raw.ch_names)


class _PatchedFile(io.RawIOBase):
    """A read-only view of a file with some byte ranges replaced (``{offset: bytes}``, inside
    the file): what a reader reads through it is the file with those bytes, nothing is copied
    or written. No ``fileno``, so MNE reads it through ``read`` (as it reads a BytesIO)."""

    def __init__(self, path: Path, patches: Mapping[int, bytes]):
        self._fid = open(path, "rb")
        self._patches = sorted(patches.items())

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._fid.seek(offset, whence)

    def tell(self) -> int:
        return self._fid.tell()

    def readinto(self, buffer) -> int:
        start = self._fid.tell()
        n = self._fid.readinto(buffer)
        if n:
            view = memoryview(buffer).cast("B")
            for offset, value in self._patches:
                lo, hi = max(offset, start), min(offset + len(value), start + n)
                if lo < hi:
                    view[lo - start : hi - start] = value[lo - offset : hi - offset]
        return n

    def close(self) -> None:
        self._fid.close()
        super().close()


@contextlib.contextmanager
def patched_file(path: Path, patches: Mapping[int, bytes]) -> Iterator[io.BufferedReader]:
    """The file at ``path`` as a buffered read-only file object with the byte ranges of
    ``patches`` replaced (e.g. identification fields blanked before MNE parses them)."""
    with io.BufferedReader(_PatchedFile(path, patches), 1 << 20) as fid:
        yield fid


def check_shape(path: Path, data: np.ndarray, expected: tuple[int, int]) -> None:
    if data.shape != expected:
        raise InvalidFileError(
            path, f"MNE returned data of shape {data.shape}, the header implies {expected}"
        )


def undo_scaling(data: np.ndarray, factors) -> np.ndarray:
    """Divide each row by the factor MNE applied, giving physical values in the file's unit."""
    data /= np.asarray(factors, dtype=np.float64)[:, None]
    return data


def pick(
    path: Path,
    data: np.ndarray,
    names: list[str],
    labels: list[str],
    units: list[str],
    n_samples,
    exclude: Iterable[str],
):
    """Apply ``exclude`` (the channel names or the header's labels).

    ``names`` (as the reader names the channels), ``labels`` (header), ``units`` and
    ``n_samples`` (samples per record) have one entry per row of ``data``. Returns ``(data,
    names, labels, units, upsampled)``: the kept rows, their names, labels and units, and the
    kept channels stored at a lower rate than the highest (MNE resampled them).
    """
    keep = keep_index(path, names, labels, exclude)
    n_samples = np.asarray(n_samples)
    upsampled = [names[j] for j in keep if n_samples[j] < n_samples.max()]
    kept = [names[j] for j in keep], [labels[j] for j in keep], [units[j] for j in keep]
    return (data[keep], *kept, upsampled)


def keep_index(path: Path, names: list[str], labels: list[str], exclude: Iterable[str]):
    """Indices of the channels ``exclude`` leaves (it may use either the names or the header
    labels); :class:`ChannelError` for an unknown name or when nothing is left."""
    exclude = set(exclude)
    keep = [
        j
        for j, (n, lab) in enumerate(zip(names, labels))
        if n not in exclude and lab not in exclude
    ]
    unknown = exclude - set(names) - set(labels)
    if unknown:
        raise ChannelError(f"exclude names channels {sorted(unknown)} not in {path.name}")
    if not keep:
        raise ChannelError(f"exclude removes every channel of {path.name}")
    return keep
