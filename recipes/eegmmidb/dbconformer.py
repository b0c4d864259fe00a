#!/usr/bin/env python
"""DBConformer on PhysioNet eegmmidb: imagined left vs right fist (runs 4, 8, 12), with baselines.

64 EEG channels at 160 Hz, windows of 4.1 s from each T1/T2 cue (656 samples; DBConformer's
patch = 80 samples = 0.5 s -> 8 tokens). Protocols as the paper: CO (chronological 80/20 per
class), CV (5-fold, no shuffle), LOSO (online EA on the test subject; depth 6 as the paper for
datasets other than BCI IV 2a/2b). Baselines: braindecode's EEGConformer and EEGNet with
identical data, alignment and optimisation.

    python recipes/eegmmidb/dbconformer.py                         # simulator (22 ch @ 160 Hz), CPU
    python recipes/eegmmidb/dbconformer.py --data eegmmidb --path ~/data/eegmmidb/1.0.0 \\
        --participants 1 2 3 --protocol co cv     # --subjects picks the folds run, not the data
    # one real run (subject 1, run 4: 15 trials) as a smoke test:
    python recipes/eegmmidb/dbconformer.py --data eegmmidb --path ../shared/data/eeg_edf/eegmmidb \\
        --participants 1 --runs 4 --protocol cv
"""

from __future__ import annotations

import argparse
import time

from biosig._argparse import HelpFormatter
from biosig.data.paper_splits import paper_protocol
from biosig.experiments.paper import (
    add_protocol_arguments,
    datamodule_kwargs,
    resolve_settings,
    run_protocols,
)

WINDOW_S = 4.1  # 656 samples at 160 Hz


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0],
                                formatter_class=HelpFormatter)
    p.add_argument("--data", choices=["synthetic", "eegmmidb"], default="synthetic",
                   help="the built-in motor-imagery simulator (at 160 Hz) or eegmmidb")
    p.add_argument("--path", default=None,
                   help="eegmmidb folder (S001/S001R04.edf or flat; default: under BIOSIG_DATA)")
    p.add_argument("--download", action="store_true",
                   help="fetch the chosen participants' runs from PhysioNet when absent")
    p.add_argument("--participants", nargs="+", type=int, default=None,
                   help="subjects to load (1..109; default: all for real data)")
    p.add_argument("--runs", nargs="+", type=int, default=[4, 8, 12],
                   help="imagined left/right fist runs")
    p.add_argument("--bandpass", nargs=2, type=float, default=[8.0, 32.0], metavar=("LOW", "HIGH"),
                   help="band-pass edges in Hz")
    p.add_argument("--no-bandpass", action="store_true", help="no band-pass filter")
    p.add_argument("--n-subjects", type=int, default=3, help="simulator subjects")
    p.add_argument("--n-trials-per-class", type=int, default=23,
                   help="simulator trials per class (eegmmidb: ~22-23 per class over 3 runs)")
    add_protocol_arguments(p, default_depth="2; 6 for loso, as the paper")
    return p


def make_datamodule(args, protocol: str):
    from biosig.data.datamodule import BiosigDataModule
    from biosig.signal.preprocessing import Bandpass, Resample
    from biosig.signal.windows import EventWindows

    # three eegmmidb subjects were recorded at 128 Hz: every record to 160 Hz first
    steps = [Resample(160.0)] + ([] if args.no_bandpass else [Bandpass(*args.bandpass)])
    if args.data == "synthetic":
        from biosig.datasets.synthetic import SyntheticMI

        # Same physiology, resampled to eegmmidb's rate; one session per subject as eegmmidb.
        classes = ["left_hand", "right_hand"]
        source = SyntheticMI(n_subjects=args.n_subjects, n_trials_per_class=args.n_trials_per_class,
                             classes=classes, sessions=["T"], sfreq=160.0, include_eog=False)
    else:
        from biosig.datasets.eegmmidb import EEGMMIDB

        source = EEGMMIDB(path=args.path, subjects=args.participants, runs=args.runs,
                          download=args.download)
        classes = source.classes
        if classes != ["left_fist", "right_fist"]:
            raise SystemExit(f"runs {args.runs} define classes {classes}; this recipe is left vs "
                             "right fist (runs 3/4/7/8/11/12)")
    windows = EventWindows(tmin=0.0, tmax=WINDOW_S, mapping={c: i for i, c in enumerate(classes)})
    return BiosigDataModule(source, steps, windows, protocol=paper_protocol(protocol),
                            **datamodule_kwargs(args))


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    synthetic = args.data == "synthetic"
    if args.download and synthetic:
        raise SystemExit("--download fetches eegmmidb: use it with --data eegmmidb")
    protocols = args.protocol or ["co"]
    t0 = time.perf_counter()

    def make_data(protocol):
        dm = make_datamodule(args, protocol)
        counts = dm.meta.groupby("subject").size()
        print(f"data: {args.data}, {len(dm.cache)} trials ({counts.min()}-{counts.max()} per "
              f"subject), {dm.n_chans} ch x {dm.n_times} samples @ {dm.sfreq:g} Hz, classes "
              f"{dm.classes} ({time.perf_counter() - t0:.1f} s)")
        return dm

    def settings(protocol):
        # The paper uses depth 6 for LOSO on every dataset but BCI IV 2a/2b.
        return resolve_settings(args, protocol, synthetic, depth=6 if protocol == "loso" else None)

    run_protocols(args, make_data, f"eegmmidb ({args.data}) imagined left/right fist", protocols,
                  settings)
    print(f"total {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    from biosig.cli import run_script

    run_script(main)
