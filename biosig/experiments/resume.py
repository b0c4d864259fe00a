"""Resuming training runs: ``--ckpt_path last`` and exact resume in deterministic mode.

- :func:`find_last_checkpoint` finds the newest ``last*.ckpt`` under a run folder (every
  ``lightning_logs/version_*/checkpoints`` and ``checkpoints`` of it), so ``biosig fit ...
  --ckpt_path last`` resumes the latest run (or a newer ``hpc_ckpt_N.ckpt`` that Lightning
  saved in the root folder at a SLURM signal) although the resumed run gets a new log version
  (Lightning itself looks only in the new, empty version folder and silently starts afresh).
  No last checkpoint is a :class:`~biosig.errors.ConfigError` naming the folder searched.
- :func:`prepare_fit` (called by ``biosig fit``) makes every ``ModelCheckpoint`` whose
  ``save_last`` is unset save a last checkpoint, adds :class:`ExactResume` and
  :class:`LastEveryEpoch`, resolves ``ckpt_path="last"``, and has the checkpoint callbacks of a
  resumed run save in the folder of the checkpoint it resumes (so ``best`` and the top-k
  compare the epochs before the resume too).
- :class:`LastEveryEpoch`: the last checkpoint of every epoch. Lightning 2.6's
  ``ModelCheckpoint(save_last=True)`` writes ``last.ckpt`` at an epoch end only when it saves a
  top-k checkpoint there: with a monitored value that did not improve (``save_top_k=1``) the
  "last" checkpoint is the best epoch's, and with ``save_top_k=0`` it is written only when
  training ends, so a killed run had nothing to resume from.
- :class:`ExactResume` stores the random states (Python, NumPy, torch, CUDA) of every rank in
  the checkpoint and sets them again before the first training batch after a restore. Together
  with the DataModule's resumable training loader (:mod:`biosig.data.sampler`: the position in
  the epoch's shuffle is in the checkpoint too), the optimiser and scheduler states Lightning
  saves, and ``Trainer(deterministic=True)``, a run killed mid-epoch and resumed from its last
  checkpoint ends with the same weights as an uninterrupted run (tested on the built-in data;
  same world size and batch size; a checkpoint saved at a batch end, as
  ``ModelCheckpoint(every_n_train_steps=...)`` or an epoch end).
"""

from __future__ import annotations

import random
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, Checkpoint, ModelCheckpoint

from biosig.errors import ConfigError

__all__ = ["ExactResume", "LastEveryEpoch", "find_last_checkpoint", "prepare_fit"]


class ExactResume(Callback):
    """Random states of every rank in the checkpoint, set again when training resumes."""

    def __init__(self):
        self._pending: list | None = None

    @property
    def state_key(self) -> str:
        return "ExactResume"

    def state_dict(self) -> dict:
        states = _collect_rng_states()
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            gathered = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(gathered, states)  # every rank saves together
            return {"rng": gathered}
        return {"rng": [states]}

    def load_state_dict(self, state_dict: dict) -> None:
        self._pending = list(state_dict.get("rng") or [])

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if not self._pending:
            return
        states, self._pending = self._pending, None
        if len(states) != trainer.world_size:
            from lightning.pytorch.utilities import rank_zero_warn

            rank_zero_warn(f"ExactResume: the checkpoint holds the random states of "
                           f"{len(states)} processes, this run has {trainer.world_size}: they "
                           "are not restored (the resumed run is not bit-identical)")
            return
        _set_rng_states(states[trainer.global_rank])


