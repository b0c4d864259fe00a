"""Splits and evaluation protocols as data: each maps a window metadata table to its folds.

Every protocol lists its folds with ``folds(meta) -> list[Fold]``; a :class:`Fold` holds a
name, the test subject (``"all"`` when the test set is not one subject), a fold number and the
``train`` / ``val`` / ``test`` index arrays (sorted ints over the rows of the metadata table).
``split(meta)`` returns the first listed fold as ``{"train", "val", "test"}``; the
``subject`` / ``fold`` fields of a multi-fold protocol restrict what it lists (``None``: all),
so ``LeaveOneSubjectOut(subject=3).split(meta)`` is the fold that tests subject 3 and
``LeaveOneSubjectOut().folds(meta)`` is the whole protocol. Group-wise protocols never put one
group (subject, record, ...) in two parts. Validation comes out of the training part, never
out of the test part.

==========================  =============================================================
``Predefined``              rows selected by column values (BCI IV 2a session T -> E,
                            PTB-XL ``fold`` 1-8 / 9 / 10, TUEV train / eval); one fold
``GroupKFold``              k-fold over groups (by subject, session or record)
``LeaveOneSubjectOut``      one fold per subject: that subject is the test set
``KFold``                   k-fold over rows (``shuffle=False`` keeps chronology)
``RandomSplit``             random fractions, optionally by group; one fold
==========================  =============================================================

The within-subject protocols of the DBConformer paper (chronological 80/20, 5-fold CV, session
transfer) are in :mod:`biosig.data.paper_splits`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from biosig.errors import ConfigError

__all__ = [
    "Fold", "SplitProtocol", "Predefined", "GroupKFold", "LeaveOneSubjectOut", "KFold",
    "RandomSplit", "with_trial_index",
]

_EMPTY = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class Fold:
    """One train/val/test split of a protocol: row indices into the metadata table."""

    name: str
    subject: str  # the test subject, or "all"
    index: int  # fold number within the subject (0 for single-fold protocols)
    train: np.ndarray = field(repr=False)
    val: np.ndarray = field(repr=False)
    test: np.ndarray = field(repr=False)

    def parts(self) -> dict[str, np.ndarray]:
        return {"train": self.train, "val": self.val, "test": self.test}

    def __repr__(self) -> str:
        return (f"Fold({self.name!r}, n_train={len(self.train)}, n_val={len(self.val)}, "
                f"n_test={len(self.test)})")


def make_fold(subject, index: int, train, val, test, name: str | None = None) -> Fold:
    """A :class:`Fold` with int64 index arrays; checks that the parts are disjoint."""
    train, val, test = (np.asarray(p, dtype=np.int64) for p in (train, val, test))
    for a, pa, b, pb in (("train", train, "test", test), ("train", train, "val", val),
                         ("val", val, "test", test)):
        common = np.intersect1d(pa, pb)
        if len(common):
            raise ConfigError(f"fold {name or subject}: {len(common)} windows are in both {a} "
                              f"and {b}")
    subject = str(subject)
    if name is None:
        name = subject if index == 0 else f"{subject}/fold{index}"
    return Fold(name, subject, int(index), train, val, test)


class SplitProtocol:
    """Base of protocols: ``folds(meta) -> list[Fold]``; ``split(meta)`` = the first fold."""

    def folds(self, meta: pd.DataFrame) -> list[Fold]:
        raise NotImplementedError

    def split(self, meta: pd.DataFrame) -> dict[str, np.ndarray]:
        folds = self.folds(meta)
        if not folds:
            raise ConfigError(f"{self} lists no fold for this data")
        return folds[0].parts()


def _column(meta: pd.DataFrame, name: str, key: str) -> np.ndarray:
    """The metadata column a protocol groups by, or a ConfigError naming ``key``."""
    if name not in meta.columns:
        raise ConfigError(f"protocol {key}={name!r}: the metadata have no such column (they have "
                          f"{list(meta.columns)})")
    return meta[name].to_numpy()


def _check_fraction(key: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and 0 <= value < 1):
        raise ConfigError(f"protocol {key} must be in [0, 1), got {value!r}")


def _take_val(train: np.ndarray, meta: pd.DataFrame, fraction: float, by: str | None, seed: int):
    """Split ``fraction`` of ``train`` off as validation (by group if ``by``)."""
    _check_fraction("val_fraction", fraction)
    if fraction <= 0 or len(train) == 0:
        return np.sort(train), _EMPTY
    rng = np.random.default_rng(seed)
    if by is None:
        perm = rng.permutation(train)
        n_val = max(1, int(round(fraction * len(train))))
        return np.sort(perm[n_val:]), np.sort(perm[:n_val])
    groups = np.unique(_column(meta, by, "by")[train])
    if len(groups) < 2:
        raise ConfigError(f"validation split by {by!r} needs at least 2 groups in the training "
                          f"part, which has {len(groups)} ({by} {groups[:3].tolist()}): give more "
                          f"{by}s, val_fraction=0, or a protocol that splits by another column")
    perm = rng.permutation(groups)
    n_val = min(len(groups) - 1, max(1, int(round(fraction * len(groups)))))
    if n_val / len(groups) > 2 * fraction:  # whole groups: one of few is a large share
        import warnings

        warnings.warn(f"val_fraction={fraction:g} by {by!r}: {n_val} of the training part's "
                      f"{len(groups)} {by}s validate ({n_val / len(groups):.0%} of them, not "
                      f"{fraction:.0%}): validation takes whole {by}s; give more {by}s, or "
                      f"val_fraction=0", UserWarning, stacklevel=3)
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


def _check_fold_index(fold: int | None, n_splits: int) -> None:
    if fold is not None and not 0 <= fold < n_splits:
        raise ConfigError(f"fold must be in [0, {n_splits}) or None (all folds), got {fold}")


def _kfold_parts(items: np.ndarray, n_splits: int, fold: int | None, shuffle: bool,
                 seed: int) -> list[tuple[int, np.ndarray]]:
    """``(k, part)`` for the ``n_splits`` contiguous parts of ``items`` (permuted with ``seed``
    first when ``shuffle``): every part, or part ``fold`` only."""
    if shuffle:
        items = np.random.default_rng(seed).permutation(items)
    parts = np.array_split(items, n_splits)
    return [(k, part) for k, part in enumerate(parts) if fold is None or k == fold]


def subjects_of(meta: pd.DataFrame) -> list[str]:
    """The subjects of a metadata table as strings, sorted numerically where they are numbers."""
    if "subject" not in meta.columns:
        raise ConfigError(f"the metadata has no 'subject' column (has {list(meta.columns)})")
    subs = pd.unique(meta["subject"].astype(str))
    return sorted(subs, key=lambda s: (0, int(s), s) if s.lstrip("-").isdigit() else (1, 0, s))


def select_subjects(meta: pd.DataFrame, subject) -> list[str]:
    """``subject`` (None = every subject, a value or a list) as subject strings of ``meta``."""
    every = subjects_of(meta)
    if subject is None:
        return every
    wanted = [str(s) for s in (subject if isinstance(subject, (list, tuple)) else [subject])]
    missing = [s for s in wanted if s not in every]
    if missing:
        raise ConfigError(f"subject {', '.join(missing)} not in the data (has {every})")
    return wanted


@dataclass
class Predefined(SplitProtocol):
    """Rows chosen by column values, e.g. ``train={"session": "T"}, test={"session": "E"}``.

    ``val`` may be given explicitly; otherwise ``val_fraction`` of train (by ``val_by`` groups,
    or by rows when ``val_by`` is None) is held out with ``seed``. ``disjoint_by`` (e.g.
    ``"subject"``) raises when a group of the test part is also in train or val (cross-subject
    holdouts).
    """

    train: dict = field(default_factory=dict)
    test: dict = field(default_factory=dict)
    val: dict | None = None
    val_fraction: float = 0.0
    val_by: str | None = None
    seed: int = 0
    disjoint_by: str | None = None

    def folds(self, meta: pd.DataFrame) -> list[Fold]:
        train = _select(meta, self.train)
        test = _select(meta, self.test) if self.test else _EMPTY
        if self.val is not None:
            val = _select(meta, self.val)
        else:
            train, val = _take_val(train, meta, self.val_fraction, self.val_by, self.seed)
        parts = {"train": train, "val": val, "test": test}
        for part, where in (("train", self.train), ("val", self.val), ("test", self.test)):
            if where and len(parts[part]) == 0:
                held = {c: sorted(map(str, meta[c].unique()))[:10] for c in where if c in meta}
                raise ConfigError(f"Predefined protocol: {part}={where} selects no window (the "
                                  f"data hold {held})")
        if self.disjoint_by is not None:
            groups = meta[self.disjoint_by].astype(str).to_numpy()
            for a, b in (("train", "test"), ("val", "test")):
                both = sorted(set(groups[parts[a]]) & set(groups[parts[b]]))
                if both:
                    raise ConfigError(f"Predefined protocol: {self.disjoint_by} {both[:5]} in "
                                      f"both {a} and {b}")
        return [make_fold("all", 0, train, val, test)]


@dataclass
class GroupKFold(SplitProtocol):
    """k-fold over groups (``group`` = "subject", "session", "record"...); ``fold`` selects one
    (None: every fold is listed)."""

    n_splits: int = 5
    fold: int | None = 0
    group: str = "subject"
    shuffle: bool = True
    val_fraction: float = 0.0
    seed: int = 0

    def folds(self, meta):
        _check_fold_index(self.fold, self.n_splits)
        groups = np.unique(_column(meta, self.group, "group"))
        if len(groups) < self.n_splits:
            raise ConfigError(
                f"GroupKFold n_splits={self.n_splits} but the data hold {len(groups)} groups of "
                f"{self.group!r} ({', '.join(map(str, groups[:10]))}): use at most "
                f"{len(groups)} folds{self._run_hint(meta)}")
        out = []
        for k, test_groups in _kfold_parts(groups, self.n_splits, self.fold, self.shuffle,
                                           self.seed):
            is_test = np.isin(meta[self.group].to_numpy(), test_groups)
            train, val = _take_val(np.flatnonzero(~is_test), meta, self.val_fraction, self.group,
                                   self.seed)
            out.append(make_fold("all", k, train, val, np.flatnonzero(is_test), name=f"fold{k}"))
        return out

    def _run_hint(self, meta: pd.DataFrame) -> str:
        """The advice to split by run, only where every run holds several classes (eegmmidb);
        EEGMAT's runs are its classes (rest, task): a split by run would test on one class."""
        if self.group == "run" or "run" not in meta or "label" not in meta:
            return ""
        if meta.groupby("run")["label"].nunique().min() < 2:
            return ""
        return (f", or split within the {self.group}s by another column (e.g. "
                "GroupKFold(group='run') or Predefined(train={'run': [...]}, test={'run': "
                "[...]}); the 'eegmmidb_runs' preset does so)")


