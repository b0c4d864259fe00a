"""Losses: soft-DTW (per channel; fused CPU/CUDA kernels, PyTorch wavefront reference)."""

from biosig.losses.soft_dtw import SoftDTWLoss, dtw, soft_dtw, soft_dtw_divergence

__all__ = ["SoftDTWLoss", "dtw", "soft_dtw", "soft_dtw_divergence"]
