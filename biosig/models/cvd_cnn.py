"""CVD-onset CNN: 1-D CNN over the 12 ECG leads (+ optional R-peak / P-Q annotation channels).

ECGNet (Bagga et al., arXiv 2310.03753) feeds ECGs annotated with the features that generation
preserves (R-peaks, P-Q segments) to a "CVD-onset-predictive CNN" with multiple CVD targets. The
paper body is not public, so the architecture is a **design choice**: a plain 1-D CNN
(conv-BN-activation-max-pool blocks, global average + max pooling, dropout, linear multi-label
head), in the spirit of the 1-D CNN baselines of the PTB-XL benchmark (Strodthoff et al., IEEE
JBHI 2021). Outputs are logits; train with a sigmoid / binary cross-entropy
(``ClassificationTask(multilabel=True)``).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from biosig.errors import ConfigError
from biosig.models._registry import register_model

__all__ = ["CVDCNN"]


@register_model("cvd_cnn")
class CVDCNN(nn.Module):
    """Multi-label 1-D CNN for 12-lead ECG (mV) plus annotation channels.

    The CVD-onset predictor of ECGNet (Bagga, Jeon & Issokson, arXiv 2310.03753, 2023), which
    feeds ECGs annotated with R-peaks and P-Q segments to a CNN; the paper body is not public, so
    its layout here is a design choice (see Notes).

    Parameters
    ----------
    n_chans : input channels: 12 leads, or 14 with the R-peak and P-Q masks of
        :func:`biosig.ecg_analysis.annotation_masks` / :class:`biosig.ecg_analysis.ECGAnnotationChannels`.
    n_outputs : number of labels (PTB-XL superclasses: 5).
    n_times, sfreq, chs_info : signal kwargs (the network is length-agnostic).
    channels : conv widths per block (*design choice*).
    kernel_size : conv kernel (odd).
    drop_prob : dropout before the head.
    activation : activation class.

    Notes
    -----
    Parameters at the defaults (channels (32, 64, 128, 128), kernel 7, n_outputs=5; tested):
    **191,045** with n_chans=12, **191,493** with n_chans=14.
    """

    def __init__(
        self,
        n_chans: int = 12,
        n_outputs: int = 5,
        n_times: int = 0,
        sfreq: float = 0.0,
        chs_info: list | None = None,
        channels: tuple[int, ...] = (32, 64, 128, 128),
        kernel_size: int = 7,
        drop_prob: float = 0.3,
        activation: type[nn.Module] = nn.ReLU,
    ):
        super().__init__()
        if n_chans < 1 or n_outputs < 1:
            raise ConfigError(f"n_chans and n_outputs must be >= 1, got {n_chans}, {n_outputs}")
        if kernel_size % 2 == 0 or not channels:
            raise ConfigError("kernel_size must be odd and channels non-empty")
        self.n_chans, self.n_outputs, self.n_times, self.sfreq = n_chans, n_outputs, n_times, sfreq
        blocks = []
        c_in = n_chans
        for c in channels:
            blocks += [nn.Conv1d(c_in, c, kernel_size, padding=kernel_size // 2, bias=False),
                       nn.BatchNorm1d(c), activation(), nn.MaxPool1d(2, ceil_mode=True)]
            c_in = c
        self.features = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(drop_prob)
        self.final_layer = nn.Linear(2 * c_in, n_outputs)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or x.shape[1] != self.n_chans:
            raise ConfigError(f"expected (batch, {self.n_chans}, n_times), got {tuple(x.shape)}")
        h = self.features(x)
        return torch.cat([h.mean(-1), h.amax(-1)], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, n_chans, T), leads in mV (+ 0/1 masks) -> logits (B, n_outputs)."""
        return self.final_layer(self.dropout(self.forward_features(x)))
