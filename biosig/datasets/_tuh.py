"""Shared by the TUH corpora (TUEV, TUAB): the referential electrodes a bipolar montage needs,
and the standard preprocessing steps."""

from __future__ import annotations

from biosig.errors import InvalidFileError
from biosig.signal.montages import MONTAGES, tuh_electrode
from biosig.signal.preprocessing import BipolarMontage, FFTResample, FIRBandpass, FIRNotch
from biosig.signal.recording import Recording


def pick_tuh_electrodes(raw: Recording, montage: str, path) -> Recording:
    """The referential electrodes ``montage`` needs from a TUH EDF (``EEG FP1-REF`` -> ``FP1``,
    first occurrence, file order), EEG in µV; :class:`InvalidFileError` naming ``path`` and the
    missing electrodes otherwise."""
    needed = {e for pair in MONTAGES[montage] for e in pair}
    picked: dict[str, str] = {}  # electrode -> channel label (first occurrence)
    for name in raw.ch_names:
        e = tuh_electrode(name)
        if e in needed and e not in picked:
            picked[e] = name
    missing = sorted(needed - set(picked))
    if missing:
        raise InvalidFileError(
            path, f"lacks 'EEG XX-REF' channels {missing} needed by montage {montage!r}"
        )
    rec = raw.pick(list(picked.values()))
    return rec.copy(ch_names=list(picked), ch_types=["eeg"] * len(picked))


def tuh_steps(bandpass, notch, sfreq: float, montage: str) -> list:
    """The TUH foundation-model preprocessing (BIOT/LaBraM/EEGDM): MNE FIR band-pass and notch
    (either skipped when ``None``), FFT resampling to ``sfreq`` (``npad=100``), bipolar
    ``montage``."""
    steps = []
    if bandpass is not None:
        steps.append(FIRBandpass(*bandpass))
    if notch is not None:
        steps.append(FIRNotch(notch))
    return steps + [FFTResample(sfreq, npad=100), BipolarMontage(montage=montage)]
