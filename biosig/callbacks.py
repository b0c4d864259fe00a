"""biosig's Lightning callbacks: figures of what a task produces, per validation epoch.

Tasks take no figure arguments; add a callback instead (``trainer.callbacks`` in a recipe):

- :class:`ReconstructionFigures`: originals vs reconstructions (+ a sample) of a VAE task;
- :class:`ECGFigures`: real vs generated 12-lead ECG of a :class:`~biosig.tasks.gan.GANTask`;
- :class:`EpochProgress`: one printed line per epoch (losses, scores, elapsed, time left), for
  logs and pipes where Lightning's progress bar shows nothing;
- :class:`PredictionWriter`: ``predict``'s outputs saved to ``predictions.pt`` (``biosig
  predict`` adds it);
- :class:`CompileNetworks`: the task's networks compiled with ``torch.compile`` (on a GPU,
  ``mode="reduce-overhead"`` replays CUDA graphs, against the kernel-launch cost of small models);
- :class:`StopRanksOnSigterm`: a DDP run stops on SIGTERM instead of hanging (``biosig fit``
  and ``biosig run`` add it to multi-process runs).

Figures go to every logger that takes them (TensorBoard's ``experiment.add_figure``, or a
``log_image(key, images)`` logger such as Weights & Biases), from rank 0 only; when no logger
takes figures (Lightning's CSVLogger, the default without TensorBoard) they are saved as PNG files
in the run's log folder, ``<log_dir>/figures/<tag>_epoch<NNN>.png``.

Weight averaging (EMA) is Lightning's own callback,
``lightning.pytorch.callbacks.EMAWeightAveraging``, or :class:`WarmupEMA` (EEGDM's warm-up
schedule on Lightning's ``WeightAveraging``); gradual unfreezing is Lightning's
``BackboneFinetuning`` (tasks expose ``backbone``).
"""

from __future__ import annotations

import math
import signal
import sys
import time
import types
from pathlib import Path

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import BasePredictionWriter, WeightAveraging
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from biosig.errors import ConfigError
from biosig.tasks.base import task_networks  # re-exported: the networks CompileNetworks compiles

__all__ = [
    "CompileNetworks", "ECGFigures", "EpochProgress", "FigureCallback", "PredictionWriter",
    "ReconstructionFigures", "StopRanksOnSigterm", "WarmupEMA",
    "ema_warmup_decay", "log_figure", "save_figure", "task_networks",
]


def _takes_figures(logger) -> bool:
    return (callable(getattr(getattr(logger, "experiment", None), "add_figure", None))
            or callable(getattr(logger, "log_image", None)))


def _close(fig) -> None:
    if getattr(fig.canvas, "manager", None) is not None:  # a pyplot figure: free it
        import matplotlib.pyplot as plt

        plt.close(fig)


def log_figure(trainer: pl.Trainer, tag: str, fig, step: int) -> bool:
    """Send a matplotlib figure to every logger of ``trainer`` that takes figures; close it.

    Returns whether any logger took it.
    """
    sent = False
    for logger in trainer.loggers:
        experiment = getattr(logger, "experiment", None)
        if callable(getattr(experiment, "add_figure", None)):
            experiment.add_figure(tag, fig, global_step=step)
            sent = True
        elif callable(getattr(logger, "log_image", None)):
            logger.log_image(key=tag, images=[fig], step=step)
            sent = True
    _close(fig)
    return sent


def save_figure(trainer: pl.Trainer, tag: str, fig, step: int, folder=None) -> Path:
    """Save a matplotlib figure as ``<log_dir>/figures/<tag>_epoch<step>.png`` (the run's log
    folder: the first logger's, else ``default_root_dir``; ``folder`` instead of it if given);
    close it. Returns the file. Under DDP ``trainer.log_dir`` is a broadcast from rank 0: every
    rank must ask for it (pass ``folder`` from rank 0 alone)."""
    folder = Path(folder or trainer.log_dir or trainer.default_root_dir) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{tag}_epoch{step:03d}.png"
    fig.savefig(path, dpi=100)
    _close(fig)
    return path


