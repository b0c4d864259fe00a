"""Reconstruction figures: originals against VAE reconstructions, generated trials, and the
worst-scoring trials of an anomaly screening (:func:`biosig.analysis.anomaly.flag_trials`).
Signals in µV."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

__all__ = ["plot_generated", "plot_reconstructions", "plot_worst_trials"]


def _time_axis(n_times: int, sfreq: float | None):
    if sfreq:
        return np.arange(n_times) / float(sfreq), "time (s)"
    return np.arange(n_times), "sample"


def plot_reconstructions(
    x,
    x_hat,
    sfreq: float | None = None,
    ch_names: Sequence[str] | None = None,
    generated=None,
    max_channels: int = 4,
    title: str | None = None,
    titles=None,
):
    """Overlay originals and reconstructions (one column per trial, one row per channel).

    ``x`` and ``x_hat`` are ``(n_trials, C, T)`` (µV); ``generated`` (optional, ``(n, C, T)``)
    adds a column with the first generated trial. Returns a matplotlib ``Figure`` (no pyplot
    state, so it is safe in training loops).
    """
    from matplotlib.figure import Figure

    def _np(a):
        return a.detach().float().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)  # tensor

    x, x_hat = _np(x), _np(x_hat)
    if x.ndim == 2:
        x, x_hat = x[None], x_hat[None]
    n_tr, c, t = x.shape
    nc = min(c, max_channels)
    cols = n_tr + (generated is not None)
    fig = Figure(figsize=(3.2 * cols, 1.5 * nc + 0.6), layout="constrained")
    axes = fig.subplots(nc, cols, squeeze=False, sharex=True)
    tt, xlabel = _time_axis(t, sfreq)
    names = list(ch_names) if ch_names is not None else [f"ch{i}" for i in range(c)]
    for col in range(n_tr):
        for r in range(nc):
            ax = axes[r, col]
            ax.plot(tt, x[col, r], lw=0.8, color="k", label="original")
            ax.plot(tt, x_hat[col, r], lw=0.8, color="tab:red", alpha=0.8, label="reconstruction")
            if col == 0:
                ax.set_ylabel(f"{names[r]} (µV)", fontsize=8)
            ax.tick_params(labelsize=7)
        head = titles[col] if titles is not None else f"trial {col}"
        axes[0, col].set_title(head, fontsize=9)
    if generated is not None:
        g = _np(generated)
        g = g[0] if g.ndim == 3 else g
        for r in range(nc):
            axes[r, -1].plot(tt, g[r], lw=0.8, color="tab:blue")
            axes[r, -1].tick_params(labelsize=7)
        axes[0, -1].set_title("generated", fontsize=9)
    for col in range(cols):
        axes[-1, col].set_xlabel(xlabel, fontsize=8)
    axes[0, 0].legend(fontsize=7, loc="upper right")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_generated(
    trials,
    sfreq: float | None = None,
    ch_names: Sequence[str] | None = None,
    max_channels: int = 4,
    title: str | None = "generated trials",
):
    """Generated trials ``(n, C, T)`` in µV, one column per trial, one row per channel, on one
    amplitude scale (no original, so no legend). Returns a matplotlib ``Figure``."""
    from matplotlib.figure import Figure

    g = trials.detach().float().cpu().numpy() if hasattr(trials, "detach") else np.asarray(trials)
    g = g[None] if g.ndim == 2 else g
    n, c, t = g.shape
    nc = min(c, max_channels)
    fig = Figure(figsize=(3.2 * n, 1.5 * nc + 0.6), layout="constrained")
    axes = fig.subplots(nc, n, squeeze=False, sharex=True, sharey=True)
    tt, xlabel = _time_axis(t, sfreq)
    names = list(ch_names) if ch_names is not None else [f"ch{i}" for i in range(c)]
    for col in range(n):
        for r in range(nc):
            axes[r, col].plot(tt, g[col, r], lw=0.8, color="tab:blue")
            axes[r, col].tick_params(labelsize=7)
            if col == 0:
                axes[r, col].set_ylabel(f"{names[r]} (µV)", fontsize=8)
        axes[0, col].set_title(f"generated {col + 1}", fontsize=9)
        axes[-1, col].set_xlabel(xlabel, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_worst_trials(
    x,
    x_hat,
    table: pd.DataFrame,
    n: int = 3,
    sfreq: float | None = None,
    ch_names: Sequence[str] | None = None,
    max_channels: int = 4,
):
    """The ``n`` highest-scoring trials of ``table`` (from
    :func:`biosig.analysis.anomaly.flag_trials`) against their
    reconstructions; for each trial the channels with the largest z-scores come first."""
    top = table.head(n)
    pos = list(top.index)
    x, x_hat = np.asarray(x), np.asarray(x_hat)
    names = list(ch_names) if ch_names is not None else [f"ch{i}" for i in range(x.shape[1])]
    # put each trial's worst channel first so it is always shown
    sel_x, sel_h, labels = [], [], []
    for p, (_, row) in zip(pos, top.iterrows()):
        order = [names.index(row["worst_channel"])] + [
            j for j in range(len(names)) if names[j] != row["worst_channel"]
        ]
        sel_x.append(x[p][order])
        sel_h.append(x_hat[p][order])
        labels.append([names[j] for j in order])
    titles = [
        f"subj {r['subject']} trial {r['trial']}: z={r['robust_z']:.1f}"
        + (" (flagged)" if r["flagged"] else "")
        for _, r in top.iterrows()
    ]
    fig = plot_reconstructions(
        np.stack(sel_x),
        np.stack(sel_h),
        sfreq=sfreq,
        ch_names=None,
        max_channels=max_channels,
        titles=titles,
    )
    # channel order differs per trial: label each panel
    axes = np.asarray(fig.axes).reshape(min(x.shape[1], max_channels), len(labels))
    for col, lab in enumerate(labels):
        for r in range(axes.shape[0]):
            axes[r, col].set_ylabel(f"{lab[r]} (µV)", fontsize=8)
    return fig
