"""Reusable building blocks shared by several models."""

from biosig.models.blocks.eegnet_cells import (
    ConcatMix,
    ConvGaussian,
    EEGNetDecoderCells,
    EEGNetEncoderCells,
    eegnet_kernel_sizes,
)
from biosig.models.blocks.vae import VAEOutput, gaussian_kl, residual_gaussian_kl

__all__ = [
    "ConcatMix",
    "ConvGaussian",
    "EEGNetDecoderCells",
    "EEGNetEncoderCells",
    "VAEOutput",
    "eegnet_kernel_sizes",
    "gaussian_kl",
    "residual_gaussian_kl",
]
