"""Composable, parameterised preprocessing steps: ``Recording -> Recording``.

Each step is a small dataclass; its fields are its parameters and go into the window-cache key,
so changing any of them builds a new cache. Steps run in the order given::

    steps = [PickChannels(types=["eeg"]), Bandpass(4, 38), Resample(128)]
    rec = apply_steps(rec, steps)

Two filter families: :class:`Bandpass` / :class:`Notch` / :class:`Resample` (SciPy: Butterworth
SOS forward-backward, IIR notch, polyphase) and :class:`FIRBandpass` / :class:`FIRNotch` /
:class:`FFTResample` (MNE's FIR designs and FFT resampling, as ``raw.filter`` /
``raw.notch_filter`` / ``mne.filter.resample``), which the EEG foundation-model recipes (BIOT,
LaBraM, EEGDM on TUEV) use. Every filter bridges NaN/inf gaps and puts them back afterwards.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import asdict, dataclass, field
from fractions import Fraction

import numpy as np

from biosig._checks import number
from biosig.errors import ChannelError, ConfigError, ShapeError
from biosig.signal.recording import Recording


class Step(ABC):
    """Base class: subclasses are dataclasses implementing ``__call__(rec) -> rec``.
    ``keeps_samples``: the step only selects or renames channels, so a file's undecoded samples
    stay undecoded (what a ``dtype="int16"`` window cache needs)."""

    keeps_samples = False

    def params(self) -> dict:
        return {"step": type(self).__name__, **asdict(self)}

    @abstractmethod
    def __call__(self, rec: Recording) -> Recording: ...


def interpolate_gaps(data: np.ndarray, *, empty: float | None = 0.0) -> np.ndarray | None:
    """Linear interpolation over the non-finite samples of each channel of ``(C, T)`` data.

    A channel without any finite sample becomes ``empty`` (``empty=None``: return ``None``).
    Returns a float64 copy.
    """
    out = np.array(data, dtype=np.float64, copy=True)
    bad = ~np.isfinite(out)
    idx = np.arange(out.shape[-1])
    for c in np.flatnonzero(bad.any(axis=-1)):
        good = ~bad[c]
        if good.any():
            out[c, ~good] = np.interp(idx[~good], idx[good], out[c, good])
        elif empty is None:
            return None
        else:
            out[c] = empty
    return out


def _filter_around_gaps(data: np.ndarray, fn, pad) -> np.ndarray:
    """``fn(data)`` for data with NaN/inf samples without letting them spread over the channel.

    Non-finite samples are bridged by linear interpolation before filtering and set back to NaN
    afterwards, widened by ``pad`` samples (the filter's reach; a callable is asked only when there
    are gaps), so the window cache's NaN policy still sees them (``pad=None``: the caller maps the
    gaps itself, e.g. onto a new time axis).
    """
    bad = ~np.isfinite(data)
    if not bad.any():
        return fn(data)
    out = np.asarray(fn(interpolate_gaps(data)), dtype=np.float32)
    if pad is None:
        return out
    pad = pad() if callable(pad) else pad
    if pad > 0:
        from scipy.ndimage import binary_dilation

        bad = binary_dilation(bad, structure=np.ones((1, 2 * pad + 1), dtype=bool))
    out[bad] = np.nan
    return out


def _carry_gaps(data: np.ndarray, bad: np.ndarray, up: int, down: int) -> np.ndarray:
    """Set NaN where resampled gaps (``bad`` at the old rate, ``up/down``) reach the new samples."""
    from scipy import signal

    if bad.any():  # the gaps on the new time axis, widened by the filter's reach
        mask = signal.resample_poly(bad.astype(np.float64), up, down, axis=-1)
        data[np.abs(mask) > 1e-3] = np.nan
    return data


def _ratio(new: float, old: float, what: str = "sfreq") -> tuple[int, int]:
    frac = Fraction(new / old).limit_denominator(1000)
    if frac.numerator < 1:
        raise ConfigError(f"{what}={new:g} Hz is below 1/1000 of the recording's {old:g} Hz: "
                          "no resampling ratio can reach it")
    return frac.numerator, frac.denominator


def _where(rec: Recording) -> str:
    return str(rec.meta.get("source", "recording"))


def _names(key: str, names, optional: bool = True) -> None:
    """A list of channel names: not a lone string (it would be read letter by letter), not
    empty (a step that keeps or uses no channel)."""
    if names is None and optional:
        return
    if isinstance(names, str) or not isinstance(names, (list, tuple)) or not names:
        raise ConfigError(f"{key} must be a non-empty list of names, got {names!r}")


def _check_band(step) -> None:
    """``low``/``high`` (Hz) of a band-pass step: each None or a positive finite frequency,
    ``low < high`` when both are given."""
    name = type(step).__name__
    number(f"{name}.low", step.low, gt=0, optional=True)
    number(f"{name}.high", step.high, gt=0, optional=True)
    if step.low is not None and step.high is not None and step.low >= step.high:
        raise ConfigError(f"{name}.low={step.low:g} Hz must be below {name}.high={step.high:g} "
                          "Hz (low=None gives a low-pass, high=None a high-pass)")


def apply_steps(rec: Recording, steps) -> Recording:
    for step in steps or ():
        rec = step(rec)
    return rec


def steps_params(steps) -> list[dict]:
    return [s.params() for s in steps or ()]


def steps_from_params(params) -> list[Step]:
    """The steps :func:`steps_params` described (a weights card's ``preprocessing.steps``),
    rebuilt from biosig's step classes; ConfigError for a step biosig does not have."""
    known = {}
    todo = list(Step.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.__module__.startswith("biosig."):
            known[cls.__name__] = cls
    steps = []
    for entry in params or ():
        entry = dict(entry)
        name = entry.pop("step", None)
        if name not in known:
            raise ConfigError(f"preprocessing step {name!r} is not one of biosig's "
                              f"({', '.join(sorted(known))}); it cannot be rebuilt")
        steps.append(known[name](**entry))
    return steps


@dataclass
class PickChannels(Step):
    """Keep channels by name (in that order) and/or by type (``"eeg"``, ``"ecg"``...)."""

    names: list[str] | None = None
    types: list[str] | None = None

    keeps_samples = True

    def __post_init__(self):
        _names("PickChannels.names", self.names)
        _names("PickChannels.types", self.types)

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

    keeps_samples = True

    def __post_init__(self):
        if isinstance(self.names, str) or not isinstance(self.names, (list, tuple)):
            raise ConfigError(f"DropChannels.names must be a list of names, got {self.names!r}")

    def __call__(self, rec):
        return rec.pick([n for n in rec.ch_names if n not in set(self.names)])


@dataclass
class RenameChannels(Step):
    """Rename channels with a mapping; names not in the mapping stay. A rename that gives two
    channels the same name (``{"C4": "C3"}`` on ``C3, Cz, C4``) raises ``ChannelError``."""

    mapping: dict[str, str] = field(default_factory=dict)

    keeps_samples = True

    def __post_init__(self):
        if not isinstance(self.mapping, dict):
            raise ConfigError(f"RenameChannels.mapping must be a dict of old -> new names, got "
                              f"{self.mapping!r}")

    def __call__(self, rec):
        new = [self.mapping.get(n, n) for n in rec.ch_names]
        before, after = Counter(rec.ch_names), Counter(new)
        dupes = sorted(n for n, k in after.items() if k > 1 and k > before[n])
        if dupes:  # only the clashing names and their sources: a montage has 64 channels
            clashes = "; ".join(
                f"{d!r} from " + ", ".join(f"{o!r}" + (" (not renamed)" if o == d else "")
                                           for o, n in zip(rec.ch_names, new) if n == d)
                for d in dupes)
            raise ChannelError(f"{_where(rec)}: RenameChannels gives several channels one name: "
                               f"{clashes}")
        return rec.renamed(new)


@dataclass
class Bandpass(Step):
    """Zero-phase Butterworth band-pass (second-order sections, forward-backward).

    ``low=None`` gives a low-pass, ``high=None`` a high-pass.
    """

    low: float | None = None
    high: float | None = None
    order: int = 4

    def __post_init__(self):
        _check_band(self)
        number("Bandpass.order", self.order, ge=1, integer=True)

    def __call__(self, rec):
        from scipy import signal

        if self.low is None and self.high is None:
            return rec
        _check_below_nyquist(rec, "Bandpass.low", self.low)
        _check_below_nyquist(rec, "Bandpass.high", self.high)
        if self.low is not None and self.high is not None:
            sos = signal.butter(
                self.order, [self.low, self.high], "bandpass", fs=rec.sfreq, output="sos"
            )
        elif self.low is not None:
            sos = signal.butter(self.order, self.low, "highpass", fs=rec.sfreq, output="sos")
        else:
            sos = signal.butter(self.order, self.high, "lowpass", fs=rec.sfreq, output="sos")
        zeros = min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
        _check_long_enough(rec, self, 3 * (2 * len(sos) + 1 - zeros))  # sosfiltfilt's padlen
        pad = int(3 * rec.sfreq / (self.low or self.high))
        data = _filter_around_gaps(rec.data, lambda x: signal.sosfiltfilt(sos, x, axis=-1), pad)
        return rec.copy(data=data.astype(np.float32))


@dataclass
class Notch(Step):
    """IIR notch at ``freq`` (and harmonics below Nyquist if ``harmonics``)."""

    freq: float = 50.0
    quality: float = 30.0
    harmonics: bool = False

    def __post_init__(self):
        number("Notch.freq", self.freq, gt=0)
        number("Notch.quality", self.quality, gt=0)

    def __call__(self, rec):
        from scipy import signal

        _check_below_nyquist(rec, "Notch.freq", self.freq)
        _check_long_enough(rec, self, 9)  # filtfilt's padlen for iirnotch's 3 coefficients

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
        return rec.copy(
            data=_filter_around_gaps(rec.data.astype(np.float64), notch, pad).astype(np.float32)
        )


@dataclass
class Resample(Step):
    """Polyphase resampling to ``sfreq``; annotations keep their times in seconds."""

    sfreq: float = 250.0

    def __post_init__(self):
        number("Resample.sfreq", self.sfreq, gt=0)

    def __call__(self, rec):
        from scipy import signal

        if abs(rec.sfreq - self.sfreq) < 1e-9:
            return rec
        up, down = _ratio(self.sfreq, rec.sfreq, "Resample.sfreq")
        bad = ~np.isfinite(rec.data)
        data = _filter_around_gaps(
            rec.data, lambda x: signal.resample_poly(x, up, down, axis=-1), None
        )
        data = _carry_gaps(data, bad, up, down)
        return rec.copy(data=data.astype(np.float32), sfreq=self.sfreq)


@dataclass
class Rereference(Step):
    """Re-reference to the common average (``ref="average"``) or to one or more channels."""

    ref: str | list[str] = "average"

    def __post_init__(self):
        if not (isinstance(self.ref, str) and self.ref):
            _names("Rereference.ref", self.ref, optional=False)

    def __call__(self, rec):
        if self.ref == "average":
            ref = rec.data.mean(axis=0, keepdims=True)
        else:
            names = [self.ref] if isinstance(self.ref, str) else list(self.ref)
            ref = rec.pick(names).data.mean(axis=0, keepdims=True)
        return rec.copy(data=rec.data - ref)


@dataclass
class BipolarMontage(Step):
    """Derive bipolar channels ``anode - cathode`` (EEG, unit of the first anode).

    ``pairs`` lists ``(anode, cathode)`` channel names; or ``montage`` names one of
    :data:`biosig.signal.montages.MONTAGES` (e.g. ``"tcp22"``; electrodes are matched
    case-insensitively).
    ``names`` overrides the ``"A-B"`` channel names. See :func:`biosig.signal.montages.bipolar`.
    """

    pairs: list[tuple[str, str]] = field(default_factory=list)
    names: list[str] | None = None
    montage: str | None = None

    def __post_init__(self):
        if self.montage is not None and self.pairs:
            raise ConfigError("BipolarMontage: give either pairs or montage, not both")
        if self.montage is not None:
            from biosig.signal.montages import bipolar_pairs

            try:
                n = len(bipolar_pairs(self.montage))
            except ChannelError as err:
                raise ConfigError(f"BipolarMontage.montage: {err}") from None
        else:
            bad = [p for p in self.pairs
                   if isinstance(p, str) or len(p) != 2 or not all(isinstance(e, str) for e in p)]
            if not self.pairs or bad:
                raise ConfigError("BipolarMontage: give montage (a name) or pairs, a non-empty "
                                  f"list of (anode, cathode) names; got pairs={self.pairs!r}")
            n = len(self.pairs)
        if self.names is not None and (isinstance(self.names, str) or len(self.names) != n):
            raise ConfigError(f"BipolarMontage.names must give one name per pair ({n}), got "
                              f"{self.names!r}")

    def __call__(self, rec):
        from biosig.signal.montages import bipolar, bipolar_pairs

        pairs = bipolar_pairs(self.montage) if self.montage is not None else list(self.pairs)
        data, index = bipolar(
            rec.data,
            rec.ch_names,
            pairs,
            source=_where(rec),
            what=f"montage {self.montage!r}" if self.montage else "bipolar montage",
        )
        names = self.names or [f"{a}-{c}" for a, c in pairs]
        unit = rec.units[index[0]] if pairs else ""
        return rec.copy(
            data=data, ch_names=names, ch_types=["eeg"] * len(names), units=[unit] * len(names)
        )


@dataclass
class Scale(Step):
    """Multiply the signal by ``factor`` (e.g. 1e-2 to express µV in units of 100 µV)."""

    factor: float = 1.0

    def __post_init__(self):
        number("Scale.factor", self.factor)
        if self.factor == 0:
            raise ConfigError("Scale.factor must not be 0 (it would zero the signal)")

    def __call__(self, rec):
        return rec.copy(data=rec.data * np.float32(self.factor))


@dataclass
class Clip(Step):
    """Clip amplitudes to ``[-limit, limit]``."""

    limit: float = 500.0

    def __post_init__(self):
        number("Clip.limit", self.limit, gt=0)

    def __call__(self, rec):
        return rec.copy(data=np.clip(rec.data, -self.limit, self.limit))


def _mne_call(rec: Recording, what: str, fn):
    """Run an MNE filter function quietly; its errors become a ConfigError naming the file."""
    import mne

    try:
        with mne.utils.use_log_level("error"):
            return fn()
    except ValueError as err:
        raise ConfigError(f"{_where(rec)}: {what} failed ({err})") from err


def _check_long_enough(rec: Recording, step, padlen: int) -> None:
    """ShapeError naming the file when ``rec`` is too short for forward-backward filtering
    (scipy's filtfilt pads ``padlen`` samples at each end; it said only 'padlen')."""
    if rec.n_times <= padlen:
        raise ShapeError(
            f"{_where(rec)}: {rec.n_times} samples ({rec.n_times / rec.sfreq:g} s at "
            f"{rec.sfreq:g} Hz) are too short for {step!r}: filtering forward and backward "
            f"needs more than {padlen} samples; drop or join such short recordings"
        )


def _check_below_nyquist(rec: Recording, what: str, freq: float | None) -> None:
    if freq is not None and freq >= rec.sfreq / 2:
        raise ConfigError(
            f"{what}={freq} Hz is not below the Nyquist frequency of "
            f"{_where(rec)} ({rec.sfreq / 2} Hz)"
        )


@dataclass
class FIRBandpass(Step):
    """Zero-phase FIR band-pass as MNE's ``raw.filter(low, high)`` (firwin, Hamming window,
    automatic transition bands and length); ``low=None`` gives a low-pass, ``high=None`` a
    high-pass.
    """

    low: float | None = None
    high: float | None = None

    def __post_init__(self):
        _check_band(self)

    def __call__(self, rec):
        import mne

        if self.low is None and self.high is None:
            return rec
        _check_below_nyquist(rec, "FIRBandpass.low", self.low)
        _check_below_nyquist(rec, "FIRBandpass.high", self.high)

        def reach() -> int:  # half the FIR length, for widening gaps
            h = mne.filter.create_filter(None, rec.sfreq, self.low, self.high, verbose="error")
            return len(h) // 2

        def run(x):
            return mne.filter.filter_data(x, rec.sfreq, self.low, self.high, verbose="error")

        data = _mne_call(
            rec, "FIRBandpass", lambda: _filter_around_gaps(rec.data.astype(np.float64), run, reach)
        )
        return rec.copy(data=np.asarray(data, dtype=np.float32))


@dataclass
class FIRNotch(Step):
    """FIR notch (band-stop) at ``freq`` as MNE's ``raw.notch_filter(freq)`` (1-Hz transition
    bands, automatic length)."""

    freq: float = 50.0

    def __post_init__(self):
        number("FIRNotch.freq", self.freq, gt=0)

    def __call__(self, rec):
        import mne

        _check_below_nyquist(rec, "FIRNotch.freq", self.freq)

        def run(x):
            return mne.filter.notch_filter(x, rec.sfreq, self.freq, verbose="error")

        reach = int(np.ceil(3.3 * rec.sfreq))  # half MNE's 'auto' length (6.6 s for 0.5-Hz edges)
        data = _mne_call(
            rec, "FIRNotch", lambda: _filter_around_gaps(rec.data.astype(np.float64), run, reach)
        )
        return rec.copy(data=np.asarray(data, dtype=np.float32))


@dataclass
class FFTResample(Step):
    """FFT resampling to ``sfreq`` (``mne.filter.resample`` with ``npad`` samples of padding).

    ``npad=100`` is deliberate: ``raw.resample``'s default ``npad="auto"`` shifts a 250 -> 200 Hz
    signal by about half a sample in MNE 1.13. Annotations keep their times in seconds.
    """

    sfreq: float = 200.0
    npad: int = 100

    def __post_init__(self):
        number("FFTResample.sfreq", self.sfreq, gt=0)
        if self.npad != "auto":
            number("FFTResample.npad", self.npad, ge=0, integer=True)

    def __call__(self, rec):
        import mne

        if abs(rec.sfreq - self.sfreq) < 1e-9:
            return rec
        bad = ~np.isfinite(rec.data)

        def run(x):
            return mne.filter.resample(
                x, up=self.sfreq, down=rec.sfreq, npad=self.npad, verbose="error"
            )

        data = _mne_call(
            rec, "FFTResample", lambda: _filter_around_gaps(rec.data.astype(np.float64), run, None)
        )
        ratio = _ratio(self.sfreq, rec.sfreq, "FFTResample.sfreq")
        data = _carry_gaps(np.asarray(data, dtype=np.float32), bad, *ratio)
        return rec.copy(data=data, sfreq=self.sfreq)


EDGE_MODES = ("tile", "pad")


@dataclass
class ExtendEdges(Step):
    """Extend a recording at both ends so that windows reaching past them stay whole.

    ``mode="tile"`` repeats the signal three times end to end (BIOT/LaBraM/EEGDM's TUEV recipe: a
    window starting before the recording wraps around to its end); ``mode="pad"`` adds
    ``ceil(pad * sfreq) + 1`` zero samples on each side. Annotations move with the signal;
    ``meta["edge_offset_s"]`` (the shift, accumulated) lets windowers report onsets on the
    original time axis, ``meta["n_times_original"]`` keeps the original length.
    """

    mode: str = "tile"
    pad: float = 2.5

    def __post_init__(self):
        if self.mode not in EDGE_MODES:
            raise ConfigError(f"ExtendEdges.mode must be one of {EDGE_MODES}, got {self.mode!r}")
        number("ExtendEdges.pad", self.pad, ge=0)

    def __call__(self, rec):
        n = rec.n_times
        if self.mode == "tile":
            data, shift = np.concatenate([rec.data] * 3, axis=1), n
        else:
            shift = int(np.ceil(self.pad * rec.sfreq)) + 1
            data = np.pad(rec.data, ((0, 0), (shift, shift)))
        offset = shift / rec.sfreq
        ann = rec.annotations
        out = rec.copy(
            data=data,
            annotations=type(ann)(ann.onset + offset, ann.duration.copy(), ann.description.copy()),
        )
        out.meta["edge"] = self.mode
        out.meta["edge_offset_s"] = float(rec.meta.get("edge_offset_s", 0.0)) + offset
        out.meta.setdefault("n_times_original", n)
        return out
