#!/usr/bin/env python
"""One GPU check for every recipe: bf16 training steps, soft-DTW CUDA vs CPU, a DDP step.

On a machine with a GPU (a few minutes in all)::

    python benchmarks/gpu_check.py --out benchmarks/results

1. **Recipes**: for every recipe in :data:`RECIPES` (DBConformer, hvEEGNet with soft-DTW,
   ECGNet's GAN, CVD CNN, EEGDM's SSMDP pretraining, EEGFormer's VQ pretraining; each on its
   built-in synthetic data), ``biosig fit``'s LightningCLI is built from the recipe with
   ``accelerator=gpu, devices=1, precision=bf16-mixed, max_steps=N`` and trained for N steps.
   Per recipe: the loss of every step (finite? mean of the last third below the first third?),
   the time per step, samples/s, the wait between steps (over 20 % of the time: the loader is
   the bottleneck) and GPU utilisation sampled every 0.1 s by NVML. By default the steps run as
   in training: the device is synchronised only at the start of the first timed step and the
   end of the last, the losses are read after the fit, and the step time is that window over
   its steps, the wait the host's (unsynchronised) median. ``--sync-steps`` synchronises before
   and after every step instead: median time inside a step and between steps, on a GPU that
   idles at every synchronisation. Sync-free on CUDA, the host's synchronisations inside the
   window (``.item()``, ``bool(t)``, a copy to the host, a data-dependent shape: the host waits
   for the GPU) are counted with PyTorch's sync debug mode (``set_sync_debug_mode("warn")``: a
   warning at each): ``host_syncs_per_step`` (1 or more: the host waits every step) and the
   most frequent source lines, ``host_sync_sites``. Registered models no recipe covers are
   listed.
2. **Soft-DTW**: values and gradients of the CUDA path (Triton kernel where installed, and the
   PyTorch wavefront) against the CPU reference, float32 and float64; and the speed of a
   forward + backward at hvEEGNet's paper size (30 x 22 sequences of T = 1000) of each CUDA
   path, against the fused C++ kernel on this machine's CPU in the same run.
3. **DDP**: one DistributedDataParallel step of DBConformer on every visible GPU (NCCL),
   checking the gradients agree across ranks.
4. **torch.compile** (``--compile MODE ...``): each recipe again with its networks compiled
   (:class:`biosig.callbacks.CompileNetworks`, e.g. ``reduce-overhead``: CUDA graphs against
   the launch cost of small models), its step time and GPU utilisation against the eager run of
   the same recipe in this run (the first ``COMPILE_WARMUP`` steps, which compile, left out).

Writes ``gpu_check_<date>_<device>.json`` and ``.md`` (date, GPU name, the arguments, every
figure) to ``--out``. ``--device cpu --tiny`` runs the same plumbing on CPU (2 steps, small
batches, bf16 autocast on CPU, gloo DDP with 2 processes), as the test suite does.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import math
import os
import platform
import re
import shlex
import statistics
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: check name -> (recipe, registered models it trains, key of the loss that must decrease)
RECIPES: dict[str, tuple[str, tuple[str, ...], str | None]] = {
    "dbconformer": ("recipes/synthetic/dbconformer.yaml", ("dbconformer",), None),
    "hveegnet": ("recipes/synthetic/hveegnet.yaml", ("hveegnet",), None),
    "ecgnet_gan": ("recipes/ptbxl/ecgnet.yaml", ("ecgnet", "ecgnet_critic"), "train_l1"),
    "cvd_cnn": ("recipes/ptbxl/cvd_cnn.yaml", ("cvd_cnn",), None),
    "eegdm": ("recipes/synthetic/eegdm_pretrain.yaml", ("ssmdp", "eegdm", "lft"), None),
    "eegformer": ("recipes/synthetic/eegformer_pretrain.yaml",
                  ("eegformer", "eegformer_s", "eegformer_b", "eegformer_l"), None),
}

#: config overlays that put a recipe on its built-in data (the PTB-XL recipes read real records)
OVERLAYS = {"ecgnet_gan": "recipes/ptbxl/simulator.yaml", "cvd_cnn": "recipes/ptbxl/simulator.yaml"}

#: optimizer steps per batch where it is not 1 (ECGNet's recipe: n_critic = 1)
OPT_STEPS_PER_BATCH = {"ecgnet_gan": 2}

#: steps left out of a compiled run's figures: compilation, then CUDA-graph recording
COMPILE_WARMUP = 3


# ---------------------------------------------------------------------------------------------
# GPU utilisation
class _UtilSampler:
    """Samples GPU utilisation (%) every ``period`` s in a thread via NVML (pynvml) when present,
    each with its ``time.perf_counter()`` time, so that set-up and warm-up can be left out."""

    def __init__(self, device_index: int = 0, period: float = 0.1):
        self.samples: list[tuple[float, float]] = []
        self.period = period
        self.source = None
        self._stop = threading.Event()
        self._handle = None
        try:
            import pynvml

            pynvml.nvmlInit()
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(device_index)
            self._nvml = pynvml
            self.source = "nvml"
        except Exception:  # noqa: BLE001 - no NVML: utilisation is reported as unknown
            self.source = None

    def _loop(self):
        while not self._stop.wait(self.period):
            util = float(self._nvml.nvmlDeviceGetUtilizationRates(self._handle).gpu)
            self.samples.append((time.perf_counter(), util))

    def __enter__(self):
        if self.source:
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self.source:
            self._thread.join()
        return False

    def mean(self, start: float = -math.inf, end: float = math.inf) -> float | None:
        """Mean utilisation of the samples taken between ``start`` and ``end``."""
        inside = [u for t, u in self.samples if start <= t <= end]
        return statistics.fmean(inside) if inside else None


# ---------------------------------------------------------------------------------------------
# recipes
def _step_meter(steps: int, warmup: int, sync_steps: bool = False, syncs=None):
    """A callback that times ``steps`` training steps, the first ``warmup`` not in the window;
    ``syncs`` (a :class:`_HostSyncCounter`) counts the host's synchronisations in the window."""
    import lightning.pytorch as pl
    import torch

    def keep(value):
        """A float32 copy on the value's device, read once the fit is over (a read now would
        wait for the device)."""
        return value.detach().to(torch.float32, copy=True)

    class StepMeter(pl.Callback):
        """Host times of every step's start and end, samples, the loss and the logged ``train*``
        scalars (kept as device tensors, read at the fit's end). The device is synchronised when
        the first timed step starts and when step ``steps`` ends, the window between them timed
        with the host free to run ahead; ``sync_steps``: before and after every step too."""

        def __init__(self):
            self.starts, self.ends, self.samples, self.losses, self.logged = [], [], [], [], []
            self.window_start = self.window_end = None

        def on_fit_start(self, trainer, pl_module):
            log = pl_module.log
            meter = self

            def log_and_keep(name, value, *a, **kw):  # manual-optimisation tasks log losses
                if name.startswith("train") and torch.is_tensor(value) and value.numel() == 1:
                    meter._step_logs[name] = keep(value)
                return log(name, value, *a, **kw)

            pl_module.log = log_and_keep

        def _sync(self, pl_module):
            if pl_module.device.type == "cuda":
                torch.cuda.synchronize(pl_module.device)

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            self._step_logs = {}
            first_timed = len(self.starts) == warmup
            if sync_steps or first_timed:
                self._sync(pl_module)
            if first_timed and syncs is not None:
                syncs.start()
            self.starts.append(time.perf_counter())
            if first_timed:
                self.window_start = self.starts[-1]

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            last = len(self.ends) + 1 == steps
            if last and syncs is not None:
                syncs.stop()
            if sync_steps or last:
                self._sync(pl_module)
            self.ends.append(time.perf_counter())
            if last:
                self.window_end = self.ends[-1]
            self.samples.append(_batch_size(batch))
            loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
            self.losses.append(keep(loss) if torch.is_tensor(loss) else None)
            self.logged.append(self._step_logs)

        def on_train_end(self, trainer, pl_module):
            if self.window_start is not None and self.window_end is None:  # stopped early
                if syncs is not None:
                    syncs.stop()
                self._sync(pl_module)
                self.window_end = time.perf_counter()

        def on_fit_end(self, trainer, pl_module):
            self.losses = [None if v is None else float(v) for v in self.losses]
            self.logged = [{k: float(v) for k, v in d.items()} for d in self.logged]

    return StepMeter()


