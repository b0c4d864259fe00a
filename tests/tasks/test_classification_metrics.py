"""The classification metrics against scikit-learn: binary tasks add the positive class's AUPRC."""

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from biosig.tasks import ClassificationTask
from biosig.tasks.classification import classification_metrics


def _binary(n=400, positives=0.05, seed=0):
    """Imbalanced binary scores (about ``positives`` of class 1, e.g. seizure windows)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < positives).astype(np.int64)
    p1 = np.clip(0.3 * y + rng.random(n) * 0.7, 0, 1)
    probs = np.stack([1 - p1, p1], axis=1).astype(np.float32)
    return torch.from_numpy(probs), torch.from_numpy(y)


@pytest.mark.parametrize("positives", [0.05, 0.5])
def test_auprc_pos_is_sklearns_average_precision_of_class_1(positives):
    probs, y = _binary(positives=positives)
    m = classification_metrics(2, multilabel=False)
    m.update(probs, y)
    got = {k: float(v) for k, v in m.compute().items()}
    want_ap = average_precision_score(y.numpy(), probs[:, 1].numpy())
    assert got["auprc_pos"] == pytest.approx(want_ap, abs=1e-6)
    # macro AUROC over two classes is the positive class's AUROC
    assert got["auroc"] == pytest.approx(roc_auc_score(y.numpy(), probs[:, 1].numpy()), abs=1e-6)
    if positives < 0.5:  # rare positives: the macro mean is not the positive class's AUPRC
        assert abs(got["auprc"] - got["auprc_pos"]) > 0.05


def test_auprc_pos_only_for_two_classes_and_logged_by_the_task():
    assert "auprc_pos" not in classification_metrics(3, multilabel=False)
    assert "auprc_pos" not in classification_metrics(2, multilabel=True)
    task = ClassificationTask("eegnet", n_chans=2, n_times=64, sfreq=64.0, n_outputs=2)
    assert "test_auprc_pos" in task.metrics["test_metrics"].keys(keep_base=False)


@pytest.mark.parametrize("multilabel", [False, True])
def test_macro_auroc_and_auprc_leave_out_a_class_they_cannot_score(multilabel):
    """A class without positives (or, for AUROC, negatives) among the evaluated windows is left
    out of the macro average with a warning naming it; torchmetrics would average in a 0."""
    rng = np.random.default_rng(1)
    n = 60
    if multilabel:  # label 1 never present, label 2 always: only label 0 can be scored for AUROC
        y = np.stack([rng.random(n) < 0.5, np.zeros(n, bool), np.ones(n, bool)], 1).astype(int)
        probs = rng.random((n, 3)).astype(np.float32)
        want_auroc = roc_auc_score(y[:, 0], probs[:, 0])
        want_ap = np.mean([average_precision_score(y[:, k], probs[:, k]) for k in (0, 2)])
    else:  # class 2 never present
        y = rng.integers(0, 2, n)
        probs = rng.dirichlet(np.ones(3), n).astype(np.float32)
        want_auroc = np.mean([roc_auc_score(y == k, probs[:, k]) for k in (0, 1)])
        want_ap = np.mean([average_precision_score(y == k, probs[:, k]) for k in (0, 1)])
    m = classification_metrics(3, multilabel=multilabel)
    m.update(torch.from_numpy(probs), torch.from_numpy(y))
    with pytest.warns(UserWarning) as caught:
        got = {k: float(v) for k, v in m.compute().items()}
    said = {str(w.message).split(" among")[0] for w in caught if "Macro" in str(w.message)}
    assert said == ({"MultilabelMacroAUROC: classes [1, 2] have no positive or no negative",
                     "MultilabelMacroAP: classes [1] have no positive"} if multilabel else
                    {"MulticlassMacroAUROC: classes [2] have no positive or no negative",
                     "MulticlassMacroAP: classes [2] have no positive"})
    assert got["auroc"] == pytest.approx(want_auroc, abs=1e-6)
    assert got["auprc"] == pytest.approx(want_ap, abs=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bal_acc_is_sklearns_balanced_accuracy_also_with_a_class_absent_from_the_targets(seed):
    """A class predicted but absent from the evaluated windows is left out of the mean recall,
    as scikit-learn does (torchmetrics' macro accuracy counted it as 0), with a warning."""
    from sklearn.metrics import balanced_accuracy_score

    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, 60)  # classes 0-2 of 4: class 3 never in the targets
    logits = rng.normal(size=(60, 4)).astype(np.float32)
    logits[np.arange(60), y] += 1.0
    pred = logits.argmax(1)
    assert (pred == 3).any()
    m = classification_metrics(4, multilabel=False)["bal_acc"]
    for part in np.array_split(np.arange(60), 3):  # accumulated over batches
        m.update(torch.from_numpy(logits[part]).softmax(1), torch.from_numpy(y[part]))
    with pytest.warns(UserWarning, match=r"classes \[3\] are predicted but absent"):
        got = float(m.compute())
    with pytest.warns(UserWarning, match="y_pred contains classes not in y_true"):
        want = balanced_accuracy_score(y, pred)
    assert got == pytest.approx(want, abs=1e-6)
    m.reset()
    m.update(torch.from_numpy(logits).softmax(1)[y == pred], torch.from_numpy(y[y == pred]))
    assert float(m.compute()) == 1.0  # every window right: no absent class predicted, no warning


