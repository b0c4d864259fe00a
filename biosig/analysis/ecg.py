"""ECG analysis of generated 12-lead ECGs: R-peak and P-Q agreement, report tables, baselines.

ECGNet (arXiv 2310.03753) reports that generation preserves **R-peaks** and **P-Q segments**; this
module measures both per lead, next to honest baselines evaluated in the same run:

- ``copy_input``: every lead is the input lead;
- :class:`LeastSquaresLeadMap`: per output lead, ``y = w * x + c`` fitted by least squares on the
  training set (one map per input lead).

R-peaks and P-Q windows come from :mod:`biosig.signal.ecg_delineation` (XQRS or the energy
detector; P-Q window ``[R - 300 ms, R - 50 ms]``). R-peaks for the windows come from the real
reference lead (II by default), so real and generated leads are compared over the same time spans.
"""

from __future__ import annotations

import warnings

from typing import Mapping, Sequence

import numpy as np

from biosig.errors import ConfigError
from biosig.signal.ecg_delineation import detect_r_peaks, pq_windows
from biosig.signal.ecg_leads import LEADS, PRECORDIAL_LEADS, lead_index

__all__ = [
    "match_peaks",
    "feature_agreement_report",
    "copy_input",
    "LeastSquaresLeadMap",
    "evaluation_report",
]


def match_peaks(ref, test, sfreq: float, tol_s: float = 0.05) -> dict:
    """Greedy one-to-one matching of peak times within ``tol_s``.

    Returns ``sensitivity``, ``ppv``, ``f1`` and ``mean_abs_dt_ms`` over matched pairs
    (NaN where undefined).
    """
    ref = np.sort(np.asarray(ref, dtype=np.int64))
    test = np.sort(np.asarray(test, dtype=np.int64))
    tol = tol_s * sfreq
    used = np.zeros(len(test), dtype=bool)
    dts = []
    for r in ref:
        if len(test) == 0:
            break
        d = np.abs(test - r).astype(float)
        d[used] = np.inf
        j = int(np.argmin(d))
        if d[j] <= tol:
            used[j] = True
            dts.append(abs(int(test[j]) - int(r)))
    tp = len(dts)
    sens = tp / len(ref) if len(ref) else np.nan
    ppv = tp / len(test) if len(test) else np.nan
    f1 = 2 * tp / (len(ref) + len(test)) if (len(ref) + len(test)) else np.nan
    return {
        "sensitivity": sens,
        "ppv": ppv,
        "f1": f1,
        "mean_abs_dt_ms": float(np.mean(dts)) / sfreq * 1e3 if dts else np.nan,
    }