#: the UserWarning of PyTorch's sync debug mode at every synchronising CUDA call (PyTorch adds
#: where in its C++ code it was triggered)
SYNC_WARNING = "called a synchronizing CUDA operation"

#: source lines of the host's synchronisations listed per recipe (the most frequent)
SYNC_SITES = 5


class _HostSyncCounter:
    """Counts the synchronising CUDA calls between :meth:`start` and :meth:`stop` by source line,
    with PyTorch's sync debug mode ("warn": a UserWarning at each such call). Other warnings are
    filtered and shown as before; :meth:`stop` restores the warning filters,
    ``warnings.showwarning`` and the debug mode (and does nothing when not counting)."""

    def __init__(self):
        self.sites: collections.Counter[str] = collections.Counter()
        self._counting = None  # (the saved warning state, the previous debug mode)

    def start(self) -> None:
        import torch

        saved = warnings.catch_warnings()  # restores the filters and showwarning on __exit__
        saved.__enter__()
        try:
            # every one shown, whatever the filters ("default": once per source line)
            warnings.filterwarnings("always", re.escape(SYNC_WARNING), UserWarning)
            show_others = warnings.showwarning

            def show(message, category, filename, lineno, file=None, line=None):
                if issubclass(category, UserWarning) and str(message).startswith(SYNC_WARNING):
                    self.sites[_sync_site(filename, lineno)] += 1
                else:
                    show_others(message, category, filename, lineno, file, line)

            warnings.showwarning = show
            previous = torch.cuda.get_sync_debug_mode()
            torch.cuda.set_sync_debug_mode("warn")
        except BaseException:
            saved.__exit__(None, None, None)
            raise
        self._counting = (saved, previous)

    def stop(self) -> None:
        import torch

        if self._counting is None:
            return
        saved, previous = self._counting
        self._counting = None
        try:
            torch.cuda.set_sync_debug_mode(previous)
        finally:
            saved.__exit__(None, None, None)

    def figures(self, steps: int) -> dict:
        """``host_syncs_per_step`` over ``steps`` timed steps, the most frequent sites."""
        total = sum(self.sites.values())
        return {"host_syncs_per_step": round(total / steps, 2) if steps > 0 else None,
                "host_sync_sites": [[k, n] for k, n in self.sites.most_common(SYNC_SITES)]}


