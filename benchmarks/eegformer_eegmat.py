#!/usr/bin/env python
"""EEGFormer on real EEG: short CPU pretraining, codebook use and a linear probe (EEGMAT).

Data: PhysioNet "EEG During Mental Arithmetic Tasks" (Zyma et al. 2019), 16 subjects, 19 EEG
channels at 500 Hz, ``_1`` = rest, ``_2`` = serial subtraction; read with biosig's EDF reader,
resampled to 250 Hz, cut into 12-s windows (3000 samples, the paper's input; ``--window`` for
shorter ones where CPU time is short) with a stride.

1. Pretrain ``eegformer_s`` (VQTask's loss: reconstruction + VQ) on the windows of subjects
   0-11 (rest and task, labels unused) for ``--minutes`` of CPU time (or ``--steps`` steps).
   The encoder is channel-independent, so a step takes a batch of single-channel sequences
   drawn from all windows and channels (the network and loss are the same as on 19-channel
   windows).
2. On held-out subjects 12-15: reconstruction MSE (normalised patches) and codebook
   perplexity / usage before and after pretraining.
3. Linear probe rest vs arithmetic: logistic regression (standardised features, balanced class
   weights) on pooled token features of subjects 0-11, balanced accuracy on subjects 12-15;
   the same probe on the randomly initialised network (the pretraining's starting point).
   Probe windows: stride ``--probe-stride`` (12 s); features are computed once per network.

Measured (2026-12-04, idle machine, ``--minutes 10 --window 4 --folds 4 --threads 1``; 4,888-
5,289 steps per fold): held-out reconstruction error 0.831 -> 0.124; probe balanced accuracy,
pretrained quantised tokens mean-pooled 0.536, the same at random weights 0.496, band powers
0.648 (docs/models/eegformer.md has every fold).

4. With ``--finetune-epochs E``: end-to-end fine-tuning (``VQClassificationTask``,
   ``setting="finetune"``, from the pretrained weights) against the same architecture trained
   from scratch (``setting="scratch"``), E epochs on the training subjects' probe windows;
   held-out balanced accuracy and AUROC (:func:`finetune`). Measured (2026-12-04, ``--steps 5000
   --window 4 --folds 4 --threads 1 --finetune-epochs 10``): fine-tuned 0.599 (AUROC 0.604),
   from scratch 0.549 (0.589), band powers 0.648.

``--folds K`` (K > 1) repeats 1-3 for K groups of held-out subjects (0-3, 4-7, ... for K = 4),
each with a network pretrained afresh on the other subjects, and prints every score's mean and
per-fold values.

Run: ``PYTHONPATH=. python benchmarks/eegformer_eegmat.py --minutes 5 [--folds 4]
[--finetune-epochs 10] [--data DIR]``.
Prints a table; nothing is written unless ``--save DIR`` (weights as a state dict per fold).
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from pathlib import Path

import numpy as np
import torch

from biosig.signal.preprocessing import Resample
from biosig.io import read_edf
from biosig.models import count_parameters, create_model

SFREQ = 250.0


def load_subject(folder: Path, subject: int) -> list[np.ndarray]:
    """Rest and arithmetic recordings of one subject, 19 EEG channels at 250 Hz (µV)."""
    out = []
    for part in (1, 2):
        rec = read_edf(folder / f"Subject{subject:02d}_{part}.edf")
        eeg = [n for n, t in zip(rec.ch_names, rec.ch_types) if t == "eeg" and "A2-A1" not in n]
        out.append(Resample(SFREQ)(rec.pick(eeg)).data)
    return out


def windows(recordings, length: int, stride: int) -> tuple[torch.Tensor, np.ndarray]:
    """Windows ``(n, 19, length)`` and labels (0 rest, 1 arithmetic) of several subjects."""
    xs, ys = [], []
    for rest_task in recordings:
        for label, data in enumerate(rest_task):
            starts = range(0, data.shape[1] - length + 1, stride)
            xs += [data[:, s : s + length] for s in starts]
            ys += [label] * len(starts)
    return torch.from_numpy(np.stack(xs).astype(np.float32)), np.array(ys)


@torch.no_grad()
def evaluate(model, x: torch.Tensor, batch: int = 16) -> dict:
    """Reconstruction MSE and code statistics on ``x`` (eval mode)."""
    model.eval()
    counts = torch.zeros(model.quantizer.n_codes, dtype=torch.long)
    recon, n = 0.0, 0
    for i in range(0, len(x), batch):
        out = model.forward_pretrain(x[i : i + batch])
        recon += float(out.recon_loss) * len(out.target)
        n += len(out.target)
        counts += out.vq.counts
    p = counts.float() / counts.sum()
    perplexity = float(torch.exp(-(p[p > 0] * p[p > 0].log()).sum()))
    return {"recon": recon / n, "perplexity": perplexity, "used": int((counts > 0).sum())}


@torch.no_grad()
def features(model, x: torch.Tensor, batch: int = 16) -> dict[tuple[str, str], np.ndarray]:
    """Pooled token features of the encoder output and of the quantised tokens: mean over
    channels and patches (``D``) and mean over patches per channel (``C * D``)."""
    model.eval()
    out: dict[tuple[str, str], list] = {}
    for i in range(0, len(x), batch):
        encoded = model._encode(model.patches(x[i : i + batch]))  # (B, C, N, D)
        for source, tokens in (
            ("encoder", encoded),
            ("quantized", model.quantizer(encoded).quantized),
        ):
            out.setdefault((source, "mean"), []).append(tokens.mean(dim=(1, 2)))
            out.setdefault((source, "channel"), []).append(tokens.mean(dim=2).flatten(1))
    return {key: torch.cat(value).numpy() for key, value in out.items()}


def band_powers(x: torch.Tensor) -> np.ndarray:
    """Reference features without a network: log mean |FFT| per channel in the delta, theta,
    alpha, beta and gamma bands (1-4, 4-8, 8-13, 13-30, 30-45 Hz), ``(n, C * 5)``."""
    amp = torch.fft.rfft(x, dim=-1).abs()
    freqs = torch.fft.rfftfreq(x.shape[-1], 1 / SFREQ)
    bands = [(1, 4), (4, 8), (8, 13), (13, 30), (30, 45)]
    out = [amp[..., (freqs >= lo) & (freqs < hi)].mean(-1) for lo, hi in bands]
    return torch.log(torch.stack(out, -1) + 1e-8).flatten(1).numpy()


def probe(f_train, y_train, f_test, y_test) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(
        StandardScaler(), LogisticRegression(C=0.1, class_weight="balanced", max_iter=2000)
    )
    clf.fit(f_train, y_train)
    return balanced_accuracy_score(y_test, clf.predict(f_test))


def finetune(pretrained, model_kwargs: dict, train, test, args) -> dict[str, float]:
    """End-to-end fine-tuning with biosig's ``VQClassificationTask``: ``finetune`` (from the
    pretrained weights, saved and loaded as a weights folder) against ``scratch`` (the same
    architecture from a random initialisation), each ``--finetune-epochs`` on the training
    subjects' probe windows. Settings of the downstream recipes (AdamW, lr 1e-4, weight decay
    0.05, cosine schedule, gradient clipping 1, pretraining loss added with weight 1); chosen
    here: batch 16 and class weights balancing rest against arithmetic. Returns held-out
    balanced accuracy and AUROC per setting."""
    import logging
    import tempfile

    import lightning.pytorch as pl
    from torch.utils.data import DataLoader, TensorDataset

    from biosig.tasks import VQClassificationTask

    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    (xtr, ytr), (xte, yte) = train, test
    counts = np.bincount(ytr, minlength=2)
    common = dict(n_chans=19, n_times=xtr.shape[-1], sfreq=SFREQ, n_outputs=2, optimizer="adamw",
                  lr=1e-4, weight_decay=0.05, scheduler="cosine",
                  class_weights=(len(ytr) / (2 * counts)).tolist())
    loader = DataLoader(TensorDataset(xtr, torch.from_numpy(ytr)), batch_size=16, shuffle=True)
    held_out = DataLoader(TensorDataset(xte, torch.from_numpy(yte)), batch_size=64)
    result = {}
    with tempfile.TemporaryDirectory() as weights:
        pretrained.save_pretrained(weights)
        for setting, init in (("finetune", dict(pretrained=weights)),
                              ("scratch", dict(model="eegformer_s", model_kwargs=model_kwargs))):
            pl.seed_everything(args.seed, verbose=False)
            task = VQClassificationTask(setting=setting, **init, **common)
            trainer = pl.Trainer(max_epochs=args.finetune_epochs, accelerator="cpu", logger=False,
                                 enable_checkpointing=False, enable_progress_bar=False,
                                 enable_model_summary=False, gradient_clip_val=1.0)
            t0 = time.time()
            trainer.fit(task, loader)
            scores = trainer.test(task, held_out, verbose=False)[0]
            for metric in ("bal_acc", "auroc"):
                result[f"{setting} ({args.finetune_epochs} epochs) {metric}"] = scores[
                    f"test_{metric}"]
            print(f"  {setting:8s}: balanced accuracy {scores['test_bal_acc']:.3f}, AUROC "
                  f"{scores['test_auroc']:.3f} ({time.time() - t0:.0f} s)", flush=True)
    return result


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    default = (
        Path(
            os.environ.get(
                "BIOSIG_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"
            )
        )
        / "eeg_edf"
        / "eegmat"
    )
    ap.add_argument("--data", type=Path, default=default)
    ap.add_argument("--minutes", type=float, default=5.0, help="pretraining wall-clock budget")
    ap.add_argument("--steps", type=int, default=0,
                    help="pretraining steps instead of --minutes (0: the time budget)")
    ap.add_argument("--window", type=float, default=12.0, help="window length in seconds")
    ap.add_argument(
        "--stride", type=float, default=3.0, help="stride in seconds of the pretraining windows"
    )
    ap.add_argument(
        "--probe-stride", type=float, default=12.0, help="stride in seconds of the probe windows"
    )
    ap.add_argument("--batch", type=int, default=32, help="single-channel sequences per step")
    ap.add_argument("--warmup", type=int, default=20, help="linear lr warm-up steps")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--plain-vq",
        action="store_true",
        help="no EMA / data init / dead-code restarts (the paper's plain VQ)",
    )
    ap.add_argument("--log-amplitude", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save", type=Path, default=None)
    ap.add_argument("--folds", type=int, default=1,
                    help="1: hold out subjects 12-15; K > 1: K folds of held-out subjects, "
                         "each pretrained afresh on the others")
    ap.add_argument("--finetune-epochs", type=int, default=0,
                    help="also fine-tune end to end (VQClassificationTask finetune vs scratch) "
                         "for this many epochs on the probe windows (0: no)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if not args.data.is_dir():
        raise SystemExit(f"EEGMAT folder not found: {args.data} (set --data or BIOSIG_SHARED_DATA)")

    t0 = time.time()
    recordings = [load_subject(args.data, s) for s in range(16)]
    print(f"loaded 16 subjects in {time.time() - t0:.0f} s")
    # one fold: subjects 12-15 held out (as measured first); K folds: every subject once
    groups = [np.arange(12, 16)] if args.folds == 1 else np.array_split(np.arange(16), args.folds)
    results = [run_fold(recordings, held_out, args) for held_out in groups]
    if args.folds > 1:
        print(f"\nmean over {args.folds} folds (probes: balanced accuracy; per fold in brackets):")
        for key in results[0]:
            values = [r[key] for r in results]
            print(f"  {key:38s} {np.mean(values):.3f}  "
                  f"({', '.join(f'{v:.3f}' for v in values)})")
    print(f"total {time.time() - t0:.0f} s")


def run_fold(recordings, held_out: np.ndarray, args) -> dict[str, float]:
    """Pretrain on the subjects not in ``held_out``, measure and probe on ``held_out``; returns
    the probes' balanced accuracies and the reconstruction errors."""
    train = [s for s in range(len(recordings)) if s not in held_out]
    label = f"subjects {held_out[0]}-{held_out[-1]}"
    length = int(round(args.window * SFREQ))
    pre, _ = windows([recordings[s] for s in train], length, int(args.stride * SFREQ))
    # channel-independent encoder: pretrain on single-channel sequences (19x cheaper a step)
    pre = pre.reshape(-1, 1, length)
    probe_stride = int(args.probe_stride * SFREQ)
    xtr, ytr = windows([recordings[s] for s in train], length, probe_stride)
    xte, yte = windows([recordings[s] for s in held_out], length, probe_stride)
    print(
        f"\nheld out {label}. pretraining: {len(pre)} single-channel {args.window:g}-s "
        f"sequences (stride {args.stride} s); probe windows: train {len(xtr)} "
        f"({int(ytr.sum())} arithmetic), held-out {len(xte)} ({int(yte.sum())} arithmetic)"
    )

    options = {} if args.plain_vq else dict(ema=True, data_init=True, dead_after=20)
    model = create_model(
        "eegformer_s",
        n_chans=19,
        n_times=length,
        sfreq=SFREQ,
        log_amplitude=args.log_amplitude,
        **options,
    )
    print(
        f"eegformer_s: {count_parameters(model):,} trainable parameters, {model.n_patches} "
        f"patches per channel; options {options}"
    )
    random_init = copy.deepcopy(model)
    if not args.plain_vq:  # the data initialisation is part of the starting point
        random_init.train()
        with torch.no_grad():
            random_init.quantizer(random_init._encode(random_init.patches(pre[: args.batch])))
    before = evaluate(random_init, xte)

    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: min(1.0, (i + 1) / args.warmup))
    gen = torch.Generator().manual_seed(args.seed)
    step, t1, log = 0, time.time(), []
    while (step < args.steps) if args.steps else (time.time() - t1 < args.minutes * 60):
        model.train()
        idx = torch.randint(0, len(pre), (args.batch,), generator=gen)
        out = model.forward_pretrain(pre[idx])
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        sched.step()
        step += 1
        log.append(float(out.recon_loss.detach()))
        if step % 20 == 0:
            print(
                f"  step {step}: recon {np.mean(log[-20:]):.4f}, vq "
                f"{float(out.vq.loss.detach()):.4f}, batch perplexity "
                f"{float(out.vq.perplexity):.1f}",
                flush=True,
            )
    train_s = time.time() - t1
    after = evaluate(model, xte)
    print(
        f"pretraining: {step} steps x {args.batch} sequences in {train_s:.0f} s "
        f"({step * args.batch / train_s:.1f} single-channel sequences/s)"
    )
    print(f"held-out reconstruction MSE: {before['recon']:.4f} -> {after['recon']:.4f}")
    k = model.quantizer.n_codes
    print(
        f"held-out codebook: perplexity {before['perplexity']:.1f} -> {after['perplexity']:.1f}"
        f", codes used {before['used']}/{k} -> {after['used']}/{k}"
    )

    print(f"linear probe rest vs arithmetic, balanced accuracy on {label}:")
    result = {"band powers (19 x 5 log amplitudes)":
              probe(band_powers(xtr), ytr, band_powers(xte), yte)}
    print(f"  band powers (no network, 19 x 5 log band amplitudes): "
          f"{result['band powers (19 x 5 log amplitudes)']:.3f}")
    for name, net in (("random init", random_init), ("pretrained", model)):
        ftr, fte = features(net, xtr), features(net, xte)
        scores = {key: probe(ftr[key], ytr, fte[key], yte) for key in ftr}
        for source in ("quantized", "encoder"):
            print(
                f"  {name:11s} {source:9s}: mean-pooled {scores[source, 'mean']:.3f}, "
                f"per-channel {scores[source, 'channel']:.3f}"
            )
            for pool in ("mean", "channel"):
                result[f"{name} {source} {pool}-pooled"] = scores[source, pool]
    if args.finetune_epochs:
        result.update(finetune(model, dict(log_amplitude=args.log_amplitude, **options),
                               (xtr, ytr), (xte, yte), args))
    result["held-out recon error before"] = before["recon"]
    result["held-out recon error after"] = after["recon"]
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), args.save / f"eegformer_s_eegmat_{held_out[0]}.pt")
    return result


if __name__ == "__main__":
    main()
