"""Standard 12-lead ECG lead names, order and the derived-lead (Einthoven/Goldberger) equations.

Order (PTB-XL, CinC, biosig): I, II, III, aVR, aVL, aVF, V1..V6. Signals are in mV.

The limb leads are linear combinations of two independent ones (I, II)::

    III = II - I        aVR = -(I + II) / 2        aVL = I - II / 2        aVF = II - I / 2

so a 12-lead ECG has 8 independent leads: I, II, V1..V6.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from biosig.errors import ChannelError

__all__ = [
    "LEADS",
    "INDEPENDENT_LEADS",
    "DERIVED_LEADS",
    "LIMB_LEADS",
    "PRECORDIAL_LEADS",
    "LIMB_COEFFS",
    "MAX_ECG_PTP_MV",
    "MIN_ECG_PTP_MV",
    "lead_index",
    "canonical_lead",
    "normalize_lead_name",
    "derive_limb_leads",
    "limb_leads_from",
    "einthoven_residual",
]

#: A robust peak-to-peak amplitude (mV) that no ECG lead reaches: a QRS is a few mV (508 real
#: PTB-XL records: at most 9.6 mV); the same lead in µV read as mV is thousands. ECGNet's inputs
#: and the window cache's ECG channels are refused above it.
MAX_ECG_PTP_MV = 50.0

#: A robust peak-to-peak amplitude (mV) below every ECG lead's (508 real PTB-XL records,
#: high-passed at 0.5 Hz: at least 0.135 mV): a flat lead, or mV stored as µV (1000x too small).
#: ECGNet.generate_recording refuses a lead below it.
MIN_ECG_PTP_MV = 0.02

LEADS: tuple[str, ...] = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
INDEPENDENT_LEADS: tuple[str, ...] = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
DERIVED_LEADS: tuple[str, ...] = ("III", "aVR", "aVL", "aVF")
LIMB_LEADS: tuple[str, ...] = LEADS[:6]
PRECORDIAL_LEADS: tuple[str, ...] = LEADS[6:]

#: Each limb lead as ``(coef_I, coef_II)``: lead = coef_I * I + coef_II * II.
LIMB_COEFFS: dict[str, tuple[float, float]] = {
    "I": (1.0, 0.0),
    "II": (0.0, 1.0),
    "III": (-1.0, 1.0),
    "aVR": (-0.5, -0.5),
    "aVL": (1.0, -0.5),
    "aVF": (-0.5, 1.0),
}

_CANON = {name.upper(): name for name in LEADS}
_ALIASES = dict(_CANON)
_ALIASES.update({"MLII": "II", "D1": "I", "D2": "II", "D3": "III"})


def canonical_lead(name: str) -> str:
    """Case-insensitive standard lead name (``"AVR"``/``"avr"`` -> ``"aVR"``); any other name is
    returned stripped and unchanged (no alias such as ``MLII`` is applied: compare
    :func:`normalize_lead_name`, which maps aliases and rejects unknown names)."""
    key = str(name).strip()
    return _CANON.get(key.upper(), key)


def normalize_lead_name(name: str) -> str:
    """Map spellings such as ``"AVR"``, ``"avr"``, ``"v1"`` to the canonical name (``"aVR"``,
    ``"V1"``)."""
    key = str(name).strip().upper()
    if key not in _ALIASES:
        raise ChannelError(f"unknown ECG lead {name!r}; expected one of {', '.join(LEADS)}")
    return _ALIASES[key]


def lead_index(name: str | int) -> int:
    """Position of a lead (name or index) in the standard order."""
    if isinstance(name, (int, np.integer)):
        if not 0 <= int(name) < 12:
            raise ChannelError(f"lead index must be in 0..11, got {name}")
        return int(name)
    return LEADS.index(normalize_lead_name(name))


def derive_limb_leads(lead_i, lead_ii):
    """III, aVR, aVL, aVF from I and II (arrays or tensors, same shape); returns a 4-tuple."""
    return (
        lead_ii - lead_i,
        -(lead_i + lead_ii) / 2,
        lead_i - lead_ii / 2,
        lead_ii - lead_i / 2,
    )


def limb_leads_from(lead: str, value, other: str, other_value):
    """Solve ``(I, II)`` from two distinct limb leads (any two of the six are linearly
    independent)."""
    a = LIMB_COEFFS[normalize_lead_name(lead)]
    b = LIMB_COEFFS[normalize_lead_name(other)]
    det = a[0] * b[1] - a[1] * b[0]
    if abs(det) < 1e-12:
        raise ChannelError(f"leads {lead} and {other} are not independent")
    lead_i = (b[1] * value - a[1] * other_value) / det
    lead_ii = (-b[0] * value + a[0] * other_value) / det
    return lead_i, lead_ii


def einthoven_residual(ecg, lead_names: Sequence[str] = LEADS):
    """Largest absolute violation of the four derived-lead identities in a ``(..., 12, T)``
    array (mV)."""
    names = [normalize_lead_name(n) for n in lead_names]
    x = np.asarray(ecg, dtype=np.float64)
    get = {n: x[..., names.index(n), :] for n in LIMB_LEADS}
    derived = derive_limb_leads(get["I"], get["II"])
    return float(max(np.max(np.abs(get[n] - d)) for n, d in zip(DERIVED_LEADS, derived)))
