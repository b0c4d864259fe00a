"""vEEGNet-ver3: the single-latent EEGNet VAE that hvEEGNet is compared with.

A. Zancanaro, G. Cisotto, I. Zoppis, S. L. Manzoni, "hvEEGNet: exploiting hierarchical VAEs on
EEG data for neuroscience applications", arXiv 2312.00799 (2023), which introduces vEEGNet-ver3
and hvEEGNet; predecessor vEEGNet (ICT4AWE 2023, arXiv 2312.09449). Reimplemented from the
description of the official code (no licence, no code copied).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from biosig.errors import ConfigError
from biosig.models._registry import register_model
from biosig.models.blocks.eegnet_cells import (
    ConvGaussian,
    EEGNetDecoderCells,
    EEGNetVAEBase,
)
from biosig.models.blocks.vae import VAEOutput, gaussian_kl

__all__ = ["VEEGNet"]


@register_model("veegnet")
class VEEGNet(EEGNetVAEBase):
    """vEEGNet-ver3: EEGNet encoder, one convolutional latent, mirrored decoder [Zancanaro2023]_.

    The same encoder and decoder cells as :class:`~biosig.models.HVEEGNet` (temporal
    ``(1, 128)``, depthwise spatial ``(C, 1)``, separable ``(1, 32)``, AvgPool ``(1, 10)``;
    F1 = 8, D = 2, F2 = 16) with a single latent ``z`` of shape ``(16, 1, T // 10)`` from an
    ELU + 1x1 convolutional Gaussian map (the official ``parameters_map_type = 0``), decoded
    directly by the Upsample decoder. Trained with the same soft-DTW + KL loss.

    Parameters
    ----------
    n_chans, n_times, n_outputs, sfreq, chs_info, F1, D, F2, temporal_kernel, separable_kernel,
    pool, drop_prob, activation, sampling_activation, use_classifier :
        As in :class:`~biosig.models.HVEEGNet` (``sfreq`` required unless both kernels are
        given; ``n_outputs`` only for the optional classifier on ``[mu, logvar]``, off by
        default, the same head as hvEEGNet's).

    Notes
    -----
    Input ``(B, C, T)`` EEG in µV; ``forward`` returns a
    :class:`~biosig.models.blocks.vae.VAEOutput` with one KL term.

    Parameter count at C = 22, T = 1000: **4,992** (encoder cells 2,224 + Gaussian map 544 +
    decoder cells 2,224). The exact vEEGNet-ver3 configuration (same kernels as hvEEGNet and a
    convolutional latent without a fully connected layer) follows the official code's
    shared cells; not confirmed from the paper.

    References
    ----------
    .. [Zancanaro2023] A. Zancanaro, G. Cisotto, I. Zoppis, S. L. Manzoni. hvEEGNet: exploiting
       hierarchical VAEs on EEG data for neuroscience applications. arXiv 2312.00799, 2023.
    """

    n_levels = 1
    paper = "vEEGNet-ver3, Zancanaro et al., arXiv 2312.00799"
    task = "single-latent VAE baseline"
    paper_settings = dict(n_chans=22, n_times=1000, sfreq=250.0)
    paper_n_params = 4_992

    def _build_latents(self, cell_kw: dict, s_act: type[nn.Module] | None) -> None:
        F2 = cell_kw["F2"]
        self.posterior = ConvGaussian(F2, F2, s_act)
        self.decoder = EEGNetDecoderCells(self.n_chans, self.n_times, **cell_kw)
        self.latent_shapes = [(F2, 1, self.n_pooled)]

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance, each ``(B, 16, 1, T // 10)``."""
        return self.posterior(self.encoder(self._check_input(x))[-1])

    def forward(self, x: torch.Tensor) -> VAEOutput:
        """Encode ``x`` ``(B, C, T)`` µV, sample ``z`` and decode."""
        mu, lv = self.encode(x)
        z = ConvGaussian.sample(mu, lv)
        x_hat = self.decoder(z).squeeze(1)
        log_probs = (self.forward_head(torch.cat([mu, lv], 1).flatten(1))
                     if self.classifier is not None else None)
        return VAEOutput(x_hat=x_hat, z=[z], kl=[gaussian_kl(mu, lv)], mu=[mu], logvar=[lv],
                         log_probs=log_probs)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, sample: bool = False) -> torch.Tensor:
        """Reconstruction ``(B, C, T)`` µV from the posterior mean (or a sample); no gradient."""
        mu, lv = self.encode(x)
        z = ConvGaussian.sample(mu, lv) if sample else mu
        return self.decoder(z).squeeze(1)

    @torch.no_grad()
    def generate(self, n: int = 1, sample: bool = True) -> torch.Tensor:
        """``n`` trials ``(n, C, T)`` in µV decoded from z ~ N(0, I) (z = 0 if not ``sample``)."""
        if int(n) < 1:
            raise ConfigError(f"n must be >= 1, got {n}")
        ref = next(self.parameters())
        z = ref.new_zeros((int(n), *self.latent_shapes[0]))
        if sample:
            z.normal_()
        return self.decoder(z).squeeze(1)
