"""Euclidean alignment (EA) of EEG trials, offline and online.

EA (He & Wu, 2020) whitens every trial by the inverse square root of a reference matrix
``R``, the mean of the trial covariances: ``X_i <- R^{-1/2} X_i``. After alignment the mean
covariance of the trials that defined ``R`` is the identity, which removes much of the
between-subject and between-session shift. DBConformer [Wang2026]_ applies it in every
protocol: offline on the training trials, and *online* (running reference, no look-ahead) on
the test subject in LOSO.

Both classes take trials ``(n_trials, n_chans, n_times)`` as NumPy arrays or torch tensors (EEG
in µV; EA is scale-equivariant, the output is unitless) and return the same kind, float32.
Computation is done in float64; ``R^{-1/2}`` via a symmetric eigendecomposition.

References
----------
.. [He2020] H. He, D. Wu, "Transfer learning for brain-computer interfaces: a Euclidean space
   data alignment approach", IEEE Trans. Biomed. Eng. 67(2):399-410, 2020.
.. [Wang2026] Z. Wang et al., "DBConformer: Dual-Branch Convolutional Transformer for EEG
   Decoding", IEEE J. Biomed. Health Inform. 30(5), 2026.
"""

from __future__ import annotations

import contextlib

from typing import Literal

import numpy as np

from biosig.errors import BiosigError, ConfigError

__all__ = [
    "EuclideanAlignment",
    "OnlineEuclideanAlignment",
    "trial_covariances",
    "inv_sqrtm",
    "online_whiteners",
    "split_whiteners",
]

CovEstimator = Literal["cov", "scm"]


def _to_numpy(x) -> tuple[np.ndarray, bool]:
    try:
        import torch

        if isinstance(x, torch.Tensor):
            return x.detach().cpu().numpy().astype(np.float64), True
    except ImportError:  # pragma: no cover - torch is a hard dependency
        pass
    return np.asarray(x, dtype=np.float64), False


def _back(x: np.ndarray, as_torch: bool):
    x = np.ascontiguousarray(x, dtype=np.float32)
    if as_torch:
        import torch

        return torch.from_numpy(x)
    return x


def _check_trials(x: np.ndarray, what: str = "trials") -> np.ndarray:
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise BiosigError(f"{what} must be (n_trials, n_chans, n_times), got shape {x.shape}")
    if x.shape[0] == 0:
        raise BiosigError(f"no {what} given")
    if not np.all(np.isfinite(x)):
        raise BiosigError(f"{what} contain NaN or infinite values")
    return x


def trial_covariances(x, estimator: CovEstimator = "cov") -> np.ndarray:
    """Per-trial spatial covariance ``(n_trials, C, C)`` in float64.

    ``"cov"``: mean-centred over time, divided by ``n_times - 1`` (``numpy.cov``, as the
    DBConformer code); ``"scm"``: ``X X^T / n_times`` (He & Wu's original formulation).
    """
    x, _ = _to_numpy(x)
    x = _check_trials(x)
    if estimator == "cov":
        if x.shape[2] < 2:
            raise BiosigError("covariance needs at least 2 time samples per trial")
        xc = x - x.mean(axis=2, keepdims=True)
        return np.einsum("nct,ndt->ncd", xc, xc) / (x.shape[2] - 1)
    if estimator == "scm":
        return np.einsum("nct,ndt->ncd", x, x) / x.shape[2]
    raise ConfigError(f"estimator must be 'cov' or 'scm', got {estimator!r}")


class SingularReferenceError(BiosigError):
    """An alignment reference that cannot be whitened (singular or not positive definite); the
    remedy is shrinkage, which each caller names where it is set."""


