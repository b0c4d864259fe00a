#!/usr/bin/env python
"""hvEEGNet on EEGMAT: reconstruction of unseen subjects, and artefact screening of real windows.

hvEEGNet (Cisotto et al., Front. Neuroinform. 2024) is trained to reconstruct the EEG of the
training subjects of PhysioNet's "EEG During Mental Arithmetic Tasks" (Zyma et al. 2019;
19 channels, rest and serial-subtraction recordings, labels unused), then:

1. **Reconstruction of unseen subjects** (the test subjects of one subject-wise fold): hard DTW,
   MSE (µV²), Pearson r and relative band-power error (delta..gamma), means over windows and
   channels, next to the *mean-trial* baseline (every window reconstructed as the mean training
   window), per test subject and overall.
2. **Artefact screening.** Copies of ``--fraction`` of the test windows get one artefact each on
   a random channel, at amplitudes seen in real recordings (:data:`ARTIFACTS`): a dead channel
   (flat, 0.5 µV noise), an electrode pop (step of 50 or 150 µV decaying with tau 0.3 s) and
   50-Hz line noise (5 or 20 µV amplitude). Each artefact type is screened on its own pool
   (every clean test window + the corrupted copies), per subject, with the anomaly score of
   :func:`biosig.analysis.anomaly.flag_trials` (largest per-channel robust z-score of the DTW
   and ``1 - r`` errors); AUROC of that score (corrupted vs clean), and the share flagged at
   ``median + k * 1.4826 MAD`` (sensitivity; false-positive rate among the clean windows). The
   same screening with the mean-trial "reconstruction" is the model-free baseline.

Windows of ``--window`` s at ``--sfreq`` Hz (128 Hz keeps 50 Hz below Nyquist, so line noise is
representable); the recording is band-passed ``--band`` (default 0.5-45 Hz, the dataset's).

    python recipes/eegmat/hveegnet.py --path ../shared/data/eeg_edf/eegmat --threads 1

Measured with these defaults (16 shared subjects; test subjects 6, 10, 11, 15, 491 windows;
2 loaded shared CPU cores, 26 min wall, training stopped by the 20-min limit after 2 epochs):
hvEEGNet r 0.84 / MSE 31 µV² / DTW 2.7k vs the mean trial's 0.00 / 100 / 24k; screening AUROC
dead channel 0.97 (mean trial 0.45), 20-µV line noise 0.995 (0.87), 150-µV pop 0.985 (0.99),
50-µV pop 0.78 (0.83), 5-µV line noise 0.77 (0.54). Again on 2026-12-04, lightly loaded: all
60 epochs in 932 s, r 0.992 / MSE 1.6 / DTW 266; AUROC dead channel 0.997, line noise 1.000 and
0.94, pops 0.97 and 0.62. Full tables: docs/models/hveegnet.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from biosig._argparse import HelpFormatter, add_threads_argument

#: name -> (kind, amplitude in µV): the injected artefacts (:func:`inject_artifact`).
ARTIFACTS = {
    "dead_channel": ("dead", 0.5),
    "pop_50uV": ("pop", 50.0),
    "pop_150uV": ("pop", 150.0),
    "line_5uV": ("line", 5.0),
    "line_20uV": ("line", 20.0),
}
REPORT = ["dtw", "mse", "corr", "bp_err_delta", "bp_err_theta", "bp_err_alpha", "bp_err_beta",
          "bp_err_gamma"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0],
                                formatter_class=HelpFormatter)
    p.add_argument("--path", default=None,
                   help="EEGMAT folder (SubjectNN_1.edf ...; default: under BIOSIG_DATA)")
    p.add_argument("--download", action="store_true",
                   help="fetch the chosen participants' files from PhysioNet when absent")
    p.add_argument("--participants", nargs="+", type=int, default=None,
                   help="subjects to load (default: every subject in the folder)")
    p.add_argument("--n-folds", type=int, default=4, help="subject-wise folds (fold 0 tested)")
    p.add_argument("--window", type=float, default=2.0, help="window length in s")
    p.add_argument("--sfreq", type=float, default=128.0,
                   help="resample to this rate (Hz; above 100 for the 50-Hz line noise)")
    p.add_argument("--band", nargs=2, type=float, default=[0.5, 45.0], metavar=("LOW", "HIGH"),
                   help="band-pass edges in Hz (the dataset's default; HIGH below sfreq / 2)")
    p.add_argument("--recon-loss", default="soft_dtw",
                   choices=["soft_dtw", "soft_dtw_divergence", "mse"],
                   help="reconstruction term of the VAE loss (the paper: soft_dtw)")
    p.add_argument("--epochs", type=int, default=60, help="maximum training epochs")
    p.add_argument("--max-minutes", type=float, default=20.0, help="training time limit (0: none)")
    p.add_argument("--lr", type=float, default=1e-2, help="AdamW learning rate (the paper's)")
    p.add_argument("--batch-size", type=int, default=30, help="training batch size (the paper's)")
    p.add_argument("--fraction", type=float, default=0.2,
                   help="share of test windows that get a corrupted copy, per artefact type")
    p.add_argument("--artifacts", nargs="+", choices=list(ARTIFACTS), default=list(ARTIFACTS),
                   metavar="NAME", help=f"artefact types to screen: {', '.join(ARTIFACTS)}")
    p.add_argument("--k", type=float, default=3.0,
                   help="robust threshold multiplier: flagged above median + k * 1.4826 MAD")
    p.add_argument("--seed", type=int, default=42,
                   help="seed of the split, the training and the injected artefacts")
    add_threads_argument(p)
    p.add_argument("--accelerator", default="cpu", help="Lightning accelerator: cpu, gpu, auto")
    p.add_argument("--cache-dir", default=None, help="window cache root (default: BIOSIG_CACHE)")
    p.add_argument("--out", default="biosig_out/eegmat_hveegnet",
                   help="folder for reconstruction.csv and screening.csv")
    return p


def inject_artifact(x: np.ndarray, kind: str, amplitude: float, sfreq: float, channel: int,
                    rng: np.random.Generator) -> np.ndarray:
    """A copy of one window ``x`` ``(C, T)`` µV with an artefact on ``channel``.

    ``"dead"``: the channel replaced by white noise of std ``amplitude`` (a disconnected
    electrode); ``"pop"``: a step of ``amplitude`` (random sign) at a random time, decaying
    with tau 0.3 s (electrode pop); ``"line"``: a 50-Hz sinusoid of amplitude ``amplitude``
    and random phase added (mains interference on a poorly attached electrode).
    """
    from biosig.errors import ConfigError

    y = np.array(x, dtype=np.float32, copy=True)
    n = y.shape[-1]
    t = np.arange(n) / sfreq
    if kind == "dead":
        y[channel] = rng.normal(0.0, amplitude, n)
    elif kind == "pop":
        t0 = rng.uniform(0.1, 0.7) * t[-1]
        step = np.where(t >= t0, np.exp(-(t - t0) / 0.3), 0.0)
        y[channel] += rng.choice([-1.0, 1.0]) * amplitude * step
    elif kind == "line":
        if sfreq <= 100.0:
            raise ConfigError(f"50-Hz line noise needs sfreq > 100 Hz, got {sfreq:g}")
        y[channel] += amplitude * np.sin(2 * np.pi * 50.0 * t + rng.uniform(0, 2 * np.pi))
    else:
        raise ConfigError(f"artefact kind must be 'dead', 'pop' or 'line', got {kind!r}")
    return y


def screen(x_hat_fn, x: np.ndarray, subjects: np.ndarray, sfreq: float, args, ch_names):
    """AUROC and flag rates of each artefact type; ``x_hat_fn(windows) -> reconstructions``."""
    from sklearn.metrics import roc_auc_score

    from biosig.analysis.anomaly import flag_trials, trial_errors

    rng = np.random.default_rng(args.seed)
    rows = []
    for name in args.artifacts:
        kind, amp = ARTIFACTS[name]
        pick = np.sort(rng.choice(len(x), max(1, int(round(args.fraction * len(x)))),
                                  replace=False))
        bad = np.stack([inject_artifact(x[i], kind, amp, sfreq, rng.integers(x.shape[1]), rng)
                        for i in pick])
        pool = np.concatenate([x, bad])
        is_bad = np.r_[np.zeros(len(x), bool), np.ones(len(bad), bool)]
        rec = x_hat_fn(pool)
        err = {m: trial_errors(pool, rec, metric=m) for m in ("dtw", "corr")}
        table = flag_trials(err, np.r_[subjects, subjects[pick]], k=args.k, score="max_z",
                            ch_names=ch_names).sort_index()
        score = table["score"].to_numpy()
        flagged = table["flagged"].to_numpy()
        rows.append({"artefact": name, "n_clean": len(x), "n_corrupted": len(bad),
                     "auroc": roc_auc_score(is_bad, score),
                     "sensitivity": flagged[is_bad].mean(), "false_pos": flagged[~is_bad].mean()})
    return rows


def check_args(args) -> None:
    """Settings that would stop the run late, refused before anything is built or trained (the
    line-noise artefacts failed at screening time, after the training)."""
    from biosig.errors import ConfigError

    line = [a for a in args.artifacts if ARTIFACTS[a][0] == "line"]
    if line and args.sfreq <= 100.0:
        raise ConfigError(f"--artifacts {' '.join(line)}: 50-Hz line noise needs --sfreq above "
                          f"100 Hz, got {args.sfreq:g}; raise --sfreq or leave them out of "
                          "--artifacts")


def check_folds(n_folds: int, subjects: list[int]) -> None:
    """A ConfigError naming ``--n-folds`` (not GroupKFold's ``n_splits``) where the subjects
    cannot make fold 0: ``n_folds`` parts of at least one subject each, the training part
    keeping 2 (one of them validates)."""
    from biosig.errors import ConfigError

    n = len(subjects)
    fits = [k for k in range(2, n + 1) if n - -(-n // k) >= 2]
    if n_folds in fits:
        return
    if n_folds < 2:
        why = "subject-wise folds need at least 2 (one tests, the others train)"
    elif n < n_folds:
        why = f"the {n} subjects {subjects} make at most {n} subject-wise folds"
    else:
        test = -(-n // n_folds)
        why = (f"fold 0 tests {test} of the {n} subjects {subjects}, leaving {n - test} to "
               "train, and training needs 2 (one validates)")
    fix = (f"these subjects fit --n-folds {' or '.join(map(str, fits))}" if fits else
           "these subjects fit no --n-folds")
    raise ConfigError(f"--n-folds {n_folds}: {why}; {fix}, or give more --participants")


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)  # before the heavy imports: --help stays instant
    check_args(args)
    import pandas as pd

    from biosig.analysis.anomaly import reconstruct_trials
    from biosig.data.datamodule import BiosigDataModule
    from biosig.data.protocols import GroupKFold
    from biosig.datasets.eegmat import EEGMAT
    from biosig.experiments import ModelSpec, run_experiment
    from biosig.metrics.reconstruction import reconstruction_report

    t0 = time.time()
    from biosig._threads import set_threads

    set_threads(args.threads)  # --threads, BIOSIG_THREADS, else the cores not already busy
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    source = EEGMAT(args.path, subjects=args.participants, window=args.window, sfreq=args.sfreq,
                    band=tuple(args.band), n_folds=args.n_folds, download=args.download)
    check_folds(args.n_folds, source.subjects)  # before the window cache is built
    protocol = GroupKFold(n_splits=args.n_folds, fold=0, group="subject", shuffle=True,
                          val_fraction=0.1, seed=args.seed)
    dm = BiosigDataModule(source, [], None, protocol=protocol, batch_size=args.batch_size,
                          cache_dir=args.cache_dir)
    trainer = {"max_epochs": args.epochs}
    if args.max_minutes:
        trainer["max_time"] = {"minutes": args.max_minutes}
    spec = ModelSpec("hvEEGNet", "biosig.tasks.vae.VAETask",
                     {"model": "hveegnet", "recon_loss": args.recon_loss, "lr": args.lr,
                      "weight_decay": 1e-2, "lr_decay": 0.999},
                     trainer=trainer, test_ckpt="best", monitor="val_loss")
    kept = {}
    run_experiment(dm, spec, seeds=[args.seed], trainer={"accelerator": args.accelerator},
                   metrics=["loss", "mse", "corr"], title="hvEEGNet on EEGMAT",
                   on_run=lambda run: kept.update(net=run.task.net.cpu().eval(), run=run))
    run = kept["run"]
    fold, X, meta = run.fold, run.datamodule.cache.X, run.datamodule.meta
    sfreq, ch_names = run.datamodule.sfreq, list(run.datamodule.ch_names)
    xe = np.asarray(X[np.sort(fold.test)], dtype=np.float32)
    subj = meta["subject"].to_numpy()[np.sort(fold.test)]
    mean_trial = np.asarray(X[np.sort(fold.train)], dtype=np.float32).mean(0)
    print(f"trained {run.trainer.current_epoch} epochs (best val_loss checkpoint tested)")
    subjects = meta["subject"].to_numpy()
    print(f"train subjects {sorted(set(subjects[fold.train].tolist()))}, val "
          f"{sorted(set(subjects[fold.val].tolist()))}, test {sorted(set(subj.tolist()))}; "
          f"{len(xe)} test windows of {xe.shape[1]} ch x {xe.shape[2]} samples @ {sfreq:g} Hz")
    methods = {"hvEEGNet": lambda w: reconstruct_trials(kept["net"], w),
               "mean trial": lambda w: np.broadcast_to(mean_trial, w.shape).copy()}

    rec_rows, scr_rows = [], []
    for method, fn in methods.items():
        xe_hat = fn(xe)
        for s in [*sorted(set(subj)), "all"]:
            m = subj == s if s != "all" else np.ones(len(xe), bool)
            rec_rows.append({"method": method, "subject": s,
                             **reconstruction_report(xe[m], xe_hat[m], sfreq)})
        scr_rows += [{"method": method, **r} for r in screen(fn, xe, subj, sfreq, args, ch_names)]
    rec = pd.DataFrame(rec_rows)
    scr = pd.DataFrame(scr_rows)
    rec.to_csv(out / "reconstruction.csv", index=False)
    scr.to_csv(out / "screening.csv", index=False)
    with pd.option_context("display.width", 200, "display.max_columns", None):
        print("\nReconstruction of unseen subjects (means over windows and channels; DTW and MSE "
              "in µV², band-power errors relative):")
        print(rec.set_index(["method", "subject"])[REPORT].round(3).to_string())
        print(f"\nArtefact screening (k = {args.k}; AUROC corrupted vs clean windows):")
        print(scr.set_index(["artefact", "method"]).round(3).to_string())
    print(f"\nwrote {out}/reconstruction.csv, screening.csv ({time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    from biosig.cli import run_script

    run_script(main)
