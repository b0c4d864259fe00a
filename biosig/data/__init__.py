"""Preprocessing, windowing, the window cache, protocols and the Lightning DataModule."""

from biosig.data.cache import WindowCache, cache_key, get_cache
from biosig.data.preprocessing import (
    Bandpass, BipolarMontage, Clip, DropChannels, Notch, PickChannels, RenameChannels, Rereference,
    Resample, Scale, Step, apply_steps,
)
from biosig.data.protocols import SplitProtocol, GroupKFold, KFold, LeaveOneSubjectOut, Predefined, RandomSplit
from biosig.data.windows import EventWindows, FixedWindows, Windower


def __getattr__(name):  # the DataModule imports Lightning: load it only when asked for
    if name in ("BiosigDataModule", "WindowDataset"):
        from biosig.data import datamodule

        return getattr(datamodule, name)
    raise AttributeError(name)


__all__ = [
    "Bandpass", "BiosigDataModule", "BipolarMontage", "Clip", "DropChannels", "EventWindows",
    "FixedWindows", "GroupKFold", "KFold", "LeaveOneSubjectOut", "Notch", "PickChannels",
    "Predefined", "RandomSplit", "RenameChannels", "Rereference", "Resample", "Scale", "SplitProtocol", "Step", "Windower",
    "WindowCache", "WindowDataset", "apply_steps", "cache_key", "get_cache",
]
