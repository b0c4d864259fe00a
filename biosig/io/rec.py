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

__all__ = ["read_rec"]


def read_rec(path: str | os.PathLike, n_channels: int = 22) -> np.ndarray:
    """Parse a TUEV ``.rec`` file into an ``(n, 4)`` float array ``channel, start, stop, label``.

    Raises :class:`InvalidFileError` naming the file and row (1-based) for a malformed row, a
    channel outside ``0..n_channels-1``, ``stop <= start`` or a label outside 1..6.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidFileError(path, "annotation (.rec) file missing")
    rows = []
    for i, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        s = line.strip()
        if not s:
            continue
        parts = [p.strip() for p in s.split(",")]
        if len(parts) != 4:
            raise InvalidFileError(
                path, f"row {i}: expected 4 fields 'channel,start,stop,label', got {s!r}"
            )
        try:
            ch, start, stop, lab = (
                int(float(parts[0])),
                float(parts[1]),
                float(parts[2]),
                float(parts[3]),
            )
        except ValueError:
            raise InvalidFileError(path, f"row {i}: non-numeric field in {s!r}") from None
        if not np.isfinite(lab) or lab != int(lab) or not 1 <= int(lab) <= 6:
            raise InvalidFileError(
                path,
                f"row {i}: unknown label {parts[3]!r} (TUEV labels are 1..6 = "
                "SPSW, GPED, PLED, EYEM, ARTF, BCKG)",
            )
        if not 0 <= ch < n_channels:
            raise InvalidFileError(
                path, f"row {i}: channel {ch} outside the {n_channels}-channel montage"
            )
        if not (np.isfinite(start) and np.isfinite(stop)) or start < 0 or stop <= start:
            raise InvalidFileError(path, f"row {i}: bad event times start={start}, stop={stop}")
        rows.append((ch, start, stop, int(lab)))
    return np.array(rows, dtype=np.float64).reshape(-1, 4)
