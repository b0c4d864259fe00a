"""Metrics for generated and reconstructed signals (curve distances, per-lead errors, correlations).

Heavy helpers are imported from their modules: ``biosig.metrics.frechet``, ``biosig.metrics.signal``,
``biosig.metrics.correlation``.
"""

from biosig.metrics.frechet import (
    discrete_frechet,
    frechet_distance_curve,
    frechet_feature_distance,
    frechet_per_lead,
)

__all__ = [
    "discrete_frechet",
    "frechet_distance_curve",
    "frechet_feature_distance",
    "frechet_per_lead",
]
