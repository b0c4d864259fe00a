"""Losses: soft-DTW (per-channel, pure PyTorch wavefront with analytic backward)."""

from biosig.losses.soft_dtw import SoftDTWLoss, dtw, soft_dtw, soft_dtw_divergence

__all__ = ["SoftDTWLoss", "dtw", "soft_dtw", "soft_dtw_divergence"]
