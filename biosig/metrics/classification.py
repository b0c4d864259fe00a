"""Classification scores on arrays: macro AUROC of (multi-label) class probabilities."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from biosig.errors import ConfigError, ShapeError

__all__ = ["macro_auroc"]


def macro_auroc(
    y, prob, *, classes: Sequence[str] | None = None, split: str | None = None
) -> float:
    """Mean over classes (columns) of the ROC AUC of ``prob`` for the 0/1 labels ``y``.

    By the rank-sum (Mann-Whitney) identity with average ranks for ties: equal to
    ``sklearn.metrics.roc_auc_score`` per class, and fast enough for thousands of bootstrap
    draws.

    Parameters
    ----------
    y : ``(n, n_classes)`` 0/1 labels (multi-hot), or ``(n,)`` for one class.
    prob : scores of the same shape.
    classes : class names, for the error message (default ``class 0``, ``class 1``...).
    split : the split or stage ``y`` comes from (``"val"``, ``"test"``), for the error message.

    Raises
    ------
    ConfigError
        A class has no positive or no negative in ``y`` (its AUROC is undefined); a label is not
        0 or 1; a score is NaN or infinite (as scikit-learn, which refuses them). The message
        names each such class with its counts, and the split when given.
    ShapeError
        ``y`` and ``prob`` differ in shape, or ``classes`` in length.
    """
    labels = np.asarray(y)
    prob = np.asarray(prob, dtype=np.float64)
    if labels.shape != prob.shape or labels.ndim not in (1, 2):
        raise ShapeError(
            f"labels {labels.shape} and scores {prob.shape} must be one (n, n_classes)"
        )
    values = np.unique(labels.astype(np.float64))
    if not np.isin(values, (0.0, 1.0)).all():
        # a 2 or a NaN label would have counted as a positive
        raise ConfigError(f"AUROC labels must be 0 or 1, got {values[:10].tolist()}")
    pos = labels.astype(bool)
    if pos.ndim == 1:
        pos, prob = pos[:, None], prob[:, None]
    names = [f"class {k}" for k in range(pos.shape[1])] if classes is None else list(classes)
    if len(names) != pos.shape[1]:
        raise ShapeError(f"{len(names)} class names for {pos.shape[1]} label columns")
    where = f" of the {split} split" if split else ""
    bad = ~np.isfinite(prob)
    if bad.any():  # rankdata gave the whole class NaN ranks, so the mean AUROC was NaN
        cols = np.flatnonzero(bad.any(0))
        raise ConfigError(
            f"AUROC scores hold {int(bad.sum())} NaN or infinite value(s) among the "
            f"{len(prob)} samples{where} (classes {', '.join(str(names[k]) for k in cols)})"
        )
    n_pos = pos.sum(0)
    n_neg = len(pos) - n_pos
    lacking = np.flatnonzero((n_pos == 0) | (n_neg == 0))
    if lacking.size:
        counts = "; ".join(
            f"{names[k]!s}: {n_pos[k]} positive, {n_neg[k]} negative" for k in lacking
        )
        raise ConfigError(
            f"AUROC needs positives and negatives of every class, but the {len(pos)} samples"
            f"{where} have only one kind for {counts}; use more records in that split (or "
            "leave the class out)"
        )
    from scipy.stats import rankdata

    ranks = rankdata(prob, axis=0)
    auc = ((ranks * pos).sum(0) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return float(auc.mean())
