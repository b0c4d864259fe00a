"""Deprecated: moved to :mod:`biosig.analysis.ecg` (reports, baselines) and
:mod:`biosig.signal.ecg_delineation` (R-peaks, P-Q windows, the annotation-channel step)."""

_ANALYSIS = (
    "match_peaks",
    "feature_agreement_report",
    "copy_input",
    "LeastSquaresLeadMap",
    "evaluation_report",
)
_SIGNAL = ("detect_r_peaks", "pq_windows", "annotation_masks", "ECGAnnotationChannels")


def __getattr__(name):
    import biosig.analysis.ecg as analysis
    import biosig.signal.ecg_delineation as signal
    from biosig._deprecation import moved

    if name in _SIGNAL:
        return moved(__name__, name, signal, _SIGNAL)
    return moved(__name__, name, analysis, _ANALYSIS)
