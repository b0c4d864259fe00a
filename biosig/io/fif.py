"""MNE's own FIF raw format (``*.fif``, ``*_raw.fif``, ``*.fif.gz``), read with
:func:`mne.io.read_raw_fif`.

Samples come back in SI units from MNE and are converted to the Recording convention (EEG,
EOG, EMG in µV, ECG in mV; other channels keep their SI unit). Channel types are MNE's.
Annotations keep their descriptions, onsets in s from the first sample. The measurement date,
subject and experimenter information are never read into :attr:`Recording.meta`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

import numpy as np

from biosig.errors import ChannelError
from biosig.io._mne import keep_index
from biosig.io._util import (
    as_path,
    check_file,
    check_timing,
    make_recording,
    quiet_mne,
    to_target_units,
    wrap_errors,
)
from biosig.signal.recording import Annotations, Recording

__all__ = ["read_fif", "FIF_SUFFIXES"]

FIF_SUFFIXES = (".fif", ".fif.gz")


def _si_unit(code: int) -> str:
    from mne.io.constants import FIFF

    return {
        int(FIFF.FIFF_UNIT_V): "V",
        int(FIFF.FIFF_UNIT_T): "T",
        int(FIFF.FIFF_UNIT_T_M): "T/m",
        int(FIFF.FIFF_UNIT_AM): "Am",
        int(FIFF.FIFF_UNIT_MOL): "M",
        int(FIFF.FIFF_UNIT_CEL): "C",
    }.get(int(code), "")


def read_fif(
    path: str | os.PathLike,
    *,
    exclude: Iterable[str] = (),
    ch_types: Mapping[str, str] | None = None,
) -> Recording:
    """Read a FIF raw file (MNE's format) into a :class:`Recording`.

    Parameters
    ----------
    path : a ``.fif`` / ``.fif.gz`` raw file (split files are followed by MNE).
    exclude : channel names to leave out.
    ch_types : ``{name: type}`` overriding MNE's channel types.

    Returns
    -------
    Recording
        float32; ``meta``: ``format="FIF"``, ``source``, ``n_nan``, ``n_inf``.

    Raises
    ------
    InvalidFileError
        Missing, unreadable or malformed file (MNE's error is kept as the cause).
    """
    import mne

    path = as_path(path)
    check_file(path, what="FIF file")
    with wrap_errors(path, "reading FIF with MNE"), quiet_mne():
        raw = mne.io.read_raw_fif(path, preload=False, verbose="error", allow_maxshield=False)
        names = list(raw.ch_names)
        keep = keep_index(path, names, names, exclude)
        raw.pick([names[j] for j in keep])
        data = raw.get_data()
        sfreq = float(raw.info["sfreq"])
        types = list(raw.get_channel_types())
        units = [_si_unit(ch["unit"]) for ch in raw.info["chs"]]
        ann = raw.annotations
        onset = np.asarray(ann.onset, float)
        if ann.orig_time is not None:
            onset = onset - raw.first_time
        duration, desc = np.asarray(ann.duration, float), [str(d) for d in ann.description]
    names = list(raw.ch_names)
    check_timing(path, sfreq, data.shape[1] / sfreq)
    if ch_types:
        unknown = [k for k in ch_types if k not in names]
        if unknown:
            raise ChannelError(f"ch_types names channels {unknown} that {path.name} does not have")
        types = [str(ch_types.get(n, t)).lower() for n, t in zip(names, types)]
    data, units = to_target_units(data, units, types)
    meta = {"format": "FIF", "source": path.name}
    annotations = Annotations.from_lists(onset, duration, desc)
    return make_recording(data, sfreq, names, types, units, annotations, meta)
