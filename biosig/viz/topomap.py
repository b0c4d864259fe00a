"""Scalp topographies of per-channel values, e.g. DBConformer's channel-attention weights.

Electrode positions come from an MNE standard montage (``standard_1020`` by default); the
interpolated map is drawn by :func:`mne.viz.plot_topomap`.
"""

from __future__ import annotations

import numpy as np

from biosig.errors import ChannelError, ConfigError

__all__ = ["class_mean_attention", "plot_topomaps", "plot_channel_attention", "top_channels"]


def class_mean_attention(
    model, x, y, n_classes: int | None = None, batch_size: int = 64
) -> np.ndarray:
    """Mean channel-attention weights per class, ``(n_classes, n_chans)``.

    ``model`` is a :class:`~biosig.models.dbconformer.DBConformer` (any module whose
    ``forward(x, return_attention=True)`` returns ``(logits, weights)``); ``x`` trials
    ``(N, C, T)`` prepared as for training (e.g. Euclidean-aligned EEG), ``y`` their labels.
    Evaluated in ``eval`` mode without gradients; the model's mode is restored.
    """
    import torch

    x = torch.as_tensor(np.asarray(x, dtype=np.float32))
    y = np.asarray(y, dtype=np.int64)
    if len(x) != len(y):
        raise ConfigError(f"{len(x)} trials but {len(y)} labels")
    n_classes = int(n_classes or (y.max() + 1))
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    weights = []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            out = model(x[i : i + batch_size].to(device), return_attention=True)
            attn = out[-1]
            if attn is None:
                raise ConfigError(
                    "the model has no channel attention (channel_attention=False or "
                    "branch='temporal')"
                )
            weights.append(attn.cpu().numpy())
    model.train(was_training)
    w = np.concatenate(weights)
    out = np.full((n_classes, w.shape[1]), np.nan)
    for k in range(n_classes):
        if (y == k).any():
            out[k] = w[y == k].mean(0)
    return out


def top_channels(weights, ch_names, k: int = 3) -> list[str]:
    """Names of the ``k`` channels with the largest weight (``weights``: (C,))."""
    weights = np.asarray(weights, dtype=float).reshape(-1)
    if len(weights) != len(ch_names):
        raise ChannelError(f"{len(weights)} weights for {len(ch_names)} channels")
    return [ch_names[i] for i in np.argsort(weights)[::-1][:k]]


def _info(ch_names, montage: str):
    import mne

    info = mne.create_info(list(ch_names), sfreq=100.0, ch_types="eeg")
    renamed = {"standard_1020": "colin27_1020", "standard_1005": "colin27_1005"}  # MNE >= 1.13
    if renamed.get(montage) in mne.channels.get_builtin_montages():
        montage = renamed[montage]
    mont = mne.channels.make_standard_montage(montage)
    known = {n.lower() for n in mont.ch_names}
    missing = [n for n in ch_names if n.lower() not in known]
    if missing:
        raise ChannelError(
            f"channels {missing} have no position in the {montage!r} montage; rename them to "
            "10-20/10-05 names (e.g. 'Fc5.' -> 'FC5') before plotting"
        )
    info.set_montage(mont, match_case=False)
    return info


def plot_topomaps(
    values,
    ch_names,
    titles=None,
    montage: str = "standard_1020",
    cmap: str = "Reds",
    shared_scale: bool = True,
    axes=None,
    colorbar_label: str = "",
    show_names: bool = False,
    centered: bool = False,
):
    """One topomap per row of ``values`` ``(n_maps, n_chans)`` (or ``(n_chans,)``); returns the
    figure.

    ``shared_scale``: one colour scale (and colour bar) for all maps; ``centered``: symmetric
    around 0 (for signed values and a diverging ``cmap``).
    """
    import matplotlib.pyplot as plt
    import mne

    values = np.atleast_2d(np.asarray(values, dtype=float))
    if values.shape[1] != len(ch_names):
        raise ChannelError(f"{values.shape[1]} values per map for {len(ch_names)} channels")
    info = _info(ch_names, montage)
    n = values.shape[0]
    titles = list(titles) if titles is not None else [""] * n
    if len(titles) != n:
        raise ConfigError(f"{len(titles)} titles for {n} maps")
    if axes is None:
        fig, axes = plt.subplots(1, n, figsize=(2.6 * n + 0.6, 2.8), squeeze=False)
        axes = axes[0]
    else:
        axes = np.atleast_1d(axes)
        fig = axes[0].figure
    if centered:
        m = float(np.nanmax(np.abs(values))) or 1.0
        vlim = (-m, m)
    else:
        vlim = (np.nanmin(values), np.nanmax(values)) if shared_scale else (None, None)
    im = None
    for ax, row, title in zip(axes, values, titles):
        im, _ = mne.viz.plot_topomap(
            row,
            info,
            axes=ax,
            show=False,
            cmap=cmap,
            vlim=vlim,
            names=list(ch_names) if show_names else None,
            contours=4,
        )
        ax.set_title(title, fontsize=10)
    if im is not None and shared_scale:
        cb = fig.colorbar(im, ax=list(axes), shrink=0.7, pad=0.02)
        cb.set_label(colorbar_label)
    return fig


def plot_channel_attention(
    weights,
    ch_names,
    classes=None,
    normalize: str = "uniform",
    montage: str = "standard_1020",
    cmap: str | None = None,
    axes=None,
    show_names: bool = True,
):
    """Channel-attention weights per class (``(n_classes, n_chans)``) as scalp maps.

    ``normalize="uniform"``: weights as multiples of the uniform weight ``1 / n_chans`` (1 = no
    preference). ``normalize="classes"``: each class's weights divided by the mean over classes,
    minus 1 (where a class attends more or less than the others) -- with DBConformer's N(0, 1)
    positional embeddings the absolute weights are largely shaped by the initialisation, while
    the class contrast shows the task-related channels.
    """
    weights = np.atleast_2d(np.asarray(weights, dtype=float))
    centered = normalize == "classes"
    if normalize == "uniform":
        values, label, default_cmap = weights * weights.shape[1], "attention × n_chans", "Reds"
    elif normalize == "classes":
        values = weights / weights.mean(axis=0, keepdims=True) - 1.0
        label, default_cmap = "attention / class mean − 1", "RdBu_r"
    else:
        raise ConfigError(f"normalize must be 'uniform' or 'classes', got {normalize!r}")
    titles = (
        [str(c) for c in classes]
        if classes is not None
        else [f"class {k}" for k in range(len(values))]
    )
    if len(titles) != len(values):
        raise ConfigError(f"{len(titles)} class names for {len(values)} weight rows")
    return plot_topomaps(
        values,
        ch_names,
        titles,
        montage=montage,
        cmap=cmap or default_cmap,
        axes=axes,
        colorbar_label=label,
        show_names=show_names,
        centered=centered,
    )
