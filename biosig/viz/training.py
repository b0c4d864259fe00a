"""Plots of a classification run: training curves, confusion matrix, example windows."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def plot_training_curves(
    metrics_csv: str | Path, path: str | Path, metrics: tuple[str, ...] = ("loss", "acc")
) -> Path:
    """Per-epoch train/val curves from a Lightning ``CSVLogger`` ``metrics.csv``; epochs counted
    from 1, as the ``epoch k/N`` progress lines print them (Lightning logs them from 0)."""
    df = pd.read_csv(metrics_csv)
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.5))
    for ax, name in zip(np.atleast_1d(axes), metrics):
        for stage in ("train", "val"):
            col = f"{stage}_{name}"
            if col in df:
                per_epoch = df.dropna(subset=[col]).groupby("epoch")[col].last()
                ax.plot(per_epoch.index + 1, per_epoch.values, marker="o", ms=3, label=stage)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def plot_confusion_matrix(
    cm: np.ndarray, classes: list[str], path: str | Path, title: str = "test confusion matrix"
) -> Path:
    """Each cell: the count and its share of the true class (row %, i.e. per-class recall on
    the diagonal); colours follow the row share. Rows: true class, columns: predicted."""
    cm = np.asarray(cm)
    totals = cm.sum(axis=1, keepdims=True)
    norm = cm / np.maximum(totals, 1)
    fig, ax = plt.subplots(figsize=(1.4 * len(classes) + 2.4, 1.2 * len(classes) + 1.6))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, f"{cm[i, j]}\n{100 * norm[i, j]:.0f} %", ha="center", va="center",
                    fontsize=9, color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(classes)), classes, rotation=30, ha="right")
    ax.set_yticks(range(len(classes)), [f"{c} (n={int(n)})" for c, n in zip(classes, totals[:, 0])])
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    acc = np.trace(cm) / max(cm.sum(), 1)
    ax.set_title(f"{title}\naccuracy {100 * acc:.1f} % ({np.trace(cm)}/{cm.sum()})", fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def _scale_bar(ax, x: float, y: float, length: float, unit: str) -> None:
    """A vertical amplitude scale bar of ``length`` (data units) at (x, y), labelled."""
    ax.plot([x, x], [y, y + length], color="k", lw=1.5, clip_on=False)
    ax.text(x, y + length / 2, f" {length:g} {unit}", va="center", ha="left", fontsize=7)


def _nice(value: float) -> float:
    """1, 2 or 5 times a power of ten, the largest not above ``value``."""
    if value <= 0 or not np.isfinite(value):
        return 1.0
    base = 10 ** np.floor(np.log10(value))
    return float(max(m for m in (1, 2, 5) if m * base <= value) * base)


def plot_example_windows(
    X: np.ndarray,
    y: np.ndarray,
    ch_names: list[str],
    classes: list[str],
    sfreq: float,
    path: str | Path,
    channels: tuple[str, ...] = ("C3", "Cz", "C4"),
    unit: str = "µV",
    n_per_class: int = 3,
) -> Path:
    """``n_per_class`` windows per class (rows) on a few channels, all drawn at one amplitude
    scale with a scale bar, and the class-mean 8-30 Hz power per channel (right column).

    The windows of a class are its first ones in ``X`` (no selection). On motor-imagery data
    the contralateral desynchronisation shows in the power column.
    """
    from scipy.signal import welch

    chans = [c for c in channels if c in ch_names] or list(ch_names[:3])
    idx = [ch_names.index(c) for c in chans]
    t = np.arange(X.shape[-1]) / sfreq
    y = np.asarray(y)
    members = {k: np.flatnonzero(y == k)[:n_per_class] for k in range(len(classes))}
    shown = [np.asarray(X[i])[idx] for m in members.values() for i in m]
    spread = float(np.median([np.percentile(w, 99) - np.percentile(w, 1) for w in shown])
                   ) if shown else 1.0
    offset = max(spread, 1e-6)
    bar = _nice(offset / 2)
    fig, axes = plt.subplots(len(classes), n_per_class + 1, figsize=(3.4 * n_per_class + 3,
                             0.55 * len(chans) * len(classes) + 1.8), squeeze=False,
                             gridspec_kw={"width_ratios": [3] * n_per_class + [2]})
    for k, name in enumerate(classes):
        for col in range(n_per_class):
            ax = axes[k, col]
            ax.set_yticks([])
            if col >= len(members[k]):
                ax.set_axis_off()
                ax.set_title(f"{name}: no window {col + 1}", fontsize=8)
                continue
            w = members[k][col]
            x = np.asarray(X[w])
            for j, i in enumerate(idx):
                ax.plot(t, x[i] - j * offset, lw=0.6, color="k")
            ax.set_ylim(-(len(idx) - 0.4) * offset, 0.6 * offset)
            ax.set_yticks([-j * offset for j in range(len(idx))], chans if col == 0 else [])
            ax.tick_params(labelsize=7)
            ax.set_title(f"{name}: window {w}", fontsize=8)
            _scale_bar(ax, t[-1] * 1.01, -(len(idx) - 0.6) * offset, bar, unit)
            if k == len(classes) - 1:
                ax.set_xlabel("time in window (s)", fontsize=8)
        bx = axes[k, -1]
        sel = np.asarray(X[np.flatnonzero(y == k)[:200]])[:, idx]
        if len(sel):
            f, p = welch(sel, fs=sfreq, nperseg=min(int(sfreq), sel.shape[-1]), axis=-1)
            band = (f >= 8) & (f <= 30)
            bx.bar(chans, p[..., band].mean(axis=(0, 2)), color="tab:gray")
        bx.set_title(f"{name}: mean of {len(sel)} windows", fontsize=8)
        bx.set_ylabel(f"8-30 Hz power ({unit}²/Hz)", fontsize=7)
        bx.tick_params(labelsize=7)
    top = max(ax.get_ylim()[1] for ax in axes[:, -1])
    for ax in axes[:, -1]:  # one power scale for every class
        ax.set_ylim(0, top)
    fig.suptitle(f"example windows (same scale everywhere; bar = {bar:g} {unit})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
