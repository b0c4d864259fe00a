"""Conditional GAN training of a single-lead -> 12-lead generator (ECGNet) with manual optimisation."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from biosig.signal.ecg_leads import LEADS, lead_index
from biosig.errors import ConfigError
from biosig.tasks.base import BiosigTask

__all__ = ["GANTask"]

_LOSSES = ("bce", "hinge", "wgan-gp")


class GANTask(BiosigTask):
    """pix2pix-style conditional GAN: adversarial loss + weighted L1, two optimisers.

    Batches are ``(x, y)`` with ``x`` a ``(B, 12, T)`` ECG in mV in the standard lead order
    (``y`` is ignored). Each step takes one input lead from ``x``, generates the 12 leads and
    updates the critic, then the generator (``toggle_optimizer`` / ``manual_backward`` /
    ``untoggle_optimizer``).

    Parameters
    ----------
    model, model_kwargs : registry name (``"ecgnet"``) and its extra arguments. The model must
        provide ``select_input``, ``generator`` (``(x, lead_ids) -> (B, 12, T)``) and
        ``discriminate(ecg, cond, lead_ids)``.
    n_chans, n_times, sfreq, n_outputs : signal kwargs linked from the DataModule; ``n_chans``
        must be 12; ``n_outputs`` (the data's label count) is not used by the generator.
    input_lead : a lead name for a fixed input lead, or ``"random"``: one lead drawn per batch
        from ``random_leads`` (default all 12).
    val_lead : input lead for validation/test (default: ``input_lead``, or ``"I"`` when random).
    adversarial_loss : ``"bce"``, ``"hinge"`` or ``"wgan-gp"``.
    l1_weight, adv_weight : weights of the L1 reconstruction and adversarial terms of the
        generator loss (pix2pix: L1 weight 100 with BCE).
    gp_weight : gradient-penalty weight (WGAN-GP).
    n_critic : critic updates per generator update.
    lr_g, lr_d, betas : Adam settings (pix2pix: 2e-4, (0.5, 0.999)).
    val_frechet : also compute the mean Fréchet distance (s, mV) over V1-V6 in validation
        (O(T^2) per lead; keep off for long records).
    log_figure : log a real-vs-generated 12-lead figure per validation epoch when the logger has
        ``experiment.add_figure`` (TensorBoard).

    Logged: ``train_loss_d``, ``train_loss_g``, ``train_l1``; ``val_l1`` (mean absolute error),
    ``val_mse``, ``val_pearson`` (means over generated leads), per lead ``val_mse_<lead>`` and
    ``val_pearson_<lead>``, and ``val_fd_v1v6`` if asked (same for ``test_``).
    """

    def __init__(
        self,
        model: str = "ecgnet",
        model_kwargs: dict | None = None,
        n_chans: int = 0,
        n_times: int = 0,
        sfreq: float = 0.0,
        n_outputs: int = 0,
        input_lead: str = "random",
        random_leads: list[str] | None = None,
        val_lead: str | None = None,
        adversarial_loss: str = "bce",
        l1_weight: float = 100.0,
        adv_weight: float = 1.0,
        gp_weight: float = 10.0,
        n_critic: int = 1,
        lr_g: float = 2e-4,
        lr_d: float = 2e-4,
        betas: tuple[float, float] = (0.5, 0.999),
        val_frechet: bool = False,
        log_figure: bool = True,
    ):
        if adversarial_loss not in _LOSSES:
            raise ConfigError(f"model.adversarial_loss must be one of {_LOSSES}, got {adversarial_loss!r}")
        if n_chans != 12:
            raise ConfigError(f"GANTask needs 12-lead ECGs (model.n_chans=12), got n_chans={n_chans}")
        if n_critic < 1:
            raise ConfigError(f"model.n_critic must be >= 1, got {n_critic}")
        if input_lead != "random":
            lead_index(input_lead)
        leads = [LEADS[lead_index(l)] for l in (random_leads or LEADS)]
        super().__init__(model, model_kwargs, n_chans, n_times, sfreq, n_outputs)
        self.save_hyperparameters()
        self.automatic_optimization = False
        self._random_ids = [LEADS.index(l) for l in leads]
        self._val_lead = LEADS[lead_index(val_lead or (input_lead if input_lead != "random" else "I"))]
        self._gen = torch.Generator().manual_seed(0)
        self._eval: dict[str, list] = {}

    def setup(self, stage: str) -> None:
        from lightning.pytorch.strategies import DDPStrategy

        strategy = self.trainer.strategy if self._trainer is not None else None
        if isinstance(strategy, DDPStrategy) and not strategy._ddp_kwargs.get("find_unused_parameters"):
            raise ConfigError(
                "GANTask under DDP: the critic's step leaves the generator's parameters unused; "
                "use --trainer.strategy ddp_find_unused_parameters_true (recipes/trainer/ddp_gan.yaml)"
            )

    def build_net(self, model, model_kwargs, n_chans, n_times, sfreq, n_outputs):
        # the generator's output is the 12-lead ECG: the data's label count is not its n_outputs
        return super().build_net(model, model_kwargs, n_chans, n_times, sfreq, 12)

    # -- helpers -------------------------------------------------------------------------------
    def _train_lead(self) -> int:
        if self.hparams.input_lead != "random":
            return lead_index(self.hparams.input_lead)
        return self._random_ids[int(torch.randint(len(self._random_ids), (1,), generator=self._gen))]

    def forward(self, x: torch.Tensor, lead=None) -> torch.Tensor:
        return self.net(x, lead=self._val_lead if lead is None else lead)

    def _d_loss(self, d_real, d_fake):
        kind = self.hparams.adversarial_loss
        if kind == "bce":
            return (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
                    + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
        if kind == "hinge":
            return F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
        return d_fake.mean() - d_real.mean()

    def _g_adv(self, d_fake):
        if self.hparams.adversarial_loss == "bce":
            return F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))
        return -d_fake.mean()

    def _gradient_penalty(self, real, fake, cond, ids):
        alpha = torch.rand(real.shape[0], 1, 1, device=real.device, dtype=real.dtype)
        mix = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        score = self.net.discriminate(mix, cond, ids)
        (grad,) = torch.autograd.grad(score.sum(), mix, create_graph=True)
        return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()

    # -- training ------------------------------------------------------------------------------
    def training_step(self, batch, batch_idx):
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        x = x.float()
        hp = self.hparams
        opt_g, opt_d = self.optimizers()
        cond, ids = self.net.select_input(x, self._train_lead())
        fake = self.net.generator(cond, ids)  # one generator pass serves both updates (pix2pix)

        # critic
        self.toggle_optimizer(opt_d)
        fake_d = fake.detach()
        d_real = self.net.discriminate(x, cond, ids)
        d_fake = self.net.discriminate(fake_d, cond, ids)
        loss_d = self._d_loss(d_real, d_fake)
        if hp.adversarial_loss == "wgan-gp":
            loss_d = loss_d + hp.gp_weight * self._gradient_penalty(x, fake_d, cond, ids)
        opt_d.zero_grad()
        self.manual_backward(loss_d)
        opt_d.step()
        self.untoggle_optimizer(opt_d)
        self.log("train_loss_d", loss_d.detach(), on_step=False, on_epoch=True, batch_size=len(x))

        if (batch_idx + 1) % hp.n_critic:
            return
        # generator (the critic is frozen by the toggle)
        self.toggle_optimizer(opt_g)
        l1 = (fake - x).abs().mean() * 12 / 11  # mean over the 11 generated leads
        loss_g = hp.l1_weight * l1
        if hp.adv_weight:
            loss_g = loss_g + hp.adv_weight * self._g_adv(self.net.discriminate(fake, cond, ids))
        opt_g.zero_grad()
        self.manual_backward(loss_g)
        opt_g.step()
        self.untoggle_optimizer(opt_g)
        self.log("train_loss_g", loss_g.detach(), on_step=False, on_epoch=True, prog_bar=True, batch_size=len(x))
        self.log("train_l1", l1.detach(), on_step=False, on_epoch=True, batch_size=len(x))

    def configure_optimizers(self):
        hp = self.hparams
        opt_g = torch.optim.Adam(self.net.generator.parameters(), lr=hp.lr_g, betas=tuple(hp.betas))
        opt_d = torch.optim.Adam(self.net.discriminator.parameters(), lr=hp.lr_d, betas=tuple(hp.betas))
        return [opt_g, opt_d]

    # -- evaluation ----------------------------------------------------------------------------
    def _eval_step(self, batch, stage: str):
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        x = x.float()
        fake = self.net(x, lead=self._val_lead)
        store = self._eval.setdefault(stage, [])
        store.append((x.detach().cpu(), fake.detach().cpu()))

    def validation_step(self, batch, batch_idx):
        self._eval_step(batch, "val")

    def test_step(self, batch, batch_idx):
        self._eval_step(batch, "test")

    def predict_step(self, batch, batch_idx):
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self.net(x.float(), lead=self._val_lead)

    def _finish(self, stage: str):
        pairs = self._eval.pop(stage, [])
        if not pairs:
            return
        real = torch.cat([p[0] for p in pairs]).double()
        fake = torch.cat([p[1] for p in pairs]).double()
        gen = [i for i in range(12) if i != lead_index(self._val_lead)]
        err = fake - real
        mse = (err ** 2).mean(-1).mean(0)  # (12,)
        mae = err.abs().mean(-1).mean(0)
        a = real - real.mean(-1, keepdim=True)
        b = fake - fake.mean(-1, keepdim=True)
        den = (a.pow(2).sum(-1) * b.pow(2).sum(-1)).sqrt()
        r = torch.where(den > 0, (a * b).sum(-1) / den.clamp_min(1e-12), torch.nan)
        r = torch.nanmean(r, dim=0)
        logs = {
            f"{stage}_l1": mae[gen].mean(),
            f"{stage}_mse": mse[gen].mean(),
            f"{stage}_pearson": torch.nanmean(r[gen]),
        }
        for i in gen:
            logs[f"{stage}_mse_{LEADS[i]}"] = mse[i]
            logs[f"{stage}_pearson_{LEADS[i]}"] = r[i]
        if self.hparams.val_frechet and self.hparams.sfreq:
            from biosig.metrics.frechet import frechet_distance_curve

            chest = [i for i in range(6, 12) if i in gen]  # the input lead is copied: leave it out
            fd = frechet_distance_curve(real[:, chest].numpy(), fake[:, chest].numpy(), sfreq=self.hparams.sfreq)
            logs[f"{stage}_fd_v1v6"] = torch.tensor(float(np.mean(fd)))
        # per-rank means over equal DistributedSampler shards, averaged across ranks
        self.log(f"{stage}_l1", logs.pop(f"{stage}_l1").float(), prog_bar=True, sync_dist=True)
        self.log_dict({k: v.float() for k, v in logs.items()}, sync_dist=True)
        if stage == "val" and self.hparams.log_figure:
            self._log_figure(real[0].numpy(), fake[0].numpy())

    def _log_figure(self, real, fake):
        logger = self.logger
        exp = getattr(logger, "experiment", None) if logger is not None else None
        if exp is None or not hasattr(exp, "add_figure"):
            return
        import matplotlib.pyplot as plt

        from biosig.viz.ecg import plot_overlay

        fig = plot_overlay(real, fake, sfreq=self.hparams.sfreq or 1.0, input_lead=self._val_lead)
        exp.add_figure("val_12lead", fig, global_step=self.global_step)
        plt.close(fig)

    def on_validation_epoch_end(self):
        self._finish("val")

    def on_test_epoch_end(self):
        self._finish("test")
