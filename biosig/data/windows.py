"""Deprecated: moved to :mod:`biosig.signal.windows` (this alias goes away in the next release)."""

_MOVED = ("EventWindows", "FixedWindows", "Windower")


def __getattr__(name):
    from biosig._deprecation import moved
    import biosig.signal.windows as new

    return moved(__name__, name, new, _MOVED)
