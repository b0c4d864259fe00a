"""Supervised classification of windows (single- or multi-label) around any registered model."""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torchmetrics as tm

from biosig._checks import number
from biosig.errors import ConfigError
from biosig.tasks.base import BiosigTask, NetworkKind, make_optimizer, scheduler_total_steps


class PositiveClassAveragePrecision(tm.classification.BinaryAveragePrecision):
    """Average precision of the second class of a binary task from ``(N, 2)`` class
    probabilities: the AUPRC that EEG benchmarks report for a positive class (scikit-learn's
    ``average_precision_score(y, p[:, 1])``), e.g. CHB-MIT's seizures or TUAB's abnormal EEG."""

    def update(self, probs: torch.Tensor, target: torch.Tensor) -> None:
        super().update(probs[:, 1], target)


class _MacroOverScorableClasses:
    """Macro average over the classes that the evaluated targets can score: AUROC needs
    positives and negatives of a class, average precision positives. torchmetrics scores such a
    class 0 (or NaN) and averages it in; here it is left out, with a warning naming it, and the
    score is NaN when no class can be scored. Mixed into a torchmetrics class built with
    ``average=None``."""

    needs_negatives = True

    def compute(self) -> torch.Tensor:
        import warnings

        from torchmetrics.utilities import dim_zero_cat

        per_class = super().compute()
        target = dim_zero_cat(self.target)
        n_classes = per_class.numel()
        pos = (target.sum(0) if target.ndim == 2 else
               torch.bincount(target.long(), minlength=n_classes))
        ok = pos > 0
        if self.needs_negatives:
            ok &= pos < len(target)
        if not ok.all():
            left_out = torch.nonzero(~ok).flatten().tolist()
            lacking = "no positive or no negative" if self.needs_negatives else "no positive"
            warnings.warn(f"{type(self).__name__}: classes {left_out} have {lacking} among the "
                          f"{len(target)} evaluated windows; the macro average leaves them out",
                          stacklevel=2)
        return per_class[ok].mean() if ok.any() else per_class.new_tensor(float("nan"))


class MulticlassMacroAUROC(_MacroOverScorableClasses, tm.classification.MulticlassAUROC):
    """Macro one-vs-rest AUROC over the classes with positives and negatives."""

    def __init__(self, num_classes: int):
        super().__init__(num_classes, average=None)


class MultilabelMacroAUROC(_MacroOverScorableClasses, tm.classification.MultilabelAUROC):
    """Macro AUROC over the labels with positives and negatives."""

    def __init__(self, num_labels: int):
        super().__init__(num_labels, average=None)


class MulticlassMacroAP(_MacroOverScorableClasses, tm.classification.MulticlassAveragePrecision):
    """Macro one-vs-rest average precision (AUPRC) over the classes with positives."""

    needs_negatives = False

    def __init__(self, num_classes: int):
        super().__init__(num_classes, average=None)


class MultilabelMacroAP(_MacroOverScorableClasses, tm.classification.MultilabelAveragePrecision):
    """Macro average precision (AUPRC) over the labels with positives."""

    needs_negatives = False

    def __init__(self, num_labels: int):
        super().__init__(num_labels, average=None)


class BalancedAccuracy(tm.classification.MulticlassAccuracy):
    """Balanced accuracy: the mean recall over the classes present in the evaluated targets
    (scikit-learn's ``balanced_accuracy_score``). torchmetrics' macro accuracy also averages in,
    as 0, a class that is predicted but absent from the targets; here it is left out, with a
    warning naming it."""

    def __init__(self, num_classes: int):
        super().__init__(num_classes, average=None)

    def compute(self) -> torch.Tensor:
        import warnings

        tp, fp, _, fn = self._final_state()
        present = (tp + fn) > 0
        predicted_absent = torch.nonzero(~present & (fp > 0)).flatten().tolist()
        if predicted_absent:
            warnings.warn(f"BalancedAccuracy: classes {predicted_absent} are predicted but absent "
                          f"from the evaluated windows; the mean recall leaves them out",
                          stacklevel=2)
        recall = tp[present].float() / (tp + fn)[present]
        return recall.mean() if present.any() else tp.new_tensor(float("nan"), dtype=torch.float)