class FigureCallback(pl.Callback):
    """Keep an example from the first validation batch; draw and log it at the epoch's end (as
    a PNG file in the run's log folder when no logger takes figures: see the module).

    Subclasses define :meth:`capture` (what to keep from ``outputs``/``batch``) and
    :meth:`draw` (the figure). Figures are made on rank 0, never during the sanity check, every
    ``every_n_epochs`` epochs.
    """

    tag = "figure"

    def __init__(self, every_n_epochs: int = 1):
        if every_n_epochs < 1:
            raise ConfigError(f"every_n_epochs must be >= 1, got {every_n_epochs}")
        self.every_n_epochs = every_n_epochs
        self._example = None
        self._told = False

    def on_fit_start(self, trainer, pl_module):
        if not trainer.loggers:
            rank_zero_warn(f"{type(self).__name__}: the trainer has no logger, so no figure is "
                           "drawn (add a TensorBoard or log_image logger to see them)")

    def _due(self, trainer) -> bool:
        """A figure this epoch (the same answer on every rank; rank 0 draws it)."""
        return (not trainer.sanity_checking and bool(trainer.loggers)
                and trainer.current_epoch % self.every_n_epochs == 0)

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx,
                                dataloader_idx=0):
        if batch_idx == 0 and dataloader_idx == 0 and trainer.is_global_zero and self._due(
                trainer):
            self._example = self.capture(pl_module, outputs, batch)

    def on_validation_epoch_end(self, trainer, pl_module):
        example, self._example = self._example, None
        if not self._due(trainer):
            return
        # log_dir broadcasts from rank 0 under DDP: every rank asks (rank 0 alone hung the run;
        # whether a logger takes figures is known on rank 0 only: elsewhere `experiment` is a
        # stand-in that has every method)
        folder = trainer.log_dir or trainer.default_root_dir
        if example is None:
            return
        with torch.no_grad():
            fig = self.draw(pl_module, example, trainer.current_epoch)
        if any(_takes_figures(logger) for logger in trainer.loggers):
            log_figure(trainer, self.tag, fig, trainer.current_epoch)
            return
        path = save_figure(trainer, self.tag, fig, trainer.current_epoch, folder)
        if not self._told:  # where they go: said once
            self._told = True
            rank_zero_info(f"{type(self).__name__}: no logger takes figures (TensorBoard or a "
                           f"logger with log_image); saving them as PNG files in {path.parent}")

    def capture(self, pl_module, outputs, batch):
        raise NotImplementedError

    def draw(self, pl_module, example, epoch: int):
        raise NotImplementedError


def _inputs(batch) -> torch.Tensor:
    return batch[0] if isinstance(batch, (tuple, list)) else batch


class ReconstructionFigures(FigureCallback):
    """Originals vs deterministic reconstructions of validation examples, plus one sample from
    the prior, for a task whose network has ``reconstruct(x)`` and (for the sample)
    ``generate(n)`` (hvEEGNet, vEEGNet). Channel names and the time axis come from the task's
    ``ch_names`` and ``sfreq`` (samples when unknown).

    Parameters
    ----------
    every_n_epochs : draw every n validation epochs.
    n_examples : validation examples (columns) from the first batch.
    max_channels : channels (rows) drawn.
    sample : add a column with a sample from the prior (``net.generate(1)``).
    """

    tag = "reconstruction"

    def __init__(self, every_n_epochs: int = 1, n_examples: int = 1, max_channels: int = 4,
                 sample: bool = True):
        super().__init__(every_n_epochs)
        if n_examples < 1 or max_channels < 1:
            raise ConfigError("ReconstructionFigures: n_examples and max_channels must be >= 1")
        self.n_examples, self.max_channels, self.sample = n_examples, max_channels, sample

    def setup(self, trainer, pl_module, stage):
        net = getattr(pl_module, "net", None)
        need = ["reconstruct"] + (["generate"] if self.sample else [])
        lacking = [m for m in need if not callable(getattr(net, m, None))]
        if lacking:
            hint = " (or use sample=False)" if "generate" in lacking else ""
            raise ConfigError(f"ReconstructionFigures needs a task network with "
                              f"{', '.join(lacking)}; {type(net).__name__} has not{hint}")

    def capture(self, pl_module, outputs, batch):
        return _inputs(batch)[: self.n_examples].detach()

    def draw(self, pl_module, x, epoch):
        from biosig.viz.reconstruction import plot_reconstructions

        net = pl_module.net
        x_hat = net.reconstruct(x)
        sample = net.generate(1) if self.sample else None
        return plot_reconstructions(x, x_hat, sfreq=pl_module.sfreq, ch_names=pl_module.ch_names,
                                    generated=sample, max_channels=self.max_channels,
                                    title=f"epoch {epoch}")


