"""Deprecated: moved to :mod:`biosig.signal.recording` (this alias goes away in the next
release)."""

_MOVED = ("Annotations", "IDENTIFYING_KEYS", "Recording")


def __getattr__(name):
    import biosig.signal.recording as new
    from biosig._deprecation import moved

    return moved(__name__, name, new, _MOVED)