def classification_metrics(n_outputs: int, multilabel: bool) -> tm.MetricCollection:
    """Accuracy, balanced accuracy (:class:`BalancedAccuracy`), Cohen's kappa, weighted F1,
    macro AUROC and macro AUPRC (average precision per class, one-vs-rest; multi-label:
    accuracy, macro F1, AUROC, AUPRC; its accuracy and F1 threshold probabilities at 0.5 and its
    accuracy is the per-label one, 1 - Hamming loss, not scikit-learn's exact-match
    ``accuracy_score``).
    Two classes add ``auprc_pos``: the AUPRC of the second (positive) class alone
    (:class:`PositiveClassAveragePrecision`); their macro AUROC is already the positive
    class's. The macro AUROC and AUPRC leave out a class the evaluated windows cannot score
    (warned), instead of counting it as 0."""
    if multilabel:
        return tm.MetricCollection({
            "acc": tm.classification.MultilabelAccuracy(n_outputs),
            "f1_macro": tm.classification.MultilabelF1Score(n_outputs, average="macro"),
            "auroc": MultilabelMacroAUROC(n_outputs),
            "auprc": MultilabelMacroAP(n_outputs),
        })
    metrics = {
        "acc": tm.classification.MulticlassAccuracy(n_outputs, average="micro"),
        "bal_acc": BalancedAccuracy(n_outputs),
        "kappa": tm.classification.MulticlassCohenKappa(n_outputs),
        "f1_weighted": tm.classification.MulticlassF1Score(n_outputs, average="weighted"),
        "auroc": MulticlassMacroAUROC(n_outputs),
        "auprc": MulticlassMacroAP(n_outputs),
    }
    if n_outputs == 2:
        metrics["auprc_pos"] = PositiveClassAveragePrecision()
    return tm.MetricCollection(metrics)


def _positive_weights(key: str, value) -> None:
    if value is None:
        return
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or not len(value):
        raise ConfigError(f"{key} must be a list of positive weights (one per class), got "
                          f"{value!r}")
    for i, w in enumerate(value):
        number(f"{key}[{i}]", w, gt=0)


