"""Deprecated: moved to :mod:`biosig.signal.ecg_leads` (this alias goes away in the next
release)."""

_MOVED = (
    "DERIVED_LEADS",
    "INDEPENDENT_LEADS",
    "LEADS",
    "LIMB_COEFFS",
    "LIMB_LEADS",
    "PRECORDIAL_LEADS",
    "derive_limb_leads",
    "einthoven_residual",
    "lead_index",
    "limb_leads_from",
    "normalize_lead_name",
)


def __getattr__(name):
    import biosig.signal.ecg_leads as new
    from biosig._deprecation import moved

    return moved(__name__, name, new, _MOVED)
