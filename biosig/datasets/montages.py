"""Deprecated: moved to :mod:`biosig.signal.montages` (this alias goes away in the next release)."""

_MOVED = ("MONTAGES", "TUH_REF_CHANNELS", "apply_bipolar", "bipolar_names", "tuh_electrode")


def __getattr__(name):
    import biosig.signal.montages as new
    from biosig._deprecation import moved

    return moved(__name__, name, new, _MOVED)
