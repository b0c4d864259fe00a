"""Discrete-token analyses of a vector-quantised EEG model (EEGFormer, Chen et al. 2024).

EEGFormer (arXiv:2401.10278) turns every channel of a window into a sequence of codebook indices
(tokens). Its abstract names two uses of the tokens besides transfer: **anomaly detection**
and **interpretation**. The steps here:

1. :func:`window_tokens` - code indices ``(N, C, n_patches)`` and the reconstruction error of
   every token's patch ``(N, C, n_patches)`` (eval mode, no gradients);
2. anomaly scores per window, after pretraining on background only:
   :func:`reconstruction_scores` (mean patch error) and :func:`token_rarity_scores` (mean
   surprisal ``-log p(code)`` of the window's tokens under the code frequencies of the
   background, :func:`code_frequencies`, optionally per patch position); :func:`auroc` rates
   a score at separating event windows from background;
3. interpretation: :func:`codebook_usage` (code frequency per class), :class:`NgramVocabulary`
   (counts of token n-grams along each channel's sequence) feeding :class:`MultinomialNB`
   (the paper's n-gram naive-Bayes reading of the tokens), :func:`informative_ngrams` (the
   n-grams most specific to a class) and :func:`token_occurrence` (where, over channels and
   patches, given codes occur), drawn by :mod:`biosig.viz.tokens`.

The paper body could not be obtained; the n-gram + naive-Bayes reading follows the secondary
sources summarised in ``docs/models/eegformer.md``. Choices made here: n-grams run along
the patch axis of one channel (never across channels), the rarity score uses Laplace-smoothed
frequencies, and the scores are means over a window's tokens (a max is an option).

Blind spot: EEGFormer instance-normalises each channel's spectrum, so the scores ignore
amplitude (a window times 10 gets the same tokens) and a flat channel reconstructs best of all.
Screen dead, flat and railed channels by amplitude first (hvEEGNet's ``score_trials`` does).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch

from biosig.errors import ConfigError, ShapeError
from biosig.metrics.classification import macro_auroc

__all__ = [
    "MultinomialNB",
    "NgramVocabulary",
    "auroc",
    "balanced_accuracy",
    "code_frequencies",
    "codebook_usage",
    "informative_ngrams",
    "reconstruction_scores",
    "token_occurrence",
    "token_rarity_scores",
    "window_tokens",
]


# ---------------------------------------------------------------------------- tokens
@torch.no_grad()
def window_tokens(model: torch.nn.Module, x, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Code indices and per-token reconstruction errors of windows ``x`` ``(N, C, T)``.

    ``model`` is an EEGFormer (anything with ``forward_pretrain`` returning ``target``,
    ``recon`` and ``vq.indices``). Returns ``(indices, errors)``, both ``(N, C, n_patches)``:
    int64 codes and the MSE between each normalised input patch and its reconstruction from
    the codes. Eval mode (no EMA update or code restart); the model's mode is restored.
    A window with a NaN or infinite sample is a ConfigError naming it (its channel's tokens
    would be meaningless).
    """
    if not hasattr(model, "forward_pretrain"):
        raise ConfigError(f"{type(model).__name__} has no forward_pretrain (not a VQ model)")
    x = x if hasattr(x, "shape") else np.asarray(x)  # a cache's X stays on disk until batched
    if len(x.shape) != 3 or len(x) == 0:
        raise ShapeError(f"expected windows (n_windows, n_chans, n_times), got {tuple(x.shape)}")
    ref = next(model.parameters())
    was_training = model.training
    model.eval()
    try:
        idx, err = [], []
        for i in range(0, len(x), batch_size):  # each batch copied (a cache's X is read-only)
            batch = x[i : i + batch_size]
            if not isinstance(batch, torch.Tensor):
                batch = torch.from_numpy(np.array(batch, dtype=np.float32))
            bad = ~torch.isfinite(batch).all(-1)  # a NaN channel would get code 0 and NaN error
            if bad.any():
                w, c = (int(v) for v in bad.nonzero()[0])
                raise ConfigError(f"window_tokens: window {i + w} holds NaN or infinite samples "
                                  f"(channel {c}); interpolate or drop such windows first")
            out = model.forward_pretrain(batch.to(ref.device, ref.dtype))
            idx.append(out.vq.indices.cpu())
            err.append((out.recon - out.target).pow(2).mean(-1).float().cpu())
    finally:
        model.train(was_training)
    return torch.cat(idx).numpy().astype(np.int64), torch.cat(err).numpy()


