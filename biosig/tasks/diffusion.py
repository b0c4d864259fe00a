"""Diffusion pretraining of EEGDM's SSMDP (v-prediction DDPM) and its EMA warm-up callback.

References: Puah et al., "EEGDM", arXiv:2508.14086 (2025); facts checked against the
official code's behaviour in ``shared/reference/eegdm.md``.
"""

from __future__ import annotations

import torch
from lightning.pytorch.callbacks import WeightAveraging

from biosig.diffusion import GaussianDiffusion
from biosig.errors import ConfigError
from biosig.tasks.base import BiosigTask

__all__ = ["DiffusionTask", "WarmupEMA", "ema_warmup_decay"]


def ema_warmup_decay(step: int, max_decay: float = 0.999, update_after_step: int = 100,
                     power: float = 2 / 3, inv_gamma: float = 1.0) -> float:
    """EMA decay used at the ``step``-th (0-based) optimizer step (EEGDM's ``ema-pytorch`` 0.7.7).

    0 (the average is a copy) up to ``update_after_step``; then
    ``min(max_decay, 1 - (1 + (step - update_after_step) / inv_gamma) ** -power)``: 0.797 at
    step 110, 0.998 near 13 k steps, 0.999 only after about 31.7 k steps.
    """
    epoch = step - update_after_step
    if epoch <= 0:
        return 0.0
    return min(max_decay, 1.0 - (1.0 + epoch / inv_gamma) ** -power)


class WarmupEMA(WeightAveraging):
    """EMA of the weights with EEGDM's warm-up (see :func:`ema_warmup_decay`).

    Built on Lightning's :class:`~lightning.pytorch.callbacks.WeightAveraging` (Lightning's
    ``EMAWeightAveraging`` has a fixed decay, so it cannot express the warm-up): the average is
    updated every ``update_every`` optimizer steps (step indices 0, 10, 20, ...), swapped in for
    validation, stored as the checkpoint's ``state_dict`` and copied into the model when
    training ends. Integer buffers are copied, not averaged.
    """

    def __init__(self, max_decay: float = 0.999, update_after_step: int = 100,
                 update_every: int = 10, power: float = 2 / 3, inv_gamma: float = 1.0,
                 device=None, use_buffers: bool = True):
        if not 0 <= max_decay < 1 or update_every < 1 or update_after_step < 0:
            raise ConfigError("WarmupEMA: need 0 <= max_decay < 1, update_every >= 1 and "
                              f"update_after_step >= 0 (got {max_decay}, {update_every}, "
                              f"{update_after_step})")
        super().__init__(device=device, use_buffers=use_buffers, multi_avg_fn=self._average)
        self.max_decay, self.update_after_step = float(max_decay), int(update_after_step)
        self.update_every, self.power, self.inv_gamma = int(update_every), power, inv_gamma
        self.step_idx = 0

    def decay(self) -> float:
        return ema_warmup_decay(self.step_idx, self.max_decay, self.update_after_step,
                                self.power, self.inv_gamma)

    def should_update(self, step_idx=None, epoch_idx=None) -> bool:
        if step_idx is None or step_idx % self.update_every:
            return False
        self.step_idx = int(step_idx)
        return True

    def _average(self, averaged, current, n_averaged) -> None:
        if not averaged[0].is_floating_point():
            torch._foreach_copy_(averaged, current)
            return
        torch._foreach_lerp_(averaged, current, 1.0 - self.decay())


