"""Deprecated: moved to :mod:`biosig.analysis.anomaly`, figures to
:mod:`biosig.viz.reconstruction`."""

_ANALYSIS = (
    "MAD_SCALE",
    "extract_trials",
    "flag_trials",
    "reconstruct_trials",
    "robust_threshold",
    "score_trials",
    "trial_errors",
)
_PLOTS = ("plot_reconstructions", "plot_worst_trials")


def __getattr__(name):
    import biosig.analysis.anomaly as analysis
    import biosig.viz.reconstruction as plots
    from biosig._deprecation import moved

    if name in _PLOTS:
        return moved(__name__, name, plots, _PLOTS)
    return moved(__name__, name, analysis, _ANALYSIS)
