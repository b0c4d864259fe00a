"""Anomaly scoring of EEG trials by reconstruction error (hvEEGNet-style).

A VAE trained on a subject's trials reconstructs ordinary trials well; trials it reconstructs
badly are candidates for corrupted recordings (Cisotto et al., 2024, used hvEEGNet this way on
BCI IV 2a). The steps:

1. :func:`reconstruct_trials` - deterministic reconstructions ``(N, C, T)`` (µV);
2. :func:`trial_errors` - one error per trial and channel (DTW, soft-DTW, MSE or 1 - r);
3. :func:`flag_trials` - per subject, a robust threshold ``median + k * MAD`` on the per-trial
   score, a per-channel robust z-score map, and a table of trials sorted by score;
4. :func:`biosig.viz.reconstruction.plot_worst_trials` - the worst trials against their
   reconstructions.

:func:`score_trials` chains 1-3.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch

from biosig.errors import ConfigError

__all__ = [
    "extract_trials",
    "flag_trials",
    "reconstruct_trials",
    "robust_threshold",
    "score_trials",
    "trial_errors",
]

#: 1.4826 * MAD estimates the standard deviation of normally distributed scores.
MAD_SCALE = 1.4826


def extract_trials(
    rec,
    event: str = "trial_start",
    tmin: float = 2.0,
    tmax: float = 6.0,
    picks: Sequence[str] | None = None,
    ch_type: str | None = "eeg",
) -> np.ndarray:
    """Cut ``[onset + tmin, onset + tmax)`` around every ``event`` annotation of a Recording.

    hvEEGNet's BCI IV 2a segmentation is ``event="trial_start"``, 2-6 s (cue onset to end of
    motor imagery, 1000 samples at 250 Hz). ``picks`` selects channels by name (else every
    channel of ``ch_type``). Returns ``(n_trials, n_chans, n_times)`` float32 in the
    recording's unit (µV for EEG).
    """
    from biosig.errors import ChannelError
    from biosig.signal.windows import EventWindows

    if picks is not None:
        missing = [c for c in picks if c not in rec.ch_names]
        if missing:
            raise ChannelError(f"channels {missing} not in the recording ({rec.ch_names})")
        idx = [rec.ch_names.index(c) for c in picks]
    elif ch_type is not None:
        idx = [i for i, t in enumerate(rec.ch_types) if t == ch_type]
        if not idx:
            raise ChannelError(
                f"no channel of type {ch_type!r} in the recording "
                f"(types present: {sorted(set(rec.ch_types))})"
            )
    else:
        idx = list(range(len(rec.ch_names)))
    rows, _ = EventWindows(tmin=tmin, tmax=tmax, mapping={event: 0})(rec, {})
    if not rows:
        raise ConfigError(f"no complete {event!r} window [{tmin}, {tmax}) s in the recording")
    n = EventWindows(tmin=tmin, tmax=tmax, mapping={event: 0}).n_times(rec.sfreq)
    data = rec.data[idx]
    return np.stack([data[:, r["start"] : r["start"] + n] for r in rows]).astype(np.float32)


def _refuse_non_finite(x: np.ndarray, what: str) -> None:
    """ConfigError naming the trials of ``x`` ``(N, C, T)`` with a NaN or infinite value: a
    NaN error got a robust z-score of 0, so such a trial was ranked as an ordinary one."""
    bad = ~np.isfinite(x)
    if not bad.any():
        return
    trials = np.flatnonzero(bad.any(axis=(1, 2)))
    c, t = (int(v) for v in np.argwhere(bad[trials[0]])[0])
    shown = ", ".join(map(str, trials[:10])) + (", ..." if len(trials) > 10 else "")
    where = f"channel {c}, sample {t}" if x.shape[2] > 1 else f"channel {c}"
    raise ConfigError(
        f"{what}: {len(trials)} trial(s) hold NaN or infinite values (trials {shown}; trial "
        f"{trials[0]} first at {where}); they cannot be scored (a NaN error "
        "ranked them as ordinary). Treat them as corrupted (np.isfinite(x).all(axis=(1, 2)) is "
        "False for them) and score the others, or interpolate the gaps first")


def _refuse_other_channel_order(model: torch.nn.Module, ch_names) -> None:
    """ConfigError unless ``ch_names`` (the data's channels) are the model's own, in order: a
    network tied to its channel layout scores channels of another order silently wrong."""
    trained = getattr(model, "ch_names", None)
    if ch_names is None or trained is None:
        return
    from biosig.errors import channel_difference

    given = [str(c) for c in ch_names]
    difference = channel_difference(given, trained)
    if not difference:
        return
    fix = (f"reorder x to the model's order, x[:, {[given.index(c) for c in trained]}]"
           if sorted(given) == sorted(trained) else
           "select the model's channels, in its order")
    raise ConfigError(f"score_trials: the data's channels {given} are not those the weights "
                      f"were trained on, {list(trained)} ({type(model).__name__}.ch_names): "
                      f"{difference}; {fix}")


@torch.no_grad()
def reconstruct_trials(
    model: torch.nn.Module, x, batch_size: int = 32, levels: Sequence[int] | None = None
) -> np.ndarray:
    """Deterministic reconstructions (posterior means, eval mode) of ``x`` ``(N, C, T)`` µV.

    ``levels`` (hvEEGNet only) switches latent levels off, see
    :meth:`biosig.models.HVEEGNet.reconstruct`. The model's train/eval mode is restored.
    Trials with a NaN or infinite sample are a ConfigError naming them (they cannot be scored).
    """
    xt = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    if xt.dim() != 3:
        raise ConfigError(f"expected trials (n_trials, n_chans, n_times), got {tuple(xt.shape)}")
    _refuse_non_finite(xt.numpy(), "reconstruct_trials: x")
    ref = next(model.parameters())
    was_training = model.training
    model.eval()
    try:
        outs = []
        for i in range(0, len(xt), batch_size):
            xb = xt[i : i + batch_size].to(ref.device, ref.dtype)
            kw = {} if levels is None else {"levels": levels}
            outs.append(model.reconstruct(xb, **kw).float().cpu())
    finally:
        model.train(was_training)
    return torch.cat(outs).numpy()


def trial_errors(x, x_hat, metric: str = "dtw", gamma: float = 1.0) -> np.ndarray:
    """Error per trial and channel, ``(N, C)``.

    ``metric``: ``"dtw"`` (hard DTW, µV²), ``"soft_dtw"`` (with ``gamma``), ``"mse"`` (µV²) or
    ``"corr"`` (``1 - Pearson r``; 1 where the channel or its reconstruction is flat, whose r
    is undefined: a dead channel scores as uncorrelated).
    """
    from biosig.metrics import reconstruction as rm

    if metric == "dtw":
        return rm.dtw_error(x, x_hat)
    if metric == "soft_dtw":
        return rm.dtw_error(x, x_hat, gamma=gamma)
    if metric == "mse":
        return rm.mse(x, x_hat)
    if metric == "corr":
        return 1.0 - np.nan_to_num(rm.channel_correlation(x, x_hat), nan=0.0)
    raise ConfigError(f"metric must be 'dtw', 'soft_dtw', 'mse' or 'corr', got {metric!r}")


def robust_threshold(scores, k: float = 3.0) -> tuple[float, float, float]:
    """``(median, sigma, threshold)`` with ``sigma = 1.4826 * MAD`` and ``threshold = median +
    k * sigma``. ``sigma`` falls back to the mean absolute deviation when MAD is 0 (more than
    half of the scores equal)."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    s = s[np.isfinite(s)]
    if s.size == 0:
        raise ConfigError("no finite scores to threshold")
    med = float(np.median(s))
    sigma = MAD_SCALE * float(np.median(np.abs(s - med)))
    if sigma == 0.0:
        sigma = 1.2533 * float(np.mean(np.abs(s - med)))  # sqrt(pi/2) * mean abs deviation
    return med, sigma, med + k * sigma


def flag_trials(
    errors,
    subjects=None,
    k: float = 3.0,
    score: str = "mean",
    ch_names: Sequence[str] | None = None,
    channel_k: float | None = None,
    trial_ids=None,
) -> pd.DataFrame:
    """Robust per-subject screening of per-trial reconstruction errors.

    Parameters
    ----------
    errors : array ``(N, C)`` (per trial and channel) or ``(N,)``, or a dict
        ``{metric name: (N, C) array}`` (several metrics, for ``score="max_z"``).
    subjects : array ``(N,)`` of subject ids (thresholds are per subject); None = one subject.
    k : trials with ``score > median + k * 1.4826 * MAD`` of their subject are flagged.
    score : per-trial score. ``"mean"``: mean error over channels (the paper's average error
        per trial; one metric only). ``"max_z"``: the largest per-channel robust z-score
        ``(e - median) / (1.4826 MAD)`` over channels (and metrics), computed per subject and
        channel - sensitive to a single bad channel whatever the channel's scale.
    channel_k : threshold on per-channel robust z-scores for ``bad_channels`` (default ``k``).
    ch_names, trial_ids : labels for the table.

    A NaN or infinite error is a ConfigError naming its trials (it cannot be ranked).

    Returns
    -------
    DataFrame sorted by ``robust_z`` (descending) with columns ``subject``, ``trial``,
    ``score``, ``median``, ``threshold``, ``robust_z`` = (score - median) / sigma, ``flagged``,
    ``worst_channel``, ``worst_channel_z``, ``worst_metric`` and ``bad_channels`` (of a
    flagged trial, its channels with z > ``channel_k``; empty for a trial that is not flagged,
    whose channels ``worst_channel_z`` still ranks). The row index is the trial's position in
    ``errors``.
    """
    if isinstance(errors, dict):
        if not errors:
            raise ConfigError("errors is an empty dict")
        metrics = {str(name): np.asarray(v, dtype=np.float64) for name, v in errors.items()}
    else:
        metrics = {"error": np.asarray(errors, dtype=np.float64)}
    for name, e in metrics.items():
        if e.ndim == 1:
            metrics[name] = e = e[:, None]
        if e.ndim != 2 or len(e) == 0:
            raise ConfigError(f"errors must be (n_trials, n_chans) or (n_trials,), got {e.shape}")
        _refuse_non_finite(e[:, :, None], f"flag_trials: errors[{name!r}]")
    shapes = {e.shape for e in metrics.values()}
    if len(shapes) != 1:
        raise ConfigError(f"all metrics need the same (n_trials, n_chans) shape, got {shapes}")
    n, c = next(iter(shapes))
    if score not in ("mean", "max_z"):
        raise ConfigError(f"score must be 'mean' or 'max_z', got {score!r}")
    if score == "mean" and len(metrics) > 1:
        raise ConfigError("score='mean' takes one metric; use score='max_z' to combine metrics")
    subj = np.zeros(n, dtype=int) if subjects is None else np.asarray(subjects)
    if len(subj) != n:
        raise ConfigError(f"{len(subj)} subject ids for {n} trials")
    names = list(ch_names) if ch_names is not None else [f"ch{i}" for i in range(c)]
    if len(names) != c:
        raise ConfigError(f"{len(names)} channel names for {c} channels")
    ids = np.arange(n) if trial_ids is None else np.asarray(trial_ids)
    if len(ids) != n:
        raise ConfigError(f"{len(ids)} trial ids for {n} trials")
    ck = k if channel_k is None else channel_k
    zs = []
    for e in metrics.values():
        z = np.zeros_like(e)
        for s in np.unique(subj):
            m = subj == s
            for j in range(c):
                med, sig, _ = robust_threshold(e[m, j])
                z[m, j] = (e[m, j] - med) / sig if sig > 0 else 0.0
        zs.append(np.nan_to_num(z, nan=0.0))
    zs = np.stack(zs)  # (n_metrics, N, C)
    z_all = zs.max(0)
    which = zs.argmax(0)
    metric_names = list(metrics)
    trial_score = next(iter(metrics.values())).mean(1) if score == "mean" else z_all.max(1)
    rows = []
    for s in np.unique(subj):
        m = np.flatnonzero(subj == s)
        med, sig, thr = robust_threshold(trial_score[m])
        for i in m:
            j = int(np.argmax(z_all[i]))
            rows.append(
                {
                    "subject": s,
                    "trial": ids[i],
                    "score": trial_score[i],
                    "median": med,
                    "threshold": thr,
                    "robust_z": (trial_score[i] - med) / sig if sig > 0 else 0.0,
                    "flagged": bool(trial_score[i] > thr),
                    "worst_channel": names[j],
                    "worst_channel_z": z_all[i, j],
                    "worst_metric": metric_names[which[i, j]],
                    "bad_channels": ",".join(names[q] for q in np.flatnonzero(z_all[i] > ck))
                    if trial_score[i] > thr else "",
                    "_pos": i,
                }
            )
    df = pd.DataFrame(rows).set_index("_pos")
    df.index.name = None
    return df.sort_values("robust_z", ascending=False, kind="stable")


def score_trials(
    model: torch.nn.Module,
    x,
    subjects=None,
    metrics: Sequence[str] | str = ("dtw", "corr"),
    k: float = 3.0,
    score: str = "max_z",
    ch_names: Sequence[str] | None = None,
    levels: Sequence[int] | None = None,
    batch_size: int = 32,
    trial_ids=None,
) -> tuple[pd.DataFrame, np.ndarray, dict[str, np.ndarray]]:
    """Reconstruct, measure and flag; returns ``(table, x_hat, errors)``.

    The default combines DTW (large-amplitude artifacts: spikes, saturation) and ``1 - r``
    (dead or disconnected channels, whose near-zero DTW error would otherwise look *good*)
    through per-channel robust z-scores; see :func:`flag_trials`, :func:`trial_errors`.
    ``trial_ids`` (one per trial, e.g. ``"Subject02_1:10"``) fill the table's ``trial``
    column (default: the trial's position in ``x``, also the table's index). ``ch_names``,
    the channels of ``x`` in order, are checked against the model's (``model.ch_names``: the
    card's for weights loaded with ``from_pretrained``): another order or other channels are a
    ConfigError naming both.
    """
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    _refuse_other_channel_order(model, ch_names)
    x = np.asarray(x, dtype=np.float32)
    x_hat = reconstruct_trials(model, x, batch_size=batch_size, levels=levels)
    err = {mt: trial_errors(x, x_hat, metric=mt) for mt in metrics}
    table = flag_trials(
        err if len(err) > 1 else err[metrics[0]], subjects, k=k, score=score, ch_names=ch_names,
        trial_ids=trial_ids,
    )
    return table, x_hat, err