def _sync_site(filename: str, lineno: int) -> str:
    """``path:line`` of a synchronisation (paths from site-packages or this repository); inside
    torch's own Python code also the first caller outside it (``torch/... <- caller``)."""
    import torch

    site = f"{_short_path(filename)}:{lineno}"
    torch_dir = os.path.dirname(torch.__file__) + os.sep
    if not filename.startswith(torch_dir):
        return site
    skip = (torch_dir, warnings.__file__, __file__)
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(skip):
        frame = frame.f_back
    if frame is None:
        return site
    return f"{site} <- {_short_path(frame.f_code.co_filename)}:{frame.f_lineno}"


def _short_path(filename: str) -> str:
    filename = re.sub(r".*[/\\](site|dist)-packages[/\\]", "", filename)
    root = str(ROOT) + os.sep
    return filename[len(root):] if filename.startswith(root) else filename


def _batch_size(batch) -> int:
    import torch

    if torch.is_tensor(batch):
        return int(batch.shape[0])
    if isinstance(batch, dict):
        batch = list(batch.values())
    if isinstance(batch, (list, tuple)):
        for b in batch:
            n = _batch_size(b)
            if n:
                return n
    return 0


def _loss_series(meter, key: str | None) -> tuple[str, list[float]]:
    if key is None and all(v is not None for v in meter.losses):
        return "loss", meter.losses
    keys = [key] if key else []
    keys += sorted({k for d in meter.logged for k in d if "loss" in k})
    for k in keys:
        vals = [d.get(k) for d in meter.logged]
        if vals and all(v is not None for v in vals):
            return k, vals
    return "loss", [v for v in meter.losses if v is not None]


