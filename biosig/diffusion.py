"""Gaussian diffusion for EEG: schedules, staged mu-law, v-prediction DDPM and samplers.

Written for EEGDM's SSMDP (Puah et al. 2025) from the papers' equations:

- cosine noise schedule (Nichol & Dhariwal 2021): ``abar(s) = cos((s + 0.008) / 1.008 * pi/2)^2``,
  ``beta_i = min(1 - abar((i+1)/T) / abar(i/T), 0.999)``, ``abar_t = prod_{i<=t} (1 - beta_i)``;
  EEGDM uses ``T = 50`` (``abar[0] = 0.998253``, ``abar[24] = 0.493844``, ``abar[49] = 1e-6``);
- v-prediction (Salimans & Ho 2022): ``x_t = sqrt(abar) x0 + sqrt(1-abar) eps``,
  ``v = sqrt(abar) eps - sqrt(1-abar) x0``; the loss is the MSE between predicted and true ``v``;
- ancestral sampling (Ho et al. 2020) with the posterior variance ``beta~_t`` ("fixed small")
  and the predicted ``x0`` clipped to ``[-clip, clip]`` (EEGDM's sampler defaults);
- a deterministic DDIM sampler (Song et al. 2021, ``eta = 0``) on a few evenly spaced steps,
  an addition of biosig (the paper samples with all 50 steps);
- EEGDM's staged mu-law (paper Eq. 11, ``mu = 255``): identity on ``[-1, 1]``, logarithmic
  compression beyond, so large artefacts stay in range for the denoiser.

A denoiser is any callable ``model(x_t, t) -> v`` with ``x_t`` of any shape ``(batch, ...)``
and ``t`` a ``(batch,)`` long tensor of step indices ``0 .. T-1``.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn as nn

from biosig.errors import ConfigError

__all__ = [
    "GaussianDiffusion", "cosine_alphas_cumprod", "ddim_timesteps", "inverse_staged_mu_law",
    "linear_alphas_cumprod", "staged_mu_law",
]

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def cosine_alphas_cumprod(n_steps: int, max_beta: float = 0.999) -> torch.Tensor:
    """``abar_t``, ``t = 0 .. n_steps-1``, of the capped cosine schedule (float64)."""
    if n_steps < 1:
        raise ConfigError(f"n_steps must be >= 1, got {n_steps}")
    s = torch.arange(n_steps + 1, dtype=torch.float64) / n_steps
    f = torch.cos((s + 0.008) / 1.008 * math.pi / 2) ** 2
    betas = (1 - f[1:] / f[:-1]).clamp(max=max_beta)
    return torch.cumprod(1 - betas, 0)


def linear_alphas_cumprod(n_steps: int, beta_start: float = 1e-4,
                          beta_end: float = 0.05) -> torch.Tensor:
    """``abar_t`` of a linear beta schedule (EEGDM's ablation values as defaults; float64)."""
    if n_steps < 1 or not 0 < beta_start <= beta_end < 1:
        raise ConfigError(f"linear schedule needs n_steps >= 1 and 0 < beta_start <= beta_end < 1"
                          f", got {n_steps}, {beta_start}, {beta_end}")
    return torch.cumprod(1 - torch.linspace(beta_start, beta_end, n_steps, dtype=torch.float64), 0)


def staged_mu_law(x: torch.Tensor, mu: float = 255.0) -> torch.Tensor:
    """Identity for ``|x| <= 1``, ``sign(x) ln(1 + mu|x|) / ln(1 + mu)`` beyond (continuous)."""
    a = x.abs()
    return torch.where(a <= 1, x, torch.sign(x) * torch.log1p(mu * a) / math.log1p(mu))


def inverse_staged_mu_law(y: torch.Tensor, mu: float = 255.0) -> torch.Tensor:
    """Inverse of :func:`staged_mu_law`: ``sign(y) ((1 + mu)^|y| - 1) / mu`` for ``|y| > 1``."""
    a = y.abs()
    return torch.where(a <= 1, y, torch.sign(y) * torch.expm1(a * math.log1p(mu)) / mu)


def ddim_timesteps(n_train: int, n_steps: int) -> list[int]:
    """``n_steps`` evenly spaced steps ending at ``n_train - 1`` ("trailing"; 50, 10 -> 49 .. 4)."""
    if not 1 <= n_steps <= n_train:
        raise ConfigError(f"sampling steps must be in [1, {n_train}], got {n_steps}")
    return [int(round(n_train - i * n_train / n_steps)) - 1 for i in range(n_steps)]


class GaussianDiffusion(nn.Module):
    """DDPM with v-prediction over a fixed schedule (buffers move with ``.to(device)``).

    Parameters
    ----------
    n_steps : diffusion steps ``T`` (EEGDM: 50).
    schedule : ``"cosine"`` (EEGDM) or ``"linear"`` (its ablation, betas 1e-4 .. 0.05).
    clip_sample : predicted ``x0`` is clipped to ``[-clip_sample, clip_sample]`` while sampling
        (EEGDM samples with 1.0, the diffusers default); ``None`` disables clipping.
    """

    def __init__(self, n_steps: int = 50, schedule: str = "cosine",
                 clip_sample: float | None = 1.0):
        super().__init__()
        if schedule == "cosine":
            abar = cosine_alphas_cumprod(n_steps)
        elif schedule == "linear":
            abar = linear_alphas_cumprod(n_steps)
        else:
            raise ConfigError(f"schedule must be 'cosine' or 'linear', got {schedule!r}")
        if clip_sample is not None and not clip_sample > 0:
            raise ConfigError(f"clip_sample must be positive or None, got {clip_sample!r}")
        self.n_steps, self.schedule, self.clip_sample = int(n_steps), schedule, clip_sample
        self.register_buffer("alphas_cumprod", abar.float(), persistent=False)

    def _coef(self, t: torch.Tensor, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        abar = self.alphas_cumprod.to(like.device)[t].to(like.dtype)
        shape = (-1,) + (1,) * (like.ndim - 1)
        return abar.sqrt().reshape(shape), (1 - abar).sqrt().reshape(shape)

    def sample_timesteps(self, n: int, device=None, generator=None) -> torch.Tensor:
        """``t ~ U{0 .. T-1}``."""
        return torch.randint(0, self.n_steps, (n,), device=device, generator=generator)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        a, s = self._coef(t, x0)
        return a * x0 + s * noise

    def velocity(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        a, s = self._coef(t, x0)
        return a * noise - s * x0

    def predict_x0_eps(self, x_t: torch.Tensor, t: torch.Tensor,
                       v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, s = self._coef(t, x_t)
        return a * x_t - s * v, s * x_t + a * v

    def loss(self, model: Denoiser, x0: torch.Tensor, generator=None) -> torch.Tensor:
        """MSE between ``model(x_t, t)`` and the true velocity, mean over all elements."""
        t = self.sample_timesteps(x0.shape[0], x0.device, generator)
        noise = torch.randn(x0.shape, device=x0.device, dtype=x0.dtype, generator=generator)
        v_hat = model(self.q_sample(x0, t, noise), t)
        return nn.functional.mse_loss(v_hat, self.velocity(x0, t, noise))

    def _clip(self, x0: torch.Tensor) -> torch.Tensor:
        c = self.clip_sample
        return x0 if c is None else x0.clamp(-c, c)

    @torch.no_grad()
    def sample(self, model: Denoiser, shape, steps: int | None = None, method: str = "ddpm",
               device=None, generator=None) -> torch.Tensor:
        """Generate ``shape`` samples from Gaussian noise.

        ``method="ddpm"``: ancestral sampling over all ``T`` steps (``T-1 .. 0``; EEGDM's own
        loop stops after ``t = 1``, one step short of the clean estimate). ``method="ddim"``:
        deterministic DDIM over ``steps`` steps (default ``T``). Both run in float32.
        """
        if method not in ("ddpm", "ddim"):
            raise ConfigError(f"sampling method must be 'ddpm' or 'ddim', got {method!r}")
        if method == "ddpm" and steps not in (None, self.n_steps):
            raise ConfigError(f"ancestral sampling runs all {self.n_steps} steps; use "
                              f"method='ddim' for {steps}")
        x = torch.randn(tuple(shape), device=device, generator=generator)
        if method == "ddpm":
            return self._ancestral(model, x, generator)
        return self._ddim(model, x, ddim_timesteps(self.n_steps,
                                                   self.n_steps if steps is None else steps))

    def _ancestral(self, model: Denoiser, x: torch.Tensor, generator) -> torch.Tensor:
        abar = self.alphas_cumprod.to(x.device)
        for t in range(self.n_steps - 1, -1, -1):
            tt = torch.full((x.shape[0],), t, device=x.device, dtype=torch.long)
            x0, _ = self.predict_x0_eps(x, tt, model(x, tt).float())
            x0 = self._clip(x0)
            a_t, a_prev = abar[t], (abar[t - 1] if t > 0 else abar.new_ones(()))
            beta = 1 - a_t / a_prev
            mean = (a_prev.sqrt() * beta * x0 + (1 - beta).sqrt() * (1 - a_prev) * x) / (1 - a_t)
            if t == 0:
                return mean
            var = ((1 - a_prev) / (1 - a_t) * beta).clamp_min(1e-20)
            noise = torch.randn(x.shape, device=x.device, generator=generator)
            x = mean + var.sqrt() * noise
        return x

    def _ddim(self, model: Denoiser, x: torch.Tensor, timesteps: list[int]) -> torch.Tensor:
        abar = self.alphas_cumprod.to(x.device)
        for i, t in enumerate(timesteps):
            tt = torch.full((x.shape[0],), t, device=x.device, dtype=torch.long)
            x0, eps = self.predict_x0_eps(x, tt, model(x, tt).float())
            if self.clip_sample is not None:  # keep eps consistent with the clipped x0
                x0 = self._clip(x0)
                eps = (x - abar[t].sqrt() * x0) / (1 - abar[t]).sqrt()
            a_prev = abar[timesteps[i + 1]] if i + 1 < len(timesteps) else abar.new_ones(())
            x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
        return x
