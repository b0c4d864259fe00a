"""hvEEGNet: hierarchical variational autoencoder for high-fidelity EEG reconstruction.

G. Cisotto, A. Zancanaro, I. F. Zoppis, S. L. Manzoni, "hvEEGNet: a novel deep learning model
for high-fidelity EEG reconstruction", Frontiers in Neuroinformatics 18:1459970 (2024),
doi:10.3389/fninf.2024.1459970; preprint arXiv 2312.00799. Reimplemented from the description
of the official code (``jesus-333/Variational-Autoencoder-for-EEG-analysis``, branch
``hvEEGNet_paper``; no licence, no code copied).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from biosig.errors import ConfigError
from biosig.models._registry import register_model
from biosig.models.blocks.eegnet_cells import (
    ConcatMix,
    ConvGaussian,
    EEGNetDecoderCells,
    EEGNetVAEBase,
)
from biosig.models.blocks.vae import VAEOutput, gaussian_kl, residual_gaussian_kl

__all__ = ["HVEEGNet"]


@register_model("hveegnet")
class HVEEGNet(EEGNetVAEBase):
    """hvEEGNet: EEGNet encoder, mirrored decoder, three NVAE-style latent levels [Cisotto2024]_.

    Encoder (EEGNet cells): temporal ``(1, 128)`` conv -> depthwise spatial ``(C, 1)`` conv ->
    separable ``(1, 32)`` conv + AvgPool ``(1, 10)``; F1 = 8, D = 2, F2 = 16, ELU, Dropout2d 0.5,
    no bias. The deepest posterior ``q(z1 | x)`` maps the last encoder cell with ELU + 1x1 conv.
    The decoder runs top-down: ``mix(h = 0, z1)`` -> D1 (upsample, separable) -> prior
    ``p(z2 | z1)`` corrected by a residual posterior from the decoder state and the spatial
    encoder cell -> ``mix(., z2)`` -> D2 (transposed spatial conv) -> prior ``p(z3 | z<3)`` with
    a residual posterior from the temporal encoder cell -> ``mix(., z3)`` -> D3 (temporal conv,
    ``final_layer``). Latent shapes at C = 22, T = 1000: z1 ``(16, 1, 100)``, z2
    ``(16, 1, 1000)``, z3 ``(8, 22, 1000)``.

    Parameters
    ----------
    n_chans, n_times : int
        EEG channels and samples per trial (paper: 22 x 1000 at 250 Hz).
    n_outputs : int, optional
        Classes of the optional classifier head (only used with ``use_classifier=True``).
    sfreq : float
        Sampling rate; the kernels keep the paper's durations at other rates (128 and 32
        samples at 250 Hz) unless ``temporal_kernel`` / ``separable_kernel`` are given.
        Required unless both kernels are given (no rate is assumed).
    chs_info : list of dict, optional
        MNE-style channel info (only its length is used when ``n_chans`` is None).
    F1, D, F2 : int
        EEGNet filter counts (8, 2, 16).
    temporal_kernel, separable_kernel : int, optional
        Kernel lengths in samples (default from ``sfreq``; 128 and 32 at 250 Hz).
    pool : int
        Temporal pooling of the last encoder cell (10).
    drop_prob : float
        Dropout2d probability in encoder and decoder (0.5).
    activation : type of nn.Module
        Activation class (``nn.ELU``).
    sampling_activation : bool
        Apply the activation before each 1x1 Gaussian map (official config: True).
    use_classifier : bool
        Add the optional ``Linear(2 |z1|, n_outputs)`` + LogSoftmax head on ``[mu1, logvar1]``
        (off in the paper). ``forward_features`` gives that input, ``forward_head`` the head;
        ``reset_head(n_outputs)`` replaces or adds it (e.g. a probe on the latent).

    Notes
    -----
    Input ``(B, C, T)`` EEG in µV (a singleton depth axis is added internally); ``forward``
    returns a :class:`~biosig.models.blocks.vae.VAEOutput` with the reconstruction ``(B, C, T)``
    and the per-level KL terms (level 1: standard Gaussian KL; levels 2-3: NVAE residual KL).
    As in the official code, ``forward`` always samples the latents; :meth:`reconstruct` uses
    the posterior means by default (deterministic scores), ``sample=True`` samples.

    Parameter count at C = 22, T = 1000 (paper settings, no classifier): **8,224** (encoder
    cells 2,224 + deepest Gaussian map 544; decoder cells 2,224; decoder mixes 1,192;
    posterior mixes 664; prior maps 688; posterior maps 688). This equals the module graph of
    the official code as reconstructed layer by layer; not confirmed from the paper.

    References
    ----------
    .. [Cisotto2024] G. Cisotto, A. Zancanaro, I. F. Zoppis, S. L. Manzoni. hvEEGNet: a novel
       deep learning model for high-fidelity EEG reconstruction. Front. Neuroinform. 18:1459970,
       2024. A. Vahdat, J. Kautz. NVAE: a deep hierarchical variational autoencoder. NeurIPS 2020.
    """

    n_levels = 3
    paper = "Cisotto et al., Front. Neuroinform. 2024, arXiv 2312.00799"
    task = "hierarchical VAE: reconstruction, anomaly screening"
    paper_settings = dict(n_chans=22, n_times=1000, sfreq=250.0)
    paper_n_params = 8_224

    def _build_latents(self, cell_kw: dict, s_act: type[nn.Module] | None) -> None:
        F1, F2, FD = cell_kw["F1"], cell_kw["F2"], cell_kw["F1"] * cell_kw["D"]
        n_chans, n_times = self.n_chans, self.n_times
        self.posterior_top = ConvGaussian(F2, F2, s_act)
        self.decoder = EEGNetDecoderCells(n_chans, n_times, **cell_kw)
        # decoder state (h = 0 at the top) mixed with the sample of each level
        self.mix_decoder = nn.ModuleList([ConcatMix(F2, F2, F2), ConcatMix(FD, FD, FD),
                                          ConcatMix(F1, F1, F1)])
        # decoder state mixed with the encoder feature of the same resolution (posteriors)
        self.mix_posterior = nn.ModuleList([ConcatMix(FD, FD, FD), ConcatMix(F1, F1, F1)])
        self.prior = nn.ModuleList([ConvGaussian(FD, FD, s_act), ConvGaussian(F1, F1, s_act)])
        self.posterior = nn.ModuleList([ConvGaussian(FD, FD, s_act), ConvGaussian(F1, F1, s_act)])
        self.latent_shapes = [(F2, 1, self.n_pooled), (FD, 1, n_times), (F1, n_chans, n_times)]

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _levels(levels: Sequence[int] | None) -> tuple[bool, bool, bool]:
        if levels is None:
            return (True, True, True)
        levels = set(int(v) for v in levels)
        if not levels <= {1, 2, 3}:
            raise ConfigError(f"latent levels are 1 (deepest), 2 and 3, got {sorted(levels)}")
        return tuple(lv in levels for lv in (1, 2, 3))  # type: ignore[return-value]

    def _decode(self, enc: list[torch.Tensor] | None, use: tuple[bool, bool, bool], sample: bool,
                n: int = 0) -> VAEOutput:
        out = VAEOutput(x_hat=torch.empty(0))
        pick = ConvGaussian.sample if sample else (lambda mu, lv: mu)
        # level 1 (deepest): q(z1 | x) or the N(0, I) prior
        if enc is not None and use[0]:
            mu, lv = self.posterior_top(enc[2])
            out.kl.append(gaussian_kl(mu, lv))
        else:
            ref = next(self.parameters())
            b = enc[0].shape[0] if enc is not None else n
            mu = ref.new_zeros((b, *self.latent_shapes[0]))
            lv = torch.zeros_like(mu)
        z = pick(mu, lv)
        out.z.append(z)
        out.mu.append(mu)
        out.logvar.append(lv)
        if self.classifier is not None and enc is not None and use[0]:
            out.log_probs = self.forward_head(torch.cat([mu, lv], 1).flatten(1))
        h = self.mix_decoder[0](torch.zeros_like(z), z)
        h = self.decoder.cell(0, h)
        for lvl in (1, 2):
            mu_p, lv_p = self.prior[lvl - 1](h)
            out.mu.append(mu_p)
            out.logvar.append(lv_p)
            if enc is not None and use[lvl]:
                skip = enc[2 - lvl]  # level 2 <- spatial cell, level 3 <- temporal cell
                dmu, dlv = self.posterior[lvl - 1](self.mix_posterior[lvl - 1](h, skip))
                out.delta_mu.append(dmu)
                out.delta_logvar.append(dlv)
                out.kl.append(residual_gaussian_kl(dmu, dlv, lv_p))
                mu_q, lv_q = mu_p + dmu, lv_p + dlv
            else:
                mu_q, lv_q = mu_p, lv_p
            z = pick(mu_q, lv_q)
            out.z.append(z)
            h = self.decoder.cell(lvl, self.mix_decoder[lvl](h, z))
        out.x_hat = h.squeeze(1)
        return out

    # ------------------------------------------------------------------ public API
    def forward(self, x: torch.Tensor) -> VAEOutput:
        """Encode, sample every level from its posterior and decode; ``x`` is ``(B, C, T)`` µV."""
        enc = self.encoder(self._check_input(x))
        return self._decode(enc, (True, True, True), sample=True)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of the deepest posterior ``q(z1 | x)``, each
        ``(B, 16, 1, T/10)``."""
        enc = self.encoder(self._check_input(x))
        return self.posterior_top(enc[2])

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, levels: Sequence[int] | None = None,
                    sample: bool = False) -> torch.Tensor:
        """Reconstruct ``x`` ``(B, C, T)`` µV, optionally with latent levels switched off.

        Parameters
        ----------
        levels : levels whose posterior uses the encoder (1 = deepest, 2, 3); default all.
            A switched-off level takes its prior instead (``N(0, I)`` for level 1,
            ``p(z_l | z_<l)`` below), which shows what each level carries (the official
            ``reconstruct_ignoring_latent_spaces``).
        sample : draw the latents (True) or use the means (False, deterministic).

        Runs without gradient; call ``.eval()`` first for inference behaviour of dropout and
        batch-norm.
        """
        enc = self.encoder(self._check_input(x))
        return self._decode(enc, self._levels(levels), sample=sample).x_hat

    @torch.no_grad()
    def generate(self, n: int = 1, sample: bool = True) -> torch.Tensor:
        """Generate ``n`` trials ``(n, C, T)`` in µV: z1 ~ N(0, I), lower levels from the priors.

        Call ``.eval()`` first. With ``sample=False`` every level takes its mean (z1 = 0).
        """
        if int(n) < 1:
            raise ConfigError(f"n must be >= 1, got {n}")
        return self._decode(None, (False, False, False), sample=sample, n=int(n)).x_hat