def _reduce(per_token: np.ndarray, reduce: str) -> np.ndarray:
    if reduce == "mean":
        return per_token.reshape(len(per_token), -1).mean(1)
    if reduce == "max":
        return per_token.reshape(len(per_token), -1).max(1)
    raise ConfigError(f"reduce must be 'mean' or 'max', got {reduce!r}")


def _check_indices(indices, n_codes: int | None = None) -> np.ndarray:
    idx = np.asarray(indices)
    if idx.ndim != 3 or not np.issubdtype(idx.dtype, np.integer):
        raise ShapeError(
            f"token indices must be integer (n_windows, n_chans, n_patches), got "
            f"{idx.dtype} {idx.shape}"
        )
    if idx.size and (idx.min() < 0 or (n_codes is not None and idx.max() >= n_codes)):
        raise ConfigError(f"token indices outside [0, {n_codes}): {idx.min()}..{idx.max()}")
    return idx.astype(np.int64)


# ---------------------------------------------------------------------------- anomaly scores
def reconstruction_scores(errors, reduce: str = "mean") -> np.ndarray:
    """One score per window from per-token errors ``(N, C, n_patches)`` (:func:`window_tokens`):
    their mean (or ``reduce="max"``). High = the codes reconstruct the window badly."""
    e = np.asarray(errors, dtype=np.float64)
    if e.ndim != 3:
        raise ShapeError(f"errors must be (n_windows, n_chans, n_patches), got {e.shape}")
    return _reduce(e, reduce)


def code_frequencies(
    indices, n_codes: int, per_position: bool = False, alpha: float = 1.0
) -> np.ndarray:
    """Laplace-smoothed code probabilities of reference (background) tokens.

    ``(n_codes,)`` or, with ``per_position``, ``(n_patches, n_codes)``: ``p(code | patch)``,
    which for spectral patches means "this code is usual in this frequency band" (and for
    ``fft_frame`` tokens, at this time). ``alpha`` is the pseudo-count of every code.
    """
    if alpha <= 0:
        raise ConfigError(f"alpha must be > 0 (a code unseen in the reference), got {alpha}")
    idx = _check_indices(indices, n_codes)
    if per_position:
        flat = idx.transpose(2, 0, 1).reshape(idx.shape[2], -1)
        counts = np.stack([np.bincount(row, minlength=n_codes) for row in flat]).astype(float)
    else:
        counts = np.bincount(idx.ravel(), minlength=n_codes).astype(float)
    counts += alpha
    return counts / counts.sum(-1, keepdims=True)


def token_rarity_scores(indices, frequencies, reduce: str = "mean") -> np.ndarray:
    """Mean (or max) surprisal ``-log p(code)`` of each window's tokens, ``(N,)``.

    ``frequencies`` come from :func:`code_frequencies` on background windows (``(K,)`` or
    per position ``(n_patches, K)``). High = the window uses codes background rarely uses.
    """
    p = np.asarray(frequencies, dtype=np.float64)
    idx = _check_indices(indices, p.shape[-1])
    if p.ndim == 1:
        surprisal = -np.log(p[idx])
    elif p.ndim == 2 and p.shape[0] == idx.shape[2]:
        surprisal = -np.log(p[np.arange(idx.shape[2]), idx])
    else:
        raise ShapeError(
            f"frequencies {p.shape} fit neither (n_codes,) nor (n_patches={idx.shape[2]}, "
            "n_codes)"
        )
    return _reduce(surprisal, reduce)


