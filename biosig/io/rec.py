"""TUH EEG event annotation files (``.rec``, TUEV v2.0.x).

One ``channel,start,stop,label`` row per event: ``channel`` indexes the TCP bipolar montage
(:data:`biosig.signal.montages.MONTAGES`), ``start``/``stop`` are seconds from the start of the
EDF of the same name, ``label`` is 1..6 = SPSW, GPED, PLED, EYEM, ARTF, BCKG.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from biosig.errors import InvalidFileError
from biosig.io._util import check_readable

__all__ = ["read_rec"]

_LABELS = "TUEV labels are 1..6 = SPSW, GPED, PLED, EYEM, ARTF, BCKG"


def _first_bad_field(path: Path, lines: list[str], numbers: list[int]) -> InvalidFileError:
    """The error for the first row whose fields are not all numbers (slow path, errors only)."""
    for line, i in zip(lines, numbers):
        for field in line.split(","):
            try:
                float(field)
            except ValueError:
                return InvalidFileError(path, f"row {i}: non-numeric field in {line.strip()!r}")
    return InvalidFileError(path, "non-numeric field")  # pragma: no cover - caller checked


def read_rec(path: str | os.PathLike, n_channels: int = 22) -> np.ndarray:
    """Parse a TUEV ``.rec`` file into an ``(n, 4)`` float array ``channel, start, stop, label``.

    Linear in the number of rows (one vectorised conversion; a million rows in about a second).
    Raises :class:`InvalidFileError` naming the file and row (1-based line number) for a row
    without exactly 4 fields, a non-numeric or non-finite field, a channel that is not a whole
    number in ``0..n_channels-1``, a label that is not a whole number in 1..6,
    ``start < 0`` or ``stop <= start``; and for an unreadable file.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidFileError(path, "annotation (.rec) file missing")
    check_readable(path, "annotation (.rec) file")
    text = path.read_bytes().decode("utf-8", "replace")
    lines, numbers = [], []
    for i, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            lines.append(line)
            numbers.append(i)
    if not lines:
        return np.zeros((0, 4), dtype=np.float64)
    counts = np.fromiter((line.count(",") for line in lines), dtype=np.int64, count=len(lines))
    if np.any(counts != 3):
        k = int(np.flatnonzero(counts != 3)[0])
        raise InvalidFileError(
            path,
            f"row {numbers[k]}: expected 4 fields 'channel,start,stop,label', got "
            f"{lines[k].strip()!r}",
        )
    try:
        rows = np.array(",".join(lines).split(","), dtype=np.float64).reshape(-1, 4)
    except ValueError:
        raise _first_bad_field(path, lines, numbers) from None
    ch, start, stop, lab = rows.T

    def field(k: int, j: int) -> str:
        return lines[k].split(",")[j].strip()

    checks = (
        (~np.isfinite(rows).all(axis=1), lambda k: "non-finite field"),
        ((ch != np.round(ch)) | (ch < 0) | (ch >= n_channels),
         lambda k: f"channel {field(k, 0)} is not a whole number in 0..{n_channels - 1} "
         "(the montage's channels)"),
        ((lab != np.round(lab)) | (lab < 1) | (lab > 6),
         lambda k: f"unknown label {field(k, 3)!r} ({_LABELS})"),
        ((start < 0) | (stop <= start), lambda k: "bad event times (need 0 <= start < stop)"),
    )  # fmt: skip
    for bad, what in checks:
        if np.any(bad):
            k = int(np.flatnonzero(bad)[0])
            raise InvalidFileError(path, f"row {numbers[k]}: {what(k)} in {lines[k].strip()!r}")
    return rows
