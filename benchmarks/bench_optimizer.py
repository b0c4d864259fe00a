#!/usr/bin/env python
"""Fused optimisers (biosig's default) against PyTorch's default implementation.

1. **Optimiser step** of each recipe network at its paper / recipe size, random gradients:
   ``opt.step()`` with the single-tensor loop (PyTorch's CPU default), the multi-tensor
   ``foreach`` kernels (its CUDA default) and the ``fused`` kernel, interleaved, ``--repeats``
   rounds of ``--iters`` steps; printed: each one's median ms and ``default / fused``.
2. **Training step** of each recipe of ``benchmarks/gpu_check.py`` through ``biosig fit``'s
   LightningCLI (batch ``--batch``, ``--steps`` steps, the first ``--warmup`` left out): the
   task's own optimiser (:func:`biosig.tasks.base.make_optimizer`, fused) against the same
   task with ``fused=False`` (PyTorch's default), taking turns in one process; printed: the
   median step time of each and ``default / fused`` per round (min, median over rounds).

Ratios above 1: fused is faster. On CPU (``--threads``, default 1) PyTorch's default is the
loop; with ``--device cuda`` (times synchronised around each round and each step; training in
``--precision``) it is ``foreach``. Run:
``python benchmarks/bench_optimizer.py [--quick] [--only dbconformer cvd_cnn]``, on a GPU
``python benchmarks/bench_optimizer.py --device cuda --precision bf16-mixed``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

#: recipe check name -> (registry model, its arguments) whose optimiser step part 1 times
NETWORKS = {
    "dbconformer": ("dbconformer", dict(n_chans=22, n_outputs=4, n_times=1000, sfreq=250.0)),
    "hveegnet": ("hveegnet", dict(n_chans=22, n_times=1000, sfreq=250.0)),
    "ecgnet_gan": ("ecgnet", dict(n_times=1000, sfreq=100.0)),
    "cvd_cnn": ("cvd_cnn", dict(n_chans=12, n_outputs=5, n_times=1000, sfreq=100.0)),
    "eegdm": ("ssmdp", dict(n_chans=4, n_times=1000, sfreq=200.0)),
    "eegformer": ("eegformer", dict(n_chans=4, n_times=1000, sfreq=250.0)),
}
IMPLEMENTATIONS = {"single": dict(foreach=False, fused=False), "foreach": dict(foreach=True),
                   "fused": dict(fused=True)}


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def optimizer_steps(names: list[str], iters: int, repeats: int, device: str = "cpu") -> None:
    import torch

    from biosig.models._registry import create_model

    default = "foreach" if device == "cuda" else "single"

    print("## Optimiser step (Adam), ms per step: median of", repeats, "rounds of", iters)
    print(f"{'network':12s} {'tensors':>7s} {'params':>9s} {'single':>8s} {'foreach':>8s} "
          f"{'fused':>8s}  default ({default}) / fused")
    for name in names:
        model, kwargs = NETWORKS[name]
        torch.manual_seed(0)
        params = list(create_model(model, **kwargs).to(device).parameters())
        for p in params:
            p.grad = torch.randn_like(p)
        opts = {k: torch.optim.Adam(params, lr=1e-4, **v) for k, v in IMPLEMENTATIONS.items()}
        times: dict[str, list[float]] = {k: [] for k in opts}
        for opt in opts.values():
            opt.step()  # state allocated outside the timing
        for _ in range(repeats):
            for k, opt in opts.items():
                _sync(device)
                t0 = time.perf_counter()
                for _ in range(iters):
                    opt.step()
                _sync(device)
                times[k].append((time.perf_counter() - t0) / iters * 1e3)
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"{model:12s} {len(params):7d} {sum(p.numel() for p in params):9,d} "
              f"{med['single']:8.3f} {med['foreach']:8.3f} {med['fused']:8.3f}  "
              f"{med[default] / med['fused']:.2f}x")


def _step_timer(device: str):
    import lightning.pytorch as pl

    class StepTimer(pl.Callback):
        def __init__(self):
            self.times: list[float] = []

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            _sync(device)
            self._t0 = time.perf_counter()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            _sync(device)
            self.times.append(time.perf_counter() - self._t0)

    return StepTimer()


def training_step(name: str, fused: bool, steps: int, batch: int, workdir: Path,
                  device: str = "cpu", precision: str = "32-true") -> list[float]:
    """Seconds per training step of one gpu_check recipe, fused or PyTorch's default."""
    import gpu_check

    from biosig.cli import lightning_cli

    recipe, _, _ = gpu_check.RECIPES[name]
    overlay = ["--config", str(gpu_check.ROOT / gpu_check.OVERLAYS[name])] \
        if name in gpu_check.OVERLAYS else []
    opt_steps = steps * gpu_check.OPT_STEPS_PER_BATCH.get(name, 1)
    cli = lightning_cli(
        ["--config", str(gpu_check.ROOT / recipe), *overlay,
         "--trainer.accelerator", "gpu" if device == "cuda" else "cpu",
         "--trainer.devices", "1", "--trainer.precision", precision,
         "--trainer.max_steps", str(opt_steps),
         "--trainer.max_epochs", "-1", "--trainer.limit_val_batches", "0",
         "--trainer.num_sanity_val_steps", "0", "--trainer.logger", "false",
         "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
         "--data.batch_size", str(batch),
         "--trainer.default_root_dir", str(workdir / name)], run=False)
    gpu_check._drop_validation_callbacks(cli.trainer)
    if not fused:
        cli.model.fused_optimizer = lambda: False  # the baseline: PyTorch's default
    timer = _step_timer(device)
    cli.trainer.callbacks.append(timer)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    opts = cli.trainer.optimizers
    if any(bool(o.defaults.get("fused")) != fused for o in opts):
        raise RuntimeError(f"{name}: the optimiser is not the one asked for (fused={fused})")
    return timer.times