def feature_agreement_report(
    real,
    fake,
    *,
    sfreq: float,
    lead_names: Sequence[str] = LEADS,
    reference_lead: str = "II",
    method: str = "xqrs",
    tol_s: float = 0.05,
    pq_window: tuple[float, float] = (-0.30, -0.05),
):
    """Per-lead agreement of R-peaks and P-Q segments between real and generated ECGs.

    Columns (means over records): ``r_f1`` (detections in the generated lead vs in the real
    lead, ``tol_s`` tolerance), ``r_dt_ms`` (mean |time difference| of matched peaks),
    ``r_amp_mae`` (|real - generated| at the real reference R-peaks, mV), ``pq_r`` (Pearson r over
    the P-Q windows), ``pq_rmse`` (mV), ``p_lag_ms`` (mean |difference| of the P-wave extremum
    latency inside each P-Q window).
    """
    import pandas as pd

    from biosig.metrics.signal import _nanmean0, pearson_r

    real = np.asarray(real, dtype=np.float64)
    fake = np.asarray(fake, dtype=np.float64)
    if real.ndim != 3 or real.shape != fake.shape:
        raise ConfigError(
            f"expected two (n_records, n_leads, n_times) arrays, got {real.shape}, {fake.shape}"
        )
    N, L, T = real.shape
    names = list(lead_names)
    ref_i = names.index(LEADS[lead_index(reference_lead)])
    cols = {
        k: np.full((N, L), np.nan)
        for k in ("r_f1", "r_dt_ms", "r_amp_mae", "pq_r", "pq_rmse", "p_lag_ms")
    }
    for n in range(N):
        ref_peaks = detect_r_peaks(real[n, ref_i], sfreq, method=method)
        wins = pq_windows(ref_peaks, sfreq, T, pq_window)
        for l in range(L):
            pr = detect_r_peaks(real[n, l], sfreq, method=method)
            pf = detect_r_peaks(fake[n, l], sfreq, method=method)
            mt = match_peaks(pr, pf, sfreq, tol_s)
            cols["r_f1"][n, l], cols["r_dt_ms"][n, l] = mt["f1"], mt["mean_abs_dt_ms"]
            if len(ref_peaks):
                cols["r_amp_mae"][n, l] = np.abs(
                    real[n, l, ref_peaks] - fake[n, l, ref_peaks]
                ).mean()
            if wins:
                seg_r = np.concatenate([real[n, l, a:b] for a, b in wins])
                seg_f = np.concatenate([fake[n, l, a:b] for a, b in wins])
                cols["pq_r"][n, l] = pearson_r(seg_r, seg_f)
                cols["pq_rmse"][n, l] = np.sqrt(np.mean((seg_r - seg_f) ** 2))
                lags = []
                for a, b in wins:
                    wr, wf = real[n, l, a:b], fake[n, l, a:b]
                    lags.append(
                        abs(
                            int(np.argmax(np.abs(wr - np.median(wr))))
                            - int(np.argmax(np.abs(wf - np.median(wf))))
                        )
                    )
                cols["p_lag_ms"][n, l] = np.mean(lags) / sfreq * 1e3
    return pd.DataFrame({k: _nanmean0(v) for k, v in cols.items()}, index=names)


# ----------------------------------------------------------------------------------------------
# Baselines
# ----------------------------------------------------------------------------------------------
def copy_input(ecg, input_lead) -> np.ndarray:
    """Baseline: every one of the 12 leads is the input lead. ``ecg``: (N, 12, T) mV."""
    x = np.asarray(ecg)
    i = lead_index(input_lead)
    return np.repeat(x[:, i : i + 1], x.shape[1], axis=1)


def _refuse_non_finite(x: np.ndarray, what: str, lead_names=None) -> None:
    """ConfigError ``"{what} N NaN or infinite samples (the first at ...)"`` naming the first
    (record, lead when ``lead_names`` is given, sample)."""
    bad = ~np.isfinite(x)
    if not bad.any():
        return
    first = [int(i) for i in np.argwhere(bad)[0]]
    parts = [f"record {first[0]}"] if x.ndim > 1 else []
    if lead_names is not None:
        parts.append(f"lead {lead_names[first[1]]}")
    parts.append(f"sample {first[-1]}")
    raise ConfigError(f"{what} {int(bad.sum())} NaN or infinite samples (the first at "
                      f"{', '.join(parts)}): drop or interpolate them first")


