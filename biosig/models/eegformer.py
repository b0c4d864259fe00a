"""EEGFormer: a vector-quantised Transformer EEG foundation model (Chen et al. 2024).

Written from the descriptions listed in the class docstring; there is no official code.

References
----------
.. [Chen2024] Y. Chen, K. Ren, K. Song, Y. Wang, Y. Wang, D. Li, L. Qiu, "EEGFormer: Towards
   Transferable and Interpretable Large-Scale EEG Foundation Model", AAAI 2024 Spring
   Symposium on Clinical Foundation Models, arXiv:2401.10278.
.. [Tang2022] S. Tang et al., "Self-Supervised Graph Neural Networks for Improved
   Electroencephalographic Seizure Analysis", ICLR 2022, arXiv:2104.08336 (the per-second
   log-FFT input of the TUSZ pipeline that EEGFormer's baselines use).
.. [vdOord2017] A. van den Oord, O. Vinyals, K. Kavukcuoglu, "Neural Discrete Representation
   Learning", NeurIPS 2017, arXiv:1711.00937.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from biosig.errors import ConfigError, ShapeError
from biosig.models._registry import register_model, register_variant
from biosig.models.base import BiosigModel
from biosig.models.blocks.quantizer import VectorQuantizer, VQOutput
from biosig.models.blocks.transformer import TransformerBlock

__all__ = ["EEGFormer", "EEGFormerOutput"]

_DOMAINS = ("fft", "time")
_FEATURES = ("quantized", "encoder", "decoder")
_POOLS = ("mean", "channel")


@dataclass
class EEGFormerOutput:
    """Everything one pretraining pass computes (shapes for ``B`` windows of ``C`` channels)."""

    target: torch.Tensor  #: (B, C, N, P) normalised input patches
    recon: torch.Tensor  #: (B, C, N, P) reconstructed patches
    encoded: torch.Tensor  #: (B, C, N, D) encoder output before quantisation
    decoded: torch.Tensor  #: (B, C, N, D) decoder output before the patch projection
    vq: VQOutput  #: quantised tokens (straight-through), code indices, VQ losses, counts
    recon_loss: torch.Tensor  #: MSE between ``recon`` and ``target``
    loss: torch.Tensor  #: ``recon_loss + vq.loss``


def _stack(depth, emb_size, n_heads, drop_prob, activation) -> nn.Sequential:
    return nn.Sequential(*[TransformerBlock(emb_size, n_heads, drop_prob, "head", activation)
                           for _ in range(depth)])


@register_model("eegformer")
class EEGFormer(BiosigModel):
    """EEGFormer of Chen et al. (2024) [Chen2024]_: VQ Transformer autoencoder per channel.

    Pipeline (every channel separately, with shared weights, so any channel count works):
    amplitude spectrum ``|FFT|`` of the window (or the raw signal with ``input_domain="time"``)
    -> instance normalisation per channel -> patches of length ``P`` with stride ``S``
    (``N = (L - P) // S + 1``) -> ``Linear(P, D)`` + learnable positional embedding ->
    ``encoder_depth`` pre-LN Transformer blocks + LayerNorm -> vector quantiser (``K`` codes of
    size ``D``, nearest code, straight-through) -> decoder positional embedding ->
    ``decoder_depth`` self-attention blocks + LayerNorm -> ``Linear(D, P)`` reconstructing the
    normalised patches. Pretraining loss: ``MSE(recon, patches) + ||sg[h] - v||^2 +
    beta ||h - sg[v]||^2`` (no masking). Downstream: ``forward_features`` gives the token
    features ``(B, C, N, D)`` (quantised by default), ``forward_head`` pools them (mean over
    channels and patches, or mean over patches with channels concatenated) into ``final_layer``.
    The downstream settings (linear probe, fine-tune of encoder + codebook + decoder, from
    scratch) are :class:`biosig.tasks.VQClassificationTask`.

    **Sources.** The paper body could not be obtained (no stored copy found; no official code).
    *From the abstract* [Chen2024]_: VQ Transformer, self-supervised pretraining on large
    compound EEG (TUH, ~1.7 TB), transfer to downstream tasks, interpretability via the
    discrete codes. *From secondary sources* (paper summaries, the FEMBA comparison tables,
    a model page; see ``docs/models/eegformer.md``): FFT-amplitude input, 250 Hz, 12-s
    windows, instance normalisation, per-channel patching with ``N = (L - P) // S + 1``,
    ``W_p`` + ``W_pos``, channel-independent encoder, L2 nearest-code quantiser with
    codebook + commitment loss and stop-gradients, a light decoder reconstructing the input
    patches, ``D = 128``, encoder depth 6 / 8 / 12, a 3-layer self-attention decoder, ``K`` =
    512 / 1024 / 2048, and the sizes 1.9 / 2.3 / 3.2 M. *Chosen here* (stated nowhere):
    8 heads scaled by ``sqrt(head_dim)``, feed-forward ``4 D`` with GELU, dropout 0.1,
    ``P = 60``, ``S = 30`` (so a 12-s window at 250 Hz, 1,500 spectrum bins, is covered exactly
    by 49 patches), ``beta = 0.25`` (VQ-VAE [vdOord2017]_), one FFT over the whole window
    keeping bins ``0 .. n_times // 2 - 1`` (``fft_frame`` gives per-frame spectra as in the
    TUSZ pipeline [Tang2022]_, i.e. time-localised tokens), plain amplitude (``log_amplitude``
    as an option), a separate decoder positional embedding (codes carry no position), final
    LayerNorms, a linear head on pooled quantised tokens, truncated-normal(0.02) init.
    EMA codebook updates, dead-code restarts and data initialisation of the codebook are
    options (off by default; not described for EEGFormer). They are recommended for
    pretraining: in a 60-step run on simulated EEG (``tests/test_eegformer.py``, K = 32) the
    plain quantiser ended with a held-out perplexity of about 4 (11 codes used), with all
    three options about 19 (32 codes used); on real EEG (``benchmarks/eegformer_eegmat.py``,
    eegformer_s, log amplitude, 10 CPU minutes) 6 / 512 codes against 379 / 512.

    **Parameters** at the paper's input (12 s at 250 Hz, any channel count, 2 outputs, default
    options): ``eegformer_s`` **1,878,846** (published 1.9 M: -1.1 %), ``eegformer_b``
    **2,340,926** (2.3 M: +1.8 %), ``eegformer_l`` **3,265,086** (3.2 M: +2.0 %). Of these
    1,849,984 / 2,312,064 / 3,236,224 are the Transformer layers and codebook; the residual
    28,862 are the patch embedding (7,808), two positional embeddings (2 x 6,272), the patch
    projection (7,740), two final LayerNorms (512) and the head (258).

    Parameters
    ----------
    n_chans, n_outputs, n_times, sfreq, chs_info : signal kwargs. ``n_times`` is required (it
        fixes the number of patches); ``n_chans`` only with ``head_pool="channel"``;
        ``n_outputs=None`` builds no head (``forward`` returns pooled features).
    input_domain : ``"fft"`` (amplitude spectrum, the paper) or ``"time"`` (raw samples).
    fft_frame : None (one FFT of the whole window) or a frame length in samples: the spectrum
        of each non-overlapping frame, frames concatenated (``n_times // fft_frame`` frames of
        ``fft_frame // 2`` bins).
    log_amplitude : ``log(|FFT| + 1e-8)`` instead of ``|FFT|``.
    patch_len, patch_stride : ``P`` and ``S`` (``S <= P``) on the input sequence.
    emb_size, n_heads, encoder_depth, decoder_depth, drop_prob, activation : Transformer
        width ``D``, heads, layers, dropout and feed-forward activation.
    n_codes, beta, ema, ema_decay, dead_after, data_init : codebook size ``K``, commitment
        weight, and the options of :class:`~biosig.models.blocks.quantizer.VectorQuantizer`.
    feature_source : which tokens ``forward_features`` returns: ``"quantized"``,
        ``"encoder"`` (before quantisation) or ``"decoder"`` (decoder output).
    head_pool : ``"mean"`` (over channels and patches: montage-free) or ``"channel"`` (mean
        over patches, channels concatenated: needs ``n_chans``).
    """

    requires = ("n_times",)
    paper = "Chen et al., EEGFormer, arXiv 2401.10278 (2024; sizes from secondary sources)"
    task = "VQ Transformer EEG foundation model: pretrain, probe, fine-tune, anomaly, codes"
    classifies = True
    paper_settings = dict(n_chans=19, n_outputs=2, n_times=3000, sfreq=250.0)  # 12 s @ 250 Hz
    paper_n_params = 1_878_846
    input_note = "any channel count and montage (channel-independent encoder)"
    # weights shared over channels (not the head with head_pool="channel": adapts_channels)
    channel_independent = True
    compiled_methods = ("forward_pretrain",)  # VQTask's training step

    def __init__(
        self,
        n_chans: int | None = None,
        n_outputs: int | None = None,
        n_times: int | None = None,
        sfreq: float | None = None,
        chs_info: list[dict] | None = None,
        input_domain: str = "fft",
        fft_frame: int | None = None,
        log_amplitude: bool = False,
        patch_len: int = 60,
        patch_stride: int = 30,
        emb_size: int = 128,
        n_heads: int = 8,
        encoder_depth: int = 6,
        decoder_depth: int = 3,
        n_codes: int = 512,
        beta: float = 0.25,
        ema: bool = False,
        ema_decay: float = 0.99,
        dead_after: int = 0,
        data_init: bool = False,
        drop_prob: float = 0.1,
        activation: type[nn.Module] = nn.GELU,
        feature_source: str = "quantized",
        head_pool: str = "mean",
    ):
        super().__init__()
        self._init_signal(n_chans, n_outputs, n_times, sfreq, chs_info)
        name = type(self).__name__
        for key, value, allowed in (("input_domain", input_domain, _DOMAINS),
                                    ("feature_source", feature_source, _FEATURES),
                                    ("head_pool", head_pool, _POOLS)):
            if value not in allowed:
                raise ConfigError(f"{name}: {key} must be one of {allowed}, got {value!r}")
        if head_pool == "channel" and self.n_chans is None:
            raise ConfigError(f"{name}: head_pool='channel' needs n_chans")
        if emb_size % n_heads:
            raise ConfigError(f"{name}: emb_size={emb_size} is not divisible by n_heads={n_heads}")
        if input_domain == "time" and (fft_frame is not None or log_amplitude):
            raise ConfigError(f"{name}: fft_frame and log_amplitude apply to "
                              "input_domain='fft' only")
        if fft_frame is not None and not 2 <= int(fft_frame) <= self.n_times:
            raise ConfigError(f"{name}: fft_frame must be in [2, n_times={self.n_times}], "
                              f"got {fft_frame!r}")
        if not 1 <= patch_stride <= patch_len:
            raise ConfigError(f"{name}: need 1 <= patch_stride <= patch_len, got "
                              f"patch_stride={patch_stride}, patch_len={patch_len}")
        self.input_domain, self.log_amplitude = input_domain, bool(log_amplitude)
        self.fft_frame = None if fft_frame is None else int(fft_frame)
        self.patch_len, self.patch_stride = int(patch_len), int(patch_stride)
        self.feature_source, self.head_pool = feature_source, head_pool
        self.seq_len = self._sequence_length()
        if self.seq_len < self.patch_len:
            raise ConfigError(f"{name}: the input sequence has {self.seq_len} values (n_times="
                              f"{self.n_times}, input_domain={input_domain!r}), fewer than "
                              f"patch_len={patch_len}")
        self.n_patches = (self.seq_len - self.patch_len) // self.patch_stride + 1
        self.emb_size = int(emb_size)

        self.patch_embed = nn.Linear(self.patch_len, emb_size)
        self.pos_embed = nn.Parameter(torch.zeros(self.n_patches, emb_size))
        self.encoder = _stack(encoder_depth, emb_size, n_heads, drop_prob, activation)
        self.encoder_norm = nn.LayerNorm(emb_size)
        self.quantizer = VectorQuantizer(n_codes, emb_size, beta=beta, ema=ema, decay=ema_decay,
                                         dead_after=dead_after, data_init=data_init)
        self.decoder_pos_embed = nn.Parameter(torch.zeros(self.n_patches, emb_size))
        self.decoder = _stack(decoder_depth, emb_size, n_heads, drop_prob, activation)
        self.decoder_norm = nn.LayerNorm(emb_size)
        self.patch_out = nn.Linear(emb_size, self.patch_len)
        self.n_features = emb_size * (self.n_chans if head_pool == "channel" else 1)
        self.final_layer = (nn.Identity() if self.n_outputs is None
                            else nn.Linear(self.n_features, self.n_outputs))
        self.apply(_init_weights)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.decoder_pos_embed, std=0.02)

    # ------------------------------------------------------------------ input
    def _sequence_length(self) -> int:
        if self.input_domain == "time":
            return self.n_times
        if self.fft_frame is None:
            return self.n_times // 2
        return (self.n_times // self.fft_frame) * (self.fft_frame // 2)

    def _check(self, x: torch.Tensor) -> torch.Tensor:
        chans_fixed = self.head_pool == "channel"
        if (x.ndim != 3 or x.shape[-1] != self.n_times
                or (chans_fixed and x.shape[1] != self.n_chans)):
            chans = self.n_chans if chans_fixed else "n_chans"
            raise ShapeError(f"{type(self).__name__} expects (batch, {chans}, {self.n_times}), "
                             f"got {tuple(x.shape)}")
        return x

    def input_sequence(self, x: torch.Tensor) -> torch.Tensor:
        """Per-channel input sequence before normalisation, ``(B, C, L)``: the amplitude
        spectrum (or log-amplitude, or the raw signal with ``input_domain="time"``)."""
        x = self._check(x).float()
        if self.input_domain == "time":
            return x
        if self.fft_frame is None:
            seq = torch.fft.rfft(x, dim=-1).abs()[..., : self.n_times // 2]
        else:
            w = self.fft_frame
            frames = x[..., : (self.n_times // w) * w].unfold(-1, w, w)
            seq = torch.fft.rfft(frames, dim=-1).abs()[..., : w // 2].flatten(-2)
        return torch.log(seq + 1e-8) if self.log_amplitude else seq

    def _normalize(self, seq: torch.Tensor):
        mean = seq.mean(-1, keepdim=True)
        std = seq.std(-1, keepdim=True, unbiased=False)
        return (seq - mean) / (std + 1e-5), mean, std

    def _patches_and_stats(self, x: torch.Tensor):
        seq, mean, std = self._normalize(self.input_sequence(x))
        patches = seq[..., : self.covered_len].unfold(-1, self.patch_len, self.patch_stride)
        return patches, mean, std

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        """Instance-normalised patches ``(B, C, N, P)``: the encoder input and the target."""
        return self._patches_and_stats(x)[0]

    @property
    def covered_len(self) -> int:
        """Length of the input sequence the patches cover (the tail beyond is unused)."""
        return (self.n_patches - 1) * self.patch_stride + self.patch_len

    # ------------------------------------------------------------------ network
    def _encode(self, patches: torch.Tensor) -> torch.Tensor:
        b, c, n, p = patches.shape
        h = self.patch_embed(patches.reshape(b * c, n, p)) + self.pos_embed
        return self.encoder_norm(self.encoder(h)).reshape(b, c, n, -1)

    def _decode(self, tokens: torch.Tensor) -> torch.Tensor:
        b, c, n, d = tokens.shape
        h = self.decoder(tokens.reshape(b * c, n, d) + self.decoder_pos_embed)
        return self.decoder_norm(h).reshape(b, c, n, d)

    def forward_pretrain(self, x: torch.Tensor) -> EEGFormerOutput:
        """Pretraining pass: reconstruction of the normalised patches from the quantised tokens."""
        target = self.patches(x)
        encoded = self._encode(target)
        vq = self.quantizer(encoded)
        decoded = self._decode(vq.quantized)
        recon = self.patch_out(decoded)
        recon_loss = F.mse_loss(recon, target)
        return EEGFormerOutput(target=target, recon=recon, encoded=encoded, decoded=decoded,
                               vq=vq, recon_loss=recon_loss, loss=recon_loss + vq.loss)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Quantised tokens ``(B, C, N, D)`` and their code indices ``(B, C, N)``."""
        vq = self.quantizer(self._encode(self.patches(x)))
        return vq.quantized, vq.indices

    def reconstruct(self, x: torch.Tensor, denormalize: bool = True) -> torch.Tensor:
        """Reconstructed input sequence ``(B, C, covered_len)`` (overlapping patches averaged);
        in the units of :meth:`input_sequence` unless ``denormalize=False``."""
        patches, mean, std = self._patches_and_stats(x)
        recon = self.patch_out(self._decode(self.quantizer(self._encode(patches)).quantized))
        out = self._fold(recon)
        return out * (std + 1e-5) + mean if denormalize else out

    def _fold(self, patches: torch.Tensor) -> torch.Tensor:
        n, p, s = self.n_patches, self.patch_len, self.patch_stride
        pos = (torch.arange(n, device=patches.device)[:, None] * s
               + torch.arange(p, device=patches.device)[None]).reshape(-1)
        total = patches.new_zeros(*patches.shape[:2], self.covered_len)
        total.index_add_(-1, pos, patches.reshape(*patches.shape[:2], -1))
        count = torch.bincount(pos, minlength=self.covered_len).to(patches.dtype)
        return total / count

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Token features ``(B, C, N, D)`` from ``feature_source`` (quantised by default).

        In training mode the quantiser keeps its EMA updates / restarts (if enabled); put
        ``self.quantizer`` in eval mode to keep the codebook fixed while fine-tuning."""
        encoded = self._encode(self.patches(x))
        if self.feature_source == "encoder":
            return encoded
        quantized = self.quantizer(encoded).quantized
        return quantized if self.feature_source == "quantized" else self._decode(quantized)

    def set_feature_source(self, source: str) -> None:
        """Change which tokens ``forward_features`` returns (recorded in ``get_config``)."""
        if source not in _FEATURES:
            raise ConfigError(f"{type(self).__name__}: feature_source must be one of "
                              f"{_FEATURES}, got {source!r}")
        self.feature_source = source
        if hasattr(self, "_init_kwargs"):
            self._init_kwargs["feature_source"] = source

    def pool(self, features: torch.Tensor) -> torch.Tensor:
        """Pooled features ``(B, n_features)`` as the head sees them."""
        if self.head_pool == "mean":
            return features.mean(dim=(1, 2))
        return features.mean(dim=2).flatten(1)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.final_layer(self.pool(features))

    def reset_head(self, n_outputs: int) -> None:
        """A fresh ``Linear(n_features, n_outputs)`` head."""
        self._set_n_outputs(n_outputs)
        ref = self.patch_embed.weight
        self.final_layer = nn.Linear(self.n_features, self.n_outputs).to(ref.device, ref.dtype)

    @classmethod
    def adapts_channels(cls, kwargs: dict) -> bool:
        # head_pool="channel" gives every channel its own head weights: no subset or reorder
        return kwargs.get("head_pool", "mean") == "mean"


def _init_weights(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        nn.init.zeros_(m.bias)


_PAPER_INPUT = EEGFormer.paper_settings
register_variant("eegformer_s", "eegformer", encoder_depth=6, n_codes=512,
                 task="EEG foundation model, small: 6 encoder layers, 512 codes",
                 paper_settings=_PAPER_INPUT, paper_n_params=1_878_846)
register_variant("eegformer_b", "eegformer", encoder_depth=8, n_codes=1024,
                 task="EEG foundation model, base: 8 encoder layers, 1024 codes",
                 paper_settings=_PAPER_INPUT, paper_n_params=2_340_926)
register_variant("eegformer_l", "eegformer", encoder_depth=12, n_codes=2048,
                 task="EEG foundation model, large: 12 encoder layers, 2048 codes",
                 paper_settings=_PAPER_INPUT, paper_n_params=3_265_086)
