"""Preprocessing pipelines, the window cache, protocols and the Lightning DataModule.

The preprocessing steps and windowers are defined in :mod:`biosig.signal` and exported here too,
so a data configuration needs one namespace (``class_path: biosig.data.Bandpass``).
"""

from biosig.data.cache import WindowCache, cache_key, get_cache
from biosig.data.protocols import (
    GroupKFold,
    KFold,
    LeaveOneSubjectOut,
    Predefined,
    RandomSplit,
    SplitProtocol,
)
from biosig.signal.ecg_delineation import ECGAnnotationChannels
from biosig.signal.preprocessing import (
    Bandpass,
    BipolarMontage,
    Clip,
    DropChannels,
    ExtendEdges,
    FFTResample,
    FIRBandpass,
    FIRNotch,
    Notch,
    PickChannels,
    RenameChannels,
    Rereference,
    Resample,
    Scale,
    Step,
    apply_steps,
)
from biosig.signal.windows import EventWindows, FixedWindows, Windower


def __getattr__(name):  # the DataModule imports Lightning: load it only when asked for
    if name in ("BiosigDataModule", "WindowDataset"):
        from biosig.data import datamodule

        return getattr(datamodule, name)
    raise AttributeError(name)


__all__ = [
    "Bandpass",
    "BiosigDataModule",
    "BipolarMontage",
    "Clip",
    "DropChannels",
    "ECGAnnotationChannels",
    "EventWindows",
    "ExtendEdges",
    "FFTResample",
    "FIRBandpass",
    "FIRNotch",
    "FixedWindows",
    "GroupKFold",
    "KFold",
    "LeaveOneSubjectOut",
    "Notch",
    "PickChannels",
    "Predefined",
    "RandomSplit",
    "RenameChannels",
    "Rereference",
    "Resample",
    "Scale",
    "SplitProtocol",
    "Step",
    "Windower",
    "WindowCache",
    "WindowDataset",
    "apply_steps",
    "cache_key",
    "get_cache",
]