class ECGFigures(FigureCallback):
    """Real (black) vs generated (red) 12-lead ECG of the first validation record
    (:func:`biosig.viz.ecg.plot_overlay`), for a :class:`~biosig.tasks.gan.GANTask` whose
    ``validation_step`` returns ``real``, ``fake`` and ``input_channel``.

    Parameters
    ----------
    every_n_epochs : draw every n validation epochs.
    seconds : draw only the first seconds (default: the whole record).
    """

    tag = "val_12lead"

    def __init__(self, every_n_epochs: int = 1, seconds: float | None = None):
        super().__init__(every_n_epochs)
        self.seconds = seconds

    def setup(self, trainer, pl_module, stage):
        if getattr(pl_module, "sfreq", None) is None:
            raise ConfigError("ECGFigures needs the sampling rate (model.sfreq)")

    def capture(self, pl_module, outputs, batch):
        if not isinstance(outputs, dict) or not {"real", "fake"} <= set(outputs):
            raise ConfigError(f"ECGFigures needs a task whose validation_step returns real and "
                              f"fake records (GANTask); {type(pl_module).__name__} does not")
        return (outputs["real"][0].detach().float().cpu().numpy(),
                outputs["fake"][0].detach().float().cpu().numpy(), outputs.get("input_channel"))

    def draw(self, pl_module, example, epoch):
        from biosig.viz.ecg import plot_overlay

        real, fake, input_lead = example
        return plot_overlay(real, fake, sfreq=pl_module.sfreq, input_lead=input_lead,
                            seconds=self.seconds)


