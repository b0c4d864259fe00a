"""The dataset interface the window cache and DataModule consume."""

from __future__ import annotations

from abc import ABC, abstractmethod

from biosig.io.recording import Recording


class DatasetSource(ABC):
    """Base of every dataset: an index of records and a way to load each as a Recording.

    Subclasses set ``name``, ``version``, ``classes`` and ``multilabel`` and implement:

    - ``identity()``: JSON-able description (name, version, options; no local paths) that
      goes into the window-cache key;
    - ``records()``: the index, without reading signals: one dict per record with ``record``,
      ``subject``, ``session`` and, for record-level labels, ``label`` or ``labels``;
    - ``load(ref)``: the Recording of one index entry (signals in µV for EEG, mV for ECG);
    - ``default_windows()``: the windower the dataset's standard protocol uses.
    """

    name: str = "dataset"
    version: str = "1"
    classes: list[str] = []
    multilabel: bool = False

    @abstractmethod
    def identity(self) -> dict: ...

    @abstractmethod
    def records(self) -> list[dict]: ...

    @abstractmethod
    def load(self, ref: dict) -> Recording: ...

    @abstractmethod
    def default_windows(self): ...
