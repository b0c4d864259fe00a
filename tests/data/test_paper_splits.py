"""DBConformer paper protocols (CO, CV, LOSO, competition, holdout) as fold-listing protocols,
and the leakage checks of the one Euclidean alignment (``split_whiteners``) on their folds."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from biosig.data.alignment import EuclideanAlignment, split_whiteners, trial_covariances
from biosig.data.paper_splits import (
    PaperProtocol,
    SessionTransfer,
    WithinSubjectChronological,
    WithinSubjectKFold,
    paper_protocol,
)
from biosig.data.protocols import LeaveOneSubjectOut
from biosig.errors import ConfigError


def _meta(n_subjects=3, n_per_session=20, sessions=("T", "E"), n_classes=2, shuffle_rows=True,
          seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(1, n_subjects + 1):
        trial = 0
        for sess in sessions:
            labels = rng.permutation(np.arange(n_per_session) % n_classes)
            for lab in labels:
                rows.append(dict(subject=s, session=sess, label=f"c{lab}", trial=trial))
                trial += 1
    meta = pd.DataFrame(rows)
    if shuffle_rows:  # row order must not matter: 'trial' defines chronology
        meta = meta.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return meta


def _x(meta, c=4, t=100, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(len(meta), c, t)) * (1 + meta["subject"].to_numpy()[:, None, None])


def _disjoint(fold):
    assert not set(fold.train) & set(fold.test) and not set(fold.val) & set(fold.test)


def test_co_is_chronological_per_class_80_20():
    meta = _meta(sessions=("T",), n_per_session=25)
    folds = WithinSubjectChronological().folds(meta)
    assert [f.subject for f in folds] == ["1", "2", "3"]
    assert [f.name for f in folds] == ["1", "2", "3"]
    for f in folds:
        _disjoint(f)
        assert len(f.val) == 0
        sub = meta.iloc[np.concatenate([f.train, f.test])]
        assert (sub["subject"].astype(str) == f.subject).all() and len(sub) == 25
        for _lab, grp in meta[meta.subject.astype(str) == f.subject].groupby("label"):
            n_train = math.ceil(0.8 * len(grp))
            first = set(grp.sort_values("trial").index[:n_train])
            assert set(f.train) & set(grp.index) == first
            tr = meta.loc[list(first), "trial"].max()
            te = meta.loc[list(set(grp.index) - first), "trial"].min()
            assert tr < te  # every train trial of the class precedes every test trial of the class
    only_2 = WithinSubjectChronological(subject=2).folds(meta)
    assert len(only_2) == 1 and np.array_equal(only_2[0].test, folds[1].test)


def test_cv_equals_sklearn_kfold_no_shuffle():
    sklearn = pytest.importorskip("sklearn.model_selection")
    meta = _meta(sessions=("T",), n_per_session=23)
    folds = WithinSubjectKFold(n_splits=5).folds(meta)
    assert len(folds) == 15 and folds[6].name == "2/fold1"
    for subject in ("1", "2", "3"):
        pos = meta[meta.subject.astype(str) == subject].sort_values("trial").index.to_numpy()
        ours = [f for f in folds if f.subject == subject]
        ref = list(sklearn.KFold(5, shuffle=False).split(pos))
        for k, (f, (tr, te)) in enumerate(zip(ours, ref)):
            assert f.index == k
            np.testing.assert_array_equal(f.train, np.sort(pos[tr]))
            np.testing.assert_array_equal(f.test, np.sort(pos[te]))
            _disjoint(f)
        assert sorted(np.concatenate([f.test for f in ours])) == sorted(pos)  # each tested once
    one = WithinSubjectKFold(subject=3, fold=4).split(meta)
    np.testing.assert_array_equal(one["test"], folds[14].test)


def test_loso_no_subject_overlap():
    meta = _meta()
    folds = LeaveOneSubjectOut().folds(meta)
    assert len(folds) == 3
    for f in folds:
        _disjoint(f)
        assert set(meta.subject.iloc[f.test].astype(str)) == {f.subject}
        assert f.subject not in set(meta.subject.iloc[f.train].astype(str))
        assert len(f.train) + len(f.test) == len(meta) and len(f.val) == 0


def test_competition_split_T_to_E():
    meta = _meta(sessions=("T", "E"), n_classes=4, n_per_session=24)
    folds = SessionTransfer().folds(meta)
    for f in folds:
        assert set(meta.session.iloc[f.train]) == {"T"} and set(meta.session.iloc[f.test]) == {"E"}
        assert len(f.train) == len(f.test) == 24
    by_order = SessionTransfer(train_session=None, test_session=None).folds(meta)
    assert all(np.array_equal(a.test, b.test) for a, b in zip(folds, by_order))
    with pytest.raises(ConfigError, match="exactly 2"):
        SessionTransfer(None, None).folds(_meta(sessions=("T",)))
    with pytest.raises(ConfigError, match="no trials in session"):
        SessionTransfer("T", "X").folds(meta)


def test_session_transfer_validation_is_hveegnet_90_10():
    """90/10 of session T by a seed-42 permutation, as the official hvEEGNet split."""
    meta = _meta(n_subjects=1, n_per_session=30, shuffle_rows=False)
    (f,) = SessionTransfer(val_fraction=0.1, seed=42).folds(meta)
    perm = np.random.default_rng(42).permutation(30)
    np.testing.assert_array_equal(f.val, np.sort(perm[:3]))
    np.testing.assert_array_equal(f.train, np.sort(perm[3:]))


def test_session_transfer_on_one_session_data_says_how_to_split_instead():
    """EEGMAT and eegmmidb have one session per subject: the error said only 'needs exactly 2'."""
    meta = _meta(n_subjects=2, sessions=("1",))
    with pytest.raises(ConfigError, match=r"has \['1'\]\); .*split it by subject \(LOSO"):
        SessionTransfer().folds(meta)
    with pytest.raises(ConfigError, match=r"split it by run \(GroupKFold\(group='run'\)\)"):
        SessionTransfer().folds(meta.assign(run=meta.trial % 2))


def test_protocol_by_name_and_bad_meta():
    meta = _meta(sessions=("T",))
    assert len(paper_protocol("CV").folds(meta)) == 15
    assert len(PaperProtocol("cv", subject=2).folds(meta)) == 5
    assert len(PaperProtocol("loso").folds(meta)) == 3
    with pytest.raises(ConfigError, match="unknown protocol"):
        paper_protocol("random80")
    with pytest.raises(ConfigError):
        PaperProtocol(protocol="random80")
    with pytest.raises(ConfigError, match="columns"):
        WithinSubjectChronological().folds(meta.drop(columns="trial"))
    with pytest.raises(ConfigError, match="duplicated"):
        WithinSubjectChronological().folds(pd.concat([meta, meta.iloc[:1]]))
    with pytest.raises(ConfigError, match="2 subjects"):
        LeaveOneSubjectOut().folds(meta[meta.subject == 1])
    with pytest.raises(ConfigError, match="subject 9"):
        PaperProtocol("co", subject=9).folds(meta)
    with pytest.raises(ConfigError, match="fold"):
        PaperProtocol("co", fold=2).folds(meta)


def test_holdout_split_by_column():
    meta = _meta(n_subjects=4)
    meta["split"] = np.where(meta.subject <= 3, "train", "test")
    (f,) = paper_protocol("holdout").folds(meta)
    assert set(meta.subject.iloc[f.train]) == {1, 2, 3} and set(meta.subject.iloc[f.test]) == {4}
    meta.loc[0, "split"] = "test" if meta.loc[0, "subject"] <= 3 else "train"
    with pytest.raises(ConfigError, match="both train and test"):
        paper_protocol("holdout").folds(meta)
    with pytest.raises(ConfigError, match="column"):
        paper_protocol("holdout").folds(meta.drop(columns="split"))


# -- Euclidean alignment on the paper folds: split_whiteners, in chronological order ---------------
def _aligned(x, meta, fold, mode):
    """The aligned train / test windows of ``fold`` (rows in index order)."""
    w = split_whiteners(x, meta["subject"].to_numpy(), fold.parts(), mode,
                        order=meta["trial"].to_numpy())
    return (np.einsum("ncd,ndt->nct", w["train"], x[fold.train]),
            np.einsum("ncd,ndt->nct", w["test"], x[fold.test]))


@pytest.mark.parametrize("protocol", ["co", "cv", "loso", "competition"])
@pytest.mark.parametrize("test_alignment", ["online", "offline", "official", "none"])
def test_no_test_trial_influences_training(protocol, test_alignment):
    meta = _meta()
    x = _x(meta)
    fold = paper_protocol(protocol).folds(meta)[1]
    xtr, xte = _aligned(x, meta, fold, test_alignment)
    x2 = x.copy()
    x2[fold.test] = np.random.default_rng(9).normal(size=x2[fold.test].shape) * 50
    xtr2, _ = _aligned(x2, meta, fold, test_alignment)
    np.testing.assert_array_equal(xtr, xtr2)  # training data (and its references) unchanged
    assert xte.shape == x[fold.test].shape
    if test_alignment == "none":
        np.testing.assert_allclose(xte, x[fold.test], rtol=1e-5)


@pytest.mark.parametrize("protocol", ["co", "cv", "loso", "competition"])
def test_online_test_alignment_has_no_look_ahead(protocol):
    """Rows are shuffled: 'later' means a larger chronological trial index, not a later row."""
    meta = _meta()
    x = _x(meta)
    fold = paper_protocol(protocol).folds(meta)[0]
    _, xte = _aligned(x, meta, fold, "online")
    chrono = fold.test[np.argsort(meta["trial"].to_numpy()[fold.test])]
    k = len(chrono) // 2
    later = np.isin(fold.test, chrono[k:])
    assert not np.array_equal(later, np.arange(len(fold.test)) >= k)  # row order != chronology
    x2 = x.copy()
    x2[chrono[k:]] = x2[chrono[k:]] * 7.0 + 3.0
    _, xte2 = _aligned(x2, meta, fold, "online")
    np.testing.assert_array_equal(xte[~later], xte2[~later])  # earlier trials untouched by later
    assert not np.allclose(xte[later], xte2[later])
    # labels never enter alignment: relabelling changes nothing
    meta2 = meta.copy()
    meta2["label"] = meta2["label"].iloc[::-1].to_numpy()
    np.testing.assert_array_equal(xte, _aligned(x, meta2, fold, "online")[1])


def test_online_alignment_follows_the_trial_index_not_the_rows():
    """Trial i of the test subject is aligned with the running mean of its trials 0..i."""
    meta = _meta(n_subjects=2)
    x = _x(meta)
    fold = LeaveOneSubjectOut(subject=2).folds(meta)[0]
    _, xte = _aligned(x, meta, fold, "online")
    trial = meta["trial"].to_numpy()[fold.test]
    for i in (0, 5, len(trial) - 1):
        j = int(np.flatnonzero(trial == i)[0])
        earlier = fold.test[trial <= i]
        expected = EuclideanAlignment().fit(x[earlier]).transform(x[fold.test[j]][None])[0]
        np.testing.assert_allclose(xte[j], expected, rtol=1e-4, atol=1e-4)


def test_train_alignment_is_per_subject_whitening():
    meta = _meta()
    x = _x(meta)
    fold = LeaveOneSubjectOut().folds(meta)[0]
    xtr, _ = _aligned(x, meta, fold, "online")
    subj = meta.subject.to_numpy()[fold.train]
    for s in np.unique(subj):
        np.testing.assert_allclose(trial_covariances(xtr[subj == s]).mean(0), np.eye(4), atol=1e-4)
    # offline test alignment == EA fitted on the test subject's trials
    _, xte = _aligned(x, meta, fold, "offline")
    np.testing.assert_allclose(xte, EuclideanAlignment().fit_transform(x[fold.test]), rtol=1e-4,
                               atol=1e-5)
    with pytest.raises(ConfigError):
        split_whiteners(x, meta["subject"].to_numpy(), fold.parts(), "future")
    with pytest.raises(ConfigError, match="order"):
        split_whiteners(x, meta["subject"].to_numpy(), fold.parts(), order=np.arange(3))
