"""Composable, parameterised preprocessing steps: ``Recording -> Recording``.

Each step is a small dataclass; its fields are its parameters and go into the window-cache key,
so changing any of them builds a new cache. Steps run in the order given::

    steps = [PickChannels(types=["eeg"]), Bandpass(4, 38), Resample(128)]
    rec = apply_steps(rec, steps)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from fractions import Fraction

import numpy as np

from biosig.errors import ChannelError, ConfigError
from biosig.io.recording import Recording


class Step(ABC):
    """Base class: subclasses are dataclasses implementing ``__call__(rec) -> rec``."""

    def params(self) -> dict:
        return {"step": type(self).__name__, **asdict(self)}

    @abstractmethod
    def __call__(self, rec: Recording) -> Recording: ...


def _filter_around_gaps(data: np.ndarray, fn, pad: int | None) -> np.ndarray:
    """``fn(data)`` for data with NaN/inf samples without letting them spread over the channel.

    Non-finite samples are bridged by linear interpolation before filtering and set back to NaN
    afterwards, widened by ``pad`` samples (the filter's reach), so the window cache's NaN policy
    still sees them (``pad=None``: the caller maps the gaps itself, e.g. onto a new time axis).
    """
    bad = ~np.isfinite(data)
    if not bad.any():
        return fn(data)
    filled = data.astype(np.float64, copy=True)
    idx = np.arange(data.shape[-1])
    for c in np.flatnonzero(bad.any(axis=-1)):
        good = ~bad[c]
        filled[c, ~good] = np.interp(idx[~good], idx[good], filled[c, good]) if good.any() else 0.0
    out = np.asarray(fn(filled), dtype=np.float32)
    if pad is None:
        return out
    if pad > 0:
        from scipy.ndimage import binary_dilation

        bad = binary_dilation(bad, structure=np.ones((1, 2 * pad + 1), dtype=bool))
    out[bad] = np.nan
    return out


def apply_steps(rec: Recording, steps) -> Recording:
    for step in steps or ():
        rec = step(rec)
    return rec


def steps_params(steps) -> list[dict]:
    return [s.params() for s in steps or ()]


@dataclass
class PickChannels(Step):
    """Keep channels by name (in that order) and/or by type (``"eeg"``, ``"ecg"``...)."""

    names: list[str] | None = None
    types: list[str] | None = None

    def __call__(self, rec):
        if self.types is not None:
            keep = [n for n, t in zip(rec.ch_names, rec.ch_types) if t in self.types]
            if not keep:
                raise ChannelError(
                    f"{rec.meta.get('source', 'recording')}: no channel of types {self.types} "
                    f"(has {sorted(set(rec.ch_types))})"
                )
            rec = rec.pick(keep)
        if self.names is not None:
            rec = rec.pick(list(self.names))
        return rec


@dataclass
class DropChannels(Step):
    names: list[str] = field(default_factory=list)

    def __call__(self, rec):
        return rec.pick([n for n in rec.ch_names if n not in set(self.names)])


@dataclass
class RenameChannels(Step):
    """Rename channels with a mapping; names not in the mapping stay."""

    mapping: dict[str, str] = field(default_factory=dict)

    def __call__(self, rec):
        return rec.copy(data=rec.data, ch_names=[self.mapping.get(n, n) for n in rec.ch_names])


@dataclass
class Bandpass(Step):
    """Zero-phase Butterworth band-pass (second-order sections, forward-backward).

    ``low=None`` gives a low-pass, ``high=None`` a high-pass.
    """

    low: float | None = None
    high: float | None = None
    order: int = 4

    def __call__(self, rec):
        from scipy import signal

        nyq = rec.sfreq / 2
        if self.low is None and self.high is None:
            return rec
        if self.high is not None and self.high >= nyq:
            raise ConfigError(f"Bandpass.high={self.high} Hz must be below Nyquist ({nyq} Hz)")
        if self.low is not None and self.high is not None:
            sos = signal.butter(self.order, [self.low, self.high], "bandpass", fs=rec.sfreq, output="sos")
        elif self.low is not None:
            sos = signal.butter(self.order, self.low, "highpass", fs=rec.sfreq, output="sos")
        else:
            sos = signal.butter(self.order, self.high, "lowpass", fs=rec.sfreq, output="sos")
        pad = int(3 * rec.sfreq / (self.low or self.high))
        data = _filter_around_gaps(rec.data, lambda x: signal.sosfiltfilt(sos, x, axis=-1), pad)
        return rec.copy(data=data.astype(np.float32))


@dataclass
class Notch(Step):
    """IIR notch at ``freq`` (and harmonics below Nyquist if ``harmonics``)."""

    freq: float = 50.0
    quality: float = 30.0
    harmonics: bool = False

    def __call__(self, rec):
        from scipy import signal

        def notch(data):
            f = self.freq
            while f < rec.sfreq / 2:
                b, a = signal.iirnotch(f, self.quality, fs=rec.sfreq)
                data = signal.filtfilt(b, a, data, axis=-1)
                if not self.harmonics:
                    break
                f += self.freq
            return data

        pad = int(rec.sfreq * self.quality / self.freq)
        return rec.copy(data=_filter_around_gaps(rec.data.astype(np.float64), notch, pad).astype(np.float32))


@dataclass
class Resample(Step):
    """Polyphase resampling to ``sfreq``; annotations keep their times in seconds."""

    sfreq: float = 250.0

    def __call__(self, rec):
        from scipy import signal

        if abs(rec.sfreq - self.sfreq) < 1e-9:
            return rec
        frac = Fraction(self.sfreq / rec.sfreq).limit_denominator(1000)
        up, down = frac.numerator, frac.denominator
        bad = ~np.isfinite(rec.data)
        data = _filter_around_gaps(rec.data, lambda x: signal.resample_poly(x, up, down, axis=-1), None)
        if bad.any():  # carry the gaps over to the new time axis (widened by the filter's reach)
            mask = signal.resample_poly(bad.astype(np.float64), up, down, axis=-1)
            data[np.abs(mask) > 1e-3] = np.nan
        return rec.copy(data=data.astype(np.float32), sfreq=self.sfreq)


@dataclass
class Rereference(Step):
    """Re-reference to the common average (``ref="average"``) or to one or more channels."""

    ref: str | list[str] = "average"

    def __call__(self, rec):
        if self.ref == "average":
            ref = rec.data.mean(axis=0, keepdims=True)
        else:
            names = [self.ref] if isinstance(self.ref, str) else list(self.ref)
            ref = rec.pick(names).data.mean(axis=0, keepdims=True)
        return rec.copy(data=rec.data - ref)


@dataclass
class BipolarMontage(Step):
    """Derive bipolar channels ``anode - cathode``; ``pairs`` is a list of (anode, cathode)."""

    pairs: list[tuple[str, str]] = field(default_factory=list)
    names: list[str] | None = None

    def __call__(self, rec):
        index = {n: i for i, n in enumerate(rec.ch_names)}
        missing = sorted({c for p in self.pairs for c in p if c not in index})
        if missing:
            raise ChannelError(f"{rec.meta.get('source', 'recording')}: bipolar montage needs "
                               f"missing channels {missing}")
        data = np.stack([rec.data[index[a]] - rec.data[index[c]] for a, c in self.pairs])
        names = self.names or [f"{a}-{c}" for a, c in self.pairs]
        unit = rec.units[index[self.pairs[0][0]]] if self.pairs else ""
        return rec.copy(data=data, ch_names=names, ch_types=["eeg"] * len(names),
                        units=[unit] * len(names))


@dataclass
class Scale(Step):
    """Multiply the signal by ``factor`` (e.g. 1e-2 to express µV in units of 100 µV)."""

    factor: float = 1.0

    def __call__(self, rec):
        return rec.copy(data=rec.data * np.float32(self.factor))


@dataclass
class Clip(Step):
    """Clip amplitudes to ``[-limit, limit]``."""

    limit: float = 500.0

    def __call__(self, rec):
        return rec.copy(data=np.clip(rec.data, -self.limit, self.limit))
