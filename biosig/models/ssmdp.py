"""SSMDP: EEGDM's single-channel, channel-conditioned S4D diffusion denoiser.

Reimplemented from the paper and the description of the official code's behaviour
(``jhpuah/EEGDM``, no licence: no code copied); facts in ``docs/models/eegdm.md``.

References
----------
.. [Puah2025] J. H. Puah, S. K. Goh, Z. Zhang, Z. Ye, C. K. Chan, K. S. Lim, S. L. Fong,
   K. S. Woon, C. Guan, "EEGDM: EEG Representation Learning via Generative Diffusion Model",
   arXiv:2508.14086, 2025.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn as nn

from biosig.diffusion import inverse_staged_mu_law, staged_mu_law
from biosig.errors import ConfigError, ShapeError
from biosig.models._registry import register_model
from biosig.models.base import BiosigModel
from biosig.models.blocks.s4d import S4D

__all__ = ["SSMDP", "SSMDPBlock", "std_pool"]


def sinusoidal_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """``[sin(t w_k), cos(t w_k)]`` with ``w_k = exp(-k ln(1e4) / (dim/2 - 1))`` (DiffWave)."""
    half = dim // 2
    k = torch.arange(half, device=t.device, dtype=torch.float32)
    freqs = torch.exp(-k * math.log(1e4) / max(half - 1, 1))
    arg = t.float()[:, None] * freqs
    return torch.cat([torch.sin(arg), torch.cos(arg)], dim=-1)


def _mlp(d_in: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, d_out), nn.SiLU(), nn.Linear(d_out, d_out), nn.SiLU())


def std_pool(x: torch.Tensor, pool_size: int) -> torch.Tensor:
    """Unbiased std over non-overlapping windows of the time axis: ``(N, L, H) -> (N, P, H)``."""
    n, length, h = x.shape
    if length % pool_size:
        raise ShapeError(f"std_pool: length {length} is not a multiple of pool_size {pool_size}")
    return x.reshape(n, length // pool_size, pool_size, h).std(dim=2)


class SSMDPBlock(nn.Module):
    """Gated residual block: ``LN(x) + W cond -> Linear(d, 2d) -> S4D(2d) -> sigmoid(g) * tanh(f)``.

    Returns ``(next, skip, gate)``; ``next = Linear(inter) + x`` is ``None`` in the last block.
    """

    def __init__(self, d_model: int, d_cond: int, d_state: int, last: bool,
                 bidirectional: bool = True, dt_min: float = 1e-3, dt_max: float = 1e-1):
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.cond_proj = nn.Linear(d_cond, d_model)
        nn.init.zeros_(self.cond_proj.weight)
        nn.init.zeros_(self.cond_proj.bias)
        self.pre = nn.Linear(d_model, 2 * d_model)
        self.ssm = S4D(2 * d_model, d_state, bidirectional=bidirectional, dt_min=dt_min,
                       dt_max=dt_max)
        self.out_skip = nn.Linear(d_model, d_model)
        self.out_next = None if last else nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor, cond: torch.Tensor):
        h = self.ssm(self.pre(self.norm(x) + self.cond_proj(cond)))
        gate, filt = h.chunk(2, dim=-1)
        gate = torch.sigmoid(gate)
        inter = gate * torch.tanh(filt)
        nxt = None if self.out_next is None else self.out_next(inter) + x
        return nxt, self.out_skip(inter), gate


@register_model("ssmdp")
class SSMDP(BiosigModel):
    """SSMDP, the diffusion backbone of EEGDM [Puah2025]_.

    Every EEG channel is denoised as its own sequence, conditioned on the diffusion step and on
    the channel's identity (a learned embedding per channel of the training montage):

    - ``Linear(1, d_model)`` + ReLU per sample;
    - condition (``d_cond``): sinusoidal step embedding (``d_embed``) and channel embedding
      (``n_channel_ids x d_embed``), each through ``Linear-SiLU-Linear-SiLU``, summed;
    - ``n_layers`` gated residual blocks (:class:`SSMDPBlock`), each with a bidirectional
      S4D layer of ``2 d_model`` features (``d_state`` = 128: 64 complex modes, diag-lin, ZOH);
    - the sum of the blocks' skip outputs -> ``Linear`` (Kaiming) -> ReLU -> ``Linear(., 1)``
      (zero-init) = the predicted velocity ``v`` of v-prediction diffusion.

    Parameters at the paper's settings (the defaults: 20 layers, d_model 128, 22 channel ids):
    **5,931,649**, as the official code. The length of the sequence is free (S4D kernels are
    generated per input length).

    Signals: the model's own input domain is ``staged_mu_law(x * input_scale, mu)`` with ``x``
    EEG in µV (EEGDM: ``input_scale = 0.01``, i.e. volts x 1e4, and ``mu = 255``);
    :meth:`encode_signal` / :meth:`decode_signal` convert. :meth:`forward` works in that domain;
    :meth:`latents` takes µV.

    Parameters
    ----------
    n_chans, n_outputs, n_times, sfreq, chs_info : signal kwargs. ``n_chans`` is the number of
        input channels (default ids ``0 .. n_chans-1``); ``sfreq`` sets the 1-s pools of
        :meth:`latents`; ``n_outputs`` is unused (a denoiser has no classes).
    channel_ids : the channel-embedding id of each input channel (e.g. CHB-MIT's 16 bipolar
        channels use TUEV ids ``[0..7, 14..21]``).
    n_channel_ids : rows of the channel-embedding table (22 = TUEV's TCP bipolar montage).
    n_layers, d_model, d_state, d_embed, d_cond : architecture (paper: 20, 128, 128, 128, 512).
    bidirectional, dt_min, dt_max : S4D options.
    input_scale, mu : input transform (``mu=None``: no mu-law, the paper's ablation).
    """

    paper = "Puah et al., EEGDM, arXiv 2508.14086 (2025)"
    task = "diffusion pretraining (single-channel S4D denoiser); latents for LFT"
    paper_settings = dict(n_chans=22, n_times=1000, sfreq=200.0)
    paper_n_params = 5_931_649
    input_note = "forward(x, t) in the mu-law domain; latents(x) in µV"
    used_through = ("a pretrained SSMDP is EEGDM's backbone: classify with model='eegdm', "
                    "model_kwargs={{'backbone_weights': {weights}}} (docs/models/eegdm.md)")
    length_agnostic = True

    def __init__(self, n_chans=None, n_outputs=None, n_times=None, sfreq=None, chs_info=None,
                 channel_ids: Sequence[int] | None = None, n_channel_ids: int = 22,
                 n_layers: int = 20, d_model: int = 128, d_state: int = 128, d_embed: int = 128,
                 d_cond: int = 512, bidirectional: bool = True, dt_min: float = 1e-3,
                 dt_max: float = 1e-1, input_scale: float = 0.01, mu: float | None = 255.0):
        super().__init__()
        self._init_signal(n_chans, n_outputs, n_times, sfreq, chs_info)
        if n_layers < 1 or d_model < 1 or d_embed < 2 or d_embed % 2 or n_channel_ids < 1:
            raise ConfigError("SSMDP: n_layers, d_model, n_channel_ids must be positive and "
                              f"d_embed even (got {n_layers}, {d_model}, {n_channel_ids}, "
                              f"{d_embed})")
        if not input_scale > 0 or (mu is not None and not mu > 0):
            raise ConfigError(f"SSMDP: input_scale and mu must be positive, got {input_scale}, "
                              f"{mu}")
        self.n_channel_ids, self.d_embed = int(n_channel_ids), int(d_embed)
        self.input_scale, self.mu = float(input_scale), (None if mu is None else float(mu))
        self.channel_ids = self._check_ids(channel_ids)
        self.in_layer = nn.Sequential(nn.Linear(1, d_model), nn.ReLU())
        self.step_mlp = _mlp(d_embed, d_cond)
        self.channel_embedding = nn.Embedding(n_channel_ids, d_embed)
        self.channel_mlp = _mlp(d_embed, d_cond)
        self.blocks = nn.ModuleList(
            SSMDPBlock(d_model, d_cond, d_state, last=i == n_layers - 1,
                       bidirectional=bidirectional, dt_min=dt_min, dt_max=dt_max)
            for i in range(n_layers))
        self.final_layer = nn.Sequential(nn.Linear(d_model, d_model), nn.ReLU(),
                                         nn.Linear(d_model, 1))
        nn.init.kaiming_normal_(self.final_layer[0].weight)
        nn.init.zeros_(self.final_layer[2].weight)
        nn.init.zeros_(self.final_layer[2].bias)

    # -- channel ids and signal transform -------------------------------------------------------
    def _check_ids(self, ids) -> list[int] | None:
        if ids is None:
            if self.n_chans is not None and self.n_chans > self.n_channel_ids:
                raise ConfigError(f"SSMDP: n_chans={self.n_chans} > n_channel_ids="
                                  f"{self.n_channel_ids}; pass channel_ids")
            return None if self.n_chans is None else list(range(self.n_chans))
        ids = [int(i) for i in ids]
        if self.n_chans is not None and len(ids) != self.n_chans:
            raise ConfigError(f"SSMDP: channel_ids has {len(ids)} entries, n_chans={self.n_chans}")
        if any(not 0 <= i < self.n_channel_ids for i in ids):
            raise ConfigError(f"SSMDP: channel_ids must lie in [0, {self.n_channel_ids}), "
                              f"got {ids}")
        return ids

    def _ids_tensor(self, x: torch.Tensor, channel_ids) -> torch.Tensor:
        """Channel ids as a ``(B, C)`` long tensor."""
        b, c = x.shape[:2]
        if isinstance(channel_ids, torch.Tensor):
            ids = channel_ids.to(x.device, torch.long)
        else:
            given = self._check_ids(channel_ids) if channel_ids is not None else self.channel_ids
            if given is None:
                if c > self.n_channel_ids:
                    raise ShapeError(f"SSMDP: {c} channels but only {self.n_channel_ids} "
                                     "channel ids; pass channel_ids")
                given = list(range(c))
            ids = torch.tensor(given, device=x.device, dtype=torch.long)
        ids = ids.expand(b, c) if ids.ndim == 1 and ids.shape[0] == c else ids
        if ids.shape != (b, c):
            raise ShapeError(f"SSMDP: channel ids of shape {tuple(ids.shape)} for input "
                             f"{tuple(x.shape)}")
        if isinstance(channel_ids, torch.Tensor) and not torch.compiler.is_compiling() and \
                bool(((ids < 0) | (ids >= self.n_channel_ids)).any()):  # one read
            # a list was checked on the host; a tensor is read back (a device sync), except
            # under torch.compile, where a bad id fails in the embedding lookup instead
            raise ConfigError(f"SSMDP: channel ids must lie in [0, {self.n_channel_ids})")
        return ids

    def encode_signal(self, x_uv: torch.Tensor) -> torch.Tensor:
        """µV -> the denoiser's domain: ``staged_mu_law(x * input_scale, mu)``."""
        y = x_uv * self.input_scale
        return y if self.mu is None else staged_mu_law(y, self.mu)

    def decode_signal(self, y: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`encode_signal` (back to µV)."""
        x = y if self.mu is None else inverse_staged_mu_law(y, self.mu)
        return x / self.input_scale

    # -- network --------------------------------------------------------------------------------
    def _run(self, x: torch.Tensor, t, channel_ids, pool_size: int | None = None):
        """Shared pass over ``(B, C, L)``; returns the velocity or the pooled gates per layer."""
        if x.ndim != 3 or (self.n_chans is not None and x.shape[1] != self.n_chans
                           and channel_ids is None):
            raise ShapeError(f"SSMDP expects (batch, {self.n_chans or 'channels'}, length), "
                             f"got {tuple(x.shape)}")
        b, c, length = x.shape
        ids = self._ids_tensor(x, channel_ids).reshape(-1)
        t = torch.as_tensor(t, device=x.device)
        t = t.expand(b) if t.ndim == 0 else t
        t = t[:, None].expand(b, c) if t.shape == (b,) else t
        if t.shape != (b, c):
            raise ShapeError(f"SSMDP: steps of shape {tuple(t.shape)} for input {tuple(x.shape)}")
        cond = (self.step_mlp(sinusoidal_embedding(t.reshape(-1), self.d_embed))
                + self.channel_mlp(self.channel_embedding(ids)))[:, None, :]
        h = self.in_layer(x.reshape(b * c, length, 1))
        skips, pooled = 0, []
        for block in self.blocks:
            h, skip, gate = block(h, cond)
            if pool_size is None:
                skips = skips + skip
            else:
                pooled.append(std_pool(gate, pool_size))
            if h is None:
                break
        if pool_size is not None:  # (B*C, n_layers, P, H)
            return torch.stack(pooled, dim=1)
        return self.final_layer(skips).reshape(b, c, length)

    def forward(self, x: torch.Tensor, t, channel_ids=None) -> torch.Tensor:
        """Predicted velocity ``(B, C, L)`` for noisy ``x`` ``(B, C, L)`` (denoiser domain).

        ``t``: an int, ``(B,)`` or ``(B, C)`` step indices; ``channel_ids``: ``(C,)`` ids,
        a ``(B, C)`` tensor (e.g. single-channel samples with their own ids), or ``None`` for
        the model's ``channel_ids``.
        """
        return self._run(x, t, channel_ids)

    @torch.no_grad()
    def latents(self, x_uv: torch.Tensor, step: int = 1, pool_size: int | None = None,
                segment: int | None = None, channel_ids=None) -> torch.Tensor:
        """EEGDM's latent tokens of clean EEG ``(B, C, T)`` in µV: ``(B, n_layers, P, C, d)``.

        The post-sigmoid gates of every block at diffusion step ``step`` (EEGDM: 1, no noise
        added) are std-pooled over windows of ``pool_size`` samples (default ``sfreq``, 1 s).
        ``segment`` splits long windows into denoiser passes of that many samples (CHB-MIT:
        10-s windows as two 5-s halves); the pools of the segments are concatenated in time.
        """
        if pool_size is None:
            if self.sfreq is None or self.sfreq != int(self.sfreq):
                raise ConfigError("SSMDP.latents needs pool_size or an integer sfreq "
                                  f"(got sfreq={self.sfreq})")
            pool_size = int(self.sfreq)
        if x_uv.ndim != 3:
            raise ShapeError(f"SSMDP.latents: input {tuple(x_uv.shape)} must be (B, C, T) "
                             "windows in µV")
        b, c, length = x_uv.shape
        segment = segment or length
        if length % segment or segment % pool_size:
            raise ShapeError(f"SSMDP.latents: input {tuple(x_uv.shape)} must be (B, C, T) with T "
                             f"a multiple of segment={segment}, itself a multiple of "
                             f"pool_size={pool_size}")
        n_seg = length // segment
        y = self.encode_signal(x_uv).reshape(b, c, n_seg, segment).transpose(1, 2)
        ids = self._ids_tensor(x_uv, channel_ids)
        ids = ids[:, None].expand(b, n_seg, c).reshape(b * n_seg, c)
        tokens = self._run(y.reshape(b * n_seg, c, segment), step, ids, pool_size)
        n_layers, p, d = tokens.shape[1:]
        tokens = tokens.reshape(b, n_seg, c, n_layers, p, d).permute(0, 3, 1, 4, 2, 5)
        return tokens.reshape(b, n_layers, n_seg * p, c, d)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The representation EEGDM transfers: :meth:`latents` at step 1, 1-s pools."""
        return self.latents(x)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        raise ConfigError("SSMDP is a denoiser without a classification head; train LFT on "
                          "its latents (biosig.models.LFT)")

    def reset_head(self, n_outputs: int) -> None:
        self.forward_head(None)

    def ssm_parameters(self):
        """S4D ``dt, A, B`` of every block (no weight decay in EEGDM's recipe)."""
        for block in self.blocks:
            yield from block.ssm.ssm_parameters()

    def no_weight_decay(self) -> set[str]:
        """Names of :meth:`ssm_parameters` (the optimiser hook of the tasks' ``make_optimizer``)."""
        ssm = {id(p) for p in self.ssm_parameters()}
        return {name for name, p in self.named_parameters() if id(p) in ssm}
