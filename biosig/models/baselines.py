"""Baselines from braindecode (imported lazily: braindecode costs ~3 s to import).

- ``eegnet``: EEGNet-v4 (Lawhern et al. 2018, doi:10.1088/1741-2552/aace8c).
- ``eegconformer``: EEG Conformer (Song et al. 2023, doi:10.1109/TNSRE.2022.3230250).
- ``shallowfbcspnet``: Shallow ConvNet (Schirrmeister et al. 2017, doi:10.1002/hbm.23730).
"""

from __future__ import annotations

from biosig.models._registry import register_model


def _braindecode(name: str, n_chans: int, n_outputs: int, n_times: int, sfreq: float | None, **kw):
    try:
        import braindecode.models as bd
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError("baseline models need braindecode: pip install 'biosig[baselines]'") from err
    if sfreq:
        kw["sfreq"] = sfreq
    return getattr(bd, name)(n_chans=n_chans, n_outputs=n_outputs, n_times=n_times, **kw)


@register_model("eegnet")
def eegnet(n_chans: int, n_outputs: int, n_times: int, sfreq: float | None = None, **kw):
    """braindecode's EEGNet (v4): ~2-3k parameters at 22 x 1000, 4 classes."""
    return _braindecode("EEGNet", n_chans, n_outputs, n_times, sfreq, **kw)


@register_model("eegconformer")
def eegconformer(n_chans: int, n_outputs: int, n_times: int, sfreq: float | None = None, **kw):
    """braindecode's EEGConformer: 789,572 parameters at 22 x 1000, 4 classes."""
    return _braindecode("EEGConformer", n_chans, n_outputs, n_times, sfreq, **kw)


@register_model("shallowfbcspnet")
def shallowfbcspnet(n_chans: int, n_outputs: int, n_times: int, sfreq: float | None = None, **kw):
    """braindecode's ShallowFBCSPNet."""
    return _braindecode("ShallowFBCSPNet", n_chans, n_outputs, n_times, sfreq, **kw)
