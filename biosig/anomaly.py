"""Deprecated: moved to :mod:`biosig.analysis.anomaly` (its public names and ``MAD_SCALE``),
figures to :mod:`biosig.viz.reconstruction`."""


def __getattr__(name):
    import biosig.analysis.anomaly as analysis
    import biosig.viz.reconstruction as plots
    from biosig._deprecation import moved

    if name in plots.__all__:
        return moved(__name__, name, plots, plots.__all__)
    return moved(__name__, name, analysis, (*analysis.__all__, "MAD_SCALE"))
