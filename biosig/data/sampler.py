"""A shuffling sampler for training under DDP that resumes mid-epoch, and its DataLoader.

:class:`WindowSampler` draws one permutation of the ``N`` windows per epoch (the same on every
rank: ``seed`` and the epoch fix it) and gives rank ``r`` of ``W`` the positions ``r, r + W,
r + 2W, ...`` of it: each rank reads a disjoint part of every epoch, and together the ranks read
every window once (with ``drop_last=False`` the permutation is padded by its own head to a
multiple of ``W``, as torch's ``DistributedSampler``: at most ``W - 1`` windows twice).

A sharded cache (several cache folders read as one dataset of length ``N``) passes its shard
sizes: with ``chunk`` the permutation is a shuffle of contiguous chunks of at most ``chunk``
windows (chunks never cross a shard boundary) with the windows shuffled inside each chunk, so a
batch reads from few places of few memmaps; without ``chunk`` it is a uniform permutation of all
windows. Either way windows of every shard are mixed across the epoch.

**Resuming.** :class:`ResumableLoader` is a ``DataLoader`` with ``state_dict`` /
``load_state_dict``, which Lightning stores in the checkpoint (``loops.fit_loop.state_dict.
combined_loader``) and loads before it iterates again. The state is the epoch, the seed and the
number of windows of the epoch the training loop has *finished* (batches processed, read from
the trainer, times the batch size; prefetched batches do not count). What is guaranteed: a run
resumed from a checkpoint saved mid-epoch reads exactly the windows of that epoch not yet
trained on (none repeated, none skipped) when the world size is the same; with another world
size the windows read before are those at the first ``consumed`` positions of the epoch's
permutation (``consumed`` = per-rank windows x old world size), and the rest of the epoch is
split over the new ranks, again with nothing repeated or skipped (up to the padding). Workers
open their memmaps themselves (the dataset is pickled without them).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from biosig.errors import ConfigError

__all__ = ["WindowSampler", "ResumableLoader"]


class WindowSampler(DistributedSampler):
    """Per-epoch shuffle of ``n`` windows, split over ranks, resumable mid-epoch.

    A subclass of torch's ``DistributedSampler`` so that Lightning keeps it instead of inserting
    its own.

    Parameters
    ----------
    n : number of windows (``len(dataset)``).
    num_replicas, rank : world size and this process's rank (``1``, ``0`` outside DDP).
    shuffle : permute per epoch (else cache order).
    seed : the permutation of epoch ``e`` is fixed by ``(seed, e)``.
    drop_last : drop the tail that does not split evenly over ranks instead of padding it.
    shard_sizes : windows per shard of a sharded cache, in dataset order (sum ``n``).
    chunk : with ``shuffle``, permute chunks of at most this many contiguous windows (within a
        shard) and the windows inside each chunk, instead of one uniform permutation.
    """

    def __init__(self, n: int, num_replicas: int = 1, rank: int = 0, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False,
                 shard_sizes: Sequence[int] | None = None, chunk: int | None = None):
        if int(n) < 0 or num_replicas < 1 or not 0 <= rank < num_replicas:
            raise ConfigError(f"WindowSampler: need n >= 0 and 0 <= rank < num_replicas, got "
                              f"n={n}, rank={rank}, num_replicas={num_replicas}")
        if chunk is not None and int(chunk) < 1:
            raise ConfigError(f"WindowSampler: chunk must be >= 1 or None, got {chunk!r}")
        self.n = int(n)
        self.bounds = _bounds(self.n, shard_sizes)
        self.chunk = None if chunk is None else int(chunk)
        # DistributedSampler's attributes, set without its constructor (which wants a dataset)
        self.num_replicas, self.rank, self.epoch = int(num_replicas), int(rank), 0
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        per_rank = (self.n // self.num_replicas if self.drop_last
                    else math.ceil(self.n / self.num_replicas))
        self.num_samples, self.total_size = per_rank, per_rank * self.num_replicas
        self._skip_epoch: int | None = None
        self._skip = 0  # windows of the whole epoch (all ranks) already consumed

    # -- order ---------------------------------------------------------------------------------
    def permutation(self, epoch: int) -> np.ndarray:
        """Every window index once, in the order of ``epoch`` (identical on all ranks)."""
        if not self.shuffle:
            return np.arange(self.n)
        rng = np.random.default_rng([self.seed, int(epoch)])
        if self.chunk is None:
            return rng.permutation(self.n)
        chunks = [np.arange(s, min(s + self.chunk, e))
                  for s0, e in zip(self.bounds[:-1], self.bounds[1:])
                  for s in range(s0, e, self.chunk)]
        order = rng.permutation(len(chunks))
        return np.concatenate([rng.permutation(chunks[i]) for i in order] or [np.arange(0)])

    def epoch_order(self, epoch: int) -> np.ndarray:
        """The epoch's permutation padded (or cut) to ``total_size``."""
        perm = self.permutation(epoch)
        if self.drop_last or len(perm) == self.total_size:
            return perm[: self.total_size]
        reps = math.ceil(self.total_size / max(1, len(perm)))
        return np.tile(perm, reps)[: self.total_size]

    def __iter__(self):
        order = self.epoch_order(self.epoch)
        start = self._skip if self._skip_epoch == self.epoch else 0
        self._skip_epoch, self._skip = None, 0  # a resume applies to one pass only
        return iter(order[start + self.rank :: self.num_replicas].tolist())

    def __len__(self) -> int:
        # the full epoch's length, also when resuming (Lightning counts the finished batches)
        return self.num_samples

    # -- resuming ------------------------------------------------------------------------------
    def state_dict(self, consumed_per_rank: int = 0) -> dict:
        return {"epoch": self.epoch, "seed": self.seed, "n": self.n,
                "num_replicas": self.num_replicas, "consumed": int(consumed_per_rank),
                "shuffle": self.shuffle, "chunk": self.chunk}

    def load_state_dict(self, state: dict) -> None:
        """Continue the epoch of ``state`` after the windows it had consumed."""
        for key in ("n", "seed", "shuffle", "chunk"):
            if state.get(key) != getattr(self, key):
                raise ConfigError(f"resuming: the checkpoint's sampler has {key}="
                                  f"{state.get(key)!r} but this run's has {getattr(self, key)!r}; "
                                  "resume with the same data, seed and sampler settings")
        self.epoch = int(state["epoch"])
        self._skip_epoch = self.epoch
        self._skip = int(state["consumed"]) * int(state["num_replicas"])


