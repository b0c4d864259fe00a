"""The dataset interface the window cache and DataModule consume."""

from __future__ import annotations

from abc import ABC, abstractmethod

from biosig.signal.recording import Recording


class DatasetSource(ABC):
    """Base of every dataset: an index of records and a way to load each as a Recording.

    Subclasses set ``name``, ``version``, ``classes`` and ``multilabel`` and implement:

    - ``identity()``: JSON-able description (name, version, options; no local paths) that
      goes into the window-cache key;
    - ``records()``: the index, without reading signals: one dict per record with ``record``,
      ``subject``, ``session`` and, for record-level labels, ``label`` or ``labels``;
    - ``load(ref)``: the raw Recording of one index entry with its labels (signals in µV for EEG,
      mV for ECG): channels picked and named, events named after their classes, but not filtered
      or resampled;
    - ``default_windows()``: the windower the dataset's standard protocol uses;
    - ``default_preprocessing()`` (optional, default none): the dataset's standard steps from
      :mod:`biosig.signal.preprocessing` (filters, resampling, montage) as its options set them.
      The window cache runs them before the caller's steps (:func:`biosig.data.cache.pipeline`);
    - ``record_files(ref)`` (optional, default None: unknown): the files one record is read
      from. A sharded cache then keys each shard on its own records' files only, so adding or
      editing a record rebuilds just its shard (:mod:`biosig.data.shards`);
    - ``column_origin(column)`` (optional, default ``""``): how the dataset's options make a
      metadata column (EEGMAT's ``fold`` from ``n_folds``), added to a protocol's error about it.
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

    def default_preprocessing(self) -> list:
        """The dataset's standard preprocessing steps (none unless a dataset defines some)."""
        return []

    def record_files(self, ref: dict) -> list | None:
        """The files (paths) record ``ref`` is read from; None when the dataset does not say."""
        return None

    def column_origin(self, column: str) -> str:
        """How this dataset's options make the metadata ``column`` (the option named, with its
        value), for a protocol's error about that column; ``""`` when no option does."""
        return ""
