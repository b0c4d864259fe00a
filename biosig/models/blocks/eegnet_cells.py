"""EEGNet encoder cells, mirrored "Upsample" decoder cells and 1x1 latent maps.

Shared by :class:`biosig.models.HVEEGNet` and :class:`biosig.models.VEEGNet` (Cisotto et al.,
2024; Zancanaro et al., arXiv 2312.00799). The encoder is EEGNet (Lawhern et al., 2018) cut
into three cells (temporal, spatial, separable) whose outputs feed the hierarchical decoder;
the decoder mirrors them with batch-norm and activation *before* each convolution (the order
of the official code) and nearest-neighbour upsampling in place of pooling.

All cells work on ``(B, depth, H, W)`` maps; the input of the encoder is ``(B, 1, C, T)`` EEG in
µV.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from biosig.errors import ConfigError
from biosig.models.base import BiosigModel

#: Kernel sizes of hvEEGNet at its reference sampling rate (BCI IV 2a, 250 Hz).
REFERENCE_SFREQ = 250.0
REFERENCE_TEMPORAL_KERNEL = 128
REFERENCE_SEPARABLE_KERNEL = 32


def eegnet_kernel_sizes(
    sfreq: float | None,
    temporal_kernel: int | None = None,
    separable_kernel: int | None = None,
) -> tuple[int, int]:
    """Temporal and separable kernel lengths, scaled with ``sfreq`` when not given.

    At 250 Hz these are the paper's (1, 128) and (1, 32), i.e. about 0.5 s and 0.13 s; at
    another rate the same durations in samples. Without ``sfreq`` both kernels must be given
    (no rate is assumed).
    """
    if not sfreq and (temporal_kernel is None or separable_kernel is None):
        raise ConfigError("sfreq is needed: the EEGNet kernel lengths follow the sampling rate "
                          f"({REFERENCE_TEMPORAL_KERNEL} and {REFERENCE_SEPARABLE_KERNEL} samples "
                          f"at {REFERENCE_SFREQ:g} Hz); or give both temporal_kernel and "
                          "separable_kernel")
    scale = (float(sfreq) / REFERENCE_SFREQ) if sfreq else 1.0
    k1 = round(REFERENCE_TEMPORAL_KERNEL * scale) if temporal_kernel is None else temporal_kernel
    k3 = round(REFERENCE_SEPARABLE_KERNEL * scale) if separable_kernel is None else separable_kernel
    k1, k3 = int(k1), int(k3)
    if k1 < 1 or k3 < 1:
        raise ConfigError(f"kernel sizes must be >= 1, got temporal={k1}, separable={k3}")
    return k1, k3


class SameConv2d(nn.Conv2d):
    """``Conv2d`` with 'same' output size along time, also for even kernel lengths.

    Pads ``(k - 1) // 2`` samples on the left and ``k // 2`` on the right (the split PyTorch
    uses for ``padding='same'``), without its extra copy and warning for even kernels.
    Only the time axis (last) is padded; the kernel must span one row.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, groups: int = 1,
                 bias: bool = False):
        super().__init__(in_channels, out_channels, (1, kernel_size), groups=groups, bias=bias)
        self._pad = ((kernel_size - 1) // 2, kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(nn.functional.pad(x, self._pad))


class EEGNetEncoderCells(nn.Module):
    """EEGNet as three cells; ``forward`` returns the output of every cell.

    E1 temporal: ``Conv2d(1, F1, (1, k1), 'same')`` + BN -> ``(F1, C, T)``.
    E2 spatial: depthwise ``Conv2d(F1, F1 D, (C, 1), groups=F1)`` + BN + act + Dropout2d
    -> ``(F1 D, 1, T)``.
    E3 separable: depthwise ``Conv2d(F1 D, F1 D, (1, k3), 'same')`` + pointwise to ``F2`` + BN +
    act + AvgPool ``(1, pool)`` + Dropout2d -> ``(F2, 1, T // pool)``. Convolutions without bias.
    """

    def __init__(self, n_chans: int, F1: int = 8, D: int = 2, F2: int = 16,
                 temporal_kernel: int = 128, separable_kernel: int = 32, pool: int = 10,
                 drop_prob: float = 0.5, activation: type[nn.Module] = nn.ELU):
        super().__init__()
        FD = F1 * D
        self.temporal = nn.Sequential(
            SameConv2d(1, F1, temporal_kernel),
            nn.BatchNorm2d(F1),
        )
        self.spatial = nn.Sequential(
            nn.Conv2d(F1, FD, (n_chans, 1), groups=F1, bias=False),
            nn.BatchNorm2d(FD),
            activation(),
            nn.Dropout2d(drop_prob),
        )
        self.separable = nn.Sequential(
            SameConv2d(FD, FD, separable_kernel, groups=FD),
            nn.Conv2d(FD, F2, 1, bias=False),
            nn.BatchNorm2d(F2),
            activation(),
            nn.AvgPool2d((1, pool)) if pool > 1 else nn.Identity(),
            nn.Dropout2d(drop_prob),
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h1 = self.temporal(x)
        h2 = self.spatial(h1)
        h3 = self.separable(h2)
        return [h1, h2, h3]


class EEGNetDecoderCells(nn.Module):
    """Mirror of :class:`EEGNetEncoderCells` (the official "Upsample" decoder).

    D1: Dropout2d -> Upsample to ``(1, n_times)`` -> act -> BN(F2) -> ``Conv2d(F2, F1 D, 1x1)`` ->
    depthwise ``Conv2d(F1 D, (1, k3), 'same')``.
    D2: Dropout2d -> act -> BN(F1 D) -> ``ConvTranspose2d(F1 D, F1, (C, 1), groups=F1)``.
    D3: BN(F1) -> ``final_layer = Conv2d(F1, 1, (1, k1), 'same')``. Convolutions without bias.
    """

    def __init__(self, n_chans: int, n_times: int, F1: int = 8, D: int = 2, F2: int = 16,
                 temporal_kernel: int = 128, separable_kernel: int = 32, pool: int = 10,
                 drop_prob: float = 0.5, activation: type[nn.Module] = nn.ELU):
        super().__init__()
        FD = F1 * D
        self.separable = nn.Sequential(
            nn.Dropout2d(drop_prob),
            nn.Upsample(size=(1, n_times), mode="nearest") if pool > 1 else nn.Identity(),
            activation(),
            nn.BatchNorm2d(F2),
            nn.Conv2d(F2, FD, 1, bias=False),
            SameConv2d(FD, FD, separable_kernel, groups=FD),
        )
        self.spatial = nn.Sequential(
            nn.Dropout2d(drop_prob),
            activation(),
            nn.BatchNorm2d(FD),
            nn.ConvTranspose2d(FD, F1, (n_chans, 1), groups=F1, bias=False),
        )
        self.temporal_norm = nn.BatchNorm2d(F1)
        self.final_layer = SameConv2d(F1, 1, temporal_kernel)

    n_cells = 3

    def cell(self, i: int, h: torch.Tensor) -> torch.Tensor:
        """Apply decoder cell ``i`` (0: D1, 1: D2, 2: D3 ending with ``final_layer``)."""
        if i == 0:
            return self.separable(h)
        if i == 1:
            return self.spatial(h)
        if i == 2:
            return self.final_layer(self.temporal_norm(h))
        raise IndexError(f"decoder cell index must be 0, 1 or 2, got {i}")

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """All three cells: ``(B, F2, 1, T // pool)`` -> ``(B, 1, C, T)``."""
        for i in range(self.n_cells):
            z = self.cell(i, z)
        return z


class ConvGaussian(nn.Module):
    """1x1 map of a feature map to a diagonal Gaussian: ``[act] -> Conv2d(c_in, 2 c_out, 1)``.

    Returns ``(mu, logvar)``, each ``(B, c_out, H, W)`` (first half of the depth is the mean).
    """

    def __init__(self, in_channels: int, out_channels: int | None = None,
                 activation: type[nn.Module] | None = nn.ELU):
        super().__init__()
        out_channels = out_channels or in_channels
        self.act = activation() if activation is not None else nn.Identity()
        self.conv = nn.Conv2d(in_channels, 2 * out_channels, 1)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.conv(self.act(h)).chunk(2, dim=1)
        return mu, logvar

    @staticmethod
    def sample(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """Reparameterised sample ``mu + exp(logvar / 2) * eps``."""
        return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)


class ConcatMix(nn.Module):
    """Concatenate two maps along depth and mix them with a 1x1 convolution (with bias)."""

    def __init__(self, c1: int, c2: int, c_out: int):
        super().__init__()
        self.mix = nn.Conv2d(c1 + c2, c_out, 1)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.mix(torch.cat([a, b], dim=1))


class EEGNetVAEBase(BiosigModel):
    """Shared set-up of the EEGNet VAEs (hvEEGNet, vEEGNet): the constructor (signal arguments,
    kernels, encoder cells; a subclass adds its latents and decoder in ``_build_latents``) and
    the optional classifier head on the deepest posterior ``[mu, logvar]``. Parameters: see
    :class:`~biosig.models.HVEEGNet`.

    Contract: ``forward_features(x)`` is the flattened ``[mu, logvar]`` of the deepest posterior
    ``(B, 2 |z1|)``; the head is ``classifier`` (``Linear(2 |z1|, n_outputs)`` + LogSoftmax),
    present with ``use_classifier=True`` or added by ``reset_head(n_outputs)``. The weights fit
    any ``n_times`` (convolutions only; the classifier's input size does depend on it).
    """

    requires = ("n_chans", "n_times")
    head_attr = "classifier"
    variational = True
    length_agnostic = True
    input_note = "sfreq or both kernels"

    def __init__(
        self,
        n_chans: int | None = None,
        n_outputs: int | None = None,
        n_times: int | None = None,
        sfreq: float | None = None,
        chs_info: list[dict] | None = None,
        F1: int = 8,
        D: int = 2,
        F2: int = 16,
        temporal_kernel: int | None = None,
        separable_kernel: int | None = None,
        pool: int = 10,
        drop_prob: float = 0.5,
        activation: type[nn.Module] = nn.ELU,
        sampling_activation: bool = True,
        use_classifier: bool = False,
    ):
        super().__init__()
        self._init_signal(n_chans, n_outputs, n_times, sfreq, chs_info)
        if self.n_times < max(1, pool):
            raise ConfigError(f"{type(self).__name__}: n_times must be >= the pooling size "
                              f"{pool}, got {n_times!r}")
        try:
            k1, k3 = eegnet_kernel_sizes(self.sfreq, temporal_kernel, separable_kernel)
        except ConfigError as err:
            raise ConfigError(f"{type(self).__name__}: {err}") from None
        self.n_pooled = self.n_times // pool if pool > 1 else self.n_times
        cell_kw = dict(F1=F1, D=D, F2=F2, temporal_kernel=k1, separable_kernel=k3, pool=pool,
                       drop_prob=drop_prob, activation=activation)
        self.encoder = EEGNetEncoderCells(self.n_chans, **cell_kw)
        self.latent_shapes: list[tuple[int, int, int]] = []
        self._build_latents(cell_kw, activation if sampling_activation else None)
        self._build_classifier(use_classifier)

    def _build_latents(self, cell_kw: dict, s_act: type[nn.Module] | None) -> None:
        """Latent maps and decoder of the model; sets ``latent_shapes`` (deepest first)."""
        raise NotImplementedError

    def _build_classifier(self, use_classifier: bool) -> None:
        """``self.classifier`` on ``[mu1, logvar1]`` (after ``_build_latents``)."""
        self.classifier = None
        if use_classifier:
            if not self.n_outputs or self.n_outputs < 2:
                raise ConfigError(f"{type(self).__name__}: use_classifier=True needs "
                                  "n_outputs >= 2")
            self.classifier = self._new_classifier(self.n_outputs)

    def _new_classifier(self, n_outputs: int) -> nn.Module:
        c, h, w = self.latent_shapes[0]
        return nn.Sequential(nn.Linear(2 * c * h * w, n_outputs), nn.LogSoftmax(dim=1))

    def _check_input(self, x: torch.Tensor) -> torch.Tensor:
        return self.check_input(x).unsqueeze(1)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Flattened ``[mu, logvar]`` of the deepest posterior, ``(B, 2 |z1|)``."""
        mu, logvar = self.encode(x)
        return torch.cat([mu, logvar], 1).flatten(1)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Class log-probabilities from ``forward_features``' output."""
        if self.classifier is None:
            raise ConfigError(f"{type(self).__name__} has no classifier: build it with "
                              "use_classifier=True or call reset_head(n_outputs)")
        return self.classifier(features)

    def reset_head(self, n_outputs: int) -> None:
        """Replace (or add) the classifier head with ``n_outputs`` classes."""
        ref = next(self.parameters())
        self._set_n_outputs(n_outputs)
        self.classifier = self._new_classifier(self.n_outputs).to(ref.device, ref.dtype)
        if hasattr(self, "_init_kwargs"):
            self._init_kwargs["use_classifier"] = True
