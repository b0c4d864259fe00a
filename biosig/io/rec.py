"""TUH EEG event annotation files (``.rec``, TUEV v2.0.x).

One ``channel,start,stop,label`` row per event: ``channel`` indexes the TCP bipolar montage
(:data:`biosig.signal.montages.MONTAGES`), ``start``/``stop`` are seconds from the start of the
EDF of the same name, ``label`` is 1..6 = SPSW, GPED, PLED, EYEM, ARTF, BCKG.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from biosig.errors import InvalidFileError
from biosig.io._util import check_readable

__all__ = ["read_rec", "rec_line"]

_LABELS = "TUEV labels are 1..6 = SPSW, GPED, PLED, EYEM, ARTF, BCKG"
_FIELDS = ("channel", "start", "stop", "label")


def _first_bad_row(path: Path, text: str) -> InvalidFileError:
    """The error for the first row without exactly 4 numeric fields (slow path, errors only).
    It names the row and the field, never quoting the row's text."""
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split(",")
        if len(fields) != 4:
            return InvalidFileError(
                path, f"row {i}: expected 4 fields 'channel,start,stop,label', found {len(fields)}"
            )
        for name, f in zip(_FIELDS, fields):
            try:
                float(f)
            except ValueError:
                return InvalidFileError(path, f"row {i}: non-numeric field ({name})")
    return InvalidFileError(path, "rows are not 'channel,start,stop,label' numbers")


def rec_line(text: str, k: int) -> int:
    """The line number (1-based) of the ``k``-th row of a ``.rec`` file's ``text`` (its blank
    lines are not rows), for error messages."""
    return [i for i, s in enumerate(text.splitlines(), 1) if s.strip()][k]


def read_rec(path: str | os.PathLike, n_channels: int = 22) -> np.ndarray:
    """Parse a TUEV ``.rec`` file into an ``(n, 4)`` float array ``channel, start, stop, label``.

    Linear in the number of rows (numpy's C text parser, then vectorised checks).
    Raises :class:`InvalidFileError` naming the file and row (1-based line number) for a row
    without exactly 4 fields, a non-numeric or non-finite field, a channel that is not a whole
    number in ``0..n_channels-1``, a label that is not a whole number in 1..6,
    ``start < 0`` or ``stop <= start``; and for an unreadable file. The error never quotes
    the row's text.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidFileError(path, "annotation (.rec) file missing")
    check_readable(path, "annotation (.rec) file")
    text = path.read_bytes().decode("utf-8", "replace")
    if not text.strip():
        return np.zeros((0, 4), dtype=np.float64)
    try:  # numpy's C parser: blank lines skipped, no comment syntax
        rows = np.loadtxt(
            io.StringIO(text), delimiter=",", dtype=np.float64, ndmin=2, comments=None
        )
    except ValueError:
        rows = None
    if rows is None or rows.shape[1] != 4:
        raise _first_bad_row(path, text)
    ch, start, stop, lab = rows.T

    checks = (
        (~np.isfinite(rows).all(axis=1),
         lambda k: "non-finite field "
         f"({', '.join(n for n, v in zip(_FIELDS, rows[k]) if not np.isfinite(v))})"),
        ((ch != np.round(ch)) | (ch < 0) | (ch >= n_channels),
         lambda k: f"channel {ch[k]:g} is not a whole number in 0..{n_channels - 1} "
         "(the montage's channels)"),
        ((lab != np.round(lab)) | (lab < 1) | (lab > 6),
         lambda k: f"unknown label {lab[k]:g} ({_LABELS})"),
        ((start < 0) | (stop <= start), lambda k: "bad event times (need 0 <= start < stop)"),
    )  # fmt: skip
    for bad, what in checks:
        if np.any(bad):
            k = int(np.flatnonzero(bad)[0])  # the k-th row; loadtxt skipped blank lines
            line = rec_line(text, k)
            raise InvalidFileError(path, f"row {line}: {what(k)}")
    return rows
