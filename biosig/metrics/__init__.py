"""Metrics for generated and reconstructed signals: curve distances, per-lead errors,
correlations; and the macro AUROC of class probabilities."""

from biosig.metrics.classification import macro_auroc
from biosig.metrics.correlation import auto_correlation, correlation_report, cross_correlation
from biosig.metrics.frechet import (
    discrete_frechet,
    frechet_distance_curve,
    frechet_feature_distance,
    frechet_per_lead,
)
from biosig.metrics.signal import dtw_distance, mae, mse, pearson_r, per_lead_table

__all__ = [
    "auto_correlation",
    "correlation_report",
    "cross_correlation",
    "discrete_frechet",
    "dtw_distance",
    "frechet_distance_curve",
    "frechet_feature_distance",
    "frechet_per_lead",
    "macro_auroc",
    "mae",
    "mse",
    "pearson_r",
    "per_lead_table",
]