class ClassificationTask(BiosigTask):
    """Cross-entropy (or binary cross-entropy for multi-label) training of a registered model.

    Parameters
    ----------
    model, model_kwargs : registry name and extra arguments of the network (``model`` may be
        left out when ``pretrained`` is a weights folder: its card names the model).
    n_chans, n_times, sfreq, n_outputs, ch_names : the data's signal arguments, linked from the
        DataModule by the CLI (``None``: unknown).
    multilabel : sigmoid outputs with ``BCEWithLogits`` and multi-label metrics.
    lr : learning rate (the peak rate of ``"onecycle"``).
    weight_decay : the optimiser's weight decay; parameters the network's ``no_weight_decay()``
        hooks name (LFT's fusion tokens, biases, 1-D tensors) get none
        (:func:`biosig.tasks.base.make_optimizer`).
    optimizer : ``"adam"``, ``"adamw"`` or ``"sgd"`` (over the trainable parameters only).
    betas : Adam/AdamW betas (None: PyTorch's (0.9, 0.999); EEGDM's LFT: (0.9, 0.98)).
    scheduler : None, ``"cosine"`` (over ``max_epochs``), ``"exponential"`` (``gamma`` per
        epoch) or ``"onecycle"``: ``OneCycleLR`` with peak ``lr`` stepped per batch over the
        trainer's estimated steps, warming up for ``pct_start`` of them (EEGDM: 5e-4, 0.1;
        PyTorch's defaults as EEGDM's code: starts at ``lr / 25`` and cycles Adam's beta1
        between 0.95 and 0.85).
    label_smoothing : for single-label cross-entropy.
    class_weights : one loss weight per class for single-label cross-entropy, or per label as
        multi-label BCE's ``pos_weight`` (CHB-MIT seizures: 1 and 150.51, EEGDM's weight).
    pretrained, freeze, adapt : pretrained weights and what trains (see :class:`BiosigTask`):
        ``freeze="backbone"`` is a linear probe, ``"none"`` fine-tunes, no ``pretrained``
        trains from scratch.

    Logged per epoch: ``{train,val,test}_loss`` and the metrics of :func:`classification_metrics`.
    After ``test``, ``test_confusion`` holds the confusion matrix (single-label).
    """

    ARG_RULES = {"gamma": dict(gt=0, le=1), "label_smoothing": dict(ge=0, le=1),
                 "pct_start": dict(gt=0, lt=1), "class_weights": _positive_weights}
    # not a VAE, GAN or denoiser, by name or by a weights folder's card
    NETWORKS = {"model": NetworkKind("a classifier", "classifiers",
                                     lambda cls: bool(getattr(cls, "classifies", False)))}

    def __init__(
        self,
        model: str | None = None,
        model_kwargs: dict | None = None,
        n_chans: int | None = None,
        n_times: int | None = None,
        sfreq: float | None = None,
        n_outputs: int | None = None,
        multilabel: bool = False,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        optimizer: str = "adam",
        scheduler: str | None = None,
        gamma: float = 0.999,
        label_smoothing: float = 0.0,
        betas: tuple[float, float] | None = None,
        pct_start: float = 0.1,
        ch_names: list[str] | None = None,
        pretrained: str | dict | None = None,
        freeze: str = "none",
        adapt: bool = False,
        class_weights: list[float] | None = None,
    ):
        self.check_args(locals())
        if n_outputs is None or (n_outputs < 2 and not multilabel):
            raise ConfigError(f"model.n_outputs must be >= 2 for classification (got {n_outputs})")
        if model is None and pretrained is None:
            raise ConfigError("model.model: give a registry name (or model.pretrained)")
        if scheduler not in (None, "cosine", "exponential", "onecycle"):
            raise ConfigError(f"model.scheduler must be None, 'cosine', 'exponential' or "
                              f"'onecycle', got {scheduler!r}")
        if class_weights is not None and len(class_weights) != n_outputs:
            raise ConfigError(f"model.class_weights must give {n_outputs} positive weights (one "
                              f"per class), got {class_weights!r}")
        super().__init__(model, model_kwargs, n_chans, n_times, sfreq, n_outputs,
                         ch_names=ch_names, pretrained=pretrained, freeze=freeze, adapt=adapt)
        self.save_hyperparameters()
        metrics = classification_metrics(n_outputs, multilabel)
        self.metrics = torch.nn.ModuleDict(
            {f"{stage}_metrics": metrics.clone(prefix=f"{stage}_")
             for stage in ("train", "val", "test")}
        )
        for metric in self.metrics["train_metrics"].values():
            # torchmetrics' checks of each update's inputs read them back (a device sync per
            # training step); the loss has taken the targets, and val/test keep the checks
            metric.validate_args = False
        if not multilabel:
            self.confusion = tm.classification.MulticlassConfusionMatrix(n_outputs)
        self.test_confusion = None
        weights = None if class_weights is None else torch.tensor(class_weights, dtype=torch.float)
        self.register_buffer("class_weights", weights, persistent=False)

    @classmethod
    def test_metric_names(cls, args, n_outputs=None) -> list[str]:
        """``loss`` and the keys of :func:`classification_metrics` (``auprc_pos`` where the
        number of classes is 2 or not known)."""
        multilabel = bool(args.get("multilabel", False))
        n = n_outputs if n_outputs and (multilabel or n_outputs >= 2) else 2
        return ["loss", *classification_metrics(n, multilabel).keys()]

    def check_data(self, datamodule) -> None:
        """ConfigError when the DataModule's source labels windows otherwise than this task's
        ``multilabel`` says (a 0/1 column per class, or one class index): its loss and metrics
        failed on the labels' shape at the first step. A DataModule without a window cache
        (not a :class:`~biosig.data.BiosigDataModule`) is not checked."""
        theirs = getattr(getattr(datamodule, "cache", None), "multilabel", None)
        mine = bool(self.hparams.multilabel)
        if theirs is None or bool(theirs) == mine:
            return
        source = type(getattr(datamodule, "source", None)).__name__
        kind = ("multi-label (a 0/1 label per class)" if theirs else
                "single-label (one class per window)")
        raise ConfigError(f"{type(self).__name__} multilabel={mine} "
                          f"(model.init_args.multilabel) but the data source {source} is "
                          f"{kind}: set multilabel to {bool(theirs)}")

    def setup(self, stage: str) -> None:
        """:meth:`check_data` on the Trainer's DataModule, before any step (not to predict:
        that reads no labels)."""
        if stage != "predict":
            self.check_data(getattr(self._trainer, "datamodule", None))

    def save_pretrained(self, directory, **card):
        """:meth:`BiosigTask.save_pretrained`, the card's ``data.multilabel`` being this task's
        (a sigmoid per class or one softmax: what its loss trained); a DataModule or ``data``
        that says otherwise is a ConfigError."""
        data = dict(card.pop("data", None) or {})
        mine = bool(self.hparams.multilabel)
        for where, said in (("data", data.get("multilabel")),
                            ("the training DataModule's data card",
                             (self._data_card() or {}).get("multilabel"))):
            if said is not None and bool(said) != mine:
                raise ConfigError(f"save_pretrained: {where} says multilabel={bool(said)}, but "
                                  f"this task was trained with multilabel={mine}")
        return super().save_pretrained(directory, data={**data, "multilabel": mine}, **card)

    def loss(self, logits, y):
        if self.hparams.multilabel:
            return F.binary_cross_entropy_with_logits(logits, y.float(),
                                                      pos_weight=self.class_weights)
        return F.cross_entropy(logits, y, weight=self.class_weights,
                               label_smoothing=self.hparams.label_smoothing)

    def _forward_loss(self, x, y, stage: str):
        """Logits and loss of a batch (a subclass adds auxiliary loss terms here)."""
        logits = self(x)
        return logits, self.loss(logits, y)

    def _step(self, batch, stage: str):
        x, y = batch
        logits, loss = self._forward_loss(x, y, stage)
        self.check_finite(loss, stage, x)
        probs = torch.sigmoid(logits) if self.hparams.multilabel else logits.softmax(-1)
        target = y.long() if self.hparams.multilabel else y
        self.metrics[f"{stage}_metrics"].update(probs, target)
        if stage == "test" and not self.hparams.multilabel:
            self.confusion.update(probs, y)
        self.log(f"{stage}_loss", loss, on_step=False, on_epoch=True, prog_bar=stage != "train",
                 batch_size=len(y), sync_dist=True)  # epoch values: one reduce per epoch
        return loss

    def predict_step(self, batch, batch_idx):
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        logits = self(x)
        self.check_finite(logits, "predict", x, what="output", batch_idx=batch_idx)
        return torch.sigmoid(logits) if self.hparams.multilabel else logits.softmax(-1)

    def _log_metrics(self, stage: str):
        import warnings

        trainer = getattr(self, "_trainer", None)
        with warnings.catch_warnings():
            if trainer is not None and trainer.sanity_checking:
                # the sanity check's 2 batches (unshuffled: often one class) are discarded:
                # their "no positive among the evaluated windows" warnings are noise
                warnings.simplefilter("ignore", UserWarning)
            values = self.metrics[f"{stage}_metrics"].compute()
        self.log_dict(values, prog_bar=stage == "val", sync_dist=True)
        self.metrics[f"{stage}_metrics"].reset()

    def on_train_epoch_end(self):
        self._log_metrics("train")

    def on_validation_epoch_end(self):
        self._log_metrics("val")

    def on_test_epoch_end(self):
        self._log_metrics("test")
        if not self.hparams.multilabel:
            self.test_confusion = self.confusion.compute().cpu().numpy()
            self.confusion.reset()

    def configure_optimizers(self):
        hp = self.hparams
        opt = make_optimizer(self.trainable_parameters(), hp.optimizer, hp.lr, hp.weight_decay,
                             betas=hp.betas, module=self.net, fused=self.fused_optimizer())
        if hp.scheduler is None:
            return opt
        if hp.scheduler == "onecycle":
            sched = torch.optim.lr_scheduler.OneCycleLR(
                opt, max_lr=hp.lr, total_steps=scheduler_total_steps(self.trainer),
                pct_start=hp.pct_start)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
        if hp.scheduler == "cosine":
            epochs = max(1, self.trainer.max_epochs or 1)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
        else:
            sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=hp.gamma)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