def test_the_sanity_check_does_not_warn_about_classes_its_batches_lack():
    """Lightning's sanity check evaluates 2 batches of the (unshuffled) validation part, often
    one class, and its values are discarded: the AUROC/AUPRC "no positive or no negative"
    warnings it printed were noise. A real validation epoch still warns."""
    import warnings

    import lightning.pytorch as pl
    from torch.utils.data import DataLoader, TensorDataset

    from biosig.tasks import ClassificationTask

    torch.manual_seed(0)
    x, y = torch.randn(8, 2, 64), torch.tensor([0, 1] * 4)
    val = DataLoader(TensorDataset(x, torch.zeros(8, dtype=torch.long)), batch_size=4)
    task = ClassificationTask("eegnet", n_chans=2, n_times=64, sfreq=64.0, n_outputs=2)
    trainer = pl.Trainer(max_epochs=1, limit_train_batches=1, num_sanity_val_steps=2,
                         logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, accelerator="cpu")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(task, DataLoader(TensorDataset(x, y), batch_size=4), val)
    lacking = [w for w in caught if "evaluated windows" in str(w.message)]
    assert len(lacking) == 3  # the real epoch's AUPRC, AUROC and balanced accuracy (6 before)


def test_kappa_weighted_f1_and_multilabel_accuracy_against_sklearn():
    """Multi-class kappa, weighted F1 and tied-score macro AUROC/AUPRC equal scikit-learn's;
    multi-label ``acc`` is the per-label accuracy (1 - Hamming loss), not ``accuracy_score``'s
    exact match of every label."""
    from sklearn import metrics as skm

    rng = np.random.default_rng(7)
    y = rng.integers(0, 3, 90)
    probs = np.round(rng.random((90, 3)) + np.eye(3)[y], 1)  # rounded: ties
    probs = (probs / probs.sum(1, keepdims=True)).astype(np.float32)
    m = classification_metrics(3, multilabel=False)
    m.update(torch.from_numpy(probs), torch.from_numpy(y))
    got = {k: float(v) for k, v in m.compute().items()}
    pred, onehot = probs.argmax(1), np.eye(3)[y]
    assert got["kappa"] == pytest.approx(skm.cohen_kappa_score(y, pred), abs=1e-6)
    assert got["f1_weighted"] == pytest.approx(skm.f1_score(y, pred, average="weighted"), abs=1e-6)
    assert got["auroc"] == pytest.approx(skm.roc_auc_score(onehot, probs, average="macro"),
                                         abs=1e-6)
    assert got["auprc"] == pytest.approx(
        skm.average_precision_score(onehot, probs, average="macro"), abs=1e-6)
    labels = (rng.random((60, 4)) < 0.4).astype(np.int64)
    scores = np.clip(0.4 * labels + 0.7 * rng.random((60, 4)), 0, 1).astype(np.float32)
    m = classification_metrics(4, multilabel=True)
    m.update(torch.from_numpy(scores), torch.from_numpy(labels))
    got = {k: float(v) for k, v in m.compute().items()}
    hard = (scores > 0.5).astype(np.int64)
    assert got["acc"] == pytest.approx(1 - skm.hamming_loss(labels, hard), abs=1e-6)
    assert got["acc"] > skm.accuracy_score(labels, hard) + 0.1  # not the exact-match accuracy
    assert got["f1_macro"] == pytest.approx(skm.f1_score(labels, hard, average="macro"), abs=1e-6)