class ResumableLoader(DataLoader):
    """A DataLoader over a :class:`WindowSampler` whose position Lightning checkpoints.

    ``progress`` returns the number of batches of the current epoch the training loop has
    finished and ``epoch`` the trainer's epoch (None: unknown; the DataModule passes the
    trainer's counters); the state holds ``progress() x batch_size`` windows per rank. A
    ``generator`` (worker seeds) is reseeded from ``(seed, epoch)`` at each epoch, so a resumed
    epoch's workers get the same seeds.
    """

    def __init__(self, dataset, *, sampler: WindowSampler,
                 progress: Callable[[], int] | None = None,
                 epoch: Callable[[], int | None] | None = None, **kwargs):
        super().__init__(dataset, sampler=sampler, **kwargs)
        self._progress, self._epoch = progress, epoch

    def __iter__(self):
        # Lightning creates (and prefetches from) the iterator before it sets the sampler's
        # epoch on the first epoch of a fit, also one resumed at an epoch boundary: take the
        # epoch from the trainer here
        epoch = self._epoch() if self._epoch is not None else None
        if epoch is not None:
            self.sampler.set_epoch(int(epoch))
        # the worker seeds of an epoch follow (seed, epoch), also for an epoch resumed midway
        if self.generator is not None:
            self.generator.manual_seed(self.sampler.seed * 1_000_003 + self.sampler.epoch)
        return super().__iter__()

    def state_dict(self) -> dict:
        done = int(self._progress()) if self._progress is not None else 0
        return {"sampler": self.sampler.state_dict(done * int(self.batch_size or 1))}

    def load_state_dict(self, state: dict) -> None:
        self.sampler.load_state_dict(state["sampler"])


def _bounds(n: int, shard_sizes) -> np.ndarray:
    if shard_sizes is None:
        return np.array([0, n], dtype=np.int64)
    sizes = np.asarray(list(shard_sizes), dtype=np.int64)
    if (sizes < 0).any() or int(sizes.sum()) != n:
        raise ConfigError(f"WindowSampler: shard_sizes must be >= 0 and sum to n={n}, got "
                          f"{sizes.tolist()[:8]} (sum {int(sizes.sum())})")
    return np.concatenate([[0], np.cumsum(sizes)])


def generator(seed: int) -> torch.Generator:
    """A torch generator for a loader's worker seeds (keeps the global RNG untouched)."""
    return torch.Generator().manual_seed(int(seed))