def inv_sqrtm(r: np.ndarray, rtol: float = 1e-10) -> np.ndarray:
    """``R^{-1/2}`` of a symmetric positive-definite matrix via ``eigh``.

    Raises :class:`SingularReferenceError` when ``R`` is singular (smallest eigenvalue below
    ``rtol`` times the largest), e.g. for average-referenced data with all channels kept or
    fewer samples than channels; pass ``shrinkage`` to the aligners in that case.
    """
    r = 0.5 * (r + r.T)
    w, v = np.linalg.eigh(r)
    if not np.all(np.isfinite(w)) or w[-1] <= 0 or w[0] <= rtol * w[-1]:
        raise SingularReferenceError(
            f"alignment reference is singular or not positive definite (eigenvalues "
            f"{w[0]:.3g} .. {w[-1]:.3g}); use shrinkage > 0 or drop a linearly dependent channel"
        )
    return (v / np.sqrt(w)) @ v.T


def _shrink(r: np.ndarray, shrinkage: float) -> np.ndarray:
    if shrinkage <= 0:
        return r
    mu = np.trace(r) / r.shape[0]
    return (1.0 - shrinkage) * r + shrinkage * mu * np.eye(r.shape[0])


def _check_shrinkage(shrinkage: float) -> float:
    shrinkage = float(shrinkage)
    if not 0.0 <= shrinkage < 1.0:
        raise ConfigError(f"shrinkage must be in [0, 1), got {shrinkage}")
    return shrinkage


class EuclideanAlignment:
    """Offline EA: ``fit`` the reference on some trials, ``transform`` any trials with it.

    Parameters
    ----------
    estimator : {"cov", "scm"}
        Trial covariance estimator (see :func:`trial_covariances`); ``"cov"`` as DBConformer.
    shrinkage : float
        Optional shrinkage of ``R`` towards ``trace(R)/C * I`` (0 = plain EA, the paper).

    Examples
    --------
    >>> ea = EuclideanAlignment().fit(x_train)      # doctest: +SKIP
    >>> x_train_a, x_test_a = ea.transform(x_train), ea.transform(x_test)  # doctest: +SKIP
    """

    def __init__(self, estimator: CovEstimator = "cov", shrinkage: float = 0.0):
        if estimator not in ("cov", "scm"):
            raise ConfigError(f"estimator must be 'cov' or 'scm', got {estimator!r}")
        self.estimator = estimator
        self.shrinkage = _check_shrinkage(shrinkage)
        self.reference_: np.ndarray | None = None
        self.whitener_: np.ndarray | None = None
        self.n_trials_: int = 0

    def fit(self, x) -> "EuclideanAlignment":
        covs = trial_covariances(x, self.estimator)
        self.reference_ = covs.mean(axis=0)
        self.whitener_ = inv_sqrtm(_shrink(self.reference_, self.shrinkage))
        self.n_trials_ = covs.shape[0]
        return self

    def transform(self, x):
        if self.whitener_ is None:
            raise BiosigError("EuclideanAlignment.transform called before fit")
        arr, as_torch = _to_numpy(x)
        squeeze = arr.ndim == 2
        arr = _check_trials(arr)
        if arr.shape[1] != self.whitener_.shape[0]:
            raise BiosigError(
                f"trials have {arr.shape[1]} channels, the reference has {self.whitener_.shape[0]}"
            )
        out = np.einsum("cd,ndt->nct", self.whitener_, arr)
        return _back(out[0] if squeeze else out, as_torch)

    def fit_transform(self, x):
        return self.fit(x).transform(x)


