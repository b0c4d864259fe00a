"""Preprocessing pipelines, the window cache, protocols and the Lightning DataModule.

Everything :mod:`biosig.signal` exports (the preprocessing steps, windowers, :class:`Recording`)
is exported here too, so a data configuration needs one namespace
(``class_path: biosig.data.Bandpass``).
"""

from biosig import signal as _signal
from biosig.data.cache import WindowCache, cache_key, get_cache
from biosig.data.protocols import (
    GroupKFold,
    KFold,
    LeaveOneSubjectOut,
    Predefined,
    RandomSplit,
    SplitProtocol,
)
from biosig.signal import *  # the steps and windowers, re-exported


def __getattr__(name):  # the DataModule imports Lightning: load it only when asked for
    if name in ("BiosigDataModule", "WindowDataset"):
        from biosig.data import datamodule

        return getattr(datamodule, name)
    raise AttributeError(name)


__all__ = [
    "BiosigDataModule",
    "GroupKFold",
    "KFold",
    "LeaveOneSubjectOut",
    "Predefined",
    "RandomSplit",
    "SplitProtocol",
    "WindowCache",
    "WindowDataset",
    "cache_key",
    "get_cache",
]
__all__ += _signal.__all__
