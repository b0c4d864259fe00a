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
    "MV_PER_UNIT",
    "lead_index",
    "lead_of_channel",
    "pick_leads",
    "mv_per_unit",
    "robust_ptp",
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

#: mV per unit of an ECG channel (a unit-less channel, ``""``, is taken as mV, PTB-XL's unit;
#: the amplitude checks catch µV values read so).
MV_PER_UNIT = {"mV": 1.0, "uV": 1e-3, "µV": 1e-3, "V": 1e3}

#: Channel names that say "an ECG" but not which lead (``ECG``, ``ECG 1``, ``EKG2``...).
GENERIC_ECG_NAMES = ("ECG", "EKG")

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


def robust_ptp(data) -> np.ndarray:
    """Per channel of ``(n_chans, n_times)`` data, the 0.5th to 99.5th percentile range of at
    most about 65,000 of its samples, NaNs ignored (an all-NaN channel: 0)."""
    import warnings

    data = np.asarray(data)[:, :: max(1, np.shape(data)[1] // 65536)]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN channel
        lo, hi = np.nanpercentile(data, [0.5, 99.5], axis=1)
    return np.nan_to_num(hi - lo)


def mv_per_unit(unit: str, what: str, needs: str = "an ECG lead must be in a voltage") -> float:
    """mV per ``unit``; ConfigError ``"<what> is in <unit>; <needs> (mV, µV or V)"`` for anything
    but a voltage (with a did-you-mean for another case: "mv" is not a unit, case is meaning)."""
    from biosig.errors import ConfigError

    if unit not in MV_PER_UNIT:
        near = [u for u in MV_PER_UNIT if str(unit).lower() == u.lower()]
        raise ConfigError(f"{what} is in {unit!r}; {needs} (mV, µV or V)"
                          + (f": did you mean {near[0]!r}?" if near else ""))
    return MV_PER_UNIT[unit]


def lead_of_channel(name: str) -> str | None:
    """Standard lead a channel name gives (``"II"``, ``"MLII"``, ``"avr"``, EDF+'s ``"ECG V2"``),
    or None for a name that gives none (``"ECG"``, ``"ECG 1"``, ``"Pleth"``)."""
    key = str(name).strip()
    for prefix in GENERIC_ECG_NAMES:  # EDF+ type prefix: "ECG II" names lead II
        if key.upper().startswith(prefix + " "):
            key = key[len(prefix) + 1 :].strip()
    return _ALIASES.get(key.upper())


def pick_leads(rec, leads: Sequence[str] = LEADS):
    """The channels of ``rec`` (a :class:`~biosig.signal.recording.Recording`) that are
    ``leads``, found by name (:func:`lead_of_channel`), in that order, in mV, named by their
    standard names; a unit-less channel is taken as mV.

    ChannelError (naming the file, ``rec.meta["source"]``) when a lead has no channel or
    several; ConfigError when a lead's unit is not a voltage.
    """
    where = str(rec.meta.get("source") or "recording")
    wanted = [normalize_lead_name(n) for n in leads]
    found: dict[str, list[int]] = {}
    for i, name in enumerate(rec.ch_names):
        found.setdefault(lead_of_channel(name), []).append(i)
    missing = [n for n in wanted if n not in found]
    if missing:
        raise ChannelError(
            f"{where}: no channel for lead(s) {', '.join(missing)} (its channels: "
            f"{', '.join(rec.ch_names)}); the leads needed: {', '.join(wanted)}. Rename a "
            f"channel whose name does not say its lead (biosig.signal.RenameChannels)")
    twice = {n: [rec.ch_names[i] for i in found[n]] for n in wanted if len(found[n]) > 1}
    if twice:
        raise ChannelError(
            f"{where}: lead(s) given by several channels: "
            + "; ".join(f"{n} by {', '.join(map(repr, chans))}" for n, chans in twice.items())
            + "; keep one of each (biosig.signal.DropChannels)")
    index = [found[n][0] for n in wanted]
    scale = [mv_per_unit(rec.units[i] or "mV", f"{where}: channel {rec.ch_names[i]!r}")
             for i in index]
    data = rec.data[index] * np.asarray(scale, dtype=np.float32)[:, None]
    return rec.copy(data=data, ch_names=wanted, ch_types=["ecg"] * len(wanted),
                    units=["mV"] * len(wanted))
