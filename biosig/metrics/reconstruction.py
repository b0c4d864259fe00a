"""Reconstruction fidelity of EEG trials: MSE, per-channel correlation, band-power error, DTW.

Every function takes the originals ``x`` and reconstructions ``x_hat`` as arrays or tensors of
shape ``(n_trials, n_chans, n_times)`` (EEG in µV) and returns one value per trial and channel,
``(n_trials, n_chans)`` (band powers: ``(n_trials, n_chans, n_bands)``), so that results can be
averaged per subject or screened for outlying trials (:mod:`biosig.analysis.anomaly`).
hvEEGNet (Cisotto et al., 2024) evaluates its reconstructions by (soft-)DTW per trial and
channel, time-domain overlays and power spectra.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import torch

from biosig.errors import ConfigError
from biosig.metrics import signal as signal_metrics

__all__ = [
    "EEG_BANDS",
    "band_power_error",
    "band_powers",
    "channel_correlation",
    "dtw_error",
    "mse",
    "reconstruction_report",
]

#: Classical EEG bands in Hz (upper edges exclusive); gamma is capped at Nyquist.
EEG_BANDS: dict[str, tuple[float, float]] = {
    "delta": (0.5, 4.0),
    "theta": (4.0, 8.0),
    "alpha": (8.0, 13.0),
    "beta": (13.0, 30.0),
    "gamma": (30.0, 100.0),
}


def _np64(x) -> np.ndarray:
    """An array or tensor as a float64 numpy array."""
    if isinstance(x, torch.Tensor):  # via torch: numpy has no bfloat16
        return x.detach().to("cpu", torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def _np_pair(x, x_hat) -> tuple[np.ndarray, np.ndarray]:
    a, b = _np64(x), _np64(x_hat)
    if a.shape != b.shape:
        raise ConfigError(f"x and x_hat shapes differ: {a.shape} vs {b.shape}")
    if a.ndim != 3 or a.shape[-1] < 2:
        raise ConfigError(f"expected (n_trials, n_chans, n_times) with n_times >= 2, got {a.shape}")
    return a, b


def mse(x, x_hat) -> np.ndarray:
    """Mean squared error over time per trial and channel (µV²), ``(n_trials, n_chans)``."""
    return signal_metrics.mse(*_np_pair(x, x_hat))


def channel_correlation(x, x_hat) -> np.ndarray:
    """Pearson correlation over time per trial and channel; NaN where a signal is constant."""
    return signal_metrics.pearson_r(*_np_pair(x, x_hat))


def band_powers(x, sfreq: float, bands: Mapping[str, tuple[float, float]] | None = None,
                nperseg: int | None = None) -> np.ndarray:
    """Absolute band powers (µV²) from Welch's PSD, ``(n_trials, n_chans, n_bands)``.

    Each band is ``[lo, hi)``; a band reaching beyond Nyquist is cut there and keeps the Nyquist
    bin. A band with no frequency bin raises.
    ``nperseg`` defaults to one second (or the whole trial if shorter).
    """
    from scipy.signal import welch

    bands = dict(bands or EEG_BANDS)
    a = _np64(x)
    if not sfreq or sfreq <= 0:
        raise ConfigError(f"sfreq must be positive, got {sfreq!r}")
    n_times = a.shape[-1]
    nper = int(min(n_times, nperseg or round(sfreq)))
    f, p = welch(a, fs=sfreq, nperseg=nper, axis=-1)
    df = f[1] - f[0]
    out = []
    nyq = sfreq / 2
    for name, (lo, hi) in bands.items():
        # [lo, hi); the Nyquist bin only in a band reaching beyond it (a band ending there and
        # the next starting there both counted it)
        sel = (f >= lo) & ((f < hi) | ((hi > nyq) & (f == nyq)))
        if not sel.any():
            raise ConfigError(f"band {name!r} ({lo}-{hi} Hz) has no frequency bin at "
                              f"sfreq={sfreq} Hz with {nper}-sample segments")
        out.append(p[..., sel].sum(-1) * df)
    return np.stack(out, -1)


def band_power_error(x, x_hat, sfreq: float,
                     bands: Mapping[str, tuple[float, float]] | None = None,
                     relative: bool = True) -> tuple[np.ndarray, list[str]]:
    """Band-power error per trial, channel and band.

    Returns ``(err, names)`` with ``err`` of shape ``(n_trials, n_chans, n_bands)``:
    ``|P_hat - P| / P`` when ``relative`` (NaN where ``P == 0``), else ``|P_hat - P|`` in µV².
    """
    bands = dict(bands or EEG_BANDS)
    a, b = _np_pair(x, x_hat)
    pa, pb = band_powers(a, sfreq, bands), band_powers(b, sfreq, bands)
    err = np.abs(pb - pa)
    if relative:
        with np.errstate(invalid="ignore", divide="ignore"):
            err = np.where(pa > 0, err / np.where(pa > 0, pa, 1.0), np.nan)
    return err, list(bands)


def dtw_error(x, x_hat, gamma: float | None = None, batch_size: int = 64) -> np.ndarray:
    """DTW between each trial's channels and their reconstructions, ``(n_trials, n_chans)``.

    ``gamma=None`` gives the hard DTW cost (µV², squared-Euclidean local cost); a positive
    ``gamma`` gives soft-DTW (hvEEGNet's ``dtw_comparison_2`` uses soft-DTW with
    ``normalize=False``). Computed in float64 without gradient, ``batch_size`` trials at a time
    (memory ``O(batch x channels x time)``).
    """
    from biosig.losses.soft_dtw import dtw, soft_dtw

    a, b = _np_pair(x, x_hat)
    out = np.empty(a.shape[:2])
    with torch.no_grad():
        for i in range(0, a.shape[0], batch_size):
            ta, tb = torch.from_numpy(a[i:i + batch_size]), torch.from_numpy(b[i:i + batch_size])
            v = dtw(tb, ta) if gamma is None else soft_dtw(tb, ta, gamma)
            out[i:i + batch_size] = v.numpy()
    return out


def reconstruction_report(x, x_hat, sfreq: float, gamma: float | None = None,
                          bands: Mapping[str, tuple[float, float]] | None = None,
                          with_dtw: bool = True) -> dict[str, float]:
    """Averages over trials and channels: DTW, MSE, correlation and relative band-power errors.

    Keys: ``dtw`` (if ``with_dtw``), ``mse``, ``corr``, ``bp_err_<band>`` for each band. ``corr``
    and ``bp_err_*`` leave out their NaN: flat channels (no correlation) and bands without
    power in ``x`` (no relative error). A NaN or infinite sample is a ConfigError naming it.
    """
    from biosig.metrics.correlation import _refuse_non_finite

    x, x_hat = _np_pair(x, x_hat)
    _refuse_non_finite(x, "x")  # a NaN channel's r was NaN, and the mean skipped it
    _refuse_non_finite(x_hat, "x_hat")
    rep: dict[str, float] = {}
    if with_dtw:
        rep["dtw"] = float(np.mean(dtw_error(x, x_hat, gamma)))
    rep["mse"] = float(np.mean(mse(x, x_hat)))
    rep["corr"] = float(np.nanmean(channel_correlation(x, x_hat)))
    err, names = band_power_error(x, x_hat, sfreq, bands)
    for j, name in enumerate(names):
        rep[f"bp_err_{name}"] = float(np.nanmean(err[..., j]))
    return rep
