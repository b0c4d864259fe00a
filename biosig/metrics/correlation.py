"""Lag-resolved cross-correlation (real vs generated) and auto-correlation, per lead.

ECGNet (arXiv 2310.03753) analyses generated leads by cross- and auto-correlation and reports
that P-Q segments and R-peaks are conserved. Here: normalised (Pearson-type) correlation
functions computed by FFT over the last axis; a per-lead report summarises them (peak value and
lag of the cross-correlation, agreement of the auto-correlation functions, i.e. of rhythm and
wave durations). Windowed analyses around R-peaks and P-Q segments live in
:mod:`biosig.analysis.ecg`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from biosig.errors import ConfigError

__all__ = ["cross_correlation", "auto_correlation", "correlation_report"]


def checked_leads(real: np.ndarray, fake: np.ndarray, lead_names=None) -> list[str]:
    """The lead names of ``(n_records, n_leads, n_times)`` arrays (default: the 12 standard
    leads, else ``ch0``...), after refusing a count that does not match and any NaN or infinite
    sample (a NaN made a record's r NaN, which a lead's mean then skipped as if it were flat)."""
    if lead_names is None:
        from biosig.signal.ecg_leads import LEADS

        lead_names = LEADS if real.shape[1] == 12 else [f"ch{i}" for i in range(real.shape[1])]
    lead_names = list(lead_names)
    if len(lead_names) != real.shape[1]:
        raise ConfigError(f"{len(lead_names)} lead names for {real.shape[1]} leads")
    _refuse_non_finite(real, "real", lead_names)
    _refuse_non_finite(fake, "fake", lead_names)
    return lead_names


def _refuse_non_finite(x: np.ndarray, name: str, lead_names=None) -> None:
    """ConfigError naming the first NaN or infinite sample of ``x`` (as the Fréchet distance
    refuses them): a NaN made r = 0 at every lag, so the peak went to lag -max_lag silently."""
    bad = ~np.isfinite(x)
    if not bad.any():
        return
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    if len(first) == 1:
        where = f"sample {first[0]}"
    elif len(first) == 3 and lead_names is not None:
        where = f"record {first[0]}, lead {lead_names[first[1]]}, sample {first[2]}"
    else:
        where = f"index {first}"
    raise ConfigError(f"{name} holds NaN or infinite values (the first at {where})")


def _centred(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0 or x.shape[-1] < 2:
        raise ConfigError(f"need at least 2 samples along the time axis, got shape {x.shape}")
    return x - x.mean(axis=-1, keepdims=True)


def cross_correlation(real, fake, max_lag: int):
    """Normalised cross-correlation ``r(l) = sum_t a_t b_{t+l} / sqrt(sum a^2 sum b^2)``.

    Parameters
    ----------
    real, fake : array (..., n_times), same shape (mean removed internally).
    max_lag : largest lag in samples (positive lag: ``fake`` lags ``real``).

    Returns
    -------
    lags : int array (2 * max_lag + 1,)
    r : array (..., 2 * max_lag + 1); 0 where a signal is constant.

    A NaN or infinite sample is a ConfigError naming it.
    """
    real, fake = np.asarray(real, dtype=np.float64), np.asarray(fake, dtype=np.float64)
    _refuse_non_finite(real, "real")
    _refuse_non_finite(fake, "fake")
    a, b = _centred(real), _centred(fake)
    if a.shape != b.shape:
        raise ConfigError(f"real and fake shapes differ: {a.shape} vs {b.shape}")
    T = a.shape[-1]
    if not 0 <= max_lag < T:
        raise ConfigError(f"max_lag must be in [0, {T - 1}], got {max_lag}")
    nfft = 1 << int(np.ceil(np.log2(2 * T)))
    fa = np.fft.rfft(a, nfft)
    fb = np.fft.rfft(b, nfft)
    full = np.fft.irfft(np.conj(fa) * fb, nfft)  # full[l] = sum_t a_t b_{t+l} (circular, padded)
    lags = np.arange(-max_lag, max_lag + 1)
    r = full[..., lags % nfft]
    den = np.sqrt((a * a).sum(-1) * (b * b).sum(-1))[..., None]
    return lags, np.where(den > 0, r / np.where(den > 0, den, 1.0), 0.0)


def auto_correlation(x, max_lag: int):
    """Normalised auto-correlation for lags ``0..max_lag`` (``r(0) = 1``; 0 when constant)."""
    x = np.asarray(x, dtype=np.float64)
    _refuse_non_finite(x, "x")
    lags, r = cross_correlation(x, x, max_lag)
    return lags[max_lag:], r[..., max_lag:]


def correlation_report(
    real,
    fake,
    *,
    sfreq: float,
    lead_names: Sequence[str] | None = None,
    max_lag_s: float = 0.2,
    acf_max_lag_s: float = 1.5,
):
    """Per-lead summary of cross- and auto-correlation, averaged over records.

    Parameters
    ----------
    real, fake : array (n_records, n_leads, n_times), mV.
    sfreq : Hz.
    max_lag_s : lag range of the cross-correlation (s).
    acf_max_lag_s : lag range of the auto-correlation (s; 1.5 s covers one beat at >= 40 bpm).

    Returns
    -------
    pandas.DataFrame indexed by lead with ``xcorr_peak`` (max of r(l)), ``xcorr_lag_ms`` (lag of
    the maximum), ``xcorr_zero`` (r(0) = Pearson r), ``acf_r`` (Pearson r between the real and the
    generated auto-correlation functions, lags > 0) and ``acf_mae``. A record whose real or
    generated lead is flat (constant) has no correlation: it is left out of that lead's means,
    as ``pearson_r`` in :func:`~biosig.metrics.signal.per_lead_table` (NaN when every record's
    lead is flat).

    A NaN or infinite sample is a ConfigError naming its record, lead and sample.
    """
    import pandas as pd

    real = np.asarray(real, dtype=np.float64)
    fake = np.asarray(fake, dtype=np.float64)
    if real.ndim != 3 or real.shape != fake.shape:
        raise ConfigError(
            f"expected two (n_records, n_leads, n_times) arrays, got {real.shape}, {fake.shape}"
        )
    lead_names = checked_leads(real, fake, lead_names)
    T = real.shape[-1]
    L = min(int(round(max_lag_s * sfreq)), T - 1)
    La = min(int(round(acf_max_lag_s * sfreq)), T - 1)
    lags, xc = cross_correlation(real, fake, L)
    peak_i = xc.argmax(-1)
    _, acf_r = auto_correlation(real, La)
    _, acf_f = auto_correlation(fake, La)
    from biosig.metrics.signal import pearson_r, _nanmean0

    acf_corr = (
        pearson_r(acf_r[..., 1:], acf_f[..., 1:]) if La >= 3 else np.full(real.shape[:2], np.nan)
    )
    # a flat lead has r = 0 at every lag: its peak would sit at lag -L and r(0) = 0 count
    defined = (np.ptp(real, axis=-1) > 0) & (np.ptp(fake, axis=-1) > 0)

    def lead_mean(per_record):
        return _nanmean0(np.where(defined, per_record, np.nan))

    return pd.DataFrame(
        {
            "xcorr_peak": lead_mean(xc.max(-1)),
            "xcorr_lag_ms": lead_mean(lags[peak_i] / sfreq * 1e3),
            "xcorr_zero": lead_mean(xc[..., L]),
            "acf_r": _nanmean0(acf_corr),
            "acf_mae": lead_mean(np.abs(acf_r - acf_f).mean(-1)),
        },
        index=list(lead_names),
    )
