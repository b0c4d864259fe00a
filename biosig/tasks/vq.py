"""Self-supervised pretraining of a vector-quantised autoencoder (EEGFormer), a LightningModule."""

from __future__ import annotations

import math

import torch

from biosig.errors import ConfigError
from biosig.tasks.base import BiosigTask, NetworkKind, make_optimizer, scheduler_total_steps
from biosig.tasks.classification import ClassificationTask

__all__ = ["VQTask", "VQClassificationTask", "SETTINGS"]

#: Downstream settings of :class:`VQClassificationTask`.
SETTINGS = ("probe", "finetune", "scratch")

_SCHEDULERS = (None, "cosine")


def _vector_quantised(cls) -> bool:
    return callable(getattr(cls, "forward_pretrain", None))


class VQTask(BiosigTask):
    """Reconstruction + VQ-loss pretraining of a registered VQ model (``eegformer_s/b/l``).

    The network must provide ``forward_pretrain(x)`` returning ``recon_loss`` and ``vq`` (a
    :class:`~biosig.models.blocks.quantizer.VQOutput`) and a ``quantizer`` attribute, as
    :class:`~biosig.models.EEGFormer` does. Loss: ``recon_weight * recon_loss + vq_weight *
    (codebook + beta * commitment)`` (Chen et al. 2024, arXiv:2401.10278, as summarised on
    the model page, ``docs/models/eegformer.md``; no masking). Optimiser and schedule are not
    given by the paper: AdamW, lr 5e-4, weight decay 0.05, optional linear warm-up then cosine
    decay over the trainer's optimiser steps are this task's choices.

    Parameters
    ----------
    model, model_kwargs : registry name and its extra arguments (e.g. ``{"ema": True,
        "data_init": True, "dead_after": 100}`` against codebook collapse).
    n_chans, n_times, sfreq, n_outputs : signal kwargs linked from the DataModule
        (``n_outputs`` is not used: pretraining builds the network without a classification
        head; a downstream task adds one with ``reset_head``).
    recon_weight, vq_weight : loss weights.
    lr : learning rate (the peak, after any warm-up).
    weight_decay : the optimiser's weight decay.
    optimizer : ``"adam"``, ``"adamw"`` or ``"sgd"``.
    scheduler : None or ``"cosine"`` (per optimiser step, to 0 at the last step).
    warmup_steps : linear warm-up from 0 over this many optimiser steps.

    Batches are ``x`` or ``(x, y, ...)`` with ``x`` ``(B, C, T)``; labels are ignored. Logged:
    ``{train,val,test}_loss``, ``_recon``, ``_vq``, ``_commitment``, ``_codebook`` (per batch,
    averaged per epoch), and per epoch from the code counts of the whole epoch (summed over
    processes): ``_perplexity`` (``exp`` of the code-frequency entropy), ``_code_usage``
    (fraction of codes chosen at least once) and ``_dead_codes`` (codes never chosen).
    ``predict_step`` returns the code indices ``(B, C, N)`` and the reconstruction error per
    window and channel ``(B, C)`` (normalised units).
    """

    TEST_METRICS = ("loss", "recon", "vq", "commitment", "codebook", "perplexity", "code_usage",
                    "dead_codes")
    NETWORKS = {"model": NetworkKind("a vector-quantised model (forward_pretrain() and a "
                                     "quantizer)", "vector-quantised models", _vector_quantised)}
    ARG_RULES = {"recon_weight": dict(ge=0), "vq_weight": dict(ge=0),
                 "warmup_steps": dict(ge=0, integer=True)}

    def __init__(
        self,
        model: str = "eegformer_s",
        model_kwargs: dict | None = None,
        n_chans: int | None = None,
        n_times: int | None = None,
        sfreq: float | None = None,
        n_outputs: int | None = None,
        ch_names: list[str] | None = None,
        recon_weight: float = 1.0,
        vq_weight: float = 1.0,
        lr: float = 5e-4,
        weight_decay: float = 0.05,
        optimizer: str = "adamw",
        scheduler: str | None = None,
        warmup_steps: int = 0,
    ):
        if scheduler not in _SCHEDULERS:
            raise ConfigError(f"model.scheduler must be one of {_SCHEDULERS}, got {scheduler!r}")
        self.check_args(locals())
        super().__init__(model, model_kwargs, n_chans, n_times, sfreq, None, ch_names=ch_names)
        self.save_hyperparameters()
        self._counts: dict[str, torch.Tensor] = {}

    # ------------------------------------------------------------------ steps
    def _step(self, batch, stage: str) -> torch.Tensor:
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        out = self.net.forward_pretrain(x)
        hp = self.hparams
        loss = hp.recon_weight * out.recon_loss + hp.vq_weight * out.vq.loss
        self.check_finite(loss, stage, x, recon=out.recon_loss, vq=out.vq.loss)
        values = {"loss": loss, "recon": out.recon_loss, "vq": out.vq.loss,
                  "commitment": out.vq.commitment_loss, "codebook": out.vq.codebook_loss}
        for key, value in values.items():
            self.log(f"{stage}_{key}", value, prog_bar=key == "loss", on_step=False,
                     on_epoch=True, batch_size=x.shape[0], sync_dist=True)
        counts = out.vq.counts.detach()
        self._counts[stage] = self._counts.get(stage, torch.zeros_like(counts)) + counts
        return loss

    def predict_step(self, batch, batch_idx, dataloader_idx: int = 0):
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        out = self.net.forward_pretrain(x)
        error = (out.recon - out.target).pow(2).mean(dim=(-1, -2))
        self.check_finite(error, "predict", x, what="reconstruction error", batch_idx=batch_idx)
        return {"indices": out.vq.indices, "recon_error": error}

    # ------------------------------------------------------------------ codebook statistics
    def _log_codebook(self, stage: str) -> None:
        counts = self._counts.pop(stage, None)
        if counts is None:
            return
        if stage != "train" and self.trainer.world_size > 1:
            # training counts are already summed over processes by the quantiser
            counts = self.trainer.strategy.reduce(counts, reduce_op="sum")
        from biosig.models.blocks.quantizer import codebook_perplexity

        used = int((counts > 0).sum())
        # the counts are summed over the ranks, so every rank has these values: sync_dist
        # (a mean of equal values) says so (Lightning warned about each of them under DDP)
        self.log_dict({f"{stage}_perplexity": codebook_perplexity(counts),
                       f"{stage}_code_usage": used / counts.numel(),
                       f"{stage}_dead_codes": float(counts.numel() - used)}, sync_dist=True)

    def on_train_epoch_end(self):
        self._log_codebook("train")

    def on_validation_epoch_end(self):
        if self.trainer.sanity_checking:
            self._counts.pop("val", None)
            return
        self._log_codebook("val")

    def on_test_epoch_end(self):
        self._log_codebook("test")

    # ------------------------------------------------------------------ optimiser
    def configure_optimizers(self):
        hp = self.hparams
        params = [p for p in self.net.parameters() if p.requires_grad]
        opt = make_optimizer(params, hp.optimizer, hp.lr, hp.weight_decay,
                             fused=self.fused_optimizer())
        if hp.scheduler is None and hp.warmup_steps == 0:
            return opt
        total = scheduler_total_steps(self.trainer)
        warm, cosine = hp.warmup_steps, hp.scheduler == "cosine"

        def factor(step: int) -> float:
            if step < warm:
                return (step + 1) / warm
            if not cosine:
                return 1.0
            done = min(1.0, (step - warm) / max(1, total - warm))
            return 0.5 * (1.0 + math.cos(math.pi * done))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