@dataclass
class LeaveOneSubjectOut(SplitProtocol):
    """One fold per subject (``subject`` None = every subject): train on every other subject,
    test on that one; ``val_fraction`` of the training subjects validate (0: none, the
    DBConformer LOSO protocol)."""

    subject: int | str | list | None = None
    val_fraction: float = 0.0
    seed: int = 0

    def folds(self, meta):
        every = subjects_of(meta)
        chosen = select_subjects(meta, self.subject)
        if len(every) < 2:
            raise ConfigError("leave-one-subject-out needs at least 2 subjects")
        subj = meta["subject"].astype(str).to_numpy()
        out = []
        for s in chosen:
            is_test = subj == s
            train, val = _take_val(np.flatnonzero(~is_test), meta, self.val_fraction, "subject",
                                   self.seed)
            out.append(make_fold(s, 0, train, val, np.flatnonzero(is_test)))
        return out


@dataclass
class KFold(SplitProtocol):
    """k-fold over rows; ``shuffle=False`` keeps blocks contiguous (chronological); ``fold``
    selects one (None: every fold is listed)."""

    n_splits: int = 5
    fold: int | None = 0
    shuffle: bool = False
    val_fraction: float = 0.0
    seed: int = 0

    def folds(self, meta):
        _check_fold_index(self.fold, self.n_splits)
        idx = np.arange(len(meta))
        out = []
        for k, test in _kfold_parts(idx, self.n_splits, self.fold, self.shuffle, self.seed):
            train, val = _take_val(np.setdiff1d(idx, test), meta, self.val_fraction, None,
                                   self.seed)
            out.append(make_fold("all", k, train, val, np.sort(test), name=f"fold{k}"))
        return out