def auroc(scores, positive) -> float:
    """Area under the ROC curve of ``scores`` for the boolean ``positive`` (ties count half):
    the probability that a random positive window scores above a random negative one."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(positive, dtype=bool).ravel()
    if len(s) != len(y):
        raise ShapeError(f"{len(s)} scores for {len(y)} labels")
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ConfigError(f"AUROC needs both classes, got {n_pos} positive, {n_neg} negative")
    return macro_auroc(y, s)  # one class: its rank-sum AUROC


def balanced_accuracy(y_true, y_pred) -> float:
    """Mean recall over the classes present in ``y_true``."""
    t, p = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    if len(t) != len(p) or len(t) == 0:
        raise ShapeError(f"{len(t)} true labels for {len(p)} predictions")
    return float(np.mean([np.mean(p[t == c] == c) for c in np.unique(t)]))


# ---------------------------------------------------------------------------- interpretation
def codebook_usage(
    indices, labels, n_codes: int, classes: Sequence[str] | None = None, normalize: bool = True
) -> pd.DataFrame:
    """Code counts per class, ``(n_classes, n_codes)`` DataFrame (rows: class, columns: code).

    ``labels`` ``(N,)`` are class ids (integers, named by ``classes``) or names. With
    ``normalize`` every row is the class's code distribution (sums to 1).
    """
    idx = _check_indices(indices, n_codes)
    lab = np.asarray(labels)
    if len(lab) != len(idx):
        raise ShapeError(f"{len(lab)} labels for {len(idx)} windows")
    rows = {}
    for c in np.unique(lab):
        counts = np.bincount(idx[lab == c].ravel(), minlength=n_codes).astype(float)
        name = classes[int(c)] if classes is not None else c
        rows[name] = counts / counts.sum() if normalize else counts
    df = pd.DataFrame.from_dict(rows, orient="index")
    df.columns.name, df.index.name = "code", "class"
    return df


def _ngram_ids(idx: np.ndarray, n: int, n_codes: int) -> np.ndarray:
    """``(N, C, n_patches - n + 1)`` integer id of every n-gram along the patch axis."""
    if n > idx.shape[2]:
        raise ConfigError(f"n-grams of {n} tokens need >= {n} patches, got {idx.shape[2]}")
    if n * np.log2(max(n_codes, 2)) > 62:
        raise ConfigError(f"{n}-grams of {n_codes} codes overflow int64 ids")
    ids = np.zeros(idx[..., : idx.shape[2] - n + 1].shape, dtype=np.int64)
    for k in range(n):
        ids = ids * n_codes + idx[..., k : idx.shape[2] - n + 1 + k]
    return ids


class NgramVocabulary:
    """Bag of token n-grams: counts of every 1..``n``-gram of codes along each channel's patch
    sequence, over a vocabulary of the n-grams seen in :meth:`fit` (at least ``min_count``
    times; unseen n-grams are dropped in :meth:`transform`)."""

    def __init__(self, n_codes: int, n: int = 2, min_count: int = 1):
        if n < 1 or min_count < 1 or n_codes < 1:
            raise ConfigError(f"need n >= 1, min_count >= 1, n_codes >= 1; got {n}, "
                              f"{min_count}, {n_codes}")
        if n * np.log2(max(n_codes, 2)) > 62:
            raise ConfigError(f"{n}-grams of {n_codes} codes overflow int64 ids; use a smaller n")
        self.n_codes, self.n, self.min_count = n_codes, n, min_count
        self.vocab_: list[np.ndarray] | None = None

    def fit(self, indices) -> "NgramVocabulary":
        idx = _check_indices(indices, self.n_codes)
        if self.n > idx.shape[2]:
            raise ConfigError(f"n={self.n}: n-grams of {self.n} tokens need >= {self.n} patches "
                              f"per channel, the windows have {idx.shape[2]}")
        self.vocab_ = []
        for k in range(1, self.n + 1):
            ids, counts = np.unique(_ngram_ids(idx, k, self.n_codes), return_counts=True)
            self.vocab_.append(ids[counts >= self.min_count])
        return self

    def transform(self, indices) -> np.ndarray:
        """Counts ``(N, n_features)`` (float64) of the vocabulary's n-grams per window."""
        if self.vocab_ is None:
            raise ConfigError("NgramVocabulary.transform before fit")
        idx = _check_indices(indices, self.n_codes)
        blocks = []
        for k, vocab in enumerate(self.vocab_, start=1):
            ids = _ngram_ids(idx, k, self.n_codes).reshape(len(idx), -1)
            col = np.searchsorted(vocab, ids).clip(max=max(len(vocab) - 1, 0))
            known = vocab[col] == ids if len(vocab) else np.zeros(ids.shape, bool)
            rows = np.broadcast_to(np.arange(len(idx))[:, None], ids.shape)
            counts = np.zeros((len(idx), len(vocab)))
            np.add.at(counts, (rows[known], col[known]), 1.0)
            blocks.append(counts)
        return np.concatenate(blocks, axis=1)

    def fit_transform(self, indices) -> np.ndarray:
        return self.fit(indices).transform(indices)

    def feature_names(self) -> list[str]:
        """``"12-7"`` for the bigram code 12 then code 7, in column order."""
        if self.vocab_ is None:
            raise ConfigError("NgramVocabulary.feature_names before fit")
        names = []
        for k, vocab in enumerate(self.vocab_, start=1):
            for v in vocab:
                codes = [(int(v) // self.n_codes**j) % self.n_codes for j in range(k)][::-1]
                names.append("-".join(map(str, codes)))
        return names


class MultinomialNB:
    """Multinomial naive Bayes on count features (numpy): ``log p(y) + sum_f x_f log
    theta_{y,f}`` with ``theta`` the Laplace-smoothed (``alpha``) feature frequencies of
    each class; ``fit_prior=False`` uses uniform class priors (for balanced accuracy)."""

    def __init__(self, alpha: float = 1.0, fit_prior: bool = True):
        if alpha <= 0:
            raise ConfigError(f"alpha must be > 0, got {alpha}")
        self.alpha, self.fit_prior = alpha, fit_prior

    def fit(self, x, y) -> "MultinomialNB":
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y)
        if x.ndim != 2 or len(x) != len(y) or (x < 0).any():
            raise ShapeError(f"need non-negative counts (n, features) and (n,) labels, got "
                             f"{x.shape} and {y.shape}")
        self.classes_ = np.unique(y)
        counts = np.stack([x[y == c].sum(0) for c in self.classes_]) + self.alpha
        self.feature_log_prob_ = np.log(counts / counts.sum(1, keepdims=True))
        prior = np.array([np.mean(y == c) for c in self.classes_])
        if not self.fit_prior:
            prior = np.full_like(prior, 1 / len(prior))
        self.class_log_prior_ = np.log(prior)
        return self

    def predict_log_proba(self, x) -> np.ndarray:
        if not hasattr(self, "feature_log_prob_"):
            raise ConfigError("MultinomialNB: call fit before predicting")
        x = np.asarray(x, dtype=np.float64)
        n_features = self.feature_log_prob_.shape[1]
        if x.ndim != 2 or x.shape[1] != n_features:
            raise ShapeError(f"MultinomialNB: expected counts (n, {n_features}) as in fit (the "
                             f"same NgramVocabulary), got {x.shape}")
        joint = x @ self.feature_log_prob_.T + self.class_log_prior_
        return joint - np.logaddexp.reduce(joint, axis=1, keepdims=True)

    def predict(self, x) -> np.ndarray:
        log_proba = self.predict_log_proba(x)
        return self.classes_[np.argmax(log_proba, axis=1)]


def informative_ngrams(nb: MultinomialNB, names: Sequence[str], top: int = 5) -> pd.DataFrame:
    """The ``top`` n-grams per class with the largest log-ratio ``log theta_{y,f} - mean over
    the other classes`` (how much more a class uses an n-gram than the rest)."""
    logp = nb.feature_log_prob_
    if len(names) != logp.shape[1]:
        raise ShapeError(f"{len(names)} feature names for {logp.shape[1]} features")
    rows = []
    for i, c in enumerate(nb.classes_):
        others = np.delete(logp, i, axis=0).mean(0)
        ratio = logp[i] - others
        for f in np.argsort(-ratio)[:top]:
            rows.append({"class": c, "ngram": names[f], "log_ratio": ratio[f],
                         "frequency": float(np.exp(logp[i, f]))})
    return pd.DataFrame(rows)


def token_occurrence(indices, codes: Sequence[int] | int, labels=None, label=None) -> np.ndarray:
    """Fraction of windows whose token at each (channel, patch) is one of ``codes``,
    ``(C, n_patches)``; with ``labels`` and ``label`` only the windows of that class."""
    idx = _check_indices(indices)
    if (labels is None) != (label is None):
        raise ConfigError("token_occurrence: give labels and label together (the windows of "
                          "class label), or neither (all windows)")
    if labels is not None:
        lab = np.asarray(labels)
        if len(lab) != len(idx):
            raise ShapeError(f"{len(lab)} labels for {len(idx)} windows")
        idx = idx[lab == label]
        if len(idx) == 0:
            raise ConfigError(f"no window of class {label!r}")
    return np.isin(idx, np.atleast_1d(codes)).mean(0)