def training_steps(names: list[str], steps: int, warmup: int, batch: int, repeats: int,
                   workdir: Path, device: str = "cpu", precision: str = "32-true") -> None:
    print(f"\n## Training step through biosig fit (batch {batch}, {steps} steps, first "
          f"{warmup} left out), {repeats} rounds, fused and PyTorch's default taking turns")
    print(f"{'recipe':12s} {'default ms':>10s} {'fused ms':>9s}  default/fused per round "
          "(min, median)")
    for name in names:
        med = {True: [], False: []}
        for r in range(repeats):
            for fused in ((True, False) if r % 2 else (False, True)):
                times = training_step(name, fused, steps, batch, workdir, device,
                                      precision)[warmup:]
                med[fused].append(statistics.median(times) * 1e3)
        ratios = [d / f for d, f in zip(med[False], med[True])]
        print(f"{name:12s} {statistics.median(med[False]):10.2f} "
              f"{statistics.median(med[True]):9.2f}  {min(ratios):.2f}x, "
              f"{statistics.median(ratios):.2f}x  ({', '.join(f'{x:.2f}' for x in ratios)})")


def main(argv=None) -> int:
    import logging
    import tempfile
    import warnings

    import lightning.pytorch  # noqa: F401 - sets its loggers' levels, which are lowered below
    import torch

    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer steps and rounds")
    ap.add_argument("--only", nargs="+", choices=list(NETWORKS), help="these recipes only")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--precision", default="32-true", help="Lightning precision (part 2)")
    ap.add_argument("--iters", type=int, default=None, help="optimiser steps per round")
    ap.add_argument("--repeats", type=int, default=None, help="rounds")
    ap.add_argument("--steps", type=int, default=None, help="training steps per fit")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--skip-training", action="store_true", help="part 1 only")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    for logger in ("lightning", "lightning.pytorch", "lightning.fabric", "biosig"):
        logging.getLogger(logger).setLevel(logging.ERROR)
    names = args.only or list(NETWORKS)
    iters = args.iters or (5 if args.quick else 30)
    repeats = args.repeats or (2 if args.quick else 5)
    steps = args.steps or (args.warmup + (4 if args.quick else 15))
    if args.device == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda: no CUDA device here")
    where = torch.cuda.get_device_name() if args.device == "cuda" else f"{args.threads} thread(s)"
    print(f"torch {torch.__version__}, {where}")
    optimizer_steps(names, iters, repeats, args.device)
    if not args.skip_training:
        train_names = [n for n in names if not (args.quick and n == "hveegnet")]
        with tempfile.TemporaryDirectory() as tmp:
            training_steps(train_names, steps, args.warmup, args.batch, repeats, Path(tmp),
                           args.device, args.precision)
    return 0


if __name__ == "__main__":
    sys.exit(main())