def _decreasing(vals: list[float]) -> bool | None:
    """Mean of the last third below the mean of the first third (None: too few steps)."""
    if len(vals) < 3:
        return None
    t = max(1, len(vals) // 3)
    return statistics.fmean(vals[-t:]) < statistics.fmean(vals[:t])


def _drop_validation_callbacks(trainer) -> None:
    """Validation is off in these step checks: callbacks that watch a validation metric
    (early stopping, best-checkpoint selection) would stop the run for a missing metric."""
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    trainer.callbacks[:] = [
        c for c in trainer.callbacks
        if not isinstance(c, EarlyStopping)
        and not (isinstance(c, ModelCheckpoint) and c.monitor is not None)
    ]


def run_recipe(name: str, device: str, steps: int, precision: str, tiny: bool,
               workdir: Path, batch_size: int | None = None,
               settings: list[list[str]] = (), compile_mode: str | None = None,
               sync_steps: bool = False) -> dict:
    """N training steps of one recipe through the LightningCLI; figures as a dict.
    ``batch_size`` replaces the recipe's (``--tiny``: 4); ``settings`` are ``[key, value]``
    pairs given to the CLI last (``--key value``); ``compile_mode``: the networks compiled
    (:class:`~biosig.callbacks.CompileNetworks`; the first ``COMPILE_WARMUP`` steps left out of
    the figures instead of one); ``sync_steps``: per-step times (:func:`_timing_figures`)."""
    from biosig.callbacks import CompileNetworks
    from biosig.cli import lightning_cli

    recipe, _, loss_key = RECIPES[name]
    # Lightning counts optimizer steps: the GAN (manual optimisation) steps critic + generator
    steps_arg = str(steps * OPT_STEPS_PER_BATCH.get(name, 1))
    overlay = ["--config", str(ROOT / OVERLAYS[name])] if name in OVERLAYS else []
    args = ["--config", str(ROOT / recipe), *overlay,
            "--trainer.accelerator", "gpu" if device == "cuda" else "cpu",
            "--trainer.devices", "1", "--trainer.precision", precision,
            "--trainer.max_steps", steps_arg, "--trainer.max_epochs", "-1",
            "--trainer.limit_val_batches", "0", "--trainer.num_sanity_val_steps", "0",
            "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
            "--trainer.enable_model_summary", "false",
            "--trainer.default_root_dir",
            str(workdir / (f"{name}_{compile_mode}" if compile_mode else name))]
    if tiny or batch_size:
        args += ["--data.batch_size", str(batch_size or 4)]
    if device == "cuda" and not tiny:
        args += ["--config", str(ROOT / "recipes/configs/trainer/gpu.yaml"),
                 "--trainer.precision", precision, "--trainer.max_steps", steps_arg]
    for key, value in settings:
        args += [f"--{key}", value]
    out: dict = {"recipe": recipe, "precision": precision, "steps": steps}
    t0 = time.perf_counter()
    try:
        cli = lightning_cli(args, run=False)
        _drop_validation_callbacks(cli.trainer)
        warm = max(min(COMPILE_WARMUP if compile_mode else 1, steps - 1), 0)  # compile / warm up
        # the meter synchronises every step with sync_steps: nothing left to count
        syncs = _HostSyncCounter() if device == "cuda" and not sync_steps else None
        meter = _step_meter(steps, warm, sync_steps, syncs)
        cli.trainer.callbacks.append(meter)
        if compile_mode:
            out["compile_mode"] = compile_mode
            cli.trainer.callbacks.append(CompileNetworks(compile_mode))
        out["setup_s"] = round(time.perf_counter() - t0, 1)
        util = _fit(cli, device, syncs)
    except Exception as e:  # noqa: BLE001 - one broken recipe must not hide the others
        out.update(ok=False, error=f"{type(e).__name__}: {e}"[:2000])
        return out
    loss_key, vals = _loss_series(meter, loss_key)
    finite = bool(vals) and all(math.isfinite(v) for v in vals)
    out.update(loss_key=loss_key, losses=[round(v, 6) for v in vals], finite=finite,
               decreasing=_decreasing(vals), steps_run=len(meter.ends),
               **_timing_figures(meter, warm, sync_steps, util))
    out.update(syncs.figures(len(meter.ends) - warm) if syncs is not None
               else {"host_syncs_per_step": None, "host_sync_sites": None})
    out["ok"] = finite and out["decreasing"] is not False and len(meter.ends) == steps
    return out


def _fit(cli, device: str, syncs: _HostSyncCounter | None):
    """``cli``'s fit, GPU utilisation sampled on CUDA (the sampler returned); the warning
    filters and the sync debug mode restored even where the fit raises in the window."""
    import torch

    try:
        sampler = _UtilSampler(torch.cuda.current_device()) if device == "cuda" else _NoSampler()
        with sampler as util:
            cli.trainer.fit(cli.model, datamodule=cli.datamodule)
        return util
    finally:
        if syncs is not None:
            syncs.stop()


def _timing_figures(meter, warm: int, sync_steps: bool, util) -> dict:
    """Step time, wait, samples/s and GPU utilisation of the steps after the first ``warm``.

    Sync-free (the default): ``step_s`` is the window's wall time (the device synchronised at
    the start of the first timed step and the end of the last, nowhere between) over its steps,
    the host free to run ahead; ``host_step_s`` / ``host_wait_s`` are the host's median time
    inside a step and between steps (the loader's next batch and Lightning's loop), and
    ``loader_share`` is ``host_wait_s / step_s``: an upper bound, since the device may still
    be busy with the last step while the host waits. ``sync_steps``: ``step_s`` and ``wait_s``
    are medians of synchronised per-step times, ``loader_share`` is ``wait / (step + wait)``.
    GPU utilisation is NVML's mean over the window in both; ``first_steps_s``: from the first
    step's start to the window's (the steps left out and their waits)."""
    times = [e - s for s, e in zip(meter.starts, meter.ends)]
    waits = [b - a for a, b in zip(meter.ends, meter.starts[1:])]
    times, waits = times[warm:] or times, waits[warm:] or waits  # 2-step runs: the one wait
    start, end = meter.window_start, meter.window_end
    bs = statistics.median(meter.samples) if meter.samples else 0
    out = {"warmup_steps": warm, "batch_size": bs, "gpu_util_source": util.source,
           "first_steps_s": None if start is None else round(start - meter.starts[0], 2),
           "step_s": None, "wait_s": None, "samples_per_s": None, "gpu_util_pct": None,
           "loader_share": None, "loader_ok": None}
    if start is None or end is None or not times:
        return out
    wait = statistics.median(waits) if waits else 0.0
    if sync_steps:
        step = statistics.median(times)
        out["wait_s"] = round(wait, 4)
        per_step = step + wait
        loader = wait / per_step if per_step > 0 else None
    else:
        step = per_step = (end - start) / (len(meter.ends) - warm)
        out.update(host_step_s=round(statistics.median(times), 4), host_wait_s=round(wait, 4))
        loader = wait / step if step > 0 else None
    util_pct = util.mean(start, end)
    out.update(step_s=round(step, 4),
               samples_per_s=round(bs / per_step, 1) if per_step > 0 else None,
               gpu_util_pct=None if util_pct is None else round(util_pct, 1),
               loader_share=None if loader is None else round(loader, 3))
    # the loader is the bottleneck when steps wait for batches (not when the GPU idles inside a
    # step, launch-bound on a small model: gpu_util_pct tells that apart)
    out["loader_ok"] = None if loader is None else loader <= 0.2
    return out


class _NoSampler:
    source = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def mean(self, start=None, end=None):
        return None


def uncovered_models() -> list[str]:
    from biosig.models import list_models

    covered = {m for _, models, _ in RECIPES.values() for m in models}
    return [m for m in list_models() if m not in covered]


# ---------------------------------------------------------------------------------------------
# soft-DTW
def check_soft_dtw(device: str) -> dict:
    """CUDA (or, on CPU, the fused kernel) against the CPU PyTorch reference: values + grads."""
    import torch

    from biosig.losses import soft_dtw

    res = {}
    backends = ["auto", "torch"] if device == "cuda" else ["cpu_kernel"]
    for dtype in (torch.float32, torch.float64):
        g = torch.Generator().manual_seed(0)
        x = torch.randn(4, 3, 120, generator=g, dtype=dtype) * 10
        y = torch.randn(4, 3, 100, generator=g, dtype=dtype) * 10
        xr = x.clone().requires_grad_()
        ref = soft_dtw(xr, y, 1.0, backend="torch")
        (gref,) = torch.autograd.grad(ref.sum(), xr)
        for be in backends:
            xd = x.to(device).requires_grad_()
            try:
                v = soft_dtw(xd, y.to(device), 1.0, backend=be)
                (gd,) = torch.autograd.grad(v.sum(), xd)
            except Exception as e:  # noqa: BLE001
                res[f"{be}/{str(dtype)[6:]}"] = {"ok": False, "error": f"{type(e).__name__}: {e}"}
                continue
            v, ref = v.detach(), ref.detach()
            dv = float(((v.cpu() - ref).abs() / ref.abs().clamp(min=1e-12)).max())
            dg = float((gd.cpu() - gref).abs().max() / gref.abs().max())
            tol = 1e-3 if dtype == torch.float32 else 1e-9
            res[f"{be}/{str(dtype)[6:]}"] = {"value_rel_err": dv, "grad_rel_err": dg,
                                             "ok": dv < tol and dg < tol}
    return res


def time_soft_dtw(device: str, tiny: bool, repeats: int = 3) -> dict:
    """Forward + backward of soft-DTW (gamma 1) at hvEEGNet's paper size, batch 30 x 22
    channels x T = 1000 (``--tiny``: 2 x 3 x 100), per backend: the fused C++ kernel on this
    machine's CPU (all its cores) as the baseline, and on CUDA the Triton kernel and the PyTorch
    wavefront. Median of ``repeats`` after one warm-up (compilation) call; DP cells per second
    and the ratio to the CPU kernel, all measured in this run."""
    import torch

    from biosig.losses import soft_dtw

    shape = (2, 3, 100) if tiny else (30, 22, 1000)
    runs = [("cpu_kernel", "cpu")]
    if device == "cuda":
        runs += [("triton", "cuda"), ("torch", "cuda")]
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(*shape, generator=g) * 10
    y0 = torch.randn(*shape, generator=g) * 10
    cells = shape[0] * shape[1] * shape[2] * shape[2]
    res: dict = {"shape": list(shape), "repeats": repeats}
    for backend, dev in runs:
        x, y = x0.to(dev).requires_grad_(), y0.to(dev)
        try:
            times = [_timed_soft_dtw(soft_dtw, x, y, backend) for _ in range(repeats + 1)][1:]
        except Exception as e:  # noqa: BLE001 - reported, the other backends still run
            res[f"{backend}/{dev}"] = {"ok": False, "error": f"{type(e).__name__}: {e}"[:500]}
            continue
        med = statistics.median(times)
        res[f"{backend}/{dev}"] = {"ok": True, "step_s": round(med, 4), "cells_per_s": cells / med}
    base = res.get("cpu_kernel/cpu", {}).get("step_s")
    for r in res.values():
        if isinstance(r, dict) and r.get("ok") and base:
            r["vs_cpu_kernel"] = round(base / r["step_s"], 2)
    return res


def _timed_soft_dtw(soft_dtw, x, y, backend: str) -> float:
    """Seconds of one forward + backward (the device synchronised)."""
    import torch

    t0 = time.perf_counter()
    soft_dtw(x, y, 1.0, backend=backend).sum().backward()
    if x.device.type == "cuda":
        torch.cuda.synchronize(x.device)
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------
# DDP
def _ddp_worker(rank: int, world: int, backend: str, port: int, out_file: str):
    import torch
    import torch.distributed as dist

    from biosig.models.dbconformer import DBConformer

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group(backend, rank=rank, world_size=world)
    dev = torch.device("cuda", rank) if backend == "nccl" else torch.device("cpu")
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    torch.manual_seed(0)
    model = DBConformer(n_chans=22, n_outputs=2, n_times=1001, sfreq=250.0, depth=1).to(dev)
    ddp = torch.nn.parallel.DistributedDataParallel(model, device_ids=[rank] if
                                                     dev.type == "cuda" else None)
    torch.manual_seed(rank)  # different data per rank
    x = torch.randn(4, 22, 1001, device=dev)
    y = torch.randint(0, 2, (4,), device=dev)
    t0 = time.perf_counter()
    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
        loss = torch.nn.functional.cross_entropy(ddp(x), y)
    loss.backward()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    step = time.perf_counter() - t0
    gn = torch.stack([p.grad.float().norm() for p in model.parameters() if p.grad is not None])
    gathered = [torch.zeros_like(gn) for _ in range(world)]
    dist.all_gather(gathered, gn)
    agree = all(torch.allclose(gathered[0], g, rtol=1e-4, atol=1e-6) for g in gathered)
    if rank == 0:
        Path(out_file).write_text(json.dumps({
            "world_size": world, "backend": backend, "loss": float(loss.detach()),
            "grads_agree": bool(agree), "step_s": round(step, 4)}))
    dist.destroy_process_group()


def check_ddp(device: str, workdir: Path, timeout: int = 600) -> dict:
    """One DDP step in ``world`` processes (this script with ``--ddp-worker``, one per rank)."""
    import socket
    import subprocess

    import torch

    world = torch.cuda.device_count() if device == "cuda" else 2
    backend = "nccl" if device == "cuda" else "gloo"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out_file = workdir / "ddp.json"
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"]
                                     if env.get("PYTHONPATH") else "")
    procs = [subprocess.Popen([sys.executable, __file__, "--ddp-worker", str(r), str(world),
                               backend, str(port), str(out_file)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for r in range(world)]
    try:
        logs = [p.communicate(timeout=timeout)[0] for p in procs]
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        return {"ok": False, "world_size": world, "backend": backend,
                "error": f"timeout after {timeout} s"}
    codes = [p.returncode for p in procs]
    if any(codes) or not out_file.exists():
        return {"ok": False, "world_size": world, "backend": backend,
                "error": f"exit codes {codes}: " + " | ".join(x[-600:] for x in logs)}
    res = json.loads(out_file.read_text())
    res["ok"] = res["grads_agree"] and math.isfinite(res["loss"])
    return res


# ---------------------------------------------------------------------------------------------
# report
def machine(device: str) -> dict:
    import torch

    info = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "device": device, "torch": torch.__version__, "python": platform.python_version(),
            "cpus": os.cpu_count()}
    if device == "cuda":
        info.update(gpu=torch.cuda.get_device_name(0), gpu_count=torch.cuda.device_count(),
                    cuda=torch.version.cuda)
        try:
            import triton

            info["triton"] = triton.__version__
        except ImportError:
            info["triton"] = None
    else:
        info["gpu"] = "none (CPU plumbing run)"
    return info


#: the markdown report's note on its timing figures, by mode: the default, or ``--sync-steps``
TIMING_NOTES = {
    "sync-free": (
        "Timing: sync-free (the default; `--sync-steps` gives per-step figures). Step s: wall "
        "time from the start of the first timed step to the end of the last over their number, "
        "the device synchronised only there, so the host runs ahead of the GPU as in training; "
        "host wait s: the host's median time between steps (the loader's next batch and "
        "Lightning's loop; the GPU may still be busy meanwhile); samples/s: batch / step; "
        "GPU util: NVML's busy share, sampled every 0.1 s over the same window; host "
        "syncs/step: the synchronising CUDA calls in the window (PyTorch's sync debug mode; on "
        "CUDA only) over its steps, 1 or more meaning the host waits for the GPU every step "
        "(their source lines: `host_sync_sites` in the JSON). The first step (compiled: the "
        "first 3) left out."),
    "per-step sync": (
        "Timing: per step (`--sync-steps`): the device synchronised before and after every "
        "step, which idles the GPU between steps, so its busy share is lower than in training. "
        "Step s: median time inside a step; wait s: median time between steps (the loader's "
        "next batch and Lightning's loop); samples/s: batch / (step + wait); GPU util: NVML's "
        "busy share, sampled every 0.1 s from the start of the first timed step to the end of "
        "the last; host syncs/step: not counted (the meter synchronises every step). The first "
        "step (compiled: the first 3) left out."),
}


def markdown(report: dict) -> str:
    m = report["machine"]
    wait_key, wait_head = (("wait_s", "wait s") if report["timing"] == "per-step sync"
                           else ("host_wait_s", "host wait s"))
    lines = [f"# GPU check: {m['gpu']}, {m['date']}", "",
             f"Command: `python benchmarks/gpu_check.py {shlex.join(report['command'])}`", "",
             ", ".join(f"{k}: {v}" for k, v in m.items()), "", "## Recipes", "",
             "| check | recipe | precision | batch | steps | loss (first -> last) | finite "
             f"| decreasing | step s | {wait_head} | samples/s "
             "| GPU util % | host syncs/step | ok |", "|" + "---|" * 14]
    for name, r in report["recipes"].items():
        if "error" in r:
            lines.append(f"| {name} | {r['recipe']} | {r['precision']} | | - | "
                         f"error: {r['error'][:120]} | | | | | | | | **no** |")
            continue
        ls = r["losses"]
        lines.append(
            f"| {name} | {r['recipe']} | {r['precision']} | {r['batch_size']:g} | {r['steps_run']} "
            f"| {r['loss_key']}: {ls[0]:.4g} -> {ls[-1]:.4g} | {r['finite']} | {r['decreasing']} "
            f"| {r['step_s']} | {r.get(wait_key)} | {r['samples_per_s']} | {r['gpu_util_pct']} "
            f"| {r.get('host_syncs_per_step')} | {'yes' if r['ok'] else '**no**'} |")
    lines += ["", TIMING_NOTES[report["timing"]], "",
              f"Registered models without a recipe in this check: "
              f"{', '.join(report['uncovered_models']) or 'none'}", "", "## Soft-DTW", "",
              "| backend/dtype | value rel. err | grad rel. err | ok |", "|---|---|---|---|"]
    for k, r in report["soft_dtw"].items():
        lines.append(f"| {k} | {r.get('value_rel_err', r.get('error'))} | "
                     f"{r.get('grad_rel_err', '')} | {r['ok']} |")
    speed = report.get("soft_dtw_speed", {})
    lines += ["", f"Soft-DTW forward + backward, shape {speed.get('shape')} (batch, channels, T), "
              f"median of {speed.get('repeats')}:", "",
              "| backend/device | step s | DP cells/s | vs CPU kernel |", "|---|---|---|---|"]
    for k, r in speed.items():
        if isinstance(r, dict):
            rate = f"{r['cells_per_s']:.3g}" if "cells_per_s" in r else ""
            lines.append(f"| {k} | {r.get('step_s', r.get('error'))} | {rate} "
                         f"| {r.get('vs_cpu_kernel', '')} |")
    lines += _compile_lines(report)
    d = report["ddp"]
    lines += ["", "## DDP", "", "```", json.dumps(d, indent=1), "```", "",
              f"**All checks passed: {report['ok']}**", ""]
    return "\n".join(lines)


def compare_compiled(eager: dict, compiled: dict) -> dict:
    """A compiled run's figures against the eager run of the same recipe (same process):
    ``speedup`` = eager time per step over compiled (step, + wait where per-step synchronised:
    a sync-free step time holds the wait)."""
    if "error" in compiled or "error" in eager:
        return compiled
    eager_total, total = _per_step_s(eager), _per_step_s(compiled)
    return {**compiled, "eager_step_s": eager["step_s"],
            "eager_gpu_util_pct": eager["gpu_util_pct"],
            "speedup": round(eager_total / total, 2) if eager_total and total else None}


def _per_step_s(r: dict) -> float | None:
    return None if r["step_s"] is None else r["step_s"] + (r["wait_s"] or 0.0)


def _compile_lines(report: dict) -> list[str]:
    runs = report.get("compiled") or {}
    if not runs:
        return []
    lines = ["", "## torch.compile", "",
             f"Each recipe with its networks compiled (biosig.callbacks.CompileNetworks), "
             f"against its eager run above in this run; the first {COMPILE_WARMUP} steps "
             "(compilation, CUDA-graph recording; fewer in a shorter run) left out, their time "
             "given.", "",
             "| check | mode | eager step s | compiled step s | speed-up | GPU util % eager -> "
             "compiled | steps left out: s | ok |", "|" + "---|" * 8]
    for key, r in runs.items():
        name = key.split("+")[0]
        if "error" in r:
            lines.append(f"| {name} | {r.get('compile_mode')} | | error: {r['error'][:120]} "
                         "| | | | **no** |")
            continue
        lines.append(f"| {name} | {r['compile_mode']} | {r['eager_step_s']} | {r['step_s']} | "
                     f"{r['speedup']}x | {r['eager_gpu_util_pct']} -> {r['gpu_util_pct']} | "
                     f"{r['warmup_steps']}: {r['first_steps_s']} | "
                     f"{'yes' if r['ok'] else '**no**'} |")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--tiny", action="store_true", help="2 steps, batch 4 (plumbing test)")
    ap.add_argument("--steps", type=int, default=None, help="training steps per recipe (30)")
    ap.add_argument("--only", nargs="+", choices=sorted(RECIPES), default=None)
    ap.add_argument("--batch-size", type=int, default=None,
                    help="batch size for every recipe instead of its own (GPU load vs. batch)")
    ap.add_argument("--set", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                    help="a config value for every recipe run, e.g. --set "
                         "data.source.init_args.n_trials_per_class 400 (more synthetic data)")
    ap.add_argument("--compile", nargs="+", default=[], metavar="MODE",
                    choices=["default", "reduce-overhead", "max-autotune",
                             "max-autotune-no-cudagraphs"],
                    help="also run each recipe with its networks compiled in these "
                         "torch.compile modes, against its eager run")
    ap.add_argument("--sync-steps", action="store_true",
                    help="synchronise the device before and after every training step: per-step "
                         "step and wait times (the loader check), at the cost of an idle GPU "
                         "between steps (the default times a window, synchronised at its ends)")
    ap.add_argument("--skip-ddp", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--ddp-worker", nargs=5, help=argparse.SUPPRESS)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = ap.parse_args(argv)
    if args.ddp_worker:
        rank, world, backend, port, out_file = args.ddp_worker
        _ddp_worker(int(rank), int(world), backend, int(port), out_file)
        return 0
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; use --device cpu --tiny for the plumbing",
              file=sys.stderr)
        return 2
    steps = args.steps or (2 if args.tiny else 30)
    workdir = Path(tempfile.mkdtemp(prefix="biosig_gpu_check_"))
    report = {"machine": machine(args.device), "command": argv,
              "timing": "per-step sync" if args.sync_steps else "sync-free", "recipes": {}}
    print(", ".join(f"{k}: {v}" for k, v in report["machine"].items()), flush=True)
    for name in args.only or list(RECIPES):  # bf16 autocast, on CPU too (the plumbing run)
        r = run_recipe(name, args.device, steps, "bf16-mixed", args.tiny, workdir,
                       args.batch_size, args.set, sync_steps=args.sync_steps)
        report["recipes"][name] = r
        print(f"{name}: " + json.dumps({k: v for k, v in r.items() if k != "losses"}), flush=True)
        for mode in args.compile:
            c = compare_compiled(r, run_recipe(name, args.device, steps, "bf16-mixed", args.tiny,
                                               workdir, args.batch_size, args.set, mode,
                                               args.sync_steps))
            report.setdefault("compiled", {})[f"{name}+{mode}"] = c
            print(f"{name} compiled ({mode}): "
                  + json.dumps({k: v for k, v in c.items() if k != "losses"}), flush=True)
    report["uncovered_models"] = uncovered_models()
    report["soft_dtw"] = check_soft_dtw(args.device)
    print("soft-DTW: " + json.dumps(report["soft_dtw"]), flush=True)
    report["soft_dtw_speed"] = time_soft_dtw(args.device, args.tiny)
    print("soft-DTW speed: " + json.dumps(report["soft_dtw_speed"]), flush=True)
    report["ddp"] = {"skipped": True, "ok": True} if args.skip_ddp else check_ddp(args.device,
                                                                                 workdir)
    print("DDP: " + json.dumps(report["ddp"]), flush=True)
    report["ok"] = (all(r.get("ok") for r in report["recipes"].values())
                    and all(r.get("ok") for r in report.get("compiled", {}).values())
                    and all(r["ok"] for r in report["soft_dtw"].values()) and report["ddp"]["ok"]
                    and all(r["ok"] for r in report["soft_dtw_speed"].values()
                            if isinstance(r, dict)))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tag = re.sub(r"[^A-Za-z0-9]+", "_", report["machine"]["gpu"]).strip("_")[:40]
    stem = f"gpu_check_{report['machine']['date'][:10]}_{tag}"
    (out / f"{stem}.json").write_text(json.dumps(report, indent=1))
    (out / f"{stem}.md").write_text(markdown(report))
    print(f"report: {out / stem}.md / .json; all checks passed: {report['ok']}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
