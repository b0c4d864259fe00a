"""Figures of discrete EEG tokens (EEGFormer, Chen et al. 2024): codebook use per class, token
maps and token-occurrence maps over channels and patches, anomaly-score distributions. Inputs
come from :mod:`biosig.analysis.tokens`. Each function returns a matplotlib ``Figure`` (no
pyplot state)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from biosig.errors import ShapeError

__all__ = ["plot_codebook_usage", "plot_score_distributions", "plot_token_occurrence"]


def _axis_labels(ax, ch_names, patch_labels, n_chans: int, n_patches: int) -> None:
    if ch_names is not None:
        if len(ch_names) != n_chans:
            raise ShapeError(f"{len(ch_names)} channel names for {n_chans} channels")
        ax.set_yticks(range(n_chans), list(ch_names), fontsize=6)
    if patch_labels is not None:
        if len(patch_labels) != n_patches:
            raise ShapeError(f"{len(patch_labels)} patch labels for {n_patches} patches")
        step = max(1, n_patches // 5)
        ax.set_xticks(range(0, n_patches, step), list(patch_labels)[::step])


def plot_codebook_usage(usage: pd.DataFrame, top: int = 32, title: str | None = None):
    """Heat map of code frequency per class (rows) for the ``top`` codes most used overall.

    ``usage`` is :func:`biosig.analysis.tokens.codebook_usage` (normalised rows)."""
    from matplotlib.figure import Figure

    order = usage.sum(axis=0).sort_values(ascending=False).index[:top]
    data = usage[order].to_numpy()
    fig = Figure(figsize=(max(4.0, 0.22 * len(order) + 2), 0.35 * len(usage) + 1.2))
    ax = fig.add_subplot()
    im = ax.imshow(data, aspect="auto", cmap="viridis")
    ax.set_yticks(range(len(usage)), [str(c) for c in usage.index])
    ax.set_xticks(range(len(order)), [str(c) for c in order], fontsize=6, rotation=90)
    ax.set(xlabel="code (most used first)", title=title or "codebook use per class")
    fig.colorbar(im, ax=ax, label="fraction of tokens")
    return fig


def plot_token_occurrence(
    maps: dict,
    ch_names: Sequence[str] | None = None,
    patch_labels: Sequence[str] | None = None,
    xlabel: str = "patch",
    title: str | None = None,
):
    """One panel per entry of ``maps`` ``{name: (C, n_patches) array}``, e.g. per class the
    :func:`biosig.analysis.tokens.token_occurrence` of that class's most specific codes:
    where over channels (rows) and patches (columns: time with ``fft_frame`` tokens,
    frequency bands otherwise) the codes occur."""
    from matplotlib.figure import Figure

    arrays = {k: np.asarray(v, dtype=float) for k, v in maps.items()}
    shapes = {a.shape for a in arrays.values()}
    if not arrays or len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ShapeError(f"maps must be equal (C, n_patches) arrays, got {shapes}")
    n_chans, n_patches = next(iter(shapes))
    fig = Figure(figsize=(2.6 * len(arrays) + 1, 0.16 * n_chans + 1.5))
    axes = fig.subplots(1, len(arrays), sharey=True, squeeze=False)[0]
    vmax = max(float(a.max()) for a in arrays.values()) or 1.0
    for ax, (name, a) in zip(axes, arrays.items()):
        im = ax.imshow(a, aspect="auto", cmap="magma", vmin=0, vmax=vmax)
        ax.set_title(str(name), fontsize=8)
        ax.set_xlabel(xlabel)
        _axis_labels(ax, ch_names if ax is axes[0] else None, patch_labels, n_chans, n_patches)
    fig.colorbar(im, ax=list(axes), label="fraction of windows")
    if title:
        fig.suptitle(title)
    return fig


def plot_score_distributions(scores: dict, labels, classes: Sequence[str] | None = None):
    """Box plots of anomaly scores ``{score name: (N,)}`` per class of ``labels`` ``(N,)``."""
    from matplotlib.figure import Figure

    lab = np.asarray(labels)
    values = np.unique(lab)
    fig = Figure(figsize=(3.2 * len(scores) + 0.5, 3.0))
    axes = fig.subplots(1, len(scores), squeeze=False)[0]
    for ax, (name, s) in zip(axes, scores.items()):
        s = np.asarray(s, dtype=float)
        if len(s) != len(lab):
            raise ShapeError(f"{len(s)} {name} scores for {len(lab)} labels")
        ax.boxplot([s[lab == v] for v in values], showfliers=False)
        names = [classes[int(v)] if classes is not None else str(v) for v in values]
        ax.set_xticks(range(1, len(values) + 1), names, rotation=45)
        ax.set(title=name, ylabel="score")
    fig.tight_layout()
    return fig
