"""The experiment engine: every fold of a protocol x every seed x every model, one results table.

:func:`run_experiment` takes a :class:`~biosig.data.datamodule.BiosigDataModule` (its protocol
lists the folds: :mod:`biosig.data.protocols`, :mod:`biosig.data.paper_splits`), a list of
:class:`ModelSpec` (a task class and its arguments) and seeds. For each fold, model and seed it
seeds everything, builds the task with the data's signal arguments, trains it with a Lightning
``Trainer`` on that fold and tests it (``trainer.test``: the scores are the task's own
torchmetrics test metrics). It prints one progress line per run and returns an
:class:`ExperimentResult`: one row per run, and a table per metric with the mean ± std over
seeds per subject (folds averaged within a seed) and the mean over subjects (per seed, then
mean ± std over the seed means: DBConformer's aggregation), next to reference numbers (e.g. the
paper's) when given. ``result.save(folder)`` writes ``results.csv`` and ``results.json``.

Scripts add what a table cannot hold through ``on_run(run) -> dict``: it sees the trained task,
the fold's DataModule and the trainer, and the columns it returns join that run's row (e.g.
hvEEGNet's per-subject reconstruction report).

``biosig run --config recipes/bciiv2a/dbconformer_co.yaml`` runs a whole protocol from a config
(:mod:`biosig.experiments.config`).
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import logging
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from biosig.errors import ConfigError

__all__ = ["ModelSpec", "Run", "ExperimentResult", "run_experiment", "check_metrics",
           "summarize", "format_table", "mean_std_cells", "output_folder", "plain_value",
           "progress_logging", "PERCENT_METRICS"]

#: Metrics shown in percent in the tables.
PERCENT_METRICS = {"acc", "bal_acc", "kappa", "f1_weighted", "f1_macro", "auroc", "auprc",
                   "auprc_pos"}
SIGNAL_ARGS = ("n_chans", "n_times", "sfreq", "n_outputs", "ch_names")


def _import(path: str):
    module, _, name = str(path).rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as err:
        raise ConfigError(f"cannot import {path!r}: {err}") from err


def stop_ranks_on_sigterm(trainer) -> None:
    """A multi-process fit gets :class:`~biosig.callbacks.StopRanksOnSigterm` (once)."""
    from biosig.callbacks import StopRanksOnSigterm

    if trainer.world_size > 1 and not any(isinstance(c, StopRanksOnSigterm)
                                          for c in trainer.callbacks):
        trainer.callbacks.append(StopRanksOnSigterm())


def refuse_cpu_sync_batchnorm(trainer, sync_batchnorm: bool) -> None:
    """A ConfigError for ``sync_batchnorm`` with several CPU processes (DDP on CPU), which
    torch refuses only once every rank has started ("SyncBatchNorm layers only work with GPU
    modules", one traceback per rank)."""
    from lightning.pytorch.accelerators import CPUAccelerator
    from lightning.pytorch.strategies import ParallelStrategy

    if (sync_batchnorm and isinstance(trainer.accelerator, CPUAccelerator)
            and isinstance(trainer.strategy, ParallelStrategy)):
        raise ConfigError(f"trainer.sync_batchnorm: torch synchronises BatchNorm on GPUs only, "
                          f"and this run uses {type(trainer.strategy).__name__} on CPU; set "
                          "trainer.sync_batchnorm false (or run on GPUs)")


@dataclass
class ModelSpec:
    """One model of a comparison: a task class (or its import path) and its arguments.

    ``init_args`` go to the task (e.g. ``{"model": "dbconformer", "model_kwargs": {"depth": 2},
    "lr": 1e-3, "optimizer": "adam"}``); the signal arguments ``n_chans``, ``n_times``,
    ``sfreq``, ``n_outputs`` (and ``ch_names`` where the task takes it) come from the data.
    ``trainer`` overrides the experiment's trainer arguments for this model (e.g.
    ``max_epochs``). ``test_ckpt="best"`` tests the checkpoint with the lowest ``monitor``
    (``mode="max"``: the highest, for a score such as ``val_bal_acc``; needs a validation part);
    ``"last"`` the final weights.
    """

    name: str
    task: str | type = "biosig.tasks.ClassificationTask"
    init_args: dict = field(default_factory=dict)
    trainer: dict = field(default_factory=dict)
    test_ckpt: str = "last"
    monitor: str = "val_loss"
    mode: str = "min"

    def __post_init__(self):
        if self.test_ckpt not in ("last", "best"):
            raise ConfigError(f"model {self.name!r}: test_ckpt must be 'last' or 'best', "
                              f"got {self.test_ckpt!r}")
        if self.mode not in ("min", "max"):
            raise ConfigError(f"model {self.name!r}: mode must be 'min' or 'max', got "
                              f"{self.mode!r}")
        metric = str(self.monitor).split("_", 1)[-1]
        want = "max" if metric in PERCENT_METRICS else "min" if metric.endswith("loss") else None
        if self.test_ckpt == "best" and want not in (None, self.mode):
            worst = "lowest" if want == "max" else "highest"
            raise ConfigError(f"model {self.name!r}: test_ckpt 'best' with mode {self.mode!r} "
                              f"would test the epoch of the {worst} {self.monitor!r}; set "
                              f"mode: {want}")

    def task_class(self) -> type:
        return _import(self.task) if isinstance(self.task, str) else self.task

    def check(self) -> None:
        """What needs no data, before any is built: ``init_args`` the task takes, the task's
        own checks and its networks (registry names, ``model_kwargs``)."""
        from biosig.tasks.base import BiosigTask

        cls = self.task_class()
        self._bind(cls, self.init_args, partial=True)
        if isinstance(cls, type) and issubclass(cls, BiosigTask):
            cls.check_args(self.init_args)
            cls.check_networks(self.init_args)

    def _bind(self, cls, kwargs: dict, partial: bool = False) -> None:
        """ConfigError naming the model for an argument ``cls`` does not take (or lacks)."""
        sig = inspect.signature(cls)
        unknown = [k for k in kwargs if k not in sig.parameters]
        if unknown and not any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
            from biosig._checks import did_you_mean

            raise ConfigError(f"model {self.name!r}: {cls.__name__} takes no argument "
                              f"{unknown[0]!r}" + did_you_mean(unknown[0], list(sig.parameters),
                                                               n=2, cutoff=0.7))
        try:  # argument errors only: a TypeError raised inside the task propagates
            sig.bind_partial(**kwargs) if partial else sig.bind(**kwargs)
        except TypeError as err:
            raise ConfigError(f"model {self.name!r}: {cls.__name__}: {err}") from err

    def build(self, dm):
        """The task, with the signal arguments of ``dm``."""
        cls = self.task_class()
        params = inspect.signature(cls.__init__).parameters
        signal = {k: getattr(dm, k) for k in SIGNAL_ARGS if k in params}
        clash = sorted(set(signal) & set(self.init_args))
        if clash:
            raise ConfigError(f"model {self.name!r}: {clash} come from the data; remove them from "
                              "init_args")
        self._bind(cls, {**self.init_args, **signal})
        return cls(**self.init_args, **signal)


@dataclass
class Run:
    """What ``on_run`` sees after one fold x model x seed has been trained and tested."""

    fold: Any  # biosig.data.protocols.Fold
    seed: int
    spec: ModelSpec
    task: Any  # the trained LightningModule (best checkpoint loaded for test_ckpt="best")
    datamodule: Any  # the fold's BiosigDataModule
    trainer: Any
    scores: dict


@contextlib.contextmanager
def _keep_cudnn_flags():
    """Give back the caller's cuDNN ``deterministic``/``benchmark`` flags that
    :func:`_seed_everything` sets for the runs."""
    import torch

    cudnn = torch.backends.cudnn
    saved = cudnn.deterministic, cudnn.benchmark
    try:
        yield
    finally:
        cudnn.deterministic, cudnn.benchmark = saved


def _processes(devices) -> int | None:
    """Devices a Trainer's ``devices`` asks for (None: as many as the machine has)."""
    if isinstance(devices, (list, tuple)):
        return len(devices)
    if isinstance(devices, str) and "," in devices:  # "0,1", "0,": device indices
        return len([d for d in devices.split(",") if d.strip()])
    if isinstance(devices, str) and devices.strip().isdigit():
        return int(devices)
    if isinstance(devices, int) and not isinstance(devices, bool) and devices >= 0:
        return devices
    return None  # "auto", -1, "-1"


def refuse_several_processes(trainer: dict, where: str = "trainer") -> None:
    """A ConfigError for trainer arguments that start several processes (DDP): every process
    would run the whole experiment, print every line and write the results table (tried with
    2 CPU processes: all of it twice, and test metrics over padded shards)."""
    devices, nodes = trainer.get("devices", 1), trainer.get("num_nodes", 1)
    if _processes(devices) in (0, 1) and nodes in (1, "1", None):
        return
    raise ConfigError(
        f"{where}.devices: biosig run and run_experiment train in one process (got "
        f"devices={devices!r}, num_nodes={nodes!r}: each process would run the whole "
        f"experiment and write its table); set {where}.devices 1 and {where}.num_nodes 1, or "
        "train one fold on several devices with biosig fit")


def _check_loggers(trainer: dict, models: list, runs_per_model: int) -> None:
    """A logger object would be shared by every run that gets it (one log, mixed metrics):
    refused where it would serve more than one run."""
    uses: dict[int, list] = {}
    for spec in models:
        given = spec.trainer.get("logger", trainer.get("logger"))
        for obj in given if isinstance(given, (list, tuple)) else [given]:
            if obj is not None and not isinstance(obj, bool):
                uses.setdefault(id(obj), [obj, 0])[1] += runs_per_model
    for obj, n in uses.values():
        if n > 1:
            raise ConfigError(
                f"trainer logger {type(obj).__name__} would be shared by {n} runs (folds x "
                "seeds x models) and mix their logs; pass logger=False (the results table holds "
                "the scores) or run one fold, seed and model per logger"
            )


def _seed_everything(seed: int) -> None:
    """torch, numpy, random and CUDA seeds; deterministic cuDNN (as ``fix_random_seed``;
    :func:`run_experiment` restores the caller's cuDNN flags when it returns)."""
    import lightning.pytorch as pl
    import torch

    pl.seed_everything(seed, workers=True, verbose=False)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def quiet_lightning_notices() -> None:
    """Notices Lightning 2.6 prints on every Trainer, left out of biosig's output: an
    advertisement (``💡 Tip: For seamless cloud logging ... install litlogger``), with the
    default logger that TensorBoard is not installed so CSVLogger is used (``biosig fit``
    prints where the logs go), a deprecation inside Lightning (torch's ``LeafSpec``), "a
    validation_step but no val_dataloader" (every biosig task has one; a fit without a
    validation part skips it), "modules in eval mode" (a frozen backbone, on purpose), the CLI
    called with ``args`` by a script with
    options of its own, and, outside fit, WeightAveraging's "loading a checkpoint outside the
    'fit' stage" (Lightning: ignore it there). Other lines stay."""
    warnings.filterwarnings("ignore", message=r"Starting from v1\.9\.0, `tensorboardX` has been "
                                              "removed")
    # Lightning 2.6's own use of a torch pytree API that torch 2.13 deprecates: nothing to do
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")
    # every biosig task has a validation_step; a fit without a validation part (a protocol or
    # a pretraining without one) skips it on purpose
    warnings.filterwarnings("ignore", message=r"You defined a `validation_step` but have no "
                                              "`val_dataloader`")
    # a frozen backbone is in eval mode on purpose (BiosigTask.train keeps it so)
    warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode at the start "
                                              "of training")
    # a recipe script calling the CLI with its own options in sys.argv (the DDP launcher re-runs
    # the script with them, so they stay): Lightning's warning printed both lists
    warnings.filterwarnings("ignore", message=r"LightningCLI's args parameter is intended to run "
                                              "from within Python")
    # test/validate/predict from a checkpoint of an EMA run: Lightning says to ignore it there
    warnings.filterwarnings("ignore", message=r"You're using the WeightAveraging callback, but "
                                              "loading a checkpoint outside the 'fit' stage")
    log = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not any(getattr(f, "biosig_tips", False) for f in log.filters):
        def no_tip(record: logging.LogRecord) -> bool:
            return not str(record.msg).startswith("\N{ELECTRIC LIGHT BULB} Tip:")

        no_tip.biosig_tips = True
        log.addFilter(no_tip)