@dataclass
class RandomSplit(SplitProtocol):
    """Random train/val/test fractions, by group (``by``) or by rows (``by=None``)."""

    val_fraction: float = 0.1
    test_fraction: float = 0.2
    by: str | None = "record"
    seed: int = 0

    def __post_init__(self):
        _check_fraction("val_fraction", self.val_fraction)
        _check_fraction("test_fraction", self.test_fraction)
        if self.val_fraction + self.test_fraction >= 1:
            raise ConfigError(f"protocol val_fraction + test_fraction must be below 1 (some data "
                              f"must train), got {self.val_fraction} + {self.test_fraction}")

    def folds(self, meta):
        rng = np.random.default_rng(self.seed)
        if self.by is not None:
            _column(meta, self.by, "by")
        if self.by is None:
            perm = rng.permutation(len(meta))
            n_test = int(round(self.test_fraction * len(meta)))
            test, rest = perm[:n_test], perm[n_test:]
        else:
            groups = rng.permutation(np.unique(meta[self.by].to_numpy()))
            n_test = (max(1, int(round(self.test_fraction * len(groups))))
                      if self.test_fraction else 0)
            is_test = np.isin(meta[self.by].to_numpy(), groups[:n_test])
            test, rest = np.flatnonzero(is_test), np.flatnonzero(~is_test)
        train, val = _take_val(rest, meta, self.val_fraction / max(1e-9, 1 - self.test_fraction),
                               self.by, self.seed + 1)
        return [make_fold("all", 0, train, val, np.sort(test))]


def with_trial_index(meta: pd.DataFrame) -> pd.DataFrame:
    """Copy of a window table with ``trial`` = chronological index of the window within its subject.

    Rows are taken to be in recording order (a window cache lists records in the dataset's
    order and windows by onset); an existing ``trial`` column (e.g. per-session trial numbers)
    is kept as ``trial_in_session``.
    """
    if "subject" not in meta.columns:
        raise ConfigError(f"window metadata lacks 'subject' (has {list(meta.columns)})")
    out = meta.reset_index(drop=True).copy()
    if "trial" in out.columns:
        out = out.rename(columns={"trial": "trial_in_session"})
    out["trial"] = out.groupby(out["subject"].astype(str), sort=False).cumcount()
    return out
