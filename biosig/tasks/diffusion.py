"""Diffusion pretraining of EEGDM's SSMDP (v-prediction DDPM).

EMA with the official warm-up: :class:`biosig.callbacks.WarmupEMA`.

References: Puah et al., "EEGDM", arXiv:2508.14086 (2025); facts checked against the
official code's behaviour (``jhpuah/EEGDM``), summarised in ``docs/models/eegdm.md``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from biosig.diffusion import GaussianDiffusion
from biosig.errors import ConfigError
from biosig.tasks.base import BiosigTask, NetworkKind, make_optimizer

__all__ = ["DiffusionTask"]


class DiffusionTask(BiosigTask):
    """DDPM pretraining of a channel-conditioned single-channel denoiser (EEGDM's SSMDP).

    Each window ``(B, C, T)`` of EEG in µV becomes ``C`` single-channel samples with their
    channel ids (``channels_per_window > 0`` keeps that many random channels per window, closer
    to EEGDM's independent single-channel samples); the network's ``encode_signal`` (µV / 100
    and staged mu-law for SSMDP) maps them to the diffusion domain. Loss: MSE of the predicted
    velocity at ``t ~ U{0..T-1}`` (v-prediction). Use :class:`biosig.callbacks.WarmupEMA` as a
    callback for EEGDM's EMA (validation and the final weights are then the EMA weights) and
    ``gradient_clip_val=1`` in the trainer.

    Parameters
    ----------
    model, model_kwargs, n_chans, n_times, sfreq, n_outputs : as :class:`BiosigTask`.
    n_diffusion_steps, schedule, clip_sample : :class:`biosig.diffusion.GaussianDiffusion`
        (EEGDM: 50, ``"cosine"``, 1.0).
    channels_per_window : random channels kept per training window (0: all).
    lr : AdamW's learning rate (EEGDM's code: 1e-4).
    weight_decay : AdamW's weight decay (EEGDM's code: 0); parameters named by the network's
        ``no_weight_decay()`` (S4D's ``dt, A, B``) get none
        (:func:`biosig.tasks.base.make_optimizer`).
    betas : AdamW's betas (EEGDM's code: PyTorch's (0.9, 0.999); the paper writes
        beta1 = 0.99).

    Logged: ``train_loss`` and ``val_loss``, epoch means over every DDP rank, and
    ``train_loss_step``, this rank's per step (validation noise is seeded per batch, so the
    value is comparable across epochs). :meth:`sample` generates EEG in µV.
    """

    TEST_METRICS = ("loss",)
    NETWORKS = {"model": NetworkKind(
        "a diffusion denoiser (encode_signal, decode_signal)", "denoisers",
        lambda cls: all(callable(getattr(cls, a, None)) for a in ("encode_signal",
                                                                   "decode_signal")))}
    ARG_RULES = {"n_diffusion_steps": dict(ge=1, integer=True),
                 "clip_sample": dict(gt=0, optional=True),
                 "channels_per_window": dict(ge=0, integer=True)}

    def __init__(
        self,
        model: str = "ssmdp",
        model_kwargs: dict | None = None,
        n_chans: int | None = None,
        n_times: int | None = None,
        sfreq: float | None = None,
        n_outputs: int | None = None,
        ch_names: list[str] | None = None,
        n_diffusion_steps: int = 50,
        schedule: str = "cosine",
        clip_sample: float | None = 1.0,
        channels_per_window: int = 0,
        lr: float = 1e-4,
        weight_decay: float = 0.0,
        betas: tuple[float, float] = (0.9, 0.999),
    ):
        self.check_args(locals())
        if channels_per_window < 0 or (n_chans is not None and channels_per_window > n_chans):
            raise ConfigError(
                f"model.channels_per_window must be in [0, n_chans={n_chans}], "
                f"got {channels_per_window}"
            )
        # a denoiser has no classes: the data's n_outputs (linked by the CLI) is not used
        super().__init__(model, model_kwargs, n_chans, n_times, sfreq, None, ch_names=ch_names)
        self.save_hyperparameters()
        self.diffusion = GaussianDiffusion(n_diffusion_steps, schedule, clip_sample)

    def save_pretrained(self, directory, **card) -> Path:
        """As :meth:`BiosigTask.save_pretrained`, with the sampler's settings
        (``n_diffusion_steps``, ``schedule``, ``clip_sample``) in the card's ``recipe``, where
        :func:`biosig.analysis.generate.generate` reads them; a ``recipe`` dict given here is
        merged in and must not contradict them."""
        sampler = {k: self.hparams[k] for k in ("n_diffusion_steps", "schedule", "clip_sample")}
        return super().save_pretrained(directory, **self._card_with_recipe(card, sampler))

    def _samples(self, x: torch.Tensor, generator=None):
        """``(B, C, T)`` µV -> ``(N, 1, T)`` diffusion-domain samples, ``(N, 1)`` channel ids."""
        b, c, t = x.shape
        ids = self.net._ids_tensor(x, None)
        y = self.net.encode_signal(x)
        k = self.hparams.channels_per_window
        if k and k < c:
            keep = torch.rand(b, c, device=x.device, generator=generator).argsort(1)[:, :k]
            y, ids, c = y.gather(1, keep[..., None].expand(b, k, t)), ids.gather(1, keep), k
        return y.reshape(b * c, 1, t), ids.reshape(b * c, 1)

    def diffusion_loss(self, x: torch.Tensor, generator=None) -> torch.Tensor:
        """v-prediction MSE of windows ``(B, C, T)`` in µV (random steps, noise, channels)."""
        y, ids = self._samples(x, generator)
        return self.diffusion.loss(lambda xt, t: self.net(xt, t, ids), y, generator)

    def _step(self, batch, stage: str, generator=None) -> torch.Tensor:
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        loss = self.diffusion_loss(x, generator)
        self.check_finite(loss, stage, x)
        self.log_loss(stage, loss, x.shape[0])
        return loss

    def _seeded(self, batch_idx: int) -> torch.Generator:
        return torch.Generator(device=self.device).manual_seed(batch_idx)

    def validation_step(self, batch, batch_idx):
        return self._step(batch, "val", self._seeded(batch_idx))

    def test_step(self, batch, batch_idx):
        return self._step(batch, "test", self._seeded(batch_idx))

    @torch.no_grad()
    def sample(
        self,
        n: int,
        method: str = "ddpm",
        steps: int | None = None,
        n_times: int | None = None,
        channel_ids=None,
        generator=None,
    ) -> torch.Tensor:
        """``(n, C, n_times)`` generated EEG in µV, each channel with its own channel id.

        The denoiser is single-channel: channels are generated independently (no spatial
        coherence). ``method``/``steps``: ancestral ``"ddpm"`` (all ``T`` steps) or
        deterministic ``"ddim"`` with ``steps`` steps.
        """
        n_times = n_times or self.hparams.n_times
        ids = channel_ids if channel_ids is not None else self.net.channel_ids
        if ids is None:
            raise ConfigError("sample needs channel_ids (the network has none)")
        ids = torch.as_tensor(list(ids), device=self.device, dtype=torch.long)
        c = ids.numel()
        flat_ids = ids.repeat(n)[:, None]
        was_training = self.net.training
        self.net.eval()
        y = self.diffusion.sample(
            lambda xt, t: self.net(xt, t, flat_ids),
            (n * c, 1, n_times),
            steps=steps,
            method=method,
            device=self.device,
            generator=generator,
        )
        self.net.train(was_training)
        return self.net.decode_signal(y).reshape(n, c, n_times)

    def configure_optimizers(self):
        hp = self.hparams
        return make_optimizer(self.trainable_parameters(), "adamw", hp.lr, hp.weight_decay,
                              betas=tuple(hp.betas), module=self.net,
                              fused=self.fused_optimizer())
