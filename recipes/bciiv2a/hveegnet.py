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

``--data synthetic`` is a CPU-sized demonstration (2 subjects, 2 classes, the recordings
resampled to 62.5 Hz so that a 4-s trial is 250 samples, with the kernels scaled accordingly,
15 epochs); its numbers are not comparable with the paper's.

Data, split and training go through the one engine: a data preset (``synthetic_mi`` /
``bciiv2a``) with the :class:`~biosig.data.paper_splits.SessionTransfer` protocol (per subject,
T -> E, 10 % of T for validation, seed 42) and :func:`biosig.experiments.run_experiment`; this
script adds the per-subject reconstruction report and anomaly tables (``on_run``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from biosig._argparse import HelpFormatter
from biosig.data.paper_splits import SessionTransfer
from biosig.data.presets import datamodule_preset
from biosig.signal.preprocessing import PickChannels, Resample
from biosig.experiments import ModelSpec, run_experiment
from biosig.experiments.runner import output_folder

REPORT = ["test_dtw", "test_sdtw", "test_mse", "test_corr", "test_bp_err_alpha",
          "test_bp_err_beta", "baseline_dtw", "baseline_mse", "flagged_T", "flagged_E"]


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0],
                                 formatter_class=HelpFormatter)
    ap.add_argument("--data", choices=["synthetic", "bciiv2a"], default="synthetic",
                    help="the built-in motor-imagery simulator (CPU demonstration) or BCI IV 2a")
    ap.add_argument("--path", default=None,
                    help="BCI IV 2a folder (GDF or BNCI .mat files; default: under BIOSIG_DATA)")
    ap.add_argument("--download", action="store_true",
                    help="fetch the BNCI .mat files into --path (or BIOSIG_DATA) when absent")
    ap.add_argument("--subjects", type=int, nargs="+", default=None,
                    help="subjects, one model each (default: 1-9 for bciiv2a, 1 2 for synthetic)")
    ap.add_argument("--model", choices=["hveegnet", "veegnet"], default="hveegnet",
                    help="hierarchical (hvEEGNet) or plain (vEEGNet) variational autoencoder")
    ap.add_argument("--recon-loss", default="soft_dtw",
                    choices=["soft_dtw", "soft_dtw_divergence", "mse"],
                    help="reconstruction term of the loss (the paper: soft_dtw, gamma 1)")
    ap.add_argument("--epochs", type=int, default=None,
                    help="training epochs (default: 80 for bciiv2a, 15 for synthetic)")
    ap.add_argument("--batch-size", type=int, default=30, help="training batch size (the paper's)")
    ap.add_argument("--resample", type=float, default=None,
                    help="resample recordings to this rate in Hz (default: none for bciiv2a, "
                         "62.5 for synthetic)")
    ap.add_argument("--n-trials-per-class", type=int, default=24,
                    help="simulator trials per class and session")
    ap.add_argument("--k", type=float, default=3.0,
                    help="robust threshold multiplier: flagged above median + k * 1.4826 MAD")
    ap.add_argument("--accelerator", default="cpu", help="Lightning accelerator: cpu, gpu, auto")
    ap.add_argument("--seed", type=int, default=42, help="training seed")
    ap.add_argument("--cache-dir", default=None, help="window cache root (default: BIOSIG_CACHE)")
    ap.add_argument("--out", default="biosig_out/bciiv2a_hveegnet_recipe",
                    help="folder for results.csv/json, flagged-trial tables and figures")
    return ap


def make_datamodule(args, subjects):
    """The data preset with hvEEGNet's protocol: per subject, session T (90 % train / 10 %
    validation, seed 42) -> session E; 22 EEG channels, unfiltered, µV."""
    from biosig.experiments.runner import progress_logging

    progress_logging()  # cache-build progress in logs, not only on a terminal
    steps = [PickChannels(types=["eeg"])]
    if args.resample:
        steps.append(Resample(args.resample))
    protocol = SessionTransfer("T", "E", subject=subjects, val_fraction=0.1, seed=42)
    common = dict(preprocessing=steps, protocol=protocol, batch_size=args.batch_size,
                  cache_dir=args.cache_dir)
    if args.data == "synthetic":
        return datamodule_preset("synthetic_mi", n_subjects=max(subjects),
                                 n_trials_per_class=args.n_trials_per_class,
                                 classes=["left_hand", "right_hand"], include_eog=False, **common)
    # trials [2, 6] s after the trial start = 1000 samples at 250 Hz, no filter
    return datamodule_preset("bciiv2a", path=args.path, subjects=subjects, sessions=["T", "E"],
                             tmin=2.0, tmax=6.0, include_end=False, bandpass=None,
                             download=args.download, **common)


