"""DBConformer: dual-branch convolutional transformer for EEG decoding.

Reimplemented from the description of the paper and of the official code's behaviour
(``wzwvv/DBConformer``, PolyForm Noncommercial: no code copied).

References
----------
.. [Wang2026] Z. Wang, H. Wang, T. Jia, X. He, S. Li, D. Wu, "DBConformer: Dual-Branch
   Convolutional Transformer for EEG Decoding", IEEE J. Biomed. Health Inform. 30(5):4134-4147,
   2026, doi:10.1109/JBHI.2025.3622725 (arXiv:2506.21140).
"""

from __future__ import annotations

import time
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from biosig.errors import ConfigError
from biosig.models._registry import register_model, register_variant
from biosig.models.base import BiosigModel
from biosig.models.blocks.transformer import TransformerBlock

__all__ = ["DBConformer", "default_patch_size"]

#: Patch sizes used by the official code for its datasets (Hz -> samples).
_OFFICIAL_PATCH_SIZES = {250.0: 125, 512.0: 128}


def default_patch_size(sfreq: float) -> int:
    """Temporal patch length (samples) for a sampling rate.

    The official code uses 125 samples at 250 Hz (0.5 s) and 128 samples at 512 Hz (0.25 s);
    those values are kept. Any other rate gets 0.5-s patches, ``round(sfreq / 2)``
    (e.g. 100 at 200 Hz for TUEV, 80 at 160 Hz for eegmmidb).
    """
    sfreq = float(sfreq)
    if not sfreq > 0:
        raise ConfigError(f"sfreq must be positive to derive patch_size, got {sfreq}")
    if sfreq in _OFFICIAL_PATCH_SIZES:
        return _OFFICIAL_PATCH_SIZES[sfreq]
    return max(1, int(round(sfreq / 2)))


