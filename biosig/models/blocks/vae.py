"""Output record and KL divergences shared by the (hierarchical) VAEs."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``KL(N(mu, e^logvar) || N(0, I))`` per sample: ``-1/2 sum(1 + logvar - mu^2 - e^logvar)``.

    Sums over every dimension but the first; returns shape ``(B,)``.
    """
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())
    return kl.flatten(1).sum(1)


def residual_gaussian_kl(delta_mu: torch.Tensor, delta_logvar: torch.Tensor,
                         prior_logvar: torch.Tensor) -> torch.Tensor:
    """NVAE residual KL (Vahdat & Kautz, 2020, eq. 2) per sample, shape ``(B,)``.

    ``KL(N(mu_p + dmu, s_p^2 e^dlogvar) || N(mu_p, s_p^2)) =
    -1/2 sum(1 + dlogvar - dmu^2 / s_p^2 - e^dlogvar)``.
    """
    kl = -0.5 * (1 + delta_logvar - delta_mu.pow(2) * torch.exp(-prior_logvar) - delta_logvar.exp())
    return kl.flatten(1).sum(1)


@dataclass
class VAEOutput:
    """What a forward pass of a (hierarchical) VAE returns.

    Attributes
    ----------
    x_hat : reconstruction ``(B, C, T)`` (EEG in µV, as the input).
    z : latent samples, deepest level first.
    kl : per-level KL terms, each ``(B,)`` (deepest first); only levels whose posterior used
        the encoder contribute.
    mu, logvar : per level, the deepest level's posterior and the lower levels' priors.
    delta_mu, delta_logvar : posterior residuals of the lower levels (NVAE).
    log_probs : optional classifier output (log-probabilities), else ``None``.
    """

    x_hat: torch.Tensor
    z: list[torch.Tensor] = field(default_factory=list)
    kl: list[torch.Tensor] = field(default_factory=list)
    mu: list[torch.Tensor] = field(default_factory=list)
    logvar: list[torch.Tensor] = field(default_factory=list)
    delta_mu: list[torch.Tensor] = field(default_factory=list)
    delta_logvar: list[torch.Tensor] = field(default_factory=list)
    log_probs: torch.Tensor | None = None

    def kl_total(self) -> torch.Tensor:
        """Sum of the KL terms over levels, per sample ``(B,)``."""
        if not self.kl:
            return self.x_hat.new_zeros(self.x_hat.shape[0])
        return torch.stack(self.kl, 0).sum(0)
