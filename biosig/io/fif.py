"""MNE's own FIF raw format (``*.fif``, ``*_raw.fif``, ``*.fif.gz``), read with
:func:`mne.io.read_raw_fif`.

Samples come back in SI units from MNE and are converted to the Recording convention (EEG,
EOG, EMG in µV, ECG in mV; other channels keep their SI unit). Channel types are MNE's.
Annotations keep their descriptions, onsets in s from the first sample. The measurement date,
subject and experimenter information are never read into :attr:`Recording.meta`.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from collections.abc import Iterable, Mapping

import numpy as np

from biosig.errors import ChannelError, InvalidFileError
from biosig.io._mne import keep_index
from biosig.io._util import (
    as_path,
    check_file,
    check_timing,
    make_recording,
    quiet_mne,
    to_target_units,
    wrap_errors,
)
from biosig.signal.recording import Annotations, Recording

__all__ = ["read_fif", "FIF_SUFFIXES"]

FIF_SUFFIXES = (".fif", ".fif.gz")


def _si_unit(code: int) -> str:
    from mne.io.constants import FIFF

    return {
        int(FIFF.FIFF_UNIT_V): "V",
        int(FIFF.FIFF_UNIT_T): "T",
        int(FIFF.FIFF_UNIT_T_M): "T/m",
        int(FIFF.FIFF_UNIT_AM): "Am",
        int(FIFF.FIFF_UNIT_MOL): "M",
        int(FIFF.FIFF_UNIT_CEL): "C",
    }.get(int(code), "")


_BLOCK_START, _BLOCK_END = 104, 105  # FIFF_BLOCK_START, FIFF_BLOCK_END
#: FIFF data types (``FIFFT_*``: void ... stream segment) and the matrix codings of their high
#: bits (none, dense, sparse CCS, sparse RCS)
_TYPES = frozenset({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 16, 20, 21, 23, 30, 31, 32, 33,
                    34, 35, 36, 37})  # fmt: skip
_MATRIX, _CODINGS = 0x40000000, frozenset({0, 0x40000000, 0x40100000, 0x40200000})


def _check_tags(path) -> None:
    """Walk the tags of a FIF file (a ``.fif.gz``: of its decompressed bytes) in file order and
    refuse one that reaches past the end or has an unknown data type, a dense matrix whose
    dimensions hold more elements than its bytes, a file that ends inside a tag, or blocks
    opened and never closed: the marks of a cut or damaged file, which MNE otherwise reads as
    far as it goes without a word (a shorter recording) or with an allocation of the size a
    damaged tag claims (found by the reader fuzzer). A ``.fif.gz`` is decompressed once for
    this, so a damaged gzip stream is refused here too. Files whose tags are linked by explicit
    positions (``next`` > 0) are left to MNE."""
    gz = path.name.endswith(".gz")
    size = None if gz else os.path.getsize(path)  # a gzip stream's is known at its end
    depth, pos = 0, 0
    try:
        with gzip.open(path, "rb") if gz else open(path, "rb") as fh:
            while head := fh.read(16):
                if len(head) < 16:
                    raise InvalidFileError(path, f"FIF file ends inside the tag at byte {pos} "
                                                 "(cut short)")  # fmt: skip
                kind, dtype, nbytes, nxt = struct.unpack(">iIii", head)
                if nxt > 0:
                    return  # positioned tags: MNE follows them
                if dtype & 0xFFFF not in _TYPES or dtype & 0xFFFF0000 not in _CODINGS:
                    raise InvalidFileError(path, f"FIF tag at byte {pos} has the unknown data "
                                                 f"type {dtype:#x} (a damaged file)")  # fmt: skip
                dense = dtype & 0xFFFF0000 == _MATRIX  # data ..., dims (reversed), ndim last
                tail = min(max(nbytes, 0), _MATRIX_TAIL) if dense else 0
                ok = nbytes >= 0 and _skip(fh, nbytes - tail, pos + 16, size)
                data = fh.read(tail) if ok and tail else b""
                if not ok or len(data) < tail:
                    end = f"the {size}-byte file" if size is not None else "the file"
                    raise InvalidFileError(path, f"FIF tag at byte {pos} claims {nbytes} bytes, "
                                                 f"past the end of {end} (cut or damaged)")
                if dense:
                    _check_dense_matrix(path, data, pos, nbytes)
                depth += (kind == _BLOCK_START) - (kind == _BLOCK_END)
                pos += 16 + nbytes
    except (OSError, EOFError, zlib.error) as err:  # gzip's BadGzipFile is an OSError
        raise InvalidFileError(path, f"unreadable {'gzip stream' if gz else 'file'} ({err}): "
                                     "cut or damaged") from err  # fmt: skip
    if depth:
        raise InvalidFileError(path, f"FIF file leaves {depth} block(s) open at its end: cut "
                                     "short (MNE would read the data before the cut silently)")


_MATRIX_TAIL = 4 + 4 * 64  # a dense matrix's dimensions (numpy's 64 at most) and their count


def _skip(fh, n: int, at: int, size: int | None) -> bool:
    """Move ``fh`` ``n`` bytes on from ``at``; False when the file ends first. A seekable file
    of ``size`` bytes seeks; a gzip stream (``size`` None) reads through."""
    if size is not None:
        if at + n > size:
            return False
        fh.seek(at + n)
        return True
    while n > 0:
        got = len(fh.read(min(n, 1 << 20)))
        if not got:
            return False
        n -= got
    return True


def _check_dense_matrix(path, tail: bytes, pos: int, nbytes: int) -> None:
    """Check the dimensions at the end (``tail``) of the dense matrix tag at ``pos``."""
    if len(tail) < 4:
        raise InvalidFileError(path, f"FIF matrix tag at byte {pos} has no dimensions")
    (ndim,) = struct.unpack(">i", tail[-4:])
    if not 1 <= ndim <= (len(tail) - 4) // 4:
        raise InvalidFileError(path, f"FIF matrix tag at byte {pos} claims {ndim} dimensions")
    dims = struct.unpack(f">{ndim}i", tail[-4 - 4 * ndim : -4])
    if min(dims) < 0 or math.prod(dims) > nbytes:
        raise InvalidFileError(path, f"FIF matrix tag at byte {pos} claims dimensions {dims} "
                                     f"for {nbytes} bytes (a damaged file)")  # fmt: skip


def read_fif(
    path: str | os.PathLike,
    *,
    exclude: Iterable[str] = (),
    ch_types: Mapping[str, str] | None = None,
) -> Recording:
    """Read a FIF raw file (MNE's format) into a :class:`Recording`.

    Parameters
    ----------
    path : a ``.fif`` / ``.fif.gz`` raw file (split files are followed by MNE).
    exclude : channel names to leave out.
    ch_types : ``{name: type}`` overriding MNE's channel types.

    Returns
    -------
    Recording
        float32; ``meta``: ``format="FIF"``, ``source``, ``n_nan``, ``n_inf``.

    Raises
    ------
    InvalidFileError
        Missing, unreadable or malformed file (MNE's error is kept as the cause).
    """
    import mne

    path = as_path(path)
    check_file(path, what="FIF file")
    _check_tags(path)
    with wrap_errors(path, "reading FIF with MNE"), quiet_mne():
        raw = mne.io.read_raw_fif(path, preload=False, verbose="error", allow_maxshield=False)
        names = list(raw.ch_names)
        keep = keep_index(path, names, names, exclude)
        raw.pick([names[j] for j in keep])
        stored = sum(os.path.getsize(f) for f in raw.filenames if f)
        if raw.n_times * len(raw.ch_names) * 2 > 50 * stored + 10**7:
            raise InvalidFileError(
                path, f"{raw.n_times} samples of {len(raw.ch_names)} channels in {stored} bytes "
                "of files: refusing to allocate them (a damaged header or skip tag)")
        data = raw.get_data()
        sfreq = float(raw.info["sfreq"])
        types = list(raw.get_channel_types())
        units = [_si_unit(ch["unit"]) for ch in raw.info["chs"]]
        ann = raw.annotations
        onset = np.asarray(ann.onset, float)
        if ann.orig_time is not None:
            onset = onset - raw.first_time
        duration, desc = np.asarray(ann.duration, float), [str(d) for d in ann.description]
    names = list(raw.ch_names)
    check_timing(path, sfreq, data.shape[1] / sfreq)
    if ch_types:
        unknown = [k for k in ch_types if k not in names]
        if unknown:
            raise ChannelError(f"ch_types names channels {unknown} that {path.name} does not have")
        from mne.io import get_channel_type_constants

        known = sorted(get_channel_type_constants())
        bad = {k: v for k, v in ch_types.items() if str(v).lower() not in known}
        if bad:
            raise ChannelError(f"ch_types gives unknown channel types {bad} (reading "
                               f"{path.name}); MNE's types are {known}")
        types = [str(ch_types.get(n, t)).lower() for n, t in zip(names, types)]
    data, units = to_target_units(data, units, types)
    meta = {"format": "FIF", "source": path.name}
    annotations = Annotations.from_lists(onset, duration, desc)
    return make_recording(data, sfreq, names, types, units, annotations, meta)