def _collect_rng_states() -> dict:
    """Python, NumPy, torch (and CUDA) random states as tensors, ints and tuples only, so that
    checkpoints stay readable with ``torch.load(..., weights_only=True)``."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    states = {"python": random.getstate(), "torch": torch.get_rng_state(),
              "numpy": (name, torch.from_numpy(keys.astype(np.int64)), int(pos),
                        int(has_gauss), float(gauss))}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_rng_states(states: dict) -> None:
    version, internal, gauss_next = states["python"]
    random.setstate((version, tuple(internal), gauss_next))
    torch.set_rng_state(states["torch"])
    name, keys, pos, has_gauss, gauss = states["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


class LastEveryEpoch(Checkpoint):
    """At every training epoch end, each ``ModelCheckpoint(save_last=True)`` that saved nothing
    at this step saves its last checkpoint (as Lightning did before 2.6).

    A :class:`~lightning.pytorch.callbacks.Checkpoint`, so Lightning runs it after the
    checkpoint callbacks listed before it (validation has run and they have saved what they
    save); a checkpoint callback that already saved at this step is left alone.
    """

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        for cb in trainer.checkpoint_callbacks:
            # Lightning 2.6.6's own steps (biosig pins it): skipped during sanity checks,
            # outside fit, and where this step was saved already
            if (isinstance(cb, ModelCheckpoint) and cb.save_last is True
                    and not cb._should_skip_saving_checkpoint(trainer)):
                cb._save_last_checkpoint(trainer, cb._monitor_candidates(trainer))


def find_last_checkpoint(root) -> Path | None:
    """The newest ``last*.ckpt`` below ``root`` (None when there is none)."""
    root = Path(root)
    if not root.is_dir():
        return None
    found = [p for p in root.rglob("last*.ckpt") if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def prepare_fit(trainer: pl.Trainer, ckpt_path):
    """Last checkpoints on (every epoch: :class:`LastEveryEpoch`), :class:`ExactResume` added,
    ``"last"`` resolved to a file.

    Returns the checkpoint path to give ``Trainer.fit`` (unchanged unless ``"last"``). A
    resumed run's checkpoint callbacks go on saving in the checkpoint's folder (their best and
    top-k records continue; the logs go to the new run's folder).
    """
    for cb in trainer.checkpoint_callbacks:
        if isinstance(cb, ModelCheckpoint) and cb.save_last is None:
            cb.save_last = True
    if not any(isinstance(cb, ExactResume) for cb in trainer.callbacks):
        trainer.callbacks.append(ExactResume())
    saves_last = any(isinstance(cb, ModelCheckpoint) and cb.save_last is True
                     for cb in trainer.checkpoint_callbacks)
    if saves_last and not any(isinstance(cb, LastEveryEpoch) for cb in trainer.callbacks):
        trainer.callbacks.append(LastEveryEpoch())  # after them (trainer.checkpoint_callback
        # stays the first ModelCheckpoint)
    if ckpt_path == "last":
        roots = dict.fromkeys([Path(trainer.default_root_dir)]
                              + [Path(lg.save_dir) for lg in trainer.loggers
                                 if getattr(lg, "save_dir", None)])
        found = [p for p in map(find_last_checkpoint, roots) if p is not None]
        # Lightning's checkpoint at a SLURM signal (SIGUSR1 before the time limit; then the job
        # is requeued): Lightning itself resumes from it only without a ckpt_path
        found += [p for p in Path(trainer.default_root_dir).glob("hpc_ckpt_*.ckpt")
                  if p.is_file()]
        if not found:
            raise ConfigError(f"ckpt_path=last: no last*.ckpt under "
                              f"{', '.join(map(str, roots))}; train without --ckpt_path first "
                              "(biosig fit saves a last checkpoint of every run) or give the "
                              "checkpoint file")
        ckpt_path = str(max(found, key=lambda p: p.stat().st_mtime))
    _continue_checkpoint_folders(trainer, ckpt_path)
    return ckpt_path


def _continue_checkpoint_folders(trainer: pl.Trainer, ckpt_path) -> None:
    """A resumed run's ``ModelCheckpoint`` without a ``dirpath`` of its own saves in the folder
    it had in the checkpoint, where Lightning restores its best and top-k records (in the new
    run's folder it keeps only ``best_model_path``: the first epoch after the resume became the
    "best" whatever the epochs before it scored)."""
    import pickle

    if ckpt_path is None or not Path(str(ckpt_path)).is_file():
        return
    try:
        states = torch.load(ckpt_path, map_location="cpu", weights_only=True,
                            mmap=True).get("callbacks") or {}
    except (pickle.UnpicklingError, RuntimeError, OSError, AttributeError):
        return  # Lightning reads (or refuses) the file itself
    for cb in trainer.checkpoint_callbacks:
        if not isinstance(cb, ModelCheckpoint) or cb.dirpath is not None:
            continue
        folder = (states.get(cb.state_key) or {}).get("dirpath")
        if isinstance(folder, str) and Path(folder).is_dir():
            cb.dirpath = folder
