"""The one in-memory record type every reader returns."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

#: Header fields that may identify a person; readers never copy them into ``Recording.meta``.
IDENTIFYING_KEYS = frozenset(
    {
        "patient",
        "patient_id",
        "subject_info",
        "name",
        "birthday",
        "birthdate",
        "his_id",
        "first_name",
        "last_name",
        "meas_date",
        "recording_date",
        "experimenter",
        "device_info",
        "record_name",
        "comments",
        "hospital",
        "address",
    }
)


@dataclass
class Annotations:
    """Events as parallel arrays: onset and duration in seconds from the recording start."""

    onset: np.ndarray
    duration: np.ndarray
    description: np.ndarray

    @classmethod
    def empty(cls) -> "Annotations":
        return cls(np.zeros(0), np.zeros(0), np.zeros(0, dtype=object))

    @classmethod
    def from_lists(cls, onset, duration, description) -> "Annotations":
        onset = np.asarray(onset, dtype=np.float64).reshape(-1)
        duration = np.asarray(duration, dtype=np.float64).reshape(-1)
        description = np.asarray([str(d) for d in description], dtype=object).reshape(-1)
        if not (len(onset) == len(duration) == len(description)):
            raise ValueError("onset, duration and description must have the same length")
        return cls(onset, duration, description)

    def __len__(self) -> int:
        return len(self.onset)

    def select(self, mask) -> "Annotations":
        return Annotations(self.onset[mask], self.duration[mask], self.description[mask])


def take_rows(array: np.ndarray, index: list[int]) -> np.ndarray:
    """``array[index]``: a view when ``index`` is a run of rows in order, else a copy."""
    if index and index == list(range(index[0], index[0] + len(index))):
        return array[index[0] : index[0] + len(index)]
    return array[index]


@dataclass
class Recording:
    """A continuous multichannel recording in physical units.

    Parameters
    ----------
    data : array (n_chans, n_times), float32; EEG in µV, ECG in mV (``units`` says which).
    sfreq : sampling rate in Hz.
    ch_names : channel (or lead) names.
    ch_types : ``"eeg"``, ``"eog"``, ``"ecg"``, ``"emg"``, ``"misc"``... one per channel.
    units : physical unit per channel (``"uV"``, ``"mV"``...).
    annotations : events (onset/duration in s, description).
    meta : non-identifying metadata only (format, source file name, labels, age/sex where a
        dataset publishes them as labels). Never names, dates of birth or recording dates.
        ``meta["start_in_file_s"]``: where in its file a recording that a loader cut begins
        (s); the window cache adds it to its windows' onsets.
    digital : the file's integer samples, not yet decoded (:class:`biosig.io._records.FileSamples`:
        ``shape``, ``pick(index)``, ``decode()``); with ``data=None`` the recording decodes
        them on first use of ``data``. ``digital`` is set only while ``data`` is undecoded, so
        it always equals the recording's values (a readers' detail: EDF files give it).
    """

    data: np.ndarray
    sfreq: float
    ch_names: list[str]
    ch_types: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)
    annotations: Annotations = field(default_factory=Annotations.empty)
    meta: dict[str, Any] = field(default_factory=dict)
    digital: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if self.data is None:
            if self.digital is None:
                raise ValueError("Recording needs data (or digital samples to decode)")
            del self.data  # decoded on first use (__getattr__)
        else:
            self.digital = None
            self.data = np.asarray(self.data, dtype=np.float32)
            if self.data.ndim != 2:
                raise ValueError(
                    f"Recording data must be 2-D (channels x times), got {self.data.shape}"
                )
        self.sfreq = float(self.sfreq)
        if not self.sfreq > 0:
            raise ValueError(f"sampling rate must be positive, got {self.sfreq}")
        self.ch_names = [str(c) for c in self.ch_names]
        n = self.shape[0]
        if len(self.ch_names) != n:
            raise ValueError(f"{len(self.ch_names)} channel names for {n} channels")
        if not self.ch_types:
            self.ch_types = ["misc"] * n
        if not self.units:
            self.units = [""] * n
        if len(self.ch_types) != n or len(self.units) != n:
            raise ValueError("ch_types and units need one entry per channel")
        leaked = IDENTIFYING_KEYS.intersection(k.lower() for k in self.meta)
        if leaked:
            raise ValueError(f"Recording.meta must not hold identifying fields: {sorted(leaked)}")

    def __getattr__(self, name):  # only for attributes not set: ``data`` still undecoded
        digital = self.__dict__.get("digital")
        if name != "data" or digital is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        self.data = data = digital.decode()
        return data

    def __setattr__(self, name, value):
        super().__setattr__(name, value)
        if name == "data" and value is not None:  # decoded or replaced data may be changed in
            super().__setattr__("digital", None)  # place: no longer the file's samples

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_chans, n_times)``, without decoding."""
        return self.digital.shape if "data" not in self.__dict__ else self.data.shape

    @property
    def n_chans(self) -> int:
        return self.shape[0]

    @property
    def n_times(self) -> int:
        return self.shape[1]

    @property
    def duration(self) -> float:
        return self.n_times / self.sfreq

    def copy(self, **changes) -> "Recording":
        """A copy with some fields replaced (data is copied unless replaced; undecoded samples
        are shared, read-only, and stay undecoded)."""
        if "data" not in changes:
            changes["data"] = self.data.copy() if "data" in self.__dict__ else None
        changes.setdefault("digital", self.digital if changes["data"] is None else None)
        changes.setdefault("meta", dict(self.meta))
        return replace(self, **changes)

    def renamed(self, ch_names, ch_types=None) -> "Recording":
        """The same recording (data shared, not copied) with new channel names (and types)."""
        types = list(self.ch_types if ch_types is None else ch_types)
        return self._with(None, ch_names=list(ch_names), ch_types=types)

    def _with(self, index, **changes) -> "Recording":
        """Channels ``index`` (None: all) of the data, a view for a run of channels, or of the
        undecoded samples; other fields replaced by ``changes``."""
        if "data" not in self.__dict__:
            digital = self.digital if index is None else self.digital.pick(index)
            return replace(self, data=None, digital=digital, **changes)
        data = self.data if index is None else take_rows(self.data, index)
        return replace(self, data=data, digital=None, **changes)

    def pick(self, names) -> "Recording":
        """Keep (and reorder to) the given channels; unknown names raise ``ChannelError``, and
        so do a name given twice (it would duplicate a channel) and a name that several channels
        of the recording share (ambiguous: rename them first). Channels that are a run of the
        recording's, in order, share its data (a view)."""
        from biosig.errors import ChannelError

        index: dict[str, list[int]] = {}
        for i, n in enumerate(self.ch_names):
            index.setdefault(n, []).append(i)
        names = list(names)
        if len(set(names)) < len(names):
            repeated = [n for n, k in Counter(names).items() if k > 1]
            raise ChannelError(
                f"channels {repeated} requested more than once from recording "
                f"{self.meta.get('source', '')!s} (a pick names each channel once)"
            )
        missing = [n for n in names if n not in index]
        if missing:
            raise ChannelError(
                f"channels {missing} not in recording {self.meta.get('source', '')!s} "
                f"(has {self.ch_names})"
            )
        shared = [n for n in dict.fromkeys(names) if len(index[n]) > 1]
        if shared:
            raise ChannelError(
                f"channel names {shared} are ambiguous in recording "
                f"{self.meta.get('source', '')!s}: several of its channels have each of them "
                f"(has {self.ch_names}); give the channels unique names first"
            )
        idx = [index[n][0] for n in names]
        return self._with(
            idx,
            ch_names=list(names),
            ch_types=[self.ch_types[i] for i in idx],
            units=[self.units[i] for i in idx],
        )
