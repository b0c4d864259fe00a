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


class ChannelError(BiosigError, ValueError):
    """Channels are missing, unknown, or in a layout the caller did not ask for."""


class SamplingRateError(BiosigError, ValueError):
    """A recording's sampling rate does not match what a recipe or model expects."""


class ConfigError(BiosigError, ValueError):
    """A configuration key or value is wrong; the message names the key."""


class DownloadError(BiosigError, OSError):
    """A download failed, was incomplete, or its checksum did not match."""


class ShapeError(BiosigError, ValueError):
    """A tensor or array does not have the shape a model or step was built for."""
