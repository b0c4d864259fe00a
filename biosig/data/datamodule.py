"""``BiosigDataModule``: a window cache plus a protocol, as Lightning DataLoaders."""

from __future__ import annotations

import copy
import dataclasses
import zlib
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from biosig._checks import check_args, one_of
from biosig.data.alignment import TEST_ALIGNMENTS, SingularReferenceError, split_whiteners
from biosig.data.cache import WindowCache, get_cache
from biosig.data.cache_build import DTYPES, NAN_POLICIES
from biosig.data.quality import DEAD_CHANNEL_POLICIES
from biosig.data.protocols import Fold, SplitProtocol, with_trial_index
from biosig.signal.preprocessing import Step
from biosig.signal.windows import Windower
from biosig.datasets.base import DatasetSource
from biosig.errors import ConfigError, SamplingRateError


class WindowDataset(Dataset):
    """Windows ``indices`` of a cache as ``(x, y)``: x float32 (C, T), y int64 or float32 (K,).

    The memmap is opened lazily in each process (so workers never pickle the array), and whole
    batches are gathered in one sorted fancy-index read (``__getitems__``): a batch's windows
    come back in cache order, each with its own label. ``whiteners`` (one ``C x C`` matrix per
    index, e.g. Euclidean alignment) are applied on the fly, so the cache stays unaligned.
    """

    def __init__(self, cache_path: str | Path, indices, whiteners: np.ndarray | None = None):
        self.cache_path = Path(cache_path)
        self.indices = np.asarray(indices, dtype=np.int64)
        self.whiteners = None
        if whiteners is not None:
            if len(whiteners) != len(self.indices):
                raise ConfigError("one whitening matrix per window is needed")
            self.whiteners = torch.from_numpy(np.ascontiguousarray(whiteners, dtype=np.float32))
        self._cache: WindowCache | None = None

    @property
    def cache(self) -> WindowCache:
        if self._cache is None:
            self._cache = WindowCache(self.cache_path)
        return self._cache

    def __getstate__(self):
        return {**self.__dict__, "_cache": None}

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def shard_sizes(self) -> list[int] | None:
        """Windows of this dataset per cache shard, in order (for the training sampler's
        shard-local chunks); ``None`` for an unsharded cache or indices not in cache order."""
        shards = getattr(self.cache, "shards", None)
        if not shards or np.any(np.diff(self.indices) < 0):
            return None
        edges = np.cumsum([0] + [len(s) for s in shards])
        return np.diff(np.searchsorted(self.indices, edges)).tolist()

    def __getitem__(self, i):
        x, y = self.__getitems__([i])
        return x[0], y[0]

    def __getitems__(self, items):
        # One sorted read per batch; the batch comes back in row order (a shuffled batch is
        # the same set of windows whatever its internal order; x, y and whiteners stay paired).
        items = np.asarray(items, dtype=np.int64)
        items = items[np.argsort(self.indices[items], kind="stable")]
        rows = self.indices[items]
        x = torch.from_numpy(np.asarray(self.cache.X[rows]))
        y = torch.from_numpy(np.ascontiguousarray(self.cache.y[rows]))
        if self.whiteners is not None:
            x = torch.bmm(self.whiteners[torch.from_numpy(items)], x)
        return x, y


def _bool(key: str, value) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"{key} must be true or false, got {value!r}")


def _choice(allowed, optional: bool = False):
    return lambda key, value: one_of(key, value, allowed, optional=optional)


#: Checks of the DataModule's scalar arguments (:func:`biosig._checks.check_args`).
_ARG_RULES = {
    "batch_size": dict(ge=1, integer=True),
    "num_workers": dict(ge=0, integer=True),
    "pin_memory": _bool,
    "seed": dict(ge=0, integer=True),
    "nan_policy": _choice(NAN_POLICIES),
    "expect_sfreq": dict(gt=0, optional=True),
    "alignment": _choice(("ea",), optional=True),
    "test_alignment": _choice(TEST_ALIGNMENTS),
    "estimator": _choice(("cov", "scm")),
    "shrinkage": dict(ge=0, lt=1),
    "shuffle_chunk": dict(ge=1, integer=True, optional=True),
}