def _clock(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


#: Scores :class:`EpochProgress` shows by default next to the losses.
DEFAULT_PROGRESS_SCORES = ("val_acc",)


class EpochProgress(pl.Callback):
    """Print one line per finished training epoch: the epoch's logged losses and scores,
    seconds per epoch, elapsed time and an estimate of the time left.

    Lightning's progress bar draws on a terminal only; under a pipe, a log file or a notebook
    the run looks hung. These lines are flushed at once, so ``biosig demo > log.txt`` or a
    batch job's log shows every epoch. The line is written after validation, e.g.
    ``epoch 3/30: train_loss 0.612, val_loss 0.598, val_acc 0.700 (2.1 s/epoch; elapsed 0:06,
    ~0:57 left)``.

    Parameters
    ----------
    metrics : logged names to show (default: every logged loss (a name with ``loss`` in it,
        e.g. a GAN's ``train_loss_d``), ``val_acc`` and the values that checkpoint or
        early-stopping callbacks monitor, where logged; every logged value when none of these is).
    prefix : text before each line (e.g. the run's name in a protocol).
    min_interval_s : print an epoch only when this many seconds passed since the last line (or
        the start of training); 0 prints every epoch.
    stream : where to write (default ``sys.stdout`` at print time).
    """

    def __init__(self, metrics: list[str] | None = None, prefix: str = "",
                 min_interval_s: float = 0.0, stream=None):
        if min_interval_s < 0:
            raise ConfigError(f"EpochProgress: min_interval_s must be >= 0, got {min_interval_s}")
        self.metrics = list(metrics) if metrics is not None else None
        self.prefix, self.min_interval_s, self.stream = prefix, float(min_interval_s), stream
        self._t0 = self._last = None
        self._first = 0

    def __deepcopy__(self, memo):  # the runner copies callbacks per run; a stream is not copied
        return type(self)(self.metrics, self.prefix, self.min_interval_s, self.stream)

    def on_train_start(self, trainer, pl_module):
        self._t0 = self._last = time.perf_counter()
        self._first = trainer.current_epoch

    def _values(self, trainer) -> str:
        logged = {k: v for k, v in trainer.callback_metrics.items()
                  if not k.endswith("_step") and getattr(v, "numel", lambda: 1)() == 1}
        names = self.metrics if self.metrics is not None else _default_names(trainer, logged)
        parts = []
        for name in dict.fromkeys(names):
            value = logged.get(name, logged.get(f"{name}_epoch"))
            if value is not None:
                parts.append(f"{name} {float(value):.4g}")
        return ", ".join(parts)

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.sanity_checking or self._t0 is None:
            return
        # reading the epoch's values all-reduces the synced ones: under DDP every rank must read
        # them here (rank 0 alone waited for ever on the others' next collective)
        values = self._values(trainer)
        if not trainer.is_global_zero:
            return
        now = time.perf_counter()
        if now - self._last < self.min_interval_s:
            return
        epoch, total = trainer.current_epoch + 1, trainer.max_epochs
        self._last = now
        elapsed = now - self._t0
        per_epoch = elapsed / max(epoch - self._first, 1)
        timing = f"{per_epoch:.1f} s/epoch; elapsed {_clock(elapsed)}"
        if total is not None and total > 0 and math.isfinite(per_epoch):
            timing += f", ~{_clock(per_epoch * (total - epoch))} left"
        of = f"/{total}" if total is not None and total > 0 else ""
        print(f"{self.prefix}epoch {epoch}{of}: {values or 'nothing logged'} ({timing})",
              file=self.stream or sys.stdout, flush=True)


def _default_names(trainer, logged: dict) -> list[str]:
    """What :class:`EpochProgress` shows when not told: losses, ``val_acc`` and the monitored
    values; every logged value when none of these is logged."""
    bare = sorted(dict.fromkeys(k[: -len("_epoch")] if k.endswith("_epoch") else k
                                for k in logged))
    monitored = {getattr(cb, "monitor", None) for cb in
                 [*trainer.checkpoint_callbacks, *trainer.early_stopping_callbacks]}
    shown = [k for k in bare if "loss" in k or k in DEFAULT_PROGRESS_SCORES or k in monitored]
    return shown or bare


class PredictionWriter(BasePredictionWriter):
    """Write what ``predict`` returns to ``predictions.pt`` in the run's log folder
    (``trainer.log_dir``; the trainer's root folder without a logger), or to ``path``.

    Batches of tensors are concatenated into one tensor (rows in the order of the predict
    loader: the test split for a :class:`~biosig.data.datamodule.BiosigDataModule`); other
    outputs are saved as the list of batch outputs. A classifier's probabilities on a
    BiosigDataModule's test split are also written as ``predictions.csv``: each row's record,
    subject, session, window and onset, then one column per class name. Rank 0 writes;
    ``written`` is the file. With ``announce`` (a prefix) rank 0 prints what it wrote after it:
    in the process that wrote, so also under ``ddp_spawn``, whose processes' callbacks are
    copies.
    """

    def __init__(self, path=None, announce: str | None = None):
        super().__init__("epoch")
        self.path, self.announce, self.written, self.summary = path, announce, None, ""

    def write_on_epoch_end(self, trainer, pl_module, predictions, batch_indices):
        # log_dir broadcasts from rank 0 under DDP: every rank asks (rank 0 alone crashed)
        path = Path(self.path or Path(trainer.log_dir or trainer.default_root_dir)
                    / "predictions.pt").resolve()
        if predictions and isinstance(predictions[0], list):  # one list per dataloader
            predictions = [p for loader in predictions for p in loader]
        if trainer.world_size > 1:
            batch_indices = [batch for loader in batch_indices for batch in loader]
            predictions = _gather_in_loader_order(trainer, predictions, batch_indices)
        if not trainer.is_global_zero:
            return
        if predictions and all(isinstance(p, torch.Tensor) for p in predictions):
            predictions = torch.cat([p.detach().cpu() for p in predictions])
            what = f"{tuple(predictions.shape)} tensor"
        else:
            what = f"{len(predictions)} batch outputs"
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(predictions, path)
        self.written, self.summary = path, f"predictions ({what}) written to {path}"
        table = _named_class_probabilities(trainer, pl_module, predictions)
        if table is not None:
            table.to_csv(path.with_suffix(".csv"), index=False)
            self.summary += (f"; each row's window and the class columns "
                             f"({', '.join(table.columns[-predictions.shape[1]:])}) in "
                             f"{path.with_suffix('.csv').name}")
        if self.announce is not None:
            print(f"{self.announce}{self.summary}", flush=True)


def _named_class_probabilities(trainer, pl_module, predictions):
    """A classifier's (windows, classes) probabilities on a BiosigDataModule's test split as a
    table: each window's record, subject, session, window and onset, then one column per class
    name (the tensor alone named neither); None for any other prediction."""
    from biosig.tasks.classification import ClassificationTask

    dm = getattr(trainer, "datamodule", None)
    rows = (getattr(dm, "splits", None) or {}).get("test")
    if (not isinstance(pl_module, ClassificationTask) or rows is None
            or not isinstance(predictions, torch.Tensor) or predictions.ndim != 2
            or len(rows) != len(predictions) or len(dm.classes) != predictions.shape[1]):
        return None
    import pandas as pd

    classes = [str(c) for c in dm.classes]
    meta = dm.meta.iloc[rows]
    where = [c for c in ("record", "subject", "session", "window", "onset")
             if c in meta and c not in classes]
    probs = pd.DataFrame(predictions.float().numpy(), columns=classes)
    return pd.concat([meta[where].reset_index(drop=True), probs], axis=1)


def _gather_in_loader_order(trainer, predictions: list, batch_indices: list) -> list:
    """Every rank's batch outputs, on rank 0 as one process would give them: rows in the order
    of the predict loader, in batches of its batch size (each rank predicts its share of the
    windows, every window once). Outputs must be tensors or dicts of tensors, one row per window.
    """
    from torch import distributed as dist

    def rows(output, n):
        if isinstance(output, torch.Tensor) and output.ndim and len(output) == n:
            return list(output.detach().cpu())
        if isinstance(output, dict) and output:
            columns = {k: rows(v, n) for k, v in output.items()}
            return [{k: v[i] for k, v in columns.items()} for i in range(n)]
        raise ConfigError(f"predict under {trainer.world_size} processes needs one row per window "
                          f"in every output, got {type(output).__name__}: predict with "
                          "--trainer.devices 1")

    mine = [(i, row) for output, indices in zip(predictions, batch_indices, strict=True)
            for i, row in zip(indices, rows(output, len(indices)), strict=True)]
    gathered = [None] * trainer.world_size
    dist.all_gather_object(gathered, (mine, max(map(len, batch_indices), default=0)))
    if not trainer.is_global_zero:
        return []
    ordered = [row for _, row in sorted((r for part, _ in gathered for r in part),
                                        key=lambda r: r[0])]
    size = max(size for _, size in gathered) or 1

    def stack(batch):
        if isinstance(batch[0], dict):
            return {k: stack([b[k] for b in batch]) for k in batch[0]}
        return torch.stack(batch)

    return [stack(ordered[i:i + size]) for i in range(0, len(ordered), size)]


def ema_warmup_decay(step: int, max_decay: float = 0.999, update_after_step: int = 100,
                     power: float = 2 / 3, inv_gamma: float = 1.0) -> float:
    """EMA decay used at the ``step``-th (0-based) optimizer step (EEGDM's ``ema-pytorch`` 0.7.7).

    0 (the average is a copy) up to ``update_after_step``; then
    ``min(max_decay, 1 - (1 + (step - update_after_step) / inv_gamma) ** -power)``: 0.797 at
    step 110, 0.998 near 13 k steps, 0.999 only after about 31.7 k steps.
    """
    epoch = step - update_after_step
    if epoch <= 0:
        return 0.0
    return min(max_decay, 1.0 - (1.0 + epoch / inv_gamma) ** -power)


class WarmupEMA(WeightAveraging):
    """EMA of the weights with EEGDM's warm-up (see :func:`ema_warmup_decay`).

    Built on Lightning's :class:`~lightning.pytorch.callbacks.WeightAveraging` (Lightning's
    ``EMAWeightAveraging`` has a fixed decay, so it cannot express the warm-up): the average is
    updated every ``update_every`` optimizer steps (step indices 0, 10, 20, ...), swapped in for
    validation, stored as the checkpoint's ``state_dict`` and copied into the model when
    training ends. Integer buffers are copied, not averaged.
    """

    def __init__(self, max_decay: float = 0.999, update_after_step: int = 100,
                 update_every: int = 10, power: float = 2 / 3, inv_gamma: float = 1.0,
                 device=None, use_buffers: bool = True):
        if not 0 <= max_decay < 1 or update_every < 1 or update_after_step < 0:
            raise ConfigError("WarmupEMA: need 0 <= max_decay < 1, update_every >= 1 and "
                              f"update_after_step >= 0 (got {max_decay}, {update_every}, "
                              f"{update_after_step})")
        super().__init__(device=device, use_buffers=use_buffers, multi_avg_fn=self._average)
        self.max_decay, self.update_after_step = float(max_decay), int(update_after_step)
        self.update_every, self.power, self.inv_gamma = int(update_every), power, inv_gamma
        self.step_idx = 0

    def decay(self) -> float:
        return ema_warmup_decay(self.step_idx, self.max_decay, self.update_after_step,
                                self.power, self.inv_gamma)

    def should_update(self, step_idx=None, epoch_idx=None) -> bool:
        if step_idx is None or step_idx % self.update_every:
            return False
        self.step_idx = int(step_idx)
        return True

    def _average(self, averaged, current, n_averaged) -> None:
        if not averaged[0].is_floating_point():
            torch._foreach_copy_(averaged, current)
            return
        torch._foreach_lerp_(averaged, current, 1.0 - self.decay())


#: ``torch.compile`` modes (see its documentation)
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


class CompileNetworks(pl.Callback):
    """Compile the task's networks (:func:`task_networks`) with ``torch.compile`` at setup.

    Each network is compiled in place (``nn.Module.compile``), so its parameter names, the
    checkpoints and the saved weights are those of the uncompiled network, and so are the
    methods it lists in ``compiled_methods`` (EEGFormer's ``forward_pretrain``); losses and
    metrics outside the networks stay eager (soft-DTW has its own kernels). ``mode`` is
    ``torch.compile``'s: ``"reduce-overhead"`` records CUDA graphs on a GPU, which replay a step's
    kernels with one launch (the recipes' small models are bound by launching kernels, see the
    GPU guide); ``backend="eager"`` only traces (a quick check that a network compiles).
    The first steps are slow (compilation); a new input shape compiles again.
    In a recipe: ``trainer.callbacks: [{class_path: biosig.callbacks.CompileNetworks}]``.
    """

    def __init__(self, mode: str = "default", backend: str = "inductor",
                 fullgraph: bool = False, dynamic: bool | None = None):
        if mode not in COMPILE_MODES:
            raise ConfigError(f"CompileNetworks: mode must be one of {list(COMPILE_MODES)}, "
                              f"got {mode!r}")
        if not isinstance(backend, str) or not backend:
            raise ConfigError(f"CompileNetworks: backend must be a torch.compile backend name, "
                              f"got {backend!r}")
        self.mode, self.backend, self.fullgraph, self.dynamic = mode, backend, fullgraph, dynamic
        #: names of the networks compiled (filled at setup)
        self.compiled: list[str] = []

    def setup(self, trainer, pl_module, stage) -> None:
        networks = task_networks(pl_module)
        if not networks:
            raise ConfigError(f"CompileNetworks: {type(pl_module).__name__} holds no biosig "
                              "network to compile")
        # the "eager" and "aot_eager" backends take no mode
        options = dict(mode=self.mode if self.backend == "inductor" else None,
                       backend=self.backend, fullgraph=self.fullgraph, dynamic=self.dynamic)
        for name, net in networks:
            if name in self.compiled:  # fit then test: compiled once
                continue
            net.compile(**options)
            for method in getattr(net, "compiled_methods", ()):
                # bound to the network through MethodType: a deep copy (an EMA's) rebinds it
                compiled = torch.compile(getattr(type(net), method), **options)
                setattr(net, method, types.MethodType(compiled, net))
            self.compiled.append(name)
        rank_zero_info(f"CompileNetworks: torch.compile({self.mode!r}, backend={self.backend!r}) "
                       f"on {', '.join(n for n, _ in networks)}")


class StopRanksOnSigterm(pl.Callback):
    """On SIGTERM, end every process of a multi-process (DDP) fit at once, exit status 143.

    Lightning's own SIGTERM handler runs a collective (a broadcast) inside the signal handler,
    which deadlocks when the ranks are elsewhere in their step: ``timeout 600 biosig fit ...
    ddp.yaml`` then never ended (ranks alive, idle, after the signal). This handler, set on every
    rank when the fit starts (Lightning restores the previous one when it ends), kills the ranks
    that this process launched (Lightning's subprocess launcher: rank 0 starts the others) and
    raises ``SystemExit``, which Lightning's error path turns into its usual teardown. The
    checkpoints already written stay; the current step is lost, as with any kill.
    """

    def on_sanity_check_start(self, trainer, pl_module) -> None:
        self._replace_handler(trainer)

    def on_train_start(self, trainer, pl_module) -> None:
        self._replace_handler(trainer)

    @staticmethod
    def _replace_handler(trainer) -> None:
        """Lightning registers its handlers after ``on_fit_start``, before these hooks."""
        if trainer.world_size < 2:
            return
        launcher = trainer.strategy.launcher
        rank = trainer.global_rank

        def stop(signum, frame):
            children = getattr(launcher, "procs", None) or []
            for proc in children:  # blocked in a collective with this rank: no clean stop
                proc.kill()
            sys.stderr.write(f"[rank {rank}] SIGTERM: stopping"
                             + (f" and killing {len(children)} rank(s) it started"
                                if children else "") + "\n")
            raise SystemExit(128 + signum)

        signal.signal(signal.SIGTERM, stop)
