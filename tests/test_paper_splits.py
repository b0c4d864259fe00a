"""DBConformer paper splits (CO, CV, LOSO, competition) and leakage checks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from biosig.data.alignment import EuclideanAlignment, trial_covariances
from biosig.data.paper_splits import (
    align_split,
    check_disjoint,
    chronological_split,
    competition_splits,
    kfold_splits,
    loso_splits,
    protocol_splits,
)
from biosig.errors import ConfigError


def _meta(n_subjects=3, n_per_session=20, sessions=("T", "E"), n_classes=2, shuffle_rows=True, seed=0):
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


def _is_chrono(meta, idx):
    key = list(zip(meta["subject"].to_numpy()[idx], meta["trial"].to_numpy()[idx]))
    return key == sorted(key)


def test_co_is_chronological_per_class_80_20():
    meta = _meta(sessions=("T",), n_per_session=25)
    splits = chronological_split(meta)
    assert [s.subject for s in splits] == [1, 2, 3]
    for sp in splits:
        check_disjoint(sp, meta)
        sub = meta.iloc[np.concatenate([sp.train, sp.test])]
        assert (sub["subject"] == sp.subject).all() and len(sub) == 25
        for lab, grp in meta[meta.subject == sp.subject].groupby("label"):
            n_train = math.ceil(0.8 * len(grp))
            first = set(grp.sort_values("trial").index[:n_train])
            assert set(sp.train) & set(grp.index) == first
            # every train trial of the class precedes every test trial of the class
            tr = meta.loc[list(first), "trial"].max()
            te = meta.loc[list(set(grp.index) - first), "trial"].min()
            assert tr < te
        assert _is_chrono(meta, sp.train) and _is_chrono(meta, sp.test)


def test_cv_equals_sklearn_kfold_no_shuffle():
    sklearn = pytest.importorskip("sklearn.model_selection")
    meta = _meta(sessions=("T",), n_per_session=23)
    splits = kfold_splits(meta, n_splits=5)
    assert len(splits) == 15
    for subject in (1, 2, 3):
        pos = meta[meta.subject == subject].sort_values("trial").index.to_numpy()
        ours = [s for s in splits if s.subject == subject]
        ref = list(sklearn.KFold(5, shuffle=False).split(pos))
        for sp, (tr, te) in zip(ours, ref):
            np.testing.assert_array_equal(sp.train, pos[tr])
            np.testing.assert_array_equal(sp.test, pos[te])
            check_disjoint(sp, meta)
        tests = np.concatenate([s.test for s in ours])
        assert sorted(tests) == sorted(pos)  # each trial tested exactly once


def test_loso_no_subject_overlap():
    meta = _meta()
    splits = loso_splits(meta)
    assert len(splits) == 3
    for sp in splits:
        check_disjoint(sp, meta)
        assert set(meta.subject.iloc[sp.test]) == {sp.subject}
        assert sp.subject not in set(meta.subject.iloc[sp.train])
        assert len(sp.train) + len(sp.test) == len(meta)
        assert _is_chrono(meta, sp.test)


def test_competition_split_T_to_E():
    meta = _meta(sessions=("T", "E"), n_classes=4, n_per_session=24)
    for sp in competition_splits(meta):
        assert set(meta.session.iloc[sp.train]) == {"T"}
        assert set(meta.session.iloc[sp.test]) == {"E"}
        assert len(sp.train) == len(sp.test) == 24
    named = competition_splits(meta, train_session="T", test_session="E")
    assert all(np.array_equal(a.test, b.test) for a, b in zip(named, competition_splits(meta)))
    with pytest.raises(ConfigError, match="exactly 2"):
        competition_splits(_meta(sessions=("T",)))


def test_protocol_dispatch_and_bad_meta():
    meta = _meta(sessions=("T",))
    assert len(protocol_splits(meta, "CV")) == 15
    with pytest.raises(ConfigError, match="unknown protocol"):
        protocol_splits(meta, "random80")
    with pytest.raises(ConfigError, match="columns"):
        chronological_split(meta.drop(columns="trial"))
    with pytest.raises(ConfigError, match="duplicated"):
        chronological_split(pd.concat([meta, meta.iloc[:1]]))
    with pytest.raises(ConfigError, match="2 subjects"):
        loso_splits(meta[meta.subject == 1])


@pytest.mark.parametrize("protocol", ["co", "cv", "loso", "competition"])
@pytest.mark.parametrize("test_alignment", ["online", "offline", "official", "none"])
def test_no_test_trial_influences_training(protocol, test_alignment):
    meta = _meta()
    x = _x(meta)
    split = protocol_splits(meta, protocol)[1]
    xtr, xte = align_split(x, meta, split, test_alignment=test_alignment)
    x2 = x.copy()
    x2[split.test] = np.random.default_rng(9).normal(size=x2[split.test].shape) * 50
    xtr2, _ = align_split(x2, meta, split, test_alignment=test_alignment)
    np.testing.assert_array_equal(xtr, xtr2)  # training data (and its references) unchanged
    assert xtr.dtype == np.float32 and xte.shape == x[split.test].shape


@pytest.mark.parametrize("protocol", ["co", "cv", "loso", "competition"])
def test_online_test_alignment_has_no_look_ahead(protocol):
    meta = _meta()
    x = _x(meta)
    split = protocol_splits(meta, protocol)[0]
    _, xte = align_split(x, meta, split, test_alignment="online")
    k = len(split.test) // 2
    x2 = x.copy()
    x2[split.test[k:]] *= 7.0
    x2[split.test[k:]] += 3.0
    _, xte2 = align_split(x2, meta, split, test_alignment="online")
    np.testing.assert_array_equal(xte[:k], xte2[:k])  # earlier test trials untouched by later ones
    assert not np.allclose(xte[k:], xte2[k:])
    # labels never enter alignment: relabelling changes nothing
    meta2 = meta.copy()
    meta2["label"] = meta2["label"].iloc[::-1].to_numpy()
    _, xte3 = align_split(x, meta2, split, test_alignment="online")
    np.testing.assert_array_equal(xte, xte3)


def test_train_alignment_is_per_subject_whitening():
    meta = _meta()
    x = _x(meta)
    split = loso_splits(meta)[0]
    xtr, _ = align_split(x, meta, split)
    subj = meta.subject.to_numpy()[split.train]
    for s in np.unique(subj):
        np.testing.assert_allclose(trial_covariances(xtr[subj == s]).mean(0), np.eye(4), atol=1e-4)
    # offline test alignment == EA fitted on the test subject's trials
    _, xte = align_split(x, meta, split, test_alignment="offline")
    np.testing.assert_allclose(xte, EuclideanAlignment().fit_transform(x[split.test]), rtol=1e-5)


def test_align_split_errors():
    meta = _meta()
    split = loso_splits(meta)[0]
    with pytest.raises(ConfigError):
        align_split(_x(meta)[:-1], meta, split)
    with pytest.raises(ConfigError):
        align_split(_x(meta), meta, split, test_alignment="future")


def test_holdout_split_by_column():
    meta = _meta(n_subjects=4)
    meta["split"] = np.where(meta.subject <= 3, "train", "test")
    (sp,) = protocol_splits(meta, "holdout")
    assert set(meta.subject.iloc[sp.train]) == {1, 2, 3} and set(meta.subject.iloc[sp.test]) == {4}
    assert _is_chrono(meta, sp.test)
    meta.loc[0, "split"] = "test" if meta.loc[0, "subject"] <= 3 else "train"
    with pytest.raises(ConfigError, match="both train and test"):
        protocol_splits(meta, "holdout")
    with pytest.raises(ConfigError, match="column"):
        protocol_splits(meta.drop(columns="split"), "holdout")
