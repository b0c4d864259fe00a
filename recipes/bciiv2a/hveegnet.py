"""hvEEGNet paper protocol on BCI IV 2a (or the built-in simulator), subject by subject.

Protocol (Cisotto et al., Front. Neuroinform. 2024; official code, branch ``hvEEGNet_paper``):
one model per subject; session T split at random into 90 % train / 10 % validation (seed 42);
session E is the test set; 22 EEG channels at 250 Hz, unfiltered, trials [2, 6] s after the
trial start (1000 samples, µV); soft-DTW (gamma 1) + KL loss, AdamW lr 1e-2 / weight decay
1e-2, ExponentialLR 0.999 per epoch, batch 30, 80 epochs; the checkpoint with the lowest
validation loss is evaluated.

Reported per subject on the test trials (means over trials and channels): hard DTW and soft-DTW
(gamma 1) between each channel and its reconstruction, MSE (µV²), Pearson correlation, and the
relative band-power error in delta..gamma; plus the anomaly screening of both sessions
(per-subject robust threshold median + k * 1.4826 MAD on per-channel z-scores of DTW and
1 - r) with the flagged trials written to CSV and a figure of the worst test trials.

Usage::

    python recipes/bciiv2a/hveegnet.py                      # built-in data, CPU, a few minutes
    python recipes/bciiv2a/hveegnet.py --data bciiv2a --path /path/to/bciiv2a --subjects 1 2 \\
        --epochs 80 --accelerator gpu                       # the paper's setting

``--data synthetic`` is a CPU-sized demonstration (2 subjects, 2 classes, the 4-s trials
resampled to 62.5 Hz = 250 samples with the kernels scaled accordingly, 15 epochs); its numbers
are not comparable with the paper's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def _session_trials(source, subject: int, session: str) -> tuple[np.ndarray, list[str], float]:
    refs = [r for r in source.records() if int(r["subject"]) == subject
            and str(r["session"]) == session]
    if not refs:
        raise SystemExit(f"subject {subject} session {session} not found in {source!r}")
    win = source.default_windows()
    xs, names, sfreq = [], None, None
    for ref in refs:
        rec = source.load(ref)
        eeg = [i for i, t in enumerate(rec.ch_types) if t == "eeg"]
        rows, _ = win(rec, ref)
        n = win.n_times(rec.sfreq)
        xs += [rec.data[eeg, r["start"]:r["start"] + n] for r in rows]
        names, sfreq = [rec.ch_names[i] for i in eeg], rec.sfreq
    return np.stack(xs).astype(np.float32), names, float(sfreq)


def _resample(x: np.ndarray, sfreq: float, target: float | None) -> tuple[np.ndarray, float]:
    if not target or target == sfreq:
        return x, sfreq
    from scipy.signal import resample_poly
    from fractions import Fraction

    fr = Fraction(target / sfreq).limit_denominator(100)
    return resample_poly(x, fr.numerator, fr.denominator, axis=-1).astype(np.float32), target


def run_subject(args, source, subject: int, out: Path) -> dict:
    import lightning.pytorch as pl
    import torch
    from lightning.pytorch.callbacks import ModelCheckpoint
    from torch.utils.data import DataLoader, TensorDataset

    from biosig.anomaly import plot_worst_trials, score_trials
    from biosig.metrics.reconstruction import dtw_error, reconstruction_report
    from biosig.tasks.vae import VAETask

    xt, ch_names, sfreq = _session_trials(source, subject, "T")
    xe, _, _ = _session_trials(source, subject, "E")
    xt, sf = _resample(xt, sfreq, args.resample)
    xe, sfreq = _resample(xe, sfreq, args.resample)
    perm = np.random.default_rng(42).permutation(len(xt))
    n_val = max(1, int(round(0.1 * len(xt))))
    val_idx, train_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])

    def loader(x, shuffle):
        t = torch.from_numpy(x)
        return DataLoader(TensorDataset(t, torch.zeros(len(t), dtype=torch.long)),
                          batch_size=args.batch_size, shuffle=shuffle)

    pl.seed_everything(args.seed, verbose=False)
    task = VAETask(model=args.model, n_chans=xt.shape[1], n_times=xt.shape[2], sfreq=sfreq,
                   recon_loss=args.recon_loss, lr=1e-2, weight_decay=1e-2, lr_decay=0.999)
    ckpt = ModelCheckpoint(dirpath=out / f"s{subject:02d}", monitor="val_loss", mode="min",
                           filename="best")
    trainer = pl.Trainer(max_epochs=args.epochs, accelerator=args.accelerator, logger=False,
                         callbacks=[ckpt], enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=out)
    t0 = time.time()
    trainer.fit(task, loader(xt[train_idx], True), loader(xt[val_idx], False))
    fit_s = time.time() - t0
    best = VAETask.load_from_checkpoint(ckpt.best_model_path, map_location="cpu")
    net = best.net.eval()

    table_e, xe_hat, _ = score_trials(net, xe, ch_names=ch_names, k=args.k)
    table_t, _, _ = score_trials(net, xt, ch_names=ch_names, k=args.k)
    rep = reconstruction_report(xe, xe_hat, sfreq)
    rep["sdtw"] = float(dtw_error(xe, xe_hat, gamma=1.0).mean())
    # the trivial baseline: every trial reconstructed as the mean training trial
    mean_trial = np.broadcast_to(xt[train_idx].mean(0, keepdims=True), xe.shape).copy()
    base = reconstruction_report(xe, mean_trial, sfreq)
    for name, tab in (("E", table_e), ("T", table_t)):
        tab.assign(session=name).to_csv(out / f"s{subject:02d}_{name}_trials.csv")
    fig = plot_worst_trials(xe, xe_hat, table_e, n=3, sfreq=sfreq, ch_names=ch_names)
    fig.savefig(out / f"s{subject:02d}_worst_test_trials.png", dpi=100)
    res = {"subject": subject, "n_train": len(train_idx), "n_val": len(val_idx),
           "n_test": len(xe), "best_val_loss": float(ckpt.best_model_score), "fit_s": fit_s,
           **{f"test_{k}": v for k, v in rep.items()},
           "baseline_dtw": base["dtw"], "baseline_mse": base["mse"],
           "flagged_T": int(table_t.flagged.sum()), "flagged_E": int(table_e.flagged.sum())}
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", choices=["synthetic", "bciiv2a"], default="synthetic")
    ap.add_argument("--path", default=None, help="BCI IV 2a folder (GDF or BNCI .mat files)")
    ap.add_argument("--subjects", type=int, nargs="+", default=None)
    ap.add_argument("--model", choices=["hveegnet", "veegnet"], default="hveegnet")
    ap.add_argument("--recon-loss", default="soft_dtw",
                    choices=["soft_dtw", "soft_dtw_divergence", "mse"])
    ap.add_argument("--epochs", type=int, default=None, help="default 80 (bciiv2a), 15 (synthetic)")
    ap.add_argument("--batch-size", type=int, default=30)
    ap.add_argument("--resample", type=float, default=None,
                    help="resample trials to this rate (default: none; 62.5 Hz for synthetic)")
    ap.add_argument("--k", type=float, default=3.0, help="robust threshold multiplier")
    ap.add_argument("--accelerator", default="cpu")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", default="biosig_out/bciiv2a_hveegnet_recipe")
    args = ap.parse_args(argv)

    if args.data == "synthetic":
        from biosig.datasets import SyntheticMI

        subjects = args.subjects or [1, 2]
        source = SyntheticMI(n_subjects=max(subjects), n_trials_per_class=24,
                             classes=["left_hand", "right_hand"], include_eog=False)
        args.epochs = args.epochs or 15
        args.resample = args.resample or 62.5
    else:
        from biosig.datasets import BCIIV2a

        subjects = args.subjects or list(range(1, 10))
        source = BCIIV2a(path=args.path, subjects=subjects, sessions=["T", "E"],
                         tmin=2.0, tmax=6.0, include_end=False, bandpass=None)
        args.epochs = args.epochs or 80
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    import pandas as pd

    rows = []
    for s in subjects:
        r = run_subject(args, source, s, out)
        rows.append(r)
        print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}),
              flush=True)
    df = pd.DataFrame(rows).set_index("subject")
    df.to_csv(out / "results.csv")
    cols = ["test_dtw", "test_sdtw", "test_mse", "test_corr", "test_bp_err_alpha",
            "test_bp_err_beta", "baseline_dtw", "baseline_mse", "flagged_T", "flagged_E"]
    with pd.option_context("display.width", 250, "display.max_columns", None,
                           "display.precision", 3):
        print(df[cols])
        print("mean over subjects:")
        print(df[cols].mean().to_frame().T)
    print(f"results, flagged-trial tables and figures in {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
