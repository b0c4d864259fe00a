"""Variational autoencoder training (hvEEGNet, vEEGNet-ver3) as a LightningModule."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from biosig.errors import ConfigError
from biosig.losses.soft_dtw import SoftDTWLoss
from biosig.tasks.base import BiosigTask, NetworkKind, make_optimizer

__all__ = ["VAETask"]

_RECON = ("soft_dtw", "soft_dtw_divergence", "mse")


class VAETask(BiosigTask):
    """ELBO training of a registered VAE: ``alpha * L_rec + beta * w(t) * sum_levels KL``.

    Defaults follow hvEEGNet (Cisotto et al., 2024; official training config): soft-DTW
    reconstruction (gamma = 1, one univariate soft-DTW per channel, mean over the batch, summed
    over channels), alpha = beta = 1, no KL warm-up, AdamW (lr 1e-2, weight decay 1e-2) and an
    exponential learning-rate decay of 0.999 per epoch.

    Parameters
    ----------
    model, model_kwargs : registry name (e.g. ``"hveegnet"`` or ``"veegnet"``) and its extra
        arguments.
    n_chans, n_times, sfreq, n_outputs, ch_names : the data's signal arguments, linked from
        the DataModule (``None``: unknown; ``n_outputs`` is only used by a model's optional
        classifier head).
    recon_loss : ``"soft_dtw"``, ``"soft_dtw_divergence"`` (Blondel et al., 2021) or
        ``"mse"`` (mean over all samples).
    gamma_dtw : soft-DTW smoothing.
    alpha, beta : weights of the reconstruction and KL terms.
    clf_weight : weight of the NLL of the optional classifier head (labels from the batch).
    kl_warmup_epochs : linear KL warm-up ``w(t)`` from 0 to 1 over this many epochs (0: off).
    edge_samples_ignored : samples dropped at both ends before the reconstruction loss.
    lr : learning rate.
    weight_decay : the optimiser's weight decay.
    optimizer : ``"adam"``, ``"adamw"`` or ``"sgd"``.
    lr_decay : ``ExponentialLR`` factor per epoch (``lr_decay = 1`` disables the schedule).
    pretrained, freeze, adapt : pretrained weights and what trains (see :class:`BiosigTask`).

    Figures of reconstructions and samples: the :class:`biosig.callbacks.ReconstructionFigures`
    callback; weight averaging: Lightning's ``EMAWeightAveraging`` callback.

    Batches are ``(x, y)`` with ``x`` ``(B, C, T)`` EEG in µV; ``y`` is ignored unless the
    model has a classifier head. Logged (epoch means over every DDP rank):
    ``{train,val,test}_loss``, ``_recon``, ``_kl`` and ``_kl<level>``; ``train_loss_step`` (this
    rank's, per step); ``test_mse`` and ``test_corr`` of the deterministic reconstructions.
    ``predict_step`` returns the reconstruction and the per-trial, per-channel squared error.
    """

    ARG_RULES = {"gamma_dtw": dict(gt=0), "alpha": dict(ge=0), "beta": dict(ge=0),
                 "clf_weight": dict(ge=0), "kl_warmup_epochs": dict(ge=0, integer=True),
                 "edge_samples_ignored": dict(ge=0, integer=True), "lr_decay": dict(gt=0, le=1)}

    TEST_METRICS = ("loss", "recon", "kl", "kl*", "nll", "mse", "corr")
    NETWORKS = {"model": NetworkKind("a VAE (BiosigModel.variational: forward returns a "
                                     "VAEOutput)", "VAEs",
                                     lambda cls: bool(getattr(cls, "variational", False)))}

    def __init__(
        self,
        model: str | None = None,
        model_kwargs: dict | None = None,
        n_chans: int | None = None,
        n_times: int | None = None,
        sfreq: float | None = None,
        n_outputs: int | None = None,
        recon_loss: str = "soft_dtw",
        gamma_dtw: float = 1.0,
        alpha: float = 1.0,
        beta: float = 1.0,
        clf_weight: float = 1.0,
        kl_warmup_epochs: int = 0,
        edge_samples_ignored: int = 0,
        lr: float = 1e-2,
        weight_decay: float = 1e-2,
        optimizer: str = "adamw",
        lr_decay: float = 0.999,
        ch_names: list[str] | None = None,
        pretrained: str | dict | None = None,
        freeze: str = "none",
        adapt: bool = False,
    ):
        if recon_loss not in _RECON:
            raise ConfigError(f"model.recon_loss must be one of {_RECON}, got {recon_loss!r}")
        self.check_args(locals())
        if model is None and pretrained is None:
            raise ConfigError("model.model: give a registry name (or model.pretrained)")
        if pretrained is not None and not (model_kwargs or {}).get("use_classifier"):
            n_outputs = None  # keep the weights' head (or none): no classifier is added
        super().__init__(model, model_kwargs, n_chans, n_times, sfreq, n_outputs,
                         ch_names=ch_names, pretrained=pretrained, freeze=freeze, adapt=adapt)
        if n_times is not None and 2 * edge_samples_ignored >= n_times:
            raise ConfigError(f"model.edge_samples_ignored={edge_samples_ignored} leaves no "
                              f"samples of n_times={n_times}")
        self.save_hyperparameters()
        if recon_loss != "mse":
            self.sdtw = SoftDTWLoss(gamma_dtw, normalize=recon_loss == "soft_dtw_divergence",
                                    reduction="channel_sum")

    # ------------------------------------------------------------------ loss
    def reconstruction_loss(self, x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        e = self.hparams.edge_samples_ignored
        if e:
            x_hat, x = x_hat[..., e:-e], x[..., e:-e]
        if self.hparams.recon_loss == "mse":
            return F.mse_loss(x_hat, x)
        return self.sdtw(x_hat, x)

    def kl_weight(self) -> float:
        """``beta`` times the warm-up factor at the current (fractional) epoch."""
        n = self.hparams.kl_warmup_epochs
        if n <= 0 or self._trainer is None:
            return float(self.hparams.beta)
        nb = self.trainer.num_training_batches
        if nb and math.isfinite(nb) and nb > 0:
            # batches seen -> fractional epochs (not optimizer steps: gradient accumulation)
            done = self.trainer.fit_loop.epoch_loop.total_batch_idx / nb
        else:
            done = float(self.current_epoch)
        return float(self.hparams.beta) * min(1.0, done / n)

    def _step(self, batch, stage: str) -> torch.Tensor:
        x, y = (batch[0], batch[1]) if isinstance(batch, (list, tuple)) else (batch, None)
        out = self.net(x)
        rec = self.reconstruction_loss(out.x_hat, x)
        kls = [k.mean() for k in out.kl]
        kl = torch.stack(kls).sum() if kls else rec.new_zeros(())
        w = self.kl_weight() if stage == "train" else float(self.hparams.beta)
        loss = self.hparams.alpha * rec + w * kl
        bs = x.shape[0]
        parts = {"recon": rec, "kl": kl}
        if out.log_probs is not None and y is not None and y.dtype == torch.long:
            nll = parts["nll"] = F.nll_loss(out.log_probs, y)
            loss = loss + self.hparams.clf_weight * nll
            self.log(f"{stage}_nll", nll, on_step=False, on_epoch=True, batch_size=bs,
                     sync_dist=True)
        self.check_finite(loss, stage, x, **parts)
        self.log_loss(stage, loss, bs)
        epoch_means = {f"{stage}_recon": rec, f"{stage}_kl": kl}
        epoch_means.update({f"{stage}_kl{i}": k for i, k in enumerate(kls, start=1)})
        self.log_dict(epoch_means, on_step=False, on_epoch=True, batch_size=bs, sync_dist=True)
        return loss

    def test_step(self, batch, batch_idx):
        loss = self._step(batch, "test")
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        x_hat = self.net.reconstruct(x)
        bs = x.shape[0]
        self.log("test_mse", F.mse_loss(x_hat, x), on_epoch=True, batch_size=bs, sync_dist=True)
        xc = x - x.mean(-1, keepdim=True)
        hc = x_hat - x_hat.mean(-1, keepdim=True)
        r = (xc * hc).sum(-1) / (xc.norm(dim=-1) * hc.norm(dim=-1)).clamp_min(1e-12)
        self.log("test_corr", r.mean(), on_epoch=True, batch_size=bs, sync_dist=True)
        return loss

    def predict_step(self, batch, batch_idx, dataloader_idx: int = 0):
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        x_hat = self.net.reconstruct(x)
        error = ((x_hat - x) ** 2).mean(-1)
        self.check_finite(error, "predict", x, what="reconstruction error", batch_idx=batch_idx)
        return {"x_hat": x_hat, "sq_error": error}

    def configure_optimizers(self):
        opt = make_optimizer(self.trainable_parameters(), self.hparams.optimizer, self.hparams.lr,
                             self.hparams.weight_decay, fused=self.fused_optimizer())
        if self.hparams.lr_decay >= 1.0:
            return opt
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=self.hparams.lr_decay)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
