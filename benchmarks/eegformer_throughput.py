#!/usr/bin/env python
"""EEGFormer pretraining throughput: windows/s per device (issue 11, "Scale").

1. The bare training step (``forward_pretrain`` + reconstruction/VQ loss + backward + AdamW)
   of ``eegformer_s/b/l`` at the paper's input (19 channels x 12 s at 250 Hz = 3,000 samples;
   the encoder runs every channel, so the cost is per channel-window), on random windows.
2. The whole ``biosig fit`` path at the built-in data's input (22 channels x 4 s at 250 Hz):
   ``VQTask`` + ``BiosigDataModule`` (window cache memmap, the resumable DDP-ready sampler) +
   a Lightning ``Trainer``, against the bare step on the same input in the same run: the ratio
   is what the loader and Lightning cost.

Windows/s are per device (one process). On a GPU (``--device cuda``) bf16 autocast is used.
A DDP run on N devices reads N disjoint parts of each epoch, so its windows/s is N x the
per-device figure minus the all-reduce of 1.9-3.2 M gradients per step.

Run: ``PYTHONPATH=. python benchmarks/eegformer_throughput.py [--threads 1] [--steps 6]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from biosig.models import create_model


def bare_steps(name: str, n_chans: int, n_times: int, batch: int, steps: int, device: str,
               **model_kw) -> float:
    """Windows/s of the bare pretraining step (1 warm-up step not timed)."""
    torch.manual_seed(0)
    net = create_model(name, n_chans=n_chans, n_times=n_times, sfreq=250.0, **model_kw)
    net = net.to(device).train()
    opt = torch.optim.AdamW(net.parameters(), lr=5e-4, weight_decay=0.05)
    x = torch.randn(batch, n_chans, n_times, device=device) * 20
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device == "cuda")

    def step():
        with autocast:
            out = net.forward_pretrain(x)
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        opt.step()

    step()
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - t0)


def lightning_fit(batch: int, epochs: int, cache_dir: str, model_kw: dict) -> tuple[float, int]:
    """Windows/s of ``Trainer.fit`` (VQTask, cached built-in data), timed from the second epoch."""
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import Callback

    from biosig.data import BiosigDataModule, Predefined
    from biosig.datasets import SyntheticMI
    from biosig.tasks import VQTask

    dm = BiosigDataModule(SyntheticMI(n_subjects=2, n_trials_per_class=20, include_eog=False),
                          protocol=Predefined(train={"session": "T"}, test={"session": "E"}),
                          batch_size=batch, cache_dir=cache_dir)
    dm.setup("fit")
    task = VQTask("eegformer_s", model_kw, dm.n_chans, dm.n_times, dm.sfreq)

    class Clock(Callback):
        seen, t0 = 0, None

        def on_train_epoch_start(self, trainer, pl_module):
            if trainer.current_epoch == 1:
                self.t0 = time.perf_counter()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if self.t0 is not None:
                self.seen += len(batch[0])

    clock = Clock()
    trainer = pl.Trainer(accelerator="cpu", max_epochs=epochs, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0, callbacks=[clock])
    trainer.fit(task, datamodule=dm)
    return clock.seen / (time.perf_counter() - clock.t0), dm.n_times


def main(argv=None):
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--device", default="cpu")
    p.add_argument("--epochs", type=int, default=3, help="Lightning epochs (first not timed)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"device {args.device}, {torch.get_num_threads()} thread(s), batch {args.batch}, "
          f"torch {torch.__version__}")
    print("\n1. bare pretraining step, paper input 19 ch x 3000 samples (12 s @ 250 Hz)")
    for name in ("eegformer_s", "eegformer_b", "eegformer_l"):
        rate = bare_steps(name, 19, 3000, args.batch, args.steps, args.device)
        print(f"   {name}: {rate:8.1f} windows/s  ({rate * 19:8.1f} channel-windows/s)")
    if args.device != "cpu":
        return
    opts = {"ema": True, "data_init": True, "dead_after": 50}
    print("\n2. biosig fit (VQTask + cache + sampler + Lightning) vs the bare step, 22 ch x "
          "1000 samples (built-in data), eegformer_s")
    with tempfile.TemporaryDirectory() as tmp:
        fit_rate, n_times = lightning_fit(args.batch, args.epochs, tmp, opts)
    bare = bare_steps("eegformer_s", 22, n_times, args.batch, args.steps, "cpu", **opts)
    print(f"   bare step: {bare:8.1f} windows/s")
    print(f"   biosig fit: {fit_rate:8.1f} windows/s  (ratio fit / bare = {fit_rate / bare:.2f})")


if __name__ == "__main__":
    main()