class OnlineEuclideanAlignment:
    """Online EA with a running reference and no look-ahead.

    Convention: trial ``i`` (0-based, in the order given) is aligned with
    ``R_i = mean(cov(X_0), ..., cov(X_i))`` -- the reference **includes the trial itself and
    earlier trials only**, as DBConformer's ``EA_online`` (the reference is updated with the
    incoming trial, then used to align it). An optional ``prior`` reference (e.g. from
    calibration data) enters the running mean with weight ``prior_weight`` trials.

    Use :meth:`update` in a real-time loop (one trial at a time) or :meth:`transform_sequence`
    for a whole chronologically ordered block; both give identical results.
    """

    def __init__(
        self,
        estimator: CovEstimator = "cov",
        shrinkage: float = 0.0,
        prior: np.ndarray | None = None,
        prior_weight: int = 0,
    ):
        if estimator not in ("cov", "scm"):
            raise ConfigError(f"estimator must be 'cov' or 'scm', got {estimator!r}")
        self.estimator = estimator
        self.shrinkage = _check_shrinkage(shrinkage)
        if (prior is None) != (prior_weight == 0):
            raise ConfigError("give both prior and prior_weight > 0, or neither")
        self.prior = None if prior is None else np.asarray(prior, dtype=np.float64)
        self.prior_weight = int(prior_weight)
        self.reset()

    def reset(self) -> "OnlineEuclideanAlignment":
        """Forget every trial seen (start a new subject/session)."""
        self._sum = None if self.prior is None else self.prior * self.prior_weight
        self._count = self.prior_weight
        self.whitener_: np.ndarray | None = None
        return self

    @property
    def n_seen(self) -> int:
        return self._count - self.prior_weight

    @property
    def reference_(self) -> np.ndarray | None:
        return None if self._sum is None else self._sum / self._count

    def update(self, trial):
        """Add one trial ``(C, T)`` to the reference and return it aligned (float32)."""
        arr, as_torch = _to_numpy(trial)
        if arr.ndim != 2:
            raise BiosigError(f"update takes one trial (n_chans, n_times), got shape {arr.shape}")
        cov = trial_covariances(arr[None], self.estimator)[0]
        if self._sum is not None and self._sum.shape != cov.shape:
            raise BiosigError(
                f"trial has {cov.shape[0]} channels, the running reference has {self._sum.shape[0]}"
            )
        self._sum = cov if self._sum is None else self._sum + cov
        self._count += 1
        self.whitener_ = inv_sqrtm(_shrink(self._sum / self._count, self.shrinkage))
        return _back(self.whitener_ @ arr, as_torch)

    def transform_sequence(self, x):
        """Align trials ``(N, C, T)`` one after the other (order = chronological order)."""
        arr, as_torch = _to_numpy(x)
        arr = _check_trials(arr)
        out = np.stack([np.asarray(self.update(t), dtype=np.float32) for t in arr])
        return _back(out, as_torch)


def online_whiteners(x, estimator: CovEstimator = "cov", shrinkage: float = 0.0) -> np.ndarray:
    """The matrices ``R_i^{-1/2}`` (N, C, C) that :class:`OnlineEuclideanAlignment` applies to
    trials ``x`` (N, C, T) taken in order (trial ``i`` uses trials ``0..i``), float32."""
    arr, _ = _to_numpy(x)
    arr = _check_trials(arr)
    covs = trial_covariances(arr, estimator)
    running = np.cumsum(covs, axis=0) / np.arange(1, len(covs) + 1)[:, None, None]
    shrinkage = _check_shrinkage(shrinkage)
    out = np.empty(running.shape, dtype=np.float32)
    for i, r in enumerate(running):
        with _naming(f"the online reference of trials 0..{i} (trial {i} in order)"):
            out[i] = inv_sqrtm(_shrink(r, shrinkage))
    return out


@contextlib.contextmanager
def _naming(what: str):
    """A BiosigError raised inside, prefixed with ``what`` (which windows' reference failed);
    a singular reference stays a SingularReferenceError."""
    try:
        yield
    except BiosigError as err:
        cls = SingularReferenceError if isinstance(err, SingularReferenceError) else BiosigError
        raise cls(f"{what}: {err}") from None


TEST_ALIGNMENTS = ("online", "offline", "official", "none")


def _heldout_whiteners(X, subjects: np.ndarray, rows: np.ndarray, mode: str, estimator: str,
                       shrinkage: float, order: np.ndarray) -> np.ndarray:
    """Whitening matrices for rows of held-out (test) subjects, in the order of ``rows``.

    Within each subject the windows are taken in chronological order, ``order[row]`` ascending
    (the online reference of a window uses that window and the subject's earlier ones only).
    """
    c = X.shape[1]
    out = np.empty((len(rows), c, c), dtype=np.float32)
    for s in np.unique(subjects[rows]):
        pos = np.flatnonzero(subjects[rows] == s)
        pos = pos[np.argsort(order[rows[pos]], kind="stable")]  # chronological
        x = np.asarray(X[rows[pos]], dtype=np.float64)
        with _naming(f"subject {s}'s {len(pos)} held-out windows in chronological order "
                     f"(test_alignment {mode!r})"):
            out[pos] = _heldout_subject(x, mode, estimator, shrinkage)
    return out


