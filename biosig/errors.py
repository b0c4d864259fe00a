"""Exception types. Every error about a file names the file and the reason."""

from __future__ import annotations

from pathlib import Path


class BiosigError(Exception):
    """Base class of every error biosig raises on purpose."""


class InvalidFileError(BiosigError, ValueError):
    """A file is missing, truncated, malformed, or holds values biosig cannot use."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self):
        # pickled as (path, reason), not the message: a cache-build worker sends its error to
        # the parent this way (the default pickling broke the worker pool and lost the error)
        return type(self), (self.path, self.reason)


class ChannelError(BiosigError, ValueError):
    """Channels are missing, unknown, or in a layout the caller did not ask for."""


def channel_difference(names, expected, limit: int = 10) -> str:
    """How the channel list ``names`` differs from ``expected``, by name: ``"missing ['Cz'];
    extra ['EOG1']"``, or ``"same channels in another order (first difference at position 3:
    'C3' instead of 'Cz')"``, or ``"duplicate names [...]"``; ``""`` when they are equal. At
    most ``limit`` names per list (then "... and N more")."""

    def shown(items) -> str:
        more = f" ... and {len(items) - limit} more" if len(items) > limit else ""
        return f"{list(items[:limit])}{more}"

    names, expected = [str(n) for n in names], [str(n) for n in expected]
    if names == expected:
        return ""
    have, want = set(names), set(expected)
    parts = []
    missing = [n for n in expected if n not in have]
    extra = [n for n in names if n not in want]
    if missing:
        parts.append(f"missing {shown(missing)}")
    if extra:
        parts.append(f"extra {shown(extra)}")
    if not parts:
        dupes = sorted({n for n in names if names.count(n) != expected.count(n)})
        if dupes:
            return f"duplicate names {shown(dupes)}"
        i = next(k for k, (a, b) in enumerate(zip(names, expected)) if a != b)
        return (f"same channels in another order (first difference at position {i}: "
                f"{names[i]!r} instead of {expected[i]!r})")
    return "; ".join(parts)


class SamplingRateError(BiosigError, ValueError):
    """A recording's sampling rate does not match what a recipe or model expects."""


class ConfigError(BiosigError, ValueError):
    """A configuration key or value is wrong; the message names the key."""


class DownloadError(BiosigError, OSError):
    """A download failed, was incomplete, or its checksum did not match."""


class MissingDependencyError(BiosigError, ImportError):
    """An optional package a feature needs is not installed; the message names the extra to
    install (``pip install 'biosig[hub]'``)."""


class NonFiniteInputError(BiosigError, ValueError):
    """An input (a batch of windows, a record) holds NaN or infinite samples where finite ones
    are needed; a non-finite loss from a finite input is a FloatingPointError instead."""


class ShapeError(BiosigError, ValueError):
    """A tensor or array does not have the shape (or dtype) a model or step was built for."""
