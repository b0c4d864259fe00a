#!/usr/bin/env python
"""DBConformer, EEGConformer and EEGNet on EEGMAT: rest vs mental arithmetic, unseen subjects.

PhysioNet "EEG During Mental Arithmetic Tasks" (Zyma et al. 2019): 19 EEG channels, by default
band-passed 0.5-30 Hz and resampled to 64 Hz (``--band``, ``--sfreq``; the dataset's own default
is 0.5-45 Hz at 128 Hz), 4-s windows without overlap; class 0 rest (``_1`` files, ~3 min; the
last ``--rest-seconds 60`` kept by default, which balances the classes), class 1 serial
subtraction (``_2``, 1 min).
Leave-subjects-out: 4 folds over the subjects (the dataset's ``fold = position % 4 + 1``, a
subject's position among the chosen ones, sorted), every window of a test subject unseen in
training. Scores: balanced accuracy and Cohen's kappa on the
test subjects (with ``--rest-seconds 0`` rest windows outnumber task windows ~3:1, so plain
accuracy is not shown),
mean ± std over seeds, with and without Euclidean alignment (EA: per subject, the training
subjects' own references; test subjects aligned with one reference from all of their windows,
unlabelled: ``--test-alignment offline``).

    python recipes/eegmat/rest_vs_task.py --path ../shared/data/eeg_edf/eegmat --threads 1

Measured (16 shared subjects, defaults: 0.5-30 Hz, 64 Hz, last 60 s of rest, 15 epochs, seeds
1-3; 2 shared AMD EPYC cores, 1 thread; ~14 min per alignment setting), balanced accuracy /
kappa in %, mean ± std over seeds:

    EA    DBConformer              EEGConformer             EEGNet
    none  55.6 ± 1.9 / 11.1 ± 3.7  58.3 ± 1.3 / 16.7 ± 2.7  54.1 ± 1.8 /  8.2 ± 3.6
    EA    68.7 ± 0.9 / 37.5 ± 1.8  69.6 ± 2.4 / 39.2 ± 4.8  57.2 ± 3.7 / 14.3 ± 7.4

(EA measured again on 2026-12-04, 377 s; at stop 36: 69.4 ± 1.6, 69.2 ± 0.4, 56.0 ± 2.3.)

(per-fold numbers and the discussion: datasets/eegmat.md).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from biosig._argparse import HelpFormatter, add_threads_argument
from biosig.experiments.paper import DISPLAY_NAMES
from biosig.experiments.runner import ModelSpec, mean_std_cells, run_experiment


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0],
                                formatter_class=HelpFormatter)
    p.add_argument("--path", default=None,
                   help="EEGMAT folder (SubjectNN_1.edf ...; default: under BIOSIG_DATA)")
    p.add_argument("--download", action="store_true",
                   help="fetch the chosen participants' files from PhysioNet when absent")
    p.add_argument("--participants", nargs="+", type=int, default=None,
                   help="subjects to load (0..35; default: every subject in the folder)")
    p.add_argument("--n-folds", type=int, default=4,
                   help="subject-wise folds (the dataset's fold = position %% N + 1, a subject's "
                        "position among the chosen ones, sorted); each tested once")
    p.add_argument("--window", type=float, default=4.0, help="window length in s, no overlap")
    p.add_argument("--sfreq", type=float, default=64.0, help="resample to this rate (Hz)")
    p.add_argument("--band", nargs=2, type=float, default=[0.5, 30.0], metavar=("LOW", "HIGH"),
                   help="band-pass edges in Hz")
    p.add_argument("--rest-seconds", type=float, default=60.0,
                   help="last N s of each rest file (60: as many rest as task windows; 0: all)")
    p.add_argument("--models", nargs="+", default=["dbconformer", "eegconformer", "eegnet"],
                   help="registry names of the classifiers")
    p.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3],
                   help="training seeds (tables: mean ± std over them)")
    p.add_argument("--epochs", type=int, default=15, help="training epochs")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    p.add_argument("--batch-size", type=int, default=32, help="training batch size")
    p.add_argument("--depth", type=int, default=2, help="DBConformer depth")
    p.add_argument("--alignment", nargs="+", choices=["ea", "none"], default=["none", "ea"],
                   help="Euclidean alignment settings to run, one after the other")
    p.add_argument("--test-alignment", default="offline",
                   choices=["online", "offline", "official"],
                   help="EA of the test subjects: offline (one reference from all of a "
                        "subject's windows, unlabelled), online (running reference), official "
                        "(DBConformer's double alignment)")
    p.add_argument("--shrinkage", type=float, default=0.0,
                   help="shrinkage of the EA references towards the identity, in [0, 1); online "
                        "and official test alignment need > 0 here (e.g. 0.01): EEGMAT's windows "
                        "are one rank short, so a reference from one window is singular")
    p.add_argument("--cache-dir", default=None, help="window cache root (default: BIOSIG_CACHE)")
    add_threads_argument(p)
    p.add_argument("--accelerator", default="cpu", help="Lightning accelerator: cpu, gpu, auto")
    p.add_argument("--out", default=None,
                   help="folder for ea_<alignment>/results.csv, .json (default: none written)")
    return p


def make_datamodule(args, alignment: str):
    from biosig.experiments.runner import progress_logging

    progress_logging()  # cache-build progress in logs, not only on a terminal
    from biosig.data.datamodule import BiosigDataModule
    from biosig.data.protocols import GroupKFold
    from biosig.datasets.eegmat import EEGMAT

    source = EEGMAT(args.path, subjects=args.participants, window=args.window,
                    sfreq=args.sfreq, band=tuple(args.band), n_folds=args.n_folds,
                    rest_seconds=args.rest_seconds or None, download=args.download)
    # the dataset's subject-wise folds: each test fold is one value of "fold"
    protocol = GroupKFold(n_splits=args.n_folds, fold=None, group="fold", shuffle=False)
    return BiosigDataModule(source, [], None, protocol=protocol, batch_size=args.batch_size,
                            cache_dir=args.cache_dir,
                            alignment=None if alignment == "none" else "ea",
                            test_alignment=args.test_alignment, shrinkage=args.shrinkage)


def model_specs(args) -> list[ModelSpec]:
    return [
        ModelSpec(DISPLAY_NAMES.get(n, n), "biosig.tasks.ClassificationTask",
                  {"model": n, "model_kwargs": {"depth": args.depth} if n == "dbconformer"
                   else {}, "lr": args.lr, "optimizer": "adam"},
                  trainer={"max_epochs": args.epochs})
        for n in args.models
    ]


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from biosig._threads import set_threads

    set_threads(args.threads)  # --threads, BIOSIG_THREADS, else the cores not already busy
    t0 = time.perf_counter()
    tables = []
    for alignment in args.alignment:
        dm = make_datamodule(args, alignment)
        meta = dm.meta
        subjects = meta["subject"].to_numpy()  # per fold as the results name it (fold0, ...)
        folds = {f.name: sorted(set(subjects[f.test].tolist())) for f in dm.folds()}
        print(f"data: {len(dm.cache)} windows ({int((dm.cache.y == 0).sum())} rest, "
              f"{int((dm.cache.y == 1).sum())} task) of {meta['subject'].nunique()} subjects, "
              f"{dm.n_chans} ch x {dm.n_times} samples @ {dm.sfreq:g} Hz; test subjects per "
              f"fold: {'; '.join(f'{k}: {v}' for k, v in folds.items())}")
        result = run_experiment(dm, model_specs(args), seeds=args.seeds,
                                trainer={"accelerator": args.accelerator},
                                metrics=["bal_acc", "kappa"],
                                title=f"EEGMAT rest vs task, EA {alignment}")
        result.settings.update(alignment=alignment, test_alignment=args.test_alignment,
                               shrinkage=args.shrinkage, epochs=args.epochs, lr=args.lr,
                               depth=args.depth)
        result.print()
        if args.out:
            folder = result.save(Path(args.out) / f"ea_{alignment}")
            print(f"results written to {folder}")
        for metric in ("bal_acc", "kappa"):
            s = result.summary(metric)
            s = s[s["subject"] == "mean"].assign(metric=metric, alignment=alignment)
            tables.append(s)
    import pandas as pd

    table = pd.concat(tables)
    table["cell"] = mean_std_cells(table, digits=1)
    wide = table.pivot_table(index=["alignment", "model"], columns="metric", values="cell",
                             aggfunc="first")
    print(f"\nEEGMAT rest vs task, {args.n_folds}-fold leave-subjects-out, mean ± std over seeds "
          f"{args.seeds} (percent)\n{wide.to_string()}")
    print(f"total {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    from biosig.cli import run_script

    run_script(main)