def subject_report(run, args, out: Path) -> dict:
    """Reconstruction report and anomaly screening of one subject, from the runner's outputs
    (the best-validation checkpoint, the fold's windows)."""
    import torch

    from biosig.analysis.anomaly import score_trials
    from biosig.viz.reconstruction import plot_worst_trials
    from biosig.metrics.reconstruction import dtw_error, reconstruction_report

    dm, fold = run.datamodule, run.fold
    X, ch_names, sfreq = dm.cache.X, dm.ch_names, dm.sfreq
    xe = np.asarray(X[fold.test], dtype=np.float32)
    xt = np.asarray(X[np.sort(np.concatenate([fold.train, fold.val]))], dtype=np.float32)
    net = run.task.net.eval()
    with torch.no_grad():
        table_e, xe_hat, _ = score_trials(net, xe, ch_names=ch_names, k=args.k)
        table_t, _, _ = score_trials(net, xt, ch_names=ch_names, k=args.k)
    rep = reconstruction_report(xe, xe_hat, sfreq)
    rep["sdtw"] = float(dtw_error(xe, xe_hat, gamma=1.0).mean())
    # the trivial baseline: every trial reconstructed as the mean training trial
    mean_trial = np.broadcast_to(np.asarray(X[fold.train]).mean(0, keepdims=True), xe.shape).copy()
    base = reconstruction_report(xe, mean_trial, sfreq)
    tag = f"s{int(fold.subject):02d}"
    for name, tab in (("E", table_e), ("T", table_t)):
        tab.assign(session=name).to_csv(out / f"{tag}_{name}_trials.csv")
    fig = plot_worst_trials(xe, xe_hat, table_e, n=3, sfreq=sfreq, ch_names=ch_names)
    fig.savefig(out / f"{tag}_worst_test_trials.png", dpi=100)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return {**{f"test_{k}": v for k, v in rep.items()}, "baseline_dtw": base["dtw"],
            "baseline_mse": base["mse"], "flagged_T": int(table_t.flagged.sum()),
            "flagged_E": int(table_e.flagged.sum())}


def settings(args) -> list[int]:
    """Fill ``args.epochs`` and ``args.resample`` with the defaults ``--help`` states for
    ``args.data`` and return the subjects (bciiv2a: the paper's 80 epochs at 250 Hz, subjects
    1-9; synthetic: 15 epochs at 62.5 Hz, subjects 1 2)."""
    if args.data == "synthetic":
        args.epochs = args.epochs or 15
        args.resample = args.resample or 62.5
        return args.subjects or [1, 2]
    args.epochs = args.epochs or 80
    return args.subjects or list(range(1, 10))


def main(argv=None) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    args = build_parser().parse_args(argv)
    subjects = settings(args)
    if args.download and args.data == "synthetic":
        raise SystemExit("--download fetches BCI IV 2a: use it with --data bciiv2a")
    dm = make_datamodule(args, subjects)
    spec = ModelSpec(args.model, "biosig.tasks.vae.VAETask",
                     {"model": args.model, "recon_loss": args.recon_loss, "lr": 1e-2,
                      "weight_decay": 1e-2, "lr_decay": 0.999},
                     trainer={"max_epochs": args.epochs}, test_ckpt="best", monitor="val_loss")
    with output_folder(args.out) as out:  # removed again if the run fails before writing
        result = run_experiment(dm, spec, seeds=[args.seed],
                                trainer={"accelerator": args.accelerator},
                                metrics=["loss", "mse", "corr"], title=f"hvEEGNet ({args.data})",
                                on_run=lambda run: subject_report(run, args, out))
        result.save(out)
    df = result.runs.set_index("subject")
    with pd.option_context("display.width", 250, "display.max_columns", None,
                           "display.precision", 3):
        print(df[REPORT])
        print("mean over subjects:")
        print(df[REPORT].mean().to_frame().T)
    print(f"results (results.csv/json), flagged-trial tables and figures in {out}/")
    return 0


if __name__ == "__main__":
    from biosig.cli import run_script

    run_script(main)
