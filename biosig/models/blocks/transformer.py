"""Transformer blocks shared by DBConformer, EEGFormer and EEGDM's latent fusion transformer.

``TransformerBlock`` is the pre-LN block of ViT / EEGConformer: ``x + Drop(MHA(LN x))`` then
``x + Drop(FF(LN x))`` with a ``expansion``-times feed-forward. ``MultiHeadAttention`` keeps
separate Q/K/V projections (the layout of the DBConformer and EEGConformer checkpoints) and
scales scores by ``sqrt(emb_size)`` (``attn_scale="emb"``, DBConformer's official code) or by
``sqrt(head_dim)`` (``attn_scale="head"``, Vaswani et al. 2017).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

__all__ = ["MultiHeadAttention", "TransformerBlock"]


class MultiHeadAttention(nn.Module):
    """MHA with separate Q/K/V projections; scores scaled by sqrt(emb) (official) or sqrt(head)."""

    def __init__(self, emb_size: int, n_heads: int, drop_prob: float, attn_scale: str):
        super().__init__()
        self.n_heads = n_heads
        self.queries = nn.Linear(emb_size, emb_size)
        self.keys = nn.Linear(emb_size, emb_size)
        self.values = nn.Linear(emb_size, emb_size)
        self.att_drop = nn.Dropout(drop_prob)
        self.projection = nn.Linear(emb_size, emb_size)
        dim = emb_size if attn_scale == "emb" else emb_size // n_heads
        self.scale = 1.0 / math.sqrt(dim)

    def _split(self, t: torch.Tensor) -> torch.Tensor:
        b, n, e = t.shape
        return t.reshape(b, n, self.n_heads, e // self.n_heads).transpose(1, 2)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """Self-attention over ``x`` ``(b, n, e)``, or cross-attention to ``context`` (b, m, e)."""
        kv = x if context is None else context
        q = self._split(self.queries(x))
        k, v = self._split(self.keys(kv)), self._split(self.values(kv))
        att = torch.softmax((q @ k.transpose(-2, -1)) * self.scale, dim=-1)
        out = self.att_drop(att) @ v  # (b, h, n, d)
        b, h, n, d = out.shape
        return self.projection(out.transpose(1, 2).reshape(b, n, h * d))


class TransformerBlock(nn.Module):
    """Pre-LN block: x + Drop(MHA(LN x)); x + Drop(FF(LN x)), FF = 4x expansion with GELU."""

    def __init__(self, emb_size, n_heads, drop_prob, attn_scale, activation, expansion=4):
        super().__init__()
        self.norm1 = nn.LayerNorm(emb_size)
        self.attn = MultiHeadAttention(emb_size, n_heads, drop_prob, attn_scale)
        self.drop1 = nn.Dropout(drop_prob)
        self.norm2 = nn.LayerNorm(emb_size)
        self.ff = nn.Sequential(
            nn.Linear(emb_size, expansion * emb_size), activation(), nn.Dropout(drop_prob),
            nn.Linear(expansion * emb_size, emb_size),
        )
        self.drop2 = nn.Dropout(drop_prob)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop1(self.attn(self.norm1(x)))
        return x + self.drop2(self.ff(self.norm2(x)))
