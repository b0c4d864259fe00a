"""Splits and evaluation protocols as data: each maps a window metadata table to index arrays.

Every protocol returns ``{"train": idx, "val": idx, "test": idx}`` (sorted int arrays over the
rows of the metadata table). Group-wise protocols never put one group (subject, record, ...) in
two parts. Validation comes out of the training part, never out of the test part.

==========================  =============================================================
``Predefined``              rows selected by column values (BCI IV 2a session T -> E,
                            PTB-XL ``fold`` 1-8 / 9 / 10, TUEV train / eval)
``GroupKFold``              k-fold over groups (by subject, session or record)
``LeaveOneSubjectOut``      one subject is the test set
``KFold``                   k-fold over rows (``shuffle=False`` keeps chronology)
``RandomSplit``             random fractions, optionally by group
==========================  =============================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from biosig.errors import ConfigError


class SplitProtocol:
    """Base of protocols: ``split(meta) -> {"train", "val", "test"}`` index arrays."""


def _take_val(train: np.ndarray, meta: pd.DataFrame, fraction: float, by: str | None, seed: int):
    """Split ``fraction`` of ``train`` off as validation (by group if ``by``)."""
    if fraction <= 0 or len(train) == 0:
        return np.sort(train), np.zeros(0, dtype=int)
    rng = np.random.default_rng(seed)
    if by is None:
        perm = rng.permutation(train)
        n_val = max(1, int(round(fraction * len(train))))
        return np.sort(perm[n_val:]), np.sort(perm[:n_val])
    groups = np.unique(meta[by].to_numpy()[train])
    if len(groups) < 2:
        raise ConfigError(f"validation split by {by!r} needs at least 2 groups in the training part")
    perm = rng.permutation(groups)
    n_val = min(len(groups) - 1, max(1, int(round(fraction * len(groups)))))
    val_groups = set(perm[:n_val].tolist())
    is_val = np.isin(meta[by].to_numpy()[train], list(val_groups))
    return np.sort(train[~is_val]), np.sort(train[is_val])


def _select(meta: pd.DataFrame, where: dict) -> np.ndarray:
    mask = np.ones(len(meta), dtype=bool)
    for col, values in where.items():
        if col not in meta.columns:
            raise ConfigError(f"protocol selects on column {col!r}, which the metadata lacks "
                              f"(has {list(meta.columns)})")
        vals = values if isinstance(values, (list, tuple, set)) else [values]
        mask &= meta[col].astype(str).isin([str(v) for v in vals]).to_numpy()
    return np.flatnonzero(mask)


@dataclass
class Predefined(SplitProtocol):
    """Rows chosen by column values, e.g. ``train={"session": "T"}, test={"session": "E"}``.

    ``val`` may be given explicitly; otherwise ``val_fraction`` of train (by ``val_by`` groups,
    or by rows when ``val_by`` is None) is held out with ``seed``.
    """

    train: dict = field(default_factory=dict)
    test: dict = field(default_factory=dict)
    val: dict | None = None
    val_fraction: float = 0.0
    val_by: str | None = None
    seed: int = 0

    def split(self, meta: pd.DataFrame) -> dict[str, np.ndarray]:
        train = _select(meta, self.train)
        test = _select(meta, self.test) if self.test else np.zeros(0, dtype=int)
        for part, where, rows in (("train", self.train, train), ("test", self.test, test)):
            if where and len(rows) == 0:
                raise ConfigError(f"Predefined protocol: {part}={where} selects no window")
        if self.val is not None:
            val = _select(meta, self.val)
        else:
            train, val = _take_val(train, meta, self.val_fraction, self.val_by, self.seed)
        overlap = set(train) & set(test) | set(val) & set(test) | set(train) & set(val)
        if overlap:
            raise ConfigError(f"Predefined protocol puts {len(overlap)} windows in two parts")
        return {"train": train, "val": val, "test": test}


@dataclass
class GroupKFold(SplitProtocol):
    """k-fold over groups (``group`` = "subject", "session", "record"...); fold ``fold`` is test."""

    n_splits: int = 5
    fold: int = 0
    group: str = "subject"
    shuffle: bool = True
    val_fraction: float = 0.0
    seed: int = 0

    def split(self, meta):
        if not 0 <= self.fold < self.n_splits:
            raise ConfigError(f"fold must be in [0, {self.n_splits}), got {self.fold}")
        groups = np.unique(meta[self.group].to_numpy())
        if len(groups) < self.n_splits:
            raise ConfigError(f"{len(groups)} groups of {self.group!r} for {self.n_splits} folds")
        if self.shuffle:
            groups = np.random.default_rng(self.seed).permutation(groups)
        test_groups = np.array_split(groups, self.n_splits)[self.fold]
        is_test = np.isin(meta[self.group].to_numpy(), test_groups)
        train, val = _take_val(np.flatnonzero(~is_test), meta, self.val_fraction, self.group, self.seed)
        return {"train": train, "val": val, "test": np.flatnonzero(is_test)}


@dataclass
class LeaveOneSubjectOut(SplitProtocol):
    """Train on every other subject, test on ``subject``; validation by subject from train."""

    subject: int | str = 1
    val_fraction: float = 0.0
    seed: int = 0

    def split(self, meta):
        is_test = meta["subject"].astype(str).to_numpy() == str(self.subject)
        if not is_test.any():
            raise ConfigError(f"subject {self.subject!r} not in the data")
        train, val = _take_val(np.flatnonzero(~is_test), meta, self.val_fraction, "subject", self.seed)
        return {"train": train, "val": val, "test": np.flatnonzero(is_test)}


@dataclass
class KFold(SplitProtocol):
    """k-fold over rows; ``shuffle=False`` keeps blocks contiguous (chronological)."""

    n_splits: int = 5
    fold: int = 0
    shuffle: bool = False
    val_fraction: float = 0.0
    seed: int = 0

    def split(self, meta):
        if not 0 <= self.fold < self.n_splits:
            raise ConfigError(f"fold must be in [0, {self.n_splits}), got {self.fold}")
        idx = np.arange(len(meta))
        if self.shuffle:
            idx = np.random.default_rng(self.seed).permutation(idx)
        test = np.sort(np.array_split(idx, self.n_splits)[self.fold])
        train, val = _take_val(np.setdiff1d(idx, test), meta, self.val_fraction, None, self.seed)
        return {"train": train, "val": val, "test": test}


@dataclass
class RandomSplit(SplitProtocol):
    """Random train/val/test fractions, by group (``by``) or by rows (``by=None``)."""

    val_fraction: float = 0.1
    test_fraction: float = 0.2
    by: str | None = "record"
    seed: int = 0

    def split(self, meta):
        rng = np.random.default_rng(self.seed)
        if self.by is None:
            perm = rng.permutation(len(meta))
            n_test = int(round(self.test_fraction * len(meta)))
            test, rest = perm[:n_test], perm[n_test:]
        else:
            groups = rng.permutation(np.unique(meta[self.by].to_numpy()))
            n_test = max(1, int(round(self.test_fraction * len(groups)))) if self.test_fraction else 0
            is_test = np.isin(meta[self.by].to_numpy(), groups[:n_test])
            test, rest = np.flatnonzero(is_test), np.flatnonzero(~is_test)
        train, val = _take_val(rest, meta, self.val_fraction / max(1e-9, 1 - self.test_fraction),
                               self.by, self.seed + 1)
        return {"train": train, "val": val, "test": np.sort(test)}