def _check_cache_options(options) -> None:
    """``data.cache_options``: only :func:`~biosig.data.cache.get_cache`'s options, with
    values it takes (checked here, before any cache is built)."""
    if options is None:
        return
    if not isinstance(options, dict):
        raise ConfigError(f"data.cache_options must be a dict, got {options!r}")
    import inspect

    own = ("source", "preprocessing", "windows", "root", "nan_policy")
    known = [k for k in inspect.signature(get_cache).parameters if k not in own]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ConfigError(f"data.cache_options: unknown option(s) {unknown}; known: {known} "
                          "(the cache folder is data.cache_dir, the NaN policy data.nan_policy)")
    check_args(options, {"dtype": _choice(tuple(DTYPES)),
                         "dead_channels": _choice(DEAD_CHANNEL_POLICIES),
                         "num_workers": dict(ge=0, integer=True, optional=True),
                         "shards": dict(ge=1, integer=True, optional=True),
                         "progress": lambda key, value: value is None or _bool(key, value)},
               prefix="data.cache_options.")


def _pass_batch(batch):
    """Collate for ``__getitems__`` datasets: the batch is already ``(x, y)`` tensors."""
    return batch


#: How a resume error names a key of :meth:`BiosigDataModule.state_dict`
_RESUME_KEYS = {"splits": "split (windows per part, CRC-32 of their cache rows)"}


