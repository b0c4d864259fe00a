"""Deprecated: moved to :mod:`biosig.signal.windows` (this alias goes away in the next release)."""

_MOVED = ("EventWindows", "FixedWindows", "Windower")


def __getattr__(name):
    import biosig.signal.windows as new
    from biosig._deprecation import moved

    return moved(__name__, name, new, _MOVED)
