"""LFT: EEGDM's latent fusion transformer, the classifier on frozen SSMDP latents.

Reimplemented from the paper and the description of the official code's behaviour
(``jhpuah/EEGDM``, no licence: no code copied); facts in ``docs/models/eegdm.md``.

References
----------
.. [Puah2025] J. H. Puah et al., "EEGDM: EEG Representation Learning via Generative Diffusion
   Model", arXiv:2508.14086, 2025.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from biosig.errors import ConfigError, ShapeError
from biosig.models._registry import register_model
from biosig.models.base import BiosigModel
from biosig.models.blocks.transformer import MultiHeadAttention, TransformerBlock

__all__ = ["LFT", "FusionBlock", "TOKEN_NORMS"]

TOKEN_NORMS = (None, "batch", "logbatch", "layer")


class FusionBlock(TransformerBlock):
    """Pre-LN self-attention, cross-attention to a context, FFN.

    The context (keys/values) is not normalised (EEGDM's ``have_crossnorm=False``) unless
    ``context_norm`` (the official code's ``have_crossnorm=True`` option: a LayerNorm).
    """

    def __init__(self, emb_size, n_heads, drop_prob, activation=nn.GELU, expansion=4,
                 context_norm: bool = False):
        super().__init__(emb_size, n_heads, drop_prob, "head", activation, expansion)
        self.norm_cross = nn.LayerNorm(emb_size)
        self.norm_context = nn.LayerNorm(emb_size) if context_norm else nn.Identity()
        self.cross_attn = MultiHeadAttention(emb_size, n_heads, drop_prob, "head")
        self.drop_cross = nn.Dropout(drop_prob)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        x = x + self.drop1(self.attn(self.norm1(x)))
        context = self.norm_context(context)
        x = x + self.drop_cross(self.cross_attn(self.norm_cross(x), context))
        return x + self.drop2(self.ff(self.norm2(x)))


@register_model("lft")
class LFT(BiosigModel):
    """Latent fusion transformer of EEGDM [Puah2025]_.

    Input: the latent tokens of a frozen SSMDP (:meth:`biosig.models.SSMDP.latents`),
    ``(batch, n_layers, n_pools, n_chans, d_model)`` = std-pooled gate activations of every
    denoiser layer, one token per channel, pool (1 s) and layer.

    - **Latent fusion** (20 blocks, one per SSMDP layer, shared over pools): each pool has its
      own ``n_fusion_tokens`` learned tokens (U[0, 1) init) that pass block 1 -> 20; block ``i``
      self-attends the fusion tokens, cross-attends the ``n_chans`` channel tokens of SSMDP
      layer ``i`` (same pool) and applies a 4x GELU FFN (pre-LN, residuals, no positional code).
    - **Classifier**: the ``n_pools x n_fusion_tokens`` fused tokens plus a learned positional
      embedding (U[0, 1) init) -> ``n_classifier_blocks`` pre-LN transformer blocks -> mean over
      tokens -> ``Linear(d_model, n_outputs)`` (``final_layer``).

    Trainable parameters at the paper's settings (d 128, 8 heads, 16 fusion tokens per pool,
    20 + 8 blocks): **6,898,950** for TUEV (5 pools, 6 classes) and **6,918,785** for CHB-MIT
    (10 pools, one logit), as the official code.

    Parameters
    ----------
    n_chans, n_outputs, n_times, sfreq, chs_info : signal kwargs of the EEG windows the tokens
        come from; ``n_pools = n_times / (sfreq * pool_seconds)`` unless ``n_pools`` is given.
    n_pools : pools per window (TUEV 5-s windows: 5; CHB-MIT 10-s: 10).
    pool_seconds : pool length used to derive ``n_pools``.
    n_layers : SSMDP layers = fusion blocks (20). d_model, n_heads : 128, 8.
    n_fusion_tokens : 16. n_classifier_blocks : 8. drop_prob : dropout (0 in EEGDM).
    token_norm : normalisation of the input tokens. ``None`` (EEGDM, the default): raw gate
        standard deviations. ``"batch"`` (deviation, no trainable parameters): every (layer,
        feature) standardised over the batch's pools and channels with running statistics
        (``BatchNorm`` without affine, eps 1e-8: the deviations vary by ~1e-4 in variance),
        which the LFT needs when the backbone's gate
        deviations are small and nearly constant (a small or briefly trained SSMDP: ~0.04 +-
        0.01 on the built-in data, and the LFT then stays at chance; see the EEGDM notes).
        ``"logbatch"``: the same on the log of the deviations (they are scale-like, as
        band powers; heavy-tailed on artefacts), no trainable parameters either.
        ``"layer"``: a LayerNorm on each fusion block's keys/values (the official code's
        ``have_crossnorm=True`` option; 256 parameters per block).
    """

    requires = ("n_chans", "n_outputs")
    paper = "Puah et al., EEGDM, arXiv 2508.14086 (2025)"
    task = "classifier on SSMDP latent tokens (EEG events, seizures)"
    paper_settings = dict(n_chans=22, n_outputs=6, n_times=1000, sfreq=200.0)
    paper_n_params = 6_898_950
    modality = "SSMDP latent tokens"
    classifies = True
    units = "gate std"
    input_note = "n_pools or n_times + sfreq; input tensor (batch, layers, pools, chans, d)"

    def __init__(self, n_chans=None, n_outputs=None, n_times=None, sfreq=None, chs_info=None,
                 n_pools: int | None = None, pool_seconds: float = 1.0, n_layers: int = 20,
                 d_model: int = 128, n_heads: int = 8, n_fusion_tokens: int = 16,
                 n_classifier_blocks: int = 8, drop_prob: float = 0.0,
                 token_norm: str | None = None):
        super().__init__()
        self._init_signal(n_chans, n_outputs, n_times, sfreq, chs_info)
        self.n_pools = self._pools(n_pools, pool_seconds)
        if min(n_layers, d_model, n_heads, n_fusion_tokens) < 1 or d_model % n_heads:
            raise ConfigError(f"LFT: n_layers, d_model, n_heads, n_fusion_tokens must be positive "
                              f"and d_model divisible by n_heads (got {n_layers}, {d_model}, "
                              f"{n_heads}, {n_fusion_tokens})")
        if token_norm not in TOKEN_NORMS:
            raise ConfigError(f"LFT: token_norm must be one of {TOKEN_NORMS}, got {token_norm!r}")
        self.n_layers, self.d_model = int(n_layers), int(d_model)
        self.token_norm = (nn.BatchNorm1d(n_layers * d_model, eps=1e-8, affine=False)
                           if token_norm in ("batch", "logbatch") else None)
        self.log_tokens = token_norm == "logbatch"
        self.fusion_tokens = nn.Parameter(torch.rand(self.n_pools, n_fusion_tokens, d_model))
        self.fusion = nn.ModuleList(FusionBlock(d_model, n_heads, drop_prob,
                                                context_norm=token_norm == "layer")
                                    for _ in range(n_layers))
        self.pos_embedding = nn.Parameter(torch.rand(self.n_pools * n_fusion_tokens, d_model))
        self.blocks = nn.ModuleList(TransformerBlock(d_model, n_heads, drop_prob, "head", nn.GELU)
                                    for _ in range(n_classifier_blocks))
        self.final_layer = nn.Linear(d_model, self.n_outputs)

    def _pools(self, n_pools, pool_seconds) -> int:
        if n_pools is not None:
            if int(n_pools) != n_pools or n_pools < 1:
                raise ConfigError(f"LFT: n_pools must be a positive integer, got {n_pools!r}")
            return int(n_pools)
        if self.n_times is None or self.sfreq is None:
            raise ConfigError("LFT needs n_pools, or n_times and sfreq to derive it")
        pools = self.n_times / (self.sfreq * pool_seconds)
        if abs(pools - round(pools)) > 1e-9 or round(pools) < 1:
            raise ConfigError(f"LFT: n_times={self.n_times} at sfreq={self.sfreq} is not a whole "
                              f"number of {pool_seconds}-s pools; pass n_pools")
        return int(round(pools))

    def forward_features(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(B, n_layers, n_pools, n_chans, d)`` latent tokens -> ``(B, d)`` pooled features."""
        want = (self.n_layers, self.n_pools, self.n_chans, self.d_model)
        if tokens.ndim != 5 or tuple(tokens.shape[1:]) != want:
            raise ShapeError(f"LFT expects latent tokens (batch, n_layers, n_pools, n_chans, "
                             f"d_model) = (batch, {', '.join(map(str, want))}) from "
                             f"SSMDP.latents, got {tuple(tokens.shape)}")
        b, n, p, c, d = tokens.shape
        if self.log_tokens:  # deviations are scale-like: log, then standardise
            tokens = tokens.clamp_min(1e-6).log()
        if self.token_norm is not None:  # (B, n, P, C, d) -> (B, n*d, P*C): stats per (n, d)
            flat = tokens.permute(0, 1, 4, 2, 3).reshape(b, n * d, p * c)
            tokens = self.token_norm(flat).reshape(b, n, d, p, c).permute(0, 1, 3, 4, 2)
        q = self.fusion_tokens.to(tokens.dtype).expand(b, -1, -1, -1).reshape(b * p, -1, d)
        for i, block in enumerate(self.fusion):
            q = block(q, tokens[:, i].reshape(b * p, c, d))
        x = q.reshape(b, -1, d) + self.pos_embedding
        for block in self.blocks:
            x = block(x)
        return x.mean(dim=1)

    def no_weight_decay(self) -> set[str]:
        """EEGDM's exemptions: the fusion tokens, biases and every other 1-D tensor."""
        return {name for name, p in self.named_parameters()
                if name == "fusion_tokens" or p.ndim <= 1}