class VQClassificationTask(ClassificationTask):
    """Downstream classification with a VQ foundation model (EEGFormer), in three settings.

    One task, one network, one loss; ``setting`` picks what is pretrained and what trains:

    - ``"probe"`` (linear probe): ``pretrained`` weights, everything but the head frozen
      (``freeze="backbone"``; frozen modules in eval mode, so no EMA codebook update), head on
      pooled **quantised** tokens (default ``features``), cross-entropy only;
    - ``"finetune"``: ``pretrained`` weights; encoder, codebook and decoder all train, as
      described for EEGFormer's fine-tuning (``docs/models/eegformer.md``): the
      head reads the **decoder** output (so the decoder is in the path), and the pretraining
      loss (reconstruction + codebook + commitment, weight ``aux_weight``) is added in training
      so the codebook, which the straight-through estimator leaves without a classification
      gradient, keeps learning (its EMA updates too, if the model uses EMA);
    - ``"scratch"``: the same network and loss as ``"finetune"`` from a random initialisation
      (``model`` and ``model_kwargs`` build it; no ``pretrained``).

    Validation and test losses are the cross-entropy alone (comparable across settings); in
    training ``train_aux`` logs the added pretraining loss. Other parameters as
    :class:`~biosig.tasks.ClassificationTask` (``lr``, ``optimizer``, ``scheduler``, ...); the
    scores include macro AUROC, macro AUPRC and balanced accuracy.

    Parameters
    ----------
    setting : ``"probe"``, ``"finetune"`` or ``"scratch"``.
    features : ``"quantized"``, ``"encoder"`` or ``"decoder"``: the tokens the head pools
        (default: quantised for the probe, decoder otherwise).
    aux_weight : weight of the pretraining loss added in fine-tuning / scratch training (0: off).
    freeze : leave unset: the setting decides (probe ``"backbone"``, else ``"none"``); a value
        that disagrees with it is refused.
    """

    NETWORKS = {"model": NetworkKind(
        "a VQ model (forward_pretrain) that classifies", "VQ classifiers",
        lambda cls: _vector_quantised(cls) and bool(getattr(cls, "classifies", False)))}
    ARG_RULES = {"aux_weight": dict(ge=0)}

    def __init__(
        self,
        model: str | None = None,
        model_kwargs: dict | None = None,
        n_chans: int | None = None,
        n_times: int | None = None,
        sfreq: float | None = None,
        n_outputs: int | None = None,
        ch_names: list[str] | None = None,
        setting: str = "finetune",
        features: str | None = None,
        aux_weight: float = 1.0,
        pretrained: str | dict | None = None,
        adapt: bool = False,
        freeze: str | None = None,
        **kwargs,
    ):
        if setting not in SETTINGS:
            raise ConfigError(f"model.setting must be one of {SETTINGS}, got {setting!r}")
        implied = "backbone" if setting == "probe" else "none"
        # None: the setting's (declared here, so that the CLI does not fill in the base class's
        # default "none", which refused every probe); a checkpoint repeats the implied value
        if freeze not in (None, implied):
            raise ConfigError(f"model.freeze is set by model.setting (probe: backbone, "
                              f"finetune/scratch: none); remove it (got {freeze!r} with "
                              f"setting {setting!r})")
        freeze = implied
        if (setting == "scratch") != (pretrained is None):
            need = "no model.pretrained" if setting == "scratch" else "model.pretrained"
            raise ConfigError(f"model.setting={setting!r} needs {need}")
        self.check_args(locals())
        super().__init__(model, model_kwargs, n_chans, n_times, sfreq, n_outputs,
                         ch_names=ch_names, pretrained=pretrained, adapt=adapt,
                         freeze=freeze, **kwargs)
        self.net.set_feature_source(features or ("quantized" if setting == "probe"
                                                 else "decoder"))
        self.setting = setting
        self.aux_weight = 0.0 if setting == "probe" else float(aux_weight)

    def _forward_loss(self, x, y, stage: str):
        if stage != "train" or self.aux_weight == 0:
            return super()._forward_loss(x, y, stage)
        net = self.net
        out = net.forward_pretrain(x)
        tokens = {"encoder": out.encoded, "quantized": out.vq.quantized,
                  "decoder": out.decoded}[net.feature_source]
        logits = net.forward_head(tokens)
        aux = out.recon_loss + out.vq.loss
        self.log("train_aux", aux, on_step=False, on_epoch=True, batch_size=len(y),
                 sync_dist=True)
        return logits, self.loss(logits, y) + self.aux_weight * aux
