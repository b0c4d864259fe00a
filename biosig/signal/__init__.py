"""Signal building blocks, the bottom layer every other package builds on.

- :mod:`~biosig.signal.recording`: :class:`Recording` / :class:`Annotations`, the one in-memory
  record type (float32 ``(n_chans, n_times)``; EEG in µV, ECG in mV);
- :mod:`~biosig.signal.preprocessing`: composable ``Recording -> Recording`` steps;
- :mod:`~biosig.signal.windows`: where windows start and what label each carries;
- :mod:`~biosig.signal.montages`: bipolar montages (the one bipolar derivation, TUH's TCP);
- :mod:`~biosig.signal.ecg_leads`: 12-lead names and Einthoven/Goldberger relations;
- :mod:`~biosig.signal.ecg_delineation`: R-peaks, P-Q windows, annotation-mask channels.

Nothing here reads files (:mod:`biosig.io`), knows a dataset (:mod:`biosig.datasets`) or imports
torch or Lightning.
"""

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
    steps_from_params,
    steps_params,
)
from biosig.signal.recording import Annotations, Recording
from biosig.signal.windows import EventWindows, FixedWindows, Windower

__all__ = [
    "Annotations",
    "Bandpass",
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
    "Notch",
    "PickChannels",
    "Recording",
    "RenameChannels",
    "Rereference",
    "Resample",
    "Scale",
    "Step",
    "Windower",
    "apply_steps",
    "steps_from_params",
    "steps_params",
]
