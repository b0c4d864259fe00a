"""Plots of a classification run: training curves, confusion matrix, example windows."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def plot_training_curves(
    metrics_csv: str | Path, path: str | Path, metrics: tuple[str, ...] = ("loss", "acc")
) -> Path:
    """Per-epoch train/val curves from a Lightning ``CSVLogger`` ``metrics.csv``."""
    df = pd.read_csv(metrics_csv)
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.5))
    for ax, name in zip(np.atleast_1d(axes), metrics):
        for stage in ("train", "val"):
            col = f"{stage}_{name}"
            if col in df:
                per_epoch = df.dropna(subset=[col]).groupby("epoch")[col].last()
                ax.plot(per_epoch.index, per_epoch.values, marker="o", ms=3, label=stage)
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
    """Counts with row-normalised colours (rows: true class)."""
    cm = np.asarray(cm)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.2 * len(classes) + 2, 1.1 * len(classes) + 1.5))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(
                j,
                i,
                f"{cm[i, j]}",
                ha="center",
                va="center",
                color="white" if norm[i, j] > 0.5 else "black",
            )
    ax.set_xticks(range(len(classes)), classes, rotation=30, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def plot_example_windows(
    X: np.ndarray,
    y: np.ndarray,
    ch_names: list[str],
    classes: list[str],
    sfreq: float,
    path: str | Path,
    channels: tuple[str, ...] = ("C3", "Cz", "C4"),
    unit: str = "µV",
) -> Path:
    """One example window per class (rows) on a few channels, with the class-mean 8-30 Hz power.

    The right column shows, per channel, the mean band power of all windows of each class: on
    motor-imagery data the contralateral desynchronisation is visible there.
    """
    from scipy.signal import welch

    chans = [c for c in channels if c in ch_names] or list(ch_names[:3])
    idx = [ch_names.index(c) for c in chans]
    t = np.arange(X.shape[-1]) / sfreq
    fig, axes = plt.subplots(
        len(classes),
        2,
        figsize=(11, 2.2 * len(classes)),
        squeeze=False,
        gridspec_kw={"width_ratios": [3, 1]},
    )
    for k, name in enumerate(classes):
        members = np.flatnonzero(np.asarray(y) == k)
        ax, bx = axes[k]
        if len(members) == 0:
            ax.set_title(f"{name}: no window")
            continue
        x = np.asarray(X[members[0]])
        offset = 4 * np.std(x[idx]) + 1e-6
        for j, (c, i) in enumerate(zip(chans, idx)):
            ax.plot(t, x[i] - j * offset, lw=0.6)
            ax.text(t[0], -j * offset, c, ha="right", va="center", fontsize=8)
        ax.set_yticks([])
        ax.set_title(f"{name} (window {members[0]})", fontsize=9)
        sel = np.asarray(X[members[: min(len(members), 200)]])[:, idx]
        f, p = welch(sel, fs=sfreq, nperseg=min(int(sfreq), sel.shape[-1]), axis=-1)
        band = (f >= 8) & (f <= 30)
        bx.bar(chans, p[..., band].mean(axis=(0, 2)))
        bx.set_ylabel(f"8-30 Hz power ({unit}²/Hz)", fontsize=8)
    axes[-1, 0].set_xlabel("time in window (s)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
