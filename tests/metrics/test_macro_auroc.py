"""biosig.metrics.macro_auroc: equal to scikit-learn, and a clear error for a class it cannot
score."""

import numpy as np
import pytest

from biosig.errors import ConfigError, ShapeError
from biosig.metrics import macro_auroc


def test_macro_auroc_equals_sklearn_with_ties():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(4)
    y = (rng.random((50, 4)) < 0.3).astype(int)
    prob = np.round(rng.random((50, 4)) + 0.3 * y, 1)  # rounded: many ties
    expected = np.mean([roc_auc_score(y[:, k], prob[:, k]) for k in range(4)])
    assert macro_auroc(y, prob) == pytest.approx(expected, abs=1e-12)
    assert macro_auroc(y[:, 0], prob[:, 0]) == pytest.approx(roc_auc_score(y[:, 0], prob[:, 0]))


def test_a_class_without_positives_or_negatives_is_named_with_the_split():
    y = np.array([[1, 0, 1], [0, 0, 1], [1, 0, 1], [0, 1, 1]])
    prob = np.random.default_rng(0).random(y.shape)
    with pytest.raises(ConfigError, match="positives and negatives") as info:
        macro_auroc(y, prob, classes=["NORM", "MI", "CD"], split="val")
    msg = str(info.value)
    assert "4 samples of the val split" in msg
    assert "CD: 4 positive, 0 negative" in msg and "NORM" not in msg and "MI" not in msg
    with pytest.raises(ConfigError, match="class 1: 0 positive, 4 negative"):
        macro_auroc(np.zeros((4, 2)) + [1, 0], prob[:, :2])
    with pytest.raises(ShapeError):
        macro_auroc(y, prob[:, :2])
    with pytest.raises(ShapeError, match="2 class names"):
        macro_auroc(y, prob, classes=["NORM", "MI"])


def test_a_nan_score_or_a_label_other_than_0_1_is_refused_not_scored():
    """A NaN score made the whole class's AUROC NaN (scikit-learn refuses it), and a label 2 or
    NaN counted as a positive."""
    y = np.array([[0, 1], [1, 0], [0, 1], [1, 0]])
    prob = np.array([[0.1, 0.9], [0.8, 0.2], [np.nan, 0.7], [0.6, 0.4]])
    with pytest.raises(ConfigError, match=r"hold 1 NaN or infinite value.*classes class 0\)"):
        macro_auroc(y, prob)
    with pytest.raises(ConfigError, match=r"NaN or infinite .*val split \(classes NORM\)"):
        macro_auroc(y, prob, classes=["NORM", "MI"], split="val")
    with pytest.raises(ConfigError, match=r"labels must be 0 or 1, got \[0\.0, 1\.0, 2\.0\]"):
        macro_auroc(np.array([0, 1, 2, 1]), np.array([0.1, 0.9, 0.8, 0.2]))
    with pytest.raises(ConfigError, match=r"labels must be 0 or 1, got .*nan"):
        macro_auroc(np.array([0, 1, np.nan, 1]), np.array([0.1, 0.9, 0.8, 0.2]))
    assert macro_auroc(np.array([False, True, True]), np.array([0.1, 0.9, 0.8])) == 1.0
