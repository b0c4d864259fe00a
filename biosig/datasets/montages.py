"""Bipolar montages of the TUH EEG corpus (TCP: temporal central parasagittal).

A montage is a list of ``(anode, cathode)`` pairs of 10-20 electrode names (TUH's old
nomenclature: T3/T4/T5/T6); the bipolar channel ``"A-B"`` is ``A - B``. The TUH files name
their referential channels ``EEG FP1-REF`` (average-reference files: ``EEG FP1-LE``), which
:func:`tuh_electrode` maps to ``FP1``.

- ``"tcp22"``: the 22-channel TCP montage in the order and polarity EEGDM uses (Puah et al.
  2025, following LaBraM's TUEV preprocessing): FP1-F7 ... T6-O2, A1-T3, T3-C3, C3-CZ,
  C4-CZ, T4-C4, A2-T4, FP1-F3 ... P4-O2. The ``.rec`` channel column of TUEV indexes this
  order.
- ``"tcp22_tuh"``: the same 22 channels with TUH's ``01_tcp_ar`` polarity, where three of the
  central chain run left to right: CZ-C4, C4-T4, T4-A2 (sign flips of EEGDM's 11, 12 and 13).
- ``"tcp16"``: the 16-channel "double banana" used by BIOT and PyHealth for TUEV/TUAB: the
  temporal and parasagittal chains, i.e. ``tcp22`` channels 0-7 and 14-21 (no A1/A2/CZ links).
"""

from __future__ import annotations

import re

import numpy as np

from biosig.errors import ChannelError

__all__ = ["MONTAGES", "TUH_REF_CHANNELS", "tuh_electrode", "bipolar_names", "apply_bipolar"]

_TCP22 = [
    ("FP1", "F7"), ("F7", "T3"), ("T3", "T5"), ("T5", "O1"),
    ("FP2", "F8"), ("F8", "T4"), ("T4", "T6"), ("T6", "O2"),
    ("A1", "T3"), ("T3", "C3"), ("C3", "CZ"), ("C4", "CZ"), ("T4", "C4"), ("A2", "T4"),
    ("FP1", "F3"), ("F3", "C3"), ("C3", "P3"), ("P3", "O1"),
    ("FP2", "F4"), ("F4", "C4"), ("C4", "P4"), ("P4", "O2"),
]  # fmt: skip

_TCP22_TUH = list(_TCP22)
_TCP22_TUH[11] = ("CZ", "C4")
_TCP22_TUH[12] = ("C4", "T4")
_TCP22_TUH[13] = ("T4", "A2")

MONTAGES: dict[str, list[tuple[str, str]]] = {
    "tcp22": _TCP22,
    "tcp22_tuh": _TCP22_TUH,
    "tcp16": _TCP22[:8] + _TCP22[14:],
}

#: The 23 referential EEG channels TUEV recordings carry (LaBraM/BIOT keep these).
TUH_REF_CHANNELS = [
    "FP1", "FP2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8",
    "T3", "T4", "T5", "T6", "A1", "A2", "FZ", "CZ", "PZ", "T1", "T2",
]  # fmt: skip

_TUH_NAME = re.compile(r"^EEG\s+([A-Z0-9]+)-(REF|LE)$", re.IGNORECASE)


def tuh_electrode(name: str) -> str | None:
    """``"EEG FP1-REF"`` -> ``"FP1"``; ``None`` for anything that is not a referential EEG channel."""
    m = _TUH_NAME.match(name.strip())
    return m.group(1).upper() if m else None


def bipolar_names(montage: str = "tcp22") -> list[str]:
    """Channel names ``"FP1-F7"`` ... of a montage."""
    return [f"{a}-{b}" for a, b in _get(montage)]


def _get(montage: str) -> list[tuple[str, str]]:
    try:
        return MONTAGES[montage]
    except KeyError:
        raise ChannelError(f"unknown montage {montage!r}; choose one of {sorted(MONTAGES)}") from None


def apply_bipolar(data: np.ndarray, electrodes: list[str], montage: str = "tcp22", source: str = "") -> np.ndarray:
    """Bipolar derivations ``anode - cathode`` from referential data.

    Parameters
    ----------
    data : (n_electrodes, n_times) referential signals (EEG in µV).
    electrodes : electrode name per row (``"FP1"``..., see :func:`tuh_electrode`).
    montage : a key of :data:`MONTAGES`.
    source : file name for error messages.

    Returns
    -------
    (n_pairs, n_times) float32 array in the montage's order.
    """
    pairs = _get(montage)
    index = {e.upper(): i for i, e in enumerate(electrodes)}
    missing = sorted({e for pair in pairs for e in pair if e not in index})
    if missing:
        where = f" in {source}" if source else ""
        raise ChannelError(f"montage {montage!r} needs electrodes {missing} missing{where} (has {electrodes})")
    a = np.array([index[p[0]] for p in pairs])
    b = np.array([index[p[1]] for p in pairs])
    return (np.asarray(data)[a] - np.asarray(data)[b]).astype(np.float32)