def _heldout_subject(x: np.ndarray, mode: str, estimator: str, shrinkage: float) -> np.ndarray:
    """One held-out subject's whiteners (n, C, C) for its windows ``x`` in chronological order."""
    n, c = x.shape[:2]
    if mode == "none":
        return np.broadcast_to(np.eye(c, dtype=np.float32), (n, c, c))
    if mode == "online":
        return online_whiteners(x, estimator, shrinkage)
    w0 = EuclideanAlignment(estimator, shrinkage).fit(x).whitener_
    if mode == "offline":
        return np.broadcast_to(w0, (n, c, c))
    # official: offline, then online on the already aligned trials
    return online_whiteners(np.einsum("cd,ndt->nct", w0, x), estimator, shrinkage) @ w0


def split_whiteners(X, subjects, splits: dict, test_alignment: str = "online",
                    estimator: str = "cov", shrinkage: float = 0.0,
                    order=None) -> dict[str, np.ndarray]:
    """One whitening matrix per window of each part of a split: the one Euclidean alignment of
    biosig (the DataModule applies the matrices on the fly).

    ``X``: all windows (N, C, T) (a memmap is fine); ``subjects``: (N,) subject of each window;
    ``splits``: ``{"train", "val", "test"}`` row indices; ``order``: (N,) chronological index of
    each window within its subject (e.g. ``with_trial_index(meta)["trial"]``; None: row order).
    Returns float32 ``(n_part, C, C)`` arrays in the order of each part's indices.

    Training windows use their subject's offline reference fitted on that subject's training
    windows only (per source subject in LOSO). Validation windows of a training subject use its
    training reference; of an unseen subject, an online reference. Test windows, per subject:
    ``"online"`` (default) a running reference over that subject's test windows up to and
    including this one in ``order`` (no look-ahead); ``"offline"`` one reference from all of the
    subject's test windows (transductive); ``"official"`` offline then online (the official
    DBConformer CO/CV double alignment, kept only to reproduce it); ``"none"`` identity.
    Nothing outside ``train`` shapes the training references.
    """
    if test_alignment not in TEST_ALIGNMENTS:
        raise ConfigError(f"test_alignment must be one of {TEST_ALIGNMENTS}, "
                          f"got {test_alignment!r}")
    subjects = np.asarray(subjects).astype(str)
    n = X.shape[0]
    if subjects.shape != (n,):
        raise ConfigError(f"subjects must have one entry per window ({n}), got {subjects.shape}")
    order = np.arange(n) if order is None else np.asarray(order)
    if order.shape != (n,):
        raise ConfigError(f"order must have one entry per window ({n}), got {order.shape}")
    c = X.shape[1]
    train = np.asarray(splits["train"], dtype=np.int64)
    per_subject = {}
    for s in np.unique(subjects[train]):
        rows = np.sort(train[subjects[train] == s])
        with _naming(f"subject {s}'s {len(rows)} training windows"):
            ea = EuclideanAlignment(estimator, shrinkage).fit(np.asarray(X[rows]))
        per_subject[s] = ea.whitener_.astype(np.float32)
    out = {"train": np.stack([per_subject[s] for s in subjects[train]]) if len(train)
           else np.zeros((0, c, c), np.float32)}
    val = np.asarray(splits.get("val", []), dtype=np.int64)
    w_val = np.empty((len(val), c, c), dtype=np.float32)
    known = np.isin(subjects[val], list(per_subject))
    for i in np.flatnonzero(known):
        w_val[i] = per_subject[subjects[val][i]]
    if (~known).any():
        w_val[~known] = _heldout_whiteners(X, subjects, val[~known], "online", estimator,
                                           shrinkage, order)
    out["val"] = w_val
    test = np.asarray(splits["test"], dtype=np.int64)
    out["test"] = _heldout_whiteners(X, subjects, test, test_alignment, estimator, shrinkage,
                                     order)
    return out
