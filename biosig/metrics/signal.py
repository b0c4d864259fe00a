"""Sample-wise errors per lead (MSE, MAE, Pearson r) and dynamic time warping.

All functions reduce over the last (time) axis and keep the leading axes, so a
``(n_records, n_leads, n_times)`` pair gives ``(n_records, n_leads)`` values. ECG in mV.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from biosig.errors import ConfigError
from biosig.metrics.correlation import checked_leads
from biosig.metrics.frechet import _antidiagonal_dp, _as_batch, _sd_over_records

__all__ = ["mse", "mae", "pearson_r", "dtw_distance", "per_lead_table"]


def _pair(real, fake):
    real = np.asarray(real, dtype=np.float64)
    fake = np.asarray(fake, dtype=np.float64)
    if real.shape != fake.shape:
        raise ConfigError(f"real and fake shapes differ: {real.shape} vs {fake.shape}")
    if real.ndim == 0 or real.shape[-1] == 0:
        raise ConfigError("signals need a non-empty time axis")
    return real, fake


def mse(real, fake) -> np.ndarray:
    """Mean squared error over time (mV²)."""
    real, fake = _pair(real, fake)
    return ((real - fake) ** 2).mean(axis=-1)


def mae(real, fake) -> np.ndarray:
    """Mean absolute error over time (mV)."""
    real, fake = _pair(real, fake)
    return np.abs(real - fake).mean(axis=-1)


def pearson_r(real, fake) -> np.ndarray:
    """Pearson correlation over time; NaN where either signal is constant."""
    real, fake = _pair(real, fake)
    a = real - real.mean(axis=-1, keepdims=True)
    b = fake - fake.mean(axis=-1, keepdims=True)
    den = np.sqrt((a * a).sum(-1) * (b * b).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (a * b).sum(-1) / np.where(den > 0, den, 1), np.nan)


def dtw_distance(x, y, *, band: int | None = None, metric: str = "abs"):
    """Dynamic time warping distance (amplitude only), anti-diagonal vectorised, batched.

    Parameters
    ----------
    x, y : array (..., n), (..., m) with equal leading axes.
    band : optional Sakoe-Chiba half-width in samples.
    metric : ``"abs"`` (sum of |x_i - y_j| along the path) or ``"sqeuclidean"`` (square root of
        the summed squared differences, the convention of ``tslearn.metrics.dtw``).
    """
    if metric not in ("abs", "sqeuclidean"):
        raise ConfigError(f"metric must be 'abs' or 'sqeuclidean', got {metric!r}")
    a, lead = _as_batch(x, "x")
    b, lead_b = _as_batch(y, "y")
    if lead != lead_b:
        raise ConfigError(f"x and y batch shapes differ: {lead} vs {lead_b}")
    a = a.astype(np.float64)
    b_rev = np.ascontiguousarray(b.astype(np.float64)[:, ::-1])
    B, n = a.shape
    m = b.shape[1]
    scratch = np.empty((B, min(n, m)))

    def cost(k, lo, hi):
        L = hi - lo + 1
        s = scratch[:, :L]
        a0 = m - 1 - k + lo
        np.subtract(a[:, lo : hi + 1], b_rev[:, a0 : a0 + L], out=s)
        if metric == "abs":
            np.abs(s, out=s)
        else:
            np.multiply(s, s, out=s)
        return s

    half = None if band is None else max(int(band), abs(n - m))
    out = _antidiagonal_dp(cost, n, m, B, half, np.float64, mode="sum")
    if metric == "sqeuclidean":
        out = np.sqrt(out)
    out = out.reshape(lead)
    return float(out) if out.ndim == 0 else out


def _nanmean0(a: np.ndarray) -> np.ndarray:
    """Column means ignoring NaN (NaN for an all-NaN column, without a warning)."""
    ok = np.isfinite(a)
    cnt = ok.sum(0)
    tot = np.where(ok, a, 0.0).sum(0)
    return np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)


def per_lead_table(
    real,
    fake,
    *,
    lead_names: Sequence[str] | None = None,
    sfreq: float | None = None,
    frechet: bool = True,
    dtw: bool = False,
    dtw_band: int | None = None,
    time_unit: str = "s",
    amplitude_unit: str = "mV",
):
    """Per-lead MSE, MAE, Pearson r (+ Fréchet distance, DTW) averaged over records.

    Parameters
    ----------
    real, fake : array (n_records, n_leads, n_times) in mV.
    lead_names : row names (default: the 12 standard leads).
    sfreq : sampling rate (needed for the Fréchet distance).

    Returns
    -------
    pandas.DataFrame indexed by lead: ``mse``, ``mae``, ``pearson_r`` (means over records) and
    ``fd_mean``, ``fd_sd`` (over records, ddof=1; NaN for one record) and ``dtw`` when asked.

    A NaN or infinite sample is a ConfigError naming its record, lead and sample.
    """
    import pandas as pd

    real, fake = _pair(real, fake)
    if real.ndim != 3:
        raise ConfigError(f"expected (n_records, n_leads, n_times), got {real.shape}")
    lead_names = checked_leads(real, fake, lead_names)
    cols = {
        "mse": mse(real, fake).mean(0),
        "mae": mae(real, fake).mean(0),
        "pearson_r": _nanmean0(pearson_r(real, fake)),
    }
    if frechet:
        if not sfreq:
            raise ConfigError("sfreq is needed for the Fréchet distance")
        from biosig.metrics.frechet import frechet_distance_curve

        fd = np.asarray(
            frechet_distance_curve(
                real, fake, sfreq=sfreq, time_unit=time_unit, amplitude_unit=amplitude_unit
            )
        )
        cols["fd_mean"] = fd.mean(0)
        cols["fd_sd"] = _sd_over_records(fd)
    if dtw:
        cols["dtw"] = np.asarray(dtw_distance(real, fake, band=dtw_band)).mean(0)
    return pd.DataFrame(cols, index=lead_names)