@contextlib.contextmanager
def _quiet_lightning():
    """Silence Lightning's per-Trainer banners and tips for the many short fits."""
    loggers = [logging.getLogger(n) for n in ("lightning.pytorch", "lightning.fabric")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            quiet_lightning_notices()
            warnings.filterwarnings("ignore", message=".*does not have many workers.*")
            warnings.filterwarnings("ignore", message=".*no validation part.*")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


class _CurrentStderr(logging.StreamHandler):
    """A stream handler on whatever ``sys.stderr`` is when a record comes (a notebook or a test
    swaps it), never on a stream closed since the handler was made."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):  # StreamHandler sets it: the current sys.stderr is used instead
        pass


def progress_logging(level: int = logging.INFO) -> bool:
    """Show biosig's progress log lines (window-cache builds, downloads) on stderr with the
    time, so a build that takes minutes reports itself in a log file or a pipe too, not only as
    a terminal progress bar. Does nothing where logging is configured already (a handler on the
    ``biosig`` or the root logger); returns whether it added the handler."""
    log = logging.getLogger("biosig")
    if log.handlers or logging.getLogger().handlers:
        return False
    handler = _CurrentStderr()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s", "%H:%M:%S"))
    log.addHandler(handler)
    log.setLevel(level)
    return True


@contextlib.contextmanager
def output_folder(path):
    """Create a script's results folder ``path`` (yielded as a Path); when the script fails,
    remove the folders this made that are still empty, so a failed run leaves no empty output
    folder behind (files already written stay)."""
    path = Path(path)
    created = [p for p in (path, *path.parents) if not p.exists()]  # deepest first
    path.mkdir(parents=True, exist_ok=True)
    try:
        yield path
    except BaseException:
        for folder in created:
            with contextlib.suppress(OSError):  # not empty: keep it
                folder.rmdir()
        raise


def plain_value(value):
    """``value`` for JSON: an object without a repr of its own becomes its class name, with its
    folder where it has one (a logger: ``CSVLogger(/abs/logs)``) or its Lightning state key (a
    callback: ``EarlyStopping{'monitor': 'val_mse', 'mode': 'min'}``); other objects their
    ``str``; dicts and lists item by item."""
    if isinstance(value, dict):
        return {k: plain_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_value(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if " object at 0x" not in repr(value):
        return str(value)
    folder = getattr(value, "log_dir", None)
    if folder:
        return f"{type(value).__name__}({Path(folder).resolve()})"
    key = getattr(value, "state_key", None)
    return key if isinstance(key, str) else type(value).__name__


def _clock(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _fmt(metric: str, value: float) -> str:
    return f"{value:.3f}" if metric in PERCENT_METRICS else f"{value:.4g}"


TRAINER_DEFAULTS = {"logger": False, "enable_checkpointing": False, "enable_progress_bar": False,
                    "enable_model_summary": False, "num_sanity_val_steps": 0, "devices": 1}


def _fresh_callbacks(callbacks) -> list:
    """New callback objects for one run: configs (``class_path`` + ``init_args``) are
    instantiated, objects are deep-copied, so no state leaks from one run into the next."""
    import copy

    out = []
    for cb in callbacks if isinstance(callbacks, (list, tuple)) else [callbacks]:
        if isinstance(cb, dict):
            cls = _import(cb.get("class_path", ""))
            out.append(cls(**(cb.get("init_args") or {})))
        else:
            out.append(copy.deepcopy(cb))
    return out


def _fit_test(dm, spec: ModelSpec, seed: int, trainer_kwargs: dict, progress=None):
    import lightning.pytorch as pl

    _seed_everything(seed)
    task = spec.build(dm)
    kw = {**TRAINER_DEFAULTS, **trainer_kwargs, **spec.trainer}
    kw["callbacks"] = _fresh_callbacks(kw.get("callbacks") or []) + ([progress] if progress else [])
    if len(dm.splits["val"]) == 0:
        kw["limit_val_batches"] = 0  # no validation part: nothing to validate on
    with contextlib.ExitStack() as stack:
        ckpt = None
        if spec.test_ckpt == "best":
            if len(dm.splits["val"]) == 0:
                raise ConfigError(f"model {spec.name!r}: test_ckpt='best' needs a validation part "
                                  f"(protocol {dm.protocol} has none)")
            from lightning.pytorch.callbacks import ModelCheckpoint

            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="biosig-ckpt-"))
            ckpt = ModelCheckpoint(dirpath=folder, monitor=spec.monitor, mode=spec.mode,
                                   filename="best")
            kw["callbacks"] = [*kw.get("callbacks", []), ckpt]
            kw["enable_checkpointing"] = True
        trainer = pl.Trainer(**kw)
        refuse_cpu_sync_batchnorm(trainer, kw.get("sync_batchnorm", False))
        stop_ranks_on_sigterm(trainer)
        t0 = time.perf_counter()
        trainer.fit(task, datamodule=dm)
        fit_s = time.perf_counter() - t0
        res = trainer.test(task, datamodule=dm, verbose=False,
                           ckpt_path="best" if ckpt is not None else None)
    scores = {k[len("test_"):] if k.startswith("test_") else k: float(v)
              for k, v in (res[0] if res else {}).items()}
    if ckpt is not None:
        scores["best_" + spec.monitor] = float(ckpt.best_model_score)
    return task, trainer, scores, fit_s


def check_metrics(metrics, models, n_outputs: int | None = None, key: str = "metrics") -> None:
    """Before training: a ConfigError, with the closest name, for a metric that no model's task
    reports at test (:meth:`biosig.tasks.BiosigTask.test_metric_names`, plus ``best_<monitor>``
    for ``test_ckpt="best"``). Nothing is checked where a model's task is not one of biosig's
    (a subclass may log more) or declares no names."""
    import difflib
    from fnmatch import fnmatchcase

    from biosig.tasks.base import BiosigTask

    known: list[str] = []
    for spec in models:
        cls = spec.task_class()
        if not (isinstance(cls, type) and issubclass(cls, BiosigTask)
                and cls.__module__.startswith("biosig.")):
            return
        names = cls.test_metric_names(spec.init_args, n_outputs)
        if names is None:
            return
        known += [*names, *(["best_" + spec.monitor] if spec.test_ckpt == "best" else [])]
    known = list(dict.fromkeys(known))
    for metric in metrics or []:
        if any(fnmatchcase(str(metric), name) for name in known):
            continue
        plain = list(dict.fromkeys(n.rstrip("*").rstrip("_") for n in known))
        bare = str(metric).removeprefix("test_")  # the scores drop the prefix
        close = ([bare] if any(fnmatchcase(bare, n) for n in known) else
                 [n for n in plain if bare.startswith(n) or n.startswith(bare)]  # accuracy: acc
                 or difflib.get_close_matches(bare, plain, n=1))
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{key}: {metric!r} is not a test metric of this run's models{hint}; "
                          f"they report: {', '.join(known)}")


def _seed(value) -> int:
    """An integer seed; 1.5 or "one" is a ConfigError (int() took 1.5 for 1)."""
    import numbers

    if not isinstance(value, numbers.Integral):
        raise ConfigError(f"seeds: {value!r} is not an integer")
    return int(value)


def run_experiment(
    data,
    models: list[ModelSpec],
    seeds=(0,),
    protocol=None,
    trainer: dict | None = None,
    subjects=None,
    metrics=None,
    reference: dict | None = None,
    title: str = "",
    on_run: Callable[[Run], dict | None] | None = None,
    verbose: bool = True,
    progress_s: float | None = 30.0,
) -> "ExperimentResult":
    """Train and test every model on every fold and seed; one row per (fold, model, seed).

    Parameters
    ----------
    data : a :class:`~biosig.data.datamodule.BiosigDataModule`; its protocol lists the folds.
    models : :class:`ModelSpec` list (a single spec is accepted too).
    seeds : every run is seeded with ``seed`` (weights, shuffling, dropout).
    protocol : replaces the DataModule's protocol when given.
    trainer : ``lightning.pytorch.Trainer`` arguments for every run (no logger, checkpoint or
        progress bar by default; ``limit_val_batches=0`` where a fold has no validation part).
        A logger object serves one run only (ConfigError when more runs would share it).
    subjects : only the folds whose test subject is one of these (LOSO still trains on all
        others).
    metrics : the test metrics the printed tables show (default: the first one logged); a
        name that no model's task reports is refused before training (:func:`check_metrics`).
    reference : numbers to print next to the first metric's table, ``{model: {subject: value}}``
        in the table's units (``"mean"`` for the mean over subjects), e.g. the paper's.
    on_run : called after each run with a :class:`Run`; the dict it returns joins the run's row.
    verbose : print the plan, and a line per finished run with the elapsed and estimated
        remaining time of the whole experiment.
    progress_s : with ``verbose``, also print an epoch line inside a run whenever this many
        seconds passed since the last line (:class:`biosig.callbacks.EpochProgress`), so a long
        run is never silent; 0 prints every epoch, None none.
    """
    if isinstance(models, ModelSpec):
        models = [models]
    if not models:
        raise ConfigError("run_experiment needs at least one model")
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise ConfigError(f"model names must be unique, got {names}")
    seeds = [_seed(s) for s in ([seeds] if np.isscalar(seeds) else seeds)]
    metrics = [metrics] if isinstance(metrics, str) else metrics
    if on_run is None:  # on_run's columns may be metrics too
        check_metrics(metrics, models, getattr(data, "n_outputs", None))
    if protocol is not None:
        import copy

        data = copy.copy(data)
        data.protocol, data.splits, data.whiteners = protocol, None, None
    folds = data.folds()
    if subjects is not None:
        keep = {str(s) for s in subjects}
        folds = [f for f in folds if f.subject in keep]
        if not folds:
            raise ConfigError(f"subjects={list(subjects)} leave no fold of {data.protocol}")
    n_runs, done, t_start = len(folds) * len(models) * len(seeds), 0, time.perf_counter()
    _check_loggers(dict(trainer or {}), models, len(folds) * len(seeds))
    refuse_several_processes(dict(trainer or {}))
    for spec in models:
        refuse_several_processes(spec.trainer, f"models[{spec.name}].trainer")
    rows = []
    if verbose:
        print(f"{title + ': ' if title else ''}{len(folds)} folds x {len(models)} models x "
              f"{len(seeds)} seeds = {n_runs} runs; {data.n_chans} ch x {data.n_times} samples "
              f"@ {data.sfreq:g} Hz; protocol {data.protocol}", flush=True)
        k = getattr(data.protocol, "n_splits", None)
        if k and getattr(data.protocol, "fold", None) is not None:
            print(f"note: {type(data.protocol).__name__} runs fold {data.protocol.fold} of {k} "
                  "only; fold=None (fold: null in a config) runs every fold", flush=True)
    with _quiet_lightning(), _keep_cudnn_flags():
        for fold in folds:
            for spec in models:
                for seed in seeds:
                    dm = data.for_fold(fold, seed=seed)
                    progress = None
                    if verbose and progress_s is not None:
                        from biosig.callbacks import EpochProgress

                        progress = EpochProgress(
                            prefix=f"  [{done + 1}/{n_runs}] {fold.name} {spec.name} seed={seed} ",
                            min_interval_s=progress_s)
                    task, tr, scores, fit_s = _fit_test(dm, spec, seed, dict(trainer or {}),
                                                        progress)
                    row = {"model": spec.name, "seed": seed, "subject": fold.subject,
                           "fold": fold.name, "n_train": len(fold.train), "n_val": len(fold.val),
                           "n_test": len(fold.test), "fit_s": round(fit_s, 2), **scores}
                    if on_run is not None:
                        row.update(on_run(Run(fold, seed, spec, task, dm, tr, scores)) or {})
                    rows.append(row)
                    done += 1
                    if verbose:
                        elapsed = time.perf_counter() - t_start
                        first = [k for k in scores if k in PERCENT_METRICS][:1]
                        shown = [m for m in (metrics or first or list(scores)[:1]) if m in row]
                        text = " ".join(f"{m}={_fmt(m, row[m])}" for m in shown)
                        print(f"[{done}/{n_runs}] {fold.name} {spec.name} seed={seed}: {text} "
                              f"(fit {fit_s:.1f} s; elapsed {_clock(elapsed)}, "
                              f"~{_clock(elapsed / done * (n_runs - done))} left)", flush=True)
    runs = pd.DataFrame(rows)
    scored = [c for c in runs.columns if c not in ("model", "seed", "subject", "fold", "n_train",
                                                    "n_val", "n_test", "fit_s")]
    default = [c for c in scored if c in PERCENT_METRICS][:1] or scored[:1]
    return ExperimentResult(runs, list(metrics or default), reference or {}, title,
                            {"protocol": str(data.protocol), "seeds": seeds,
                             "models": {m.name: {"task": str(m.task), "init_args": m.init_args,
                                                 "trainer": {**(trainer or {}), **m.trainer}}
                                        for m in models}})


def summarize(runs: pd.DataFrame, metric: str = "acc") -> pd.DataFrame:
    """Per subject and overall mean / std of ``metric`` for every model (percent for scores).

    Per subject: folds averaged per seed, then mean ± std over seeds. Overall (``"mean"``): per
    seed, the mean over subjects; then mean ± std over those seed means (the paper's way; numpy
    std, ddof 0; NaN from a single seed, which has no spread to show). Returns a long table
    with columns ``model, subject, mean, std``.
    """
    if runs.empty or metric not in runs.columns:
        raise ConfigError(f"no results for metric {metric!r} (columns: {list(runs.columns)})")
    scale = 100.0 if metric in PERCENT_METRICS else 1.0
    runs = runs.assign(subject=runs["subject"].astype(str))
    per = runs.groupby(["model", "seed", "subject"], sort=False)[metric].mean() * scale
    per = per.reset_index()
    out = []
    for model, grp in per.groupby("model", sort=False):
        for subject, g in grp.groupby("subject", sort=False):
            out.append({"model": model, "subject": subject, "mean": g[metric].mean(),
                        "std": _spread(g[metric])})
        seed_means = grp.groupby("seed")[metric].mean()
        out.append({"model": model, "subject": "mean", "mean": seed_means.mean(),
                    "std": _spread(seed_means)})
    return pd.DataFrame(out)


def _spread(values: pd.Series) -> float:
    """numpy's std (ddof 0) over seeds; NaN for one seed (its 0 would read as a spread)."""
    return float(values.std(ddof=0)) if len(values) > 1 else float("nan")


def mean_std_cells(summary: pd.DataFrame, digits: int = 2) -> pd.Series:
    """``"mean ± std"`` of each row of a :func:`summarize` table (the mean alone where the std
    is NaN: one seed)."""
    spread = summary["std"].map(lambda v: "" if pd.isna(v) else f" ± {v:.{digits}f}")
    return summary["mean"].map(f"{{:.{digits}f}}".format) + spread


def format_table(summary: pd.DataFrame, title: str = "", reference: dict | None = None) -> str:
    """One row per subject (+ ``mean``), one ``mean ± std`` column per model (the mean alone
    from one seed), and a ``<model> (ref)`` column beside each model that has reference
    numbers."""
    cell = summary.assign(cell=mean_std_cells(summary))
    wide = cell.pivot(index="subject", columns="model", values="cell")
    subjects = [s for s in dict.fromkeys(summary["subject"]) if s != "mean"] + ["mean"]
    columns = {}
    for model in dict.fromkeys(summary["model"]):
        columns[model] = wide.loc[subjects, model]
        ref = (reference or {}).get(model)
        if ref:
            columns[f"{model} (ref)"] = pd.Series(
                [f"{ref[s]:.2f}" if s in ref else "" for s in subjects], index=subjects)
    text = pd.DataFrame(columns).rename_axis("subject").to_string()
    return f"{title}\n{text}" if title else text


@dataclass
class ExperimentResult:
    """The results of :func:`run_experiment`: ``runs`` (one row per fold x model x seed)."""

    runs: pd.DataFrame
    metrics: list
    reference: dict
    title: str = ""
    settings: dict = field(default_factory=dict)

    def summary(self, metric: str | None = None) -> pd.DataFrame:
        return summarize(self.runs, metric or self.metrics[0])

    def table(self, metric: str | None = None) -> str:
        metric = metric or self.metrics[0]
        unit = " (%)" if metric in PERCENT_METRICS else ""
        ref = self.reference if metric == self.metrics[0] else None
        head = f"{self.title}, " if self.title else ""
        return format_table(self.summary(metric), f"\n{head}{metric}{unit}, mean ± std over seeds",
                            ref)

    def print(self) -> None:
        for metric in self.metrics:
            print(self.table(metric), flush=True)

    def to_json(self) -> dict:
        runs = json.loads(self.runs.to_json(orient="records"))
        return {"title": self.title, "settings": plain_value(self.settings),
                "metrics": self.metrics, "reference": self.reference, "runs": runs,
                "summary": {m: json.loads(self.summary(m).to_json(orient="records"))
                            for m in self.metrics}}  # a NaN std (one seed): null

    def save(self, folder) -> Path:
        """Write ``results.csv`` (the runs) and ``results.json`` (runs, tables, settings as
        plain values: :func:`plain_value`)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.runs.to_csv(folder / "results.csv", index=False)
        (folder / "results.json").write_text(json.dumps(self.to_json(), indent=1, default=str))
        return folder
