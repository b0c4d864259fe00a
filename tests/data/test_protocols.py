import numpy as np
import pandas as pd
import pytest

from biosig.data import GroupKFold, KFold, LeaveOneSubjectOut, Predefined, RandomSplit
from biosig.errors import ConfigError


@pytest.fixture
def meta():
    rows = [
        {"subject": s, "session": sess, "record": f"s{s}{sess}", "fold": s + 4}
        for s in range(1, 7)
        for sess in "TE"
        for _ in range(10)
    ]
    return pd.DataFrame(rows)


def _disjoint_and_cover(parts, n, cover=True):
    sets = [set(parts[k].tolist()) for k in ("train", "val", "test")]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    if cover:
        assert len(sets[0] | sets[1] | sets[2]) == n


def test_predefined_sessions(meta):
    parts = Predefined(
        train={"session": "T"}, test={"session": "E"}, val_fraction=0.1, seed=1
    ).split(meta)
    _disjoint_and_cover(parts, len(meta))
    assert set(meta.session[parts["test"]]) == {"E"} and set(meta.session[parts["val"]]) == {"T"}
    assert len(parts["val"]) == 6


def test_predefined_folds_ptbxl_style(meta):
    parts = Predefined(train={"fold": list(range(1, 9))}, val={"fold": 9}, test={"fold": 10}).split(
        meta
    )
    assert set(meta.fold[parts["test"]]) == {10} and set(meta.fold[parts["val"]]) == {9}


def test_group_kfold_keeps_subjects_whole(meta):
    seen = []
    for fold in range(3):
        parts = GroupKFold(n_splits=3, fold=fold, group="subject", val_fraction=0.25, seed=0).split(
            meta
        )
        _disjoint_and_cover(parts, len(meta))
        for a, b in [("train", "test"), ("train", "val"), ("val", "test")]:
            assert not set(meta.subject[parts[a]]) & set(meta.subject[parts[b]])
        seen += list(meta.subject[parts["test"]].unique())
    assert sorted(seen) == list(range(1, 7))


def test_loso(meta):
    parts = LeaveOneSubjectOut(subject=4, val_fraction=0.2).split(meta)
    assert set(meta.subject[parts["test"]]) == {4}
    assert 4 not in set(meta.subject[parts["train"]]) | set(meta.subject[parts["val"]])
    with pytest.raises(ConfigError, match="subject 99"):
        LeaveOneSubjectOut(subject=99).split(meta)


def test_kfold_chronological(meta):
    parts = KFold(n_splits=5, fold=1, shuffle=False).split(meta)
    assert parts["test"].tolist() == list(range(24, 48))


def test_random_split_by_record(meta):
    parts = RandomSplit(val_fraction=0.2, test_fraction=0.2, by="record", seed=3).split(meta)
    _disjoint_and_cover(parts, len(meta))
    recs = {k: set(meta.record[v]) for k, v in parts.items()}
    assert not (recs["train"] & recs["test"]) and not (recs["val"] & recs["test"])


def test_bad_column_is_named(meta):
    with pytest.raises(ConfigError, match="'run'"):
        Predefined(train={"run": 1}).split(meta)


def test_every_protocol_lists_its_folds(meta):
    from biosig.data.protocols import Fold

    folds = GroupKFold(n_splits=3, fold=None, group="subject").folds(meta)
    assert [f.name for f in folds] == ["fold0", "fold1", "fold2"] and [f.index for f in folds] == [
        0,
        1,
        2,
    ]
    assert sorted(np.concatenate([f.test for f in folds]).tolist()) == list(range(len(meta)))
    assert GroupKFold(n_splits=3, fold=1).folds(meta)[0].name == "fold1"
    loso = LeaveOneSubjectOut().folds(meta)
    assert [f.subject for f in loso] == [str(s) for s in range(1, 7)]
    np.testing.assert_array_equal(loso[3].test, LeaveOneSubjectOut(subject=4).split(meta)["test"])
    assert len(KFold(n_splits=4, fold=None).folds(meta)) == 4
    for single in (
        Predefined(train={"session": "T"}, test={"session": "E"}),
        RandomSplit(by="record"),
    ):
        (f,) = single.folds(meta)
        assert isinstance(f, Fold) and f.subject == "all"
        for part, idx in single.split(meta).items():
            np.testing.assert_array_equal(idx, f.parts()[part])
    with pytest.raises(ConfigError, match="fold must be"):
        GroupKFold(n_splits=3, fold=3).folds(meta)
    with pytest.raises(ConfigError, match="both train and test"):
        Predefined(train={"session": "T"}, test={"session": "E"}, disjoint_by="subject").folds(meta)
    # an explicit val part sharing a subject with test: model selection would see a test subject
    with pytest.raises(ConfigError, match=r"subject \['6'\] in both val and test"):
        Predefined(train={"subject": [1, 2, 3, 4]}, val={"subject": [5, 6]},
                   test={"subject": 6, "session": "E"}, disjoint_by="subject").folds(meta)
    with pytest.raises(ConfigError, match="val=.* selects no window"):
        Predefined(train={"session": "T"}, val={"subject": 9}, test={"session": "E"}).folds(meta)


