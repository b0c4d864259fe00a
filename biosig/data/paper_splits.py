"""Evaluation splits of the DBConformer paper, as pure functions of a metadata table.

Every function takes a pandas DataFrame with one row per trial and the columns ``subject``,
``session``, ``label`` and ``trial`` (the chronological index of the trial within its subject,
increasing across sessions), and returns a list of :class:`Split` whose ``train`` / ``test``
are **positional** indices (``iloc``) into that table, each sorted chronologically
(subject, then ``trial``), so online alignment can run over ``test`` in order.

Protocols (Wang et al., 2026, official scripts ``DBConformer_{CO,CV,LOSO}.py``):

- ``"co"`` -- :func:`chronological_split`: within subject, per class, the first
  ``ceil(0.8 n_class)`` trials train, the rest test.
- ``"cv"`` -- :func:`kfold_splits`: within subject, 5-fold ``KFold(shuffle=False)`` over the
  trials in chronological order.
- ``"loso"`` -- :func:`loso_splits`: train on all other subjects, test on one.
- ``"competition"`` -- :func:`competition_splits`: BCI IV 2a train session (T) -> evaluation
  session (E), per subject.

:func:`align_split` applies Euclidean alignment to one split using only what the protocol
allows (see its docstring for where the official scripts differ).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from biosig.data.alignment import EuclideanAlignment, OnlineEuclideanAlignment
from biosig.data.protocols import SplitProtocol
from biosig.errors import ConfigError

__all__ = [
    "Split",
    "PROTOCOLS",
    "chronological_split",
    "kfold_splits",
    "loso_splits",
    "competition_splits",
    "holdout_split",
    "protocol_splits",
    "align_split",
    "check_disjoint",
    "with_trial_index",
    "PaperProtocol",
]

PROTOCOLS = ("co", "cv", "loso", "competition", "holdout")
REQUIRED_COLUMNS = ("subject", "session", "label", "trial")


@dataclass(frozen=True)
class Split:
    """One train/test split: positional indices into the metadata table."""

    protocol: str
    subject: object  # the test subject
    fold: int
    train: np.ndarray = field(repr=False)
    test: np.ndarray = field(repr=False)

    def __repr__(self) -> str:
        return (f"Split({self.protocol!r}, subject={self.subject!r}, fold={self.fold}, "
                f"n_train={len(self.train)}, n_test={len(self.test)})")


def _check_meta(meta: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(meta, pd.DataFrame):
        raise ConfigError(f"meta must be a pandas DataFrame, got {type(meta).__name__}")
    missing = [c for c in REQUIRED_COLUMNS if c not in meta.columns]
    if missing:
        raise ConfigError(f"meta lacks the columns {missing} (needs {list(REQUIRED_COLUMNS)})")
    if len(meta) == 0:
        raise ConfigError("meta is empty")
    dup = meta.duplicated(["subject", "trial"])
    if dup.any():
        raise ConfigError(
            f"meta has {int(dup.sum())} duplicated (subject, trial) pairs; 'trial' must be the "
            "chronological trial index within a subject"
        )
    return meta.reset_index(drop=True)


def _chrono(meta: pd.DataFrame, positions: np.ndarray) -> np.ndarray:
    """Sort positional indices by (subject, trial)."""
    positions = np.asarray(positions, dtype=np.int64)
    sub = meta["subject"].to_numpy()[positions]
    tri = meta["trial"].to_numpy()[positions]
    order = np.lexsort((tri, _codes(sub)))
    return positions[order]


def _codes(values: np.ndarray) -> np.ndarray:
    return pd.factorize(pd.Series(values), sort=True)[0]


def _subject_positions(meta: pd.DataFrame) -> dict:
    subjects = sorted(meta["subject"].unique(), key=lambda s: (str(type(s)), s))
    return {s: _chrono(meta, np.flatnonzero(meta["subject"].to_numpy() == s)) for s in subjects}


def chronological_split(meta: pd.DataFrame, train_fraction: float = 0.8) -> list[Split]:
    """Within-subject chronological split ("CO"), one :class:`Split` per subject.

    Per subject and per class, the first ``ceil(train_fraction * n_class)`` trials (in
    ``trial`` order) train and the rest test, as ``traintest_split_within_subject_Nsamples_samenum``
    of the official code (which writes ``ceil(n_trials / 2 * 0.8)`` for its balanced 2-class
    data).
    """
    meta = _check_meta(meta)
    if not 0.0 < train_fraction < 1.0:
        raise ConfigError(f"train_fraction must be in (0, 1), got {train_fraction}")
    labels = meta["label"].to_numpy()
    splits = []
    for subject, pos in _subject_positions(meta).items():
        train, test = [], []
        for lab in pd.unique(labels[pos]):
            cls = pos[labels[pos] == lab]  # already chronological
            n_train = math.ceil(len(cls) * train_fraction)
            train.append(cls[:n_train])
            test.append(cls[n_train:])
        tr = _chrono(meta, np.concatenate(train))
        te = _chrono(meta, np.concatenate(test))
        if len(te) == 0:
            raise ConfigError(f"subject {subject!r} has too few trials for a test set")
        splits.append(Split("co", subject, 0, tr, te))
    return splits


def _kfold(n: int, n_splits: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``sklearn.model_selection.KFold(n_splits, shuffle=False)`` on ``range(n)``."""
    if n < n_splits:
        raise ConfigError(f"cannot make {n_splits} folds from {n} trials")
    sizes = np.full(n_splits, n // n_splits, dtype=np.int64)
    sizes[: n % n_splits] += 1
    idx = np.arange(n)
    out, start = [], 0
    for size in sizes:
        test = idx[start:start + size]
        out.append((np.concatenate([idx[:start], idx[start + size:]]), test))
        start += size
    return out


def kfold_splits(meta: pd.DataFrame, n_splits: int = 5) -> list[Split]:
    """Within-subject ``KFold(n_splits, shuffle=False)`` over chronological trials ("CV")."""
    meta = _check_meta(meta)
    if n_splits < 2:
        raise ConfigError(f"n_splits must be >= 2, got {n_splits}")
    splits = []
    for subject, pos in _subject_positions(meta).items():
        for fold, (tr, te) in enumerate(_kfold(len(pos), n_splits)):
            splits.append(Split("cv", subject, fold, pos[tr], pos[te]))
    return splits


def loso_splits(meta: pd.DataFrame) -> list[Split]:
    """Leave-one-subject-out: train on every other subject, test on one ("LOSO")."""
    meta = _check_meta(meta)
    per_subject = _subject_positions(meta)
    if len(per_subject) < 2:
        raise ConfigError("LOSO needs at least 2 subjects")
    splits = []
    for subject, pos in per_subject.items():
        others = np.concatenate([p for s, p in per_subject.items() if s != subject])
        splits.append(Split("loso", subject, 0, _chrono(meta, others), pos))
    return splits


def competition_splits(
    meta: pd.DataFrame, train_session: object | None = None, test_session: object | None = None
) -> list[Split]:
    """BCI IV 2a competition split: session T trains, session E tests, per subject.

    Without explicit session names, each subject must have exactly two sessions and the one
    whose trials come first (smallest ``trial``) trains.
    """
    meta = _check_meta(meta)
    sessions = meta["session"].to_numpy()
    splits = []
    for subject, pos in _subject_positions(meta).items():
        sess = sessions[pos]
        if train_session is None or test_session is None:
            uniq = list(pd.unique(sess))  # in chronological order of first appearance
            if len(uniq) != 2:
                raise ConfigError(
                    f"subject {subject!r} has sessions {uniq}; the competition split needs "
                    "exactly 2 (or pass train_session and test_session)"
                )
            tr_s = uniq[0] if train_session is None else train_session
            te_s = uniq[1] if test_session is None else test_session
        else:
            tr_s, te_s = train_session, test_session
        tr, te = pos[sess == tr_s], pos[sess == te_s]
        if len(tr) == 0 or len(te) == 0:
            raise ConfigError(
                f"subject {subject!r}: no trials in session {tr_s!r} or {te_s!r} "
                f"(has {sorted(map(str, set(sess)))})"
            )
        splits.append(Split("competition", subject, 0, tr, te))
    return splits


def holdout_split(meta: pd.DataFrame, column: str = "split", train=("train", "val"),
                  test=("test",)) -> list[Split]:
    """One cross-subject split by a column's values (e.g. TUEV's official train/eval parts).

    Raises when a subject would appear on both sides.
    """
    meta = _check_meta(meta)
    if column not in meta.columns:
        raise ConfigError(f"meta lacks the column {column!r} for the holdout split")
    vals = meta[column].astype(str).to_numpy()
    tr = np.flatnonzero(np.isin(vals, [str(v) for v in train]))
    te = np.flatnonzero(np.isin(vals, [str(v) for v in test]))
    if len(tr) == 0 or len(te) == 0:
        raise ConfigError(f"holdout split by {column!r}: train {list(train)} or test {list(test)} "
                          f"selects nothing (values: {sorted(set(vals))})")
    subj = meta["subject"].astype(str).to_numpy()
    both = set(subj[tr]) & set(subj[te])
    if both:
        raise ConfigError(f"subjects {sorted(both)[:5]} are in both train and test")
    return [Split("holdout", "all", 0, _chrono(meta, tr), _chrono(meta, te))]


def protocol_splits(meta: pd.DataFrame, protocol: str, **kwargs) -> list[Split]:
    """Dispatch by name: ``"co"``, ``"cv"``, ``"loso"``, ``"competition"`` or ``"holdout"``."""
    key = protocol.lower()
    if key == "co":
        return chronological_split(meta, **kwargs)
    if key == "cv":
        return kfold_splits(meta, **kwargs)
    if key == "loso":
        return loso_splits(meta, **kwargs)
    if key == "competition":
        return competition_splits(meta, **kwargs)
    if key == "holdout":
        return holdout_split(meta, **kwargs)
    raise ConfigError(f"unknown protocol {protocol!r}; choose from {PROTOCOLS}")


def check_disjoint(split: Split, meta: pd.DataFrame | None = None) -> None:
    """Raise if train and test share a trial (or, for LOSO, a subject)."""
    common = np.intersect1d(split.train, split.test)
    if len(common):
        raise ConfigError(f"{split}: {len(common)} trials are in both train and test")
    if meta is not None and split.protocol == "loso":
        subj = meta["subject"].to_numpy()
        if np.isin(subj[split.test], subj[split.train]).any():
            raise ConfigError(f"{split}: the test subject also appears in training")


TestAlignment = Literal["online", "offline", "official", "none"]


def align_split(
    x,
    meta: pd.DataFrame,
    split: Split,
    test_alignment: TestAlignment = "online",
    train_alignment: Literal["per_subject", "none"] = "per_subject",
    estimator: Literal["cov", "scm"] = "cov",
    shrinkage: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean-align the train and test trials of one split, without test leakage.

    Parameters
    ----------
    x : array (n_trials, n_chans, n_times)
        All trials, rows matching ``meta`` (EEG in µV).
    test_alignment :
        ``"online"`` (default): each test subject's raw trials are aligned in chronological
        order with a running reference of the trials seen so far (no look-ahead; the official
        LOSO evaluation). ``"offline"``: one reference from all test trials of the subject
        (unsupervised but transductive: future test trials shape earlier ones; official CO/CV
        fit EA on the test set this way). ``"official"``: ``"offline"`` followed by ``"online"``
        on the already aligned trials -- the official CO/CV test loader's double alignment,
        kept only to reproduce it. ``"none"``: test trials unchanged.
    train_alignment :
        ``"per_subject"``: an offline reference per training subject fitted on that subject's
        training trials only (CO/CV/competition: the one subject; LOSO: every source subject).

    Returns
    -------
    x_train, x_test : float32 arrays in the order of ``split.train`` / ``split.test``.
    """
    meta = _check_meta(meta)
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[0] != len(meta):
        raise ConfigError(f"x must be (n_trials={len(meta)}, C, T), got {x.shape}")
    subj = meta["subject"].to_numpy()
    x_train = x[split.train].astype(np.float32)
    if train_alignment == "per_subject":
        for s in pd.unique(subj[split.train]):
            rows = np.flatnonzero(subj[split.train] == s)
            x_train[rows] = EuclideanAlignment(estimator, shrinkage).fit_transform(x_train[rows])
    elif train_alignment != "none":
        raise ConfigError(f"train_alignment must be 'per_subject' or 'none', got {train_alignment!r}")

    x_test = x[split.test].astype(np.float32)
    if test_alignment not in ("online", "offline", "official", "none"):
        raise ConfigError(
            f"test_alignment must be 'online', 'offline', 'official' or 'none', got {test_alignment!r}"
        )
    if test_alignment != "none":
        for s in pd.unique(subj[split.test]):
            rows = np.flatnonzero(subj[split.test] == s)  # chronological (Split contract)
            block = x_test[rows]
            if test_alignment in ("offline", "official"):
                block = EuclideanAlignment(estimator, shrinkage).fit_transform(block)
            if test_alignment in ("online", "official"):
                block = OnlineEuclideanAlignment(estimator, shrinkage).transform_sequence(block)
            x_test[rows] = block
    return x_train, x_test


def with_trial_index(meta: pd.DataFrame) -> pd.DataFrame:
    """Copy of a window table with ``trial`` = chronological index within subject.

    Rows are taken to be in recording order (a window cache lists records in the dataset's
    order and windows by onset); an existing ``trial`` column (e.g. per-session trial numbers)
    is kept as ``trial_in_session``.
    """
    for col in ("subject", "session", "label"):
        if col not in meta.columns:
            raise ConfigError(f"window metadata lacks {col!r} (has {list(meta.columns)})")
    out = meta.reset_index(drop=True).copy()
    if "trial" in out.columns:
        out = out.rename(columns={"trial": "trial_in_session"})
    out["trial"] = out.groupby("subject", sort=False).cumcount()
    return out


@dataclass
class PaperProtocol(SplitProtocol):
    """A DBConformer protocol as a :class:`~biosig.data.BiosigDataModule` protocol.

    ``split(meta)`` returns ``{"train", "val", "test"}`` positional indices for one split:
    ``protocol`` in ``"co"``, ``"cv"``, ``"loso"``, ``"competition"``; ``subject`` = the
    (test) subject; ``fold`` = the CV fold; ``train_session`` / ``test_session`` name the
    competition split's sessions (``None``: the first session in recording order trains). ``val`` is empty, as in the paper (no validation
    split; the DataModule then validates on the test part, which is what the official scripts
    log every epoch -- report only the last epoch).
    """

    protocol: str = "co"
    subject: int | str = 1
    fold: int = 0
    n_splits: int = 5
    train_fraction: float = 0.8
    train_session: str | None = "T"
    test_session: str | None = "E"

    def __post_init__(self):
        if self.protocol.lower() not in PROTOCOLS or self.protocol.lower() == "holdout":
            raise ConfigError(f"PaperProtocol.protocol must be one of co, cv, loso, competition, "
                              f"got {self.protocol!r} (holdout: use biosig.data.Predefined)")

    def splits(self, meta: pd.DataFrame) -> list[Split]:
        meta = with_trial_index(meta)
        kw = {}
        if self.protocol.lower() == "cv":
            kw["n_splits"] = self.n_splits
        elif self.protocol.lower() == "co":
            kw["train_fraction"] = self.train_fraction
        elif self.protocol.lower() == "competition":  # named sessions: never E -> T by file order
            kw.update(train_session=self.train_session, test_session=self.test_session)
        return protocol_splits(meta, self.protocol, **kw)

    def split(self, meta: pd.DataFrame) -> dict[str, np.ndarray]:
        chosen = [s for s in self.splits(meta)
                  if str(s.subject) == str(self.subject) and s.fold == self.fold]
        if not chosen:
            raise ConfigError(f"{self}: no split for subject {self.subject!r} fold {self.fold} "
                              f"(subjects: {sorted(meta['subject'].astype(str).unique())})")
        s = chosen[0]
        return {"train": s.train, "val": np.zeros(0, dtype=np.int64), "test": s.test}