class LeastSquaresLeadMap:
    """Baseline: per output lead, ``y = w x + c`` fitted by least squares on training ECGs.

    One (w, c) per (input lead, output lead) pair, pooled over all training samples (mV).
    ``predict`` copies the input lead through unchanged. NaN or infinite samples (in the
    training ECGs, or in the input lead) are a ConfigError naming the first.
    """

    def __init__(self):
        self.coef_: np.ndarray | None = None  # (12 inputs, 12 outputs, 2)

    def fit(self, train_ecg) -> "LeastSquaresLeadMap":
        x = np.asarray(train_ecg, dtype=np.float64)
        if x.ndim != 3 or x.shape[1] != 12:
            raise ConfigError(f"expected (n_records, 12, n_times) training ECGs, got {x.shape}")
        # a NaN made LAPACK print "DLASCL parameter number 4" and fail to converge
        _refuse_non_finite(x, "LeastSquaresLeadMap.fit: the training ECGs hold", LEADS)
        flat = x.transpose(1, 0, 2).reshape(12, -1)  # (12, N*T)
        coef = np.zeros((12, 12, 2))
        for i in range(12):
            A = np.stack([flat[i], np.ones(flat.shape[1])], axis=1)
            sol, *_ = np.linalg.lstsq(A, flat.T, rcond=None)  # (2, 12)
            coef[i] = sol.T
        self.coef_ = coef
        return self

    def predict(self, ecg, input_lead) -> np.ndarray:
        if self.coef_ is None:
            raise ConfigError("LeastSquaresLeadMap.predict called before fit")
        x = np.asarray(ecg, dtype=np.float64)
        i = lead_index(input_lead)
        inp = x[:, i] if x.ndim == 3 else x
        _refuse_non_finite(inp, f"LeastSquaresLeadMap.predict: input lead {LEADS[i]} holds")
        w, c = self.coef_[i, :, 0], self.coef_[i, :, 1]
        out = w[None, :, None] * inp[:, None, :] + c[None, :, None]
        out[:, i] = inp
        return out.astype(np.float32)


def evaluation_report(
    real,
    predictions: Mapping[str, np.ndarray],
    *,
    sfreq: float,
    leads: Sequence[str] = PRECORDIAL_LEADS,
    input_lead: str | None = None,
    features: bool = False,
    correlation: bool = False,
    method: str = "xqrs",
    dtw: bool = False,
):
    """One table comparing methods (e.g. ECGNet, copy-input, least squares) per lead.

    Parameters
    ----------
    real : (N, 12, T) real ECGs (mV); predictions : name -> (N, 12, T) generated ECGs.
    leads : leads to report (default V1-V6, as the paper's table).
    input_lead : the lead the generator was given (passed through unchanged): left out of the
        table and its mean. Without it, a reported lead that equals the real one in every
        prediction is warned about (it would add r = 1 and an error of 0 to the mean).
    features : add R-peak / P-Q agreement; correlation : add the correlation summary.

    Returns
    -------
    pandas.DataFrame with a (method, lead) MultiIndex plus a ``mean`` row per method.
    """
    import pandas as pd

    from biosig.metrics.correlation import correlation_report
    from biosig.metrics.signal import per_lead_table

    real = np.asarray(real, dtype=np.float64)
    skip = None if input_lead is None else lead_index(input_lead)
    idx = [i for i in (lead_index(l) for l in leads) if i != skip]
    if not idx:
        raise ConfigError(f"evaluation_report: no lead left to report (leads={list(leads)}, "
                          f"input_lead={input_lead!r})")
    names = [LEADS[i] for i in idx]
    frames = {}
    for name, fake in predictions.items():
        fake = np.asarray(fake, dtype=np.float64)
        if fake.shape != real.shape:
            raise ConfigError(f"prediction {name!r} has shape {fake.shape}, real {real.shape}")
        copied = [LEADS[i] for i in idx if np.array_equal(fake[:, i], real[:, i])]
        if copied and input_lead is None:
            warnings.warn(f"evaluation_report: {name!r} reproduces lead(s) {copied} exactly (the "
                          "input lead?); pass input_lead= to leave it out of the mean",
                          stacklevel=2)
        parts = [per_lead_table(real[:, idx], fake[:, idx], lead_names=names, sfreq=sfreq, dtw=dtw)]
        if correlation:
            parts.append(
                correlation_report(real[:, idx], fake[:, idx], sfreq=sfreq, lead_names=names)
            )
        if features:
            parts.append(
                feature_agreement_report(real, fake, sfreq=sfreq, method=method).loc[names]
            )
        df = pd.concat(parts, axis=1)
        df.loc["mean"] = df.mean(axis=0)
        frames[name] = df
    return pd.concat(frames, names=["method", "lead"])
