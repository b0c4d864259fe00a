"""Conditional GAN (pix2pix) that completes every channel of a record from one input channel.

The task composes two registered networks, as Lightning's GAN example composes its generator and
discriminator: ``generator`` (e.g. ``"ecgnet"``) and ``critic`` (e.g. ``"ecgnet_critic"``). Nothing
here knows about ECGs: channel names come from the generator (``generator.ch_names``) or the data,
the input-channel choice from the config, figures from a callback
(:class:`biosig.callbacks.ECGFigures` for 12-lead ECGs).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from biosig.errors import ConfigError
from biosig.tasks.base import BiosigTask, NetworkKind, make_optimizer

__all__ = ["GANTask"]

_LOSSES = ("bce", "hinge", "wgan-gp")


class GANTask(BiosigTask):
    """pix2pix-style conditional GAN: adversarial loss + weighted L1, two optimisers.

    Batches are ``(x, y)`` with ``x`` ``(B, C, T)`` records (``y`` is ignored). Each step takes
    one input channel ``cond = x[:, i]`` (``(B, 1, T)``, ids ``(B,)``), generates all ``C``
    channels and updates the critic, then the generator (``toggle_optimizer`` /
    ``manual_backward`` / ``untoggle_optimizer``). The networks follow this protocol:

    - ``generator(cond, ids) -> (B, C, T)``, the input channel passed through unchanged
      (built with ``n_chans = n_outputs = C``);
    - ``critic(candidate (B, C, T), cond, ids) -> (B,)`` logits / scores (built with
      ``n_outputs = 1``).

    Parameters
    ----------
    generator, critic : registry names; generator_kwargs, critic_kwargs : their other arguments.
    n_chans, n_times, sfreq, n_outputs, ch_names : the data's signal arguments, linked from the
        DataModule (``n_outputs``, the data's label count, is not used).
    input_channel : name or index of a fixed input channel, or ``"random"``: one channel drawn
        per batch from ``random_channels`` (default: all).
    val_channel : input channel for validation/test (default: ``input_channel``, or channel 0
        when random).
    adversarial_loss : ``"bce"``, ``"hinge"`` or ``"wgan-gp"``.
    l1_weight, adv_weight : weights of the L1 reconstruction (mean over the generated channels)
        and adversarial terms of the generator loss (pix2pix: L1 weight 100 with BCE).
    gp_weight : gradient-penalty weight (WGAN-GP).
    n_critic : critic updates per generator update.
    lr_g : the generator's Adam learning rate (pix2pix: 2e-4).
    lr_d : the critic's Adam learning rate (pix2pix: 2e-4).
    betas : Adam betas of both optimisers (pix2pix: (0.5, 0.999)).
    frechet_channels : channels over which validation/test also report the mean Fréchet
        distance (s, signal units) as ``{stage}_fd`` (the input channel left out); needs
        ``sfreq``. O(T^2) per channel: keep off for long records. E.g. V1-V6 for ECGNet.

    Channel names are the generator's (``generator.ch_names``), else the data's; when both are
    known they must agree (ECGNet's by lead, ``AVR`` is ``aVR``; others name for name), so a
    record in another channel order is refused, when the task is built and when fitting starts
    on a DataModule that names its channels (:meth:`BiosigTask._name_channels`).

    Logged: ``train_loss_d``, ``train_loss_g``, ``train_l1``; ``val_l1`` (mean absolute error),
    ``val_mse``, ``val_pearson`` (means over generated channels), per channel
    ``val_mse_<name>`` and ``val_pearson_<name>``, and ``val_fd`` if asked (same for ``test_``).
    ``validation_step`` returns ``{"real", "fake", "input_channel"}`` for figure callbacks.
    """

    TEST_METRICS = ("l1", "mse", "pearson", "mse_*", "pearson_*", "fd")
    NETWORKS = {"generator": NetworkKind(
                    "a GAN generator (gan_role 'generator': forward(cond, ids) -> every channel)",
                    "generators", lambda cls: getattr(cls, "gan_role", "") == "generator"),
                "critic": NetworkKind(
                    "a GAN critic (gan_role 'critic': forward(candidate, cond, ids) -> scores)",
                    "critics", lambda cls: getattr(cls, "gan_role", "") == "critic")}
    ARG_RULES = {"l1_weight": dict(ge=0), "adv_weight": dict(ge=0), "gp_weight": dict(ge=0),
                 "n_critic": dict(ge=1, integer=True)}

    def __init__(
        self,
        generator: str = "ecgnet",
        critic: str = "ecgnet_critic",
        generator_kwargs: dict | None = None,
        critic_kwargs: dict | None = None,
        n_chans: int | None = None,
        n_times: int | None = None,
        sfreq: float | None = None,
        n_outputs: int | None = None,
        ch_names: list[str] | None = None,
        input_channel: str | int = "random",
        random_channels: list[str | int] | None = None,
        val_channel: str | int | None = None,
        adversarial_loss: str = "bce",
        l1_weight: float = 100.0,
        adv_weight: float = 1.0,
        gp_weight: float = 10.0,
        n_critic: int = 1,
        lr_g: float = 2e-4,
        lr_d: float = 2e-4,
        betas: tuple[float, float] = (0.5, 0.999),
        frechet_channels: list[str | int] | None = None,
    ):
        if adversarial_loss not in _LOSSES:
            raise ConfigError(f"model.adversarial_loss must be one of {_LOSSES}, "
                              f"got {adversarial_loss!r}")
        self.check_args(locals())
        if frechet_channels and sfreq is None:
            raise ConfigError("model.frechet_channels needs the sampling rate (model.sfreq)")
        super().__init__(n_chans=n_chans, n_times=n_times, sfreq=sfreq, n_outputs=n_outputs,
                         ch_names=ch_names)
        self.save_hyperparameters()
        self.automatic_optimization = False
        # the generator outputs the record's channels: the data's label count is not its n_outputs
        self.generator = self.build_network(generator, generator_kwargs, n_chans, key="generator")
        self.critic = self.build_network(critic, critic_kwargs, 1, key="critic")
        self.channel_names = self._channel_names()
        fixed = input_channel != "random"
        pool = [input_channel] if fixed else (random_channels or range(len(self.channel_names)))
        self._random_ids = [self.channel_index(c, "random_channels") for c in pool]
        default_val = input_channel if fixed else 0
        self.val_channel = self.channel_index(default_val if val_channel is None else val_channel,
                                              "val_channel")
        self._frechet_ids = [self.channel_index(c, "frechet_channels")
                             for c in (frechet_channels or [])]
        # the run's seed (seed_everything gives every DDP rank the same one): the channel draws
        # follow it, identical across ranks
        self._gen = torch.Generator().manual_seed(torch.initial_seed())
        self._eval: dict[str, list] = {}

    # -- channels ------------------------------------------------------------------------------
    def _channel_names(self) -> list[str]:
        n = self.n_chans or getattr(self.generator, "n_chans", None)
        if n is None:
            raise ConfigError("GANTask needs the number of channels (model.n_chans)")
        # build_network refused data whose names differ from the generator's own, and named a
        # generator without names with the data's
        own = getattr(self.generator, "ch_names", None)
        names = list(own or self.ch_names or [str(i) for i in range(n)])
        if len(names) != n:
            raise ConfigError(f"the generator names {len(names)} channels but the data has {n}")
        return names

    def channel_index(self, channel: str | int, key: str = "input_channel") -> int:
        """Index of a channel given by name (case-insensitive) or index."""
        names = self.channel_names
        if isinstance(channel, (int, np.integer)) and not isinstance(channel, bool):
            if 0 <= channel < len(names):
                return int(channel)
        else:
            lower = [n.lower() for n in names]
            if str(channel).lower() in lower:
                return lower.index(str(channel).lower())
        raise ConfigError(f"model.{key}: {channel!r} is not one of the channels "
                          f"{', '.join(names)} (or an index below {len(names)})")

    @property
    def train_channels(self) -> list[str]:
        """The input channels the generator trains from (``input_channel``, or
        ``random_channels`` when random), by name."""
        return [self.channel_names[i] for i in dict.fromkeys(self._random_ids)]

    def save_pretrained(self, directory, **card) -> Path:
        """The generator (the network that generates; the critic only trains it) as a weights
        folder, as :meth:`BiosigTask.save_pretrained` writes it (the data contract of the
        task's data), with :attr:`train_channels` in the card's recipe: as ``train_leads`` for
        a generator that reads them (one with a ``train_leads`` attribute: ECGNet, whose
        ``from_pretrained`` then refuses other input leads), else as ``train_channels`` (a
        record of the training, checked by nothing). A ``recipe`` dict given here is merged in
        and must not contradict them."""
        key = "train_leads" if hasattr(self.generator, "train_leads") else "train_channels"
        card = self._card_with_recipe(card, {key: self.train_channels})
        return self._save_network(self.generator, directory, **card)

    def _train_ids(self, batch: int, device) -> torch.Tensor:
        pick = int(torch.randint(len(self._random_ids), (1,), generator=self._gen))
        return torch.full((batch,), self._random_ids[pick], dtype=torch.long, device=device)

    @staticmethod
    def condition(x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """The input channel of each record, ``(B, 1, T)``."""
        return x[torch.arange(x.shape[0], device=x.device), ids][:, None]

    def forward(self, x: torch.Tensor, channel: str | int | None = None) -> torch.Tensor:
        """All channels of ``x`` ``(B, C, T)`` generated from one (default ``val_channel``)."""
        i = self.val_channel if channel is None else self.channel_index(channel)
        ids = torch.full((x.shape[0],), i, dtype=torch.long, device=x.device)
        return self.generator(self.condition(x, ids), ids)

    # -- losses --------------------------------------------------------------------------------
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
        score = self.critic(mix, cond, ids)
        (grad,) = torch.autograd.grad(score.sum(), mix, create_graph=True)
        return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()

    @staticmethod
    def generated_l1(fake: torch.Tensor, real: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """Mean absolute error over the generated channels (the input channel left out)."""
        keep = torch.ones(fake.shape[:2], dtype=fake.dtype, device=fake.device)
        keep[torch.arange(fake.shape[0], device=fake.device), ids] = 0
        return ((fake - real).abs().mean(-1) * keep).sum() / keep.sum()

    # -- training ------------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        if stage == "fit" and self._trainer is not None:
            self.check_strategy(self.trainer)

    @staticmethod
    def check_strategy(trainer) -> None:
        """Refuse training under DDP that does not look for unused parameters (``biosig fit``
        calls it before any process starts; validating, testing and predicting do not wrap
        the model in DDP and are not refused)."""
        from lightning.pytorch.strategies import DDPStrategy

        strategy = trainer.strategy
        if (isinstance(strategy, DDPStrategy)
                and not strategy._ddp_kwargs.get("find_unused_parameters")):
            raise ConfigError(
                "GANTask under DDP: the critic's step leaves the generator's parameters unused; "
                "use --trainer.strategy ddp_find_unused_parameters_true "
                "(recipes/configs/trainer/ddp_gan.yaml)"
            )

    def training_step(self, batch, batch_idx):
        x = (batch[0] if isinstance(batch, (tuple, list)) else batch).float()
        hp = self.hparams
        opt_g, opt_d = self.optimizers()
        ids = self._train_ids(x.shape[0], x.device)
        cond = self.condition(x, ids)
        fake = self.generator(cond, ids)  # one generator pass serves both updates (pix2pix)

        # critic
        self.toggle_optimizer(opt_d)
        fake_d = fake.detach()
        loss_d = self._d_loss(self.critic(x, cond, ids), self.critic(fake_d, cond, ids))
        if hp.adversarial_loss == "wgan-gp":
            loss_d = loss_d + hp.gp_weight * self._gradient_penalty(x, fake_d, cond, ids)
        self.check_finite(loss_d, "train", x, what="critic loss")
        opt_d.zero_grad()
        self.manual_backward(loss_d)
        opt_d.step()
        self.untoggle_optimizer(opt_d)
        self.log("train_loss_d", loss_d.detach(), on_step=False, on_epoch=True, batch_size=len(x),
                 sync_dist=True)

        if (batch_idx + 1) % hp.n_critic:
            return
        # generator (the critic is frozen by the toggle)
        self.toggle_optimizer(opt_g)
        l1 = self.generated_l1(fake, x, ids)
        loss_g = hp.l1_weight * l1
        parts = {"l1": l1}
        if hp.adv_weight:
            adv = parts["adversarial"] = self._g_adv(self.critic(fake, cond, ids))
            loss_g = loss_g + hp.adv_weight * adv
        self.check_finite(loss_g, "train", x, what="generator loss", **parts)
        opt_g.zero_grad()
        self.manual_backward(loss_g)
        opt_g.step()
        self.untoggle_optimizer(opt_g)
        self.log("train_loss_g", loss_g.detach(), on_step=False, on_epoch=True, prog_bar=True,
                 batch_size=len(x), sync_dist=True)
        self.log("train_l1", l1.detach(), on_step=False, on_epoch=True, batch_size=len(x),
                 sync_dist=True)

    def configure_optimizers(self):
        hp = self.hparams
        trainable = [[p for p in net.parameters() if p.requires_grad]
                     for net in (self.generator, self.critic)]
        return [make_optimizer(params, "adam", lr, 0.0, betas=tuple(hp.betas),
                               fused=self.fused_optimizer())
                for params, lr in zip(trainable, (hp.lr_g, hp.lr_d))]

    # -- evaluation ----------------------------------------------------------------------------
    def _eval_step(self, batch, stage: str) -> dict:
        x = (batch[0] if isinstance(batch, (tuple, list)) else batch).float()
        fake = self(x)
        # the error the epoch's scores are built from: finite if the input and output are
        self.check_finite(fake - x, stage, x, what="error of the generated channels")
        self._eval.setdefault(stage, []).append((x.detach().cpu(), fake.detach().cpu()))
        return {"real": x, "fake": fake, "input_channel": self.channel_names[self.val_channel]}

    def validation_step(self, batch, batch_idx):
        return self._eval_step(batch, "val")

    def test_step(self, batch, batch_idx):
        return self._eval_step(batch, "test")

    def predict_step(self, batch, batch_idx):
        x = (batch[0] if isinstance(batch, (tuple, list)) else batch).float()
        fake = self(x)
        self.check_finite(fake, "predict", x, what="generator output", batch_idx=batch_idx)
        return fake

    def _finish(self, stage: str):
        pairs = self._eval.pop(stage, [])
        if not pairs:
            return
        real = torch.cat([p[0] for p in pairs]).double()
        fake = torch.cat([p[1] for p in pairs]).double()
        gen = [i for i in range(real.shape[1]) if i != self.val_channel]
        err = fake - real
        mse = (err ** 2).mean(-1).mean(0)  # (C,)
        mae = err.abs().mean(-1).mean(0)
        a = real - real.mean(-1, keepdim=True)
        b = fake - fake.mean(-1, keepdim=True)
        den = (a.pow(2).sum(-1) * b.pow(2).sum(-1)).sqrt()
        r = torch.where(den > 0, (a * b).sum(-1) / den.clamp_min(1e-12), torch.nan)
        r = torch.nanmean(r, dim=0)
        logs = {f"{stage}_mse": mse[gen].mean(), f"{stage}_pearson": torch.nanmean(r[gen])}
        for i in gen:
            logs[f"{stage}_mse_{self.channel_names[i]}"] = mse[i]
            logs[f"{stage}_pearson_{self.channel_names[i]}"] = r[i]
        fd_ids = [i for i in self._frechet_ids if i in gen]  # the input is copied: left out
        if fd_ids:
            from biosig.metrics.frechet import frechet_distance_curve

            fd = frechet_distance_curve(real[:, fd_ids].numpy(), fake[:, fd_ids].numpy(),
                                        sfreq=self.sfreq)
            logs[f"{stage}_fd"] = torch.tensor(float(np.mean(fd)))
        # per-rank means over equal DistributedSampler shards, averaged across ranks
        self.log(f"{stage}_l1", mae[gen].mean().float(), prog_bar=True, sync_dist=True)
        self.log_dict({k: v.float() for k, v in logs.items()}, sync_dist=True)

    def on_validation_epoch_end(self):
        self._finish("val")

    def on_test_epoch_end(self):
        self._finish("test")