@register_model("dbconformer")
class DBConformer(BiosigModel):
    """DBConformer from Wang et al. (2026) [Wang2026]_.

    Two conformers read the same raw trial in parallel and are fused late:

    - **T-Conformer** (temporal): a pointwise spatial convolution projects the ``n_chans``
      electrodes onto ``emb_size`` virtual channels (+ BatchNorm), a depthwise temporal
      convolution (kernel 63, + BatchNorm) and GELU follow; the signal is cropped to a multiple
      of ``patch_size`` and average-pooled into ``P = n_times // patch_size`` tokens, which get a
      learnable positional embedding and ``depth`` pre-LN transformer blocks; the tokens are
      averaged.
    - **S-Conformer** (spatial): a shared 1-D CNN (``Conv1d(1, 16, 25, stride 5)`` + ELU +
      global average + ``Linear(16, emb_size)``) turns every electrode into one token; a
      learnable channel embedding and ``depth`` transformer blocks follow, then
      channel-attention pooling (``Linear -> tanh -> Linear -> softmax`` over channels).
    - **Head**: ``concat -> Linear(80, 64) -> ELU -> Dropout(0.5) -> Linear(64, 32) -> ELU ->
      Dropout(0.3) -> Linear(32, n_outputs)``.

    Parameter count at the paper's BCI IV 2a settings (``n_chans=22, n_times=1001,
    sfreq=250, depth=2, n_outputs=2``): **93,747** (as the official code). Other official
    settings: 3 x 1126 -> 92,267; 14 x 1251 -> 93,187; 15 x 2561 @ 512 Hz depth 4 -> 172,547;
    14 x 1251 depth 6 -> 250,947; 59 x 750 depth 6 -> 254,387. Registry variant
    ``dbconformer_loso``: depth 6, the official LOSO setting for every dataset but
    BNCI2014001/004.

    Parameters
    ----------
    n_chans, n_outputs, n_times, sfreq, chs_info :
        Signal kwargs (braindecode convention). Input ``(batch, n_chans, n_times)`` EEG in µV
        (usually Euclidean-aligned, see :mod:`biosig.data.alignment`); ``(batch, 1, n_chans,
        n_times)`` is accepted too. ``n_chans`` may be inferred from ``chs_info``. ``sfreq`` is
        required unless ``patch_size`` is given (the patch length follows the sampling rate).
    depth : int
        Transformer blocks per branch (the paper: 2; 4 for BNCI2014002 CO; 6 for LOSO on most
        datasets).
    emb_size : int
        Token size (40). Also the number of virtual channels of the temporal stem.
    n_heads : int
        Attention heads (10; head size 4).
    patch_size : int or None
        Samples per temporal token; ``None`` derives it from ``sfreq``
        (:func:`default_patch_size`: 125 @ 250 Hz, 128 @ 512 Hz, else ``round(sfreq/2)``).
    temporal_kernel : int
        Depthwise temporal kernel (63, padding 31).
    spatial_filters, spatial_kernel, spatial_stride :
        Per-channel CNN of the spatial branch (16 filters, kernel 25, stride 5, padding 12).
    crop : {"floor", "drop_last"}
        How the time axis is cut to a multiple of ``patch_size`` before pooling. ``"floor"``
        (default) keeps the first ``(n_times // patch_size) * patch_size`` samples: for the
        official inputs (1001, 1126, 1251, 2561 samples: one extra MOABB sample) this drops the
        last sample exactly as the official code does, and for 750 samples ('MI1-7') it drops
        nothing, as the official code's name-based exception does. ``"drop_last"`` always drops
        the last sample first (the official behaviour for every dataset but 'MI1-7'; it loses a
        token when ``n_times`` is already a multiple of ``patch_size``).
    attn_scale : {"emb", "head"}
        Attention scores divided by ``sqrt(emb_size)`` (``"emb"``, the official code, inherited
        from EEG-Conformer) or by ``sqrt(emb_size / n_heads)`` (``"head"``, standard MHA).
    branch : {"all", "temporal", "spatial"}
        Which branches are used (ablation). The head input is ``emb_size`` per branch.
    use_pos_emb : bool
        Learnable positional embeddings (initialised N(0, 1) as in the official code).
    channel_attention : bool
        Channel-attention pooling in the spatial branch; ``False`` averages the channel tokens.
    gated_fusion : bool
        Gated fusion ``sigmoid(W [x_t; x_s]) * [x_t; x_s]`` (off in the paper: "reduced
        performance"; the exact form of the official gate is our reading).
    drop_prob : float
        Dropout of the stem, attention, transformer blocks and the head's first layer (0.5).
    head_drop_prob : float
        Dropout after the head's second layer (0.3).
    activation : type[nn.Module]
        Activation of the spatial CNN and of the head (ELU).
    transformer_activation : type[nn.Module]
        Activation of the temporal stem and of the feed-forward blocks (GELU).
    return_features : bool
        If True, ``forward`` returns ``(logits, features)`` with the fused ``(batch, 80)`` vector.
    temporal_conv_impl : {"auto", "direct", "fft"}
        How the depthwise k=63 convolution is computed: ``"direct"`` (``F.conv1d``, as the
        official code), ``"fft"`` (the same convolution via real FFTs, equal up to float
        rounding) or ``"auto"`` (default): on CPU the faster of the two for the input shape,
        dtype, grad mode and thread count, timed once per process (forward + backward, best
        of 3, ~0.1 s; FFT won on 1 busy thread, direct with 2 idle threads in
        ``benchmarks/bench_dbconformer.py``); direct (cuDNN) elsewhere and under
        ``torch.compile``.
        Parameters and state dict are identical in every case.

    Notes
    -----
    After every forward pass, ``model.channel_attention_weights`` holds the detached channel
    weights ``(batch, n_chans)`` of the last batch (``None`` without channel attention);
    ``forward(x, return_attention=True)`` returns them with gradients.
    Initialisation follows the official code: stem convolutions ~ truncated N(0, 0.01), stem
    BatchNorm weight 1 / bias 0, positional embeddings N(0, 1), PyTorch defaults elsewhere.
    """

    requires = ("n_chans", "n_outputs", "n_times")
    paper = "Wang et al., IEEE JBHI 2026, arXiv 2506.21140"
    task = "EEG decoding (MI, seizure)"
    classifies = True
    paper_settings = dict(n_chans=22, n_outputs=2, n_times=1001, sfreq=250.0)
    paper_n_params = 93_747
    input_note = "sfreq or patch_size"

    def __init__(
        self,
        n_chans: int | None = None,
        n_outputs: int | None = None,
        n_times: int | None = None,
        sfreq: float | None = None,
        chs_info: list[dict] | None = None,
        depth: int = 2,
        emb_size: int = 40,
        n_heads: int = 10,
        patch_size: int | None = None,
        temporal_kernel: int = 63,
        spatial_filters: int = 16,
        spatial_kernel: int = 25,
        spatial_stride: int = 5,
        crop: Literal["floor", "drop_last"] = "floor",
        attn_scale: Literal["emb", "head"] = "emb",
        branch: Literal["all", "temporal", "spatial"] = "all",
        use_pos_emb: bool = True,
        channel_attention: bool = True,
        gated_fusion: bool = False,
        drop_prob: float = 0.5,
        head_drop_prob: float = 0.3,
        activation: type[nn.Module] = nn.ELU,
        transformer_activation: type[nn.Module] = nn.GELU,
        return_features: bool = False,
        temporal_conv_impl: Literal["auto", "direct", "fft"] = "auto",
    ):
        super().__init__()
        self._init_signal(n_chans, n_outputs, n_times, sfreq, chs_info)
        if branch not in ("all", "temporal", "spatial"):
            raise ConfigError(f"branch must be 'all', 'temporal' or 'spatial', got {branch!r}")
        if crop not in ("floor", "drop_last"):
            raise ConfigError(f"crop must be 'floor' or 'drop_last', got {crop!r}")
        if temporal_conv_impl not in ("auto", "direct", "fft"):
            raise ConfigError(
                f"temporal_conv_impl must be 'auto', 'direct' or 'fft', got {temporal_conv_impl!r}"
            )
        if attn_scale not in ("emb", "head"):
            raise ConfigError(f"attn_scale must be 'emb' or 'head', got {attn_scale!r}")
        if emb_size % n_heads:
            raise ConfigError(f"emb_size={emb_size} is not divisible by n_heads={n_heads}")
        if patch_size is None:
            if self.sfreq is None:
                raise ConfigError("DBConformer needs sfreq (the patch length follows the "
                                  "sampling rate: 125 samples at 250 Hz) or an explicit "
                                  "patch_size")
            patch_size = default_patch_size(self.sfreq)
        patch_size = int(patch_size)
        usable = self.n_times - (1 if crop == "drop_last" else 0)
        n_patches = usable // patch_size if patch_size > 0 else 0
        if n_patches < 1:
            raise ConfigError(
                f"n_times={n_times} is shorter than one patch of {patch_size} samples "
                f"(crop={crop!r}); pass a smaller patch_size"
            )

        self.patch_size = patch_size
        self.n_patches = n_patches
        self.crop = crop
        self.branch = branch
        self.emb_size = emb_size
        self.return_features = return_features
        self.channel_attention_weights: torch.Tensor | None = None
        use_t = branch in ("all", "temporal")
        use_s = branch in ("all", "spatial")

        # both branches end in the same transformer settings
        shared = dict(n_chans=self.n_chans, emb_size=emb_size, depth=depth, n_heads=n_heads,
                      drop_prob=drop_prob, attn_scale=attn_scale, use_pos_emb=use_pos_emb)
        self.temporal = (
            _TemporalBranch(n_patches=n_patches, patch_size=patch_size, kernel=temporal_kernel,
                            activation=transformer_activation, conv_impl=temporal_conv_impl,
                            **shared)
            if use_t else None
        )
        self.spatial = (
            _SpatialBranch(n_filters=spatial_filters, kernel=spatial_kernel,
                           stride=spatial_stride, channel_attention=channel_attention,
                           activation=activation, ff_activation=transformer_activation, **shared)
            if use_s else None
        )
        n_features = emb_size * (int(use_t) + int(use_s))
        self.n_features = n_features
        gated = gated_fusion and use_t and use_s
        self.gate = nn.Linear(n_features, n_features) if gated else None
        self.head = nn.Sequential(
            nn.Linear(n_features, 64), activation(), nn.Dropout(drop_prob),
            nn.Linear(64, 32), activation(), nn.Dropout(head_drop_prob),
        )
        self.final_layer = nn.Linear(32, self.n_outputs)

    # -- contract surface ----------------------------------------------------------------------
    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 4 and x.shape[1] == 1:
            x = x[:, 0]
        # the spatial branch alone accepts any length (global average per channel)
        return self.check_input(x, n_times=self.temporal is not None)

    def forward_features(
        self, x: torch.Tensor, return_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor | None]:
        """Fused feature vector ``(batch, n_features)`` (80 with both branches)."""
        x = self._prepare(x)
        feats = []
        attn = None
        if self.temporal is not None:
            feats.append(self.temporal(x))
        if self.spatial is not None:
            x_s, attn = self.spatial(x)
            feats.append(x_s)
        fused = feats[0] if len(feats) == 1 else torch.cat(feats, dim=1)
        if self.gate is not None:
            fused = torch.sigmoid(self.gate(fused)) * fused
        self.channel_attention_weights = None if attn is None else attn.detach()
        return (fused, attn) if return_attention else fused

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.final_layer(self.head(features))

    def forward(
        self,
        x: torch.Tensor,
        return_features: bool | None = None,
        return_attention: bool = False,
    ):
        """Logits ``(batch, n_outputs)``.

        With ``return_features`` (or the constructor flag) returns ``(logits, features)``;
        with ``return_attention`` the channel-attention weights ``(batch, n_chans)`` are appended.
        """
        fused, attn = self.forward_features(x, return_attention=True)
        logits = self.forward_head(fused)
        want_feats = self.return_features if return_features is None else return_features
        out = (logits,)
        if want_feats:
            out += (fused,)
        if return_attention:
            out += (attn,)
        return out[0] if len(out) == 1 else out