def _short(value, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + " ..."


def _split_digest(splits: dict) -> dict:
    """``{part: [windows, CRC-32 of its cache rows]}``: identifies a split without storing it."""
    return {part: [len(rows), zlib.crc32(np.ascontiguousarray(rows, np.int64).tobytes())]
            for part, rows in sorted(splits.items())}


class BiosigDataModule(pl.LightningDataModule):
    """Windows of a dataset, cached once, split by a protocol.

    Parameters
    ----------
    source : a dataset object (``biosig.datasets.*``: ``records()``, ``load()``, ``identity()``).
    preprocessing : steps from :mod:`biosig.signal.preprocessing`, applied per record before
        windowing (after the dataset's own ``default_preprocessing()``).
    windows : a windower from :mod:`biosig.signal.windows`; default: the dataset's own.
    protocol : a protocol from :mod:`biosig.data.protocols` or :mod:`biosig.data.paper_splits`;
        default: 80/10/10 random by record. ``setup()`` uses its first fold; :meth:`folds` lists
        them all and :meth:`for_fold` gives a DataModule per fold (``biosig.experiments`` loops
        over them).
    subjects : restrict to these subjects before splitting (within-subject protocols).
    seed : seeds the default protocol's split and the training loader's shuffling.
    nan_policy : ``"reject"`` (drop windows with NaN/inf, counted), ``"interpolate"`` or
        ``"raise"``.
    expect_sfreq : the sampling rate a recipe was designed for; data at another rate raise
        :class:`~biosig.errors.SamplingRateError` (add a ``Resample`` step).
    cache_dir : root of window caches (default ``BIOSIG_CACHE``).
    alignment : ``"ea"`` for Euclidean alignment (He & Wu 2020) fitted after the split from what
        the protocol allows only (see :func:`biosig.data.alignment.split_whiteners`): training
        windows use their subject's training reference; ``test_alignment`` ``"online"``
        (default: running reference over the subject's test windows seen so far in chronological
        order, ``trial_meta["trial"]``; no look-ahead), ``"offline"``,
        ``"official"`` (DBConformer's double alignment) or ``"none"``; ``estimator`` and
        ``shrinkage`` as :class:`~biosig.data.alignment.EuclideanAlignment`.
    cache_options : more :func:`~biosig.data.cache.get_cache` options, e.g.
        ``{"dtype": "float16", "shards": 64, "dead_channels": "interpolate", "num_workers": 8}``.
    batch_size, num_workers, pin_memory : DataLoader settings; workers open the memmap
        themselves. Training windows come from a :class:`~biosig.data.sampler.WindowSampler`:
        a permutation per epoch fixed by ``seed`` and the epoch, of which each DDP rank reads a
        disjoint part; its position is saved in Lightning checkpoints (exact mid-epoch resume).
        Under DDP Lightning shards the val/test loaders with a ``DistributedSampler``.
    shuffle_chunk : None (uniform shuffle) or a chunk length: chunks of contiguous windows
        (within a cache shard) shuffled, then the windows inside each (I/O locality on large
        sharded caches; see :mod:`biosig.data.sampler`).

    Attributes ``n_chans``, ``n_times``, ``sfreq``, ``n_outputs`` (linked into the model by the
    CLI), ``ch_names`` and ``classes`` are available right after construction.
    """

    def __init__(
        self,
        source: DatasetSource,
        preprocessing: list[Step] | None = None,
        windows: Windower | None = None,
        protocol: SplitProtocol | None = None,
        subjects: list | None = None,
        nan_policy: str = "reject",
        cache_dir: str | None = None,
        batch_size: int = 32,
        num_workers: int = 0,
        pin_memory: bool = False,
        seed: int = 0,
        expect_sfreq: float | None = None,
        alignment: str | None = None,
        test_alignment: str = "online",
        estimator: str = "cov",
        shrinkage: float = 0.0,
        cache_options: dict | None = None,
        shuffle_chunk: int | None = None,
    ):
        super().__init__()
        check_args(locals(), _ARG_RULES, prefix="data.")
        _check_cache_options(cache_options)
        if subjects is not None and (isinstance(subjects, (str, bytes))
                                     or not isinstance(subjects, (list, tuple)) or not subjects):
            raise ConfigError(f"data.subjects must be a non-empty list of subjects or None, got "
                              f"{subjects!r}")
        self.cache_options = dict(cache_options or {})  # get_cache's dtype, shards, num_workers...
        self.source = source
        self.preprocessing = list(preprocessing or [])
        self.windows = windows
        if protocol is None:
            from biosig.data.protocols import RandomSplit

            protocol = RandomSplit(val_fraction=0.1, test_fraction=0.1, by="record", seed=seed)
        self.protocol = protocol
        self.subjects = subjects
        self.nan_policy = nan_policy
        self.expect_sfreq = expect_sfreq
        self.cache_dir = cache_dir
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.seed = seed
        self.shuffle_chunk = shuffle_chunk
        self.alignment, self.test_alignment = alignment, test_alignment
        self.estimator, self.shrinkage = estimator, shrinkage
        self.whiteners: dict[str, np.ndarray] | None = None
        self._cache: WindowCache | None = None
        self._trial_meta = None
        self.splits: dict[str, np.ndarray] | None = None
        self.fold: Fold | None = None

    def data_card(self) -> dict:
        """What a weights card records of this data (``save_pretrained``'s ``data``): rate,
        window, the seconds between window starts (``window_stride_s``: the windower's
        ``stride_s``, None for windows on events), channel names, class names, whether the
        labels are multi-label (the source's ``multilabel``: a sigmoid per class, else one
        softmax) and the preprocessing the cache applied (its steps, and the Euclidean
        alignment the loaders apply)."""
        windows = self.windows if self.windows is not None else self.source.default_windows()
        return {"sfreq": self.sfreq, "n_times": self.n_times,
                "window_stride_s": getattr(windows, "stride_s", None), "n_chans": self.n_chans,
                "ch_names": self.ch_names, "classes": list(self.classes),
                "multilabel": self.cache.multilabel,
                "preprocessing": {"steps": self.cache.params["preprocessing"],
                                  "alignment": self.alignment}}

    # -- the cache ---------------------------------------------------------------------------
    @property
    def cache(self) -> WindowCache:
        if self._cache is None:
            cache = get_cache(
                self.source,
                self.preprocessing,
                self.windows,
                root=self.cache_dir,
                nan_policy=self.nan_policy,
                **self.cache_options,
            )
            if self.expect_sfreq is not None and abs(cache.sfreq - self.expect_sfreq) > 1e-6:
                raise SamplingRateError(
                    f"dataset {self.source.name!r} gives {cache.sfreq:g} Hz after preprocessing "
                    f"but data.expect_sfreq is {self.expect_sfreq:g} Hz; add "
                    f"biosig.data.Resample(sfreq={self.expect_sfreq:g}) to data.preprocessing"
                )
            self._cache = cache
        return self._cache

    def prepare_data(self) -> None:
        _ = self.cache  # builds once (rank 0 under DDP; other ranks wait on the cache lock)

    @property
    def n_chans(self) -> int:
        return int(self.cache.X.shape[1])

    @property
    def n_times(self) -> int:
        return int(self.cache.X.shape[2])

    @property
    def sfreq(self) -> float:
        return self.cache.sfreq

    @property
    def classes(self) -> list[str]:
        return self.cache.classes

    @property
    def n_outputs(self) -> int:
        return len(self.classes)

    @property
    def ch_names(self) -> list[str]:
        return self.cache.ch_names

    @property
    def meta(self):
        return self.cache.meta

    # -- splits ------------------------------------------------------------------------------
    @property
    def trial_meta(self):
        """The window table with ``trial``, the chronological index of each window within its
        subject (cache order = records in the dataset's order, windows by onset); it orders the
        within-subject protocols and the online alignment of test windows."""
        if self._trial_meta is None:
            self._trial_meta = with_trial_index(self.cache.meta)
        return self._trial_meta

    def _rows(self) -> np.ndarray:
        """Rows the protocol sees (all, or those of ``subjects``)."""
        meta = self.cache.meta
        if self.subjects is None:
            return np.arange(len(meta))
        keep = meta["subject"].astype(str).isin([str(s) for s in self.subjects]).to_numpy()
        if not keep.any():
            raise ConfigError(
                f"subjects={self.subjects} select no windows "
                f"(dataset has {sorted(meta['subject'].unique().tolist())})"
            )
        return np.flatnonzero(keep)

    def folds(self) -> list[Fold]:
        """Every fold the protocol lists, as cache rows (see :mod:`biosig.data.protocols`)."""
        rows = self._rows()
        try:
            folds = self.protocol.folds(self.trial_meta.iloc[rows].reset_index(drop=True))
        except ConfigError as err:  # where the source's options made the column: say which
            column = getattr(self.protocol, "group", None)
            origin = self.source.column_origin(column) if isinstance(column, str) else ""
            if not origin:
                raise
            raise ConfigError(f"{err}; {origin}") from None
        if not folds:
            raise ConfigError(f"protocol {self.protocol} lists no fold for this data")
        return [dataclasses.replace(f, **{k: rows[v] for k, v in f.parts().items()}) for f in folds]

    def for_fold(self, fold: Fold, seed: int | None = None) -> "BiosigDataModule":
        """A copy of this DataModule on ``fold`` (sharing the cache), shuffling with ``seed``."""
        dm = copy.copy(self)
        dm.seed = self.seed if seed is None else seed
        dm.splits, dm.whiteners, dm.fold = None, None, fold
        dm._set_splits(fold.parts())
        return dm

    def setup(self, stage: str | None = None) -> None:
        if self.splits is not None:
            return
        self.fold = self.folds()[0]
        self._set_splits(self.fold.parts())

    def _set_splits(self, parts: dict) -> None:
        self.splits = {k: np.asarray(v, dtype=np.int64) for k, v in parts.items()}
        if len(self.splits["train"]) == 0:
            raise ConfigError(f"protocol {self.protocol} leaves no training windows")
        self._warn_single_class_parts()
        if self.alignment == "ea":
            meta = self.trial_meta
            try:
                self.whiteners = split_whiteners(
                    self.cache.X,
                    meta["subject"].to_numpy(),
                    self.splits,
                    self.test_alignment,
                    self.estimator,
                    self.shrinkage,
                    order=meta["trial"].to_numpy(),
                )
            except SingularReferenceError as err:  # its remedy, said where this takes it
                raise SingularReferenceError(
                    f"{err}: BiosigDataModule(shrinkage=...), data.shrinkage in a config (now "
                    f"{self.shrinkage:g}; e.g. 0.01)") from None

    def _warn_single_class_parts(self) -> None:
        """Warn where a validation or test part holds one class only: its accuracy, AUROC and
        kappa say nothing (e.g. the default split by record, on data with one class per record
        such as EEGMAT)."""
        if self.cache.multilabel or self.n_outputs < 2:
            return
        from lightning.pytorch.utilities import rank_zero_warn

        y = np.asarray(self.cache.y)
        for part in ("val", "test"):
            rows = self.splits.get(part)
            if rows is None or not len(rows):
                continue
            present = np.unique(y[rows])
            if len(present) == 1:
                rank_zero_warn(
                    f"the {part} part ({len(rows)} windows) holds only class "
                    f"{self.classes[int(present[0])]!r} of {self.classes}: its scores say "
                    f"nothing. Protocol {self.protocol}: {self._single_class_remedy(y)}")

    def _single_class_remedy(self, y: np.ndarray) -> str:
        """What to change: a split by subject where each record holds one class (EEGMAT), else
        a larger part (the hint about one class per record misled on eegmmidb's runs, which
        hold both)."""
        if "record" in self.meta and (
                pd.Series(y).groupby(self.meta["record"].to_numpy()).nunique() == 1).all():
            return ("each record holds one class: split by subject (RandomSplit(by='subject'), "
                    "GroupKFold(group='subject'))")
        return "its records hold several classes: give that part more windows (or records)"

    def dataset(self, part: str) -> WindowDataset:
        self.setup()
        w = None if self.whiteners is None else self.whiteners[part]
        return WindowDataset(self.cache.path, self.splits[part], whiteners=w)

    def _loader(self, part: str, shuffle: bool) -> DataLoader:
        ds = self.dataset(part)
        # A last training batch of one window is dropped: BatchNorm cannot train on it (as the
        # DBConformer scripts skip it).
        drop_last = shuffle and len(ds) % self.batch_size == 1
        if drop_last and len(ds) == 1:  # no training batch: Lightning would fit nothing, quietly
            raise ConfigError(f"protocol {self.protocol} leaves one training window, too few to "
                              "train on (a batch of one is dropped); give more subjects, trials "
                              "or records")
        kwargs = dict(batch_size=self.batch_size, drop_last=drop_last,
                      num_workers=self.num_workers, pin_memory=self.pin_memory,
                      collate_fn=_pass_batch, persistent_workers=self.num_workers > 0)
        if shuffle:
            return self._train_loader(ds, kwargs)
        return DataLoader(ds, shuffle=False, **kwargs)

    def _train_loader(self, ds, kwargs: dict) -> DataLoader:
        """The training loader: a :class:`~biosig.data.sampler.WindowSampler` (this rank's
        disjoint part of each epoch's shuffle) whose position goes into Lightning checkpoints,
        so a run resumed mid-epoch continues with the windows it had not trained on."""
        from biosig.data.sampler import ResumableLoader, WindowSampler, generator

        trainer = self._trainer_or_none()
        world, rank = ((trainer.world_size, trainer.global_rank) if trainer is not None
                       else (1, 0))
        sampler = WindowSampler(len(ds), num_replicas=world, rank=rank, seed=self.seed,
                                shard_sizes=getattr(ds, "shard_sizes", None),
                                chunk=self.shuffle_chunk)
        # this rank's share decides whether a last batch of one window is left over
        kwargs["drop_last"] = len(sampler) % self.batch_size == 1
        return ResumableLoader(ds, sampler=sampler, progress=self._batches_done,
                               epoch=self._epoch, generator=generator(self.seed), **kwargs)

    def _trainer_or_none(self):
        return getattr(self, "trainer", None)

    def _epoch(self) -> int | None:
        trainer = self._trainer_or_none()
        return None if trainer is None else int(trainer.fit_loop.epoch_progress.current.processed)

    def _batches_done(self) -> int:
        trainer = self._trainer_or_none()
        if trainer is None:
            return 0
        return int(trainer.fit_loop.epoch_loop.batch_progress.current.processed)

    # -- resuming ----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """What a Lightning checkpoint records of this data: the seed, per part the number of
        windows and a CRC-32 of their cache rows, the channel names and the processing
        (preprocessing steps, window parameters, Euclidean alignment); no window contents, no
        identifiers."""
        if self.splits is None:
            return {}
        return {"seed": int(self.seed), "splits": _split_digest(self.splits),
                **self._processing()}

    def _processing(self) -> dict:
        import json

        params = self.cache.params
        return json.loads(json.dumps({
            "channels": list(self.ch_names),  # a channel-independent model (EEGFormer) would
            # resume on another channel set without a shape error
            "preprocessing": params["preprocessing"], "windows": params["windows"],
            "alignment": [self.alignment, self.test_alignment, self.estimator, self.shrinkage],
        }, default=str))

    def load_state_dict(self, state: dict) -> None:
        """Refuse to resume training (``fit(ckpt_path=...)``) on other data (see
        :meth:`refuse_other_data`). Testing, validating or predicting from a checkpoint may use
        any data."""
        trainer = self._trainer_or_none()
        if trainer is not None and trainer.state.fn == "fit":
            self.refuse_other_data(state)

    def refuse_other_data(self, state: dict, source: str = "the checkpoint", *,
                          doing: str = "resuming", advice: str | None = None,
                          ignore: tuple[str, ...] = ()) -> None:
        """ConfigError when ``state`` (this class's entry of a checkpoint) was saved with another
        seed, other training, validation or test windows, other channels, or other
        preprocessing, windows or alignment: resumed epochs would shuffle differently, train on
        windows the checkpoint's run validated on, or see other or differently processed
        signals. ``biosig fit --ckpt_path``
        checks this before the run folder is made; a checkpoint from before the processing was
        recorded is checked for its seed and split only. ``doing``, ``advice``: the message's
        start and end (default: resuming); ``ignore``: keys not compared."""
        if not state:
            return
        self.setup()
        for key, here in self.state_dict().items():
            was = state.get(key, here)  # a key the checkpoint lacks: saved before it was recorded
            if was == here or key in ignore:
                continue
            what = _RESUME_KEYS.get(key, key)
            raise ConfigError(
                f"{doing}: {source}'s run had data {what} {_short(was)} but this run has "
                f"{_short(here)}; " + (advice or (
                    "resume with the same data, subjects, protocol, preprocessing and "
                    "data.seed, or start a new run from the checkpoint's weights "
                    "(--model.pretrained <checkpoint>) instead of --ckpt_path")))

    def train_dataloader(self):
        return self._loader("train", shuffle=True)

    def val_dataloader(self):
        self.setup()
        if len(self.splits["val"]):
            return self._loader("val", shuffle=False)
        from lightning.pytorch.utilities import rank_zero_warn

        self.refuse_selection_on_test()
        rank_zero_warn(
            "the protocol has no validation part: validating on the test part (as the "
            "DBConformer paper logs test accuracy per epoch). Do not select checkpoints "
            "or stop early on these val_* metrics; set a val_fraction to hold one out."
        )
        return self._loader("test", shuffle=False)

    def refuse_selection_on_test(self, trainer=None) -> None:
        """ConfigError when, in a fit validated on the test part (no validation part), a
        checkpoint or early-stopping callback monitors a ``val_*`` value: it would pick the
        epoch by its test score. ``trainer``: the one about to fit (``biosig fit`` asks before
        the run folder is written); default the attached one, while it fits."""
        from lightning.pytorch.callbacks import Checkpoint, EarlyStopping
        from lightning.pytorch.trainer.states import TrainerFn

        if trainer is None:
            trainer = self._trainer_or_none()
            if trainer is None or trainer.state.fn != TrainerFn.FITTING:
                return
        self.setup()
        if len(self.splits["val"]):
            return
        for cb in trainer.callbacks:
            monitor = getattr(cb, "monitor", None)
            if (isinstance(cb, (Checkpoint, EarlyStopping)) and isinstance(monitor, str)
                    and monitor.startswith("val_")):
                raise ConfigError(
                    f"{type(cb).__name__}(monitor={monitor!r}): protocol {self.protocol} has no "
                    "validation part, so val_* values are scores on the test part and selecting "
                    "an epoch by them reports a test score chosen on the test data; give the "
                    "protocol a val_fraction (or a val part), or remove the monitor")

    def test_dataloader(self):
        return self._loader("test", shuffle=False)

    def predict_dataloader(self):
        return self._loader("test", shuffle=False)
