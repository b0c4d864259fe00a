"""ECG figures: clinical 12-lead layout on ECG paper, real-vs-generated overlays, metric reports.

The clinical layout is the standard printout: a 3 x 4 grid (columns I/II/III, aVR/aVL/aVF,
V1-V3, V4-V6, each column showing the next quarter of the record) and a lead II rhythm strip
over the whole record, on a paper grid of 1 mm (0.04 s, 0.1 mV) and 5 mm (0.2 s, 0.5 mV) squares
at **25 mm/s and 10 mm/mV**; the axes aspect is fixed so the scale holds in the saved figure.
Signals are in mV.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from biosig.errors import ConfigError
from biosig.signal.ecg_leads import LEADS, lead_index

__all__ = ["plot_12lead", "plot_overlay", "plot_report"]

_LAYOUT = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))
MM_PER_S = 25.0
MM_PER_MV = 10.0


def _check(ecg, name="ecg") -> np.ndarray:
    x = np.asarray(ecg, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != 12:
        raise ConfigError(f"{name} must be a (12, n_times) ECG in mV, got {x.shape}")
    return x


def _paper_grid(ax, x0, x1, y0, y1):
    minor_t, major_t = 1 / MM_PER_S, 5 / MM_PER_S
    minor_v, major_v = 1 / MM_PER_MV, 5 / MM_PER_MV
    ax.vlines(np.arange(x0, x1 + 1e-9, minor_t), y0, y1, colors="#f6c6c6", linewidth=0.3, zorder=0)
    ax.hlines(np.arange(y0, y1 + 1e-9, minor_v), x0, x1, colors="#f6c6c6", linewidth=0.3, zorder=0)
    ax.vlines(np.arange(x0, x1 + 1e-9, major_t), y0, y1, colors="#e48a8a", linewidth=0.7, zorder=0)
    ax.hlines(np.arange(y0, y1 + 1e-9, major_v), x0, x1, colors="#e48a8a", linewidth=0.7, zorder=0)


def plot_12lead(
    ecg,
    sfreq: float,
    *,
    generated=None,
    input_lead: str | None = None,
    row_height_mv: float = 3.0,
    rhythm_lead: str = "II",
    title: str | None = None,
    dpi: int = 100,
):
    """Clinical 12-lead printout (3 x 4 + rhythm strip) at 25 mm/s and 10 mm/mV.

    Parameters
    ----------
    ecg : array (12, n_times), mV, standard lead order.
    sfreq : Hz.
    generated : optional (12, n_times) generated ECG drawn over ``ecg`` in red.
    input_lead : lead given to the generator (its label is marked ``(input)``).
    row_height_mv : vertical spacing of rows (mV; 3 mV = 30 mm).

    Returns
    -------
    matplotlib.figure.Figure sized so that 1 s = 25 mm and 1 mV = 10 mm.
    """
    import matplotlib.pyplot as plt

    x = _check(ecg)
    g = _check(generated, "generated") if generated is not None else None
    if g is not None and g.shape != x.shape:
        raise ConfigError(f"generated shape {g.shape} differs from ecg {x.shape}")
    T = x.shape[1]
    dur = T / sfreq
    seg = dur / 4
    n_seg = int(np.floor(seg * sfreq))
    n_rows = 4
    height = n_rows * row_height_mv
    fig_w_mm, fig_h_mm = dur * MM_PER_S + 20, height * MM_PER_MV + 20
    fig = plt.figure(figsize=(fig_w_mm / 25.4, fig_h_mm / 25.4), dpi=dpi)
    ax = fig.add_axes(
        [10 / fig_w_mm, 10 / fig_h_mm, dur * MM_PER_S / fig_w_mm, height * MM_PER_MV / fig_h_mm]
    )
    _paper_grid(ax, 0, dur, 0, height)
    inp = LEADS[lead_index(input_lead)] if input_lead is not None else None

    def draw(sig, t0, i0, n, yoff, color, lw):
        seg_t = t0 + np.arange(n) / sfreq
        ax.plot(seg_t, sig[i0 : i0 + n] + yoff, color=color, linewidth=lw)

    for r, row in enumerate(_LAYOUT):
        yoff = height - (r + 0.5) * row_height_mv
        for c, name in enumerate(row):
            li = LEADS.index(name)
            i0 = c * n_seg
            draw(x[li], c * seg, i0, n_seg, yoff, "k", 0.8)
            if g is not None and name != inp:
                draw(g[li], c * seg, i0, n_seg, yoff, "tab:red", 0.7)
            label = name + (" (input)" if name == inp else "")
            ax.text(c * seg + 0.05, yoff + 0.35 * row_height_mv, label, fontsize=7)
            if c:
                ax.vlines(c * seg, yoff - 0.3, yoff + 0.3, colors="k", linewidth=0.8)
    rl = LEADS[lead_index(rhythm_lead)]
    yoff = 0.5 * row_height_mv
    draw(x[LEADS.index(rl)], 0.0, 0, T, yoff, "k", 0.8)
    if g is not None and rl != inp:
        draw(g[LEADS.index(rl)], 0.0, 0, T, yoff, "tab:red", 0.7)
    ax.text(0.05, yoff + 0.35 * row_height_mv, f"{rl} (rhythm)", fontsize=7)
    ax.set_xlim(0, dur)
    ax.set_ylim(0, height)
    ax.set_aspect(MM_PER_MV / MM_PER_S)
    ax.set_xticks([])
    ax.set_yticks([])
    legend = "25 mm/s, 10 mm/mV" + ("; black real, red generated" if g is not None else "")
    fig.text(10 / fig_w_mm, 3 / fig_h_mm, legend, fontsize=7)
    if title:
        fig.text(10 / fig_w_mm, 1 - 7 / fig_h_mm, title, fontsize=9)
    return fig


def plot_overlay(
    real,
    fake,
    sfreq: float,
    *,
    input_lead: str | None = None,
    leads: Sequence[str] = LEADS,
    seconds: float | None = None,
):
    """Real (black) vs generated (red) per lead, one panel per lead (6 x 2 for 12 leads)."""
    import matplotlib.pyplot as plt

    r, f = _check(real, "real"), _check(fake, "fake")
    n = r.shape[1] if seconds is None else min(r.shape[1], int(seconds * sfreq))
    t = np.arange(n) / sfreq
    names = [LEADS[lead_index(l)] for l in leads]
    ncol = 2 if len(names) > 6 else 1
    nrow = int(np.ceil(len(names) / ncol))
    fig, axes = plt.subplots(
        nrow, ncol, figsize=(5 * ncol, 1.1 * nrow + 0.6), sharex=True, squeeze=False
    )
    inp = LEADS[lead_index(input_lead)] if input_lead is not None else None
    for k, name in enumerate(names):
        ax = axes[k % nrow, k // nrow]
        i = LEADS.index(name)
        ax.plot(t, r[i, :n], "k", linewidth=0.8, label="real")
        if name != inp:
            ax.plot(t, f[i, :n], "tab:red", linewidth=0.7, label="generated")
        ax.set_ylabel(name + (" (in)" if name == inp else ""), fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("time (s)", fontsize=8)
    axes[0, 0].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


def plot_report(
    tables: Mapping[str, "object"],
    metrics: Sequence[str] = ("fd_mean", "mse", "pearson_r"),
    title: str | None = None,
):
    """Grouped bars per lead for each method (e.g. ECGNet vs baselines) and metric.

    Parameters
    ----------
    tables : method name -> DataFrame indexed by lead (``per_lead_table``,
        ``correlation_report``, ``feature_agreement_report`` or their concatenation).
    metrics : columns to show, one panel each.
    """
    import matplotlib.pyplot as plt

    methods = list(tables)
    if not methods:
        raise ConfigError("no tables to plot")
    leads = [l for l in tables[methods[0]].index if l != "mean"]
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.6 * len(metrics), 3), squeeze=False)
    w = 0.8 / len(methods)
    for ax, metric in zip(axes[0], metrics):
        for k, name in enumerate(methods):
            df = tables[name]
            if metric not in df.columns:
                raise ConfigError(
                    f"metric {metric!r} missing from the {name!r} table ({list(df.columns)})"
                )
            ax.bar(
                np.arange(len(leads)) + (k - (len(methods) - 1) / 2) * w,
                df.loc[leads, metric],
                w,
                label=name,
            )
        ax.set_xticks(np.arange(len(leads)), leads, fontsize=7)
        ax.set_title(metric, fontsize=9)
        ax.tick_params(labelsize=7)
    axes[0, 0].legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
