"""Evaluation protocols of the DBConformer paper as split protocols that list their folds.

Wang et al., "DBConformer: Dual-Branch Convolutional Transformer for EEG Decoding", IEEE JBHI
30(5), 2026; official scripts ``DBConformer_{CO,CV,LOSO}.py``. Every protocol here is a
:class:`~biosig.data.protocols.SplitProtocol`: ``folds(meta)`` lists one
:class:`~biosig.data.protocols.Fold` per subject (and CV fold), ``split(meta)`` is the first.

The within-subject protocols need the chronological order of the trials: the metadata must
carry ``trial``, the chronological index of each window within its subject (increasing across
sessions). :class:`~biosig.data.datamodule.BiosigDataModule` adds it from the cache order
(records in the dataset's order, windows by onset) with
:func:`~biosig.data.protocols.with_trial_index`; the same column orders the online Euclidean
alignment of the test trials (:func:`biosig.data.alignment.split_whiteners`).

=====================  ========================================================================
``"co"``               :class:`WithinSubjectChronological`: per subject and class, the first
                       ``ceil(0.8 n_class)`` trials train, the rest test
``"cv"``               :class:`WithinSubjectKFold`: per subject, ``KFold(5, shuffle=False)`` over
                       the trials in chronological order
``"loso"``             :class:`~biosig.data.protocols.LeaveOneSubjectOut` (no validation part)
``"competition"``      :class:`SessionTransfer`: BCI IV 2a session T trains, E tests, per subject
``"holdout"``          :class:`~biosig.data.protocols.Predefined` on the ``split`` column
                       (train + val train, test tests; no subject on both sides), e.g. TUEV
=====================  ========================================================================

None of them has a validation part (the paper has none): a DataModule then validates on the
test part, which is what the official scripts log per epoch; report only the last epoch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from biosig.data.protocols import (
    Fold, LeaveOneSubjectOut, Predefined, SplitProtocol, _take_val, make_fold, select_subjects,
)
from biosig.errors import ConfigError

__all__ = [
    "PROTOCOLS", "WithinSubjectChronological", "WithinSubjectKFold", "SessionTransfer",
    "PaperProtocol", "paper_protocol",
]

PROTOCOLS = ("co", "cv", "loso", "competition", "holdout")


def _check_meta(meta: pd.DataFrame, columns=("subject", "trial")) -> None:
    if not isinstance(meta, pd.DataFrame):
        raise ConfigError(f"meta must be a pandas DataFrame, got {type(meta).__name__}")
    missing = [c for c in columns if c not in meta.columns]
    if missing:
        raise ConfigError(f"window metadata lacks the columns {missing} (needs {list(columns)}; "
                          "'trial' = chronological index within subject, see with_trial_index)")
    dup = meta.assign(_s=meta["subject"].astype(str)).duplicated(["_s", "trial"])
    if dup.any():
        raise ConfigError(f"window metadata has {int(dup.sum())} duplicated (subject, trial) "
                          "pairs; 'trial' must be the chronological index within a subject")


def _chronological(meta: pd.DataFrame, subject: str) -> np.ndarray:
    """Rows of ``subject`` in chronological (``trial``) order."""
    rows = np.flatnonzero(meta["subject"].astype(str).to_numpy() == subject)
    return rows[np.argsort(meta["trial"].to_numpy()[rows], kind="stable")]


@dataclass
class WithinSubjectChronological(SplitProtocol):
    """Within-subject chronological split ("CO"): one fold per subject.

    Per subject and per class (``label`` column), the first ``ceil(train_fraction * n_class)``
    trials in ``trial`` order train and the rest test, as
    ``traintest_split_within_subject_Nsamples_samenum`` of the official code.
    """

    train_fraction: float = 0.8
    subject: int | str | list | None = None

    def folds(self, meta: pd.DataFrame) -> list[Fold]:
        _check_meta(meta, ("subject", "trial", "label"))
        if not 0.0 < self.train_fraction < 1.0:
            raise ConfigError(f"train_fraction must be in (0, 1), got {self.train_fraction}")
        labels = meta["label"].astype(str).to_numpy()
        out = []
        for s in select_subjects(meta, self.subject):
            pos = _chronological(meta, s)
            train, test = [], []
            for lab in pd.unique(labels[pos]):
                cls = pos[labels[pos] == lab]
                n_train = math.ceil(len(cls) * self.train_fraction)
                train.append(cls[:n_train])
                test.append(cls[n_train:])
            test = np.sort(np.concatenate(test))
            if len(test) == 0:
                raise ConfigError(f"subject {s} has too few trials for a test set")
            out.append(make_fold(s, 0, np.sort(np.concatenate(train)), [], test))
        return out


@dataclass
class WithinSubjectKFold(SplitProtocol):
    """Within-subject ``KFold(n_splits, shuffle=False)`` over chronological trials ("CV").

    ``subject`` / ``fold`` restrict the listed folds (None: all).
    """

    n_splits: int = 5
    subject: int | str | list | None = None
    fold: int | None = None

    def folds(self, meta: pd.DataFrame) -> list[Fold]:
        _check_meta(meta)
        if self.n_splits < 2:
            raise ConfigError(f"n_splits must be >= 2, got {self.n_splits}")
        if self.fold is not None and not 0 <= self.fold < self.n_splits:
            raise ConfigError(f"fold must be in [0, {self.n_splits}) or None, got {self.fold}")
        out = []
        for s in select_subjects(meta, self.subject):
            pos = _chronological(meta, s)
            if len(pos) < self.n_splits:
                raise ConfigError(f"subject {s}: cannot make {self.n_splits} folds from "
                                  f"{len(pos)} trials")
            # sklearn's KFold(shuffle=False): the first n % k folds get one extra trial
            sizes = np.full(self.n_splits, len(pos) // self.n_splits)
            sizes[: len(pos) % self.n_splits] += 1
            bounds = np.concatenate([[0], np.cumsum(sizes)])
            for k in range(self.n_splits):
                if self.fold is not None and k != self.fold:
                    continue
                test = pos[bounds[k]:bounds[k + 1]]
                train = np.concatenate([pos[:bounds[k]], pos[bounds[k + 1]:]])
                out.append(make_fold(s, k, np.sort(train), [], np.sort(test),
                                     name=f"{s}/fold{k}"))
        return out


@dataclass
class SessionTransfer(SplitProtocol):
    """Per subject, session ``train_session`` trains and ``test_session`` tests (BCI IV 2a's
    competition split T -> E).

    ``None`` sessions: the subject must have exactly two sessions, and the one whose trials come
    first (``trial`` order) trains. ``val_fraction`` of the training trials (by rows, ``seed``)
    validate, e.g. hvEEGNet's 90/10 split of session T with seed 42.
    """

    train_session: str | None = "T"
    test_session: str | None = "E"
    subject: int | str | list | None = None
    val_fraction: float = 0.0
    seed: int = 0

    def folds(self, meta: pd.DataFrame) -> list[Fold]:
        _check_meta(meta, ("subject", "trial", "session"))
        sessions = meta["session"].astype(str).to_numpy()
        out = []
        for s in select_subjects(meta, self.subject):
            pos = _chronological(meta, s)
            tr_s, te_s = self.train_session, self.test_session
            if tr_s is None or te_s is None:
                uniq = list(pd.unique(sessions[pos]))
                if len(uniq) != 2:
                    raise ConfigError(f"subject {s} has sessions {uniq}; session transfer needs "
                                      "exactly 2 (or name train_session and test_session)"
                                      f"{_one_session_hint(meta, uniq)}")
                tr_s = uniq[0] if tr_s is None else tr_s
                te_s = uniq[1] if te_s is None else te_s
            train = np.sort(pos[sessions[pos] == str(tr_s)])
            test = np.sort(pos[sessions[pos] == str(te_s)])
            if len(train) == 0 or len(test) == 0:
                has = sorted(set(sessions[pos]))
                raise ConfigError(f"subject {s}: no trials in session {tr_s!r} or {te_s!r} "
                                  f"(has {has}){_one_session_hint(meta, has)}")
            train, val = _take_val(train, meta, self.val_fraction, None, self.seed)
            out.append(make_fold(s, 0, train, val, test))
        return out


def _one_session_hint(meta: pd.DataFrame, sessions: list) -> str:
    """What to split by instead where a subject has one session (EEGMAT, eegmmidb)."""
    if len(sessions) != 1:
        return ""
    by = ("run (GroupKFold(group='run')) or by subject" if "run" in meta
          else "subject (LOSO, GroupKFold)")
    return f"; this data has one session per subject: split it by {by} instead"


def paper_protocol(name: str, **kwargs) -> SplitProtocol:
    """A protocol by its paper name: ``"co"``, ``"cv"``, ``"loso"``, ``"competition"``,
    ``"holdout"``; ``kwargs`` go to its class (e.g. ``subject=3``, ``n_splits=5``)."""
    key = str(name).lower()
    if key == "co":
        return WithinSubjectChronological(**kwargs)
    if key == "cv":
        return WithinSubjectKFold(**kwargs)
    if key == "loso":
        return LeaveOneSubjectOut(**kwargs)
    if key == "competition":
        return SessionTransfer(**kwargs)
    if key == "holdout":
        kw = {"train": {"split": ["train", "val"]}, "test": {"split": ["test"]},
              "disjoint_by": "subject", **kwargs}
        return Predefined(**kw)
    raise ConfigError(f"unknown protocol {name!r}; choose from {PROTOCOLS}")


@dataclass
class PaperProtocol(SplitProtocol):
    """A paper protocol by name, for configs: ``PaperProtocol("cv", subject=2, fold=4)``.

    ``subject`` / ``fold`` restrict the listed folds (None: all, the whole protocol);
    ``n_splits`` (CV), ``train_fraction`` (CO), ``train_session`` / ``test_session``
    (competition) go to the protocol that has them.
    """

    protocol: str = "co"
    subject: int | str | list | None = None
    fold: int | None = None
    n_splits: int = 5
    train_fraction: float = 0.8
    train_session: str | None = "T"
    test_session: str | None = "E"

    def __post_init__(self):
        if str(self.protocol).lower() not in PROTOCOLS:
            raise ConfigError(f"PaperProtocol.protocol must be one of {PROTOCOLS}, "
                              f"got {self.protocol!r}")

    def build(self) -> SplitProtocol:
        key = self.protocol.lower()
        kw = {"co": {"train_fraction": self.train_fraction},
              "cv": {"n_splits": self.n_splits, "fold": self.fold},
              "competition": {"train_session": self.train_session,
                              "test_session": self.test_session}}.get(key, {})
        if key != "holdout":
            kw["subject"] = self.subject
        elif self.subject is not None:
            raise ConfigError("the holdout protocol has one fold: leave subject unset")
        return paper_protocol(key, **kw)

    def folds(self, meta: pd.DataFrame) -> list[Fold]:
        if self.fold not in (None, 0) and self.protocol.lower() != "cv":
            raise ConfigError(f"protocol {self.protocol!r} has one fold per subject; fold must "
                              f"be None or 0, got {self.fold}")
        return self.build().folds(meta)


_REPLACED = {  # names the previous release had here, and what does their work now
    "Split": "biosig.data.protocols.Fold",
    "chronological_split": "paper_protocol('co').folds(meta)",
    "kfold_splits": "paper_protocol('cv').folds(meta)",
    "loso_splits": "paper_protocol('loso').folds(meta)",
    "competition_splits": "paper_protocol('competition').folds(meta)",
    "holdout_split": "paper_protocol('holdout').folds(meta)",
    "protocol_splits": "paper_protocol(name).folds(meta)",
    "check_disjoint": "biosig.data.protocols.make_fold (checks every fold)",
    "align_split": "BiosigDataModule(alignment='ea') (biosig.data.alignment.split_whiteners)",
}


def __getattr__(name: str):
    if name == "with_trial_index":
        from biosig import _deprecation
        from biosig.data import protocols

        return _deprecation.moved(__name__, name, protocols, {"with_trial_index"})
    if name in _REPLACED:
        raise AttributeError(f"{__name__}.{name} was removed: use {_REPLACED[name]}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
