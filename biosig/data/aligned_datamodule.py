"""``AlignedDataModule``: :class:`~biosig.data.datamodule.BiosigDataModule` + Euclidean alignment.

The alignment references are fitted after the split, from what the protocol allows only:

- training windows: one offline reference per subject from that subject's **training** windows;
- validation windows: the reference of their subject's training windows when the subject is in
  the training part; otherwise (held-out validation subjects) online, like the test part;
- test windows: per subject, ``test_alignment="online"`` (default: running reference over the
  trials seen so far in recording order, no look-ahead), ``"offline"`` (one reference from all
  of the subject's test windows: unsupervised but transductive, as the official CO/CV scripts),
  ``"official"`` (offline then online: the official CO/CV test loader's double alignment) or
  ``"none"``.

Windows are whitened on the fly in the Dataset (``x <- W_row x``, one ``C x C`` matrix per
row), so the cache stays unaligned and shareable. Input EEG in µV; output whitened (unitless).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from biosig.data.alignment import EuclideanAlignment, online_whiteners
from biosig.data.datamodule import BiosigDataModule, WindowDataset
from biosig.errors import ConfigError

__all__ = ["AlignedDataModule", "AlignedWindowDataset", "split_whiteners"]

_TEST_MODES = ("online", "offline", "official", "none")


class AlignedWindowDataset(WindowDataset):
    """:class:`WindowDataset` that multiplies window ``i`` by its whitening matrix ``W[i]``."""

    def __init__(self, cache_path, indices, whiteners: np.ndarray, transform=None):
        super().__init__(cache_path, indices, transform=None)
        if len(whiteners) != len(self.indices):
            raise ConfigError("one whitening matrix per window is needed")
        self.whiteners = torch.from_numpy(np.ascontiguousarray(whiteners, dtype=np.float32))
        self.post_transform = transform

    def __getitems__(self, items):
        x, y = super().__getitems__(items)
        w = self.whiteners[torch.as_tensor(np.asarray(items, dtype=np.int64))]
        x = torch.bmm(w, x)
        if self.post_transform is not None:
            x = self.post_transform(x)
        return x, y


class AlignedDataModule(BiosigDataModule):
    """Windows split by a protocol, Euclidean-aligned without test leakage (see module doc).

    Parameters are those of :class:`~biosig.data.datamodule.BiosigDataModule` plus
    ``alignment`` (``"ea"``, or ``None`` = no alignment: the default, so the class can stand in
    for the plain DataModule), ``test_alignment`` (``"online"``, ``"offline"``, ``"official"``, ``"none"``),
    ``estimator`` (``"cov"`` or ``"scm"``) and ``shrinkage`` (see
    :class:`~biosig.data.alignment.EuclideanAlignment`).
    """

    def __init__(
        self,
        source: Any,
        preprocessing: list | None = None,
        windows: Any = None,
        protocol: Any = None,
        subjects: list | None = None,
        nan_policy: str = "reject",
        cache_dir: str | None = None,
        batch_size: int = 32,
        num_workers: int = 0,
        pin_memory: bool = False,
        seed: int = 0,
        alignment: str | None = None,
        test_alignment: str = "online",
        estimator: str = "cov",
        shrinkage: float = 0.0,
    ):
        super().__init__(source, preprocessing, windows, protocol, subjects, nan_policy, cache_dir,
                         batch_size, num_workers, pin_memory, seed)
        if alignment not in ("ea", None):
            raise ConfigError(f"alignment must be 'ea' or None, got {alignment!r}")
        if test_alignment not in _TEST_MODES:
            raise ConfigError(f"test_alignment must be one of {_TEST_MODES}, got {test_alignment!r}")
        self.alignment = alignment
        self.test_alignment = test_alignment
        self.estimator = estimator
        self.shrinkage = shrinkage
        self.whiteners: dict[str, np.ndarray] | None = None

    def setup(self, stage: str | None = None) -> None:
        super().setup(stage)
        if self.whiteners is None and self.alignment is not None:
            self.whiteners = self._fit_whiteners()

    def _fit_whiteners(self) -> dict[str, np.ndarray]:
        return split_whiteners(self.cache.X, self.meta["subject"].to_numpy(), self.splits,
                               self.test_alignment, self.estimator, self.shrinkage)

    def dataset(self, part: str) -> WindowDataset:
        self.setup()
        if self.alignment is None:
            return WindowDataset(self.cache.path, self.splits[part])
        return AlignedWindowDataset(self.cache.path, self.splits[part], self.whiteners[part])


def _heldout_whiteners(X, subjects: np.ndarray, rows: np.ndarray, mode: str, estimator: str,
                       shrinkage: float) -> np.ndarray:
    """Whitening matrices for rows of held-out (test) subjects; rows in any order."""
    c = X.shape[1]
    out = np.empty((len(rows), c, c), dtype=np.float32)
    for s in np.unique(subjects[rows]):
        pos = np.flatnonzero(subjects[rows] == s)
        pos = pos[np.argsort(rows[pos], kind="stable")]  # cache order = recording order
        x = np.asarray(X[rows[pos]], dtype=np.float64)
        if mode == "none":
            w = np.broadcast_to(np.eye(c, dtype=np.float32), (len(pos), c, c))
        elif mode == "offline":
            w0 = EuclideanAlignment(estimator, shrinkage).fit(x).whitener_
            w = np.broadcast_to(w0, (len(pos), c, c))
        elif mode == "online":
            w = online_whiteners(x, estimator, shrinkage)
        else:  # official: offline, then online on the already aligned trials
            w0 = EuclideanAlignment(estimator, shrinkage).fit(x).whitener_
            w = online_whiteners(np.einsum("cd,ndt->nct", w0, x), estimator, shrinkage) @ w0
        out[pos] = w
    return out


def split_whiteners(X, subjects, splits: dict, test_alignment: str = "online",
                    estimator: str = "cov", shrinkage: float = 0.0) -> dict[str, np.ndarray]:
    """One whitening matrix per window of each part of a split (see the module docstring).

    ``X``: all windows (N, C, T) (a memmap is fine); ``subjects``: (N,) subject of each window;
    ``splits``: ``{"train", "val", "test"}`` row indices. Returns float32 ``(n_part, C, C)``
    arrays in the order of each part's indices. Nothing outside ``train`` shapes the training
    references; a test window's matrix depends only on its subject's earlier test windows
    (``"online"``).
    """
    if test_alignment not in _TEST_MODES:
        raise ConfigError(f"test_alignment must be one of {_TEST_MODES}, got {test_alignment!r}")
    subjects = np.asarray(subjects).astype(str)
    c = X.shape[1]
    train = np.asarray(splits["train"], dtype=np.int64)
    per_subject = {}
    for s in np.unique(subjects[train]):
        rows = np.sort(train[subjects[train] == s])
        ea = EuclideanAlignment(estimator, shrinkage).fit(np.asarray(X[rows]))
        per_subject[s] = ea.whitener_.astype(np.float32)
    out = {"train": np.stack([per_subject[s] for s in subjects[train]]) if len(train)
           else np.zeros((0, c, c), np.float32)}
    val = np.asarray(splits.get("val", []), dtype=np.int64)
    w_val = np.empty((len(val), c, c), dtype=np.float32)
    known = np.isin(subjects[val], list(per_subject))
    for i in np.flatnonzero(known):
        w_val[i] = per_subject[subjects[val][i]]
    if (~known).any():
        w_val[~known] = _heldout_whiteners(X, subjects, val[~known], "online", estimator, shrinkage)
    out["val"] = w_val
    test = np.asarray(splits["test"], dtype=np.int64)
    out["test"] = _heldout_whiteners(X, subjects, test, test_alignment, estimator, shrinkage)
    return out
