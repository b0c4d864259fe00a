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


def __getattr__(name):
    if name in _signal.__all__:  # the steps, windowers and Recording, re-exported
        return getattr(_signal, name)
    if name in ("BiosigDataModule", "WindowDataset"):  # Lightning: loaded only when asked for
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