def test_unknown_columns_and_fractions_are_config_errors(meta):
    """An unknown group/by column was a bare KeyError (a 69-line traceback in the CLI);
    fractions summing to 1 or more trained on almost nothing without a word."""
    for protocol, key in ((GroupKFold(group="patient"), "group"),
                          (RandomSplit(by="patient"), "by"),
                          (KFold(n_splits=2, val_fraction=0.5), None)):
        if key is None:
            assert protocol.folds(meta)  # no column: fine
            continue
        with pytest.raises(ConfigError, match=rf"{key}='patient': the metadata have no such "
                                              r"column \(they have \['subject'"):
            protocol.folds(meta)
    with pytest.raises(ConfigError, match=r"val_fraction \+ test_fraction must be below 1"):
        RandomSplit(val_fraction=0.6, test_fraction=0.6)
    with pytest.raises(ConfigError, match=r"test_fraction must be in \[0, 1\), got 1.5"):
        RandomSplit(test_fraction=1.5)
    with pytest.raises(ConfigError, match=r"val_fraction must be in \[0, 1\), got 1.5"):
        Predefined(train={"subject": [1, 2]}, test={"subject": [3]}, val_fraction=1.5).folds(meta)


def test_a_validation_split_with_one_training_group_says_what_to_change(meta):
    """EEGMAT's rest view on 2 subjects, default protocol: the error said only "needs at least
    2 groups in the training part"."""
    two = meta[meta["record"].isin(["s1T", "s2T"])].reset_index(drop=True)
    with pytest.raises(ConfigError, match=r"training part, which has 1 \(record \['s\dT'\]\): "
                                          r"give more records, val_fraction=0, or a protocol"):
        RandomSplit(val_fraction=0.1, test_fraction=0.1, by="record").folds(two)


def test_too_few_groups_advises_a_split_by_run_only_where_runs_hold_several_classes():
    """EEGMAT's runs are its classes (rest, task): the advice to split by run, meant for
    eegmmidb, would have tested on one class."""
    eegmat = pd.DataFrame({"subject": [0, 0, 1, 1], "run": [1, 2, 1, 2], "label": [0, 1, 0, 1]})
    with pytest.raises(ConfigError, match=r"^GroupKFold n_splits=4 but the data hold 2 "
                                          r"groups of 'subject' \(0, 1\): use at most 2 folds$"):
        GroupKFold(n_splits=4).folds(eegmat)
    eegmmidb = pd.DataFrame({"subject": [1] * 4, "run": [4, 4, 8, 8], "label": [0, 1, 1, 0]})
    with pytest.raises(ConfigError, match=r"use at most 1 folds, or split within the subjects "
                                          r"by another column \(e\.g\. GroupKFold\(group='run'\)"):
        GroupKFold(n_splits=2).folds(eegmmidb)


def test_a_shard_task_without_the_number_of_tasks_says_so(tmp_path):
    from biosig.data import get_cache
    from test_cache import ToySource

    with pytest.raises(ConfigError, match=r"needs the number of tasks too .*--tasks N"):
        get_cache(ToySource(), root=tmp_path, shards=2, task=0)


def test_validation_of_whole_groups_warns_when_it_takes_far_more_than_asked(meta):
    """GroupKFold(val_fraction=0.1) with 2 training subjects validated on one of them (half the
    training data) without a word; 10 % of 10 subjects (one) stays quiet."""
    three = meta[meta["subject"] <= 3].reset_index(drop=True)
    with pytest.warns(UserWarning, match=r"val_fraction=0\.1 by 'subject': 1 of the training "
                                         r"part's 2 subjects validate \(50% of them, not 10%\)"):
        GroupKFold(n_splits=3, fold=0, val_fraction=0.1).split(three)
    many = pd.DataFrame({"subject": np.repeat(np.arange(11), 4), "label": np.tile([0, 1], 22)})
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GroupKFold(n_splits=11, fold=0, val_fraction=0.1).split(many)