class DiffusionTask(BiosigTask):
    """DDPM pretraining of a channel-conditioned single-channel denoiser (EEGDM's SSMDP).

    Each window ``(B, C, T)`` of EEG in µV becomes ``C`` single-channel samples with their
    channel ids (``channels_per_window > 0`` keeps that many random channels per window, closer
    to EEGDM's independent single-channel samples); the network's ``encode_signal`` (µV / 100
    and staged mu-law for SSMDP) maps them to the diffusion domain. Loss: MSE of the predicted
    velocity at ``t ~ U{0..T-1}`` (v-prediction). Use :class:`WarmupEMA` as a callback for
    EEGDM's EMA (validation and the final weights are then the EMA weights) and
    ``gradient_clip_val=1`` in the trainer.

    Parameters
    ----------
    model, model_kwargs, n_chans, n_times, sfreq, n_outputs : as :class:`BiosigTask`.
    n_diffusion_steps, schedule, clip_sample : :class:`biosig.diffusion.GaussianDiffusion`
        (EEGDM: 50, ``"cosine"``, 1.0).
    channels_per_window : random channels kept per training window (0: all).
    lr, weight_decay, betas : AdamW (EEGDM's code: 1e-4, 0, PyTorch's (0.9, 0.999); the paper
        writes beta1 = 0.99); S4D's ``dt, A, B`` never get weight decay.

    Logged: ``train_loss`` and ``val_loss`` (validation noise is seeded per batch, so the
    value is comparable across epochs). :meth:`sample` generates EEG in µV.
    """

    def __init__(self, model: str = "ssmdp", model_kwargs: dict | None = None, n_chans: int = 0,
                 n_times: int = 0, sfreq: float = 0.0, n_outputs: int = 0,
                 n_diffusion_steps: int = 50, schedule: str = "cosine",
                 clip_sample: float | None = 1.0, channels_per_window: int = 0,
                 lr: float = 1e-4, weight_decay: float = 0.0,
                 betas: tuple[float, float] = (0.9, 0.999)):
        if channels_per_window < 0 or channels_per_window > n_chans:
            raise ConfigError(f"model.channels_per_window must be in [0, n_chans={n_chans}], "
                              f"got {channels_per_window}")
        super().__init__(model, model_kwargs, n_chans, n_times, sfreq, n_outputs)
        for attr in ("encode_signal", "decode_signal"):
            if not callable(getattr(self.net, attr, None)):
                raise ConfigError(f"model {model!r} is not a diffusion denoiser (no {attr})")
        self.save_hyperparameters()
        self.diffusion = GaussianDiffusion(n_diffusion_steps, schedule, clip_sample)

    def build_net(self, model, model_kwargs, n_chans, n_times, sfreq, n_outputs):
        # a denoiser has no classes: n_outputs is passed only when the data define some
        return super().build_net(model, model_kwargs, n_chans, n_times, sfreq, n_outputs or None)

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
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite {stage} diffusion loss")
        self.log(f"{stage}_loss", loss, prog_bar=True, on_step=stage == "train", on_epoch=True,
                 batch_size=x.shape[0], sync_dist=stage != "train")
        return loss

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def _seeded(self, batch_idx: int) -> torch.Generator:
        return torch.Generator(device=self.device).manual_seed(batch_idx)

    def validation_step(self, batch, batch_idx):
        return self._step(batch, "val", self._seeded(batch_idx))

    def test_step(self, batch, batch_idx):
        return self._step(batch, "test", self._seeded(batch_idx))

    @torch.no_grad()
    def sample(self, n: int, method: str = "ddpm", steps: int | None = None,
               n_times: int | None = None, channel_ids=None, generator=None) -> torch.Tensor:
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
        y = self.diffusion.sample(lambda xt, t: self.net(xt, t, flat_ids), (n * c, 1, n_times),
                                  steps=steps, method=method, device=self.device,
                                  generator=generator)
        self.net.train(was_training)
        return self.net.decode_signal(y).reshape(n, c, n_times)

    def configure_optimizers(self):
        ssm = {id(p) for p in getattr(self.net, "ssm_parameters", lambda: iter(()))()}
        groups = [
            {"params": [p for p in self.net.parameters() if id(p) not in ssm],
             "weight_decay": self.hparams.weight_decay},
            {"params": [p for p in self.net.parameters() if id(p) in ssm], "weight_decay": 0.0},
        ]
        return torch.optim.AdamW([g for g in groups if g["params"]], lr=self.hparams.lr,
                                 betas=tuple(self.hparams.betas))