#: Cross-subject (LOSO) setting of the official scripts: depth 6 for every dataset but
#: BNCI2014001/004 (which keep 2); stated count at Zhou2016 LOSO (14 x 1251 @ 250 Hz).
register_variant("dbconformer_loso", "dbconformer", depth=6,
                 task="EEG decoding, cross-subject (LOSO) setting",
                 paper_settings=dict(n_chans=14, n_outputs=2, n_times=1251, sfreq=250.0),
                 paper_n_params=250_947)


#: ``"auto"`` choices of :class:`_DepthwiseConv1d` on CPU, keyed by
#: ``(shape, dtype, kernel, grad, threads)``: True = FFT faster.
_AUTO_FFT: dict[tuple, bool] = {}


class _DepthwiseConv1d(nn.Conv1d):
    """Depthwise ``Conv1d`` (odd kernel, 'same' padding, no bias) with an optional FFT path."""

    def __init__(self, channels: int, kernel: int, impl: str = "auto"):
        super().__init__(channels, channels, kernel, padding=kernel // 2, groups=channels,
                         bias=False)
        self.impl = impl

    def _auto_fft(self, x: torch.Tensor) -> bool:
        """Time both paths once per key (forward, + backward when grad is on); True if FFT wins.
        Under ``torch.compile``: the direct convolution, untimed (timing is a graph break, and
        Inductor generates no complex kernels, so a compiled FFT path falls back to slow ones)."""
        if x.device.type != "cpu" or torch.compiler.is_compiling():
            return False
        grad = torch.is_grad_enabled() and self.weight.requires_grad
        key = (tuple(x.shape), x.dtype, self.kernel_size[0], grad, torch.get_num_threads())
        if key not in _AUTO_FFT:
            xs = x.detach()
            w = self.weight.detach().clone().requires_grad_(grad)
            best = {}
            for use_fft in (False, True):
                times = []
                for rep in range(4):  # first call warms up
                    t0 = time.perf_counter()
                    y = self._fft(xs, w) if use_fft else self._conv_forward(xs, w, None)
                    if grad:
                        y.sum().backward()
                    if rep:
                        times.append(time.perf_counter() - t0)
                best[use_fft] = min(times)
            _AUTO_FFT[key] = best[True] < best[False]
        return _AUTO_FFT[key]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        use_fft = self.impl == "fft" or (self.impl == "auto" and self._auto_fft(x))
        if not use_fft:
            return super().forward(x)
        return self._fft(x, self.weight)

    def _fft(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        n_times, k = x.shape[-1], self.kernel_size[0]
        n_fft = 1 << (n_times + k - 2).bit_length()
        dtype = x.dtype
        xf = torch.fft.rfft(x.float(), n=n_fft)
        # correlation = convolution with the flipped kernel
        wf = torch.fft.rfft(weight[:, 0].float().flip(-1), n=n_fft)
        y = torch.fft.irfft(xf * wf, n=n_fft)
        pad = self.padding[0]
        return y[..., k - 1 - pad: k - 1 - pad + n_times].to(dtype)


class _TemporalBranch(nn.Module):
    def __init__(self, n_chans, n_patches, patch_size, emb_size, kernel, depth, n_heads,
                 drop_prob, attn_scale, use_pos_emb, activation, conv_impl="auto"):
        super().__init__()
        self.n_patches = n_patches
        self.patch_size = patch_size
        # IFNet-style stem (radix 1): pointwise spatial projection, depthwise temporal conv.
        self.spatial_conv = nn.Conv1d(n_chans, emb_size, 1, bias=False)
        self.spatial_bn = nn.BatchNorm1d(emb_size)
        if kernel % 2 == 0:
            raise ConfigError(f"temporal_kernel must be odd ('same' padding), got {kernel}")
        self.temporal_conv = _DepthwiseConv1d(emb_size, kernel, conv_impl)
        self.temporal_bn = nn.BatchNorm1d(emb_size)
        self.act = activation()
        self.pool = nn.AvgPool1d(patch_size, patch_size)
        self.drop = nn.Dropout(drop_prob)
        self.pos_emb = nn.Parameter(torch.randn(1, n_patches, emb_size)) if use_pos_emb else None
        self.blocks = nn.Sequential(
            *[TransformerBlock(emb_size, n_heads, drop_prob, attn_scale, activation)
              for _ in range(depth)]
        )
        for conv in (self.spatial_conv, self.temporal_conv):
            nn.init.trunc_normal_(conv.weight, std=0.01)
        for bn in (self.spatial_bn, self.temporal_bn):
            nn.init.ones_(bn.weight)
            nn.init.zeros_(bn.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.spatial_bn(self.spatial_conv(x))
        x = self.act(self.temporal_bn(self.temporal_conv(x)))
        x = x[..., : self.n_patches * self.patch_size]
        x = self.drop(self.pool(x)).transpose(1, 2)  # (B, P, E)
        if self.pos_emb is not None:
            x = x + self.pos_emb
        return self.blocks(x).mean(dim=1)


class _SpatialBranch(nn.Module):
    def __init__(self, n_chans, emb_size, n_filters, kernel, stride, depth, n_heads, drop_prob,
                 attn_scale, use_pos_emb, channel_attention, activation, ff_activation):
        super().__init__()
        self.embed = nn.Sequential(
            nn.Conv1d(1, n_filters, kernel, stride=stride, padding=kernel // 2),
            activation(),
            nn.AdaptiveAvgPool1d(1),
            nn.Flatten(),
            nn.Linear(n_filters, emb_size),
        )
        self.pos_emb = nn.Parameter(torch.randn(1, n_chans, emb_size)) if use_pos_emb else None
        self.blocks = nn.Sequential(
            *[TransformerBlock(emb_size, n_heads, drop_prob, attn_scale, ff_activation)
              for _ in range(depth)]
        )
        self.attn_pool = (
            nn.Sequential(nn.Linear(emb_size, emb_size), nn.Tanh(), nn.Linear(emb_size, 1))
            if channel_attention else None
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        b, c, t = x.shape
        tokens = self.embed(x.reshape(b * c, 1, t)).reshape(b, c, -1)
        if self.pos_emb is not None:
            tokens = tokens + self.pos_emb
        tokens = self.blocks(tokens)
        if self.attn_pool is None:
            return tokens.mean(dim=1), None
        weights = F.softmax(self.attn_pool(tokens).squeeze(-1), dim=1)  # (B, C)
        return torch.einsum("bc,bce->be", weights, tokens), weights
