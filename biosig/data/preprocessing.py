"""Deprecated: moved to :mod:`biosig.signal.preprocessing` (the steps are also exported by
:mod:`biosig.data` and :mod:`biosig.signal`; this alias goes away in the next release)."""

_MOVED = (
    "Step",
    "apply_steps",
    "steps_params",
    "PickChannels",
    "DropChannels",
    "RenameChannels",
    "Bandpass",
    "Notch",
    "Resample",
    "Rereference",
    "BipolarMontage",
    "Scale",
    "Clip",
)


def __getattr__(name):
    import biosig.signal.preprocessing as new
    from biosig._deprecation import moved

    return moved(__name__, name, new, _MOVED)
