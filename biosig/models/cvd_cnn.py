"""CVD-onset CNN: 1-D CNN over the 12 ECG leads (+ optional R-peak / P-Q annotation channels).

ECGNet (Bagga et al., arXiv 2310.03753) feeds ECGs annotated with the features that generation
preserves (R-peaks, P-Q segments) to a "CVD-onset-predictive CNN" with multiple CVD targets. The
paper body is not public, so the architecture is a **design choice**: a plain 1-D CNN
(conv-BN-activation-max-pool blocks, global average + max pooling, dropout, linear multi-label
head), in the spirit of the 1-D CNN baselines of the PTB-XL benchmark (Strodthoff et al., IEEE
JBHI 2021). Outputs are logits; train with a sigmoid / binary cross-entropy
(``ClassificationTask(multilabel=True)``). A trained one's weights folder scores an ECG file:
:func:`biosig.analysis.cvd.cvd_probabilities` (``biosig cvd WEIGHTS FILE``).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from biosig.errors import ConfigError
from biosig.models._registry import register_model
from biosig.models.base import BiosigModel

__all__ = ["CVDCNN"]


@register_model("cvd_cnn")
class CVDCNN(BiosigModel):
    """Multi-label 1-D CNN for 12-lead ECG (mV) plus annotation channels.

    The CVD-onset predictor of ECGNet (Bagga, Jeon & Issokson, arXiv 2310.03753, 2023), which
    feeds ECGs annotated with R-peaks and P-Q segments to a CNN; the paper body is not public, so
    its layout here is a design choice (see Notes).

    Parameters
    ----------
    n_chans : input channels: 12 leads, or 14 with the R-peak and P-Q masks of
        :func:`biosig.signal.ecg_delineation.annotation_masks` /
        :class:`biosig.signal.ecg_delineation.ECGAnnotationChannels`.
    n_outputs : number of labels (PTB-XL superclasses: 5).
    n_times, sfreq, chs_info : signal kwargs, optional (the network is length-agnostic and its
        kernels do not follow the rate; ``sfreq`` is recorded for the weights card).
    channels : conv widths per block (*design choice*).
    kernel_size : conv kernel (odd).
    drop_prob : dropout before the head.
    activation : activation class.

    Notes
    -----
    Parameters at the defaults (channels (32, 64, 128, 128), kernel 7, n_outputs=5; tested):
    **191,045** with n_chans=12, **191,493** with n_chans=14.
    """

    requires = ("n_chans", "n_outputs")
    paper = "ECGNet's CVD predictor, Bagga et al., arXiv 2310.03753 (design choice)"
    task = "multi-label 12-lead ECG CNN"
    classifies = True
    paper_settings = dict(n_chans=12, n_outputs=5)
    paper_n_params = 191_045
    modality = "ECG"
    units = "mV"
    length_agnostic = True

    def __init__(
        self,
        n_chans: int | None = 12,
        n_outputs: int | None = 5,
        n_times: int | None = None,
        sfreq: float | None = None,
        chs_info: list | None = None,
        channels: tuple[int, ...] = (32, 64, 128, 128),
        kernel_size: int = 7,
        drop_prob: float = 0.3,
        activation: type[nn.Module] = nn.ReLU,
    ):
        super().__init__()
        self._init_signal(n_chans, n_outputs, n_times, sfreq, chs_info)
        if kernel_size % 2 == 0 or not channels:
            raise ConfigError("kernel_size must be odd and channels non-empty")
        blocks = []
        c_in = self.n_chans
        for c in channels:
            blocks += [nn.Conv1d(c_in, c, kernel_size, padding=kernel_size // 2, bias=False),
                       nn.BatchNorm1d(c), activation(), nn.MaxPool1d(2, ceil_mode=True)]
            c_in = c
        self.features = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(drop_prob)
        self.final_layer = nn.Linear(2 * c_in, self.n_outputs)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Global average and max over time of the last block, ``(B, 2 channels[-1])``."""
        h = self.features(self.check_input(x, n_times=False))
        return torch.cat([h.mean(-1), h.amax(-1)], dim=1)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.final_layer(self.dropout(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, n_chans, T), leads in mV (+ 0/1 masks) -> logits (B, n_outputs)."""
        return self.forward_head(self.forward_features(x))
