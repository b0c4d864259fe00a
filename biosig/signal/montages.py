"""Bipolar montages: the one bipolar derivation (:func:`bipolar`) and the TUH EEG montages.

:func:`bipolar` is the only implementation: the :class:`~biosig.signal.preprocessing.BipolarMontage`
step and :func:`apply_bipolar` (arrays) both call it.

TUH EEG corpus montages (TCP: temporal central parasagittal):

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

__all__ = [
    "MONTAGES",
    "TUH_REF_CHANNELS",
    "tuh_electrode",
    "bipolar",
    "bipolar_names",
    "bipolar_pairs",
    "apply_bipolar",
]

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
    """``"EEG FP1-REF"`` -> ``"FP1"``; ``None`` for anything that is not a referential EEG
    channel."""
    m = _TUH_NAME.match(name.strip())
    return m.group(1).upper() if m else None


def bipolar_names(montage: str = "tcp22") -> list[str]:
    """Channel names ``"FP1-F7"`` ... of a montage."""
    return [f"{a}-{b}" for a, b in bipolar_pairs(montage)]


def bipolar_pairs(montage: str) -> list[tuple[str, str]]:
    """The ``(anode, cathode)`` pairs of a montage of :data:`MONTAGES`."""
    try:
        return list(MONTAGES[montage])
    except KeyError:
        raise ChannelError(
            f"unknown montage {montage!r}; choose one of {sorted(MONTAGES)}"
        ) from None


def bipolar(
    data: np.ndarray, ch_names: list[str], pairs, *, source: str = "", what: str = "bipolar montage"
) -> tuple[np.ndarray, list[int]]:
    """Bipolar derivations ``anode - cathode`` of ``(n_chans, n_times)`` referential data.

    Channel names are matched exactly, else case-insensitively (``"Fp1"`` for ``"FP1"``).
    Returns the ``(n_pairs, n_times)`` float32 derivations in the order of ``pairs`` and the row
    index of each anode. Raises :class:`ChannelError` naming ``source`` and the missing channels.
    """
    exact = {n: i for i, n in enumerate(ch_names)}
    folded = {n.upper(): i for i, n in reversed(list(enumerate(ch_names)))}

    def find(name):
        return exact.get(name, folded.get(str(name).upper()))

    missing = sorted({c for pair in pairs for c in pair if find(c) is None})
    if missing:
        where = f"{source}: " if source else ""
        raise ChannelError(
            f"{where}{what} needs channels {missing} that are missing (has {list(ch_names)})"
        )
    x = np.asarray(data)
    anodes = [find(a) for a, _ in pairs]
    cathodes = [find(c) for _, c in pairs]
    return (x[anodes] - x[cathodes]).astype(np.float32), anodes


def apply_bipolar(
    data: np.ndarray, electrodes: list[str], montage: str = "tcp22", source: str = ""
) -> np.ndarray:
    """The derivations of ``montage`` (a key of :data:`MONTAGES`) from ``(n_electrodes, n_times)``
    referential data (µV) with one electrode name per row; ``(n_pairs, n_times)`` float32."""
    return bipolar(
        data, electrodes, bipolar_pairs(montage), source=source, what=f"montage {montage!r}"
    )[0]
